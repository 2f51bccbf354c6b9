package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/phenixhq/phenix/internal/api"
	"github.com/phenixhq/phenix/internal/engine"
	"github.com/phenixhq/phenix/internal/promise"
)

// fakeJobs is an API server that runs one scripted job: agents cannot run
// in this package's tests, so their events are played from a list. The
// real server is exercised by fleet_e2e_test.go.
type fakeJobs struct {
	t       *testing.T
	srv     *httptest.Server
	caFile  string
	hosts   []api.Host
	events  []api.Event // played by GET /jobs/{id}/events
	results []api.JobResult
	hold    chan struct{} // when set, the events stream stops after the first event until it is closed
	held    chan struct{} // closed once the stream is held

	mu  sync.Mutex
	req api.JobRequest
}

const fakeJobID = "j-20261122-061502-3fa9c1"

func newFakeJobs(t *testing.T, hosts []api.Host, events []api.Event, results []api.JobResult) *fakeJobs {
	t.Helper()
	f := &fakeJobs{t: t, hosts: hosts, events: events, results: results}
	mux := http.NewServeMux()
	ids := func() []string {
		var out []string
		for _, h := range f.hosts {
			out = append(out, h.ID)
		}
		return out
	}
	job := func() api.Job {
		f.mu.Lock()
		defer f.mu.Unlock()
		return api.Job{ID: fakeJobID, Kind: f.req.Kind, Actor: "admin", Selector: f.req.Selector, Hosts: ids(),
			CreatedAt: time.Now().Add(-3 * time.Second), Timeout: api.Duration(time.Minute)}
	}
	mux.HandleFunc("POST /api/v1/jobs", func(w http.ResponseWriter, r *http.Request) {
		var req api.JobRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			t.Error(err)
		}
		if strings.HasPrefix(req.Selector, "bad") {
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(api.Error{Error: "col 4: expected an operator", Field: "selector"})
			return
		}
		f.mu.Lock()
		f.req = req
		f.mu.Unlock()
		_ = json.NewEncoder(w).Encode(job())
	})
	mux.HandleFunc("GET /api/v1/hosts", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(api.HostList{Selector: r.URL.Query().Get("selector"), Hosts: f.hosts})
	})
	mux.HandleFunc("GET /api/v1/jobs/{id}/events", func(w http.ResponseWriter, r *http.Request) {
		enc := json.NewEncoder(w)
		for i, ev := range f.events {
			if ev.Type == "end" {
				j := job()
				ev.Job = &j
			}
			_ = enc.Encode(ev)
			w.(http.Flusher).Flush()
			if i == 0 && f.hold != nil {
				close(f.held)
				select {
				case <-f.hold:
				case <-r.Context().Done():
					return
				}
			}
		}
	})
	mux.HandleFunc("GET /api/v1/jobs/{id}", func(w http.ResponseWriter, r *http.Request) {
		j := job()
		j.EndedAt = time.Now()
		j.Results = f.results
		_ = json.NewEncoder(w).Encode(j)
	})
	f.srv = httptest.NewTLSServer(mux)
	t.Cleanup(f.srv.Close)
	f.caFile = filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.srv.Certificate().Raw})
	if err := os.WriteFile(f.caFile, pemBytes, 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// args returns args with, after the command's name, the flags that reach
// the fake server.
func (f *fakeJobs) args(args ...string) []string {
	out := []string{args[0], "--server", f.srv.URL, "--token", "phxa_test", "--ca", f.caFile}
	return append(out, args[1:]...)
}

func out(host, stream, data string) api.Event {
	return api.Event{Type: "output", Host: host, Stream: stream, Data: data}
}

func result(host, status string, exit int) api.JobResult {
	t0 := time.Date(2026, 11, 22, 6, 15, 2, 0, time.UTC)
	return api.JobResult{Host: host, Status: status, ExitCode: exit, StartedAt: t0, EndedAt: t0.Add(1200 * time.Millisecond)}
}

func resultEvent(r api.JobResult) api.Event {
	return api.Event{Type: "result", Host: r.Host, Result: &r}
}

var fakeHosts = []api.Host{
	{ID: "h-1", Hostname: "web-1"},
	{ID: "h-2", Hostname: "web-2"},
	{ID: "h-3", Hostname: "db-1"},
}

func TestRunStreamsAndSummarizes(t *testing.T) {
	ok1, ok2, failed := result("h-1", "ok", 0), result("h-2", "ok", 0), result("h-3", "failed", 3)
	f := newFakeJobs(t, fakeHosts, []api.Event{
		out("h-1", "stdout", "hello from "),
		out("h-2", "stdout", "two\nlines\n"),
		out("h-1", "stdout", "web-1\nno newline"),
		out("h-3", "stderr", "disk full\n"),
		resultEvent(ok1),
		resultEvent(ok2),
		resultEvent(failed),
		{Type: "end"},
	}, []api.JobResult{ok1, ok2, failed})
	code, stdout, stderr := run(t, f.args("run", "role=web", "--batch", "50%", "--timeout", "30s", "--", "sh", "-c", "echo hi")...)
	if code != ExitFailed {
		t.Errorf("exit %d, want 1 (a host failed)\n%s%s", code, stdout, stderr)
	}
	f.mu.Lock()
	req := f.req
	f.mu.Unlock()
	if req.Kind != "run" || req.Selector != "role=web" || strings.Join(req.Command, "|") != "sh|-c|echo hi" || req.Batch != "50%" || time.Duration(req.Timeout) != 30*time.Second {
		t.Errorf("job request = %+v", req)
	}
	for _, want := range []string{
		"web-2 | two\nweb-2 | lines\nweb-1 | hello from web-1\n",
		"web-1 | no newline\n", // kept until the host's result
		"HOST   STATUS           DURATION\n",
		"db-1   failed (exit 3)  1.2s\n",
		"web-1  ok               1.2s\n",
		"2 ok, 1 failed (job " + fakeJobID + ")\n",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	if stderr != "db-1  | disk full\n" {
		t.Errorf("stderr = %q, want the stderr line of db-1", stderr)
	}
}

func TestRunJSON(t *testing.T) {
	ok1 := result("h-1", "ok", 0)
	f := newFakeJobs(t, fakeHosts[:1], []api.Event{out("h-1", "stdout", "hello\n"), resultEvent(ok1), {Type: "end"}}, []api.JobResult{ok1})
	code, stdout, stderr := run(t, f.args("run", "*", "--json", "--", "echo", "hello")...)
	if code != ExitOK {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	var j api.Job
	if err := json.Unmarshal([]byte(stdout), &j); err != nil {
		t.Fatalf("stdout is not a job: %v\n%s", err, stdout)
	}
	if j.ID != fakeJobID || len(j.Results) != 1 || j.Results[0].Status != "ok" || strings.Contains(stdout, "| hello") {
		t.Errorf("--json printed:\n%s", stdout)
	}
}

func TestRunRefusedSelector(t *testing.T) {
	f := newFakeJobs(t, fakeHosts, nil, nil)
	code, _, stderr := run(t, f.args("run", "bad selector", "--", "true")...)
	if code != ExitBadInput || stderr != "phenix: selector: col 4: expected an operator\n" {
		t.Errorf("exit %d, want 64; stderr %q", code, stderr)
	}
}

// cancelWriter cancels a context once something is written to it.
type cancelWriter struct {
	bytes.Buffer
	cancel context.CancelFunc
}

func (w *cancelWriter) Write(p []byte) (int, error) {
	defer w.cancel()
	return w.Buffer.Write(p)
}

func TestRunInterrupted(t *testing.T) {
	ok1 := result("h-1", "ok", 0)
	f := newFakeJobs(t, fakeHosts[:1], []api.Event{out("h-1", "stdout", "started\nworking"), resultEvent(ok1), {Type: "end"}}, nil)
	f.hold, f.held = make(chan struct{}), make(chan struct{})
	defer close(f.hold)
	// Ctrl-C once the first line is out.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdout := &cancelWriter{cancel: cancel}
	var stderr bytes.Buffer
	code := Run(ctx, f.args("run", "*", "--", "sleep", "100"), strings.NewReader(""), stdout, &stderr)
	if code != ExitFailed {
		t.Errorf("exit %d, want 1", code)
	}
	want := "job " + fakeJobID + " goes on; phenix job " + fakeJobID + " shows its results\n"
	if stderr.String() != want {
		t.Errorf("stderr = %q, want %q", stderr.String(), want)
	}
	if got := stdout.String(); got != "web-1 | started\nweb-1 | working\n" {
		t.Errorf("stdout = %q, want the line and the partial line kept at the interruption", got)
	}
}

func TestFleetApplyReports(t *testing.T) {
	rep := engine.Report{
		Results: []engine.Result{
			{ID: "file:/etc/motd", Status: engine.Changed, Diff: &promise.Diff{Content: "-old\n+new\n"}},
			{ID: "service:nginx", Status: engine.OK},
		},
		Totals: engine.Totals{Promises: 2, Changed: 1, OK: 1},
	}
	detail, _ := json.Marshal(rep)
	changed := result("h-1", "changed", 0)
	changed.Detail = detail
	ok2 := result("h-2", "ok", 0)
	ok2.Detail = json.RawMessage(`{"dry_run":false,"promises":[],"totals":{"promises":2,"ok":2}}`)
	f := newFakeJobs(t, fakeHosts[:2], []api.Event{resultEvent(changed), resultEvent(ok2), {Type: "end"}}, []api.JobResult{changed, ok2})
	code, stdout, stderr := run(t, f.args("apply", "role=web", "--dry-run")...)
	if code != ExitChanged {
		t.Errorf("exit %d, want 2\n%s%s", code, stdout, stderr)
	}
	f.mu.Lock()
	req := f.req
	f.mu.Unlock()
	if req.Kind != "apply" || !req.DryRun || req.Selector != "role=web" {
		t.Errorf("job request = %+v", req)
	}
	for _, want := range []string{
		"== web-1 (changed, exit 0, 1.2s)\n    changed  file:/etc/motd: content\n        -old\n        +new\n    2 promises: 1 changed, 1 ok, 0 failed, 0 skipped (0ms)\n",
		"== web-2 (ok, exit 0, 1.2s)\n    2 promises: 0 changed, 2 ok",
		"1 ok, 1 changed (job " + fakeJobID + ")\n",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
}

func TestNoHostMatched(t *testing.T) {
	f := newFakeJobs(t, nil, nil, nil)
	code, stdout, stderr := run(t, f.args("run", "role=nothing", "--", "true")...)
	if code != ExitOK || stdout != "0 hosts matched role=nothing\n" {
		t.Errorf("exit %d\n%s%s", code, stdout, stderr)
	}
}
