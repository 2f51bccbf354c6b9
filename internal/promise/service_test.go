package promise

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"
)

func TestServiceValidate(t *testing.T) {
	cmd := &ServiceCommand{Args: []string{"web"}}
	for _, tt := range []struct {
		name string
		s    Service
		want []string // "field: message part"
	}{
		{name: "systemd minimal", s: Service{Name: "nginx"}},
		{name: "supervisor minimal", s: Service{Name: "web", Provider: "supervisor", Command: cmd}},
		{name: "auto with command", s: Service{Name: "web", Command: &ServiceCommand{Shell: "exec web"}}},
		{name: "bad state", s: Service{Name: "web", State: "started"}, want: []string{`state: unknown state "started"`}},
		{name: "bad on_notify", s: Service{Name: "web", OnNotify: "kick"}, want: []string{"on_notify: unknown value"}},
		{name: "provider typo", s: Service{Name: "web", Provider: "systemctl"}, want: []string{`provider: unknown provider "systemctl": expected systemd or supervisor (did you mean "systemd"?)`}},
		{name: "bad name", s: Service{Name: "a/b"}, want: []string{"service: bad service name"}},
		{name: "supervisor without command", s: Service{Name: "web", Provider: "supervisor"}, want: []string{"command: required by provider supervisor"}},
		{name: "supervisor bad name", s: Service{Name: "web:1", Provider: "supervisor", Command: cmd}, want: []string{"service: bad service name \"web:1\" for the supervisor"}},
		{
			name: "systemd with supervisor attributes",
			s:    Service{Name: "nginx", Provider: "systemd", Command: cmd, User: "www-data"},
			want: []string{"command: only for provider supervisor", "user: only for provider supervisor"},
		},
		{name: "empty command", s: Service{Name: "web", Command: &ServiceCommand{}}, want: []string{"command: empty command"}},
		{name: "bad env", s: Service{Name: "web", Command: cmd, Env: map[string]string{"A=B": "x"}}, want: []string{`env: bad variable name "A=B"`}},
		{name: "relative log", s: Service{Name: "web", Command: cmd, Log: "web.log"}, want: []string{"log: expected an absolute path"}},
		{name: "bad signal", s: Service{Name: "web", Command: cmd, StopSignal: "TERMINATE"}, want: []string{`stop_signal: unknown signal "TERMINATE"`}},
		{name: "negative timeout", s: Service{Name: "web", Command: cmd, StopTimeout: &Duration{-1}}, want: []string{"stop_timeout: expected a duration of zero or more"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, e := range tt.s.Validate() {
				got = append(got, e.Error())
			}
			if len(got) != len(tt.want) {
				t.Fatalf("Validate() = %q, want %d errors like %q", got, len(tt.want), tt.want)
			}
			for i := range got {
				if !strings.Contains(got[i], tt.want[i]) {
					t.Errorf("error %d = %q, want it to contain %q", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestServiceCommandYAML(t *testing.T) {
	for _, tt := range []struct {
		in      string
		want    []string
		wantErr bool
	}{
		{in: `[/usr/bin/web, --port, "8080"]`, want: []string{"/usr/bin/web", "--port", "8080"}},
		{in: `exec web --port 8080 >> /tmp/x`, want: []string{"/bin/sh", "-c", "exec web --port 8080 >> /tmp/x"}},
		{in: `{a: b}`, wantErr: true},
		{in: `[[a]]`, wantErr: true},
	} {
		var c ServiceCommand
		err := yaml.Unmarshal([]byte(tt.in), &c)
		if (err != nil) != tt.wantErr {
			t.Errorf("decode %s: error %v, want error %v", tt.in, err, tt.wantErr)
			continue
		}
		if err == nil {
			if diff := cmp.Diff(tt.want, c.argv()); diff != "" {
				t.Errorf("decode %s: argv (-want +got):\n%s", tt.in, diff)
			}
		}
	}
}

func TestServiceProviderChoice(t *testing.T) {
	withSystemd := t.TempDir()
	noSystemd := filepath.Join(t.TempDir(), "missing")
	cmd := &ServiceCommand{Args: []string{"web"}}
	for _, tt := range []struct {
		name       string
		s          Service
		systemdDir string
		want       string // provider type, or an error part
	}{
		{name: "systemd host", s: Service{Name: "nginx"}, systemdDir: withSystemd, want: "*promise.systemdService"},
		{name: "container", s: Service{Name: "web", Command: cmd}, systemdDir: noSystemd, want: "*promise.supervisedService"},
		{name: "explicit supervisor on systemd", s: Service{Name: "web", Provider: "supervisor", Command: cmd}, systemdDir: withSystemd, want: "*promise.supervisedService"},
		{name: "explicit systemd in container", s: Service{Name: "nginx", Provider: "systemd"}, systemdDir: noSystemd, want: "*promise.systemdService"},
		{name: "container without command", s: Service{Name: "nginx"}, systemdDir: noSystemd, want: "needs its command: add command"},
		{name: "command on systemd host", s: Service{Name: "web", Command: cmd, Env: map[string]string{"A": "1"}}, systemdDir: withSystemd,
			want: "this host runs systemd, and these attributes are for provider supervisor only: command, env"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.s
			s.host.systemdDir = tt.systemdDir
			s.host.exe = "/usr/local/bin/phenix"
			p, err := s.provider()
			got := ""
			if err != nil {
				got = err.Error()
			} else {
				got = fmt.Sprintf("%T", p)
			}
			if !strings.Contains(got, tt.want) {
				t.Errorf("provider() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestServiceRefreshPlan(t *testing.T) {
	for _, tt := range []struct {
		s    Service
		want string
	}{
		{s: Service{}, want: "would restart"},
		{s: Service{OnNotify: "reload"}, want: "would reload"},
		{s: Service{willStart: true}, want: ""},
		{s: Service{State: "stopped"}, want: ""},
	} {
		if got := tt.s.RefreshPlan(); got != tt.want {
			t.Errorf("RefreshPlan() with state %q, on_notify %q, willStart %v = %q, want %q", tt.s.State, tt.s.OnNotify, tt.s.willStart, got, tt.want)
		}
	}
}
