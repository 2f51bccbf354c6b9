package promise_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/phenixhq/phenix/internal/promise"
)

func TestDirectory(t *testing.T) {
	for _, tt := range []struct {
		name    string
		setup   func(r *fsRunner)
		bundle  string
		want    map[string]string
		changes []promise.Change
	}{
		{
			name: "created with its parents",
			bundle: `
promises:
  - directory: /srv/app/data
    mode: "0750"`,
			want: map[string]string{"srv": "d 0755", "srv/app": "d 0755", "srv/app/data": "d 0750"},
			changes: []promise.Change{
				{Field: "state", Before: "absent", After: "present"},
				{Field: "mode", After: "0750"},
			},
		},
		{
			name:   "created with the default mode",
			setup:  func(r *fsRunner) { r.mkdir("/srv", 0o700) },
			bundle: "promises:\n  - directory: /srv/app\n",
			want:   map[string]string{"srv": "d 0700", "srv/app": "d 0755"},
			changes: []promise.Change{
				{Field: "state", Before: "absent", After: "present"},
				{Field: "mode", After: "0755"},
			},
		},
		{
			name:    "mode of an existing directory",
			setup:   func(r *fsRunner) { r.mkdir("/srv", 0o700); r.write("/srv/keep", "x", 0o600) },
			bundle:  "promises:\n  - directory: /srv\n    mode: \"2775\"\n",
			want:    map[string]string{"srv": "d 0775", "srv/keep": "f 0600 x"},
			changes: []promise.Change{{Field: "mode", Before: "0700", After: "2775"}},
		},
		{
			name:    "owner given as the current uid",
			setup:   func(r *fsRunner) { r.mkdir("/srv", 0o755) },
			bundle:  fmt.Sprintf("promises:\n  - directory: /srv/app\n    owner: %q\n    group: %q\n", fmt.Sprint(os.Getuid()), fmt.Sprint(os.Getgid())),
			want:    map[string]string{"srv": "d 0755", "srv/app": "d 0755"},
			changes: []promise.Change{{Field: "state", Before: "absent", After: "present"}, {Field: "mode", After: "0755"}, {Field: "owner", After: hostName(t, "passwd", os.Getuid())}, {Field: "group", After: hostName(t, "group", os.Getgid())}},
		},
		{
			name:    "absent and empty",
			setup:   func(r *fsRunner) { r.mkdir("/srv/old", 0o755) },
			bundle:  "promises:\n  - directory: /srv/old\n    state: absent\n",
			want:    map[string]string{"srv": "d 0755"},
			changes: []promise.Change{{Field: "state", Before: "present", After: "absent"}},
		},
		{
			name: "absent with its content",
			setup: func(r *fsRunner) {
				r.write("/srv/old/a/b", "x", 0o644)
				r.write("/srv/old/c", "y", 0o644)
				r.write("/outside/file", "z", 0o644)
				r.symlink(filepath.Join(r.root, "outside"), "/srv/old/link")
			},
			bundle: "promises:\n  - directory: /srv/old\n    state: absent\n    recurse: true\n",
			want:   map[string]string{"srv": "d 0755", "outside": "d 0755", "outside/file": "f 0644 z"},
			changes: []promise.Change{
				{Field: "state", Before: "present", After: "absent"},
				{Field: "content", Before: "3 entries", After: "(removed)"},
			},
		},
		{
			name:   "absent and already gone",
			bundle: "promises:\n  - directory: /srv/old\n    state: absent\n",
			want:   map[string]string{},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := newFSRunner(t)
			if tt.setup != nil {
				tt.setup(r)
			}
			before := r.tree()
			dry := r.dryRunChangesNothing(tt.bundle)
			res := r.converge(tt.bundle)
			r.wantTree(tt.want)
			if diff := cmp.Diff(tt.changes, fsChanges(res[0])); diff != "" {
				t.Errorf("changes (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(fsChanges(res[0]), fsChanges(dry[0])); diff != "" {
				t.Errorf("dry run and run differ (-run +dry):\n%s", diff)
			}
			if tt.changes == nil && cmp.Diff(before, r.tree()) != "" {
				t.Errorf("a kept promise changed the tree")
			}
		})
	}
}

func TestDirectoryRefuses(t *testing.T) {
	testRefusals(t, []refusal{
		{
			name:    "non-empty without recurse",
			setup:   func(r *fsRunner) { r.write("/srv/old/a", "x", 0o644) },
			bundle:  "promises:\n  - directory: /srv/old\n    state: absent\n",
			wantErr: "/srv/old is not empty (1 entry): set recurse: true to remove it with its content",
		},
		{
			name:    "a file in the way",
			setup:   func(r *fsRunner) { r.write("/srv/app", "x", 0o644) },
			bundle:  "promises:\n  - directory: /srv/app\n",
			wantErr: "/srv/app is a regular file, not a directory: remove it with a file promise (state: absent) first",
		},
		{
			name:    "a symlink in the way",
			setup:   func(r *fsRunner) { r.mkdir("/data", 0o755); r.symlink("/data", "/srv/app") },
			bundle:  "promises:\n  - directory: /srv/app\n",
			wantErr: "/srv/app is a symlink, not a directory: phenix does not follow it (manage it with a symlink promise)",
		},
		{
			name:    "a symlink to remove",
			setup:   func(r *fsRunner) { r.mkdir("/data", 0o755); r.symlink("/data", "/srv/app") },
			bundle:  "promises:\n  - directory: /srv/app\n    state: absent\n    recurse: true\n",
			wantErr: "/srv/app is a symlink, not a directory",
		},
		{
			name:    "missing parent with parents false",
			bundle:  "promises:\n  - directory: /srv/app\n    parents: false\n",
			wantErr: "create /srv/app: parent directory /srv does not exist (parents: false)",
		},
	})
}

