package promise_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/phenixhq/phenix/internal/containertest"
	"github.com/phenixhq/phenix/internal/promise"
)

// getent returns the database line of key, or "" when there is none.
func getent(t *testing.T, c *containertest.Container, db, key string) string {
	t.Helper()
	code, out := exitCode(t, c, "getent", db, key)
	if code != 0 {
		return ""
	}
	return strings.TrimSpace(out)
}

// secretHash is the SHA-512 crypt hash of "secret" (openssl passwd -6 -salt saltsalt secret).
const secretHash = "$6$saltsalt$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5knV8wiOQSpT0Y77vwPZN.Pq.H91p5hVO1"

func TestUserGroupSystem(t *testing.T) {
	t.Parallel()
	c := startDebian(t)

	t.Run("groups", func(t *testing.T) {
		const src = `promises:
  - group: staff-a
    gid: 2001
  - group: staff-b
    system: true
`
		mustChange(t, c, src)
		if got := getent(t, c, "group", "staff-a"); got != "staff-a:x:2001:" {
			t.Errorf("staff-a = %q", got)
		}
		if got := getent(t, c, "group", "staff-b"); got == "" {
			t.Errorf("staff-b was not created")
		}
		mustConverged(t, c, src)
	})

	const alice = `promises:
  - user: alice
    uid: 2100
    gid: 2001
    groups: [staff-b]
    home: /srv/alice
    shell: /bin/bash
    password: "` + secretHash + `"
  - group: staff-b
    system: true
`
	t.Run("create user", func(t *testing.T) {
		got := mustChange(t, c, alice)
		r := got["user:alice"]
		for _, ch := range r.Diff.Changes {
			if ch.Field == "password" && (ch.Before != "" || ch.After != "(hidden)") {
				t.Errorf("password change = %+v, want it hidden", ch)
			}
		}
		if strings.Contains(r.Diff.Command, "$6$") {
			t.Errorf("the command shows the hash: %s", r.Diff.Command)
		}
		if got := getent(t, c, "passwd", "alice"); got != "alice:x:2100:2001::/srv/alice:/bin/bash" {
			t.Errorf("passwd = %q", got)
		}
		if got := c.MustExec(t, "id", "-nG", "alice"); strings.Fields(got)[0] != "staff-a" || !strings.Contains(got, "staff-b") {
			t.Errorf("id -nG alice = %q, want staff-a then staff-b", got)
		}
		if got := getent(t, c, "shadow", "alice"); !strings.HasPrefix(got, "alice:"+secretHash+":") {
			t.Errorf("shadow = %q, want the hash", got)
		}
		if got := c.MustExec(t, "stat", "-c", "%U", "/srv/alice"); got != "alice\n" {
			t.Errorf("home owner = %q, want alice (manage_home creates it)", got)
		}
		mustConverged(t, c, alice)
	})

	t.Run("modify user", func(t *testing.T) {
		const src = `promises:
  - user: alice
    shell: /bin/sh
    groups: [staff-a]
    append: true
    password: "!"
`
		got := mustChange(t, c, src)
		want := []promise.Change{
			{Field: "groups", Before: "staff-b", After: "staff-a,staff-b"},
			{Field: "shell", Before: "/bin/bash", After: "/bin/sh"},
			{Field: "password", Before: "(hidden)", After: "(hidden)"},
		}
		if diff := cmp.Diff(want, got["user:alice"].Diff.Changes); diff != "" {
			t.Errorf("changes (-want +got):\n%s", diff)
		}
		if got := getent(t, c, "passwd", "alice"); got != "alice:x:2100:2001::/srv/alice:/bin/sh" {
			t.Errorf("passwd = %q", got)
		}
		if got := getent(t, c, "shadow", "alice"); !strings.HasPrefix(got, "alice:!:") {
			t.Errorf("shadow = %q, want a locked password", got)
		}
		mustConverged(t, c, src)
		// Without append the list is exact.
		const exact = "promises:\n  - user: alice\n    groups: []\n"
		mustChange(t, c, exact)
		if got := strings.Fields(c.MustExec(t, "id", "-nG", "alice")); len(got) != 1 || got[0] != "staff-a" {
			t.Errorf("id -nG alice = %q, want only the primary group", got)
		}
		mustConverged(t, c, exact)
	})

	t.Run("system user without home", func(t *testing.T) {
		const src = "promises:\n  - user: svc\n    system: true\n    manage_home: false\n    shell: /usr/sbin/nologin\n"
		mustChange(t, c, src)
		line := getent(t, c, "passwd", "svc")
		f := strings.Split(line, ":")
		if len(f) != 7 || len(f[2]) > 3 {
			t.Fatalf("passwd = %q, want a system uid", line)
		}
		if code, _ := exitCode(t, c, "test", "-e", f[5]); code == 0 {
			t.Errorf("home %s was created, want none", f[5])
		}
		mustConverged(t, c, src)
	})

	t.Run("user and group of one name", func(t *testing.T) {
		// The group promise is declared last: AutoRequire orders it first
		// on creation, and last on removal.
		const src = "promises:\n  - user: deploy\n  - group: deploy\n    gid: 2500\n"
		mustChange(t, c, src)
		if got := c.MustExec(t, "id", "deploy"); !strings.Contains(got, "gid=2500(deploy)") {
			t.Errorf("id deploy = %q, want primary group deploy (2500)", got)
		}
		mustConverged(t, c, src)
		const gone = "promises:\n  - group: deploy\n    state: absent\n  - user: deploy\n    state: absent\n"
		mustChange(t, c, gone)
		if got := getent(t, c, "group", "deploy") + getent(t, c, "passwd", "deploy"); got != "" {
			t.Errorf("still there: %q", got)
		}
		mustConverged(t, c, gone)
	})

	t.Run("group members", func(t *testing.T) {
		const src = "promises:\n  - group: staff-b\n    members: [svc, alice]\n"
		mustChange(t, c, src)
		if got := getent(t, c, "group", "staff-b"); !strings.HasSuffix(got, ":alice,svc") {
			t.Errorf("staff-b = %q, want members alice,svc", got)
		}
		mustConverged(t, c, src)
		const none = "promises:\n  - group: staff-b\n    members: []\n"
		mustChange(t, c, none)
		if got := getent(t, c, "group", "staff-b"); !strings.HasSuffix(got, ":") {
			t.Errorf("staff-b = %q, want no members", got)
		}
		mustConverged(t, c, none)
	})

	t.Run("primary group by name", func(t *testing.T) {
		const src = "promises:\n  - user: carol\n    group: staff-c\n  - group: staff-c\n"
		mustChange(t, c, src)
		if got := strings.TrimSpace(c.MustExec(t, "id", "-gn", "carol")); got != "staff-c" {
			t.Errorf("primary group = %q, want staff-c", got)
		}
		mustConverged(t, c, src)
	})

	t.Run("comment", func(t *testing.T) {
		const src = "promises:\n  - user: carol\n    comment: Carol C\n"
		ps, errs := bundleParse(src)
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		if u, ok := ps["user:carol"].(*promise.User); !ok || u.Comment == nil {
			t.Fatalf("comment was not decoded into the user's GECOS field: %#v", ps["user:carol"])
		}
		mustChange(t, c, src)
		if got := getent(t, c, "passwd", "carol"); !strings.Contains(got, ":Carol C:") {
			t.Errorf("passwd = %q, want the comment", got)
		}
		mustConverged(t, c, src)
	})

	t.Run("absent", func(t *testing.T) {
		const src = `promises:
  - user: alice
    state: absent
  - user: svc
    state: absent
  - group: staff-a
    state: absent
    require: [user:alice]
  - group: staff-b
    state: absent
  - user: carol
    state: absent
  - group: staff-c
    state: absent
    require: [user:carol]
`
		mustChange(t, c, src)
		for _, k := range [][2]string{{"passwd", "alice"}, {"passwd", "svc"}, {"group", "staff-a"}, {"group", "staff-b"}, {"passwd", "carol"}, {"group", "staff-c"}} {
			if got := getent(t, c, k[0], k[1]); got != "" {
				t.Errorf("%s %s still there: %q", k[0], k[1], got)
			}
		}
		if code, _ := exitCode(t, c, "test", "-d", "/srv/alice"); code != 0 {
			t.Errorf("the home of a removed user was deleted, want it kept")
		}
		mustConverged(t, c, src)
	})
}
