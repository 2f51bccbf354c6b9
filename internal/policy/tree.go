package policy

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/phenixhq/phenix/internal/bundle"
	"github.com/phenixhq/phenix/internal/promise"
)

// MaxSize is the largest policy accepted: the total size of its files, and
// of its archive once uncompressed. Large artifacts belong in releases.
const MaxSize = 64 << 20

// ErrTooLarge is returned, wrapped, for a policy larger than MaxSize.
var ErrTooLarge = errors.New("larger than 64 MiB: keep large artifacts in releases, not in the policy")

// tree is a policy read into memory: its regular files, by slash-separated
// path relative to the policy's root, and its directories. Nothing else
// exists in a tree.
type tree struct {
	files map[string]*treeFile
	dirs  map[string]bool // every directory but the root
}

type treeFile struct {
	data []byte
	exec bool // any execute bit was set: packed with mode 0755
}

func newTree() *tree {
	return &tree{files: map[string]*treeFile{}, dirs: map[string]bool{}}
}

// paths returns every file and directory path, sorted.
func (t *tree) paths() []string {
	out := make([]string, 0, len(t.files)+len(t.dirs))
	for p := range t.files {
		out = append(out, p)
	}
	for p := range t.dirs {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// under returns the files below dir (a slash path), sorted.
func (t *tree) under(dir string) []string {
	var out []string
	for p := range t.files {
		if strings.HasPrefix(p, dir+"/") {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

// children returns the names of the files (dirs false) or directories
// (dirs true) directly in dir ("" for the root), sorted.
func (t *tree) children(dir string, dirs bool) []string {
	var out []string
	add := func(p string) {
		if path.Dir(p) == dir || (dir == "" && !strings.Contains(p, "/")) {
			out = append(out, path.Base(p))
		}
	}
	if dirs {
		for p := range t.dirs {
			add(p)
		}
	} else {
		for p := range t.files {
			add(p)
		}
	}
	sort.Strings(out)
	return out
}

// checkName refuses names that would not survive the trip to an agent:
// names that are not UTF-8 (JSON would mangle them) or hold control
// characters.
func checkName(name string) error {
	if !utf8.ValidString(name) {
		return errors.New("name is not valid UTF-8")
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return fmt.Errorf("name holds the control character %U", r)
		}
	}
	return nil
}

// readDir reads the policy directory dir into a tree. Directories whose
// name starts with a dot (.git) are left out. A symbolic link is followed
// when it stays inside dir; one that leaves dir, a loop, and anything but
// regular files and directories are problems, recorded in errs with the
// path prefix+relative path.
func readDir(dir, prefix string) (*tree, bundle.ErrorList, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("policy: %w", err)
	}
	if !st.IsDir() {
		return nil, nil, fmt.Errorf("policy: %s is not a directory", dir)
	}
	root, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("policy: %w", err)
	}
	if root, err = filepath.Abs(root); err != nil {
		return nil, nil, fmt.Errorf("policy: %w", err)
	}
	r := &dirReader{t: newTree(), root: root, prefix: prefix}
	if err := r.walk("", dir, []os.FileInfo{st}); err != nil {
		return nil, nil, err
	}
	return r.t, r.errs, nil
}

type dirReader struct {
	t      *tree
	root   string // the policy directory, absolute, symbolic links resolved
	prefix string
	size   int64
	errs   bundle.ErrorList
}

func (r *dirReader) problem(rel, format string, args ...any) {
	r.errs = append(r.errs, &bundle.Error{Pos: promise.Pos{File: r.prefix + rel}, Msg: fmt.Sprintf(format, args...)})
}

// walk reads directory abs, which is rel in the tree; stack holds the
// directories being read, to detect loops through symbolic links.
func (r *dirReader) walk(rel, abs string, stack []os.FileInfo) error {
	entries, err := os.ReadDir(abs)
	if err != nil {
		r.problem(rel, "%v", unwrapPath(err))
		return nil
	}
	for _, e := range entries {
		name, p := e.Name(), path.Join(rel, e.Name())
		ap := filepath.Join(abs, name)
		if e.IsDir() && strings.HasPrefix(name, ".") {
			continue
		}
		if err := checkName(name); err != nil {
			r.problem(p, "%v", err)
			continue
		}
		st, err := os.Lstat(ap)
		if err != nil {
			r.problem(p, "%v", unwrapPath(err))
			continue
		}
		if st.Mode()&fs.ModeSymlink != 0 {
			target, err := filepath.EvalSymlinks(ap)
			if err != nil {
				r.problem(p, "broken symbolic link: %v", unwrapPath(err))
				continue
			}
			if target, err = filepath.Abs(target); err != nil {
				r.problem(p, "%v", err)
				continue
			}
			if in, err := filepath.Rel(r.root, target); err != nil || in == ".." || strings.HasPrefix(in, "../") || filepath.IsAbs(in) {
				r.problem(p, "symbolic link to %s leaves the policy directory: a policy holds only its own files", target)
				continue
			}
			if st, err = os.Stat(target); err != nil {
				r.problem(p, "%v", unwrapPath(err))
				continue
			}
			if st.IsDir() && strings.HasPrefix(name, ".") {
				continue
			}
		}
		switch {
		case st.IsDir():
			loop := false
			for _, anc := range stack {
				loop = loop || os.SameFile(anc, st)
			}
			if loop {
				r.problem(p, "symbolic link makes a loop")
				continue
			}
			r.t.dirs[p] = true
			if err := r.walk(p, ap, append(stack, st)); err != nil {
				return err
			}
		case st.Mode().IsRegular():
			if r.size += st.Size(); r.size > MaxSize {
				return fmt.Errorf("policy %s: %w", strings.TrimSuffix(r.prefix, "/"), ErrTooLarge)
			}
			data, err := readFile(ap)
			if err != nil {
				r.problem(p, "%v", unwrapPath(err))
				continue
			}
			r.t.files[p] = &treeFile{data: data, exec: st.Mode()&0o111 != 0}
		default:
			r.problem(p, "%s: a policy holds only regular files and directories", typeName(st.Mode()))
		}
	}
	return nil
}

// readFile reads a regular file without following a symbolic link that
// would have replaced it since it was checked.
func readFile(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", typeName(st.Mode()))
	}
	return io.ReadAll(io.LimitReader(f, MaxSize+1))
}

func typeName(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	}
	return "not a regular file"
}

