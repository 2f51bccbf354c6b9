package containertest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"strings"
)

// docker runs the docker CLI with args, stdin as its standard input (nil for
// none), and returns its standard output. A failure becomes an error that
// carries the CLI's standard error.
func docker(ctx context.Context, stdin io.Reader, args ...string) ([]byte, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Stdin = stdin
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("docker %s: %v: %s", args[0], err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}

// daemonError reports whether stderr, from a docker exec that exited 1, comes
// from the docker CLI or engine (no such container, container not running)
// rather than from the command it ran.
func daemonError(stderr string) bool {
	return strings.HasPrefix(stderr, "Error response from daemon:") ||
		strings.HasPrefix(stderr, "Error: No such container")
}
