package agent

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/phenixhq/phenix/internal/bustest"
	"github.com/phenixhq/phenix/internal/testenv"
	"github.com/phenixhq/phenix/internal/wire"
)

// startFleet starts a bus, a fake server and an agent for host web-1, and
// waits until the agent greeted the server.
func startFleet(t *testing.T) (*fakeServer, Config) {
	t.Helper()
	env := bustest.NewServer(t)
	srv := newFakeServer(t, env)
	cfg := Config{StateDir: enrolledDir(t, env, "web-1"), Root: t.TempDir(), Version: "test"}
	startAgent(t, cfg)
	testenv.WaitFor(t, "the agent's hello", func() bool { return srv.helloCount() > 0 })
	return srv, cfg
}

// waitResult waits for the result of job.
func waitResult(t *testing.T, srv *fakeServer, job string) wire.Result {
	t.Helper()
	var r wire.Result
	testenv.WaitFor(t, "the result of job "+job, func() bool {
		var ok bool
		r, _, ok = srv.result(job)
		return ok
	})
	return r
}

func TestRunJob(t *testing.T) {
	srv, _ := startFleet(t)
	for _, tt := range []struct {
		name   string
		argv   []string
		env    []string
		status string
		code   int
		output []string // substrings of the result's output, and of what was streamed
	}{
		{name: "ok", argv: []string{"sh", "-c", "echo out; echo err >&2; echo $GREETING"}, env: []string{"GREETING=bonjour"},
			status: wire.StatusOK, output: []string{"out\n", "err\n", "bonjour\n"}},
		{name: "failed", argv: []string{"sh", "-c", "echo bad; exit 3"}, status: wire.StatusFailed, code: 3, output: []string{"bad\n"}},
		{name: "not-found", argv: []string{"/nonexistent/command"}, status: wire.StatusFailed, code: 127, output: []string{"/nonexistent/command"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv.publish("web-1", wire.KindJob, wire.Job{ID: "job-" + tt.name, Kind: wire.JobRun, Argv: tt.argv, Env: tt.env, Timeout: 10 * time.Second})
			r := waitResult(t, srv, "job-"+tt.name)
			if r.Status != tt.status || r.ExitCode != tt.code {
				t.Errorf("status %s, exit code %d; want %s, %d (output %q)", r.Status, r.ExitCode, tt.status, tt.code, r.Output)
			}
			for _, want := range tt.output {
				if !strings.Contains(r.Output, want) {
					t.Errorf("result output %q lacks %q", r.Output, want)
				}
			}
			if tt.status == wire.StatusOK {
				// Streamed output comes before the result.
				for _, want := range tt.output {
					if got := srv.output("job-" + tt.name); !strings.Contains(got, want) {
						t.Errorf("streamed output %q lacks %q", got, want)
					}
				}
			}
			if r.StartedAt.IsZero() || r.EndedAt.Before(r.StartedAt) {
				t.Errorf("times %v → %v", r.StartedAt, r.EndedAt)
			}
		})
	}
}

// TestJobTimeout expects a job past its timeout to be killed with its
// whole process group: a child it started in the background is gone too.
func TestJobTimeout(t *testing.T) {
	srv, _ := startFleet(t)
	pidFile := filepath.Join(t.TempDir(), "pid")
	t0 := time.Now()
	srv.publish("web-1", wire.KindJob, wire.Job{ID: "slow", Kind: wire.JobRun, Timeout: 300 * time.Millisecond,
		Argv: []string{"sh", "-c", "sleep 60 & echo $! > " + pidFile + "; echo started; wait"}})
	r := waitResult(t, srv, "slow")
	if r.Status != wire.StatusTimeout {
		t.Errorf("status %s, want timeout (output %q)", r.Status, r.Output)
	}
	if took := time.Since(t0); took > 5*time.Second {
		t.Errorf("the job took %v to time out", took)
	}
	if !strings.Contains(r.Output, "started") {
		t.Errorf("output %q lacks what the job printed", r.Output)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, "the background sleep to be killed", func() bool { return !alive(pid) })
}

// alive reports whether process pid runs (a zombie does not).
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// pid (comm) S ...: the state follows the last ')'.
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// TestRepeatedJob expects a job published again not to run again: while
// it runs, the repeat is ignored; once done, its result is sent again.
func TestRepeatedJob(t *testing.T) {
	srv, _ := startFleet(t)
	marks := filepath.Join(t.TempDir(), "marks")
	release := filepath.Join(t.TempDir(), "release")
	job := wire.Job{ID: "once", Kind: wire.JobRun, Timeout: 10 * time.Second,
		Argv: []string{"sh", "-c", "echo x >> " + marks + "; while [ ! -e " + release + " ]; do sleep 0.01; done; echo done"}}
	srv.publish("web-1", wire.KindJob, job)
	testenv.WaitFor(t, "the job to start", func() bool { _, err := os.Stat(marks); return err == nil })
	srv.publish("web-1", wire.KindJob, job) // while it runs
	if err := os.WriteFile(release, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	first := waitResult(t, srv, "once")
	srv.publish("web-1", wire.KindJob, job) // once done
	testenv.WaitFor(t, "the result sent again", func() bool { _, n, _ := srv.result("once"); return n >= 2 })
	again, _, _ := srv.result("once")
	if !again.StartedAt.Equal(first.StartedAt) || again.Output != first.Output {
		t.Errorf("the result sent again differs: %+v, first %+v", again, first)
	}
	b, err := os.ReadFile(marks)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != "x\n" {
		t.Errorf("the job ran %d times, want once", strings.Count(string(b), "x"))
	}
}

// TestOutbox expects a result the server does not acknowledge to stay in
// the outbox, across a restart of the agent, and to be delivered once the
// server acknowledges.
func TestOutbox(t *testing.T) {
	env := bustest.NewServer(t)
	srv := newFakeServer(t, env)
	srv.acking.Store(false)
	cfg := Config{StateDir: enrolledDir(t, env, "web-1"), Root: t.TempDir()}
	stop := startAgent(t, cfg)
	testenv.WaitFor(t, "the agent's hello", func() bool { return srv.helloCount() > 0 })
	srv.publish("web-1", wire.KindJob, wire.Job{ID: "j1", Kind: wire.JobRun, Argv: []string{"echo", "hi"}, Timeout: time.Minute})
	testenv.WaitFor(t, "two refused deliveries", func() bool { _, n, _ := srv.result("j1"); return n >= 2 })
	outbox := filepath.Join(cfg.StateDir, outboxDir, "result-j1.json")
	if _, err := os.Stat(outbox); err != nil {
		t.Fatalf("the result is not in the outbox: %v", err)
	}
	stop()

	// The server comes back; so does the agent, with the same state.
	srv.acking.Store(true)
	startAgent(t, cfg)
	testenv.WaitFor(t, "the result acknowledged", func() bool { return srv.ackedCount("j1") > 0 })
	testenv.WaitFor(t, "the outbox to empty", func() bool { _, err := os.Stat(outbox); return os.IsNotExist(err) })
	r, _, _ := srv.result("j1")
	if r.Status != wire.StatusOK || r.Output != "hi\n" {
		t.Errorf("result %+v", r)
	}
	if n := srv.ackedCount("j1"); n != 1 {
		t.Errorf("acknowledged %d times, want 1", n)
	}
}
