package promise

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/phenixhq/phenix/internal/supervisor"
	"github.com/phenixhq/phenix/internal/testenv"
)

// supervisedHost is a host without systemd whose supervisor files live in
// a temporary directory, served by a real phenix binary.
type supervisedHost struct {
	host serviceHost
}

func newSupervisedHost(t *testing.T) *supervisedHost {
	root := t.TempDir()
	return &supervisedHost{host: serviceHost{
		systemdDir: filepath.Join(root, "no-systemd"),
		dirs:       supervisor.Dirs{State: filepath.Join(root, "services"), Run: filepath.Join(root, "run"), Log: filepath.Join(root, "log")},
		exe:        testenv.PhenixBinary(t),
	}}
}

// service returns a promise for this host and stops its supervisor when
// the test ends.
func (h *supervisedHost) service(t *testing.T, s Service) *Service {
	s.host = h.host
	if fe := s.Validate(); len(fe) > 0 {
		t.Fatalf("Validate: %v", fe)
	}
	t.Cleanup(func() {
		d := h.host.dirs
		if err := supervisor.Stop(context.Background(), d.SupervisorPidfile(s.Name), d.StateFile(s.Name)); err != nil {
			t.Errorf("stop %s: %v", s.Name, err)
		}
		if t.Failed() {
			b, _ := os.ReadFile(d.LogFile(s.Name))
			t.Logf("%s:\n%s", d.LogFile(s.Name), b)
		}
	})
	return &s
}

func (h *supervisedHost) childPid(name string) int {
	return supervisor.ChildPid(h.host.dirs.Pidfile(name))
}

func (h *supervisedHost) supervisorPid(name string) int {
	d := h.host.dirs
	return supervisor.Pid(d.SupervisorPidfile(name), d.StateFile(name))
}

// wantChanges fails t unless d has exactly the fields given.
func wantChanges(t *testing.T, d *Diff, fields ...string) {
	t.Helper()
	var got []string
	for _, c := range d.Changes {
		got = append(got, c.Field)
	}
	if strings.Join(got, ",") != strings.Join(fields, ",") {
		t.Fatalf("changes %q (%s), want %q", got, d.Summary(), fields)
	}
}

