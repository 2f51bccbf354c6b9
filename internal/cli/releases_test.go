package cli

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/phenixhq/phenix/internal/api"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *updateGolden {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (go test -run %s -update writes it)", err, t.Name())
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s (-want +got; go test -update rewrites it):\n%s", p, diff)
	}
}

var (
	t0       = time.Date(2026, 11, 22, 6, 15, 2, 0, time.UTC)
	testClk  = clock{now: t0.Add(10 * time.Minute), loc: time.UTC}
	webHosts = []string{"web-1", "web-2", "web-3"}
)

func dur(d time.Duration) api.Duration { return api.Duration(d) }

// failedDeployment is a deploy of web 1.4.3 to prod whose second batch
// failed its checks and was rolled back.
func failedDeployment() api.Deployment {
	return api.Deployment{
		ID: "d-20261122-061502-3fa9c1", App: "web", Env: "prod", Kind: api.KindDeploy, Version: "1.4.3", Previous: "1.4.2",
		Actor: "alice", State: api.StateFailed, Summary: "batch 2: web-2 failed check health", Hosts: webHosts,
		CreatedAt: t0, EndedAt: t0.Add(12300 * time.Millisecond),
		Steps: []api.DeployStep{
			{Name: "deliver", Where: "web-1, web-2, web-3", Job: "j-1", Result: "ok", StartedAt: t0, Duration: dur(2100 * time.Millisecond),
				Hosts: []api.HostStep{
					{Host: "web-1", Status: "changed", Duration: dur(2 * time.Second)},
					{Host: "web-2", Status: "changed", Duration: dur(1900 * time.Millisecond)},
					{Host: "web-3", Status: "ok", Duration: dur(40 * time.Millisecond)},
				}},
			{Name: "migrate: schema", Where: "server", Result: "ok", Output: "applied 2 migrations\n", Duration: dur(800 * time.Millisecond)},
			{Batch: 1, Name: "pre: out of the load balancer", Where: "server", Result: "ok", Duration: dur(200 * time.Millisecond)},
			{Batch: 1, Name: "activate", Where: "web-1", Job: "j-2", Result: "ok", Duration: dur(3100 * time.Millisecond),
				Hosts: []api.HostStep{{Host: "web-1", Status: "changed", Duration: dur(3 * time.Second),
					Checks: []api.CheckResult{{Name: "health", OK: true, Attempts: 2, Duration: dur(300 * time.Millisecond)}}}}},
			{Batch: 1, Name: "post: back in the load balancer", Where: "server", Result: "ok", Duration: dur(150 * time.Millisecond)},
			{Batch: 2, Name: "pre: out of the load balancer", Where: "server", Result: "ok", Duration: dur(210 * time.Millisecond)},
			{Batch: 2, Name: "activate", Where: "web-2", Job: "j-3", Result: "failed", Summary: "1 of 1 host failed", Duration: dur(5200 * time.Millisecond),
				Hosts: []api.HostStep{{Host: "web-2", Status: "failed", Error: "checks failed", Duration: dur(5100 * time.Millisecond),
					Checks: []api.CheckResult{{Name: "health", OK: false, Attempts: 3, Duration: dur(5 * time.Second), Error: "status 500, want 200"}}}}},
			{Batch: 2, Name: "rollback", Where: "web-1, web-2", Job: "j-4", Result: "ok", Duration: dur(900 * time.Millisecond),
				Hosts: []api.HostStep{
					{Host: "web-1", Status: "changed", Duration: dur(800 * time.Millisecond)},
					{Host: "web-2", Status: "changed", Duration: dur(850 * time.Millisecond)},
				}},
		},
	}
}

func okDeployment() api.Deployment {
	return api.Deployment{
		ID: "d-20261122-060102-77aa01", App: "web", Env: "prod", Kind: api.KindDeploy, Version: "1.4.2", Previous: "1.4.1",
		Actor: "alice", Override: "hotfix for incident 42", State: api.StateOK, Summary: "3 hosts on 1.4.2", Hosts: webHosts,
		CreatedAt: t0.Add(-14 * time.Minute), EndedAt: t0.Add(-14*time.Minute + 12300*time.Millisecond),
		Steps: []api.DeployStep{
			{Batch: 1, Name: "activate", Where: "web-1", Result: "ok", Duration: dur(time.Second)},
			{Batch: 2, Name: "activate", Where: "web-2", Result: "ok", Duration: dur(time.Second)},
			{Batch: 3, Name: "activate", Where: "web-3", Result: "ok", Duration: dur(time.Second)},
		},
	}
}

