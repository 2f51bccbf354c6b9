package promise_test

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/phenixhq/phenix/internal/bundle"
	"github.com/phenixhq/phenix/internal/engine"
	"github.com/phenixhq/phenix/internal/promise"
)

// This file holds the helpers of the directory, symlink, line and archive
// tests: they apply a bundle through the engine under a temporary root, as
// phenix apply --root does, and describe the tree it leaves.

// fsBackupDir is where the tests' runs keep backups, under the root.
const fsBackupDir = "/phenix-backups"

// backupStamp matches the time stamp that ends the name of a backup.
var backupStamp = regexp.MustCompile(`\.[0-9]{8}T[0-9]{6}\.[0-9]+Z$`)

// fsRunner applies bundles under a temporary root.
type fsRunner struct {
	t    *testing.T
	root string // the --root of every run
	dir  string // the bundle's directory, where sources live
}

func newFSRunner(t *testing.T) *fsRunner {
	t.Helper()
	return &fsRunner{t: t, root: t.TempDir(), dir: t.TempDir()}
}

// plan parses src as a bundle file in r.dir and plans it.
func (r *fsRunner) plan(src string) (*engine.Plan, *promise.Env) {
	r.t.Helper()
	env := &promise.Env{Root: r.root, BackupDir: fsBackupDir}
	name := filepath.Join(r.dir, "bundle.yaml")
	ps, errs := bundle.Parse(name, []byte(src), bundle.Options{})
	if len(errs) > 0 {
		r.t.Fatalf("bundle:\n%s\nerrors:\n%v", src, errs)
	}
	pl, err := engine.NewPlan(ps, env)
	if err != nil {
		r.t.Fatalf("plan: %v", err)
	}
	return pl, env
}

// run applies src once (or checks it, when dry) and returns the results.
func (r *fsRunner) run(src string, dry bool) []engine.Result {
	r.t.Helper()
	pl, env := r.plan(src)
	env.DryRun = dry
	return pl.Run(context.Background(), env, engine.Options{}).Results
}

// converge applies src, expecting no failure, then applies it again and
// expects every promise to be kept with an empty diff. It returns the
// results of the first run.
func (r *fsRunner) converge(src string) []engine.Result {
	r.t.Helper()
	first := r.run(src, false)
	for _, res := range first {
		if res.Status == engine.Failed || res.Status == engine.Skipped {
			r.t.Fatalf("first run: %s %s: %s%s", res.ID, res.Status, res.Error, res.Reason)
		}
	}
	for _, res := range r.run(src, false) {
		if res.Status != engine.OK || !res.Diff.Empty() {
			r.t.Errorf("second run: %s is %s, want ok (diff %+v, error %q)", res.ID, res.Status, res.Diff, res.Error)
		}
	}
	return first
}

// dryRunChangesNothing checks src in a dry run and fails the test if the
// tree under the root changed. It returns the results.
func (r *fsRunner) dryRunChangesNothing(src string) []engine.Result {
	r.t.Helper()
	before := fsTree(r.t, r.root)
	res := r.run(src, true)
	if diff := cmp.Diff(before, fsTree(r.t, r.root)); diff != "" {
		r.t.Errorf("dry run changed the tree (-before +after):\n%s", diff)
	}
	return res
}

// parseErrors returns the errors of bundle src, one per line, with the
// positions.
func (r *fsRunner) parseErrors(src string) string {
	r.t.Helper()
	_, errs := bundle.Parse(filepath.Join(r.dir, "bundle.yaml"), []byte(src), bundle.Options{})
	return strings.ReplaceAll(errs.Error(), r.dir+"/", "")
}

// write creates a file under the root with its parents (mode 0755).
func (r *fsRunner) write(p, content string, mode os.FileMode) {
	r.t.Helper()
	fsWrite(r.t, filepath.Join(r.root, p), content, mode)
}

// mkdir creates a directory under the root with its parents.
func (r *fsRunner) mkdir(p string, mode os.FileMode) {
	r.t.Helper()
	full := filepath.Join(r.root, p)
	if err := os.MkdirAll(full, 0o755); err != nil {
		r.t.Fatal(err)
	}
	if err := os.Chmod(full, mode); err != nil {
		r.t.Fatal(err)
	}
}

// symlink creates a symbolic link under the root.
func (r *fsRunner) symlink(target, p string) {
	r.t.Helper()
	full := filepath.Join(r.root, p)
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		r.t.Fatal(err)
	}
	if err := os.Symlink(target, full); err != nil {
		r.t.Fatal(err)
	}
}

// tree describes what is under the root, backups left out.
func (r *fsRunner) tree() map[string]string {
	r.t.Helper()
	return fsTree(r.t, r.root)
}

// wantTree fails the test when the tree under the root is not want.
func (r *fsRunner) wantTree(want map[string]string) {
	r.t.Helper()
	if diff := cmp.Diff(want, r.tree()); diff != "" {
		r.t.Errorf("tree under the root (-want +got):\n%s", diff)
	}
}

func fsWrite(t *testing.T, p, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}

