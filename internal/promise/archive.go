package promise

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Archive promises that a tar, tar.gz or zip archive is extracted into a
// directory.
//
//   - archive: /opt/app/releases/1.4.2
//     source: app-1.4.2.tar.gz
//     checksum: sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
//     owner: app
//
// The source is a file beside the bundle (relative paths resolve against
// the bundle's directory); its format comes from its suffix: .tar.gz, .tgz,
// .tar or .zip. With checksum, a source with another sha256 is refused
// when the bundle is loaded.
//
// After an extraction phenix writes a marker, <dest>/.phenix-archive, with
// the source's sha256 and the entries extracted. The promise is kept while
// the marker has the source's sha256 and every entry is still there with
// its type (and, for a file, its size); otherwise the whole archive is
// extracted again, and what the previous extraction made that the archive
// no longer holds is removed. Edits inside an extracted file that keep its
// size are not seen. With creates, the promise is kept as soon as that
// path exists, and nothing else is checked.
//
// Safety: the whole archive is checked before anything is written (see
// archive_safe.go); one unsafe entry fails the promise with an error that
// names it, and nothing is extracted. The archive is then extracted into a
// temporary directory inside the destination, so that a corrupt archive
// stops before the destination changes, and each entry is moved into
// place: every file appears whole, though the tree as a whole is not
// switched at once (deploy releases into a new directory and switch a
// symlink for that). Modes come from the archive, masked with 0777 (no
// setuid, setgid or sticky bit); owner and group, when given, apply to
// every entry extracted, not to the destination itself, which is created
// with mode 0755 when missing (with its parents).
type Archive struct {
	Dest     string `yaml:"archive"`
	Source   string `yaml:"source"`   // the archive, beside the bundle
	Checksum string `yaml:"checksum"` // sha256:<hex> the source must have
	Owner    string `yaml:"owner"`    // owner of every extracted entry
	Group    string `yaml:"group"`    // group of every extracted entry
	Creates  string `yaml:"creates"`  // a path whose existence keeps the promise

	src     string         // Source resolved against the bundle's directory
	format  string         // formatTar, formatTarGz or formatZip
	sum     string         // hex sha256 of the source when the bundle was read
	raw     []archiveEntry // the source's entries, in archive order
	readErr error          // why the source cannot be extracted, if it cannot
}

var (
	_ Resource     = (*Archive)(nil)
	_ Validator    = (*Archive)(nil)
	_ Resolver     = (*Archive)(nil)
	_ AutoRequirer = (*Archive)(nil)
	_ PathClaimer  = (*Archive)(nil)
)

// archiveMarker is the name of the file, in the destination, that records
// what was extracted there.
const archiveMarker = ".phenix-archive"

// archiveRecord is the content of the marker.
type archiveRecord struct {
	Source  string   `json:"source"`  // the source's name, for people
	SHA256  string   `json:"sha256"`  // the source's checksum, hex
	Entries []string `json:"entries"` // what was extracted, sorted
}

var checksumRE = lazyRegexp(`^sha256:[0-9a-fA-F]{64}$`)

// Validate checks the attributes.
func (a *Archive) Validate() []FieldError {
	errs := checkAbsPath("archive", a.Dest)
	if a.Dest == "/" {
		errs = append(errs, Errf("archive", "refusing to extract into /: give a directory of its own"))
	}
	switch {
	case a.Source == "":
		errs = append(errs, Errf("source", "missing: expected an archive beside the bundle, for example app.tar.gz"))
	case archiveFormatOf(a.Source) == "":
		errs = append(errs, Errf("source", "unknown archive format %q: expected a name ending in .tar.gz, .tgz, .tar or .zip", path.Base(a.Source)))
	}
	if a.Checksum != "" && !checksumRE().MatchString(a.Checksum) {
		errs = append(errs, Errf("checksum", "bad checksum %q: expected sha256: and 64 hex digits", a.Checksum))
	}
	if a.Creates != "" {
		errs = append(errs, checkAbsPath("creates", a.Creates)...)
	}
	return errs
}

// Resolve reads the source: its checksum, checked against the promise's,
// and its entries. An archive that cannot be read or is unsafe fails the
// promise when it runs rather than the bundle.
func (a *Archive) Resolve(rc *ResolveContext) []FieldError {
	a.src, a.format = resolvePath(rc.Dir, a.Source), archiveFormatOf(a.Source)
	f, err := os.Open(a.src)
	if err != nil {
		return []FieldError{Errf("source", "%v", err)}
	}
	defer f.Close()
	if a.sum, err = hashFile(f); err != nil {
		return []FieldError{Errf("source", "%v", err)}
	}
	if a.Checksum != "" && !strings.EqualFold(a.Checksum, "sha256:"+a.sum) {
		return []FieldError{Errf("checksum", "%s has sha256:%s, not the %s the promise expects", a.Source, a.sum, a.Checksum)}
	}
	a.raw, a.readErr = scanArchive(f, a.format)
	return nil
}

