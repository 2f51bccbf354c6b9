package server_test

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/phenixhq/phenix/internal/agent"
	"github.com/phenixhq/phenix/internal/api"
	"github.com/phenixhq/phenix/internal/policy"
	"github.com/phenixhq/phenix/internal/server"
	"github.com/phenixhq/phenix/internal/sqlstoretest"
	"github.com/phenixhq/phenix/internal/testenv"
)

// fleet is a server and its agents in this process, on loopback.
type fleet struct {
	t      *testing.T
	data   string
	db     string // SQLite, or PostgreSQL when PHENIX_TEST_POSTGRES is set
	listen string
	nats   string
	srv    *server.Server
	c      *api.Client
	mu     sync.Mutex
	agents map[string]context.CancelFunc
	done   map[string]chan error
	roots  map[string]string
}

// freeAddr returns a loopback address with a free port, so that a
// restarted server listens where the agents look for it.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func testLog(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

func newFleet(t *testing.T) *fleet {
	t.Helper()
	f := &fleet{t: t, data: t.TempDir(), db: sqlstoretest.DSN(t), listen: freeAddr(t), nats: freeAddr(t), agents: map[string]context.CancelFunc{}, done: map[string]chan error{}, roots: map[string]string{}}
	f.start()
	t.Cleanup(func() {
		f.mu.Lock()
		for id, cancel := range f.agents {
			cancel()
			<-f.done[id]
		}
		f.mu.Unlock()
		if f.srv != nil {
			f.srv.Close()
		}
	})
	return f
}

