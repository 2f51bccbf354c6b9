package promise

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"sort"
	"strings"
	"time"
)

// Exec promises that a command has run: when its guards say it must, or
// when a promise it listens to changed.
//
//   - exec: /usr/local/bin/rebuild-index
//     creates: /var/lib/site/index.db
//     user: www-data
//     timeout: 10m
//
// The subject is a script run with /bin/sh -c, unless args is given: then
// args is the program and its arguments, run without a shell, and the
// subject only names the promise.
//
// Guards decide whether the command must run: creates (skip when the path
// exists), unless (skip when that command exits 0) and onlyif (run only
// when that command exits 0). Guard commands run with the promise's user,
// cwd, env and timeout, and they also run in a dry run, to tell whether
// the command would run: they must not change anything.
//
// With refresh_only the command runs only when a promise that notifies
// this one changed (and its guards allow it). A command without
// refresh_only that is also notified runs at most once per apply.
type Exec struct {
	Command     string            `yaml:"exec"`
	Args        []string          `yaml:"args"`
	Cwd         string            `yaml:"cwd"`
	Env         map[string]string `yaml:"env"`
	User        string            `yaml:"user"`    // run as this user (name or uid)
	Timeout     Duration          `yaml:"timeout"` // default 5m
	Creates     string            `yaml:"creates"`
	Unless      string            `yaml:"unless"`
	OnlyIf      string            `yaml:"onlyif"`
	RefreshOnly bool              `yaml:"refresh_only"`
	Returns     []int             `yaml:"returns"` // accepted exit codes, default [0]

	// planned is set when Check found that the command must run, and ran
	// when Apply or Refresh ran it, so that a notification does not run it
	// twice. Check resets both: the engine calls it first in every run.
	planned, ran bool
}

var (
	_ Resource     = (*Exec)(nil)
	_ Validator    = (*Exec)(nil)
	_ Refresher    = (*Exec)(nil)
	_ AutoRequirer = (*Exec)(nil)
)

// defaultExecTimeout bounds a command, and each of its guards, when the
// promise gives no timeout.
const defaultExecTimeout = 5 * time.Minute

