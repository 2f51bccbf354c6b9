package policy

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/phenixhq/phenix/internal/bundle"
)

func mustPack(t *testing.T, dir string) ([]byte, string) {
	t.Helper()
	b, h, err := Pack(dir)
	if err != nil {
		t.Fatal(err)
	}
	return b, h
}

func TestPackDeterministic(t *testing.T) {
	dir := writeTree(t, fleetPolicy)
	a1, h1 := mustPack(t, dir)
	a2, h2 := mustPack(t, dir)
	if h1 != h2 || !bytes.Equal(a1, a2) {
		t.Fatal("two packs of one directory differ")
	}
	// The same content elsewhere, written in another order, packs the same.
	other := writeTree(t, fleetPolicy)
	if _, h := mustPack(t, other); h != h1 {
		t.Error("the same content in another directory packs differently")
	}
	// Times and .git do not count.
	old := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		return os.Chtimes(p, old, old)
	})
	os.MkdirAll(filepath.Join(dir, ".git/objects"), 0o755)
	os.WriteFile(filepath.Join(dir, ".git/HEAD"), []byte("ref: refs/heads/main\n"), 0o644)
	os.MkdirAll(filepath.Join(dir, "bundles/web/.cache"), 0o755)
	os.WriteFile(filepath.Join(dir, "bundles/web/.cache/x"), []byte("x"), 0o644)
	if _, h := mustPack(t, dir); h != h1 {
		t.Error("touching files or adding .git changed the hash")
	}
	// A group-writable file packs as 0644 still.
	os.Chmod(filepath.Join(dir, "policy.yml"), 0o664)
	if _, h := mustPack(t, dir); h != h1 {
		t.Error("a mode other than the execute bit changed the hash")
	}
	// Content, names and the execute bit do.
	for name, change := range map[string]func(string){
		"content": func(d string) {
			os.WriteFile(filepath.Join(d, "bundles/web/files/index.html"), []byte("<h1>ho</h1>\n"), 0o644)
		},
		"new file": func(d string) {
			os.WriteFile(filepath.Join(d, "bundles/web/files/new.html"), nil, 0o644)
		},
		"exec bit":  func(d string) { os.Chmod(filepath.Join(d, "bundles/web/files/index.html"), 0o755) },
		"empty dir": func(d string) { os.Mkdir(filepath.Join(d, "bundles/web/empty"), 0o755) },
	} {
		d := writeTree(t, fleetPolicy)
		change(d)
		if _, h := mustPack(t, d); h == h1 {
			t.Errorf("changing %s left the hash as it was", name)
		}
	}
}

func TestPackFormat(t *testing.T) {
	dir := writeTree(t, fleetPolicy)
	os.Chmod(filepath.Join(dir, "bundles/web/files/index.html"), 0o750)
	archive, hash := mustPack(t, dir)
	zr, err := gzip.NewReader(bytes.NewReader(archive))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(zr)
	sum := sha256.Sum256(raw)
	if want := "sha256:" + hex.EncodeToString(sum[:]); hash != want {
		t.Errorf("hash = %s, want the tar's %s", hash, want)
	}
	tr := tar.NewReader(bytes.NewReader(raw))
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		wantMode := int64(0o644)
		if h.Typeflag == tar.TypeDir || h.Name == "bundles/web/files/index.html" {
			wantMode = 0o755
		}
		if h.Mode != wantMode || !h.ModTime.Equal(time.Unix(0, 0)) || h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.Gname != "" {
			t.Errorf("%s: mode %o mtime %v uid %d gid %d uname %q gname %q", h.Name, h.Mode, h.ModTime, h.Uid, h.Gid, h.Uname, h.Gname)
		}
	}
	want := []string{
		"README.md", "bundles/", "bundles/base/", "bundles/base/base.yml", "bundles/base/motd.tmpl",
		"bundles/hardening/", "bundles/hardening/ssh.yml", "bundles/monitoring/", "bundles/monitoring/monitoring.yml",
		"bundles/unused/", "bundles/unused/unused.yml", "bundles/web/", "bundles/web/files/", "bundles/web/files/index.html",
		"bundles/web/web.yml", "ops/", "ops/uptime.yml", "policy.yml",
	}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("entries (-want +got):\n%s", diff)
	}
}

func TestPackRefusesInvalid(t *testing.T) {
	dir := writeTree(t, map[string]string{"policy.yml": "bundles:\n  - select: \"*\"\n    apply: [nope]\n"})
	_, _, err := Pack(dir)
	var el bundle.ErrorList
	if !errors.As(err, &el) || !strings.Contains(err.Error(), "no bundle nope") {
		t.Errorf("Pack(invalid) error = %v", err)
	}
}