// hashFile returns the hex sha256 of the content of f.
func hashFile(f *os.File) (string, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return "", err
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// AutoRequire names the directory promises of the destination and of its
// parents, and the owner's user and group.
func (a *Archive) AutoRequire() []Ref {
	return append(requireParents(a.Dest, a.Owner, a.Group), Ref{Type: "directory", Subject: a.Dest})
}

// ClaimedPaths names the destination, the marker and every entry of the
// archive, so that a purged destination keeps them.
func (a *Archive) ClaimedPaths() []string {
	out := []string{a.Dest, path.Join(a.Dest, archiveMarker)}
	for _, e := range a.raw {
		out = append(out, path.Join(a.Dest, e.name))
	}
	return out
}

// Check compares the destination with the archive.
func (a *Archive) Check(ctx context.Context, env *Env) (*Diff, error) {
	d := &Diff{}
	if a.Creates != "" {
		if _, err := os.Lstat(env.Path(a.Creates)); err == nil {
			return d, nil
		}
	}
	if a.src == "" {
		return nil, errors.New("the source was not read (the promise was not resolved)")
	}
	if a.readErr != nil {
		return nil, a.refuse(a.readErr)
	}
	local := env.Path(a.Dest)
	entries, err := checkArchive(a.Dest, local, a.raw)
	if err != nil {
		return nil, a.refuse(err)
	}
	st, err := os.Lstat(local)
	if errors.Is(err, fs.ErrNotExist) {
		d.Add("source", "", "sha256:"+a.sum)
		return d, nil
	}
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return nil, notDirError(a.Dest, st.Mode())
	}
	rec, err := readArchiveRecord(local)
	if err != nil {
		d.Add("source", "", "sha256:"+a.sum)
		return d, nil
	}
	if rec.SHA256 != a.sum {
		d.Add("source", "sha256:"+rec.SHA256, "sha256:"+a.sum)
		return d, nil
	}
	want, err := wantOwner(env, a.Owner, a.Group)
	if err != nil {
		return nil, err
	}
	changed, first, ownerSeen := 0, "", false
	for _, e := range entries {
		st, err := os.Lstat(filepath.Join(local, filepath.FromSlash(e.name)))
		if err != nil || !sameEntry(local, e, st) {
			if changed++; first == "" {
				first = e.name
			}
			continue
		}
		if !ownerSeen && want != keepOwner {
			n := len(d.Changes)
			addOwnerChanges(env, d, st, want)
			ownerSeen = len(d.Changes) > n
		}
	}
	if changed > 0 {
		d.Add("entries", fmt.Sprintf("%s missing or changed (%s)", countEntries(changed), first), "extracted")
	}
	return d, nil
}

// refuse explains why the source will not be extracted.
func (a *Archive) refuse(err error) error {
	return fmt.Errorf("archive %s refused, nothing extracted: %w", a.Source, err)
}

// sameEntry reports whether st, what is at an entry's place, is that entry.
func sameEntry(local string, e archiveEntry, st fs.FileInfo) bool {
	switch e.kind {
	case entryDir:
		return st.IsDir()
	case entryFile:
		return st.Mode().IsRegular() && st.Size() == e.size
	case entryHardlink:
		return st.Mode().IsRegular()
	case entrySymlink:
		if st.Mode()&fs.ModeSymlink == 0 {
			return false
		}
		target, err := os.Readlink(filepath.Join(local, filepath.FromSlash(e.name)))
		return err == nil && target == e.link
	}
	return false
}

// Apply extracts the archive. It reads the source again, refuses it if it
// changed since the bundle was read, and checks it again before extracting.
func (a *Archive) Apply(ctx context.Context, env *Env, d *Diff) error {
	want, err := wantOwner(env, a.Owner, a.Group)
	if err != nil {
		return err
	}
	f, err := os.Open(a.src)
	if err != nil {
		return err
	}
	defer f.Close()
	sum, err := hashFile(f)
	if err != nil {
		return err
	}
	if sum != a.sum {
		return fmt.Errorf("%s changed since the bundle was read (sha256:%s, was sha256:%s): run again", a.Source, sum, a.sum)
	}
	raw, err := scanArchive(f, a.format)
	if err != nil {
		return a.refuse(err)
	}
	local := env.Path(a.Dest)
	entries, err := checkArchive(a.Dest, local, raw)
	if err != nil {
		return a.refuse(err)
	}
	if err := a.makeDest(local); err != nil {
		return err
	}
	tmp := tempName(filepath.Join(local, "extract"))
	if err := os.Mkdir(tmp, 0o700); err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := extractArchive(ctx, f, a.format, 0, tmp, raw, want); err != nil {
		return fmt.Errorf("extract %s: %w", a.Source, err)
	}
	if err := moveIntoPlace(tmp, local, entries, want); err != nil {
		return fmt.Errorf("extract %s: %w", a.Source, err)
	}
	rec := archiveRecord{Source: path.Base(a.Source), SHA256: sum}
	keep := map[string]bool{}
	for _, e := range entries {
		rec.Entries = append(rec.Entries, e.name)
		keep[e.name] = true
	}
	if old, err := readArchiveRecord(local); err == nil {
		if err := removeStale(local, old.Entries, keep); err != nil {
			return err
		}
	}
	data, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	return writeAtomicBytes(filepath.Join(local, archiveMarker), append(data, '\n'), defaultFileMode, keepOwner)
}

// makeDest creates the destination (mode 0755) and its missing parents, or
// checks that it is a directory.
func (a *Archive) makeDest(local string) error {
	st, err := os.Lstat(local)
	if err == nil {
		if !st.IsDir() {
			return notDirError(a.Dest, st.Mode())
		}
		return nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := makeParents(local); err != nil {
		return err
	}
	if err := os.Mkdir(local, 0o700); err != nil {
		return err
	}
	return os.Chmod(local, defaultDirMode)
}

// readArchiveRecord reads the marker of the destination local.
func readArchiveRecord(local string) (*archiveRecord, error) {
	data, err := os.ReadFile(filepath.Join(local, archiveMarker))
	if err != nil {
		return nil, err
	}
	var rec archiveRecord
	if err := json.Unmarshal(data, &rec); err != nil {
		return nil, fmt.Errorf("%s: %w", archiveMarker, err)
	}
	return &rec, nil
}