// unwrapPath drops the path from an *fs.PathError: the position already
// names the file.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// readArchive reads a Pack archive into a tree and returns the hash of its
// tar stream. Entries must be regular files and directories with clean,
// relative paths; anything else is refused.
func readArchive(archive []byte) (*tree, string, error) {
	zr, err := gzip.NewReader(bytes.NewReader(archive))
	if err != nil {
		return nil, "", fmt.Errorf("policy archive: %w", err)
	}
	h := sha256.New()
	lr := &io.LimitedReader{R: zr, N: MaxSize + 1}
	tr := tar.NewReader(io.TeeReader(lr, h))
	t := newTree()
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, "", archiveErr(lr, err)
		}
		name := strings.TrimSuffix(hdr.Name, "/")
		if err := checkEntry(name, hdr.Typeflag == tar.TypeDir); err != nil {
			return nil, "", fmt.Errorf("policy archive: entry %q: %v", hdr.Name, err)
		}
		if t.files[name] != nil || t.dirs[name] {
			return nil, "", fmt.Errorf("policy archive: entry %q appears twice", hdr.Name)
		}
		for d := path.Dir(name); d != "."; d = path.Dir(d) {
			if t.files[d] != nil {
				return nil, "", fmt.Errorf("policy archive: entry %q is below the file %q", hdr.Name, d)
			}
			t.dirs[d] = true
		}
		switch hdr.Typeflag {
		case tar.TypeDir:
			t.dirs[name] = true
		case tar.TypeReg:
			data, err := io.ReadAll(tr)
			if err != nil {
				return nil, "", archiveErr(lr, err)
			}
			t.files[name] = &treeFile{data: data, exec: hdr.Mode&0o111 != 0}
		default:
			return nil, "", fmt.Errorf("policy archive: entry %q is not a regular file or a directory", hdr.Name)
		}
	}
	// Read to the end, so that the hash covers the whole tar stream.
	if _, err := io.Copy(io.Discard, io.TeeReader(lr, h)); err != nil {
		return nil, "", archiveErr(lr, err)
	}
	if lr.N <= 0 {
		return nil, "", fmt.Errorf("policy archive: %w", ErrTooLarge)
	}
	return t, "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

func archiveErr(lr *io.LimitedReader, err error) error {
	if lr.N <= 0 {
		return fmt.Errorf("policy archive: %w", ErrTooLarge)
	}
	return fmt.Errorf("policy archive: %w", err)
}

// checkEntry accepts the clean, relative, slash-separated paths Pack writes.
func checkEntry(name string, isDir bool) error {
	switch {
	case name == "" || name == ".":
		return errors.New("empty path")
	case strings.HasPrefix(name, "/") || strings.Contains(name, `\`):
		return errors.New("expected a relative path with / separators")
	case path.Clean(name) != name:
		return errors.New("path is not clean")
	}
	for _, c := range strings.Split(name, "/") {
		if c == ".." {
			return errors.New("path leaves the policy")
		}
	}
	dirs := path.Dir(name)
	if isDir {
		dirs = name
	}
	for _, c := range strings.Split(dirs, "/") {
		if strings.HasPrefix(c, ".") && c != "." {
			return errors.New("path is inside a dot-directory, which a policy never holds")
		}
	}
	return checkName(name)
}
