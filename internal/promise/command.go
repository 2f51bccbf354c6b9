package promise

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// cmdSpec describes a command for runCommand. Exactly one of Args and Shell
// is set.
type cmdSpec struct {
	// Args is the program and its arguments, run without a shell; Args[0]
	// is looked up in PATH when it has no slash.
	Args []string
	// Shell is a script run with /bin/sh -c.
	Shell string
	// Dir is the working directory; "" is the current one.
	Dir string
	// Env lists KEY=value pairs added to the environment, overriding the
	// inherited ones.
	Env []string
	// User, when not "", runs the command as this user (a name or a uid)
	// with the primary and supplementary groups /etc/passwd and /etc/group
	// give it, and sets HOME, USER and LOGNAME to match.
	User string
	// Stdin is the command's input; nil means /dev/null.
	Stdin io.Reader
	// Stdout, when not nil, receives the whole standard output as well.
	Stdout io.Writer
	// Timeout bounds the run; 0 means no bound besides ctx.
	Timeout time.Duration
}

// cmdResult is what a command that ran did.
type cmdResult struct {
	// ExitCode is the exit status, or -1 when a signal ended the process.
	ExitCode int
	// Signal is the signal that ended the process, if one did.
	Signal syscall.Signal
	// Stdout and Stderr hold the last maxCmdOutput bytes of each stream.
	Stdout, Stderr []byte
	// Duration is how long the command ran.
	Duration time.Duration
}

// maxCmdOutput bounds how much of each output stream runCommand keeps.
const maxCmdOutput = 4 << 10

// cmdWaitDelay is how long runCommand waits for the output pipes to close
// once the process has exited (or was killed): a background child that
// keeps them open is then cut off, not waited for.
const cmdWaitDelay = 2 * time.Second

// defaultPath is the PATH of commands when phenix itself runs without one.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// errTimeout is wrapped by runCommand's error when spec.Timeout expired.
var errTimeout = errors.New("timed out")

// runCommand runs spec and waits for it. Its contract:
//
//   - The command runs in its own process group (Setpgid). When the timeout
//     expires or ctx is cancelled, the whole group is sent SIGKILL, so
//     children started by a shell die with it, and runCommand returns an
//     error wrapping errTimeout or ctx.Err(), with the partial result.
//   - A command that ran to its end is not an error, whatever its exit
//     status: the caller judges cmdResult.ExitCode (see cmdResult.failure).
//     The error is non-nil only when the command could not start, was
//     killed by the timeout or the context, or its user does not exist.
//   - Output is bounded: only the last 4 KiB of stdout and of stderr are
//     kept (spec.Stdout, when set, receives all of stdout). Once the
//     process exits, a background child still holding its output open is
//     given cmdWaitDelay and then cut off; it goes on running.
//   - The environment is phenix's own plus spec.Env; PATH defaults to
//     defaultPath when phenix has none.
//
// It is safe to call from several goroutines at once.
func runCommand(ctx context.Context, spec cmdSpec) (cmdResult, error) {
	var res cmdResult
	var argv []string
	switch {
	case spec.Shell != "" && len(spec.Args) > 0:
		return res, errors.New("command has both a shell script and arguments")
	case spec.Shell != "":
		argv = []string{"/bin/sh", "-c", spec.Shell}
	case len(spec.Args) > 0:
		argv = spec.Args
	default:
		return res, errors.New("empty command")
	}
	if spec.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, spec.Timeout, errTimeout)
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = spec.Dir
	cmd.Stdin = spec.Stdin
	env := os.Environ()
	if os.Getenv("PATH") == "" {
		env = append(env, "PATH="+defaultPath)
	}
	attr := &syscall.SysProcAttr{Setpgid: true}
	if spec.User != "" {
		acct, err := lookupAccount(spec.User)
		if err != nil {
			return res, err
		}
		attr.Credential = acct.credential()
		env = append(env, "HOME="+acct.home, "USER="+acct.name, "LOGNAME="+acct.name)
	}
	cmd.Env = append(env, spec.Env...) // later entries win in exec.Cmd
	cmd.SysProcAttr = attr
	stdout, stderr := &tailBuffer{max: maxCmdOutput}, &tailBuffer{max: maxCmdOutput}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if spec.Stdout != nil {
		cmd.Stdout = io.MultiWriter(stdout, spec.Stdout)
	}
	cmd.Cancel = func() error {
		// The negative pid names the process group Setpgid created.
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	cmd.WaitDelay = cmdWaitDelay
	t0 := time.Now()
	err := cmd.Run()
	res.Duration = time.Since(t0)
	res.Stdout, res.Stderr = stdout.bytes(), stderr.bytes()
	if cmd.ProcessState != nil {
		res.ExitCode = cmd.ProcessState.ExitCode()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			res.Signal = ws.Signal()
		}
	}
	if err != nil && ctx.Err() != nil {
		if errors.Is(context.Cause(ctx), errTimeout) {
			return res, fmt.Errorf("%w after %v: killed its process group", errTimeout, spec.Timeout)
		}
		return res, context.Cause(ctx)
	}
	var exitErr *exec.ExitError
	switch {
	case err == nil, errors.As(err, &exitErr), errors.Is(err, exec.ErrWaitDelay):
		return res, nil
	}
	return res, err
}

// status describes how the command ended: "exit status 3" or "killed by
// signal 9".
func (r cmdResult) status() string {
	if r.Signal != 0 {
		return fmt.Sprintf("killed by signal %d (%v)", int(r.Signal), r.Signal)
	}
	return fmt.Sprintf("exit status %d", r.ExitCode)
}

// failure describes a failed run for an error message: the exit status and
// the last lines of stderr, or of stdout when stderr is empty.
func (r cmdResult) failure() string {
	msg := r.status()
	if tail := r.outputTail(); tail != "" {
		msg += ": " + tail
	}
	return msg
}

// maxTailLines is how many output lines an error message quotes.
const maxTailLines = 10

// outputTail returns the last lines of stderr, else of stdout, trimmed.
func (r cmdResult) outputTail() string {
	out := bytes.TrimSpace(r.Stderr)
	if len(out) == 0 {
		out = bytes.TrimSpace(r.Stdout)
	}
	lines := strings.Split(string(out), "\n")
	if len(lines) > maxTailLines {
		lines = lines[len(lines)-maxTailLines:]
	}
	return strings.TrimSpace(strings.Join(lines, "\n"))
}

// tailBuffer is an io.Writer that keeps the last max bytes written to it.
type tailBuffer struct {
	max       int
	buf       []byte
	truncated bool
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	n := len(p)
	if len(p) > b.max {
		p = p[len(p)-b.max:]
		b.truncated = true
	}
	if over := len(b.buf) + len(p) - b.max; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
		b.truncated = true
	}
	b.buf = append(b.buf, p...)
	return n, nil
}

// bytes returns what was kept, starting at a line boundary when the start
// was cut off.
func (b *tailBuffer) bytes() []byte {
	out := b.buf
	if b.truncated {
		if i := bytes.IndexByte(out, '\n'); i >= 0 && i+1 < len(out) {
			out = out[i+1:]
		}
	}
	return out
}

// shellQuote quotes s for a POSIX shell when it needs it, for display.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,+@%", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// shellJoin quotes and joins argv for display.
func shellJoin(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = shellQuote(a)
	}
	return strings.Join(q, " ")
}