func TestStatusGolden(t *testing.T) {
	last := failedDeployment()
	last.Steps = nil
	st := api.AppStatus{App: "web", Envs: []api.EnvStatus{
		{Env: "alpha", Selector: "role=web,env=alpha", Hosts: 1, Current: "1.4.3", Previous: "1.4.2",
			Last:  &api.Deployment{Kind: api.KindDeploy, Version: "1.4.3", Actor: "ci", State: api.StateOK, CreatedAt: t0.Add(-2 * time.Hour)},
			Check: &api.CheckStatus{At: testClk.now.Add(-time.Minute), OK: true, Summary: "1 host ok"}},
		{Env: "preprod", Hosts: 2, Current: "1.4.2", Previous: "1.4.1", Delivered: "1.4.3",
			Last:  &api.Deployment{Kind: api.KindDeliver, Version: "1.4.3", Actor: "alice", State: api.StateOK, CreatedAt: testClk.now.Add(-5 * time.Minute)},
			Check: &api.CheckStatus{At: testClk.now.Add(-30 * time.Second), OK: false, Summary: "web-5: check health: status 500, want 200"}},
		{Env: "prod", Hosts: 3, Current: "1.4.2", Previous: "1.4.1", Approval: true, Last: &last,
			Lock: &api.Lock{App: "web", Env: "prod", Deployment: "d-20261122-062002-bb0001", Actor: "bob", Reason: "deploy 1.4.3",
				Since: testClk.now.Add(-2 * time.Minute), Expires: testClk.now.Add(time.Minute)}},
		{Env: "demo", Hosts: 0},
	}}
	var b bytes.Buffer
	printStatus(&b, st, testClk)
	golden(t, "status.golden", b.String())
}

func TestVersionsAndAppsGolden(t *testing.T) {
	vs := []api.Version{
		{App: "web", Version: "1.4.3", SHA256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", Size: 12_345_678, Format: "tar.gz",
			Actor: "ci", CreatedAt: testClk.now.Add(-3 * time.Hour), Current: []string{"alpha"}, Delivered: []string{"preprod"}, Passed: []string{"alpha"},
			Note: "checkout fixes"},
		{App: "web", Version: "1.4.2", SHA256: "sha256:60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752", Size: 12_100_000, Format: "tar.gz",
			Actor: "ci", CreatedAt: testClk.now.Add(-50 * time.Hour), Current: []string{"preprod", "prod"}, Passed: []string{"alpha", "preprod", "prod"}},
		{App: "web", Version: "1.4.1", SHA256: "fd61a03af4f77d870fc21e05e7e80678095c92d808cfb3b5c279ee04c74aca13", Size: 980, Format: "zip",
			Actor: "alice", CreatedAt: testClk.now.Add(-30 * 24 * time.Hour)},
	}
	var b bytes.Buffer
	printVersions(&b, "web", vs, testClk)
	b.WriteString("\n")
	printVersions(&b, "api", nil, testClk)
	b.WriteString("\n")
	printApps(&b, []api.App{
		{Name: "web", Description: "the shop's front end", Environments: []string{"alpha", "preprod", "prod"}},
		{Name: "worker", Environments: []string{"prod"}},
	})
	b.WriteString("\n")
	for _, v := range vs[:2] {
		fmt.Fprintln(&b, uploadLine(v, true))
		fmt.Fprintln(&b, uploadLine(v, false))
	}
	golden(t, "versions.golden", b.String())
}

