package promise

import (
	"bytes"
	"context"
	"fmt"
	"strings"
)

// dpkgProvider installs a local .deb file with dpkg -i and removes
// packages with dpkg -r. It does not resolve dependencies: install them
// first with other package promises.
type dpkgProvider struct{}

func (dpkgProvider) check(ctx context.Context, env *Env, p *Package) (*Diff, error) {
	names := []string(p.Names)
	installed, err := dpkgInstalled(ctx, env, names)
	if err != nil {
		return nil, err
	}
	d := &Diff{}
	if p.state() == "absent" {
		for _, n := range names {
			if cur := installed[baseName(n)]; cur != "" {
				d.Add("package "+n, cur, absentVersion)
				p.plan.remove = append(p.plan.remove, n)
			}
		}
		if len(p.plan.remove) > 0 {
			d.Command = shellJoin(append([]string{"dpkg", "-r"}, p.plan.remove...))
		}
		return d, nil
	}
	name, version, err := debFields(ctx, p.source)
	if err != nil {
		return nil, err
	}
	if name != baseName(names[0]) {
		return nil, fmt.Errorf("source %s holds package %s, not %s", p.Source, name, names[0])
	}
	if cur := installed[name]; cur != version {
		d.Add("package "+names[0], orAbsent(cur), version)
		p.plan.deb = p.source
		d.Command = shellJoin(dpkgInstallArgs(p.source))
	}
	return d, nil
}

func dpkgInstallArgs(deb string) []string {
	return []string{"dpkg", "--force-confdef", "--force-confold", "-i", deb}
}

func (dpkgProvider) apply(ctx context.Context, env *Env, p *Package) error {
	var err error
	switch {
	case p.plan.deb != "":
		_, err = runPkgCommand(ctx, env, dpkgInstallArgs(p.plan.deb)...)
	case len(p.plan.remove) > 0:
		_, err = runPkgCommand(ctx, env, append([]string{"dpkg", "-r"}, p.plan.remove...)...)
	}
	return err
}

// debFields reads the package name and version of a .deb file.
func debFields(ctx context.Context, deb string) (name, version string, err error) {
	var out bytes.Buffer
	res, err := runCommand(ctx, cmdSpec{Args: []string{"dpkg-deb", "-f", deb, "Package", "Version"}, Env: pkgEnv, Stdout: &out})
	if err == nil && res.ExitCode != 0 {
		err = fmt.Errorf("%s", res.failure())
	}
	if err != nil {
		return "", "", fmt.Errorf("read %s: %w", deb, err)
	}
	for _, line := range strings.Split(out.String(), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "Package":
			name = strings.TrimSpace(v)
		case "Version":
			version = strings.TrimSpace(v)
		}
	}
	if name == "" || version == "" {
		return "", "", fmt.Errorf("read %s: no Package or Version field: is it a .deb file?", deb)
	}
	return name, version, nil
}