func TestSupervisedService(t *testing.T) {
	h := newSupervisedHost(t)
	s := h.service(t, Service{Name: "web", Command: &ServiceCommand{Args: []string{"sleep", "300"}}})

	// First run: the supervisor starts, a notification has nothing to add.
	wantChanges(t, checkApply(t, s), "state")
	if s.RefreshPlan() != "" {
		t.Errorf("RefreshPlan() = %q after Check found it stopped, want \"\"", s.RefreshPlan())
	}
	if got, err := s.Refresh(t.Context(), &Env{}); err != nil || got != "" {
		t.Errorf("Refresh right after the start = %q, %v; want nothing", got, err)
	}
	first := h.childPid("web")
	if first == 0 || h.supervisorPid("web") == 0 {
		t.Fatalf("after Apply: child %d, supervisor %d; want both running", first, h.supervisorPid("web"))
	}

	// Second run: nothing to do; a notification restarts the child.
	wantChanges(t, checkApply(t, s))
	if got := s.RefreshPlan(); got != "would restart" {
		t.Errorf("RefreshPlan() = %q, want \"would restart\"", got)
	}
	got, err := s.Refresh(t.Context(), &Env{})
	if err != nil || got != "restarted" {
		t.Fatalf("Refresh = %q, %v; want restarted", got, err)
	}
	second := h.childPid("web")
	if second == 0 || second == first {
		t.Fatalf("child pid %d after restart, want a new one (was %d)", second, first)
	}

	// Enabling rewrites the state file only.
	yes := true
	s.Enabled = &yes
	wantChanges(t, checkApply(t, s), "enabled")
	st, err := supervisor.ReadState(h.host.dirs.StateFile("web"))
	if err != nil || !st.Enabled {
		t.Fatalf("state file after enabling: %+v, %v", st, err)
	}
	if now := h.childPid("web"); now != second {
		t.Errorf("enabling restarted the child: %d, was %d", now, second)
	}

	// A new command is a new spec: the supervisor restarts with it.
	s.Command = &ServiceCommand{Args: []string{"sleep", "301"}}
	s.Env = map[string]string{"SECRET": "hunter2"}
	d := checkApply(t, s)
	wantChanges(t, d, "spec")
	if after := d.Changes[0].After; !strings.HasSuffix(after, "(command, env)") || strings.Contains(d.Summary(), "hunter2") {
		t.Errorf("spec change %q, want the attributes named and no values", d.Summary())
	}
	if got, _ := s.Refresh(t.Context(), &Env{}); got != "" {
		t.Errorf("Refresh after a spec change = %q, want \"\" (just restarted)", got)
	}
	third := h.childPid("web")
	cmdline, _ := os.ReadFile("/proc/" + strconv.Itoa(third) + "/cmdline")
	if third == second || !bytes.Contains(cmdline, []byte("301")) {
		t.Errorf("child %d runs %q, want a new sleep 301", third, cmdline)
	}
	wantChanges(t, checkApply(t, s))

	// Stopping stops the supervisor and the child, and keeps the spec.
	s.State = "stopped"
	wantChanges(t, checkApply(t, s), "state")
	if h.supervisorPid("web") != 0 || h.childPid("web") != 0 {
		t.Errorf("after stop: supervisor %d, child %d; want none", h.supervisorPid("web"), h.childPid("web"))
	}
	if got, _ := s.Refresh(t.Context(), &Env{}); got != "" {
		t.Errorf("Refresh of a stopped service = %q, want \"\"", got)
	}
	wantChanges(t, checkApply(t, s))
	if st, err := supervisor.ReadState(h.host.dirs.StateFile("web")); err != nil || !st.Enabled {
		t.Errorf("state file of the stopped service: %+v, %v; want it kept, enabled", st, err)
	}
}

func TestSupervisedServiceReload(t *testing.T) {
	h := newSupervisedHost(t)
	out := filepath.Join(t.TempDir(), "reloads")
	s := h.service(t, Service{
		Name:         "app",
		OnNotify:     "reload",
		ReloadSignal: "USR2",
		Command:      &ServiceCommand{Shell: `trap 'echo reloaded >> ` + out + `' USR2; echo up > ` + out + `; while :; do sleep 1 & wait $!; done`},
	})
	checkApply(t, s)
	pid := h.childPid("app")
	testenv.WaitFor(t, "the trap", func() bool { b, _ := os.ReadFile(out); return len(b) > 0 })
	checkApply(t, s)
	if got, err := s.Refresh(t.Context(), &Env{}); err != nil || got != "reloaded" {
		t.Fatalf("Refresh = %q, %v; want reloaded", got, err)
	}
	testenv.WaitFor(t, "the reload", func() bool { b, _ := os.ReadFile(out); return bytes.Contains(b, []byte("reloaded")) })
	if now := h.childPid("app"); now != pid {
		t.Errorf("child %d after a reload, want %d", now, pid)
	}
}

func TestSupervisedServiceErrors(t *testing.T) {
	h := newSupervisedHost(t)
	s := h.service(t, Service{Name: "nobody-home", User: "no-such-user-x", Command: &ServiceCommand{Args: []string{"sleep", "300"}}})
	d, err := s.Check(t.Context(), &Env{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(t.Context(), &Env{}, d); err == nil || !strings.Contains(err.Error(), `no user "no-such-user-x"`) {
		t.Errorf("Apply = %v, want an error about the user", err)
	}
	s = h.service(t, Service{Name: "broken", Command: &ServiceCommand{Args: []string{"/nonexistent/daemon"}}})
	d, err = s.Check(t.Context(), &Env{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(t.Context(), &Env{}, d); err == nil || !strings.Contains(err.Error(), "start broken: fork/exec /nonexistent/daemon: no such file or directory") {
		t.Errorf("Apply = %v, want the start error", err)
	}
}