func TestHistoryGolden(t *testing.T) {
	ds := []api.Deployment{failedDeployment(), okDeployment()}
	running := api.Deployment{ID: "d-20261122-062402-cc0002", App: "web", Env: "alpha", Kind: api.KindRollback, Version: "1.4.2", Previous: "1.4.3",
		Actor: "bob", State: api.StateRunning, Hosts: []string{"alpha-1"}, CreatedAt: testClk.now.Add(-20 * time.Second),
		Steps: []api.DeployStep{{Batch: 1, Name: "activate", Where: "alpha-1", Result: "running"}}}
	var b bytes.Buffer
	printHistory(&b, "web", "", append([]api.Deployment{running}, ds...), testClk)
	b.WriteString("\n--steps:\n\n")
	for i, d := range append(ds, running) {
		if i > 0 {
			b.WriteString("\n")
		}
		printDeployment(&b, d, testClk)
	}
	golden(t, "history_steps.golden", b.String())
}

// deployEvents plays the events of failedDeployment: every step starts,
// then ends.
func deployEvents(d api.Deployment) []api.DeploymentEvent {
	var evs []api.DeploymentEvent
	for _, s := range d.Steps {
		start := api.DeployStep{Batch: s.Batch, Name: s.Name, Where: s.Where, Result: api.StateRunning, StartedAt: s.StartedAt}
		end := s
		evs = append(evs, api.DeploymentEvent{Type: "step", Step: &start}, api.DeploymentEvent{Type: "step", Step: &end})
	}
	return append(evs, api.DeploymentEvent{Type: "end", Deployment: &d})
}

func TestDeployStreamGolden(t *testing.T) {
	var b, live bytes.Buffer
	d := failedDeployment()
	st := &deployStream{w: &b, live: &live, batches: 3}
	st.start(d)
	for _, ev := range deployEvents(d) {
		st.event(ev)
	}
	st.clearLive()
	fmt.Fprintln(&b, endLine(d))
	b.WriteString("\nunknown number of batches:\n")
	st = &deployStream{w: &b}
	for _, ev := range deployEvents(okDeployment()) {
		st.event(ev)
	}
	b.WriteString("\nend lines:\n")
	ok := okDeployment()
	fmt.Fprintln(&b, endLine(ok))
	deliver := api.Deployment{ID: "d-2", App: "web", Env: "prod", Kind: api.KindDeliver, Version: "1.4.3", State: api.StateOK, Hosts: webHosts, CreatedAt: t0, EndedAt: t0.Add(2100 * time.Millisecond)}
	fmt.Fprintln(&b, endLine(deliver))
	rollback := api.Deployment{ID: "d-3", App: "web", Env: "prod", Kind: api.KindRollback, Version: "1.4.1", Previous: "1.4.2", State: api.StateOK,
		Hosts: webHosts[:1], CreatedAt: t0, EndedAt: t0.Add(4 * time.Second), Steps: []api.DeployStep{{Batch: 1}}}
	fmt.Fprintln(&b, endLine(rollback))
	first := api.Deployment{ID: "d-4", App: "web", Env: "alpha", Kind: api.KindDeploy, Version: "0.1.0", State: api.StateFailed, Summary: "deliver: web-1 unreachable"}
	fmt.Fprintln(&b, endLine(first))
	golden(t, "deploy_stream.golden", b.String())
	// The terminal saw each running step and had it erased.
	if !strings.Contains(live.String(), "batch 2/3  activate  web-2  running …\r\033[K") || strings.Count(live.String(), "…") != len(d.Steps) {
		t.Errorf("live lines: %q", live.String())
	}
}

func TestFmtSize(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 999: "999 B", 1000: "1.0 kB", 12_345_678: "12.3 MB", 999_960: "1.0 MB", 3 << 40: "3.3 TB", 5e15: "5000.0 TB"} {
		if got := fmtSize(n); got != want {
			t.Errorf("fmtSize(%d) = %q, want %q", n, got, want)
		}
	}
}

// fakeReleases is an API server for the release commands: it records the
// requests and plays the events of one deployment.
type fakeReleases struct {
	t      *testing.T
	srv    *httptest.Server
	caFile string
	final  api.Deployment // what the deployment ends as

	mu     sync.Mutex
	reqs   []string // "METHOD URI"
	deploy api.DeployRequest
	upload []byte
	note   string
}

