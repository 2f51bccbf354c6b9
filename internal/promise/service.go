package promise

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/phenixhq/phenix/internal/supervisor"
)

// Service promises that a service is running or stopped, and whether it
// starts at boot. On hosts with systemd it drives systemctl; elsewhere
// (containers) phenix keeps the process itself, with `phenix supervise`
// (see package supervisor), from the command the promise gives.
//
//   - service: nginx
//     enabled: true
//
//   - service: web
//     command: [/usr/local/bin/web, --port, "8080"]
//     user: www-data
//     env: {GOMAXPROCS: "2"}
//
// When a promise that notifies it changed, the service restarts (or
// reloads, with on_notify: reload), unless Apply has just started it.
type Service struct {
	Name     string `yaml:"service"`
	State    string `yaml:"state"`     // running (default) or stopped
	Enabled  *bool  `yaml:"enabled"`   // started at boot; unset leaves it as it is
	OnNotify string `yaml:"on_notify"` // restart (default) or reload
	Provider string `yaml:"provider"`  // systemd or supervisor; default: systemd when it runs

	// Attributes of the supervisor provider only.
	Command      *ServiceCommand   `yaml:"command"`       // required by it
	Env          map[string]string `yaml:"env"`           // added to a clean environment
	User         string            `yaml:"user"`          // run as this user
	Cwd          string            `yaml:"cwd"`           // working directory (default /)
	Log          string            `yaml:"log"`           // default /var/log/phenix/NAME.log
	Pidfile      string            `yaml:"pidfile"`       // default /run/phenix/NAME.pid
	ReloadSignal string            `yaml:"reload_signal"` // default HUP
	StopSignal   string            `yaml:"stop_signal"`   // default TERM
	StopTimeout  *Duration         `yaml:"stop_timeout"`  // default 10s, then KILL

	host serviceHost     // where it acts; the zero value is the real host
	prov serviceProvider // chosen by Check
	// started is set by Apply when it started the service in this run, and
	// willStart by Check when Apply would: a notification then has nothing
	// left to do.
	started, willStart bool
}

var (
	_ Resource     = (*Service)(nil)
	_ Validator    = (*Service)(nil)
	_ Refresher    = (*Service)(nil)
	_ AutoRequirer = (*Service)(nil)
)

// Service providers.
const (
	providerSystemd    = "systemd"
	providerSupervisor = "supervisor"
)

// serviceProvider is how a service promise acts on the host. Check calls
// check, the engine's Apply calls apply with the Diff check returned, and
// a notification calls refresh; one run calls them in that order, never
// concurrently.
type serviceProvider interface {
	check(ctx context.Context, r *Service) (*Diff, error)
	apply(ctx context.Context, r *Service, d *Diff) error
	// refresh restarts or reloads the running service and says which.
	refresh(ctx context.Context, r *Service) (string, error)
}

// serviceHost is where a service promise acts. The zero value is the real
// host; tests point it at temporary directories and fakes.
type serviceHost struct {
	// systemdDir exists when systemd is the init system; "" means
	// /run/systemd/system.
	systemdDir string
	// dirs holds the supervisor's files; the zero value means
	// supervisor.DefaultDirs().
	dirs supervisor.Dirs
	// exe is the phenix binary that runs `phenix supervise`; "" means this
	// process's executable.
	exe string
	// systemctl runs systemctl with args; nil runs the real one.
	systemctl func(ctx context.Context, args ...string) (cmdResult, error)
}

// ServiceCommand is the command of a supervised service: a list is run as
// it is, a string with /bin/sh -c.
type ServiceCommand struct {
	Args  []string
	Shell string
}

// UnmarshalYAML accepts a string or a list of strings.
func (c *ServiceCommand) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		c.Shell = n.Value
		return nil
	case yaml.SequenceNode:
		var l StringList
		if err := l.UnmarshalYAML(n); err != nil {
			return err
		}
		c.Args = l
		return nil
	}
	return fmt.Errorf("expected a command: a string run with /bin/sh -c, or a list [program, arg, …]")
}

// argv is the command line to run.
func (c *ServiceCommand) argv() []string {
	if c.Shell != "" {
		return []string{"/bin/sh", "-c", c.Shell}
	}
	return append([]string(nil), c.Args...)
}

// Validate checks the attributes.
func (r *Service) Validate() []FieldError {
	errs := checkState(r.State, "running", "stopped")
	if r.Name == "" || strings.ContainsAny(r.Name, "/ \t\n") || r.Name[0] == '-' {
		errs = append(errs, Errf("service", "bad service name %q: expected a unit or service name such as nginx", r.Name))
	}
	switch r.OnNotify {
	case "", "restart", "reload":
	default:
		errs = append(errs, Errf("on_notify", "unknown value %q: expected restart or reload", r.OnNotify))
	}
	switch r.Provider {
	case "", providerSystemd, providerSupervisor:
	default:
		msg := fmt.Sprintf("unknown provider %q: expected systemd or supervisor", r.Provider)
		if s := Suggest(r.Provider, []string{providerSystemd, providerSupervisor}); s != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", s)
		}
		errs = append(errs, Errf("provider", "%s", msg))
	}
	attrs := r.supervisorAttrs()
	if r.Provider == providerSystemd {
		for _, a := range attrs {
			errs = append(errs, Errf(a, "only for provider supervisor; systemd reads the unit file"))
		}
		return errs
	}
	if (r.Provider == providerSupervisor || r.Command != nil) && !supervisor.ValidName(r.Name) {
		errs = append(errs, Errf("service", "bad service name %q for the supervisor: use letters, digits and _.@-", r.Name))
	}
	if r.Provider == providerSupervisor && r.Command == nil {
		errs = append(errs, Errf("command", "required by provider supervisor: the program to run, as a list or a shell command"))
	}
	return append(errs, r.validateSupervisor()...)
}

