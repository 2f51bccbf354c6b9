package promise

import (
	"bytes"
	"context"
	"fmt"
	"strings"
)

// Cron promises one entry in a user's crontab, or its absence.
//
//   - cron: rotate-uploads
//     user: www-data
//     minute: "*/15"
//     hour: 8-18
//     weekday: mon-fri
//     command: /usr/local/bin/rotate-uploads
//     env: {MAILTO: ops@example.com}
//
// The subject names the entry: phenix writes the line "# phenix: <name>"
// before it, then the env lines, then the entry, and finds it again by
// that marker. Every other line of the crontab is left as it is. The
// crontab is read with crontab -l -u USER and written with crontab -u USER
// -, so cron sees the change at once.
//
// Time fields take what cron(8) does: numbers, names (jan, mon), ranges,
// lists and steps (*/15, 8-18/2, 1,15); each defaults to "*". special
// (@reboot, @daily, …) replaces all five. Cron reads env lines as
// assignments for every entry below them, so they also apply to entries
// that follow in the file. In command, % means a newline to cron: write \%
// for a percent sign.
type Cron struct {
	Name    string            `yaml:"cron"`
	State   string            `yaml:"state"` // present (default) or absent
	User    string            `yaml:"user"`  // default root
	Command string            `yaml:"command"`
	Minute  StringList        `yaml:"minute"`
	Hour    StringList        `yaml:"hour"`
	Day     StringList        `yaml:"day"` // of the month
	Month   StringList        `yaml:"month"`
	Weekday StringList        `yaml:"weekday"`
	Special string            `yaml:"special"`
	Env     map[string]string `yaml:"env"`

	want []byte // the crontab Check computed, for Apply
}

var (
	_ Resource     = (*Cron)(nil)
	_ Validator    = (*Cron)(nil)
	_ AutoRequirer = (*Cron)(nil)
	_ Serializer   = (*Cron)(nil)
)

// cronMarker starts the lines phenix manages for one entry.
const cronMarker = "# phenix: "

// Validate checks the attributes.
func (c *Cron) Validate() []FieldError {
	errs := checkState(c.State, "present", "absent")
	if strings.ContainsAny(c.Name, "\n\r") || strings.TrimSpace(c.Name) != c.Name {
		errs = append(errs, Errf("cron", "the name must be one line without leading or trailing spaces"))
	}
	if c.User != "" {
		errs = append(errs, checkAccountName("user", c.User)...)
	}
	if c.State == "absent" {
		return errs
	}
	switch {
	case strings.TrimSpace(c.Command) == "":
		errs = append(errs, Errf("command", "expected the command cron runs"))
	case strings.ContainsAny(c.Command, "\n\r"):
		errs = append(errs, Errf("command", "must be a single line"))
	}
	errs = append(errs, checkEnv("env", c.Env)...)
	fields := c.timeFields()
	if c.Special != "" {
		if !isCronSpecial(c.Special) {
			errs = append(errs, Errf("special", "unknown %q: expected one of %s", c.Special, strings.Join(cronSpecials, ", ")))
		}
		for i, f := range fields {
			if f != nil {
				errs = append(errs, Errf(cronFields[i].name, "special %s replaces the time fields: remove %s", c.Special, cronFields[i].name))
			}
		}
		return errs
	}
	for i, f := range fields {
		if f == nil {
			continue
		}
		if err := cronFields[i].check(strings.Join(f, ",")); err != nil {
			errs = append(errs, Errf(cronFields[i].name, "%v", err))
		}
	}
	return errs
}

// timeFields returns minute, hour, day, month and weekday, nil when unset.
func (c *Cron) timeFields() [5]StringList {
	return [5]StringList{c.Minute, c.Hour, c.Day, c.Month, c.Weekday}
}

func (c *Cron) user() string {
	if c.User == "" {
		return "root"
	}
	return c.User
}

// AutoRequire names the promise of the crontab's user and the cron
// package, which provides crontab.
func (c *Cron) AutoRequire() []Ref {
	return []Ref{{Type: "user", Subject: c.user()}, {Type: "package", Subject: "cron"}}
}

// SerialKey makes the promises of one user's crontab run one at a time:
// each rewrites the whole crontab.
func (c *Cron) SerialKey() string { return "crontab:" + c.user() }

// entry returns the lines phenix manages for this entry.
func (c *Cron) entry() []string {
	lines := []string{cronMarker + c.Name}
	for _, k := range sortedKeys(c.Env) {
		lines = append(lines, k+"="+c.Env[k])
	}
	when := c.Special
	if when == "" {
		var f []string
		for _, l := range c.timeFields() {
			if l == nil {
				f = append(f, "*")
			} else {
				f = append(f, strings.Join(l, ","))
			}
		}
		when = strings.Join(f, " ")
	}
	return append(lines, when+" "+c.Command)
}