func TestFromArchiveRoundTrip(t *testing.T) {
	dir := writeTree(t, fleetPolicy)
	archive, hash := mustPack(t, dir)
	got, err := FromArchive(archive)
	if err != nil {
		t.Fatal(err)
	}
	want, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got.Hash != hash {
		t.Errorf("Hash = %q, want %q", got.Hash, hash)
	}
	want.Hash = hash
	for _, op := range want.Ops {
		op.Pos.File = strings.TrimPrefix(op.Pos.File, dir+"/")
	}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(Policy{}, rule{}, varLayer{})); diff != "" {
		t.Errorf("FromArchive(Pack(dir)) differs from Load(dir) (-load +archive):\n%s", diff)
	}
	// Positions name archive paths.
	if got.Ops["uptime"].Pos.File != "ops/uptime.yml" {
		t.Errorf("op position = %v", got.Ops["uptime"].Pos)
	}
	// The example too.
	ex, exHash := mustPack(t, "../../examples/policy")
	p, err := FromArchive(ex)
	if err != nil || p.Hash != exHash || len(p.Ops) != 6 {
		t.Errorf("FromArchive(example) = %v, %v", p, err)
	}
}

// tarball builds a gzip'd tar from headers and contents.
func tarball(t *testing.T, entries ...any) []byte {
	t.Helper()
	var raw bytes.Buffer
	tw := tar.NewWriter(&raw)
	for i := 0; i < len(entries); i += 2 {
		h := entries[i].(*tar.Header)
		body := entries[i+1].(string)
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(body))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		io.WriteString(tw, body)
	}
	tw.Close()
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	zw.Write(raw.Bytes())
	zw.Close()
	return out.Bytes()
}

func reg(name string) *tar.Header { return &tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644} }

func TestFromArchiveRefuses(t *testing.T) {
	policy := "{}\n"
	for _, tt := range []struct {
		name    string
		archive []byte
		want    string
	}{
		{"not gzip", []byte("this is not a gzip stream"), "policy archive: gzip: invalid header"},
		{"dot dot", tarball(t, reg("policy.yml"), policy, reg("bundles/../../etc/passwd"), "x"), `policy archive: entry "bundles/../../etc/passwd": path is not clean`},
		{"leading dot dot", tarball(t, reg("../policy.yml"), policy), `policy archive: entry "../policy.yml": path leaves the policy`},
		{"absolute", tarball(t, reg("/etc/passwd"), "x"), `policy archive: entry "/etc/passwd": expected a relative path with / separators`},
		{"symlink", tarball(t, &tar.Header{Name: "bundles", Typeflag: tar.TypeSymlink, Linkname: "/etc"}, ""), `policy archive: entry "bundles" is not a regular file or a directory`},
		{"device", tarball(t, &tar.Header{Name: "dev", Typeflag: tar.TypeChar}, ""), `policy archive: entry "dev" is not a regular file or a directory`},
		{"twice", tarball(t, reg("policy.yml"), policy, reg("policy.yml"), policy), `policy archive: entry "policy.yml" appears twice`},
		{"under a file", tarball(t, reg("ops"), "x", reg("ops/x.yml"), "command: [x]\n"), `policy archive: entry "ops/x.yml" is below the file "ops"`},
		{"dot dir", tarball(t, reg("policy.yml"), policy, reg(".git/config"), "x"), `policy archive: entry ".git/config": path is inside a dot-directory, which a policy never holds`},
		{"no policy.yml", tarball(t, reg("ops/x.yml"), "command: [x]\n"), "policy.yml: missing: a policy is a directory with a policy.yml at its root"},
		{"invalid", tarball(t, reg("policy.yml"), "interval: 1s\n"), "policy.yml:1:11: interval: 1s is too short: expected at least 10s"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := FromArchive(tt.archive)
			if err == nil || err.Error() != tt.want {
				t.Errorf("FromArchive error = %v, want %s", err, tt.want)
			}
		})
	}
}

func TestFromArchiveBomb(t *testing.T) {
	// 65 MiB of zeros compress to a few dozen KiB.
	var raw bytes.Buffer
	tw := tar.NewWriter(&raw)
	tw.WriteHeader(&tar.Header{Name: "policy.yml", Typeflag: tar.TypeReg, Mode: 0o644, Size: 3})
	io.WriteString(tw, "{}\n")
	tw.WriteHeader(&tar.Header{Name: "big", Typeflag: tar.TypeReg, Mode: 0o644, Size: MaxSize + 1<<20})
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	zw.Write(raw.Bytes())
	zeros := make([]byte, 1<<20)
	for i := 0; i < 65; i++ {
		zw.Write(zeros)
	}
	zw.Close()
	if _, err := FromArchive(out.Bytes()); !errors.Is(err, ErrTooLarge) {
		t.Errorf("FromArchive(bomb) error = %v, want ErrTooLarge", err)
	}
}
