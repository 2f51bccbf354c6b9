package promise

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/phenixhq/phenix/internal/supervisor"
)

// Defaults of the supervisor provider's attributes.
const (
	defaultReloadSignal = "HUP"
	defaultStopSignal   = "TERM"
	defaultStopTimeout  = 10 * time.Second
)

// supervisedService keeps a service with `phenix supervise`. The service
// runs when its supervisor runs with the promised spec: the supervisor's
// pid file names a live `phenix supervise --state FILE` for this service,
// and FILE holds the hash of the spec the promise asks for.
type supervisedService struct {
	dirs supervisor.Dirs
	exe  string // the phenix binary

	// What check found, for apply.
	stored *supervisor.State // nil when there is no state file
	pid    int               // the live supervisor, or 0
}

// spec is the supervisor spec the promise asks for, defaults filled in.
func (p *supervisedService) spec(r *Service) supervisor.Spec {
	s := supervisor.Spec{
		Name:         r.Name,
		Env:          r.Env,
		User:         r.User,
		Cwd:          r.Cwd,
		Log:          r.Log,
		Pidfile:      r.Pidfile,
		ReloadSignal: r.ReloadSignal,
		StopSignal:   r.StopSignal,
		StopTimeout:  defaultStopTimeout,
	}
	if r.Command != nil {
		s.Command = r.Command.argv()
	}
	if len(s.Env) == 0 {
		s.Env = nil // no env and env: {} hash alike
	}
	if s.Log == "" {
		s.Log = p.dirs.LogFile(r.Name)
	}
	if s.Pidfile == "" {
		s.Pidfile = p.dirs.Pidfile(r.Name)
	}
	if s.ReloadSignal == "" {
		s.ReloadSignal = defaultReloadSignal
	}
	if s.StopSignal == "" {
		s.StopSignal = defaultStopSignal
	}
	if r.StopTimeout != nil {
		s.StopTimeout = r.StopTimeout.Duration
	}
	return s
}

func (p *supervisedService) check(ctx context.Context, r *Service) (*Diff, error) {
	statePath := p.dirs.StateFile(r.Name)
	st, err := supervisor.ReadState(statePath)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	p.stored = st
	p.pid = supervisor.Pid(p.dirs.SupervisorPidfile(r.Name), statePath)
	want := p.spec(r)
	specChanged := st == nil || st.Hash != want.Hash()
	d := &Diff{}
	switch {
	case r.state() == "running" && p.pid == 0:
		d.Add("state", "stopped", "running")
		r.willStart = true
	case r.state() == "running" && specChanged:
		d.Add("spec", storedHash(st), "sha256:"+want.Hash()[:12]+specChanges(st, want))
		r.willStart = true
	case r.state() == "stopped" && p.pid != 0:
		d.Add("state", "running", "stopped")
	}
	// A stopped service keeps the promised spec in its state file too,
	// for `phenix supervise --boot`.
	if r.state() == "stopped" && st != nil && specChanged {
		d.Add("spec", storedHash(st), "sha256:"+want.Hash()[:12]+specChanges(st, want))
	}
	if r.Enabled != nil {
		enabled := st != nil && st.Enabled
		if enabled != *r.Enabled {
			d.Add("enabled", strconv.FormatBool(enabled), strconv.FormatBool(*r.Enabled))
		}
	}
	return d, nil
}

// storedHash shows the hash of a stored spec, shortened; "" for none.
func storedHash(st *supervisor.State) string {
	if st == nil {
		return ""
	}
	return "sha256:" + st.Hash[:min(12, len(st.Hash))]
}

// specChanges names the attributes that differ between the stored spec
// and the wanted one, as " (command, env)"; values are not shown, since
// env may hold secrets.
func specChanges(st *supervisor.State, want supervisor.Spec) string {
	if st == nil {
		return ""
	}
	old := st.Spec
	var names []string
	for _, c := range []struct {
		name string
		same bool
	}{
		{"command", slices.Equal(old.Command, want.Command)},
		{"env", maps.Equal(old.Env, want.Env)},
		{"user", old.User == want.User},
		{"cwd", old.Cwd == want.Cwd},
		{"log", old.Log == want.Log},
		{"pidfile", old.Pidfile == want.Pidfile},
		{"reload_signal", old.ReloadSignal == want.ReloadSignal},
		{"stop_signal", old.StopSignal == want.StopSignal},
		{"stop_timeout", old.StopTimeout == want.StopTimeout},
	} {
		if !c.same {
			names = append(names, c.name)
		}
	}
	if len(names) == 0 {
		return ""
	}
	return " (" + strings.Join(names, ", ") + ")"
}

func (p *supervisedService) apply(ctx context.Context, r *Service, d *Diff) error {
	statePath := p.dirs.StateFile(r.Name)
	pidfile := p.dirs.SupervisorPidfile(r.Name)
	enabled := p.stored != nil && p.stored.Enabled
	if r.Enabled != nil {
		enabled = *r.Enabled
	}
	st := &supervisor.State{Spec: p.spec(r), Enabled: enabled, SupervisorPidfile: pidfile}
	if r.state() == "stopped" {
		if d.Has("state") {
			if err := supervisor.Stop(ctx, pidfile, statePath); err != nil {
				return err
			}
		}
		if d.Has("spec") || d.Has("enabled") {
			return supervisor.WriteState(statePath, st)
		}
		return nil
	}
	if r.User != "" {
		if _, err := lookupAccount(r.User); err != nil {
			return err
		}
	}
	restart := d.Has("state") || d.Has("spec")
	if restart && p.pid != 0 {
		// The old supervisor stops its child the way its own spec says;
		// only then does the state file take the new spec.
		if err := supervisor.Stop(ctx, pidfile, statePath); err != nil {
			return err
		}
	}
	if err := supervisor.WriteState(statePath, st); err != nil {
		return err
	}
	if !restart {
		return nil
	}
	// `phenix supervise --detach` starts the supervisor in its own session
	// and exits once the command runs, so that the supervisor is not a
	// child of this process (the agent lives long; phenix apply does not).
	res, err := runCommand(ctx, cmdSpec{Args: []string{p.exe, "supervise", "--detach", "--state", statePath}})
	if err != nil {
		return fmt.Errorf("start supervisor: %w", err)
	}
	if res.ExitCode != 0 {
		return fmt.Errorf("start %s: %s", r.Name, strings.TrimPrefix(res.outputTail(), "phenix: "))
	}
	r.started = true
	return nil
}

// refresh asks the supervisor to restart the child, and waits for the new
// one, or to reload it.
func (p *supervisedService) refresh(ctx context.Context, r *Service) (string, error) {
	statePath := p.dirs.StateFile(r.Name)
	pidfile := p.dirs.SupervisorPidfile(r.Name)
	spec := p.spec(r)
	if r.reload() {
		if err := supervisor.Signal(pidfile, statePath, syscall.SIGUSR1); err != nil {
			return "", err
		}
		return "reloaded", nil
	}
	old := supervisor.ChildPid(spec.Pidfile)
	if err := supervisor.Signal(pidfile, statePath, syscall.SIGHUP); err != nil {
		return "", err
	}
	if _, err := supervisor.WaitChild(ctx, spec.Pidfile, old, spec.StopTimeout+10*time.Second); err != nil {
		return "", fmt.Errorf("restart %s: %w", r.Name, err)
	}
	return "restarted", nil
}
