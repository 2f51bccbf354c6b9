package promise_test

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/phenixhq/phenix/internal/engine"
)

func TestLine(t *testing.T) {
	const sshd = "# sshd\n#PermitRootLogin yes\nPort 22\nPermitRootLogin yes\nMatch User backup\n  X11Forwarding no\n"
	for _, tt := range []struct {
		name  string
		old   *string // nil: the file does not exist
		attrs string  // the promise's attributes, after "line: /etc/f"
		want  *string // nil: the file must not exist
	}{
		{
			name:  "appended",
			old:   strp("a\nb\n"),
			attrs: "text: c",
			want:  strp("a\nb\nc\n"),
		},
		{
			name:  "appended to a file with no final newline, which keeps none",
			old:   strp("a\nb"),
			attrs: "text: c",
			want:  strp("a\nb\nc"),
		},
		{
			name:  "appended to an empty file",
			old:   strp(""),
			attrs: "text: c",
			want:  strp("c\n"),
		},
		{
			name:  "already present",
			old:   strp("a\nc\nb\n"),
			attrs: "text: c",
			want:  strp("a\nc\nb\n"),
		},
		{
			name:  "the last matching line is replaced",
			old:   strp(sshd),
			attrs: `{text: "PermitRootLogin no", match: '^#?PermitRootLogin\s'}`,
			want:  strp("# sshd\n#PermitRootLogin yes\nPort 22\nPermitRootLogin no\nMatch User backup\n  X11Forwarding no\n"),
		},
		{
			name:  "no match and absent: inserted before the first line matching insert_before",
			old:   strp(sshd),
			attrs: `{text: "PasswordAuthentication no", match: '^#?PasswordAuthentication\s', insert_before: '^(Match|  )'}`,
			want:  strp("# sshd\n#PermitRootLogin yes\nPort 22\nPermitRootLogin yes\nPasswordAuthentication no\nMatch User backup\n  X11Forwarding no\n"),
		},
		{
			name:  "inserted after the last line matching insert_after",
			old:   strp("[a]\nx=1\n[b]\ny=1\n[c]\n"),
			attrs: `{text: "y=2", insert_after: '^[a-z]=1$'}`,
			want:  strp("[a]\nx=1\n[b]\ny=1\ny=2\n[c]\n"),
		},
		{
			name:  "insert_before '^' puts the line first",
			old:   strp("a\nb\n"),
			attrs: `{text: "#!/bin/sh", insert_before: '^'}`,
			want:  strp("#!/bin/sh\na\nb\n"),
		},
		{
			name:  "insert_after that matches nothing appends",
			old:   strp("a\nb\n"),
			attrs: `{text: "c", insert_after: '^nothing'}`,
			want:  strp("a\nb\nc\n"),
		},
		{
			name:  "CRLF endings are kept and used for the new line",
			old:   strp("a\r\nkey=1\r\nb\r\n"),
			attrs: `{text: "key=2", match: '^key='}`,
			want:  strp("a\r\nkey=2\r\nb\r\n"),
		},
		{
			name:  "CRLF endings for an appended line",
			old:   strp("a\r\nb\r\n"),
			attrs: `{text: "c"}`,
			want:  strp("a\r\nb\r\nc\r\n"),
		},
		{
			name:  "the rest of the file is kept byte for byte",
			old:   strp("  spaced \t\n\n\xff\xfe binary\nlast"),
			attrs: `{text: "new", insert_after: '^$'}`,
			want:  strp("  spaced \t\n\nnew\n\xff\xfe binary\nlast"),
		},
		{
			name:  "absent removes every equal line",
			old:   strp("a\nc\nb\nc\nc \n"),
			attrs: `{text: c, state: absent}`,
			want:  strp("a\nb\nc \n"),
		},
		{
			name:  "absent with match removes every matching line",
			old:   strp("keep\n# one\nkeep too\n#two"),
			attrs: `{match: '^#', state: absent}`,
			want:  strp("keep\nkeep too\n"),
		},
		{
			name:  "absent from a missing file",
			attrs: `{text: c, state: absent}`,
		},
		{
			name:  "created",
			attrs: `{text: "net.ipv4.ip_forward = 1", create: true}`,
			want:  strp("net.ipv4.ip_forward = 1\n"),
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := newFSRunner(t)
			r.mkdir("/etc", 0o755)
			if tt.old != nil {
				r.write("/etc/f", *tt.old, 0o640)
			}
			src := "promises:\n  - line: /etc/f\n    " + tt.attrs + "\n"
			if tt.attrs[0] == '{' {
				src = fmt.Sprintf("promises:\n  - {line: /etc/f, %s\n", tt.attrs[1:])
			}
			dry := r.dryRunChangesNothing(src)
			res := r.converge(src)
			want := map[string]string{"etc": "d 0755"}
			if tt.want != nil {
				mode := "0640"
				if tt.old == nil {
					mode = "0644"
				}
				want["etc/f"] = "f " + mode + " " + *tt.want
			}
			r.wantTree(want)
			if dry[0].Status != res[0].Status || !cmp.Equal(dry[0].Diff, res[0].Diff) {
				t.Errorf("dry run and run differ: %+v / %+v", dry[0].Diff, res[0].Diff)
			}
			changed := tt.old == nil && tt.want != nil || tt.old != nil && *tt.old != *tt.want
			if got := res[0].Status == engine.Changed; got != changed {
				t.Errorf("status %s, want changed=%v", res[0].Status, changed)
			}
			wantBackups := []string(nil)
			if changed && tt.old != nil {
				wantBackups = []string{"etc/f"}
			}
			if diff := cmp.Diff(wantBackups, r.backups()); diff != "" {
				t.Errorf("backups (-want +got):\n%s", diff)
			}
		})
	}
}

