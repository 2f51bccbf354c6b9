package promise

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// Directory promises a directory: that it exists with a mode, owner and
// group, optionally that it holds nothing the run does not manage, or that
// it is absent.
//
//   - directory: /etc/app/conf.d
//     mode: "0750"
//     owner: app
//     purge: true
//
// Missing parents are created with mode 0755 unless parents is false. A
// directory phenix creates gets mode 0755 when the promise names none; the
// mode of an existing directory is left alone unless mode is given.
//
// With purge, Check lists each entry of the directory that no promise of
// the run claims (see PathClaimer and Env.Managed), and Apply removes them,
// recursively and without a backup. An entry is kept when a promise claims
// it or a path below it. Purge looks at the directory's own entries only: a
// kept subdirectory is purged by its own directory promise, if it has one.
// Symbolic links are removed, never followed.
//
// With state: absent, an empty directory is removed; one with content is
// removed with all of it (no backup either) only with recurse: true, and
// refused otherwise. A symbolic link where the directory should be is
// refused in both states: use a symlink promise for it.
type Directory struct {
	Path    string `yaml:"directory"`
	State   string `yaml:"state"` // present (default) or absent
	Mode    Mode   `yaml:"mode"`
	Owner   string `yaml:"owner"`
	Group   string `yaml:"group"`
	Parents *bool  `yaml:"parents"` // create missing parents (default true)
	Purge   bool   `yaml:"purge"`   // remove entries no promise of the run claims
	Recurse bool   `yaml:"recurse"` // with state absent: remove the content too
}

var (
	_ Resource     = (*Directory)(nil)
	_ Validator    = (*Directory)(nil)
	_ AutoRequirer = (*Directory)(nil)
	_ PathClaimer  = (*Directory)(nil)
)

// defaultDirMode is the mode of a directory phenix creates when the promise
// names none, and of every missing parent it creates.
const defaultDirMode = 0o755

// Validate checks the attributes.
func (r *Directory) Validate() []FieldError {
	errs := checkState(r.State, "present", "absent")
	errs = append(errs, checkAbsPath("directory", r.Path)...)
	if r.State == "absent" {
		if r.Mode.Set || r.Owner != "" || r.Group != "" || r.Purge || r.Parents != nil {
			errs = append(errs, Errf("state", "an absent directory takes no mode, owner, group, parents or purge"))
		}
		if r.Path == "/" {
			errs = append(errs, Errf("directory", "refusing to remove /"))
		}
	} else if r.Recurse {
		errs = append(errs, Errf("recurse", "recurse only applies to state: absent (it does not change modes or owners below the directory)"))
	}
	if r.Purge && r.Path == "/" {
		errs = append(errs, Errf("purge", "refusing to purge /"))
	}
	return errs
}

// AutoRequire names the directory promises of every parent, since a
// directory creates its missing parents, and the owner's user and group.
func (r *Directory) AutoRequire() []Ref {
	if r.Path == "/" {
		return nil
	}
	return requireParents(r.Path, r.Owner, r.Group)
}

// requireParents is autoRequirePath with the directory promises of every
// parent of p, not only the nearest: a path whose parents are made by a
// promise further up then waits for it.
func requireParents(p, user, group string) []Ref {
	refs := autoRequirePath(p, user, group)
	for dir := filepath.Dir(filepath.Dir(p)); dir != filepath.Dir(p); dir = filepath.Dir(dir) {
		refs = append(refs, Ref{Type: "directory", Subject: dir})
		if dir == "/" {
			break
		}
	}
	return refs
}

// ClaimedPaths names the directory, which a purged parent keeps.
func (r *Directory) ClaimedPaths() []string { return []string{r.Path} }

func (r *Directory) parents() bool { return r.Parents == nil || *r.Parents }

// Check compares the directory on the host with the promise.
func (r *Directory) Check(ctx context.Context, env *Env) (*Diff, error) {
	p := env.Path(r.Path)
	d := &Diff{}
	st, err := os.Lstat(p)
	exists := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if exists && !st.IsDir() {
		return nil, notDirError(r.Path, st.Mode())
	}
	if r.State == "absent" {
		if !exists {
			return d, nil
		}
		ents, err := os.ReadDir(p)
		if err != nil {
			return nil, err
		}
		if len(ents) > 0 && !r.Recurse {
			return nil, fmt.Errorf("%s is not empty (%s): set recurse: true to remove it with its content", r.Path, countEntries(len(ents)))
		}
		d.Add("state", "present", "absent")
		if len(ents) > 0 {
			d.Add("content", countEntries(len(ents)), "(removed)")
		}
		return d, nil
	}
	want, err := wantOwner(env, r.Owner, r.Group)
	if err != nil {
		return nil, err
	}
	if !exists {
		d.Add("state", "absent", "present")
		d.Add("mode", "", modeString(r.newMode()))
		addOwnerChanges(env, d, nil, want)
		return d, nil
	}
	if r.Mode.Set && unixPerm(st.Mode()) != r.Mode.Perm {
		d.Add("mode", modeString(st.Mode()), r.Mode.String())
	}
	addOwnerChanges(env, d, st, want)
	if r.Purge {
		names, err := r.unmanaged(env, p)
		if err != nil {
			return nil, err
		}
		for _, n := range names {
			d.Add("purge", n, "(removed)")
		}
	}
	return d, nil
}

