package promise_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/phenixhq/phenix/internal/engine"
	"github.com/phenixhq/phenix/internal/promise"
	"github.com/phenixhq/phenix/internal/testenv"
)

func TestFileContentSourcesAndModes(t *testing.T) {
	r := newFSRunner(t)
	if err := os.WriteFile(filepath.Join(r.dir, "banner.txt"), []byte("from source\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(r.dir, "app.tmpl"), []byte("port={{ .vars.port }}\n{{ range .vars.hosts }}host {{ . }}\n{{ end }}"), 0o600); err != nil {
		t.Fatal(err)
	}
	src := `vars:
  port: 8080
  hosts: [a, b]
promises:
  - file: /etc/literal
    content: "literal\n"
    mode: "0600"
  - file: /etc/banner
    source: banner.txt
  - file: /etc/app.conf
    template: app.tmpl
    mode: 0640
  - file: /etc/empty
  - file: /srv/deep/new/file
    content: x
`
	r.dryRunChangesNothing(src)
	first := r.converge(src)
	for _, res := range first {
		if res.Status != engine.Changed {
			t.Errorf("%s: %s, want changed", res.ID, res.Status)
		}
	}
	r.wantTree(map[string]string{
		"etc":               "d 0755",
		"etc/literal":       "f 0600 literal\n",
		"etc/banner":        "f 0644 from source\n",
		"etc/app.conf":      "f 0640 port=8080\nhost a\nhost b\n",
		"etc/empty":         "f 0644 ",
		"srv":               "d 0755",
		"srv/deep":          "d 0755",
		"srv/deep/new":      "d 0755",
		"srv/deep/new/file": "f 0644 x",
	})
	if diff := cmp.Diff([]promise.Change{{Field: "state", Before: "absent", After: "present"}, {Field: "mode", Before: "", After: "0600"}}, fsChanges(first[0])); diff != "" {
		t.Errorf("changes of a new file (-want +got):\n%s", diff)
	}
}

func TestFileRepairsDriftAndKeepsBackups(t *testing.T) {
	r := newFSRunner(t)
	src := `promises:
  - file: /etc/app.conf
    content: "a=1\nb=2\n"
    mode: "0644"
`
	r.converge(src)
	r.write("/etc/app.conf", "a=1\nb=3\n", 0o666)

	res := r.dryRunChangesNothing(src)
	want := "--- a/etc/app.conf\n+++ b/etc/app.conf\n@@ -1,2 +1,2 @@\n a=1\n-b=3\n+b=2\n"
	if res[0].Diff == nil || res[0].Diff.Content != want {
		t.Errorf("dry-run diff = %q, want %q", res[0].Diff, want)
	}
	if diff := cmp.Diff([]promise.Change{{Field: "mode", Before: "0666", After: "0644"}}, fsChanges(res[0])); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
	r.converge(src)
	r.wantTree(map[string]string{"etc": "d 0755", "etc/app.conf": "f 0644 a=1\nb=2\n"})
	if diff := cmp.Diff([]string{"etc/app.conf"}, r.backups()); diff != "" {
		t.Errorf("backups (-want +got):\n%s", diff)
	}
	// A mode-only drift is fixed in place, without a rewrite or a backup.
	full := filepath.Join(r.root, "etc/app.conf")
	before, _ := os.Stat(full)
	if err := os.Chmod(full, 0o600); err != nil {
		t.Fatal(err)
	}
	r.converge(src)
	after, _ := os.Stat(full)
	if !os.SameFile(before, after) {
		t.Error("a mode change rewrote the file")
	}
	if n := len(r.backups()); n != 1 {
		t.Errorf("%d backups after a mode change, want still 1", n)
	}
}

func TestFileAbsentAndSymlinkReplaced(t *testing.T) {
	r := newFSRunner(t)
	r.write("/etc/old.conf", "old\n", 0o644)
	r.write("/etc/real", "target\n", 0o644)
	r.symlink("real", "/etc/link")
	src := `promises:
  - file: /etc/old.conf
    state: absent
  - file: /etc/link
    content: "now a file\n"
  - file: /etc/never
    state: absent
`
	res := r.converge(src)
	fsWantStatus(t, res[0], engine.Changed, "")
	fsWantStatus(t, res[2], engine.OK, "")
	r.wantTree(map[string]string{"etc": "d 0755", "etc/link": "f 0644 now a file\n", "etc/real": "f 0644 target\n"})
	if diff := cmp.Diff([]string{"etc/old.conf"}, r.backups()); diff != "" {
		t.Errorf("backups (-want +got):\n%s", diff)
	}
}

func TestFileOwnerFromRootDatabase(t *testing.T) {
	testenv.Require(t, "root") // chown needs root
	r := newFSRunner(t)
	r.write("/etc/passwd", "root:x:0:0:root:/root:/bin/sh\napp:x:4242:4343::/srv/app:/bin/sh\n", 0o644)
	r.write("/etc/group", "root:x:0:\napp:x:4343:\n", 0o644)
	src := `promises:
  - file: /srv/app/config
    content: "x\n"
    owner: app
    group: app
    mode: "0640"
`
	res := r.converge(src)
	if diff := cmp.Diff([]promise.Change{
		{Field: "state", Before: "absent", After: "present"},
		{Field: "mode", After: "0640"},
		{Field: "owner", After: "app"},
		{Field: "group", After: "app"},
	}, fsChanges(res[0])); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
	st, err := os.Stat(filepath.Join(r.root, "srv/app/config"))
	if err != nil {
		t.Fatal(err)
	}
	if uid, gid := fileIDs(st); uid != 4242 || gid != 4343 {
		t.Errorf("owner = %d:%d, want 4242:4343 from the root's own passwd", uid, gid)
	}
	bad := r.run(strings.Replace(src, "owner: app", "owner: nobody-here", 1), false)
	fsWantStatus(t, bad[0], engine.Failed, `no user "nobody-here" in /etc/passwd`)
}

func TestFileBadInput(t *testing.T) {
	r := newFSRunner(t)
	got := r.parseErrors(`promises:
  - file: /etc/a
    content: x
    source: y
  - file: /etc/b
    state: absent
    mode: "0644"
  - file: /etc/c
    source: missing.txt
  - file: /etc/../etc/d
`)
	want := strings.Join([]string{
		"bundle.yaml:3:5: content: give only one of content, source and template",
		"bundle.yaml:6:5: state: an absent file takes no content, mode, owner or group",
		"bundle.yaml:9:5: source: open missing.txt: no such file or directory",
		`bundle.yaml:10:5: file: path "/etc/../etc/d" is not clean: write "/etc/d"`,
	}, "\n")
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
}
