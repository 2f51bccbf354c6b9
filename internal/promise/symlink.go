package promise

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Symlink promises a symbolic link and what it points to, or its absence.
//
//   - symlink: /etc/nginx/sites-enabled/app.conf
//     target: ../sites-available/app.conf
//
// Target is the link's content, written as it is: relative or absolute,
// and never mapped under --root, so that the link is right on the host the
// root is built for. A link that points elsewhere is always replaced, by
// creating the new link under a temporary name and renaming it over the old
// one, so the path never disappears. A regular file or an empty directory
// in the way is replaced only with force: true (the file's content is
// backed up first); a directory with content is always refused.
//
// With state: absent the link is removed; anything but a link at the path
// is refused.
type Symlink struct {
	Path   string `yaml:"symlink"`
	Target string `yaml:"target"` // what the link points to
	State  string `yaml:"state"`  // present (default) or absent
	Force  bool   `yaml:"force"`  // replace a regular file or an empty directory
}

var (
	_ Resource     = (*Symlink)(nil)
	_ Validator    = (*Symlink)(nil)
	_ AutoRequirer = (*Symlink)(nil)
	_ PathClaimer  = (*Symlink)(nil)
)

// Validate checks the attributes.
func (r *Symlink) Validate() []FieldError {
	errs := checkState(r.State, "present", "absent")
	errs = append(errs, checkAbsPath("symlink", r.Path)...)
	if r.Path == "/" {
		errs = append(errs, Errf("symlink", "/ cannot be a symlink"))
	}
	switch {
	case r.State == "absent":
		if r.Target != "" || r.Force {
			errs = append(errs, Errf("state", "an absent symlink takes no target or force"))
		}
	case r.Target == "":
		errs = append(errs, Errf("target", "missing: expected what the link points to, for example ../sites-available/app.conf"))
	case strings.IndexByte(r.Target, 0) >= 0:
		errs = append(errs, Errf("target", "contains a NUL byte"))
	}
	return errs
}

// AutoRequire names the directories that hold the link, and the file,
// directory or archive promise of what it points to, so that the link is
// made once its target exists.
func (r *Symlink) AutoRequire() []Ref {
	refs := requireParents(r.Path, "", "")
	if r.Target == "" {
		return refs
	}
	t := r.Target
	if !filepath.IsAbs(t) {
		t = filepath.Join(filepath.Dir(r.Path), t)
	}
	t = filepath.Clean(t)
	if t == r.Path {
		return refs
	}
	for _, typ := range []string{"file", "directory", "archive"} {
		refs = append(refs, Ref{Type: typ, Subject: t})
	}
	return refs
}

// ClaimedPaths names the link, which a purged directory keeps.
func (r *Symlink) ClaimedPaths() []string { return []string{r.Path} }

// Check compares the link on the host with the promise.
func (r *Symlink) Check(ctx context.Context, env *Env) (*Diff, error) {
	d := &Diff{}
	st, err := os.Lstat(env.Path(r.Path))
	if errors.Is(err, fs.ErrNotExist) {
		if r.State != "absent" {
			d.Add("state", "absent", "present")
			d.Add("target", "", r.Target)
		}
		return d, nil
	}
	if err != nil {
		return nil, err
	}
	if r.State == "absent" {
		if st.Mode()&fs.ModeSymlink == 0 {
			return nil, fmt.Errorf("%s is %s, not a symlink: refusing to remove it", r.Path, pathKind(st.Mode()))
		}
		d.Add("state", "present", "absent")
		return d, nil
	}
	if err := r.replaceable(env, st); err != nil {
		return nil, err
	}
	if st.Mode()&fs.ModeSymlink == 0 {
		kind := "file"
		if st.IsDir() {
			kind = "directory"
		}
		d.Add("type", kind, "symlink")
		d.Add("target", "", r.Target)
		return d, nil
	}
	old, err := os.Readlink(env.Path(r.Path))
	if err != nil {
		return nil, err
	}
	if old != r.Target {
		d.Add("target", old, r.Target)
	}
	return d, nil
}

// replaceable returns an error when what is at the path (st) may not be
// replaced by the link.
func (r *Symlink) replaceable(env *Env, st fs.FileInfo) error {
	m := st.Mode()
	switch {
	case m&fs.ModeSymlink != 0:
		return nil
	case m.IsRegular():
		if !r.Force {
			return fmt.Errorf("%s is a regular file: set force: true to replace it with a symlink", r.Path)
		}
		return nil
	case m.IsDir():
		ents, err := os.ReadDir(env.Path(r.Path))
		if err != nil {
			return err
		}
		if len(ents) > 0 {
			return fmt.Errorf("%s is a directory with content (%s): refusing to replace it with a symlink", r.Path, countEntries(len(ents)))
		}
		if !r.Force {
			return fmt.Errorf("%s is an empty directory: set force: true to replace it with a symlink", r.Path)
		}
		return nil
	}
	return fmt.Errorf("%s is %s: refusing to replace it with a symlink", r.Path, pathKind(m))
}

// Apply makes the link match the promise.
func (r *Symlink) Apply(ctx context.Context, env *Env, d *Diff) error {
	p := env.Path(r.Path)
	st, err := os.Lstat(p)
	exists := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if r.State == "absent" {
		if !exists {
			return nil
		}
		if st.Mode()&fs.ModeSymlink == 0 {
			return fmt.Errorf("%s is %s, not a symlink: refusing to remove it", r.Path, pathKind(st.Mode()))
		}
		return os.Remove(p)
	}
	if exists {
		// What is in the way may have changed since Check: ask again.
		if err := r.replaceable(env, st); err != nil {
			return err
		}
		switch {
		case st.Mode().IsRegular():
			if err := backup(env, r.Path, true); err != nil {
				return err
			}
		case st.IsDir():
			// rename cannot replace a directory with a link; it is empty.
			if err := os.Remove(p); err != nil {
				return err
			}
		}
	}
	// Like a file, a new link gets the parent directories it needs (0755).
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	tmp := tempName(p)
	if err := os.Symlink(r.Target, tmp); err != nil {
		return fmt.Errorf("create link: %w", err)
	}
	if err := os.Rename(tmp, p); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("rename link into place: %w", err)
	}
	return nil
}
