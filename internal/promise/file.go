package promise

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"unicode/utf8"
	"unsafe"

	"github.com/aymanbagabas/go-udiff"
)

// File promises a regular file: its content, mode, owner and group, or its
// absence.
//
//   - file: /etc/motd
//     content: "Welcome\n"
//     mode: "0644"
type File struct {
	Path     string  `yaml:"file"`
	State    string  `yaml:"state"`    // present (default) or absent
	Content  *string `yaml:"content"`  // literal content
	Source   string  `yaml:"source"`   // a file beside the bundle, copied as is
	Template string  `yaml:"template"` // a Go template beside the bundle
	Mode     Mode    `yaml:"mode"`
	Owner    string  `yaml:"owner"`
	Group    string  `yaml:"group"`
	Backup   *bool   `yaml:"backup"` // keep a copy of replaced content (default true)

	data    []byte // the wanted content, once resolved; never modified
	hasData bool
}

var (
	_ Resource  = (*File)(nil)
	_ Validator = (*File)(nil)
	_ Resolver  = (*File)(nil)
)

// defaultFileMode is the mode of a file phenix creates when the promise
// names none. It does not depend on the umask, so runs are reproducible.
const defaultFileMode = 0o644

// Validate checks the attributes.
func (f *File) Validate() []FieldError {
	errs := checkState(f.State, "present", "absent")
	errs = append(errs, checkAbsPath("file", f.Path)...)
	n := 0
	for _, set := range []bool{f.Content != nil, f.Source != "", f.Template != ""} {
		if set {
			n++
		}
	}
	if n > 1 {
		errs = append(errs, Errf("content", "give only one of content, source and template"))
	}
	if f.State == "absent" && (n > 0 || f.Mode.Set || f.Owner != "" || f.Group != "") {
		errs = append(errs, Errf("state", "an absent file takes no content, mode, owner or group"))
	}
	return errs
}

// Resolve reads the source or renders the template.
func (f *File) Resolve(rc *ResolveContext) []FieldError {
	switch {
	case f.Content != nil:
		// The content is only ever read: share the string's bytes.
		f.data, f.hasData = unsafe.Slice(unsafe.StringData(*f.Content), len(*f.Content)), true
	case f.Source != "":
		b, err := os.ReadFile(resolvePath(rc.Dir, f.Source))
		if err != nil {
			return []FieldError{Errf("source", "%v", err)}
		}
		f.data, f.hasData = b, true
	case f.Template != "":
		p := resolvePath(rc.Dir, f.Template)
		b, err := os.ReadFile(p)
		if err != nil {
			return []FieldError{Errf("template", "%v", err)}
		}
		out, err := rc.Render(p, string(b))
		if err != nil {
			return []FieldError{Errf("template", "%v", err)}
		}
		f.data, f.hasData = unsafe.Slice(unsafe.StringData(out), len(out)), true
	}
	return nil
}

// AutoRequire names the directory that holds the file and its owner.
func (f *File) AutoRequire() []Ref {
	return autoRequirePath(f.Path, f.Owner, f.Group)
}

// ClaimedPaths names the file, which a purged directory keeps.
func (f *File) ClaimedPaths() []string { return []string{f.Path} }

// Check compares the file on the host with the promise.
func (f *File) Check(ctx context.Context, env *Env) (*Diff, error) {
	d, err := f.check(env)
	if err != nil || d.Empty() {
		return nil, err // a kept promise allocates no Diff
	}
	return &d, nil
}

