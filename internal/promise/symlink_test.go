package promise_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/phenixhq/phenix/internal/promise"
)

func TestSymlink(t *testing.T) {
	for _, tt := range []struct {
		name        string
		setup       func(r *fsRunner)
		bundle      string
		want        map[string]string
		changes     []promise.Change
		wantBackups []string
	}{
		{
			name: "created, relative",
			setup: func(r *fsRunner) {
				r.write("/etc/nginx/sites-available/app.conf", "x", 0o644)
				r.mkdir("/etc/nginx/sites-enabled", 0o755)
			},
			bundle: "promises:\n  - symlink: /etc/nginx/sites-enabled/app.conf\n    target: ../sites-available/app.conf\n",
			want: map[string]string{
				"etc": "d 0755", "etc/nginx": "d 0755", "etc/nginx/sites-available": "d 0755", "etc/nginx/sites-enabled": "d 0755",
				"etc/nginx/sites-available/app.conf": "f 0644 x",
				"etc/nginx/sites-enabled/app.conf":   "l ../sites-available/app.conf",
			},
			changes: []promise.Change{
				{Field: "state", Before: "absent", After: "present"},
				{Field: "target", After: "../sites-available/app.conf"},
			},
		},
		{
			name:    "absolute target is not mapped under the root",
			setup:   func(r *fsRunner) { r.mkdir("/opt/app", 0o755) },
			bundle:  "promises:\n  - symlink: /opt/app/current\n    target: /opt/app/releases/1.2\n",
			want:    map[string]string{"opt": "d 0755", "opt/app": "d 0755", "opt/app/current": "l /opt/app/releases/1.2"},
			changes: []promise.Change{{Field: "state", Before: "absent", After: "present"}, {Field: "target", After: "/opt/app/releases/1.2"}},
		},
		{
			name:    "a wrong link is replaced",
			setup:   func(r *fsRunner) { r.symlink("releases/1.1", "/opt/app/current") },
			bundle:  "promises:\n  - symlink: /opt/app/current\n    target: releases/1.2\n",
			want:    map[string]string{"opt": "d 0755", "opt/app": "d 0755", "opt/app/current": "l releases/1.2"},
			changes: []promise.Change{{Field: "target", Before: "releases/1.1", After: "releases/1.2"}},
		},
		{
			name:        "a regular file is replaced with force, and backed up",
			setup:       func(r *fsRunner) { r.write("/etc/localtime", "UTC data", 0o644) },
			bundle:      "promises:\n  - symlink: /etc/localtime\n    target: /usr/share/zoneinfo/Europe/Paris\n    force: true\n",
			want:        map[string]string{"etc": "d 0755", "etc/localtime": "l /usr/share/zoneinfo/Europe/Paris"},
			changes:     []promise.Change{{Field: "type", Before: "file", After: "symlink"}, {Field: "target", After: "/usr/share/zoneinfo/Europe/Paris"}},
			wantBackups: []string{"etc/localtime"},
		},
		{
			name:    "an empty directory is replaced with force",
			setup:   func(r *fsRunner) { r.mkdir("/srv/www", 0o755) },
			bundle:  "promises:\n  - symlink: /srv/www\n    target: /data/www\n    force: true\n",
			want:    map[string]string{"srv": "d 0755", "srv/www": "l /data/www"},
			changes: []promise.Change{{Field: "type", Before: "directory", After: "symlink"}, {Field: "target", After: "/data/www"}},
		},
		{
			name:    "absent",
			setup:   func(r *fsRunner) { r.symlink("/nowhere", "/srv/old") },
			bundle:  "promises:\n  - symlink: /srv/old\n    state: absent\n",
			want:    map[string]string{"srv": "d 0755"},
			changes: []promise.Change{{Field: "state", Before: "present", After: "absent"}},
		},
		{
			name:   "absent and already gone",
			setup:  func(r *fsRunner) { r.mkdir("/srv", 0o755) },
			bundle: "promises:\n  - symlink: /srv/old\n    state: absent\n",
			want:   map[string]string{"srv": "d 0755"},
		},
		{
			name:   "kept",
			setup:  func(r *fsRunner) { r.symlink("b", "/srv/a") },
			bundle: "promises:\n  - symlink: /srv/a\n    target: b\n",
			want:   map[string]string{"srv": "d 0755", "srv/a": "l b"},
		},
		{
			name: "made after the directory that holds it and the file it points to",
			bundle: `
promises:
  - symlink: /srv/app/current
    target: /srv/app/releases/1.2
  - directory: /srv/app/releases/1.2
  - directory: /srv/app
`,
			want: map[string]string{"srv": "d 0755", "srv/app": "d 0755", "srv/app/releases": "d 0755", "srv/app/releases/1.2": "d 0755", "srv/app/current": "l /srv/app/releases/1.2"},
			changes: []promise.Change{
				{Field: "state", Before: "absent", After: "present"},
				{Field: "target", After: "/srv/app/releases/1.2"},
			},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := newFSRunner(t)
			if tt.setup != nil {
				tt.setup(r)
			}
			dry := r.dryRunChangesNothing(tt.bundle)
			res := r.converge(tt.bundle)
			r.wantTree(tt.want)
			if diff := cmp.Diff(tt.changes, fsChanges(res[0])); diff != "" {
				t.Errorf("changes (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(fsChanges(res[0]), fsChanges(dry[0])); diff != "" {
				t.Errorf("dry run and run differ (-run +dry):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantBackups, r.backups()); diff != "" {
				t.Errorf("backups (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSymlinkRefuses(t *testing.T) {
	testRefusals(t, []refusal{
		{
			name:    "a regular file without force",
			setup:   func(r *fsRunner) { r.write("/etc/localtime", "UTC", 0o644) },
			bundle:  "promises:\n  - symlink: /etc/localtime\n    target: /usr/share/zoneinfo/UTC\n",
			wantErr: "/etc/localtime is a regular file: set force: true to replace it with a symlink",
		},
		{
			name:    "an empty directory without force",
			setup:   func(r *fsRunner) { r.mkdir("/srv/www", 0o755) },
			bundle:  "promises:\n  - symlink: /srv/www\n    target: /data/www\n",
			wantErr: "/srv/www is an empty directory: set force: true to replace it with a symlink",
		},
		{
			name:    "a directory with content, even with force",
			setup:   func(r *fsRunner) { r.write("/srv/www/index.html", "hi", 0o644) },
			bundle:  "promises:\n  - symlink: /srv/www\n    target: /data/www\n    force: true\n",
			wantErr: "/srv/www is a directory with content (1 entry): refusing to replace it with a symlink",
		},
		{
			name:    "removing a file",
			setup:   func(r *fsRunner) { r.write("/srv/www", "hi", 0o644) },
			bundle:  "promises:\n  - symlink: /srv/www\n    state: absent\n",
			wantErr: "/srv/www is a regular file, not a symlink: refusing to remove it",
		},
	})
}

func TestSymlinkValidate(t *testing.T) {
	r := newFSRunner(t)
	for _, tt := range []struct{ bundle, want string }{
		{"promises:\n  - symlink: /srv/a\n", "bundle.yaml:2:5: target: missing: expected what the link points to, for example ../sites-available/app.conf"},
		{"promises:\n  - symlink: /srv/a\n    state: absent\n    target: b\n", "bundle.yaml:3:5: state: an absent symlink takes no target or force"},
		{"promises:\n  - symlink: /srv/a/\n    target: b\n", "bundle.yaml:2:5: symlink: path \"/srv/a/\" is not clean: write \"/srv/a\""},
	} {
		if got := r.parseErrors(tt.bundle); got != tt.want {
			t.Errorf("errors of\n%s\n= %q\nwant %q", tt.bundle, got, tt.want)
		}
	}
}