func newFakeReleases(t *testing.T, final api.Deployment) *fakeReleases {
	t.Helper()
	f := &fakeReleases{t: t, final: final}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/apps/{app}/deployments", func(w http.ResponseWriter, r *http.Request) {
		var req api.DeployRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			t.Error(err)
		}
		f.mu.Lock()
		f.deploy = req
		f.mu.Unlock()
		switch req.Env {
		case "nowhere":
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(api.Error{Error: `web has no environment "nowhere"`, Field: "env"})
			return
		case "locked":
			w.WriteHeader(http.StatusConflict)
			_ = json.NewEncoder(w).Encode(api.Error{Error: "locked by d-1 (deploy 1.4.2 by bob)"})
			return
		}
		d := f.final
		d.State, d.Steps, d.EndedAt, d.Summary = api.StateRunning, nil, time.Time{}, ""
		w.WriteHeader(http.StatusAccepted)
		_ = json.NewEncoder(w).Encode(d)
	})
	mux.HandleFunc("GET /api/v1/deployments/{id}/events", func(w http.ResponseWriter, r *http.Request) {
		enc := json.NewEncoder(w)
		for _, ev := range deployEvents(f.final) {
			if ev.Deployment != nil {
				// The server's end event leaves the steps out.
				d := *ev.Deployment
				d.Steps = nil
				ev.Deployment = &d
			}
			_ = enc.Encode(ev)
		}
	})
	mux.HandleFunc("GET /api/v1/deployments/{id}", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(f.final)
	})
	mux.HandleFunc("PUT /api/v1/apps/{app}/versions/{version}", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		again := f.upload != nil
		f.upload, f.note = b, r.Header.Get("X-Phenix-Note")
		f.mu.Unlock()
		sum := sha256.Sum256(b)
		if !again {
			w.WriteHeader(http.StatusCreated)
		}
		_ = json.NewEncoder(w).Encode(api.Version{App: r.PathValue("app"), Version: r.PathValue("version"), SHA256: hex.EncodeToString(sum[:]),
			Size: int64(len(b)), Format: "tar.gz", Actor: "admin", CreatedAt: time.Now()})
	})
	mux.HandleFunc("POST /api/v1/users", func(w http.ResponseWriter, r *http.Request) {
		var req api.UserRequest
		_ = json.NewDecoder(r.Body).Decode(&req)
		_ = json.NewEncoder(w).Encode(api.UserResponse{User: api.User{Name: req.Name, Admin: req.Admin, CreatedBy: "admin"}, Token: "phxu_s3cret"})
	})
	mux.HandleFunc("DELETE /api/v1/apps/{app}/locks/{env}", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(api.Lock{App: "web", Env: r.PathValue("env"), Deployment: "d-1", Actor: "bob", Reason: "deploy 1.4.2", Since: time.Now().Add(-time.Hour)})
	})
	f.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.reqs = append(f.reqs, r.Method+" "+r.URL.RequestURI())
		f.mu.Unlock()
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(f.srv.Close)
	f.caFile = filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.srv.Certificate().Raw})
	if err := os.WriteFile(f.caFile, pemBytes, 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// args returns args with the flags that reach the fake server after the
// command's name, or in place of "@" for a subcommand:
// run(t, f.args("users", "add", "@", "alice")...).
func (f *fakeReleases) args(args ...string) []string {
	i := 0
	for i < len(args) && args[i] != "@" {
		i++
	}
	if i == len(args) {
		i = 1
	}
	out := append([]string{}, args[:i]...)
	out = append(out, "--server", f.srv.URL, "--token", "phxa_test", "--ca", f.caFile)
	for _, a := range args[i:] {
		if a != "@" {
			out = append(out, a)
		}
	}
	return out
}

func (f *fakeReleases) lastDeploy() api.DeployRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.deploy
}

func (f *fakeReleases) lastUpload() ([]byte, string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.upload, f.note
}

func (f *fakeReleases) requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.reqs...)
}

