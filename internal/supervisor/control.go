package supervisor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ErrNotRunning is returned by Signal when no supervisor keeps the service.
var ErrNotRunning = errors.New("supervisor not running")

// readyTimeout bounds how long Start waits for a supervisor to report that
// its child started.
const readyTimeout = 30 * time.Second

// pollInterval is how often Stop and WaitChild look at the process table.
const pollInterval = 20 * time.Millisecond

// Start starts `exe supervise --state statePath` in a new session, detached
// from the caller: stdin is /dev/null and stdout and stderr are appended to
// the service's log. It returns once the supervisor reports that the child
// started, or with the error that stopped it.
//
// The supervisor stays a child of the caller until the caller exits; a
// long-lived caller should run Start in a short-lived process, as phenix
// apply does with `phenix supervise --detach`.
func Start(ctx context.Context, exe, statePath string) error {
	st, err := ReadState(statePath)
	if err != nil {
		return err
	}
	logf, err := openLog(st.Spec.Log)
	if err != nil {
		return err
	}
	defer logf.Close()
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	cmd := exec.Command(exe, "supervise", "--state", statePath, "--ready-fd", "3")
	cmd.Dir = "/"
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.ExtraFiles = []*os.File{w}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	w.Close()
	if err != nil {
		return fmt.Errorf("start supervisor: %w", err)
	}
	deadline := time.Now().Add(readyTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	r.SetReadDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { r.SetReadDeadline(time.Now()) })
	defer stop()
	msg, rerr := io.ReadAll(io.LimitReader(r, 4096))
	if rerr == nil && string(msg) == "ok\n" {
		return cmd.Process.Release()
	}
	if rerr != nil { // timed out or cancelled: do not leave it half started
		cmd.Process.Kill()
	}
	cmd.Wait()
	switch text := strings.TrimSpace(string(msg)); {
	case rerr != nil && ctx.Err() != nil:
		return ctx.Err()
	case rerr != nil:
		return fmt.Errorf("supervisor of %s did not report in %v: killed it", st.Spec.Name, readyTimeout)
	case text == "":
		return fmt.Errorf("supervisor of %s exited before starting it (see %s)", st.Spec.Name, st.Spec.Log)
	default:
		return errors.New(text)
	}
}

// Pid returns the pid of the live supervisor recorded in pidfile that
// keeps the service of statePath, or 0 when there is none: the file is
// missing, the process is gone, or it is not `phenix supervise --state
// statePath` (the pid was reused).
func Pid(pidfile, statePath string) int {
	pid := readPid(pidfile)
	if pid <= 0 {
		return 0
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return 0
	}
	if !isSupervise(strings.Split(strings.TrimRight(string(b), "\x00"), "\x00"), statePath) {
		return 0
	}
	return pid
}

// isSupervise reports whether args is the command line of the supervisor
// of statePath.
func isSupervise(args []string, statePath string) bool {
	if len(args) < 2 || args[1] != "supervise" {
		return false
	}
	rest := args[2:]
	found := false
	for i, a := range rest {
		switch {
		case a == "--detach" || a == "--boot":
			return false
		case a == "--state="+statePath, a == "--state" && i+1 < len(rest) && rest[i+1] == statePath:
			found = true
		}
	}
	return found
}

// ChildPid returns the pid recorded in a child's pid file when that process
// is alive (and not a zombie), or 0.
func ChildPid(pidfile string) int {
	pid := readPid(pidfile)
	if pid <= 0 || !alive(pid) {
		return 0
	}
	return pid
}

// Signal sends sig to the supervisor of statePath: SIGHUP to restart the
// child, SIGUSR1 to reload it.
func Signal(pidfile, statePath string, sig syscall.Signal) error {
	pid := Pid(pidfile, statePath)
	if pid == 0 {
		return ErrNotRunning
	}
	return syscall.Kill(pid, sig)
}

// Stop asks the supervisor of the service to stop its child and exit, and
// waits until it has, for up to the Spec's stop timeout and five seconds.
// Should it not exit, Stop kills the supervisor and the child's process
// group. A service that is not running is not an error.
func Stop(ctx context.Context, pidfile, statePath string) error {
	pid := Pid(pidfile, statePath)
	if pid == 0 {
		return nil
	}
	timeout := defaultStopTimeout
	childPidfile := ""
	if st, err := ReadState(statePath); err == nil {
		timeout, childPidfile = st.Spec.StopTimeout, st.Spec.Pidfile
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("stop supervisor %d: %w", pid, err)
	}
	gone := func() bool { return Pid(pidfile, statePath) == 0 }
	if err := poll(ctx, timeout+5*time.Second, gone); err == nil {
		return nil
	} else if ctx.Err() != nil {
		return err
	}
	syscall.Kill(pid, syscall.SIGKILL)
	if childPidfile != "" {
		if c := ChildPid(childPidfile); c > 0 {
			signalGroup(c, syscall.SIGKILL)
		}
		os.Remove(childPidfile)
	}
	if err := poll(ctx, 5*time.Second, gone); err != nil {
		return fmt.Errorf("supervisor %d did not exit, even killed", pid)
	}
	return nil
}

// defaultStopTimeout is used by Stop when the state file cannot be read.
const defaultStopTimeout = 10 * time.Second

// WaitChild waits until the child's pid file names a live process other
// than old, and returns its pid.
func WaitChild(ctx context.Context, pidfile string, old int, timeout time.Duration) (int, error) {
	var pid int
	err := poll(ctx, timeout, func() bool {
		pid = ChildPid(pidfile)
		return pid > 0 && pid != old
	})
	if err != nil {
		return 0, fmt.Errorf("no new process in %s: %w", pidfile, err)
	}
	return pid, nil
}

// poll calls cond until it returns true, ctx is done or timeout passed.
func poll(ctx context.Context, timeout time.Duration, cond func() bool) error {
	ctx, cancel := context.WithTimeoutCause(ctx, timeout, fmt.Errorf("timed out after %v", timeout))
	defer cancel()
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-t.C:
		}
	}
	return nil
}

// readPid reads a pid file; 0 when it is missing or malformed.
func readPid(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0
	}
	return pid
}

// alive reports whether pid is a process that has not exited. A zombie,
// exited but not yet waited for by its parent, is not alive.
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// The state follows the command name, which is in parentheses and may
	// itself hold spaces or parentheses.
	i := bytes.LastIndexByte(b, ')')
	return i >= 0 && i+2 < len(b) && b[i+2] != 'Z' && b[i+2] != 'X'
}

// Boot starts the supervisor of every enabled service whose state file is
// in dir and that is not running. It goes on after a failure, and returns
// the names of the services it started and the failures, joined.
func Boot(ctx context.Context, exe, dir string) (started []string, err error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, p := range paths {
		st, err := ReadState(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !st.Enabled || Pid(st.SupervisorPidfile, p) != 0 {
			continue
		}
		if err := Start(ctx, exe, p); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", st.Spec.Name, err))
			continue
		}
		started = append(started, st.Spec.Name)
	}
	return started, errors.Join(errs...)
}
