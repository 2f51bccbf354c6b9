package promise

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// This file reads archives and decides whether they are safe to extract.
// An archive is refused as a whole, before anything is written, when one
// of its entries:
//   - has an absolute name, or a name whose .. components leave the
//     destination;
//   - is a device, a named pipe or a type phenix does not know;
//   - is a symlink whose target, followed through the archive's own links
//     and those already under the destination, resolves outside it;
//   - is a hardlink to anything but a regular file earlier in the archive;
//   - lies below an entry that is not a directory (a file written through
//     a symlink);
//   - appears twice (directories excepted), or uses the marker's name.

// entryKind is the type of an archive entry phenix extracts.
type entryKind int

const (
	entryDir entryKind = iota
	entryFile
	entrySymlink
	entryHardlink
)

// archiveEntry is one entry of an archive, as its header describes it.
type archiveEntry struct {
	name string      // clean, slash-separated, relative to the destination
	kind entryKind   //
	perm os.FileMode // the archive's permission bits, masked with 0777
	link string      // a symlink's target as written, a hardlink's clean name
	size int64       // a regular file's size
}

// unsafeEntryError refuses an archive because of one of its entries.
type unsafeEntryError struct {
	entry, why string
}

// ErrUnsafeArchive is what every refusal of an unsafe archive entry is
// (errors.Is): a caller tells a refused archive from a broken download.
var ErrUnsafeArchive = errors.New("unsafe archive")

func (e *unsafeEntryError) Is(target error) bool { return target == ErrUnsafeArchive }

func (e *unsafeEntryError) Error() string {
	return fmt.Sprintf("unsafe entry %q: %s", e.entry, e.why)
}

func unsafeEntry(name, format string, args ...any) error {
	return &unsafeEntryError{entry: name, why: fmt.Sprintf(format, args...)}
}

// Archive formats, named by the suffix of the source.
const (
	formatTar   = "tar"
	formatTarGz = "tar.gz"
	formatZip   = "zip"
)

// archiveFormatOf returns the format of an archive from its name, or "".
func archiveFormatOf(name string) string {
	n := strings.ToLower(name)
	switch {
	case strings.HasSuffix(n, ".tar.gz"), strings.HasSuffix(n, ".tgz"):
		return formatTarGz
	case strings.HasSuffix(n, ".tar"):
		return formatTar
	case strings.HasSuffix(n, ".zip"):
		return formatZip
	}
	return ""
}

// maxLinkTarget bounds the target of a symlink stored in a zip.
const maxLinkTarget = 4096

// walkArchive calls fn for each entry of the archive f, in archive order,
// with a reader of a regular file's content. It reads from the start of f
// whatever its offset.
func walkArchive(f *os.File, format string, fn func(e archiveEntry, r io.Reader) error) error {
	return walkArchiveStrip(f, format, 0, fn)
}

// walkArchiveStrip is walkArchive with strip leading components dropped
// from every entry's name (see stripEntry).
func walkArchiveStrip(f *os.File, format string, strip int, fn func(e archiveEntry, r io.Reader) error) error {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if format == formatZip {
		return walkZip(f, stripping(strip, fn))
	}
	return walkStream(bufio.NewReader(f), format, strip, fn)
}

// stripping wraps fn to see entries with strip leading components dropped.
func stripping(strip int, fn func(e archiveEntry, r io.Reader) error) func(e archiveEntry, r io.Reader) error {
	if strip > 0 {
		inner := fn
		fn = func(e archiveEntry, r io.Reader) error {
			e, ok, err := stripEntry(e, strip)
			if err != nil || !ok {
				return err
			}
			return inner(e, r)
		}
	}
	return fn
}

// walkStream walks a tar or tar.gz archive read once from r.
func walkStream(r io.Reader, format string, strip int, fn func(e archiveEntry, r io.Reader) error) error {
	fn = stripping(strip, fn)
	if format == formatTarGz {
		gz, err := gzip.NewReader(r)
		if err != nil {
			return fmt.Errorf("read archive: %w", err)
		}
		defer gz.Close()
		r = gz
	}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil && !errors.Is(err, tar.ErrInsecurePath) {
			return fmt.Errorf("read archive: %w", err)
		}
		e, ok, err := tarEntry(h)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		if err := fn(e, tr); err != nil {
			return err
		}
	}
}

// tarEntry converts a tar header; ok is false for headers that are not
// entries (a global PAX header, the "./" directory).
func tarEntry(h *tar.Header) (e archiveEntry, ok bool, err error) {
	e = archiveEntry{perm: os.FileMode(h.Mode) & 0o777, size: h.Size}
	switch h.Typeflag {
	case tar.TypeReg:
		e.kind = entryFile
	case tar.TypeDir:
		e.kind = entryDir
	case tar.TypeSymlink:
		e.kind, e.link = entrySymlink, h.Linkname
	case tar.TypeLink:
		e.kind = entryHardlink
	case tar.TypeChar, tar.TypeBlock:
		return e, false, unsafeEntry(h.Name, "is a device file")
	case tar.TypeFifo:
		return e, false, unsafeEntry(h.Name, "is a named pipe")
	case tar.TypeXGlobalHeader:
		return e, false, nil
	default:
		return e, false, unsafeEntry(h.Name, "has a type phenix does not extract (tar type %q)", h.Typeflag)
	}
	if e.name, ok, err = cleanEntryName(h.Name); !ok || err != nil {
		return e, false, err
	}
	if e.kind == entryHardlink {
		l, ok, err := cleanEntryName(h.Linkname)
		if err != nil || !ok {
			return e, false, unsafeEntry(h.Name, "is a hardlink to %s, outside the destination", h.Linkname)
		}
		e.link = l
	}
	return e, true, nil
}