// fsTree describes the tree under root, one entry per path relative to
// root: "d 0755" for a directory, "f 0644 <content>" for a file and
// "l <target>" for a symlink. The backup directory is left out.
func fsTree(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "." {
			return nil
		}
		if "/"+rel == fsBackupDir {
			return filepath.SkipDir
		}
		st, err := os.Lstat(p)
		if err != nil {
			return err
		}
		switch {
		case st.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			out[rel] = "l " + target
		case st.IsDir():
			out[rel] = "d " + fsModeOf(st)
		case st.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			out[rel] = "f " + fsModeOf(st) + " " + string(b)
		default:
			out[rel] = "? " + st.Mode().String()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func fsModeOf(st fs.FileInfo) string {
	return fsOctal(st.Mode().Perm())
}

func fsOctal(m fs.FileMode) string {
	const digits = "01234567"
	return string([]byte{'0', digits[(m>>6)&7], digits[(m>>3)&7], digits[m&7]})
}

// backups lists the backups kept under the root, as paths relative to the
// backup directory with the time stamp cut off.
func (r *fsRunner) backups() []string {
	r.t.Helper()
	var out []string
	dir := filepath.Join(r.root, fsBackupDir)
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, backupStamp.ReplaceAllString(rel, ""))
		}
		return nil
	})
	return out
}

// changes returns the attribute changes of a result.
func fsChanges(res engine.Result) []promise.Change {
	if res.Diff == nil {
		return nil
	}
	return res.Diff.Changes
}

// wantStatus fails the test unless res has status want and, for a
// failure, an error containing errPart.
func fsWantStatus(t *testing.T, res engine.Result, want engine.Status, errPart string) {
	t.Helper()
	if res.Status != want {
		t.Fatalf("%s: status %s, want %s (error %q, reason %q)", res.ID, res.Status, want, res.Error, res.Reason)
	}
	if !strings.Contains(res.Error, errPart) {
		t.Fatalf("%s: error %q, want it to contain %q", res.ID, res.Error, errPart)
	}
}

// TestPathTypeExamples applies the example bundles of testdata/<type>/
// twice under a root prepared for them, and checks the tree they leave.
func TestPathTypeExamples(t *testing.T) {
	for _, tt := range []struct {
		typ   string
		setup func(r *fsRunner)
		want  map[string]string
	}{
		{
			typ: "directory",
			setup: func(r *fsRunner) {
				r.write("/etc/app/conf.d/99-old.conf", "old\n", 0o644)
				r.write("/var/cache/app/old/a/b", "cache\n", 0o644)
			},
			want: map[string]string{
				"etc": "d 0755", "etc/app": "d 0755", "etc/app/conf.d": "d 0750",
				"etc/app/conf.d/10-main.conf": "f 0644 listen = 8080\n",
				"var":                         "d 0755", "var/cache": "d 0755", "var/cache/app": "d 0755",
			},
		},
		{
			typ:   "symlink",
			setup: func(r *fsRunner) { r.write("/etc/localtime", "TZif", 0o644) },
			want: map[string]string{
				"etc": "d 0755", "etc/localtime": "l /usr/share/zoneinfo/Europe/Paris",
				"opt": "d 0755", "opt/app": "d 0755", "opt/app/releases": "d 0755", "opt/app/releases/1.4.2": "d 0755",
				"opt/app/current": "l releases/1.4.2",
			},
		},
		{
			typ: "line",
			setup: func(r *fsRunner) {
				r.write("/etc/ssh/sshd_config", "Port 22\nMatch User backup\n  PermitRootLogin yes\n", 0o600)
				r.write("/etc/hosts", "127.0.0.1 localhost\n10.0.0.9 old\n", 0o644)
				r.mkdir("/etc/sysctl.d", 0o755)
			},
			want: map[string]string{
				"etc": "d 0755", "etc/ssh": "d 0755", "etc/sysctl.d": "d 0755",
				"etc/ssh/sshd_config":          "f 0600 Port 22\nPermitRootLogin no\nMatch User backup\n  PermitRootLogin yes\n",
				"etc/hosts":                    "f 0644 127.0.0.1 localhost\n",
				"etc/sysctl.d/50-forward.conf": "f 0644 net.ipv4.ip_forward = 1\n",
			},
		},
		{
			typ: "archive",
			setup: func(r *fsRunner) {
				arWrite(r.t, r.dir, "app-1.4.2.tar.gz", arFile("bin/app", 0o755, "app\n"))
			},
			want: map[string]string{
				"opt": "d 0755", "opt/app": "d 0755", "opt/app/releases": "d 0755", "opt/app/releases/1.4.2": "d 0755",
				"opt/app/releases/1.4.2/bin":     "d 0755",
				"opt/app/releases/1.4.2/bin/app": "f 0755 app\n",
				"opt/app/current":                "l releases/1.4.2",
			},
		},
	} {
		t.Run(tt.typ, func(t *testing.T) {
			src, err := os.ReadFile(filepath.Join("testdata", tt.typ, "example.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			r := newFSRunner(t)
			tt.setup(r)
			r.dryRunChangesNothing(string(src))
			r.converge(string(src))
			tree := r.tree()
			for p := range tree {
				if filepath.Base(p) == ".phenix-archive" {
					delete(tree, p)
				}
			}
			if diff := cmp.Diff(tt.want, tree); diff != "" {
				t.Errorf("tree (-want +got):\n%s", diff)
			}
		})
	}
}

// refusal is a promise that must fail without touching the tree.
type refusal struct {
	name    string
	setup   func(r *fsRunner)
	bundle  string
	wantErr string
}

// testRefusals applies each case under a fresh root and expects its first
// promise to fail with wantErr and the tree to be left as it was.
func testRefusals(t *testing.T, cases []refusal) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			r := newFSRunner(t)
			if tt.setup != nil {
				tt.setup(r)
			}
			before := r.tree()
			res := r.run(tt.bundle, false)
			fsWantStatus(t, res[0], engine.Failed, tt.wantErr)
			if diff := cmp.Diff(before, r.tree()); diff != "" {
				t.Errorf("a refused promise changed the tree (-before +after):\n%s", diff)
			}
		})
	}
}
