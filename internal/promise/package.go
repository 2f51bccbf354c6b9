package promise

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
)

// Package promises system packages: installed, at a pinned version, at the
// latest version the package index offers, or absent.
//
//   - package: [curl, jq]
//   - package: nginx
//     version: "1.22.1-9"
//   - package: phenix-agent
//     provider: dpkg
//     source: files/phenix-agent_1.4_amd64.deb
//
// The provider is apt when /usr/bin/apt-get exists; provider: dpkg
// installs a local .deb (source) with dpkg -i, without resolving its
// dependencies. All the names of one promise go to the package manager in
// one call, and package promises never run at the same time as each other
// (they share the "dpkg" lock).
//
// Check only reads the package database (dpkg-query, apt-cache policy); it
// never updates the package index. Apply runs apt-get update only when a
// package or version it must install is not known to apt-cache, and at
// most once per run. So state latest compares the installed version with
// the candidate of the index as it is: refresh the index on your schedule
// (an exec promise, or apt's own timers) to pick up new versions.
type Package struct {
	Names    StringList `yaml:"package"`
	State    string     `yaml:"state"`    // installed (default), absent or latest
	Version  string     `yaml:"version"`  // an exact Debian version, for a single name
	Provider string     `yaml:"provider"` // apt or dpkg; default from the system
	Source   string     `yaml:"source"`   // a .deb beside the bundle, for provider dpkg

	source string // Source resolved against the bundle's directory
	plan   pkgPlan
}

var (
	_ Resource   = (*Package)(nil)
	_ Validator  = (*Package)(nil)
	_ Resolver   = (*Package)(nil)
	_ Serializer = (*Package)(nil)
)

// pkgPlan is what Check decided Apply must do.
type pkgPlan struct {
	install []string // arguments for apt-get install (name or name=version)
	remove  []string // names to remove
	deb     string   // a .deb file for dpkg -i
}

// pkgProvider is a package manager backend. check fills p.plan and returns
// the Diff; apply carries out p.plan.
type pkgProvider interface {
	check(ctx context.Context, env *Env, p *Package) (*Diff, error)
	apply(ctx context.Context, env *Env, p *Package) error
}

var (
	// pkgName is a Debian package name, optionally with an architecture.
	pkgName = lazyRegexp(`^[a-z0-9][a-z0-9+.-]+(:[a-z0-9-]+)?$`)
	// pkgVersion is a Debian version: [epoch:]upstream[-revision].
	pkgVersion = lazyRegexp(`^([0-9]+:)?[0-9][A-Za-z0-9.+~:-]*$`)
)

// Validate checks the attributes.
func (p *Package) Validate() []FieldError {
	errs := checkState(p.State, "installed", "absent", "latest")
	for _, n := range p.Names {
		if !pkgName().MatchString(n) {
			errs = append(errs, Errf("package", "bad package name %q: expected lower-case letters, digits and + . -", n))
		}
	}
	if p.Version != "" {
		switch {
		case len(p.Names) != 1:
			errs = append(errs, Errf("version", "a version pins a single package: split the list into one promise per pinned package"))
		case p.State == "absent" || p.State == "latest":
			errs = append(errs, Errf("version", "a version only goes with state installed, not %s", p.State))
		case !pkgVersion().MatchString(p.Version):
			errs = append(errs, Errf("version", "bad version %q: expected a Debian version such as 1.2-3", p.Version))
		}
	}
	switch p.provider() {
	case "apt":
		if p.Source != "" {
			errs = append(errs, Errf("source", "source installs a .deb file: it needs provider dpkg"))
		}
	case "dpkg":
		if p.Version != "" {
			errs = append(errs, Errf("version", "with provider dpkg the .deb file gives the version: remove version"))
		}
		switch p.State {
		case "latest":
			errs = append(errs, Errf("state", "provider dpkg cannot find the latest version: use apt, or install a .deb with state installed"))
		case "absent":
			if p.Source != "" {
				errs = append(errs, Errf("source", "an absent package takes no source"))
			}
		default:
			if p.Source == "" {
				errs = append(errs, Errf("source", "provider dpkg installs a .deb file: expected source: path/to/package.deb"))
			}
			if len(p.Names) != 1 {
				errs = append(errs, Errf("package", "a .deb source holds one package: name exactly one"))
			}
		}
	case "":
	default:
		msg := fmt.Sprintf("unknown provider %q: expected apt or dpkg", p.Provider)
		if s := Suggest(p.Provider, []string{"apt", "dpkg"}); s != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", s)
		}
		errs = append(errs, FieldError{Field: "provider", Msg: msg})
	}
	return errs
}