// validateSupervisor checks the attributes of the supervisor provider.
func (r *Service) validateSupervisor() []FieldError {
	var errs []FieldError
	if c := r.Command; c != nil {
		if c.Shell == "" && (len(c.Args) == 0 || c.Args[0] == "") {
			errs = append(errs, Errf("command", "empty command"))
		}
	}
	for k := range r.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			errs = append(errs, Errf("env", "bad variable name %q", k))
		}
	}
	for field, p := range map[string]string{"cwd": r.Cwd, "log": r.Log, "pidfile": r.Pidfile} {
		if p != "" {
			errs = append(errs, checkAbsPath(field, p)...)
		}
	}
	for field, s := range map[string]string{"reload_signal": r.ReloadSignal, "stop_signal": r.StopSignal} {
		if s == "" {
			continue
		}
		if _, err := supervisor.ParseSignal(s); err != nil {
			errs = append(errs, Errf(field, "%v", err))
		}
	}
	if r.StopTimeout != nil && r.StopTimeout.Duration < 0 {
		errs = append(errs, Errf("stop_timeout", "expected a duration of zero or more, got %v", r.StopTimeout.Duration))
	}
	return errs
}

// supervisorAttrs names the supervisor-only attributes the promise sets.
func (r *Service) supervisorAttrs() []string {
	var out []string
	for _, a := range []struct {
		name string
		set  bool
	}{
		{"command", r.Command != nil}, {"env", r.Env != nil}, {"user", r.User != ""},
		{"cwd", r.Cwd != ""}, {"log", r.Log != ""}, {"pidfile", r.Pidfile != ""},
		{"reload_signal", r.ReloadSignal != ""}, {"stop_signal", r.StopSignal != ""},
		{"stop_timeout", r.StopTimeout != nil},
	} {
		if a.set {
			out = append(out, a.name)
		}
	}
	return out
}

// AutoRequire names the user the service runs as and its working
// directory.
func (r *Service) AutoRequire() []Ref { return processRefs(r.User, r.Cwd) }

func (r *Service) state() string {
	if r.State == "" {
		return "running"
	}
	return r.State
}

func (r *Service) reload() bool { return r.OnNotify == "reload" }

// Check chooses the provider and compares the service with the promise.
func (r *Service) Check(ctx context.Context, env *Env) (*Diff, error) {
	r.started, r.willStart = false, false
	p, err := r.provider()
	if err != nil {
		return nil, err
	}
	r.prov = p
	return p.check(ctx, r)
}

// Apply starts, stops, enables or disables the service.
func (r *Service) Apply(ctx context.Context, env *Env, d *Diff) error {
	if r.prov == nil {
		return fmt.Errorf("service %s: Apply before Check", r.Name)
	}
	return r.prov.apply(ctx, r, d)
}

// Refresh restarts or reloads the service, unless it is meant to be
// stopped or Apply has just started it.
func (r *Service) Refresh(ctx context.Context, env *Env) (string, error) {
	if r.started || r.state() == "stopped" || r.prov == nil {
		return "", nil
	}
	return r.prov.refresh(ctx, r)
}

// RefreshPlan says what Refresh would do.
func (r *Service) RefreshPlan() string {
	switch {
	case r.willStart || r.state() == "stopped":
		return ""
	case r.reload():
		return "would reload"
	}
	return "would restart"
}

// provider returns the provider the promise names, or the one the host
// calls for: systemd when it runs, else the supervisor.
func (r *Service) provider() (serviceProvider, error) {
	name := r.Provider
	if name == "" {
		dir := r.host.systemdDir
		if dir == "" {
			dir = "/run/systemd/system"
		}
		name = providerSupervisor
		if st, err := os.Stat(dir); err == nil && st.IsDir() {
			name = providerSystemd
		}
		switch attrs := r.supervisorAttrs(); {
		case name == providerSystemd && len(attrs) > 0:
			return nil, fmt.Errorf("this host runs systemd, and these attributes are for provider supervisor only: %s (set provider: supervisor, or install a unit file and drop them)",
				strings.Join(attrs, ", "))
		case name == providerSupervisor && r.Command == nil:
			return nil, fmt.Errorf("this host has no systemd (%s is missing), so phenix supervises the service itself and needs its command: add command", dir)
		case name == providerSupervisor && !supervisor.ValidName(r.Name):
			return nil, fmt.Errorf("bad service name %q for the supervisor: use letters, digits and _.@-", r.Name)
		}
	}
	if name == providerSystemd {
		return &systemdService{run: r.host.systemctl}, nil
	}
	dirs := r.host.dirs
	if dirs == (supervisor.Dirs{}) {
		dirs = supervisor.DefaultDirs()
	}
	exe := r.host.exe
	if exe == "" {
		var err error
		if exe, err = os.Executable(); err != nil {
			return nil, fmt.Errorf("find the phenix binary to supervise %s: %w", r.Name, err)
		}
	}
	return &supervisedService{dirs: dirs, exe: filepath.Clean(exe)}, nil
}
