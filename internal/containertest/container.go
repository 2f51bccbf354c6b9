package containertest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/phenixhq/phenix/internal/testenv"
)

// A Container is a running Docker container that belongs to one test. Its
// methods may be called from several goroutines.
type Container struct {
	// Name is the container's docker name, unique to the test.
	Name string
}

// An Option changes how Start runs a container.
type Option func(*settings)

type settings struct {
	network string
	mounts  []string // docker run --mount values
}

// WithNetwork attaches the container to the docker network name, such as
// "bridge" to reach the outside world. By default a container has no network
// ("none").
func WithNetwork(name string) Option {
	return func(s *settings) { s.network = name }
}

// WithPhenix mounts the phenix binary at path, read-only, at
// /usr/local/bin/phenix. Use testenv.PhenixBinary for path: it is static and
// so runs in the container.
func WithPhenix(path string) Option {
	return WithBind(path, "/usr/local/bin/phenix", true)
}

// WithBind mounts the host file or directory hostPath at containerPath.
// Start fails if hostPath does not exist.
func WithBind(hostPath, containerPath string, readOnly bool) Option {
	v := "type=bind,source=" + hostPath + ",target=" + containerPath
	if readOnly {
		v += ",readonly"
	}
	return func(s *settings) { s.mounts = append(s.mounts, v) }
}

// Start runs a container of image for t, detached, with docker-init as its
// process 1 so that orphaned daemons are reaped. The container is removed
// when t ends. Start skips t without Docker.
func Start(t testing.TB, image string, opts ...Option) *Container {
	t.Helper()
	testenv.Require(t, "docker")
	s := settings{network: "none"}
	for _, o := range opts {
		o(&s)
	}
	c := &Container{Name: containerName(t.Name())}
	args := []string{"run", "--detach", "--rm", "--init",
		"--name", c.Name, "--label", "phenix-test=1", "--network", s.network}
	for _, m := range s.mounts {
		args = append(args, "--mount", m)
	}
	args = append(args, image)
	if _, err := docker(t.Context(), nil, args...); err != nil {
		t.Fatalf("start container of %s: %v", image, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_, err := docker(ctx, nil, "rm", "--force", "--volumes", c.Name)
		if err != nil && !gone(err) {
			t.Errorf("remove container %s: %v", c.Name, err)
		}
	})
	return c
}

// Stop stops the container gracefully (SIGTERM, then SIGKILL after 10
// seconds). Being started with --rm, it is then removed.
func (c *Container) Stop(t testing.TB) {
	t.Helper()
	if _, err := docker(t.Context(), nil, "stop", c.Name); err != nil {
		t.Fatalf("stop container %s: %v", c.Name, err)
	}
}

// Kill kills the container at once with SIGKILL; it is then removed.
func (c *Container) Kill(t testing.TB) {
	t.Helper()
	if _, err := docker(t.Context(), nil, "kill", c.Name); err != nil {
		t.Fatalf("kill container %s: %v", c.Name, err)
	}
}

// containerName returns a docker container name made from testName, unique
// thanks to a random suffix.
func containerName(testName string) string {
	var b strings.Builder
	b.WriteString("phenix-test-")
	for _, r := range strings.ToLower(testName) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '.', r == '-', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
		if b.Len() >= 60 {
			break
		}
	}
	suffix := make([]byte, 4)
	rand.Read(suffix)
	return b.String() + "-" + hex.EncodeToString(suffix)
}

// gone reports whether err, from docker rm, says that the container is
// already removed or being removed, as after Stop or Kill.
func gone(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "No such container") || strings.Contains(msg, "already in progress")
}