// Resolve finds the source .deb beside the bundle.
func (p *Package) Resolve(rc *ResolveContext) []FieldError {
	if p.Source == "" {
		return nil
	}
	p.source = resolvePath(rc.Dir, p.Source)
	if _, err := os.Stat(p.source); err != nil {
		return []FieldError{Errf("source", "%v", err)}
	}
	return nil
}

// SerialKey makes package promises run one at a time: dpkg takes a lock on
// its database, and apt would fail or wait on it.
func (p *Package) SerialKey() string { return "dpkg" }

// Check compares the installed packages with the promise. The Diff has one
// change per package to act on, field "package <name>", and the command
// Apply will run.
func (p *Package) Check(ctx context.Context, env *Env) (*Diff, error) {
	prov, err := p.backend()
	if err != nil {
		return nil, err
	}
	p.plan = pkgPlan{}
	return prov.check(ctx, env, p)
}

// Apply installs or removes what Check found.
func (p *Package) Apply(ctx context.Context, env *Env, d *Diff) error {
	prov, err := p.backend()
	if err != nil {
		return err
	}
	return prov.apply(ctx, env, p)
}

// provider returns the provider the promise asks for: the explicit one, or
// dpkg when a source is given, or "" to choose from the system.
func (p *Package) provider() string {
	if p.Provider == "" && p.Source != "" {
		return "dpkg"
	}
	return p.Provider
}

func (p *Package) state() string {
	if p.State == "" {
		return "installed"
	}
	return p.State
}

// aptGet is where the apt provider expects apt-get; its presence selects
// apt as the default provider.
const aptGet = "/usr/bin/apt-get"

func (p *Package) backend() (pkgProvider, error) {
	switch p.provider() {
	case "apt":
		return aptProvider{}, nil
	case "dpkg":
		return dpkgProvider{}, nil
	}
	if _, err := os.Stat(aptGet); err == nil {
		return aptProvider{}, nil
	}
	return nil, fmt.Errorf("no package manager found: phenix supports apt (%s is missing)", aptGet)
}

// absentVersion stands for a package that is not installed in a Diff.
const absentVersion = "(absent)"

func orAbsent(v string) string {
	if v == "" {
		return absentVersion
	}
	return v
}

// pkgEnv is the environment of package manager commands: no questions, and
// messages in English so that they can be parsed.
var pkgEnv = []string{"DEBIAN_FRONTEND=noninteractive", "LC_ALL=C", "APT_LISTCHANGES_FRONTEND=none"}

// runPkgCommand runs a package manager command and turns a failure into an
// error that quotes the end of its output.
func runPkgCommand(ctx context.Context, env *Env, argv ...string) (cmdResult, error) {
	envLog(env).DebugContext(ctx, "running", "command", shellJoin(argv))
	res, err := runCommand(ctx, cmdSpec{Args: argv, Env: pkgEnv})
	name := argv[0]
	if len(argv) > 1 && !strings.HasPrefix(argv[1], "-") {
		name += " " + argv[1]
	}
	if err != nil {
		return res, fmt.Errorf("%s: %w", name, err)
	}
	if res.ExitCode != 0 || res.Signal != 0 {
		return res, fmt.Errorf("%s: %s", name, res.failure())
	}
	return res, nil
}

// envLog returns the run's logger, or one that discards.
func envLog(env *Env) *slog.Logger {
	if env == nil || env.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return env.Log
}
