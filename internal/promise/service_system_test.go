package promise_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/phenixhq/phenix/internal/containertest"
	"github.com/phenixhq/phenix/internal/engine"
)

// TestServiceSystem runs a service in a container without systemd, where
// phenix picks its own supervisor, through phenix apply.
func TestServiceSystem(t *testing.T) {
	t.Parallel()
	c := startDebian(t)
	if code, _ := exitCode(t, c, "test", "-d", "/run/systemd/system"); code == 0 {
		t.Fatal("the test image runs systemd; this test is about hosts without it")
	}
	bundle := func(conf, state string) string {
		return `promises:
  - file: /etc/ticker.conf
    content: "` + conf + `\n"
    notify: service:ticker
  - service: ticker
    state: ` + state + `
    enabled: true
    user: nobody
    env: {TICKER_CONF: /etc/ticker.conf}
    command: [sleep, infinity]
`
	}
	running := bundle("v1", "running")

	// First apply: the service starts; the file's notification does not
	// restart what was just started.
	got := mustChange(t, c, running)
	svc := got["service:ticker"]
	if svc.Diff == nil || svc.Diff.Summary() != "state stopped → running, enabled false → true" || svc.Refreshed != "" {
		t.Errorf("service:ticker: %q, refreshed %q; want started and enabled, not restarted", svc.Diff.Summary(), svc.Refreshed)
	}
	first := childPid(t, c)
	if out := c.MustExec(t, "ps", "-o", "user=,args=", "-p", strconv.Itoa(first)); strings.Join(strings.Fields(out), " ") != "nobody sleep infinity" {
		t.Errorf("child runs as %q, want nobody sleep infinity", out)
	}
	if out := c.MustExec(t, "pgrep", "-u", "nobody", "-x", "sleep"); strings.TrimSpace(out) != strconv.Itoa(first) {
		t.Errorf("pgrep -u nobody sleep = %q, want the pid file's %d", out, first)
	}
	sup := strings.TrimSpace(c.MustExec(t, "cat", "/run/phenix/ticker.supervisor.pid"))
	if args := c.MustExec(t, "ps", "-o", "args=", "-p", sup); !strings.Contains(args, "phenix supervise --state /var/lib/phenix/services/ticker.json") {
		t.Errorf("supervisor %s runs %q", sup, args)
	}
	// Only its own user may read a process's environment (docker drops
	// CAP_SYS_PTRACE from root).
	if env := c.MustExec(t, "setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "cat", "/proc/"+strconv.Itoa(first)+"/environ"); !strings.Contains(env, "TICKER_CONF=/etc/ticker.conf\x00") || !strings.Contains(env, "HOME=/nonexistent\x00") {
		t.Errorf("child environment %q lacks TICKER_CONF or nobody's HOME", env)
	}
	mustConverged(t, c, running)

	t.Run("a killed child is restarted", func(t *testing.T) {
		c.MustExec(t, "kill", "-9", strconv.Itoa(first))
		next := waitNewChild(t, c, first)
		if log := c.MustExec(t, "cat", "/var/log/phenix/ticker.log"); !strings.Contains(log, "msg=exited") || !strings.Contains(log, `status="signal: killed"`) {
			t.Errorf("log does not record the exit:\n%s", log)
		}
		first = next
		mustConverged(t, c, running)
	})

	t.Run("a notification restarts it", func(t *testing.T) {
		v2 := bundle("v2", "running")
		got, rep, _ := apply(t, c, bundle("v3", "running"), "--dry-run")
		if r := got["service:ticker"]; r.Status != engine.Changed || r.Refreshed != "would restart" {
			t.Errorf("dry run: service:ticker %s, refreshed %q; want changed, would restart\n%s", r.Status, r.Refreshed, failures(rep))
		}
		if now := childPid(t, c); now != first {
			t.Fatalf("the dry run restarted the service: pid %d, was %d", now, first)
		}
		got = mustChange(t, c, v2)
		if r := got["service:ticker"]; r.Status != engine.Changed || r.Refreshed != "restarted" || !r.Diff.Empty() {
			t.Errorf("service:ticker %s, refreshed %q, diff %q; want only restarted", r.Status, r.Refreshed, r.Diff.Summary())
		}
		if now := childPid(t, c); now == first {
			t.Errorf("pid %d unchanged after a restart", now)
		} else {
			first = now
		}
		mustConverged(t, c, v2)
	})

	stopped := bundle("v2", "stopped")
	t.Run("stop", func(t *testing.T) {
		got := mustChange(t, c, stopped)
		if s := got["service:ticker"].Diff.Summary(); s != "state running → stopped" {
			t.Errorf("service:ticker: %q, want state running → stopped", s)
		}
		if code, out := exitCode(t, c, "pgrep", "-a", "-u", "nobody", "-x", "sleep"); code == 0 {
			t.Errorf("the child runs after stop:\n%s", out)
		}
		if code, out := exitCode(t, c, "pgrep", "-a", "-f", "phenix supervise"); code == 0 {
			t.Errorf("the supervisor runs after stop:\n%s", out)
		}
		if code, _ := exitCode(t, c, "test", "-e", "/run/phenix/ticker.pid"); code == 0 {
			t.Error("the child's pid file remains after stop")
		}
		mustConverged(t, c, stopped)
	})

	t.Run("boot starts enabled services", func(t *testing.T) {
		if out := c.MustExec(t, "phenix", "supervise", "--boot"); strings.TrimSpace(out) != "started ticker" {
			t.Errorf("phenix supervise --boot printed %q, want \"started ticker\"", out)
		}
		childPid(t, c)
		mustConverged(t, c, bundle("v2", "running"))
		if out := c.MustExec(t, "phenix", "supervise", "--boot"); out != "" {
			t.Errorf("second --boot printed %q, want nothing: it runs already", out)
		}
		mustChange(t, c, stopped)
	})
}

// childPid returns the pid in the child's pid file once it names a live
// process.
func childPid(t *testing.T, c *containertest.Container) int {
	t.Helper()
	return waitNewChild(t, c, 0)
}

// waitNewChild waits until the child's pid file names a live process other
// than old, and returns its pid.
func waitNewChild(t *testing.T, c *containertest.Container, old int) int {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		out, _, code, err := c.Exec(t.Context(), "sh", "-c", `pid=$(cat /run/phenix/ticker.pid) && kill -0 "$pid" && echo "$pid"`)
		if err != nil {
			t.Fatal(err)
		}
		if pid, _ := strconv.Atoi(strings.TrimSpace(out)); code == 0 && pid > 0 && pid != old {
			return pid
		}
		if time.Now().After(deadline) {
			log, _, _, _ := c.Exec(t.Context(), "cat", "/var/log/phenix/ticker.log")
			t.Fatalf("no new live child in /run/phenix/ticker.pid (old %d) after 20s; log:\n%s", old, log)
		}
	}
}
