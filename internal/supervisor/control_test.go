package supervisor

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/phenixhq/phenix/internal/testenv"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.Cleanup()
	os.Exit(code)
}

// service is a service whose files live in a temporary directory, run by a
// real `phenix supervise`.
type service struct {
	t         *testing.T
	exe       string
	statePath string
	st        *State
}

func newService(t *testing.T, name string, command ...string) *service {
	t.Helper()
	exe := testenv.PhenixBinary(t)
	root := t.TempDir()
	dirs := Dirs{State: filepath.Join(root, "state"), Run: filepath.Join(root, "run"), Log: filepath.Join(root, "log")}
	st := &State{
		Spec: Spec{
			Name:         name,
			Command:      command,
			Log:          dirs.LogFile(name),
			Pidfile:      dirs.Pidfile(name),
			ReloadSignal: "HUP",
			StopSignal:   "TERM",
			StopTimeout:  5 * time.Second,
		},
		SupervisorPidfile: dirs.SupervisorPidfile(name),
	}
	s := &service{t: t, exe: exe, statePath: dirs.StateFile(name), st: st}
	s.write()
	t.Cleanup(func() {
		if err := Stop(context.Background(), st.SupervisorPidfile, s.statePath); err != nil {
			t.Errorf("cleanup: %v", err)
		}
		if t.Failed() {
			b, _ := os.ReadFile(st.Spec.Log)
			t.Logf("%s:\n%s", st.Spec.Log, b)
		}
	})
	return s
}

func (s *service) write() {
	s.t.Helper()
	if err := WriteState(s.statePath, s.st); err != nil {
		s.t.Fatal(err)
	}
}

func (s *service) pid() int { return Pid(s.st.SupervisorPidfile, s.statePath) }

// waitChild waits for a live child other than old.
func (s *service) waitChild(old int) int {
	s.t.Helper()
	pid, err := WaitChild(s.t.Context(), s.st.Spec.Pidfile, old, 10*time.Second)
	if err != nil {
		s.t.Fatal(err)
	}
	return pid
}

func TestStartDetachesAndSignalsDriveIt(t *testing.T) {
	dir := t.TempDir()
	readyFile, reloaded := filepath.Join(dir, "ready"), filepath.Join(dir, "reloaded")
	s := newService(t, "web", "/bin/sh", "-c",
		`trap 'echo reloaded >> `+reloaded+`' HUP; echo $$ > `+readyFile+`; while :; do sleep 1 & wait $!; done`)
	if err := Start(t.Context(), s.exe, s.statePath); err != nil {
		t.Fatal(err)
	}
	sup := s.pid()
	if sup == 0 {
		t.Fatal("no supervisor running after Start")
	}
	if sid, _ := unix.Getsid(sup); sid != sup {
		t.Errorf("supervisor %d is in session %d, want its own", sup, sid)
	}
	first := s.waitChild(0)

	// The supervisor restarts a child that dies.
	syscall.Kill(first, syscall.SIGKILL)
	second := s.waitChild(first)

	// SIGHUP to the supervisor restarts the child.
	if err := Signal(s.st.SupervisorPidfile, s.statePath, syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	third := s.waitChild(second)

	// SIGUSR1 sends the reload signal (HUP) to the child.
	testenv.WaitFor(t, "the script's trap", func() bool {
		b, _ := os.ReadFile(readyFile)
		return strings.TrimSpace(string(b)) == strconv.Itoa(third)
	})
	if err := Signal(s.st.SupervisorPidfile, s.statePath, syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, "the reload", func() bool { b, _ := os.ReadFile(reloaded); return bytes.Contains(b, []byte("reloaded")) })
	if now := ChildPid(s.st.Spec.Pidfile); now != third {
		t.Errorf("child %d after a reload, want %d", now, third)
	}

	// Stop ends the supervisor and the child's process group.
	if err := Stop(t.Context(), s.st.SupervisorPidfile, s.statePath); err != nil {
		t.Fatal(err)
	}
	if s.pid() != 0 || ChildPid(s.st.Spec.Pidfile) != 0 {
		t.Errorf("still running after Stop: supervisor %d, child %d", s.pid(), ChildPid(s.st.Spec.Pidfile))
	}
	testenv.WaitFor(t, "the child's process group to go", func() bool { return len(groupMembers(third)) == 0 })
	if err := Signal(s.st.SupervisorPidfile, s.statePath, syscall.SIGHUP); err != ErrNotRunning {
		t.Errorf("Signal after Stop = %v, want ErrNotRunning", err)
	}
}

func TestStartReportsAChildThatCannotStart(t *testing.T) {
	s := newService(t, "broken", "/nonexistent/daemon")
	err := Start(t.Context(), s.exe, s.statePath)
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/daemon") {
		t.Fatalf("Start = %v, want an error naming the program", err)
	}
	if s.pid() != 0 {
		t.Error("a supervisor runs after a failed start")
	}
}

func TestStartRefusesASecondSupervisor(t *testing.T) {
	s := newService(t, "once", "sleep", "300")
	if err := Start(t.Context(), s.exe, s.statePath); err != nil {
		t.Fatal(err)
	}
	err := Start(t.Context(), s.exe, s.statePath)
	if err == nil || !strings.Contains(err.Error(), "already supervised") {
		t.Fatalf("second Start = %v, want \"already supervised\"", err)
	}
}

func TestBootStartsEnabledServices(t *testing.T) {
	on := newService(t, "on", "sleep", "300")
	on.st.Enabled = true
	on.write()
	// A disabled service in the same directory is left alone.
	off := &State{Spec: on.st.Spec, SupervisorPidfile: filepath.Join(filepath.Dir(on.st.SupervisorPidfile), "off.supervisor.pid")}
	off.Spec.Name = "off"
	if err := WriteState(filepath.Join(filepath.Dir(on.statePath), "off.json"), off); err != nil {
		t.Fatal(err)
	}
	started, err := Boot(t.Context(), on.exe, filepath.Dir(on.statePath))
	if err != nil || len(started) != 1 || started[0] != "on" {
		t.Fatalf("Boot = %q, %v; want [on]", started, err)
	}
	if on.pid() == 0 {
		t.Fatal("enabled service not running after Boot")
	}
	// Booting again starts nothing: it runs already.
	if started, err := Boot(t.Context(), on.exe, filepath.Dir(on.statePath)); err != nil || len(started) != 0 {
		t.Errorf("second Boot = %q, %v; want nothing started", started, err)
	}
}
