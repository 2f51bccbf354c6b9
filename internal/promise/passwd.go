package promise

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// The user, group and exec promises read the account databases directly
// rather than through getpwnam(3): phenix is a static binary without cgo,
// and the files are the truth useradd and groupadd maintain. NSS sources
// such as LDAP are not seen.

// passwdEntry is one line of /etc/passwd.
type passwdEntry struct {
	name            string
	uid, gid        int
	gecos, home, sh string
}

// groupEntry is one line of /etc/group.
type groupEntry struct {
	name    string
	gid     int
	members []string
}

// readPasswd reads a passwd file; malformed lines are skipped.
func readPasswd(path string) ([]passwdEntry, error) {
	rows, err := readDB(path)
	if err != nil {
		return nil, err
	}
	out := make([]passwdEntry, 0, len(rows))
	for _, r := range rows {
		if len(r) < 7 {
			continue
		}
		uid, err1 := strconv.Atoi(r[2])
		gid, err2 := strconv.Atoi(r[3])
		if err1 != nil || err2 != nil {
			continue
		}
		out = append(out, passwdEntry{name: r[0], uid: uid, gid: gid, gecos: r[4], home: r[5], sh: r[6]})
	}
	return out, nil
}

// readGroups reads a group file; malformed lines are skipped.
func readGroups(path string) ([]groupEntry, error) {
	rows, err := readDB(path)
	if err != nil {
		return nil, err
	}
	out := make([]groupEntry, 0, len(rows))
	for _, r := range rows {
		if len(r) < 4 {
			continue
		}
		gid, err := strconv.Atoi(r[2])
		if err != nil {
			continue
		}
		out = append(out, groupEntry{name: r[0], gid: gid, members: splitList(r[3])})
	}
	return out, nil
}

// readShadowHash returns the password hash of name in a shadow file, and
// whether name has a line there.
func readShadowHash(path, name string) (string, bool, error) {
	rows, err := readDB(path)
	if err != nil {
		return "", false, err
	}
	for _, r := range rows {
		if r[0] == name && len(r) > 1 {
			return r[1], true, nil
		}
	}
	return "", false, nil
}

func findPasswd(db []passwdEntry, name string) (passwdEntry, bool) {
	for _, e := range db {
		if e.name == name {
			return e, true
		}
	}
	return passwdEntry{}, false
}

func findGroup(db []groupEntry, name string) (groupEntry, bool) {
	for _, g := range db {
		if g.name == name {
			return g, true
		}
	}
	return groupEntry{}, false
}

func groupName(db []groupEntry, gid int) string {
	for _, g := range db {
		if g.gid == gid {
			return g.name
		}
	}
	return strconv.Itoa(gid)
}

// memberOf lists, sorted, the groups whose member list names user.
func memberOf(db []groupEntry, user string) []string {
	var out []string
	for _, g := range db {
		if slices.Contains(g.members, user) {
			out = append(out, g.name)
		}
	}
	slices.Sort(out)
	return out
}

// splitList splits a comma-separated list, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// sortedSet returns the distinct items of l, sorted.
func sortedSet(l []string) []string {
	out := slices.Clone(l)
	slices.Sort(out)
	return slices.Compact(out)
}

// account is a user as the command runner needs it.
type account struct {
	name     string
	uid, gid int
	home     string
	groups   []uint32 // supplementary group ids
}

// lookupAccount finds a user by name or uid in /etc/passwd, and its
// supplementary groups in /etc/group.
func lookupAccount(user string) (*account, error) {
	db, err := readPasswd("/etc/passwd")
	if err != nil {
		return nil, err
	}
	uid, numeric := strconv.Atoi(user)
	var e passwdEntry
	found := false
	for _, p := range db {
		if p.name == user || (numeric == nil && p.uid == uid) {
			e, found = p, true
			break
		}
	}
	if !found {
		return nil, fmt.Errorf("no user %q in /etc/passwd", user)
	}
	a := &account{name: e.name, uid: e.uid, gid: e.gid, home: e.home}
	groups, err := readGroups("/etc/group")
	if err != nil {
		return nil, err
	}
	for _, g := range groups {
		if g.gid != e.gid && slices.Contains(g.members, e.name) && !slices.Contains(a.groups, uint32(g.gid)) {
			a.groups = append(a.groups, uint32(g.gid))
		}
	}
	return a, nil
}

// credential is what the child process runs as.
func (a *account) credential() *syscall.Credential {
	return &syscall.Credential{Uid: uint32(a.uid), Gid: uint32(a.gid), Groups: append([]uint32{}, a.groups...)}
}