// newMode is the mode of the directory when phenix creates it.
func (r *Directory) newMode() os.FileMode {
	if r.Mode.Set {
		return r.Mode.Perm
	}
	return defaultDirMode
}

// unmanaged lists, sorted, the entries of the directory at p (the local
// path of r.Path) that no promise of the run claims.
func (r *Directory) unmanaged(env *Env, p string) ([]string, error) {
	if env.Managed == nil {
		return nil, fmt.Errorf("purge %s: the paths managed by the run are unknown", r.Path)
	}
	keep := map[string]bool{}
	prefix := r.Path + "/"
	claim := func(m string) {
		if rest, ok := strings.CutPrefix(m, prefix); ok {
			name, _, _ := strings.Cut(rest, "/")
			keep[name] = true
		}
	}
	for m := range env.Managed() {
		claim(m)
	}
	if env.BackupDir != "" {
		claim(env.BackupDir) // never purge the backups of the run
	}
	ents, err := os.ReadDir(p)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if !keep[e.Name()] {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

// Apply makes the directory match the promise.
func (r *Directory) Apply(ctx context.Context, env *Env, d *Diff) error {
	p := env.Path(r.Path)
	if r.State == "absent" {
		if r.Recurse {
			return os.RemoveAll(p)
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	want, err := wantOwner(env, r.Owner, r.Group)
	if err != nil {
		return err
	}
	m := r.Mode
	st, err := os.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) {
		if err := r.create(p); err != nil {
			return err
		}
		if st, err = os.Lstat(p); err != nil {
			return err
		}
		m = Mode{Perm: r.newMode(), Set: true}
	} else if err != nil {
		return err
	}
	if !st.IsDir() {
		return notDirError(r.Path, st.Mode())
	}
	if err := fixAttrs(p, st, m, want); err != nil {
		return err
	}
	for _, c := range d.Changes {
		if c.Field != "purge" {
			continue
		}
		if c.Before == "" || c.Before == "." || c.Before == ".." || strings.Contains(c.Before, "/") {
			return fmt.Errorf("purge %s: bad entry name %q", r.Path, c.Before)
		}
		// RemoveAll removes a symbolic link itself and does not follow
		// links below the entry.
		if err := os.RemoveAll(filepath.Join(p, c.Before)); err != nil {
			return fmt.Errorf("purge: %w", err)
		}
	}
	return nil
}

// create makes the directory at p with mode 0700 (fixAttrs sets the final
// mode), and its missing parents unless parents is false.
func (r *Directory) create(p string) error {
	if r.parents() {
		if err := makeParents(p); err != nil {
			return err
		}
	}
	err := os.Mkdir(p, 0o700)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("create %s: parent directory %s does not exist (parents: false)", r.Path, filepath.Dir(r.Path))
	case errors.Is(err, fs.ErrExist):
		return nil // made meanwhile as the parent of another promise's path
	}
	return err
}

// makeParents creates the missing parents of the local path p, each with
// mode 0755 whatever the umask.
func makeParents(p string) error {
	var missing []string
	for dir := filepath.Dir(p); ; dir = filepath.Dir(dir) {
		if _, err := os.Lstat(dir); err == nil {
			break
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		missing = append(missing, dir)
		if dir == filepath.Dir(dir) {
			break
		}
	}
	for i := len(missing) - 1; i >= 0; i-- {
		dir := missing[i]
		if err := os.Mkdir(dir, 0o700); err != nil {
			if errors.Is(err, fs.ErrExist) {
				continue // created meanwhile by a promise running in parallel
			}
			return err
		}
		if err := os.Chmod(dir, defaultDirMode); err != nil {
			return err
		}
	}
	return nil
}

// notDirError refuses a path that should be a directory and is not.
func notDirError(path string, m fs.FileMode) error {
	hint := ""
	switch {
	case m&fs.ModeSymlink != 0:
		hint = ": phenix does not follow it (manage it with a symlink promise)"
	case m.IsRegular():
		hint = ": remove it with a file promise (state: absent) first"
	}
	return fmt.Errorf("%s is %s, not a directory%s", path, pathKind(m), hint)
}

// pathKind names the type of a file for error messages: "a symlink".
func pathKind(m fs.FileMode) string {
	switch {
	case m.IsRegular():
		return "a regular file"
	case m.IsDir():
		return "a directory"
	case m&fs.ModeSymlink != 0:
		return "a symlink"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return "a special file"
}

// countEntries says "1 entry" or "3 entries".
func countEntries(n int) string {
	if n == 1 {
		return "1 entry"
	}
	return fmt.Sprintf("%d entries", n)
}

// statOwner returns the owner and group of a file, or -1, -1.
func statOwner(st fs.FileInfo) owner {
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		return owner{int(sys.Uid), int(sys.Gid)}
	}
	return keepOwner
}