func strp(s string) *string { return &s }

func TestLineDiff(t *testing.T) {
	r := newFSRunner(t)
	r.write("/etc/ssh/sshd_config", "Port 22\nPermitRootLogin yes\nUsePAM yes\n", 0o600)
	src := `
promises:
  - line: /etc/ssh/sshd_config
    text: PermitRootLogin no
    match: '^#?PermitRootLogin\s'
`
	res := r.converge(src)
	want := `--- a/etc/ssh/sshd_config
+++ b/etc/ssh/sshd_config
@@ -1,3 +1,3 @@
 Port 22
-PermitRootLogin yes
+PermitRootLogin no
 UsePAM yes
`
	if diff := cmp.Diff(want, res[0].Diff.Content); diff != "" {
		t.Errorf("diff content (-want +got):\n%s", diff)
	}
	if len(res[0].Diff.Changes) != 0 {
		t.Errorf("changes = %+v, want none", res[0].Diff.Changes)
	}

	r = newFSRunner(t)
	r.mkdir("/etc/sysctl.d", 0o755)
	res = r.converge("promises:\n  - line: /etc/sysctl.d/50-fwd.conf\n    text: net.ipv4.ip_forward = 1\n    create: true\n")
	want = `--- /dev/null
+++ b/etc/sysctl.d/50-fwd.conf
@@ -0,0 +1 @@
+net.ipv4.ip_forward = 1
`
	if diff := cmp.Diff(want, res[0].Diff.Content); diff != "" {
		t.Errorf("diff content of a created file (-want +got):\n%s", diff)
	}
}

func TestLineKeepsOwner(t *testing.T) {
	r := newFSRunner(t)
	r.write("/etc/f", "a\n", 0o600)
	r.converge("promises:\n  - line: /etc/f\n    text: b\n")
	st, err := os.Stat(filepath.Join(r.root, "etc/f"))
	if err != nil {
		t.Fatal(err)
	}
	if sys := st.Sys().(*syscall.Stat_t); int(sys.Uid) != os.Getuid() || int(sys.Gid) != os.Getgid() {
		t.Errorf("owner %d:%d, want %d:%d", sys.Uid, sys.Gid, os.Getuid(), os.Getgid())
	}
	r.wantTree(map[string]string{"etc": "d 0755", "etc/f": "f 0600 a\nb\n"})
}

func TestLineAfterFile(t *testing.T) {
	// The line promise comes first but is applied after the file promise
	// of the same path, which it requires implicitly.
	r := newFSRunner(t)
	r.mkdir("/etc", 0o755)
	src := `
promises:
  - line: /etc/hosts
    text: 10.0.0.1 db
  - file: /etc/hosts
    mode: "0644"
    content: "127.0.0.1 localhost\n"
`
	res := r.run(src, false)
	for _, x := range res {
		fsWantStatus(t, x, engine.Changed, "")
	}
	r.wantTree(map[string]string{"etc": "d 0755", "etc/hosts": "f 0644 127.0.0.1 localhost\n10.0.0.1 db\n"})
}

func TestLineRefuses(t *testing.T) {
	testRefusals(t, []refusal{
		{
			name:    "a missing file",
			bundle:  "promises:\n  - line: /etc/f\n    text: a\n",
			wantErr: "/etc/f does not exist: set create: true to create it",
		},
		{
			name:    "a symlink",
			setup:   func(r *fsRunner) { r.write("/etc/real", "a\n", 0o644); r.symlink("real", "/etc/f") },
			bundle:  "promises:\n  - line: /etc/f\n    text: b\n",
			wantErr: "/etc/f is a symlink: a line promise edits regular files only",
		},
		{
			name:    "a directory",
			setup:   func(r *fsRunner) { r.mkdir("/etc/f", 0o755) },
			bundle:  "promises:\n  - line: /etc/f\n    text: b\n",
			wantErr: "/etc/f is a directory: a line promise edits regular files only",
		},
	})
}

func TestLineValidate(t *testing.T) {
	r := newFSRunner(t)
	for _, tt := range []struct{ bundle, want string }{
		{"promises:\n  - line: /etc/f\n", "bundle.yaml:2:5: text: missing: expected the whole line wanted, for example \"PermitRootLogin no\""},
		{"promises:\n  - line: /etc/f\n    text: \"a\\nb\"\n", "bundle.yaml:3:5: text: must be a single line: it contains a line break (use one line promise per line, or a file promise)"},
		{"promises:\n  - line: /etc/f\n    text: a\n    match: '(a'\n", "bundle.yaml:4:5: match: bad regexp \"(a\": missing closing ): `(a`"},
		{"promises:\n  - line: /etc/f\n    text: a\n    insert_after: '[z-a]'\n", "bundle.yaml:4:5: insert_after: bad regexp \"[z-a]\": invalid character class range: `z-a`"},
		{"promises:\n  - line: /etc/f\n    text: a\n    insert_after: x\n    insert_before: y\n", "bundle.yaml:4:5: insert_after: give only one of insert_after and insert_before"},
		{"promises:\n  - line: /etc/f\n    state: absent\n", "bundle.yaml:2:5: text: missing: an absent line needs text (the line to remove) or match (a regexp for the lines to remove)"},
		{"promises:\n  - line: /etc/f\n    state: absent\n    text: a\n    create: true\n", "bundle.yaml:3:5: state: an absent line takes no insert_after, insert_before or create"},
		{"promises:\n  - line: etc/f\n    text: a\n", "bundle.yaml:2:5: line: expected an absolute path, got \"etc/f\""},
	} {
		if got := r.parseErrors(tt.bundle); got != tt.want {
			t.Errorf("errors of\n%s\n= %q\nwant %q", tt.bundle, got, tt.want)
		}
	}
}