func TestDirectoryPurge(t *testing.T) {
	r := newFSRunner(t)
	r.write("/etc/app/keep.conf", "old\n", 0o644)
	r.write("/etc/app/stray.conf", "stray\n", 0o644)
	r.write("/etc/app/.hidden", "h\n", 0o600)
	r.write("/etc/app/olddir/deep/file", "d\n", 0o644)
	r.write("/etc/app/conf.d/managed.conf", "m\n", 0o644)
	r.write("/etc/app/conf.d/other.conf", "o\n", 0o644)
	r.write("/outside/secret", "s\n", 0o644)
	r.symlink(filepath.Join(r.root, "outside"), "/etc/app/escape")
	r.symlink("/outside", "/etc/app/escape-abs")
	// The directory promise comes first: the claims of the promises after
	// it are known before the run starts.
	src := `
promises:
  - directory: /etc/app
    purge: true
  - file: /etc/app/keep.conf
    content: "new\n"
  - file: /etc/app/conf.d/managed.conf
    content: "m\n"
  - symlink: /etc/app/current
    target: keep.conf
  - directory: /etc/app/empty
`
	dry := r.dryRunChangesNothing(src)
	wantChanges := []promise.Change{
		{Field: "purge", Before: ".hidden", After: "(removed)"},
		{Field: "purge", Before: "escape", After: "(removed)"},
		{Field: "purge", Before: "escape-abs", After: "(removed)"},
		{Field: "purge", Before: "olddir", After: "(removed)"},
		{Field: "purge", Before: "stray.conf", After: "(removed)"},
	}
	if diff := cmp.Diff(wantChanges, fsChanges(dry[0])); diff != "" {
		t.Errorf("dry run changes (-want +got):\n%s", diff)
	}
	res := r.converge(src)
	if diff := cmp.Diff(wantChanges, fsChanges(res[0])); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
	if got, want := res[0].Diff.Summary(), "purge .hidden → (removed), purge escape → (removed), purge escape-abs → (removed), purge olddir → (removed), purge stray.conf → (removed)"; got != want {
		t.Errorf("summary = %q, want %q", got, want)
	}
	r.wantTree(map[string]string{
		"etc":                         "d 0755",
		"etc/app":                     "d 0755",
		"etc/app/keep.conf":           "f 0644 new\n",
		"etc/app/current":             "l keep.conf",
		"etc/app/empty":               "d 0755",
		"etc/app/conf.d":              "d 0755",
		"etc/app/conf.d/managed.conf": "f 0644 m\n",
		"etc/app/conf.d/other.conf":   "f 0644 o\n", // conf.d is kept whole: it has no purge of its own
		"outside":                     "d 0755",
		"outside/secret":              "f 0644 s\n", // the links were removed, not followed
	})
}

func TestDirectoryPurgeNeedsClaims(t *testing.T) {
	root := t.TempDir()
	fsWrite(t, filepath.Join(root, "etc/app/a"), "a", 0o644)
	d := &promise.Directory{Path: "/etc/app", Purge: true}
	_, err := d.Check(context.Background(), &promise.Env{Root: root})
	if err == nil || !strings.Contains(err.Error(), "the paths managed by the run are unknown") {
		t.Fatalf("Check without Env.Managed: error %v, want a refusal", err)
	}
	diff, err := d.Check(context.Background(), &promise.Env{Root: root, Managed: func() map[string]bool { return map[string]bool{"/etc/app/a": true} }})
	if err != nil || !diff.Empty() {
		t.Fatalf("Check with /etc/app/a managed = %+v, %v; want an empty diff", diff, err)
	}
}

func TestDirectoryValidate(t *testing.T) {
	r := newFSRunner(t)
	for _, tt := range []struct{ bundle, want string }{
		{"promises:\n  - directory: /srv\n    recurse: true\n", "bundle.yaml:3:5: recurse: recurse only applies to state: absent (it does not change modes or owners below the directory)"},
		{"promises:\n  - directory: /srv\n    state: absent\n    mode: \"0755\"\n", "bundle.yaml:3:5: state: an absent directory takes no mode, owner, group, parents or purge"},
		{"promises:\n  - directory: /\n    purge: true\n", "bundle.yaml:3:5: purge: refusing to purge /"},
		{"promises:\n  - directory: srv\n", "bundle.yaml:2:5: directory: expected an absolute path, got \"srv\""},
		{"promises:\n  - directory: /srv\n    state: gone\n", "bundle.yaml:3:5: state: unknown state \"gone\": expected one of [present absent]"},
	} {
		if got := r.parseErrors(tt.bundle); got != tt.want {
			t.Errorf("errors of\n%s\n= %q\nwant %q", tt.bundle, got, tt.want)
		}
	}
}

// hostName is the running system's name for a uid or gid (the root of these
// tests has no /etc/passwd, so names come from the host's), or the number.
func hostName(t *testing.T, db string, id int) string {
	t.Helper()
	b, err := os.ReadFile("/etc/" + db)
	if err != nil {
		return fmt.Sprint(id)
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Split(line, ":")
		if len(f) > 2 && f[2] == fmt.Sprint(id) {
			return f[0]
		}
	}
	return fmt.Sprint(id)
}
