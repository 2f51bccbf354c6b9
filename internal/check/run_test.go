package check

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func TestRetryPassesOnThirdAttempt(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) <= 2 {
			http.Error(w, "starting", http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	c := parseOne(t, "- http: {url: '"+srv.URL+"'}\n")
	c.Retry = Retry{Interval: 20 * time.Millisecond, Deadline: 10 * time.Second}
	res := Run(context.Background(), c, Vars{})
	if !res.OK || res.Attempts != 3 || res.Error != "" {
		t.Errorf("Run = %+v, want ok after 3 attempts", res)
	}
	if n.Load() != 3 {
		t.Errorf("server saw %d requests, want 3", n.Load())
	}
}

func TestRetryStopsAtDeadline(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "broken", http.StatusInternalServerError)
	}))
	defer srv.Close()
	c := parseOne(t, "- http: {url: '"+srv.URL+"', timeout: 1s}\n")
	c.Retry = Retry{Interval: 50 * time.Millisecond, Deadline: 300 * time.Millisecond}
	t0 := time.Now()
	res := Run(context.Background(), c, Vars{})
	took := time.Since(t0)
	// Attempts at 0, 50, …, 250 and a last one at the deadline.
	if res.OK || res.Attempts < 2 || res.Attempts > 7 {
		t.Errorf("Run = ok %v after %d attempts, want a failure after 2 to 7", res.OK, res.Attempts)
	}
	if took < c.Retry.Deadline || took > c.Retry.Deadline+c.HTTP.Timeout {
		t.Errorf("Run took %v, want between the deadline %v and %v", took, c.Retry.Deadline, c.Retry.Deadline+c.HTTP.Timeout)
	}
	if want := `status 500, want 200 (body "broken")`; res.Error != want {
		t.Errorf("error = %q, want %q", res.Error, want)
	}
}

// TestRetryBoundWithSlowAttempts: attempts that time out still end by the
// deadline plus one timeout.
func TestRetryBoundWithSlowAttempts(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	defer srv.Close()
	c := parseOne(t, "- http: {url: '"+srv.URL+"', timeout: 300ms}\n")
	c.Retry = Retry{Interval: 50 * time.Millisecond, Deadline: 500 * time.Millisecond}
	t0 := time.Now()
	res := Run(context.Background(), c, Vars{})
	took := time.Since(t0)
	// Attempts from 0 to 300ms and from 350 to 650ms; then the deadline has passed.
	if res.OK || res.Attempts != 2 {
		t.Errorf("Run = ok %v after %d attempts, want a failure after 2", res.OK, res.Attempts)
	}
	if bound := c.Retry.Deadline + c.HTTP.Timeout; took > bound {
		t.Errorf("Run took %v, more than deadline + timeout = %v", took, bound)
	}
	if want := "GET " + srv.URL + ": no response within 300ms"; res.Error != want {
		t.Errorf("error = %q, want %q", res.Error, want)
	}
}

func TestRunStopsWithContext(t *testing.T) {
	c := parseOne(t, "- command: {argv: ['false']}\n")
	c.Retry = Retry{Interval: 10 * time.Millisecond, Deadline: time.Minute}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	res := Run(ctx, c, Vars{})
	if res.OK || res.Duration > 5*time.Second || !strings.Contains(res.Error, "context deadline exceeded") {
		t.Errorf("Run = %+v, want a failure soon after the context ends", res)
	}
}

func TestRunUndecodedCheck(t *testing.T) {
	res := Run(context.Background(), Check{Name: "x", Type: "ping"}, Vars{})
	if want := `check type "ping" is unknown or has no settings: checks come from Decode`; res.OK || res.Error != want || res.Attempts != 1 {
		t.Errorf("Run = %+v, want %q after one attempt", res, want)
	}
}

// waitGone waits until the process pid has ended (a zombie has).
func waitGone(t *testing.T, pid int) {
	t.Helper()
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			return
		}
		stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			return
		}
		if f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:])); len(f) > 0 && f[0] == "Z" {
			return
		}
	}
	syscall.Kill(pid, syscall.SIGKILL)
	t.Errorf("process %d still runs", pid)
}

func readPID(t *testing.T, file string) int {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

func TestCommandTimeoutKillsProcessGroup(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	c := parseOne(t, "- command: {script: 'sleep 30 & echo $! > "+pidFile+"; wait', timeout: 300ms}\n")
	t0 := time.Now()
	res := Run(context.Background(), c, Vars{})
	if took := time.Since(t0); took > 300*time.Millisecond+time.Second {
		t.Errorf("Run took %v with a 300ms timeout", took)
	}
	if want := "timed out after 300ms: killed its process group (no output)"; res.Error != want {
		t.Errorf("error = %q, want %q", res.Error, want)
	}
	waitGone(t, readPID(t, pidFile))
}

func TestCommandLeavesNothingBehind(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	// The background sleep holds the output open; Run must not wait for it.
	c := parseOne(t, "- command: {script: 'sleep 30 & echo $! > "+pidFile+"; echo started', timeout: 10s}\n")
	t0 := time.Now()
	res := Run(context.Background(), c, Vars{})
	if !res.OK {
		t.Fatalf("Run = %+v", res)
	}
	if took := time.Since(t0); took > 2*time.Second {
		t.Errorf("Run took %v: it waited for the background process", took)
	}
	waitGone(t, readPID(t, pidFile))
}

// TestRunCheckBuiltInGo: a Check made without Decode gets its defaults.
func TestRunCheckBuiltInGo(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	c := Check{Name: "bare", Type: TypeHTTP, HTTP: &HTTPCheck{URL: srv.URL}}
	if res := Run(context.Background(), c, Vars{}); !res.OK || res.Attempts != 1 {
		t.Errorf("Run = %+v", res)
	}
	if c.HTTP.Timeout != 0 || c.HTTP.Status != nil {
		t.Errorf("Run changed the caller's check: %+v", c.HTTP)
	}
	c = Check{Type: TypeScenario, Scenario: []Step{{HTTPCheck: HTTPCheck{URL: srv.URL + "/a"}}, {HTTPCheck: HTTPCheck{URL: srv.URL + "/{{ .vars.x }}"}}}}
	if res := Run(context.Background(), c, Vars{}); res.OK || res.Error != `step 2: url: at <.vars.x>: map has no entry for key "x"` {
		t.Errorf("Run = %+v", res)
	}
}