func TestDeployFollowsToFailure(t *testing.T) {
	f := newFakeReleases(t, failedDeployment())
	code, stdout, stderr := run(t, f.args("deploy", "web", "1.4.3", "--env", "prod", "--batch", "1")...)
	if code != ExitFailed {
		t.Errorf("exit %d, want 1 (the deployment failed)\n%s%s", code, stdout, stderr)
	}
	if want := (api.DeployRequest{Kind: api.KindDeploy, Env: "prod", Version: "1.4.3", Batch: "1"}); f.lastDeploy() != want {
		t.Errorf("request %+v, want %+v", f.lastDeploy(), want)
	}
	for _, want := range []string{
		"deployment d-20261122-061502-3fa9c1: deploy web 1.4.3 to prod (3 hosts)\n",
		"batch 2/3  activate  web-2  failed  5.2s  1 of 1 host failed\n  web-2  failed  checks failed; check health: status 500, want 200\n",
		"deployment d-20261122-061502-3fa9c1 failed: batch 2: web-2 failed check health; prod stays on 1.4.2\n",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	if stderr != "" {
		t.Errorf("stderr: %q", stderr)
	}
}

func TestDeployOKAndJSON(t *testing.T) {
	f := newFakeReleases(t, okDeployment())
	code, stdout, stderr := run(t, f.args("deploy", "web", "1.4.2", "--env", "prod", "--override", "--reason", " hotfix for incident 42 ")...)
	if code != ExitOK || !strings.HasSuffix(stdout, "deployed web 1.4.2 to prod: ok in 12.3s (3 hosts, 3 batches)\n") {
		t.Errorf("exit %d\n%s%s", code, stdout, stderr)
	}
	if d := f.lastDeploy(); !d.Override || d.Reason != "hotfix for incident 42" {
		t.Errorf("request %+v", d)
	}
	code, stdout, stderr = run(t, f.args("rollback", "web", "--env", "prod", "--json")...)
	var d api.Deployment
	if code != ExitOK || json.Unmarshal([]byte(stdout), &d) != nil || d.State != api.StateOK || len(d.Steps) != 3 {
		t.Errorf("--json: exit %d\n%s%s", code, stdout, stderr)
	}
	if want := (api.DeployRequest{Kind: api.KindRollback, Env: "prod"}); f.lastDeploy() != want {
		t.Errorf("rollback request %+v", f.lastDeploy())
	}
	before := len(f.requests())
	code, stdout, _ = run(t, f.args("deliver", "web", "1.4.2", "--env", "prod", "--detach")...)
	if code != ExitOK || stdout != "deployment d-20261122-060102-77aa01 started: deploy web 1.4.2 to prod (phenix deployment d-20261122-060102-77aa01 shows it)\n" {
		t.Errorf("--detach: exit %d\n%s", code, stdout)
	}
	if d := f.lastDeploy(); d.Kind != api.KindDeliver || len(f.requests()) != before+1 {
		t.Errorf("--detach: %+v, requests %v", d, f.requests()[before:])
	}
}

func TestDeployRefused(t *testing.T) {
	f := newFakeReleases(t, okDeployment())
	code, _, stderr := run(t, f.args("deploy", "web", "1.4.2", "--env", "nowhere")...)
	if code != ExitBadInput || stderr != "phenix: env: web has no environment \"nowhere\"\n" {
		t.Errorf("400: exit %d, stderr %q", code, stderr)
	}
	code, _, stderr = run(t, f.args("deploy", "web", "1.4.2", "--env", "locked")...)
	if code != ExitFailed || stderr != "phenix: locked by d-1 (deploy 1.4.2 by bob)\n" {
		t.Errorf("409: exit %d, stderr %q", code, stderr)
	}
}

// TestReleaseBadInput: mistakes on the command line exit 64 before any
// request.
func TestReleaseBadInput(t *testing.T) {
	f := newFakeReleases(t, okDeployment())
	for _, args := range [][]string{
		{"deploy", "web", "1.4.2"},
		{"deploy", "web", "1.4.2", "--env", " "},
		{"deploy", "web", "--env", "prod"},
		{"deploy", "web", "1.4.2", "--env", "prod", "--override"},
		{"deploy", "web", "1.4.2", "--env", "prod", "--override", "--reason", "  "},
		{"deploy", "web", "1.4.2", "--env", "prod", "--batch", "0"},
		{"deploy", "web", "1.4.2", "--env", "prod", "--batch", "150%"},
		{"deploy", "web", "1.4.2", "--env", "prod", "--batch", "half"},
		{"deliver", "web", "1.4.2"},
		{"rollback", "web"},
		{"approve", "web", "1.4.2"},
		{"unlock", "web", "--env", "prod"},
		{"unlock", "web", "--reason", "stuck"},
		{"history", "web", "--limit", "0"},
		{"versions", "web", "--limit", "-1"},
		{"status"},
		{"version", "upload", "@", "web", "1.4.2"},
		{"version", "upload", "@", "web", "1.4.2", filepath.Join(t.TempDir(), "missing.tar.gz")},
		{"version", "upload", "@", "web", "1.4.2", t.TempDir()},
		{"users", "add"},
	} {
		code, stdout, stderr := run(t, f.args(args...)...)
		if code != ExitBadInput || stdout != "" || !strings.HasPrefix(stderr, "phenix: ") {
			t.Errorf("%s: exit %d, want 64\n%s%s", strings.Join(args, " "), code, stdout, stderr)
		}
	}
	if code, stdout, _ := run(t, "version", "extra"); code != ExitBadInput || stdout != "" {
		t.Errorf("version extra: exit %d, want 64\n%s", code, stdout)
	}
	if reqs := f.requests(); len(reqs) != 0 {
		t.Errorf("requests sent: %v", reqs)
	}
	_, _, stderr := run(t, f.args("deploy", "web", "1.4.2", "--env", "prod", "--override")...)
	if !strings.Contains(stderr, "--override needs a --reason") {
		t.Errorf("stderr: %q", stderr)
	}
}

func TestVersionUpload(t *testing.T) {
	f := newFakeReleases(t, okDeployment())
	file := filepath.Join(t.TempDir(), "web.tar.gz")
	content := bytes.Repeat([]byte("phenix"), 2000)
	if err := os.WriteFile(file, content, 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(content)
	code, stdout, stderr := run(t, f.args("version", "upload", "@", "web", "1.4.2", file, "--note", "checkout fixes")...)
	if want := "uploaded web 1.4.2: sha256:" + hex.EncodeToString(sum[:]) + " (12.0 kB, tar.gz)\n"; code != ExitOK || stdout != want {
		t.Errorf("exit %d\n%s%s\nwant %s", code, stdout, stderr, want)
	}
	if got, note := f.lastUpload(); !bytes.Equal(got, content) || note != "checkout fixes" {
		t.Errorf("server got %d bytes, note %q", len(got), note)
	}
	code, stdout, _ = run(t, f.args("version", "upload", "@", "web", "1.4.2", file)...)
	if code != ExitOK || stdout != "web 1.4.2 is already uploaded with this content (sha256:"+hex.EncodeToString(sum[:])+")\n" {
		t.Errorf("again: exit %d\n%s", code, stdout)
	}
	// phenix version alone still prints the binary's version.
	code, stdout, _ = run(t, "version")
	if code != ExitOK || stdout != "phenix "+version()+"\n" {
		t.Errorf("phenix version: exit %d, %q", code, stdout)
	}
}

func TestUsersAddAndUnlock(t *testing.T) {
	f := newFakeReleases(t, okDeployment())
	code, stdout, stderr := run(t, f.args("users", "add", "@", "alice", "--admin")...)
	if code != ExitOK || !strings.Contains(stdout, "created admin alice; the token is shown only once:\n\n  phxu_s3cret\n") ||
		!strings.Contains(stdout, "export PHENIX_TOKEN=phxu_s3cret\n") {
		t.Errorf("exit %d\n%s%s", code, stdout, stderr)
	}
	code, stdout, stderr = run(t, f.args("unlock", "web", "--env", "prod", "--reason", "server restarted & lock stuck")...)
	if code != ExitOK || stdout != "unlocked web on prod: removed the lock of deployment d-1 (deploy 1.4.2 by bob, taken 1h ago)\n" {
		t.Errorf("unlock: exit %d\n%s%s", code, stdout, stderr)
	}
	reqs := f.requests()
	if want := []string{"POST /api/v1/users", "DELETE /api/v1/apps/web/locks/prod?reason=server+restarted+%26+lock+stuck"}; !cmp.Equal(reqs, want) {
		t.Errorf("requests %v, want %v", reqs, want)
	}
}
