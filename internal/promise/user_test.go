package promise

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func ptr[T any](v T) *T { return &v }

func TestUserValidate(t *testing.T) {
	for _, tt := range []struct {
		name string
		u    User
		want string
	}{
		{name: "ok", u: User{Name: "deploy", UID: ptr(1500), Group: "deploy", Groups: StringList{"www-data"}, Home: "/srv/deploy", Shell: "/bin/bash", Password: ptr("$6$salt$abc")}},
		{name: "locked", u: User{Name: "svc", Password: ptr("!")}},
		{name: "absent", u: User{Name: "old", State: "absent"}},
		{name: "gid and group", u: User{Name: "a", GID: ptr(1), Group: "b"}, want: "gid: give the primary group by gid or by group, not both"},
		{name: "clear password", u: User{Name: "a", Password: ptr("hunter2")}, want: "password: expected a crypt(3) hash such as $6$salt$… (see mkpasswd), never a clear-text password"},
		{name: "bad name", u: User{Name: "a:b"}, want: `user: bad name "a:b": expected letters, digits, _ . - (at most 32, not only digits)`},
		{name: "numeric name", u: User{Name: "123"}, want: `user: bad name "123": expected letters, digits, _ . - (at most 32, not only digits)`},
		{name: "relative home", u: User{Name: "a", Home: "home/a"}, want: `home: expected an absolute path, got "home/a"`},
		{name: "comment colon", u: User{Name: "a", Comment: ptr("a:b")}, want: "comment: must not contain a colon or a newline"},
		{name: "append alone", u: User{Name: "a", Append: true}, want: "append: append adds groups: list them in groups"},
		{name: "absent with attrs", u: User{Name: "a", State: "absent", Shell: "/bin/sh"}, want: "state: an absent user takes no other attribute"},
		{name: "uid range", u: User{Name: "a", UID: ptr(-1)}, want: "uid: -1 is out of range"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, fe := range tt.u.Validate() {
				got = append(got, fe.Error())
			}
			if strings.Join(got, "; ") != tt.want {
				t.Errorf("Validate() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestGroupValidate(t *testing.T) {
	for _, tt := range []struct {
		name string
		g    Group
		want string
	}{
		{name: "ok", g: Group{Name: "deploy", GID: ptr(1500), Members: StringList{"alice"}}},
		{name: "bad member", g: Group{Name: "deploy", Members: StringList{"a,b"}}, want: `members: bad name "a,b": expected letters, digits, _ . - (at most 32, not only digits)`},
		{name: "absent with gid", g: Group{Name: "deploy", State: "absent", GID: ptr(1)}, want: "state: an absent group takes no gid or members"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, fe := range tt.g.Validate() {
				got = append(got, fe.Error())
			}
			if strings.Join(got, "; ") != tt.want {
				t.Errorf("Validate() = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestUserCheckHost checks, read-only, the host's account databases.
func TestUserCheckHost(t *testing.T) {
	ctx := t.Context()
	d, err := (&User{Name: "root", UID: ptr(0), GID: ptr(0)}).Check(ctx, &Env{})
	if err != nil || !d.Empty() {
		t.Errorf("Check(root) = %+v, %v; want no change", d, err)
	}
	d, err = (&User{Name: "root", Comment: ptr("Charlie Root"), Shell: "/bin/phenix-sh"}).Check(ctx, &Env{})
	if err != nil || len(d.Changes) != 2 || d.Changes[0].Field != "shell" || d.Changes[1].After != "Charlie Root" ||
		d.Command != "usermod --shell /bin/phenix-sh --comment 'Charlie Root' root" {
		t.Errorf("Check(root with a comment and a shell) = %+v, %v", d, err)
	}
	u := &User{Name: "phenix-test-nobody", Groups: StringList{"sys", "adm"}, Shell: "/bin/sh", Password: ptr("$6$x$y"), ManageHome: ptr(false)}
	d, err = u.Check(ctx, &Env{})
	if err != nil {
		t.Fatal(err)
	}
	want := &Diff{
		Changes: []Change{
			{Field: "state", Before: "absent", After: "present"},
			{Field: "groups", After: "adm,sys"},
			{Field: "shell", After: "/bin/sh"},
			{Field: "password", After: "(hidden)"},
		},
		Command: "useradd --no-create-home --groups adm,sys --shell /bin/sh phenix-test-nobody",
	}
	if diff := cmp.Diff(want, d); diff != "" {
		t.Errorf("Check (-want +got):\n%s", diff)
	}
	if strings.Contains(d.Summary(), "$6$") {
		t.Errorf("the diff shows the password hash: %s", d.Summary())
	}
	g := &Group{Name: "phenix-test-group", GID: ptr(4242), Members: StringList{"root"}}
	d, err = g.Check(ctx, &Env{})
	if err != nil {
		t.Fatal(err)
	}
	want = &Diff{
		Changes: []Change{
			{Field: "state", Before: "absent", After: "present"},
			{Field: "gid", After: "4242"},
			{Field: "members", After: "root"},
		},
		Command: "groupadd --gid 4242 phenix-test-group && gpasswd -M root phenix-test-group",
	}
	if diff := cmp.Diff(want, d); diff != "" {
		t.Errorf("Check (-want +got):\n%s", diff)
	}
}