func (f *File) check(env *Env) (Diff, error) {
	p := env.Path(f.Path)
	var d Diff
	st, old, err := readNoFollow(p, f.hasData && f.State != "absent")
	exists := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return d, err
	}
	if f.State == "absent" {
		if exists {
			if st.IsDir() {
				return d, fmt.Errorf("%s is a directory: use a directory promise to remove it", f.Path)
			}
			d.Add("state", "present", "absent")
		}
		return d, nil
	}
	if exists && st.IsDir() {
		return d, fmt.Errorf("%s is a directory, not a file", f.Path)
	}
	if exists && st.Mode()&fs.ModeSymlink != 0 {
		d.Add("type", "symlink", "file")
		exists, old = false, nil
	}
	if !exists && !d.Has("type") {
		d.Add("state", "absent", "present")
	}
	if f.hasData && (!exists || !bytes.Equal(old, f.data)) {
		if exists || len(f.data) > 0 {
			d.Content = contentDiff(f.Path, old, f.data)
		}
	}
	want, err := wantOwner(env, f.Owner, f.Group)
	if err != nil {
		return d, err
	}
	if !exists {
		if f.Mode.Set {
			d.Add("mode", "", f.Mode.String())
		}
		addOwnerChanges(env, &d, nil, want)
		return d, nil
	}
	if f.Mode.Set && unixPerm(st.Mode()) != f.Mode.Perm {
		d.Add("mode", modeString(st.Mode()), f.Mode.String())
	}
	addOwnerChanges(env, &d, st, want)
	return d, nil
}

