package promise

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"weak"
)

// aptProvider installs and removes packages with apt-get.
type aptProvider struct{}

// aptInstallArgs are the options of every apt-get install: no questions,
// no recommended packages, and configuration files the admin changed are
// kept while new defaults are taken for untouched ones. apt waits up to
// two minutes for another package manager to release its lock.
var aptInstallArgs = []string{
	"apt-get", "install", "-y", "-q", "--no-install-recommends",
	"-o", "Dpkg::Options::=--force-confdef", "-o", "Dpkg::Options::=--force-confold",
	"-o", "DPkg::Lock::Timeout=120",
}

var aptRemoveArgs = []string{"apt-get", "remove", "-y", "-q", "-o", "DPkg::Lock::Timeout=120"}

func (aptProvider) check(ctx context.Context, env *Env, p *Package) (*Diff, error) {
	names := []string(p.Names)
	installed, err := dpkgInstalled(ctx, env, names)
	if err != nil {
		return nil, err
	}
	d := &Diff{}
	var policy map[string]aptPolicy
	if p.state() == "latest" {
		if policy, err = aptCachePolicy(ctx, env, names); err != nil {
			return nil, err
		}
	}
	for _, n := range names {
		cur := installed[baseName(n)]
		field := "package " + n
		switch p.state() {
		case "absent":
			if cur != "" {
				d.Add(field, cur, absentVersion)
				p.plan.remove = append(p.plan.remove, n)
			}
		case "latest":
			cand := policy[baseName(n)].candidate
			switch {
			case cand == "":
				// Unknown to the index as it is: Apply updates it first.
				d.Add(field, orAbsent(cur), "latest")
				p.plan.install = append(p.plan.install, n)
			case cur != cand:
				d.Add(field, orAbsent(cur), cand)
				p.plan.install = append(p.plan.install, n)
			}
		default:
			switch {
			case p.Version != "" && cur != p.Version:
				d.Add(field, orAbsent(cur), p.Version)
				p.plan.install = append(p.plan.install, n+"="+p.Version)
			case p.Version == "" && cur == "":
				d.Add(field, absentVersion, "installed")
				p.plan.install = append(p.plan.install, n)
			}
		}
	}
	if argv := p.plan.aptCommand(p.Version != ""); argv != nil {
		d.Command = shellJoin(argv)
	}
	return d, nil
}

// aptCommand returns the apt-get command for the plan, nil when there is
// nothing to do. A pinned version may be older than the installed one, so
// pins allow downgrades.
func (pl pkgPlan) aptCommand(pinned bool) []string {
	switch {
	case len(pl.install) > 0:
		argv := slices.Clone(aptInstallArgs)
		if pinned {
			argv = append(argv, "--allow-downgrades")
		}
		return append(argv, pl.install...)
	case len(pl.remove) > 0:
		return append(slices.Clone(aptRemoveArgs), pl.remove...)
	}
	return nil
}

func (aptProvider) apply(ctx context.Context, env *Env, p *Package) error {
	argv := p.plan.aptCommand(p.Version != "")
	if argv == nil {
		return nil
	}
	if len(p.plan.install) > 0 {
		known, err := aptKnows(ctx, env, p.plan.install)
		if err != nil {
			return err
		}
		if !known {
			if err := aptUpdateOnce(ctx, env); err != nil {
				return err
			}
		}
	}
	_, err := runPkgCommand(ctx, env, argv...)
	return err
}

// aptKnows reports whether apt-cache can install every item of install
// ("name" or "name=version") as the index is.
func aptKnows(ctx context.Context, env *Env, install []string) (bool, error) {
	names := make([]string, len(install))
	for i, it := range install {
		names[i], _, _ = strings.Cut(it, "=")
	}
	policy, err := aptCachePolicy(ctx, env, names)
	if err != nil {
		return false, err
	}
	for _, it := range install {
		name, version, pinned := strings.Cut(it, "=")
		pol := policy[baseName(name)]
		if pol.candidate == "" || (pinned && !slices.Contains(pol.versions, version)) {
			return false, nil
		}
	}
	return true, nil
}

// aptUpdated remembers the runs, by their Env, in which apt-get update
// already ran, so that it runs at most once per run however many package
// promises ask for it. An entry goes away with its Env.
var aptUpdated = struct {
	sync.Mutex
	runs map[weak.Pointer[Env]]bool
}{runs: map[weak.Pointer[Env]]bool{}}

