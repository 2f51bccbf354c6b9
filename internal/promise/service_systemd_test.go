package promise

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// fakeSystemctl answers `systemctl show` with props and records every
// command line; verbs in fail exit 1 with stderr.
type fakeSystemctl struct {
	props string
	fail  map[string]string // verb → stderr
	calls []string
}

func (f *fakeSystemctl) run(ctx context.Context, args ...string) (cmdResult, error) {
	f.calls = append(f.calls, "systemctl "+strings.Join(args, " "))
	if msg, ok := f.fail[args[0]]; ok {
		return cmdResult{ExitCode: 1, Stderr: []byte(msg)}, nil
	}
	if args[0] == "show" {
		return cmdResult{Stdout: []byte(f.props)}, nil
	}
	return cmdResult{}, nil
}

func props(load, active, file string) string {
	return "LoadState=" + load + "\nActiveState=" + active + "\nUnitFileState=" + file + "\n"
}

func TestSystemdService(t *testing.T) {
	yes, no := true, false
	const show = "systemctl show --property=LoadState,ActiveState,UnitFileState nginx"
	for _, tt := range []struct {
		name      string
		s         Service
		props     string
		fail      map[string]string
		want      []Change
		wantCalls []string // after Check, Apply and a notification
		refreshed string
		wantErr   string
	}{
		{
			name:      "start a stopped service",
			props:     props("loaded", "inactive", "disabled"),
			want:      []Change{{Field: "state", Before: "stopped", After: "running"}},
			wantCalls: []string{show, "systemctl start nginx"},
			refreshed: "", // just started: no restart
		},
		{
			name:      "restart a failed one",
			props:     props("loaded", "failed", "enabled"),
			want:      []Change{{Field: "state", Before: "failed", After: "running"}},
			wantCalls: []string{show, "systemctl start nginx"},
		},
		{
			name:      "kept, restarted on notification",
			props:     props("loaded", "active", "enabled"),
			wantCalls: []string{show, "systemctl restart nginx"},
			refreshed: "restarted",
		},
		{
			name:      "kept, reloaded on notification",
			s:         Service{OnNotify: "reload"},
			props:     props("loaded", "active", "enabled"),
			wantCalls: []string{show, "systemctl reload nginx"},
			refreshed: "reloaded",
		},
		{
			name:      "enable only",
			s:         Service{Enabled: &yes},
			props:     props("loaded", "active", "disabled"),
			want:      []Change{{Field: "enabled", Before: "false", After: "true"}},
			wantCalls: []string{show, "systemctl enable nginx", "systemctl restart nginx"},
			refreshed: "restarted",
		},
		{
			name:  "stop and disable",
			s:     Service{State: "stopped", Enabled: &no},
			props: props("loaded", "active", "enabled"),
			want: []Change{
				{Field: "state", Before: "running", After: "stopped"},
				{Field: "enabled", Before: "true", After: "false"},
			},
			wantCalls: []string{show, "systemctl disable nginx", "systemctl stop nginx"},
			refreshed: "", // never restart a service meant to be stopped
		},
		{
			name:      "stopped and kept",
			s:         Service{State: "stopped", Enabled: &no},
			props:     props("loaded", "inactive", "disabled"),
			wantCalls: []string{show},
		},
		{
			name:      "enabled-runtime counts as enabled",
			s:         Service{Enabled: &yes},
			props:     props("loaded", "active", "enabled-runtime"),
			wantCalls: []string{show, "systemctl restart nginx"},
			refreshed: "restarted",
		},
		{
			name:    "static unit cannot be enabled",
			s:       Service{Enabled: &yes},
			props:   props("loaded", "active", "static"),
			wantErr: "unit nginx cannot be enabled or disabled: its unit file state is static",
		},
		{
			name:      "missing unit fails at start with systemctl's words",
			props:     props("not-found", "inactive", ""),
			fail:      map[string]string{"start": "Failed to start nginx.service: Unit nginx.service not found.\n"},
			want:      []Change{{Field: "state", Before: "stopped", After: "running"}},
			wantCalls: []string{show, "systemctl start nginx"},
			wantErr:   "systemctl start nginx: exit status 1: Failed to start nginx.service: Unit nginx.service not found.",
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeSystemctl{props: tt.props, fail: tt.fail}
			s := tt.s
			s.Name = "nginx"
			s.host.systemctl = f.run
			s.host.systemdDir = t.TempDir()
			ctx := t.Context()
			d, err := s.Check(ctx, &Env{})
			if err == nil && !d.Empty() {
				err = s.Apply(ctx, &Env{}, d)
			}
			var refreshed string
			if err == nil {
				refreshed, err = s.Refresh(ctx, &Env{})
			}
			if e := serviceErr(err); !strings.Contains(e, tt.wantErr) || (tt.wantErr == "") != (e == "") {
				t.Fatalf("error = %q, want %q", e, tt.wantErr)
			}
			if err != nil && d == nil {
				return
			}
			if diff := cmp.Diff(tt.want, d.Changes); diff != "" {
				t.Errorf("Check changes (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantCalls, f.calls); diff != "" {
				t.Errorf("systemctl calls (-want +got):\n%s", diff)
			}
			if refreshed != tt.refreshed {
				t.Errorf("Refresh = %q, want %q", refreshed, tt.refreshed)
			}
		})
	}
}

func TestSystemdCheckChangesNothing(t *testing.T) {
	f := &fakeSystemctl{props: props("loaded", "inactive", "disabled")}
	yes := true
	s := Service{Name: "nginx", Enabled: &yes}
	s.host.systemctl = f.run
	s.host.systemdDir = t.TempDir()
	if _, err := s.Check(t.Context(), &Env{}); err != nil {
		t.Fatal(err)
	}
	for _, c := range f.calls {
		if !strings.HasPrefix(c, "systemctl show ") {
			t.Errorf("Check ran %q", c)
		}
	}
	if got := s.RefreshPlan(); got != "" {
		t.Errorf("RefreshPlan() = %q for a service Apply would start, want \"\"", got)
	}
}

// serviceErr is err's text, "" for nil.
func serviceErr(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