// Apply makes the file match the promise.
func (f *File) Apply(ctx context.Context, env *Env, d *Diff) error {
	p := env.Path(f.Path)
	if f.State == "absent" {
		if err := backup(env, f.Path, f.backup()); err != nil {
			return err
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	want, err := wantOwner(env, f.Owner, f.Group)
	if err != nil {
		return err
	}
	st, err := os.Lstat(p)
	exists := err == nil && st.Mode().IsRegular()
	if d.Content != "" || !exists {
		perm := os.FileMode(defaultFileMode)
		own := want
		if exists {
			perm = unixPerm(st.Mode())
			if sys, ok := st.Sys().(*syscall.Stat_t); ok {
				if own.uid < 0 {
					own.uid = int(sys.Uid)
				}
				if own.gid < 0 {
					own.gid = int(sys.Gid)
				}
			}
			if err := backup(env, f.Path, f.backup()); err != nil {
				return err
			}
		}
		if f.Mode.Set {
			perm = f.Mode.Perm
		}
		data := f.data
		if !f.hasData && exists {
			// Only attributes are managed: keep the content.
			if data, err = os.ReadFile(p); err != nil {
				return err
			}
		}
		if !exists {
			// Like a package manager, create the parent directories a new
			// file needs (0755); a directory promise manages them further.
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return err
			}
		}
		return writeAtomicBytes(p, data, perm, own)
	}
	return fixAttrs(p, st, f.Mode, want)
}

func (f *File) backup() bool { return f.Backup == nil || *f.Backup }

// fixAttrs sets the owner and then the mode of an existing path in place.
func fixAttrs(p string, st fs.FileInfo, m Mode, want owner) error {
	if sys, ok := st.Sys().(*syscall.Stat_t); ok && want != keepOwner {
		if (want.uid >= 0 && int(sys.Uid) != want.uid) || (want.gid >= 0 && int(sys.Gid) != want.gid) {
			if err := os.Lchown(p, want.uid, want.gid); err != nil {
				return err
			}
			// chown may clear setuid/setgid: re-apply the mode below.
			if !m.Set {
				m = Mode{Perm: unixPerm(st.Mode()), Set: true}
			}
		}
	}
	if m.Set && (unixPerm(st.Mode()) != m.Perm || want != keepOwner) {
		if err := os.Chmod(p, goMode(m.Perm)); err != nil {
			return err
		}
	}
	return nil
}

// addOwnerChanges records owner and group differences; st is nil for a
// path that does not exist yet.
func addOwnerChanges(env *Env, d *Diff, st fs.FileInfo, want owner) {
	var uid, gid = -1, -1
	if st != nil {
		if sys, ok := st.Sys().(*syscall.Stat_t); ok {
			uid, gid = int(sys.Uid), int(sys.Gid)
		}
	}
	if want.uid >= 0 && uid != want.uid {
		before := ""
		if uid >= 0 {
			before = nameOf(env, "passwd", uid)
		}
		d.Add("owner", before, nameOf(env, "passwd", want.uid))
	}
	if want.gid >= 0 && gid != want.gid {
		before := ""
		if gid >= 0 {
			before = nameOf(env, "group", gid)
		}
		d.Add("group", before, nameOf(env, "group", want.gid))
	}
}

// maxTextDiff is the size above which a content change is summarised by
// checksums instead of a line diff.
const maxTextDiff = 1 << 20

// contentDiff returns a unified diff from old to new, or a checksum line
// for binary or very large content.
func contentDiff(path string, old, new []byte) string {
	if len(old) > maxTextDiff || len(new) > maxTextDiff || !utf8.Valid(old) || !utf8.Valid(new) || bytes.IndexByte(old, 0) >= 0 || bytes.IndexByte(new, 0) >= 0 {
		return fmt.Sprintf("binary content: sha256 %x (%d bytes) → %x (%d bytes)\n", sha256.Sum256(old), len(old), sha256.Sum256(new), len(new))
	}
	if old == nil {
		return creationDiff(path, new)
	}
	return udiff.Unified("a"+path, "b"+path, string(old), string(new))
}

// creationDiff is the unified diff that creates a file, written directly:
// it is what every new file reports, and a general diff costs a hundred
// times more.
func creationDiff(path string, data []byte) string {
	lines := bytes.Count(data, []byte("\n"))
	complete := len(data) > 0 && data[len(data)-1] == '\n'
	if !complete {
		lines++
	}
	var b strings.Builder
	b.Grow(len(data) + len(path) + lines + 64)
	b.WriteString("--- /dev/null\n+++ b")
	b.WriteString(path)
	if lines == 1 {
		b.WriteString("\n@@ -0,0 +1 @@\n")
	} else {
		b.WriteString("\n@@ -0,0 +1,")
		b.WriteString(strconv.Itoa(lines))
		b.WriteString(" @@\n")
	}
	for rest := data; len(rest) > 0; {
		line, after, found := bytes.Cut(rest, []byte("\n"))
		b.WriteByte('+')
		b.Write(line)
		b.WriteByte('\n')
		if !found {
			b.WriteString("\\ No newline at end of file\n")
		}
		rest = after
	}
	return b.String()
}

// backup copies the current content of path (a host path) into the run's
// backup directory before it is replaced or removed.
func backup(env *Env, path string, enabled bool) error {
	if !enabled || env.BackupDir == "" {
		return nil
	}
	src := env.Path(path)
	data, err := os.ReadFile(src)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	dst := filepath.Join(env.Path(env.BackupDir), path+"."+backupStamp())
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if err := writeAtomicBytes(dst, data, 0o600, keepOwner); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	pruneBackups(filepath.Join(env.Path(env.BackupDir), path), keepBackups)
	return nil
}

// resolvePath makes a path relative to the bundle's directory absolute.
func resolvePath(dir, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}

// checkAbsPath requires an absolute, clean path for the subject.
func checkAbsPath(field, p string) []FieldError {
	if !filepath.IsAbs(p) {
		return []FieldError{Errf(field, "expected an absolute path, got %q", p)}
	}
	if filepath.Clean(p) != p {
		return []FieldError{Errf(field, "path %q is not clean: write %q", p, filepath.Clean(p))}
	}
	return nil
}

// autoRequirePath names the parent directory promise and the owner's user
// and group promises, which the engine uses when they exist.
func autoRequirePath(p, user, group string) []Ref {
	refs := []Ref{{Type: "directory", Subject: filepath.Dir(p)}}
	if user != "" {
		refs = append(refs, Ref{Type: "user", Subject: user})
	}
	if group != "" {
		refs = append(refs, Ref{Type: "group", Subject: group})
	}
	return refs
}