func (f *fleet) start() {
	f.t.Helper()
	srv, err := server.Start(f.t.Context(), server.Config{DataDir: f.data, DB: f.db, Listen: f.listen, NATSListen: f.nats, Heartbeat: 300 * time.Millisecond, Log: testLog(f.t)})
	if err != nil {
		f.t.Fatal(err)
	}
	f.srv = srv
	info := srv.Info()
	pem, err := os.ReadFile(info.CA)
	if err != nil {
		f.t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	tok, _ := srv.AdminToken()
	f.c = api.NewClient(info.URL, tok, pool)
}

func (f *fleet) stop() {
	f.t.Helper()
	if err := f.srv.Close(); err != nil {
		f.t.Fatal(err)
	}
	f.srv = nil
}

func (f *fleet) token(labels map[string]string) api.TokenResponse {
	f.t.Helper()
	var tr api.TokenResponse
	if err := f.c.Do(f.t.Context(), "POST", "/api/v1/tokens", api.TokenRequest{Labels: labels}, &tr); err != nil {
		f.t.Fatal(err)
	}
	return tr
}

// agent starts an agent with host id, under its own root; joinToken may
// be "" (the host waits as pending).
func (f *fleet) agent(id, joinToken string) string {
	f.t.Helper()
	f.mu.Lock()
	root, ok := f.roots[id]
	f.mu.Unlock()
	if !ok {
		root = filepath.Join(f.t.TempDir(), "root")
		if err := os.MkdirAll(root, 0o755); err != nil {
			f.t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	cfg := agent.Config{
		Server: f.srv.Info().URL, JoinToken: joinToken, CAHash: f.srv.Info().CAHash, ID: id,
		StateDir: filepath.Join(f.data, "agents", id), Root: root, Log: testLog(f.t).With("agent", id), Version: "test",
	}
	go func() { done <- agent.Run(ctx, cfg) }()
	f.mu.Lock()
	f.agents[id], f.done[id] = cancel, done
	f.roots[id] = root
	f.mu.Unlock()
	return root
}

func (f *fleet) killAgent(id string) {
	f.mu.Lock()
	cancel, done := f.agents[id], f.done[id]
	delete(f.agents, id)
	delete(f.done, id)
	f.mu.Unlock()
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		f.t.Errorf("agent %s: %v", id, err)
	}
}

func (f *fleet) host(id string) api.Host {
	f.t.Helper()
	hl, err := f.c.Hosts(f.t.Context(), "id="+id)
	if err != nil {
		f.t.Fatal(err)
	}
	if len(hl.Hosts) != 1 {
		return api.Host{}
	}
	return hl.Hosts[0]
}

func (f *fleet) waitStatus(id, status string) {
	f.t.Helper()
	testenv.WaitFor(f.t, id+" "+status, func() bool { return f.host(id).Status == status })
}

// run starts a job and follows it to its end; it returns the job with its
// results and the output seen live, per host.
func (f *fleet) run(req api.JobRequest) (api.Job, map[string]string) {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(f.t.Context(), time.Minute)
	defer cancel()
	j, err := f.c.StartJob(ctx, req)
	if err != nil {
		f.t.Fatal(err)
	}
	live := map[string]string{}
	err = f.c.Events(ctx, j.ID, func(ev api.Event) {
		if ev.Type == "output" {
			live[ev.Host] += ev.Data
		}
	})
	if err != nil {
		f.t.Fatal(err)
	}
	j, err = f.c.Job(ctx, j.ID)
	if err != nil {
		f.t.Fatal(err)
	}
	return j, live
}

func results(j api.Job) map[string]api.JobResult {
	out := map[string]api.JobResult{}
	for _, r := range j.Results {
		out[r.Host] = r
	}
	return out
}

func TestFleet(t *testing.T) {
	f := newFleet(t)
	ctx := t.Context()

	// Enrolment: a token with labels, and a host without a token that waits.
	tr := f.token(map[string]string{"role": "web"})
	if !strings.Contains(tr.Command, "--ca-hash sha256:") || !strings.HasPrefix(tr.Token, "phx_") {
		t.Fatalf("token response %+v", tr)
	}
	f.agent("web-1", tr.Token)
	f.agent("db-1", "")
	f.waitStatus("web-1", "online")
	f.waitStatus("db-1", "pending")
	if got := f.host("web-1").Labels["role"]; got != "web" {
		t.Errorf("web-1 role label = %q, want web (from the token)", got)
	}
	if err := f.c.Do(ctx, "POST", "/api/v1/hosts/db-1/accept", nil, nil); err != nil {
		t.Fatal(err)
	}
	f.waitStatus("db-1", "online")
	if err := f.c.Do(ctx, "POST", "/api/v1/hosts/db-1/labels", api.LabelRequest{Set: map[string]string{"role": "db", "env": "prod"}}, nil); err != nil {
		t.Fatal(err)
	}

	t.Run("selectors", func(t *testing.T) {
		for sel, want := range map[string]int{"*": 2, "role=web": 1, "env in (prod,preprod)": 1, "role!=web": 1, "nosuchkey=1": 0, "web-1": 1} {
			hl, err := f.c.Hosts(ctx, sel)
			if err != nil {
				t.Fatalf("%s: %v", sel, err)
			}
			if len(hl.Hosts) != want {
				t.Errorf("hosts %q: %d hosts, want %d", sel, len(hl.Hosts), want)
			}
		}
		_, err := f.c.Hosts(ctx, "role=web,env in (prod")
		var se *api.StatusError
		if !errors.As(err, &se) || se.Code != 400 || se.Body.Field != "selector" || !strings.Contains(se.Body.Error, "col 22") {
			t.Errorf("malformed selector: %v, want a 400 on selector naming the column", err)
		}
	})

	t.Run("run", func(t *testing.T) {
		j, live := f.run(api.JobRequest{Kind: "run", Selector: "*", Command: []string{"sh", "-c", "echo hello from $PHENIX_TEST_NOTHING; echo oops >&2"}})
		if j.Result != "ok" || len(j.Results) != 2 {
			t.Fatalf("job %+v", j)
		}
		for id, r := range results(j) {
			if r.Status != "ok" || !strings.Contains(r.Output, "hello from") || !strings.Contains(r.Output, "oops") {
				t.Errorf("%s: %+v", id, r)
			}
			if !strings.Contains(live[id], "hello from") {
				t.Errorf("%s: live output %q", id, live[id])
			}
		}
		j, _ = f.run(api.JobRequest{Kind: "run", Selector: "role=db", Command: []string{"sh", "-c", "exit 3"}})
		if r := results(j)["db-1"]; j.Result != "failed" || r.Status != "failed" || r.ExitCode != 3 || len(j.Results) != 1 {
			t.Errorf("exit 3: job %s %s, result %+v", j.Result, j.Summary, r)
		}
		j, _ = f.run(api.JobRequest{Kind: "run", Selector: "web-1", Command: []string{"sleep", "30"}, Timeout: api.Duration(500 * time.Millisecond)})
		if r := results(j)["web-1"]; r.Status != "timeout" {
			t.Errorf("timeout: %+v", r)
		}
		j, _ = f.run(api.JobRequest{Kind: "run", Selector: "*", Command: []string{"true"}, Batch: "1"})
		if j.Result != "ok" || j.Summary != "2 ok" {
			t.Errorf("batch 1: %s %s", j.Result, j.Summary)
		}
		j, _ = f.run(api.JobRequest{Kind: "run", Selector: "nosuchkey=1", Command: []string{"true"}})
		if len(j.Hosts) != 0 || j.Summary != "0 hosts matched" {
			t.Errorf("no host: %+v", j)
		}
	})

	t.Run("bad input", func(t *testing.T) {
		for _, tc := range []struct {
			req   api.JobRequest
			field string
		}{
			{api.JobRequest{Kind: "run", Selector: "*"}, "command"},
			{api.JobRequest{Kind: "run", Command: []string{"true"}}, "selector"},
			{api.JobRequest{Kind: "run", Selector: "a in (", Command: []string{"true"}}, "selector"},
			{api.JobRequest{Kind: "run", Selector: "*", Command: []string{"true"}, Batch: "0"}, "batch"},
			{api.JobRequest{Kind: "nope", Selector: "*"}, "kind"},
			{api.JobRequest{Kind: "op", Op: "nope"}, "op"},
		} {
			_, err := f.c.StartJob(ctx, tc.req)
			var se *api.StatusError
			if !errors.As(err, &se) || se.Code != 400 || se.Body.Field != tc.field {
				t.Errorf("%+v: %v, want 400 on %s", tc.req, err, tc.field)
			}
		}
	})

	t.Run("policy", func(t *testing.T) {
		dir := writePolicy(t)
		archive, _, err := policy.Pack(dir)
		if err != nil {
			t.Fatal(err)
		}
		var rev api.PolicyRevision
		if err := f.c.Do(ctx, "POST", "/api/v1/policy", archive, &rev); err != nil {
			t.Fatal(err)
		}
		if err := f.c.Do(ctx, "PUT", "/api/v1/secrets/db_password?select=role%3Ddb", []byte("hunter2"), nil); err != nil {
			t.Fatal(err)
		}
		webRoot := f.rootOf("web-1")
		dbRoot := f.rootOf("db-1")
		// A new revision reaches the agents by itself.
		testenv.WaitFor(t, "web-1 converged", func() bool {
			b, _ := os.ReadFile(filepath.Join(webRoot, "etc/motd"))
			return string(b) == "welcome to web-1\n"
		})
		testenv.WaitFor(t, "db-1 received its secret", func() bool {
			b, _ := os.ReadFile(filepath.Join(dbRoot, "etc/db.conf"))
			return string(b) == "password=hunter2\n"
		})
		if _, err := os.Stat(filepath.Join(webRoot, "etc/db.conf")); err == nil {
			t.Error("web-1 received the db bundle")
		}

		// apply SELECTOR: an apply job reports each host's result.
		j, _ := f.run(api.JobRequest{Kind: "apply", Selector: "*"})
		if j.Result != "ok" || len(j.Results) != 2 {
			t.Errorf("apply after convergence: %s %s", j.Result, j.Summary)
		}
		for _, r := range j.Results {
			if strings.Contains(r.Output+string(r.Detail), "hunter2") {
				t.Errorf("%s: the secret leaks in the result: %s", r.Host, r.Detail)
			}
		}

		// A hand edit is repaired and reported as drift.
		if err := os.WriteFile(filepath.Join(webRoot, "etc/motd"), []byte("hacked\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		testenv.WaitFor(t, "drift repaired", func() bool {
			b, _ := os.ReadFile(filepath.Join(webRoot, "etc/motd"))
			return string(b) == "welcome to web-1\n"
		})
		var drifts []api.Drift
		testenv.WaitFor(t, "drift reported", func() bool {
			drifts = nil
			_ = f.c.Do(ctx, "GET", "/api/v1/drift?selector=web-1", nil, &drifts)
			return len(drifts) > 0
		})
		if d := drifts[0]; d.Host != "web-1" || d.Trigger != "watch" || !strings.Contains(string(d.Changes), "hacked") {
			t.Errorf("drift %+v", d)
		}
	})

	t.Run("op", func(t *testing.T) {
		j, _ := f.run(api.JobRequest{Kind: "op", Op: "greet", Params: map[string]string{"name": "world", "times": "2"}})
		if r := results(j)["web-1"]; len(j.Results) != 1 || r.Status != "ok" || strings.Count(r.Output, "hello world") != 2 {
			t.Errorf("op greet on its default selector: %+v", j)
		}
		for _, params := range []map[string]string{
			{"name": "World; rm -rf /"}, // pattern
			{"name": "x", "times": "4"}, // max
			{"times": "1"},              // required
			{"name": "x", "colour": "red"},
		} {
			_, err := f.c.StartJob(ctx, api.JobRequest{Kind: "op", Op: "greet", Params: params})
			var se *api.StatusError
			if !errors.As(err, &se) || se.Code != 400 || se.Body.Field != "params" {
				t.Errorf("params %v: %v, want a 400 on params", params, err)
			}
		}
		var ops []api.Op
		if err := f.c.Do(ctx, "GET", "/api/v1/ops", nil, &ops); err != nil || len(ops) != 1 || len(ops[0].Params) != 2 {
			t.Errorf("ops: %+v %v", ops, err)
		}
	})

	t.Run("revoke", func(t *testing.T) {
		if err := f.c.Do(ctx, "POST", "/api/v1/hosts/db-1/revoke", nil, nil); err != nil {
			t.Fatal(err)
		}
		f.waitStatus("db-1", "revoked")
		j, _ := f.run(api.JobRequest{Kind: "run", Selector: "*", Command: []string{"true"}})
		if len(j.Hosts) != 1 || j.Hosts[0] != "web-1" {
			t.Errorf("after revoke, * is %v", j.Hosts)
		}
	})

	t.Run("journal", func(t *testing.T) {
		var es []struct{ Action, Actor string }
		if err := f.c.Do(ctx, "GET", "/api/v1/journal", nil, &es); err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, e := range es {
			seen[e.Action] = true
		}
		for _, a := range []string{"token.create", "host.enrol", "host.pending", "host.accept", "host.label", "command.run", "policy.push", "secret.set", "apply", "op.run", "host.revoke"} {
			if !seen[a] {
				t.Errorf("no %s in the journal", a)
			}
		}
		raw, _ := json.Marshal(es)
		if strings.Contains(string(raw), "hunter2") {
			t.Error("the secret is in the journal")
		}
		var v api.VerifyResponse
		if err := f.c.Do(ctx, "GET", "/api/v1/journal/verify", nil, &v); err != nil || !v.OK {
			t.Errorf("verify: %+v %v", v, err)
		}
	})
}

func (f *fleet) rootOf(id string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.roots[id]
}

// writePolicy writes a small policy: motd for every host, a db config with
// a secret for role=db.
func writePolicy(t *testing.T) string {
	dir := t.TempDir()
	files := map[string]string{
		"policy.yml": `bundles:
  - select: "*"
    apply: [base]
  - select: role=db
    apply: [db]
hosts:
  web-1:
    vars: {host: web-1}
  db-1:
    vars: {host: db-1}
interval: 1m
`,
		"bundles/base/motd.yml": `promises:
  - file: /etc/motd
    content: "welcome to {{ .vars.host }}\n"
`,
		"ops/greet.yml": `description: Say hello
select: role=web
timeout: 10s
params:
  name:
    type: string
    pattern: '^[a-z]+$'
    required: true
  times:
    type: int
    min: 1
    max: 3
    default: 1
script: |
  i=0; while [ $i -lt "$PHENIX_PARAM_TIMES" ]; do echo "hello $PHENIX_PARAM_NAME"; i=$((i+1)); done
`,
		"bundles/db/db.yml": `promises:
  - file: /etc/db.conf
    content: "password={{ .vars.db_password }}\n"
`,
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestServerRestartMidJob stops the server while a command runs: the agent
// keeps the result until the server is back, which then stores it once.
func TestServerRestartMidJob(t *testing.T) {
	f := newFleet(t)
	ctx := t.Context()
	f.agent("a-1", f.token(nil).Token)
	f.waitStatus("a-1", "online")
	flag := filepath.Join(t.TempDir(), "go")
	j, err := f.c.StartJob(ctx, api.JobRequest{Kind: "run", Selector: "*", Timeout: api.Duration(time.Minute),
		Command: []string{"sh", "-c", "echo started; while [ ! -e " + flag + " ]; do sleep 0.05; done; echo done"}})
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	go func() {
		_ = f.c.Events(ctx, j.ID, func(ev api.Event) {
			if ev.Type == "output" && strings.Contains(ev.Data, "started") {
				select {
				case <-started:
				default:
					close(started)
				}
			}
		})
	}()
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("the command did not start")
	}
	f.stop()
	// The command ends while the server is away: its result waits in the
	// agent's outbox.
	if err := os.WriteFile(flag, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	outbox := filepath.Join(f.data, "agents", "a-1", "outbox")
	testenv.WaitFor(t, "the result in the outbox", func() bool {
		es, _ := os.ReadDir(outbox)
		return len(es) > 0
	})
	f.start()
	var ended api.Job
	ctx2, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := f.c.Events(ctx2, j.ID, func(ev api.Event) {
		if ev.Type == "end" {
			ended = *ev.Job
		}
	}); err != nil {
		t.Fatal(err)
	}
	got, err := f.c.Job(ctx, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	if ended.Result != "ok" || len(got.Results) != 1 || got.Results[0].Status != "ok" || !strings.Contains(got.Results[0].Output, "done") {
		t.Fatalf("after restart: %+v", got)
	}
	var es []struct {
		Action string
		Params map[string]string
	}
	if err := f.c.Do(ctx, "GET", "/api/v1/journal", nil, &es); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range es {
		if e.Action == "command.run" && e.Params["job"] == j.ID {
			n++
		}
	}
	if n != 1 {
		t.Errorf("the job is journaled %d times, want once", n)
	}
}