var envName = lazyRegexp(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Validate checks the attributes.
func (e *Exec) Validate() []FieldError {
	var errs []FieldError
	if strings.TrimSpace(e.Command) == "" {
		errs = append(errs, Errf("exec", "expected a command"))
	}
	if e.Args != nil && (len(e.Args) == 0 || e.Args[0] == "") {
		errs = append(errs, Errf("args", "expected the program and its arguments, for example [make, install]"))
	}
	if e.Cwd != "" {
		errs = append(errs, checkAbsPath("cwd", e.Cwd)...)
	}
	if e.Creates != "" {
		errs = append(errs, checkAbsPath("creates", e.Creates)...)
	}
	errs = append(errs, checkEnv("env", e.Env)...)
	if e.Timeout.Duration < 0 {
		errs = append(errs, Errf("timeout", "expected a positive duration, got %v", e.Timeout.Duration))
	}
	for _, c := range e.Returns {
		if c < 0 || c > 255 {
			errs = append(errs, Errf("returns", "exit code %d is out of range 0-255", c))
		}
	}
	return errs
}

// checkEnv checks that env holds variable names and single-line values.
func checkEnv(field string, env map[string]string) []FieldError {
	var errs []FieldError
	for _, k := range sortedKeys(env) {
		if !envName().MatchString(k) {
			errs = append(errs, Errf(field, "bad variable name %q: expected letters, digits and _", k))
		}
		if strings.ContainsAny(env[k], "\n\x00") {
			errs = append(errs, Errf(field, "%s: the value must be a single line", k))
		}
	}
	return errs
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// AutoRequire names the user promise of the user the command runs as and
// the directory promise of its working directory.
func (e *Exec) AutoRequire() []Ref { return processRefs(e.User, e.Cwd) }

// processRefs names the user promise a process runs as and the directory
// promise of its working directory, for the types that start processes.
func processRefs(user, cwd string) []Ref {
	var refs []Ref
	if user != "" {
		refs = append(refs, Ref{Type: "user", Subject: user})
	}
	if cwd != "" {
		refs = append(refs, Ref{Type: "directory", Subject: cwd})
	}
	return refs
}

// Check runs the guards. The Diff holds the command when it must run; a
// refresh-only command never has a Diff, it waits for a notification.
func (e *Exec) Check(ctx context.Context, env *Env) (*Diff, error) {
	e.planned, e.ran = false, false
	if e.RefreshOnly {
		return &Diff{}, nil
	}
	run, err := e.guardsAllow(ctx)
	if err != nil || !run {
		return &Diff{}, err
	}
	e.planned = true
	return &Diff{Command: e.display()}, nil
}

// Apply runs the command.
func (e *Exec) Apply(ctx context.Context, env *Env, d *Diff) error {
	e.ran = true
	return e.run(ctx)
}

// Refresh runs the command on a notification, unless Apply already ran it
// in this run or a guard says no. It returns "ran" when it did.
func (e *Exec) Refresh(ctx context.Context, env *Env) (string, error) {
	if e.ran {
		return "", nil
	}
	run, err := e.guardsAllow(ctx)
	if err != nil || !run {
		return "", err
	}
	e.ran = true
	if err := e.run(ctx); err != nil {
		return "", err
	}
	return "ran", nil
}

// RefreshPlan says what a notification would do in a dry run: nothing more
// when Check already planned to run the command. Guards are evaluated when
// the notification really arrives, so they are not consulted here.
func (e *Exec) RefreshPlan() string {
	if e.planned {
		return ""
	}
	return "would run " + e.display()
}

// display is the command as the user reads it in a diff.
func (e *Exec) display() string {
	if len(e.Args) > 0 {
		return shellJoin(e.Args)
	}
	return e.Command
}

func (e *Exec) timeout() time.Duration {
	if e.Timeout.Duration > 0 {
		return e.Timeout.Duration
	}
	return defaultExecTimeout
}

// spec builds the command for the promise's user, cwd, env and timeout.
func (e *Exec) spec() cmdSpec {
	s := cmdSpec{Dir: e.Cwd, User: e.User, Timeout: e.timeout()}
	for _, k := range sortedKeys(e.Env) {
		s.Env = append(s.Env, k+"="+e.Env[k])
	}
	return s
}

// guardsAllow reports whether creates, unless and onlyif let the command
// run.
func (e *Exec) guardsAllow(ctx context.Context) (bool, error) {
	if e.Creates != "" {
		_, err := os.Lstat(e.Creates)
		if err == nil {
			return false, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return false, fmt.Errorf("creates: %w", err)
		}
	}
	if e.Unless != "" {
		ok, err := e.guard(ctx, "unless", e.Unless)
		if err != nil || ok {
			return false, err
		}
	}
	if e.OnlyIf != "" {
		ok, err := e.guard(ctx, "onlyif", e.OnlyIf)
		if err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}

// guard runs a guard command and reports whether it exited 0.
func (e *Exec) guard(ctx context.Context, name, script string) (bool, error) {
	s := e.spec()
	s.Shell = script
	res, err := runCommand(ctx, s)
	if err != nil {
		return false, fmt.Errorf("%s %q: %w", name, script, err)
	}
	return res.ExitCode == 0 && res.Signal == 0, nil
}

// run runs the command and judges its exit status.
func (e *Exec) run(ctx context.Context) error {
	s := e.spec()
	if len(e.Args) > 0 {
		s.Args = e.Args
	} else {
		s.Shell = e.Command
	}
	res, err := runCommand(ctx, s)
	if err != nil {
		if tail := res.outputTail(); tail != "" {
			return fmt.Errorf("%w: %s", err, tail)
		}
		return err
	}
	returns := e.Returns
	if len(returns) == 0 {
		returns = []int{0}
	}
	if res.Signal != 0 || !slices.Contains(returns, res.ExitCode) {
		msg := res.failure()
		if len(e.Returns) > 0 {
			msg = fmt.Sprintf("%s (expected %s)", msg, joinInts(e.Returns))
		}
		return errors.New(msg)
	}
	return nil
}

func joinInts(l []int) string {
	s := make([]string, len(l))
	for i, n := range l {
		s[i] = fmt.Sprint(n)
	}
	return strings.Join(s, ", ")
}
