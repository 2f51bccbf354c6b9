package supervisor

import (
	"bufio"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
)

// account is a user the child runs as. The account files are read directly
// (phenix is built without cgo, so getpwnam(3) and NSS are not used).
type account struct {
	name     string
	uid, gid uint32
	home     string
	groups   []uint32 // supplementary groups, from /etc/group
}

// lookupAccount finds user, a name or a uid, in the passwd file and its
// supplementary groups in the group file.
func lookupAccount(passwd, group, user string) (*account, error) {
	rows, err := readColonFile(passwd)
	if err != nil {
		return nil, err
	}
	var a *account
	for _, r := range rows {
		if len(r) < 7 || (r[0] != user && r[2] != user) {
			continue
		}
		uid, err1 := strconv.ParseUint(r[2], 10, 32)
		gid, err2 := strconv.ParseUint(r[3], 10, 32)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("%s: bad ids for %s", passwd, r[0])
		}
		a = &account{name: r[0], uid: uint32(uid), gid: uint32(gid), home: r[5]}
		break
	}
	if a == nil {
		return nil, fmt.Errorf("no user %q in %s", user, passwd)
	}
	rows, err = readColonFile(group)
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		if len(r) < 4 || !slices.Contains(strings.Split(r[3], ","), a.name) {
			continue
		}
		gid, err := strconv.ParseUint(r[2], 10, 32)
		if err == nil && uint32(gid) != a.gid && !slices.Contains(a.groups, uint32(gid)) {
			a.groups = append(a.groups, uint32(gid))
		}
	}
	return a, nil
}

// readColonFile reads a colon-separated database such as /etc/passwd.
func readColonFile(path string) ([][]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out [][]string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := sc.Text(); line != "" && !strings.HasPrefix(line, "#") {
			out = append(out, strings.Split(line, ":"))
		}
	}
	return out, sc.Err()
}
