package supervisor

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/phenixhq/phenix/internal/testenv"
)

// harness runs a Supervisor in the test process.
type harness struct {
	t       *testing.T
	s       *Supervisor
	sigs    chan os.Signal
	readyCh chan error // what Ready reported
	done    chan error // Run's result
	stop    context.CancelFunc
}

// testSpec is a spec whose files are in a temporary directory.
func testSpec(t *testing.T, command ...string) Spec {
	dir := t.TempDir()
	return Spec{
		Name:         "svc",
		Command:      command,
		Log:          filepath.Join(dir, "svc.log"),
		Pidfile:      filepath.Join(dir, "run", "svc.pid"),
		ReloadSignal: "HUP",
		StopSignal:   "TERM",
		StopTimeout:  5 * time.Second,
	}
}

// run starts the supervisor and waits until it reports ready; it fails the
// test if the first start fails. Cleanup stops it.
func run(t *testing.T, spec Spec) *harness {
	t.Helper()
	h := startHarness(t, spec)
	if err := h.ready(); err != nil {
		t.Fatalf("supervisor did not start: %v", err)
	}
	return h
}

func startHarness(t *testing.T, spec Spec) *harness {
	t.Helper()
	// Log where phenix supervise logs: to the service's log file.
	logf, err := os.OpenFile(spec.Log, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { logf.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan error, 1)
	h := &harness{t: t, sigs: make(chan os.Signal, 1), done: make(chan error, 1), stop: cancel}
	h.s = &Supervisor{
		Spec:    spec,
		Pidfile: filepath.Join(filepath.Dir(spec.Pidfile), spec.Name+".supervisor.pid"),
		Signals: h.sigs,
		Ready:   func(err error) { ready <- err },
		Log:     slog.New(slog.NewTextHandler(logf, nil)),
		Backoff: Backoff{Min: 20 * time.Millisecond, Max: 100 * time.Millisecond},
	}
	go func() { h.done <- h.s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-h.done
		if t.Failed() {
			b, _ := os.ReadFile(spec.Log)
			t.Logf("%s:\n%s", spec.Log, b)
		}
	})
	h.readyCh = ready
	return h
}

// ready waits for the supervisor's report on its first start.
func (h *harness) ready() error {
	select {
	case err := <-h.readyCh:
		return err
	case <-time.After(10 * time.Second):
		h.t.Fatal("supervisor did not report in 10s")
		return nil
	}
}

// childPid waits for a live child other than old and returns its pid.
func (h *harness) childPid(old int) int {
	h.t.Helper()
	var pid int
	testenv.WaitFor(h.t, "a new child", func() bool {
		pid = ChildPid(h.s.Spec.Pidfile)
		return pid > 0 && pid != old
	})
	return pid
}

// exit sends SIGTERM and waits for Run to return.
func (h *harness) exit() error {
	h.t.Helper()
	h.sigs <- syscall.SIGTERM
	select {
	case err := <-h.done:
		h.done <- err // for Cleanup
		return err
	case <-time.After(20 * time.Second):
		h.t.Fatal("Run did not return after SIGTERM")
		return nil
	}
}

func TestRestartsAChildThatDies(t *testing.T) {
	h := run(t, testSpec(t, "sleep", "300"))
	first := h.childPid(0)
	if got := readPid(h.s.Pidfile); got != os.Getpid() {
		t.Errorf("supervisor pid file holds %d, want %d", got, os.Getpid())
	}
	syscall.Kill(first, syscall.SIGKILL)
	second := h.childPid(first)
	if !alive(second) {
		t.Errorf("restarted child %d is not alive", second)
	}
	log, _ := os.ReadFile(h.s.Spec.Log)
	if !strings.Contains(string(log), "exited") {
		t.Errorf("log does not record the exit:\n%s", log)
	}
}

func TestSIGHUPRestartsTheChild(t *testing.T) {
	h := run(t, testSpec(t, "sleep", "300"))
	first := h.childPid(0)
	h.sigs <- syscall.SIGHUP
	second := h.childPid(first)
	testenv.WaitFor(t, "the first child to be gone", func() bool { return !alive(first) })
	if second == first {
		t.Fatal("same pid after SIGHUP")
	}
}

func TestReloadSendsTheReloadSignal(t *testing.T) {
	dir := t.TempDir()
	readyFile, reloaded := filepath.Join(dir, "ready"), filepath.Join(dir, "reloaded")
	script := `trap 'echo reloaded >> ` + reloaded + `' USR2; echo up > ` + readyFile + `; while :; do sleep 1 & wait $!; done`
	spec := testSpec(t, "/bin/sh", "-c", script)
	spec.ReloadSignal = "USR2"
	h := run(t, spec)
	pid := h.childPid(0)
	testenv.WaitFor(t, "the script to set its trap", func() bool { _, err := os.Stat(readyFile); return err == nil })
	h.sigs <- syscall.SIGUSR1
	testenv.WaitFor(t, "the reload to be seen", func() bool {
		b, _ := os.ReadFile(reloaded)
		return bytes.Contains(b, []byte("reloaded"))
	})
	if now := ChildPid(spec.Pidfile); now != pid {
		t.Errorf("child pid %d after reload, want %d unchanged", now, pid)
	}
}

