package promise

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
)

// lookupID resolves a user (db "passwd") or group (db "group") name to its
// numeric id by reading the host's database under env.Root, so that --root
// builds resolve names the way the target system will. A number is taken
// as it is.
func lookupID(env *Env, db, name string) (int, error) {
	if n, err := strconv.Atoi(name); err == nil {
		return n, nil
	}
	ents, err := rootDB(env, db)
	if err != nil {
		return 0, err
	}
	for _, e := range ents {
		if e[0] == name && len(e) > 2 {
			id, err := strconv.Atoi(e[2])
			if err != nil {
				return 0, fmt.Errorf("/etc/%s: bad id for %s", db, name)
			}
			return id, nil
		}
	}
	what := "user"
	if db == "group" {
		what = "group"
	}
	return 0, fmt.Errorf("no %s %q in /etc/%s", what, name, db)
}

// nameOf returns the name for a numeric id in db, or the number itself.
func nameOf(env *Env, db string, id int) string {
	ents, err := rootDB(env, db)
	if err == nil {
		for _, e := range ents {
			if len(e) > 2 && e[2] == strconv.Itoa(id) {
				return e[0]
			}
		}
	}
	return strconv.Itoa(id)
}

// rootDB reads /etc/passwd or /etc/group of the host being converged: the
// one under --root when it has one, else the running system's, so that an
// empty scratch root still knows root and the system accounts.
func rootDB(env *Env, db string) ([][]string, error) {
	ents, err := readDB(env.Path("/etc/" + db))
	if err != nil && env.Rooted() && errors.Is(err, fs.ErrNotExist) {
		return readDB("/etc/" + db)
	}
	return ents, err
}

// readDB reads a colon-separated database such as /etc/passwd.
func readDB(path string) ([][]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	var out [][]string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		out = append(out, strings.Split(line, ":"))
	}
	return out, sc.Err()
}

// wantOwner resolves the owner and group names of a promise; an empty name
// leaves that side as it is (-1).
func wantOwner(env *Env, user, group string) (owner, error) {
	o := keepOwner
	if user != "" {
		id, err := lookupID(env, "passwd", user)
		if err != nil {
			return o, err
		}
		o.uid = id
	}
	if group != "" {
		id, err := lookupID(env, "group", group)
		if err != nil {
			return o, err
		}
		o.gid = id
	}
	return o, nil
}