// walkZip is walkArchive for a zip file.
func walkZip(f *os.File, fn func(e archiveEntry, r io.Reader) error) error {
	st, err := f.Stat()
	if err != nil {
		return err
	}
	zr, err := zip.NewReader(f, st.Size())
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		return fmt.Errorf("read archive: %w", err)
	}
	for _, zf := range zr.File {
		if err := zipEntry(zf, fn); err != nil {
			return err
		}
	}
	return nil
}

// zipEntry converts one zip entry and calls fn with it.
func zipEntry(zf *zip.File, fn func(e archiveEntry, r io.Reader) error) error {
	m := zf.Mode()
	e := archiveEntry{perm: m.Perm(), size: int64(zf.UncompressedSize64)}
	switch {
	case m.IsDir():
		e.kind = entryDir
	case m&fs.ModeSymlink != 0:
		e.kind = entrySymlink
	case m.Type() == 0:
		e.kind = entryFile
	case m&fs.ModeDevice != 0:
		return unsafeEntry(zf.Name, "is a device file")
	case m&fs.ModeNamedPipe != 0:
		return unsafeEntry(zf.Name, "is a named pipe")
	default:
		return unsafeEntry(zf.Name, "has a type phenix does not extract (%s)", m.Type())
	}
	if creator := zf.CreatorVersion >> 8; creator != 3 && creator != 19 {
		// Not made on Unix or macOS: the zip holds no Unix permissions.
		e.perm = defaultFileMode
		if e.kind == entryDir {
			e.perm = defaultDirMode
		}
	}
	name, ok, err := cleanEntryName(zf.Name)
	if err != nil || !ok {
		return err
	}
	e.name = name
	if e.kind == entryDir {
		return fn(e, nil)
	}
	rc, err := zf.Open()
	if err != nil {
		return fmt.Errorf("read archive: %s: %w", zf.Name, err)
	}
	defer rc.Close()
	if e.kind == entrySymlink {
		b, err := io.ReadAll(io.LimitReader(rc, maxLinkTarget+1))
		if err != nil {
			return fmt.Errorf("read archive: %s: %w", zf.Name, err)
		}
		if len(b) > maxLinkTarget {
			return unsafeEntry(zf.Name, "is a symlink with a target longer than %d bytes", maxLinkTarget)
		}
		e.link = string(b)
		return fn(e, nil)
	}
	return fn(e, rc)
}

// cleanEntryName checks the name of an archive entry and cleans it. ok is
// false for the name of the destination itself ("./").
func cleanEntryName(name string) (clean string, ok bool, err error) {
	switch {
	case name == "":
		return "", false, unsafeEntry(name, "has an empty name")
	case strings.IndexByte(name, 0) >= 0:
		return "", false, unsafeEntry(name, "has a NUL byte in its name")
	case strings.HasPrefix(name, "/"):
		return "", false, unsafeEntry(name, "has an absolute path")
	}
	c := path.Clean(name)
	switch {
	case c == ".":
		return "", false, nil
	case c == ".." || strings.HasPrefix(c, "../"):
		return "", false, unsafeEntry(name, "leaves the destination through ..")
	case c == archiveMarker || strings.HasPrefix(c, archiveMarker+"/"):
		return "", false, unsafeEntry(name, "uses the name of phenix's marker file")
	}
	return c, true, nil
}

// stripEntry drops the first strip components of the name of e (clean),
// as tar --strip-components does: ok is false for an entry with no more
// components than that, which is skipped. A hardlink's target is stripped
// too, and a hardlink whose target would vanish is unsafe.
func stripEntry(e archiveEntry, strip int) (archiveEntry, bool, error) {
	parts := strings.Split(e.name, "/")
	if len(parts) <= strip {
		return e, false, nil
	}
	name := e.name
	e.name = strings.Join(parts[strip:], "/")
	if e.kind == entryHardlink {
		lp := strings.Split(e.link, "/")
		if len(lp) <= strip {
			return e, false, unsafeEntry(name, "is a hardlink to %s, which stripping %d components removes", e.link, strip)
		}
		e.link = strings.Join(lp[strip:], "/")
	}
	return e, true, nil
}

// scanArchive reads the headers of every entry of f, in archive order. An
// archive that cannot be read, or that has an entry refused by tarEntry,
// zipEntry or cleanEntryName, is an error.
func scanArchive(f *os.File, format string) ([]archiveEntry, error) {
	return scanArchiveStrip(f, format, 0)
}

