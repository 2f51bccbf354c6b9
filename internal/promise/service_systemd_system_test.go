package promise_test

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/phenixhq/phenix/internal/containertest"
	"github.com/phenixhq/phenix/internal/testenv"
)

// TestServiceSystemdSystem drives a real systemd, PID 1 of a container.
// It needs what the other system tests do not: network access to the
// Debian mirror, to install systemd into the test image once (cached as an
// image tag), and a Docker engine that lets a container run systemd
// (CAP_SYS_ADMIN, no seccomp filter, the host's cgroup v1 hierarchy).
func TestServiceSystemdSystem(t *testing.T) {
	testenv.Require(t, "docker", "debootstrap")
	c := startSystemd(t, systemdImage(t, containertest.DebianImage(t)), testenv.PhenixBinary(t))

	bundle := func(conf, extra string) string {
		return `promises:
  - file: /etc/systemd/system/ticker.service
    content: |
      [Unit]
      Description=ticker
      [Service]
      ExecStart=/bin/sleep infinity
      [Install]
      WantedBy=multi-user.target
  - file: /etc/ticker.conf
    content: "` + conf + `\n"
    notify: service:ticker
  - service: ticker
    require: file:/etc/systemd/system/ticker.service
` + extra
	}
	running := bundle("v1", "    enabled: true\n")
	got := mustChange(t, c, running)
	if s := got["service:ticker"].Diff.Summary(); s != "state stopped → running, enabled false → true" {
		t.Errorf("service:ticker: %q", s)
	}
	if out := c.MustExec(t, "systemctl", "is-active", "ticker"); strings.TrimSpace(out) != "active" {
		t.Errorf("is-active: %q", out)
	}
	if out := c.MustExec(t, "systemctl", "is-enabled", "ticker"); strings.TrimSpace(out) != "enabled" {
		t.Errorf("is-enabled: %q", out)
	}
	mustConverged(t, c, running)

	pid := c.MustExec(t, "systemctl", "show", "--property=MainPID", "ticker")
	v2 := bundle("v2", "    enabled: true\n")
	if r := mustChange(t, c, v2)["service:ticker"]; r.Refreshed != "restarted" {
		t.Errorf("notified: refreshed %q, want restarted", r.Refreshed)
	}
	if now := c.MustExec(t, "systemctl", "show", "--property=MainPID", "ticker"); now == pid {
		t.Errorf("MainPID unchanged after a restart: %s", now)
	}
	mustConverged(t, c, v2)

	stopped := bundle("v2", "    enabled: false\n    state: stopped\n")
	if s := mustChange(t, c, stopped)["service:ticker"].Diff.Summary(); s != "state running → stopped, enabled true → false" {
		t.Errorf("service:ticker: %q", s)
	}
	if code, out := exitCode(t, c, "systemctl", "is-active", "ticker"); code == 0 {
		t.Errorf("still active after stop: %s", out)
	}
	mustConverged(t, c, stopped)

	// A static unit cannot be enabled: a clear error, not endless changes.
	_, rep, code := apply(t, c, "promises:\n  - service: systemd-journald\n    enabled: true\n")
	if code != 1 || !strings.Contains(rep.Results[0].Error, "its unit file state is static") {
		t.Errorf("enabling a static unit: exit %d, %q", code, rep.Results[0].Error)
	}
}

// systemdImage returns base with systemd installed, building it once per
// base image (it needs the network).
func systemdImage(t *testing.T, base string) string {
	t.Helper()
	tag := base + "-systemd"
	if dockerRun("image", "inspect", tag) == nil {
		return tag
	}
	name := "phenix-systemd-build-" + strings.ReplaceAll(strings.ToLower(t.Name()), "/", "_")
	dockerRun("rm", "-f", name)
	if err := dockerRun("run", "--name", name, "--network", "bridge", base, "sh", "-c",
		"apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends systemd systemd-sysv"); err != nil {
		dockerRun("rm", "-f", name)
		t.Fatalf("install systemd into %s: %v", base, err)
	}
	defer dockerRun("rm", "-f", name)
	if err := dockerRun("commit", name, tag); err != nil {
		t.Fatal(err)
	}
	return tag
}

// startSystemd runs image with systemd as PID 1 and phenix mounted, and
// waits until systemd has booted.
func startSystemd(t *testing.T, image, phenix string) *containertest.Container {
	t.Helper()
	c := &containertest.Container{Name: "phenix-test-systemd-" + time.Now().Format("150405.000000")}
	if err := dockerRun("run", "--detach", "--name", c.Name, "--label", "phenix-test=1", "--network", "none",
		"--cap-add", "SYS_ADMIN", "--security-opt", "seccomp=unconfined",
		"--mount", "type=bind,source=/sys/fs/cgroup,target=/sys/fs/cgroup",
		"--mount", "type=bind,source="+phenix+",target=/usr/local/bin/phenix,readonly",
		"--tmpfs", "/run", "--tmpfs", "/run/lock", "--env", "container=docker",
		image, "/lib/systemd/systemd"); err != nil {
		t.Fatalf("start systemd: %v", err)
	}
	t.Cleanup(func() { dockerRun("rm", "-f", c.Name) })
	deadline := time.Now().Add(time.Minute)
	for {
		out, _, _, err := c.Exec(t.Context(), "systemctl", "is-system-running")
		if s := strings.TrimSpace(out); err == nil && (s == "running" || s == "degraded") {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("systemd did not boot in a minute: %q %v", out, err)
		}
	}
}

// dockerRun runs docker with args, returning an error with its output.
func dockerRun(args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "docker", args...).CombinedOutput()
	if err != nil {
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		return fmt.Errorf("docker %s: %v: %s", strings.Join(args, " "), err, lines[len(lines)-1])
	}
	return nil
}