// Check compares the user's crontab with the promise. The Diff's content is
// a unified diff of the crontab.
func (c *Cron) Check(ctx context.Context, env *Env) (*Diff, error) {
	old, err := readCrontab(ctx, c.user())
	if err != nil {
		return nil, err
	}
	var entry []string
	if c.State != "absent" {
		entry = c.entry()
	}
	updated, found := editCrontab(old, c.Name, entry)
	d := &Diff{}
	if bytes.Equal(old, updated) {
		return d, nil
	}
	switch {
	case !found:
		d.Add("state", "absent", "present")
	case entry == nil:
		d.Add("state", "present", "absent")
	}
	d.Content = contentDiff(crontabPath(c.user()), old, updated)
	c.want = updated
	return d, nil
}

// Apply installs the crontab Check computed.
func (c *Cron) Apply(ctx context.Context, env *Env, d *Diff) error {
	return writeCrontab(ctx, c.user(), c.want)
}

// crontabPath is where Debian keeps a user's crontab; diffs name it.
func crontabPath(user string) string { return "/var/spool/cron/crontabs/" + user }

// editCrontab returns old with the block of the entry called name replaced
// by entry, or appended when there is none, or removed when entry is nil.
// found reports whether old had the block. A block is the marker line, the
// environment lines after it and the entry line that ends it.
func editCrontab(old []byte, name string, entry []string) (_ []byte, found bool) {
	text := string(old)
	var lines []string
	if text != "" {
		lines = strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	}
	marker := cronMarker + name
	var out []string
	for i := 0; i < len(lines); i++ {
		if strings.TrimRight(lines[i], " \t") != marker {
			out = append(out, lines[i])
			continue
		}
		// Skip the block; put the entry where the first one was.
		j := i + 1
		for j < len(lines) && isCronAssignment(lines[j]) {
			j++
		}
		if j < len(lines) && isCronEntry(lines[j]) {
			j++
		}
		if !found {
			out = append(out, entry...)
		}
		found = true
		i = j - 1
	}
	if !found {
		out = append(out, entry...)
	}
	if len(out) == 0 {
		return []byte{}, found
	}
	return []byte(strings.Join(out, "\n") + "\n"), found
}

// isCronAssignment reports whether line sets an environment variable.
func isCronAssignment(line string) bool {
	name, _, ok := strings.Cut(strings.TrimSpace(line), "=")
	return ok && envName().MatchString(strings.TrimSpace(name))
}

// isCronEntry reports whether line is a job: not blank, not a comment.
func isCronEntry(line string) bool {
	t := strings.TrimSpace(line)
	return t != "" && !strings.HasPrefix(t, "#")
}

// readCrontab returns the crontab of user: empty when the user has none,
// or does not exist yet (a user promise may create it).
func readCrontab(ctx context.Context, user string) ([]byte, error) {
	users, err := readPasswd("/etc/passwd")
	if err != nil {
		return nil, err
	}
	if _, ok := findPasswd(users, user); !ok {
		return []byte{}, nil
	}
	var out bytes.Buffer
	res, err := runCommand(ctx, cmdSpec{Args: []string{"crontab", "-l", "-u", user}, Env: []string{"LC_ALL=C"}, Stdout: &out})
	if err != nil {
		return nil, fmt.Errorf("crontab -l: %w", err)
	}
	if res.ExitCode != 0 {
		if bytes.Contains(res.Stderr, []byte("no crontab for")) {
			return []byte{}, nil
		}
		return nil, fmt.Errorf("crontab -l: %s", res.failure())
	}
	return out.Bytes(), nil
}

// writeCrontab installs content as the crontab of user, or removes the
// crontab when content is empty.
func writeCrontab(ctx context.Context, user string, content []byte) error {
	spec := cmdSpec{Args: []string{"crontab", "-u", user, "-"}, Env: []string{"LC_ALL=C"}, Stdin: bytes.NewReader(content)}
	if len(content) == 0 {
		spec = cmdSpec{Args: []string{"crontab", "-u", user, "-r"}, Env: []string{"LC_ALL=C"}}
	}
	res, err := runCommand(ctx, spec)
	if err == nil && res.ExitCode != 0 {
		err = fmt.Errorf("%s", res.failure())
	}
	if err != nil {
		return fmt.Errorf("%s: %w", shellJoin(spec.Args), err)
	}
	return nil
}
