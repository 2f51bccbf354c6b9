package containertest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/phenixhq/phenix/internal/testenv"
)

// Network creates a user-defined Docker bridge network for t and returns its
// name; it is removed when t ends, after the containers of t (register it
// before starting them). Containers on it reach each other by container
// name, and the test process reaches them at their IP (IP).
func Network(t testing.TB) string {
	t.Helper()
	testenv.Require(t, "docker")
	name := containerName(t.Name())
	if _, err := docker(t.Context(), nil, "network", "create", "--label", "phenix-test=1", name); err != nil {
		t.Fatalf("create network: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := docker(ctx, nil, "network", "rm", name); err != nil && !strings.Contains(err.Error(), "not found") {
			t.Errorf("remove network %s: %v", name, err)
		}
	})
	return name
}

// IP returns the container's address on network.
func (c *Container) IP(t testing.TB, network string) string {
	t.Helper()
	out, err := docker(t.Context(), nil, "inspect", "--format", "{{(index .NetworkSettings.Networks \""+network+"\").IPAddress}}", c.Name)
	if err != nil {
		t.Fatalf("address of %s: %v", c.Name, err)
	}
	ip := strings.TrimSpace(string(out))
	if ip == "" {
		t.Fatalf("%s has no address on %s", c.Name, network)
	}
	return ip
}

// Disconnect cuts the container off network, as a cable pulled out;
// Connect plugs it back.
func (c *Container) Disconnect(t testing.TB, network string) {
	t.Helper()
	if _, err := docker(t.Context(), nil, "network", "disconnect", "--force", network, c.Name); err != nil {
		t.Fatalf("disconnect %s: %v", c.Name, err)
	}
}

// Connect attaches the container to network.
func (c *Container) Connect(t testing.TB, network string) {
	t.Helper()
	if _, err := docker(t.Context(), nil, "network", "connect", network, c.Name); err != nil {
		t.Fatalf("connect %s: %v", c.Name, err)
	}
}

// Daemon runs args in the container in the background (docker exec
// --detach), its output appended to logFile inside the container.
func (c *Container) Daemon(t testing.TB, logFile string, args ...string) {
	t.Helper()
	const script = `f=$1; shift; exec "$@" >>"$f" 2>&1`
	full := append([]string{"exec", "--detach", c.Name, "sh", "-c", script, "sh", logFile}, args...)
	if _, err := docker(t.Context(), nil, full...); err != nil {
		t.Fatalf("start %v in %s: %v", args, c.Name, err)
	}
}
