package promise

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// User promises a local user account, or its absence.
//
//   - user: deploy
//     uid: 1500
//     group: deploy
//     groups: [www-data]
//     home: /srv/deploy
//     shell: /bin/bash
//     password: "$6$…"   # a crypt(3) hash, never clear text
//
// Check reads /etc/passwd, /etc/group and /etc/shadow; Apply runs useradd,
// usermod, userdel and, for the password, chpasswd -e (so that the hash
// never appears on a command line). Attributes left out are not managed.
// system and manage_home only matter when the account is created: the home
// directory is created then (unless manage_home is false), is not moved
// when home changes, and is kept when the account is removed.
type User struct {
	Name       string     `yaml:"user"`
	State      string     `yaml:"state"` // present (default) or absent
	UID        *int       `yaml:"uid"`
	GID        *int       `yaml:"gid"`    // primary group by number
	Group      string     `yaml:"group"`  // primary group by name
	Groups     StringList `yaml:"groups"` // supplementary groups; [] for none
	Append     bool       `yaml:"append"` // only add the groups, keep others
	Home       string     `yaml:"home"`
	Shell      string     `yaml:"shell"`
	Comment    *string    `yaml:"comment"` // the GECOS field
	System     bool       `yaml:"system"`
	ManageHome *bool      `yaml:"manage_home"` // create the home on creation (default true)
	Password   *string    `yaml:"password"`    // a crypt(3) hash

	cmd []string // the useradd or usermod command Check planned
}

var (
	_ Resource     = (*User)(nil)
	_ Validator    = (*User)(nil)
	_ AutoRequirer = (*User)(nil)
	_ Serializer   = (*User)(nil)
)

// hiddenValue replaces secrets in a Diff.
const hiddenValue = "(hidden)"

// accountName is a user or group name useradd and groupadd accept.
var accountName = lazyRegexp(`^[A-Za-z_][A-Za-z0-9_.-]*\$?$`)

// cryptHash is a crypt(3) hash ("$id$…", traditional DES) or a locked
// account marker ("!…", "*").
var cryptHash = lazyRegexp(`^(\$[^:\s]+|[!*][^:\s]*|[./0-9A-Za-z]{13}|)$`)

// Validate checks the attributes.
func (u *User) Validate() []FieldError {
	errs := checkState(u.State, "present", "absent")
	errs = append(errs, checkAccountName("user", u.Name)...)
	if u.GID != nil && u.Group != "" {
		errs = append(errs, Errf("gid", "give the primary group by gid or by group, not both"))
	}
	if u.Group != "" {
		errs = append(errs, checkAccountName("group", u.Group)...)
	}
	for _, g := range u.Groups {
		errs = append(errs, checkAccountName("groups", g)...)
	}
	if u.Append && u.Groups == nil {
		errs = append(errs, Errf("append", "append adds groups: list them in groups"))
	}
	for _, id := range []struct {
		field string
		v     *int
	}{{"uid", u.UID}, {"gid", u.GID}} {
		if id.v != nil && (*id.v < 0 || int64(*id.v) > 1<<32-2) {
			errs = append(errs, Errf(id.field, "%d is out of range", *id.v))
		}
	}
	if u.Home != "" {
		errs = append(errs, checkAbsPath("home", u.Home)...)
	}
	if u.Shell != "" && !strings.HasPrefix(u.Shell, "/") {
		errs = append(errs, Errf("shell", "expected an absolute path, got %q", u.Shell))
	}
	for _, f := range [][2]string{{"home", u.Home}, {"shell", u.Shell}, {"comment", deref(u.Comment)}} {
		if strings.ContainsAny(f[1], ":\n") {
			errs = append(errs, Errf(f[0], "must not contain a colon or a newline"))
		}
	}
	if u.Password != nil && !cryptHash().MatchString(*u.Password) {
		errs = append(errs, Errf("password", "expected a crypt(3) hash such as $6$salt$… (see mkpasswd), never a clear-text password"))
	}
	if u.State == "absent" && (u.UID != nil || u.GID != nil || u.Group != "" || u.Groups != nil || u.Home != "" || u.Shell != "" || u.Comment != nil || u.Password != nil) {
		errs = append(errs, Errf("state", "an absent user takes no other attribute"))
	}
	return errs
}

func checkAccountName(field, name string) []FieldError {
	if len(name) > 32 || !accountName().MatchString(name) || isNumber(name) {
		return []FieldError{Errf(field, "bad name %q: expected letters, digits, _ . - (at most 32, not only digits)", name)}
	}
	return nil
}