func TestSIGTERMStopsTheProcessGroup(t *testing.T) {
	// A shell with two children of its own in its process group.
	h := run(t, testSpec(t, "/bin/sh", "-c", "sleep 300 & sleep 300 & wait"))
	pid := h.childPid(0)
	testenv.WaitFor(t, "the shell's children", func() bool { return len(groupMembers(pid)) >= 3 })
	if err := h.exit(); err != nil {
		t.Fatalf("Run = %v, want nil", err)
	}
	testenv.WaitFor(t, "the child's process group to go", func() bool { return len(groupMembers(pid)) == 0 })
	for _, f := range []string{h.s.Spec.Pidfile, h.s.Pidfile} {
		if _, err := os.Stat(f); err == nil {
			t.Errorf("%s remains after exit", f)
		}
	}
}

func TestStopKillsAChildThatIgnoresTheStopSignal(t *testing.T) {
	dir := t.TempDir()
	readyFile := filepath.Join(dir, "ready")
	spec := testSpec(t, "/bin/sh", "-c", `trap '' TERM; echo up > `+readyFile+`; while :; do sleep 1; done`)
	spec.StopTimeout = 200 * time.Millisecond
	h := run(t, spec)
	pid := h.childPid(0)
	testenv.WaitFor(t, "the script to set its trap", func() bool { _, err := os.Stat(readyFile); return err == nil })
	t0 := time.Now()
	if err := h.exit(); err != nil {
		t.Fatalf("Run = %v, want nil", err)
	}
	if took := time.Since(t0); took < spec.StopTimeout {
		t.Errorf("stopped in %v, before the stop timeout %v: the trap was not honoured", took, spec.StopTimeout)
	}
	testenv.WaitFor(t, "the child's process group to go", func() bool { return len(groupMembers(pid)) == 0 })
	log, _ := os.ReadFile(spec.Log)
	if !strings.Contains(string(log), "not stopped in time") {
		t.Errorf("log does not say the child was killed:\n%s", log)
	}
}

func TestFirstStartFailureEndsRun(t *testing.T) {
	h := startHarness(t, testSpec(t, "/nonexistent/program"))
	if err := h.ready(); err == nil || !strings.Contains(err.Error(), "/nonexistent/program") {
		t.Errorf("ready(%v), want an error naming the program", err)
	}
	if err := <-h.done; err == nil {
		t.Error("Run = nil, want the start error")
	}
	h.done <- nil
	if _, err := os.Stat(h.s.Pidfile); err == nil {
		t.Error("supervisor pid file remains after a failed start")
	}
}

func TestOneSupervisorPerService(t *testing.T) {
	spec := testSpec(t, "sleep", "300")
	run(t, spec)
	h := startHarness(t, spec)
	if err := h.ready(); err == nil || !strings.Contains(err.Error(), "already supervised by pid "+strconv.Itoa(os.Getpid())) {
		t.Errorf("second supervisor: ready(%v), want \"already supervised\"", err)
	}
}

func TestChildEnvironment(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "env")
	spec := testSpec(t, "/bin/sh", "-c", "env > "+out+".tmp; pwd >> "+out+".tmp; mv "+out+".tmp "+out+"; exec sleep 300")
	spec.Env = map[string]string{"GREETING": "hello", "PATH": "/usr/bin:/bin"}
	spec.Cwd = dir
	run(t, spec)
	var b []byte
	testenv.WaitFor(t, "the environment dump", func() bool { b, _ = os.ReadFile(out); return len(b) > 0 })
	got := string(b)
	for _, want := range []string{"GREETING=hello\n", "PATH=/usr/bin:/bin\n", dir + "\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("child environment lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "GOPATH=") || strings.Contains(got, "GOFLAGS=") {
		t.Errorf("child inherited the supervisor's environment:\n%s", got)
	}
}

func TestBackoffStep(t *testing.T) {
	b := Backoff{}.withDefaults()
	for _, tt := range []struct {
		cur, uptime, wait, next time.Duration
	}{
		{cur: time.Second, uptime: 0, wait: time.Second, next: 2 * time.Second},
		{cur: 2 * time.Second, uptime: 3 * time.Second, wait: 2 * time.Second, next: 4 * time.Second},
		{cur: 16 * time.Second, uptime: 0, wait: 16 * time.Second, next: 30 * time.Second},
		{cur: 30 * time.Second, uptime: 0, wait: 30 * time.Second, next: 30 * time.Second},
		{cur: 30 * time.Second, uptime: 10 * time.Second, wait: time.Second, next: 2 * time.Second},
	} {
		wait, next := b.step(tt.cur, tt.uptime)
		if wait != tt.wait || next != tt.next {
			t.Errorf("step(%v, %v) = %v, %v; want %v, %v", tt.cur, tt.uptime, wait, next, tt.wait, tt.next)
		}
	}
}

// groupMembers lists the live processes whose process group is pgid.
func groupMembers(pgid int) []int {
	var out []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// Fields after the command: state ppid pgrp …
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(f) > 2 && f[2] == strconv.Itoa(pgid) && f[0] != "Z" {
			out = append(out, pid)
		}
	}
	return out
}