// aptUpdateOnce runs apt-get update unless it already ran (or failed) in
// the run of env.
func aptUpdateOnce(ctx context.Context, env *Env) error {
	if env != nil {
		key := weak.Make(env)
		aptUpdated.Lock()
		done := aptUpdated.runs[key]
		if !done {
			aptUpdated.runs[key] = true
			runtime.AddCleanup(env, func(k weak.Pointer[Env]) {
				aptUpdated.Lock()
				delete(aptUpdated.runs, k)
				aptUpdated.Unlock()
			}, key)
		}
		aptUpdated.Unlock()
		if done {
			return nil
		}
	}
	_, err := runPkgCommand(ctx, env, "apt-get", "update", "-q", "-o", "DPkg::Lock::Timeout=120")
	return err
}

// aptPolicy is what apt-cache policy says of one package.
type aptPolicy struct {
	installed string   // "" when not installed
	candidate string   // "" when apt has none
	versions  []string // every version in the version table
}

// aptCachePolicy runs apt-cache policy for names. Packages apt does not
// know are missing from the map.
func aptCachePolicy(ctx context.Context, env *Env, names []string) (map[string]aptPolicy, error) {
	var out bytes.Buffer
	spec := cmdSpec{Args: append([]string{"apt-cache", "policy"}, names...), Env: pkgEnv, Stdout: &out}
	res, err := runCommand(ctx, spec)
	if err != nil {
		return nil, fmt.Errorf("apt-cache policy: %w", err)
	}
	if res.ExitCode != 0 {
		return nil, fmt.Errorf("apt-cache policy: %s", res.failure())
	}
	return parseAptPolicy(out.String()), nil
}

// parseAptPolicy reads the output of apt-cache policy:
//
//	phenix-hello:
//	  Installed: 1.0
//	  Candidate: 1.1
//	  Version table:
//	     1.1 500
//	        500 file:/srv/repo ./ Packages
//	 *** 1.0 100
//	        100 /var/lib/dpkg/status
func parseAptPolicy(s string) map[string]aptPolicy {
	out := map[string]aptPolicy{}
	var name string
	var cur aptPolicy
	flush := func() {
		if name != "" {
			out[baseName(name)] = cur
		}
	}
	for _, line := range strings.Split(s, "\n") {
		if line == "" {
			continue
		}
		if line[0] != ' ' && strings.HasSuffix(line, ":") {
			flush()
			name, cur = strings.TrimSuffix(line, ":"), aptPolicy{}
			continue
		}
		t := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(t, "Installed:"):
			cur.installed = noneEmpty(strings.TrimSpace(strings.TrimPrefix(t, "Installed:")))
		case strings.HasPrefix(t, "Candidate:"):
			cur.candidate = noneEmpty(strings.TrimSpace(strings.TrimPrefix(t, "Candidate:")))
		default:
			// A version line is "VERSION PRIORITY", with *** before the
			// installed one; a source line is "PRIORITY URI ...".
			f := strings.Fields(strings.TrimPrefix(t, "*** "))
			if len(f) >= 2 {
				if _, err := strconv.Atoi(f[1]); err == nil {
					cur.versions = append(cur.versions, f[0])
				}
			}
		}
	}
	flush()
	return out
}

func noneEmpty(s string) string {
	if s == "(none)" {
		return ""
	}
	return s
}

// baseName drops the architecture of "name:arch".
func baseName(n string) string {
	name, _, _ := strings.Cut(n, ":")
	return name
}

// dpkgInstalled returns the installed version of each of names that is
// installed, from dpkg-query. Packages removed with their configuration
// files left behind count as absent.
func dpkgInstalled(ctx context.Context, env *Env, names []string) (map[string]string, error) {
	var out bytes.Buffer
	spec := cmdSpec{
		Args:   append([]string{"dpkg-query", "-W", "-f=${Package}\\t${Status}\\t${Version}\\n"}, names...),
		Env:    pkgEnv,
		Stdout: &out,
	}
	res, err := runCommand(ctx, spec)
	if err != nil {
		return nil, fmt.Errorf("dpkg-query: %w", err)
	}
	// Exit status 1 means some names are unknown: they are not installed.
	if res.ExitCode != 0 && res.ExitCode != 1 {
		return nil, fmt.Errorf("dpkg-query: %s", res.failure())
	}
	return parseDpkgQuery(out.String()), nil
}

// parseDpkgQuery reads lines of "name\tWANT OK STATE\tversion".
func parseDpkgQuery(s string) map[string]string {
	got := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 3 {
			continue
		}
		status := strings.Fields(f[1])
		if len(status) == 3 && status[2] == "installed" {
			got[f[0]] = f[2]
		}
	}
	return got
}
