package promise

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// systemdService drives a unit through systemctl. Check runs only
// `systemctl show`, which changes nothing. Unit files are not managed here
// (a file promise writes them), so no daemon-reload is run.
type systemdService struct {
	// run runs systemctl with args; nil runs the real one.
	run func(ctx context.Context, args ...string) (cmdResult, error)
}

// systemdProps are the unit properties Check reads.
const systemdProps = "LoadState,ActiveState,UnitFileState"

// systemctl runs systemctl and returns its standard output; a non-zero
// exit status is an error carrying what systemctl said.
func (p *systemdService) systemctl(ctx context.Context, args ...string) (string, error) {
	run := p.run
	if run == nil {
		run = func(ctx context.Context, args ...string) (cmdResult, error) {
			return runCommand(ctx, cmdSpec{Args: append([]string{"systemctl"}, args...)})
		}
	}
	res, err := run(ctx, args...)
	if err != nil {
		return "", fmt.Errorf("systemctl %s: %w", strings.Join(args, " "), err)
	}
	if res.ExitCode != 0 {
		return "", fmt.Errorf("systemctl %s: %s", strings.Join(args, " "), res.failure())
	}
	return string(res.Stdout), nil
}

// check reads the unit's state with `systemctl show`, which, unlike
// is-active and is-enabled, exits 0 whatever the state and also tells a
// missing unit apart.
func (p *systemdService) check(ctx context.Context, r *Service) (*Diff, error) {
	out, err := p.systemctl(ctx, "show", "--property="+systemdProps, r.Name)
	if err != nil {
		return nil, err
	}
	props := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok {
			props[k] = v
		}
	}
	d := &Diff{}
	var now string
	switch props["ActiveState"] {
	case "active", "reloading", "activating", "refreshing":
		now = "running"
	case "failed":
		now = "failed"
	default: // inactive, deactivating, maintenance, or a unit that is not found
		now = "stopped"
	}
	switch want := r.state(); {
	case want == "running" && now != "running":
		d.Add("state", now, "running")
		r.willStart = true
	case want == "stopped" && now == "running":
		d.Add("state", "running", "stopped")
	}
	if r.Enabled != nil {
		ufs := props["UnitFileState"]
		switch ufs {
		case "static", "indirect", "generated", "transient":
			return nil, fmt.Errorf("unit %s cannot be enabled or disabled: its unit file state is %s (no [Install] section, or not a unit file): drop enabled", r.Name, ufs)
		}
		// "" is a unit that is not found: systemctl enable will say so.
		enabled := ufs == "enabled" || ufs == "enabled-runtime"
		if enabled != *r.Enabled {
			d.Add("enabled", strconv.FormatBool(enabled), strconv.FormatBool(*r.Enabled))
		}
	}
	return d, nil
}

// apply enables or disables the unit, then starts or stops it.
func (p *systemdService) apply(ctx context.Context, r *Service, d *Diff) error {
	if d.Has("enabled") {
		verb := "disable"
		if *r.Enabled {
			verb = "enable"
		}
		if _, err := p.systemctl(ctx, verb, r.Name); err != nil {
			return err
		}
	}
	if d.Has("state") {
		verb := "stop"
		if r.state() == "running" {
			verb = "start"
		}
		if _, err := p.systemctl(ctx, verb, r.Name); err != nil {
			return err
		}
		r.started = verb == "start"
	}
	return nil
}

// refresh restarts or reloads the unit.
func (p *systemdService) refresh(ctx context.Context, r *Service) (string, error) {
	verb, did := "restart", "restarted"
	if r.reload() {
		verb, did = "reload", "reloaded"
	}
	if _, err := p.systemctl(ctx, verb, r.Name); err != nil {
		return "", err
	}
	return did, nil
}