func isNumber(s string) bool {
	_, err := strconv.Atoi(s)
	return err == nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// SerialKey makes user and group promises run one at a time: the shadow
// tools lock the account databases.
func (u *User) SerialKey() string { return "passwd" }

// AutoRequire names the group promises of the primary and supplementary
// groups. Without gid or group, the primary group is the one named like
// the user, which useradd creates unless a group promise does.
func (u *User) AutoRequire() []Ref {
	var refs []Ref
	switch {
	case u.State == "absent":
		return nil
	case u.Group != "":
		refs = append(refs, Ref{Type: "group", Subject: u.Group})
	case u.GID == nil:
		refs = append(refs, Ref{Type: "group", Subject: u.Name})
	}
	for _, g := range u.Groups {
		refs = append(refs, Ref{Type: "group", Subject: g})
	}
	return refs
}

// userState is an account as the databases describe it.
type userState struct {
	exists bool
	pw     passwdEntry
	group  string   // primary group name, or its number
	groups []string // groups listing the user as a member, sorted
	hash   string
	// ownGroup is true when a group named like the user exists.
	ownGroup bool
}

func (u *User) read() (userState, error) {
	var s userState
	users, err := readPasswd("/etc/passwd")
	if err != nil {
		return s, err
	}
	groups, err := readGroups("/etc/group")
	if err != nil {
		return s, err
	}
	_, s.ownGroup = findGroup(groups, u.Name)
	s.pw, s.exists = findPasswd(users, u.Name)
	if !s.exists {
		return s, nil
	}
	s.group = groupName(groups, s.pw.gid)
	s.groups = memberOf(groups, u.Name)
	if u.Password != nil {
		if s.hash, _, err = readShadowHash("/etc/shadow", u.Name); err != nil {
			return s, err
		}
	}
	return s, nil
}

// Check compares the account with the promise.
func (u *User) Check(ctx context.Context, env *Env) (*Diff, error) {
	u.cmd = nil
	s, err := u.read()
	if err != nil {
		return nil, err
	}
	d := &Diff{}
	if u.State == "absent" {
		if s.exists {
			d.Add("state", "present", "absent")
			d.Command = shellJoin([]string{"userdel", u.Name})
		}
		return d, nil
	}
	if !s.exists {
		d.Add("state", "absent", "present")
	}
	if u.UID != nil && (!s.exists || s.pw.uid != *u.UID) {
		d.Add("uid", ifExists(s.exists, strconv.Itoa(s.pw.uid)), strconv.Itoa(*u.UID))
	}
	if u.GID != nil && (!s.exists || s.pw.gid != *u.GID) {
		d.Add("gid", ifExists(s.exists, strconv.Itoa(s.pw.gid)), strconv.Itoa(*u.GID))
	}
	if u.Group != "" && (!s.exists || s.group != u.Group) {
		d.Add("group", s.group, u.Group)
	}
	if u.Groups != nil {
		want := sortedSet(u.Groups)
		if u.Append {
			want = sortedSet(append(want, s.groups...))
		}
		if !slices.Equal(want, s.groups) && (s.exists || len(want) > 0) {
			d.Add("groups", strings.Join(s.groups, ","), strings.Join(want, ","))
		}
	}
	if u.Home != "" && (!s.exists || s.pw.home != u.Home) {
		d.Add("home", s.pw.home, u.Home)
	}
	if u.Shell != "" && (!s.exists || s.pw.sh != u.Shell) {
		d.Add("shell", s.pw.sh, u.Shell)
	}
	if u.Comment != nil && (!s.exists || s.pw.gecos != *u.Comment) {
		d.Add("comment", s.pw.gecos, *u.Comment)
	}
	if u.Password != nil && (!s.exists || s.hash != *u.Password) {
		d.Add("password", ifExists(s.exists, hiddenValue), hiddenValue)
	}
	u.cmd = u.command(d, s)
	if u.cmd != nil {
		d.Command = shellJoin(u.cmd)
	}
	return d, nil
}

func ifExists(exists bool, v string) string {
	if exists {
		return v
	}
	return ""
}

// command is the useradd or usermod command for the changes in d, nil when
// only the password changes on an existing account. useradd fails to
// create a group named like the user when one exists: that group is then
// the primary group, unless the promise names one.
func (u *User) command(d *Diff, s userState) []string {
	exists := s.exists
	var argv []string
	add := func(flag string, v string) { argv = append(argv, flag, v) }
	if !exists {
		argv = []string{"useradd"}
		if u.System {
			argv = append(argv, "--system")
		}
		if u.ManageHome == nil || *u.ManageHome {
			argv = append(argv, "--create-home")
		} else {
			argv = append(argv, "--no-create-home")
		}
	} else {
		argv = []string{"usermod"}
	}
	base := len(argv)
	for _, c := range d.Changes {
		switch c.Field {
		case "uid":
			add("--uid", c.After)
		case "gid", "group":
			add("--gid", c.After)
		case "groups":
			if u.Append && exists {
				argv = append(argv, "--append")
				add("--groups", strings.Join(u.Groups, ","))
			} else {
				add("--groups", c.After)
			}
		case "home":
			add("--home-dir", c.After)
		case "shell":
			add("--shell", c.After)
		case "comment":
			add("--comment", c.After)
		}
	}
	if exists && len(argv) == base {
		return nil
	}
	if !exists && s.ownGroup && u.GID == nil && u.Group == "" {
		add("--gid", u.Name)
	}
	return append(argv, u.Name)
}

// Apply creates, changes or removes the account.
func (u *User) Apply(ctx context.Context, env *Env, d *Diff) error {
	if u.State == "absent" {
		_, err := runAccountCommand(ctx, "userdel", u.Name)
		return err
	}
	if u.cmd != nil {
		if _, err := runAccountCommand(ctx, u.cmd...); err != nil {
			return err
		}
	}
	if d.Has("password") {
		res, err := runCommand(ctx, cmdSpec{
			Args:  []string{"chpasswd", "--encrypted"},
			Stdin: strings.NewReader(u.Name + ":" + *u.Password + "\n"),
		})
		if err == nil && res.ExitCode != 0 {
			err = fmt.Errorf("%s", res.failure())
		}
		if err != nil {
			return fmt.Errorf("set password: chpasswd: %w", err)
		}
	}
	return nil
}

// runAccountCommand runs one of the shadow tools (useradd, groupmod, …)
// and quotes its complaint on failure.
func runAccountCommand(ctx context.Context, argv ...string) (cmdResult, error) {
	res, err := runCommand(ctx, cmdSpec{Args: argv, Env: []string{"LC_ALL=C"}})
	if err == nil && (res.ExitCode != 0 || res.Signal != 0) {
		err = fmt.Errorf("%s", res.failure())
	}
	if err != nil {
		return res, fmt.Errorf("%s: %w", argv[0], err)
	}
	return res, nil
}
