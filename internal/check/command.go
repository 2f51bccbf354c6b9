package check

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
)

// defaultPath is the PATH of commands when phenix itself runs without one.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

var errTimeout = errors.New("timed out")

// maxOutput is how much of a command's output, from its end, is kept.
const maxOutput = 4096

// runCommand runs c and passes when it exits with c.Status.
//
// The command runs in its own process group. At the timeout (or when ctx
// ends) the whole group is killed, and once the command has exited any
// process it left running in its group is killed too: a check leaves
// nothing behind. Its output goes to an unlinked temporary file rather
// than a pipe, so that waiting for it never outlasts the command.
func runCommand(ctx context.Context, c *CommandCheck, data map[string]any) error {
	var argv []string
	if c.Script != "" {
		s, err := render("script", c.Script, data)
		if err != nil {
			return err
		}
		argv = []string{"/bin/sh", "-c", s}
	} else {
		for i, a := range c.Argv {
			s, err := render(fmt.Sprintf("argv item %d", i+1), a, data)
			if err != nil {
				return err
			}
			argv = append(argv, s)
		}
	}
	out, err := os.CreateTemp("", "phenix-check-*")
	if err != nil {
		return fmt.Errorf("output file: %w", err)
	}
	defer out.Close()
	os.Remove(out.Name())

	runCtx, cancel := context.WithTimeoutCause(ctx, c.Timeout, errTimeout)
	defer cancel()
	cmd := exec.CommandContext(runCtx, argv[0], argv[1:]...)
	cmd.Env = os.Environ()
	if os.Getenv("PATH") == "" {
		cmd.Env = append(cmd.Env, "PATH="+defaultPath)
	}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		// The negative pid names the process group Setpgid created.
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	err = cmd.Run()
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // what it left running
	}
	output := tail(out)
	switch {
	case err != nil && runCtx.Err() != nil && errors.Is(context.Cause(runCtx), errTimeout):
		return fmt.Errorf("timed out after %v: killed its process group (%s)", c.Timeout, output)
	case err != nil && ctx.Err() != nil:
		return fmt.Errorf("%v: killed its process group (%s)", context.Cause(ctx), output)
	case cmd.ProcessState == nil:
		return err // it did not start
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return fmt.Errorf("killed by signal %d (%v), want exit status %d (%s)", int(ws.Signal()), ws.Signal(), c.Status, output)
	}
	if code := cmd.ProcessState.ExitCode(); code != c.Status {
		return fmt.Errorf("exit status %d, want %d (%s)", code, c.Status, output)
	}
	return nil
}

// tail quotes the end of a command's output, as excerpt does a body's
// start: `output "not ready"` or "no output".
func tail(f *os.File) string {
	st, err := f.Stat()
	if err != nil {
		return "output unreadable: " + err.Error()
	}
	n := min(st.Size(), maxOutput)
	b := make([]byte, n)
	if _, err := f.ReadAt(b, st.Size()-n); err != nil && err != io.EOF {
		return "output unreadable: " + err.Error()
	}
	q := excerptEnd(b)
	if q == "" {
		return "no output"
	}
	return "output " + q
}