// scanArchiveStrip is scanArchive with strip leading components dropped
// from every entry's name.
func scanArchiveStrip(f *os.File, format string, strip int) ([]archiveEntry, error) {
	var out []archiveEntry
	err := walkArchiveStrip(f, format, strip, func(e archiveEntry, _ io.Reader) error {
		out = append(out, e)
		return nil
	})
	return out, err
}

// archiveTree is the tree an archive makes under its destination, as the
// safety checks see it.
type archiveTree struct {
	dest   string // the destination on the host
	local  string // the destination on the local filesystem (under --root); "" for none yet
	byName map[string]*archiveEntry
}

// checkArchive checks the entries of an archive (in archive order) as a
// whole, for extraction into dest (a host path; local is where it is on
// this filesystem). It returns every entry once, with the directories the
// archive implies but does not hold (mode 0755), sorted by name so that a
// directory comes before what it holds.
func checkArchive(dest, local string, entries []archiveEntry) ([]archiveEntry, error) {
	t := &archiveTree{dest: dest, local: local, byName: map[string]*archiveEntry{}}
	var order []string // names in archive order, once, so that errors are stable
	for _, e := range entries {
		if prev, ok := t.byName[e.name]; ok {
			if prev.kind == entryDir && e.kind == entryDir {
				prev.perm = e.perm
				continue
			}
			return nil, unsafeEntry(e.name, "appears twice in the archive")
		}
		if e.kind == entryHardlink {
			if to, ok := t.byName[e.link]; !ok || to.kind != entryFile {
				return nil, unsafeEntry(e.name, "is a hardlink to %s, which is not a regular file earlier in the archive", e.link)
			}
		}
		t.byName[e.name] = &e
		order = append(order, e.name)
	}
	for _, name := range order {
		for dir := path.Dir(name); dir != "."; dir = path.Dir(dir) {
			p, ok := t.byName[dir]
			if !ok {
				t.byName[dir] = &archiveEntry{name: dir, kind: entryDir, perm: defaultDirMode}
				continue
			}
			if p.kind != entryDir {
				return nil, unsafeEntry(name, "lies below %s, which is not a directory in the archive", dir)
			}
		}
	}
	all := make([]archiveEntry, 0, len(t.byName))
	for _, e := range t.byName {
		all = append(all, *e)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].name < all[j].name })
	for _, e := range all {
		if e.kind != entrySymlink {
			continue
		}
		if e.link == "" {
			return nil, unsafeEntry(e.name, "is a symlink with an empty target")
		}
		if strings.IndexByte(e.link, 0) >= 0 {
			return nil, unsafeEntry(e.name, "is a symlink with a NUL byte in its target")
		}
		target := e.link
		if !path.IsAbs(target) {
			target = path.Dir(e.name) + "/" + target
		}
		if !t.inside(target) {
			return nil, unsafeEntry(e.name, "is a symlink to %s, which resolves outside the destination", e.link)
		}
	}
	return all, nil
}

// maxLinkHops bounds how many symlinks inside follows, as the kernel does.
const maxLinkHops = 40

// inside reports whether p, a path relative to the destination or an
// absolute host path, resolves inside the destination when its .. and
// symlinks are followed one component at a time. Links are the archive's
// own and, for paths the archive does not hold, those already on disk.
func (t *archiveTree) inside(p string) bool {
	var stack []string
	queue := strings.Split(p, "/")
	if path.IsAbs(p) {
		rest, ok := strings.CutPrefix(p, t.dest)
		if !ok || (rest != "" && rest[0] != '/') {
			return false
		}
		queue = strings.Split(rest, "/")
	}
	for hops := 0; len(queue) > 0; {
		c := queue[0]
		queue = queue[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(stack) == 0 {
				return false
			}
			stack = stack[:len(stack)-1]
			continue
		}
		cur := strings.Join(append(stack[:len(stack):len(stack)], c), "/")
		target, isLink := t.linkAt(cur)
		if !isLink {
			stack = append(stack, c)
			continue
		}
		if hops++; hops > maxLinkHops || target == "" {
			return false
		}
		if path.IsAbs(target) {
			rest, ok := strings.CutPrefix(target, t.dest)
			if !ok || (rest != "" && rest[0] != '/') {
				return false
			}
			stack, target = nil, rest
		}
		queue = append(strings.Split(target, "/"), queue...)
	}
	return true
}

// linkAt returns the target of the symlink at name (relative to the
// destination), from the archive or else from the disk.
func (t *archiveTree) linkAt(name string) (string, bool) {
	if e, ok := t.byName[name]; ok {
		return e.link, e.kind == entrySymlink
	}
	if t.local == "" {
		return "", false
	}
	p := filepath.Join(t.local, filepath.FromSlash(name))
	st, err := os.Lstat(p)
	if err != nil || st.Mode()&fs.ModeSymlink == 0 {
		return "", false
	}
	target, err := os.Readlink(p)
	if err != nil {
		return "", true // unreadable: inside refuses it
	}
	return target, true
}
