package containertest

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/phenixhq/phenix/internal/testenv"
)

// RepoDir is where UseAptRepo puts the repository in a container.
const RepoDir = "/srv/phenix-test-repo"

// AptRepo builds pkgs with dpkg-deb into a new flat apt repository (the
// .deb files, a Packages index and an unsigned Release file) in a temporary
// directory, and returns that directory. Several versions of one package may
// be given; apt picks the highest. AptRepo skips t without dpkg-deb.
func AptRepo(t testing.TB, pkgs ...DebPackage) string {
	t.Helper()
	testenv.Require(t, "dpkg-deb")
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil { // readable by apt's _apt user once copied
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var entries []indexEntry
	for _, p := range pkgs {
		if seen[p.filename()] {
			t.Fatalf("AptRepo: package %s %s given twice", p.Name, p.Version)
		}
		seen[p.filename()] = true
		deb, err := buildDeb(t.Context(), dir, p)
		if err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(deb)
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, newIndexEntry(p, data))
	}
	index := packagesIndex(entries)
	if err := os.WriteFile(filepath.Join(dir, "Packages"), index, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "Release"), releaseFile(index, time.Now()), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// UseAptRepo makes the repository AptRepo built in hostDir the container's
// only package source: it replaces RepoDir with a copy of hostDir, removes
// every other apt source, lists RepoDir as trusted (no signature) and runs
// apt-get update. Call it again after building a new repository to publish
// new versions.
func (c *Container) UseAptRepo(t testing.TB, hostDir string) {
	t.Helper()
	c.MustExec(t, "rm", "-rf", RepoDir)
	c.MustExec(t, "mkdir", "-p", filepath.Dir(RepoDir))
	c.CopyTo(t, hostDir, RepoDir)
	c.MustExec(t, "sh", "-c", `chmod -R a+rX "$1" && rm -f /etc/apt/sources.list /etc/apt/sources.list.d/*`, "sh", RepoDir)
	c.WriteFile(t, "/etc/apt/sources.list.d/phenix-test.list",
		[]byte("deb [trusted=yes] file:"+RepoDir+" ./\n"), 0o644)
	c.MustExec(t, "apt-get", "update", "-q")
}

// An indexEntry is one package's stanza in a Packages index.
type indexEntry struct {
	pkg    DebPackage
	size   int
	md5    string
	sha256 string
}

func newIndexEntry(p DebPackage, deb []byte) indexEntry {
	m, s := md5.Sum(deb), sha256.Sum256(deb)
	return indexEntry{pkg: p, size: len(deb), md5: hex.EncodeToString(m[:]), sha256: hex.EncodeToString(s[:])}
}

// packagesIndex returns the Packages file of a flat repository holding
// entries, in their order, with the fields apt-ftparchive writes.
func packagesIndex(entries []indexEntry) []byte {
	var b strings.Builder
	for i, e := range entries {
		if i > 0 {
			b.WriteString("\n")
		}
		p := e.pkg
		fmt.Fprintf(&b, "Package: %s\nVersion: %s\nArchitecture: all\nMaintainer: %s\nInstalled-Size: %d\n",
			p.Name, p.Version, maintainer, p.installedSize())
		if p.Depends != "" {
			fmt.Fprintf(&b, "Depends: %s\n", p.Depends)
		}
		fmt.Fprintf(&b, "Filename: ./%s\nSize: %d\nMD5sum: %s\nSHA256: %s\nDescription: %s\n",
			p.filename(), e.size, e.md5, e.sha256, p.description())
	}
	return []byte(b.String())
}

// releaseFile returns the Release file of a flat repository whose Packages
// index is index.
func releaseFile(index []byte, date time.Time) []byte {
	sum := sha256.Sum256(index)
	return fmt.Appendf(nil, "Origin: phenix-test\nLabel: phenix-test\nDate: %s\nSHA256:\n %x %d Packages\n",
		date.UTC().Format(time.RFC1123), sum, len(index))
}
