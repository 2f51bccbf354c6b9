package containertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Command returns a command that runs args in the container through docker
// exec, with its standard input connected, for callers that need stdin,
// streaming or their own handling of the result.
func (c *Container) Command(ctx context.Context, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "docker", append([]string{"exec", "--interactive", c.Name}, args...)...)
}

// Exec runs args in the container as root and returns what it printed and
// its exit code. Exit codes 126 and 127 mean that args[0] could not be run
// or found, as in a shell. err reports only a failure to run docker itself:
// it did not start, ctx ended, or the engine refused (no such container).
func (c *Container) Exec(ctx context.Context, args ...string) (stdout, stderr string, exitCode int, err error) {
	o, e, code, err := c.exec(ctx, nil, args...)
	return string(o), string(e), code, err
}

func (c *Container) exec(ctx context.Context, stdin io.Reader, args ...string) (stdout, stderr []byte, exitCode int, err error) {
	var o, e bytes.Buffer
	cmd := c.Command(ctx, args...)
	cmd.Stdin = stdin
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case ctx.Err() != nil:
		return o.Bytes(), e.Bytes(), -1, fmt.Errorf("docker exec %s: %w", c.Name, ctx.Err())
	case errors.As(err, &exit) && !(exit.ExitCode() == 1 && daemonError(e.String())):
		return o.Bytes(), e.Bytes(), exit.ExitCode(), nil
	default:
		return o.Bytes(), e.Bytes(), -1, fmt.Errorf("docker exec %s: %v: %s", c.Name, err, strings.TrimSpace(e.String()))
	}
	return o.Bytes(), e.Bytes(), 0, nil
}

// MustExec runs args in the container and returns its standard output. It
// fails t, showing standard error and output, unless args exit with 0.
func (c *Container) MustExec(t testing.TB, args ...string) string {
	t.Helper()
	return string(c.mustExec(t, nil, args...))
}

func (c *Container) mustExec(t testing.TB, stdin io.Reader, args ...string) []byte {
	t.Helper()
	stdout, stderr, code, err := c.exec(t.Context(), stdin, args...)
	if err != nil {
		t.Fatal(err)
	}
	if code != 0 {
		t.Fatalf("%q in %s: exit code %d\nstderr:\n%s\nstdout:\n%s", args, c.Name, code, stderr, stdout)
	}
	return stdout
}

// WriteFile writes data to the file path in the container and sets its
// permissions to mode. A new file, and any missing parent directory, is owned
// by root.
func (c *Container) WriteFile(t testing.TB, path string, data []byte, mode os.FileMode) {
	t.Helper()
	c.mustExec(t, bytes.NewReader(data), "sh", "-c",
		`mkdir -p "$(dirname "$1")" && cat > "$1" && chmod "$2" "$1"`,
		"sh", path, fmt.Sprintf("%o", mode.Perm()))
}

// ReadFile returns the content of the file path in the container.
func (c *Container) ReadFile(t testing.TB, path string) []byte {
	t.Helper()
	return c.mustExec(t, nil, "cat", "--", path)
}

// CopyTo copies the host file or directory hostPath into the container as
// containerPath, with docker cp semantics: a directory is copied whole, and
// containerPath's parent must exist.
func (c *Container) CopyTo(t testing.TB, hostPath, containerPath string) {
	t.Helper()
	if _, err := docker(t.Context(), nil, "cp", hostPath, c.Name+":"+containerPath); err != nil {
		t.Fatalf("copy %s into %s: %v", hostPath, c.Name, err)
	}
}
