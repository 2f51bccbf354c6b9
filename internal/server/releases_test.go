package server_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/phenixhq/phenix/internal/api"
	"github.com/phenixhq/phenix/internal/policy"
	"github.com/phenixhq/phenix/internal/sqlstore"
	"github.com/phenixhq/phenix/internal/testenv"
)

// tarGz returns a tar.gz of files (path → content) under a top directory.
func tarGz(t *testing.T, top string, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		if err := tw.WriteHeader(&tar.Header{Name: top + "/" + n, Mode: 0o644, Size: int64(len(files[n])), Typeflag: tar.TypeReg, ModTime: time.Unix(1700000000, 0)}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(files[n])); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// releasePolicy writes a policy with the app web: environments alpha (one
// host) and prod (two, one per batch, approval, deployers alice), checks
// that read the release's health file, server hooks that log the batches
// going out and in, and a pre hook that waits while a hold file exists.
func releasePolicy(t *testing.T, roots map[string]string, hookLog, hold, checkEvery, maxFail string) string {
	dir := t.TempDir()
	var hosts strings.Builder
	for id, root := range roots {
		hosts.WriteString("  " + id + ":\n    vars: {root: " + root + "}\n")
	}
	files := map[string]string{
		"policy.yml": "hosts:\n" + hosts.String(),
		"apps/web.yml": `description: the test app
artifact: {strip: 1}
keep: 2
vars: {hooklog: ` + hookLog + `, hold: ` + hold + `}
config:
  - path: config/app.env
    content: "ENV={{ .env }}\nVERSION={{ .version }}\nPREVIOUS={{ .previous }}\n"
hooks:
  migrate:
    - name: migrations
      on: one
      command: [sh, -c, "echo {{ .version }} >> {{ .vars.root }}/migrations"]
  pre:
    - name: hold
      on: server
      script: while [ -e {{ .vars.hold }} ]; do sleep 0.05; done
    - name: out
      on: server
      script: echo "{{ .env }} out{{ range .hosts }} {{ .id }}{{ end }}" >> {{ .vars.hooklog }}
  post:
    - name: in
      on: server
      script: echo "{{ .env }} in{{ range .hosts }} {{ .id }}{{ end }}" >> {{ .vars.hooklog }}
checks:
  - name: health
    command:
      script: grep -qx ok {{ .vars.root }}/opt/phenix/apps/web/current/health
    retry: {interval: 100ms, deadline: 1s}
check_every: ` + checkEvery + `
environments:
  alpha:
    select: env=alpha
  prod:
    select: env=prod
    batch: 1
    max_fail: ` + maxFail + `
    approval: true
    deployers: [alice]
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

// upload uploads a version and returns the status code.
func (f *fleet) upload(c *api.Client, app, version string, body []byte) (int, error) {
	return c.DoBody(f.t.Context(), "PUT", "/api/v1/apps/"+app+"/versions/"+version, bytes.NewReader(body), int64(len(body)), nil)
}

// deploy starts a deployment and follows it to its end.
func (f *fleet) deploy(c *api.Client, req api.DeployRequest) (api.Deployment, error) {
	f.t.Helper()
	var d api.Deployment
	if err := c.Do(f.t.Context(), "POST", "/api/v1/apps/web/deployments", req, &d); err != nil {
		return d, err
	}
	return f.waitDeployment(c, d.ID), nil
}

func (f *fleet) waitDeployment(c *api.Client, id string) api.Deployment {
	f.t.Helper()
	var d api.Deployment
	testenv.WaitFor(f.t, "deployment "+id+" ends", func() bool {
		if err := c.Do(f.t.Context(), "GET", "/api/v1/deployments/"+id, nil, &d); err != nil {
			f.t.Fatal(err)
		}
		return d.State != api.StateRunning
	})
	return d
}

func (f *fleet) status(c *api.Client) map[string]api.EnvStatus {
	f.t.Helper()
	var st api.AppStatus
	if err := c.Do(f.t.Context(), "GET", "/api/v1/apps/web/status", nil, &st); err != nil {
		f.t.Fatal(err)
	}
	out := map[string]api.EnvStatus{}
	for _, e := range st.Envs {
		out[e.Env] = e
	}
	return out
}

// deploymentStory returns the journal entries of a deployment, oldest
// first, as "action result: summary".
func deploymentStory(t *testing.T, c *api.Client, id string) []string {
	t.Helper()
	var es []struct {
		Action, Result, Summary string
		Params                  map[string]string
	}
	if err := c.Do(t.Context(), "GET", "/api/v1/journal?limit=500", nil, &es); err != nil {
		t.Fatal(err)
	}
	var story []string
	for _, e := range es {
		if e.Params["deployment"] == id {
			story = append(story, e.Action+" "+e.Result+": "+e.Summary)
		}
	}
	return story
}

func prefix(p string) func(string) bool {
	return func(s string) bool { return strings.HasPrefix(s, p) }
}

func statusCode(err error) int {
	var se *api.StatusError
	if errors.As(err, &se) {
		return se.Code
	}
	return 0
}

func readLink(t *testing.T, p string) string {
	t.Helper()
	l, err := os.Readlink(p)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestReleases drives the lifecycle of an app through the API, with real
// agents: uploads, refusals, deliver, deploy with hooks and checks,
// approvals, a failing version switched back, rollback, permissions, the
// lock, a host going away and a server restart mid-deployment.
func TestReleases(t *testing.T) {
	f := newFleet(t)
	ctx := t.Context()
	roots := map[string]string{}
	for id, env := range map[string]string{"a-1": "alpha", "p-1": "prod", "p-2": "prod"} {
		roots[id] = f.agent(id, f.token(map[string]string{"env": env}).Token)
	}
	for id := range roots {
		f.waitStatus(id, "online")
	}
	tmp := t.TempDir()
	hookLog, hold := filepath.Join(tmp, "hooks.log"), filepath.Join(tmp, "hold")
	archive, _, err := policy.Pack(releasePolicy(t, roots, hookLog, hold, "0s", "0"))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.c.Do(ctx, "POST", "/api/v1/policy", archive, nil); err != nil {
		t.Fatal(err)
	}
	cur := func(id string) string {
		return filepath.Base(readLink(t, filepath.Join(roots[id], "opt/phenix/apps/web/current")))
	}

	v1 := tarGz(t, "web-1.0", map[string]string{"health": "ok\n", "VERSION": "1.0\n"})
	v2 := tarGz(t, "web-2.0", map[string]string{"health": "ok\n", "VERSION": "2.0\n"})
	v3 := tarGz(t, "web-3.0", map[string]string{"health": "broken\n", "VERSION": "3.0\n"})
	t.Run("upload", func(t *testing.T) {
		for _, u := range []struct {
			version string
			body    []byte
			code    int
		}{
			{"1.0", v1, 201}, {"2.0", v2, 201}, {"3.0", v3, 201},
			{"1.0", v1, 200}, // the same again
		} {
			if code, err := f.upload(f.c, "web", u.version, u.body); err != nil || code != u.code {
				t.Fatalf("upload %s: %d %v, want %d", u.version, code, err, u.code)
			}
		}
		for _, bad := range []struct {
			app, version string
			body         []byte
			code         int
			msg          string
		}{
			{"web", "1.0", v2, 409, "exists with sha256:"},
			{"nope", "1.0", v1, 404, "no app \"nope\""},
			{"web", "../x", v1, 404, ""}, // not even routed
			{"web", ".hidden", v1, 400, "is not a version name"},
			{"web", "4.0", []byte("not an archive"), 400, "body"},
			{"web", "5.0", tarGz(t, "..", map[string]string{"x": "escape"}), 400, "unsafe"},
		} {
			_, err := f.upload(f.c, bad.app, bad.version, bad.body)
			if statusCode(err) != bad.code || !strings.Contains(err.Error(), bad.msg) {
				t.Errorf("upload %s %s: %v, want %d %q", bad.app, bad.version, err, bad.code, bad.msg)
			}
		}
	})

	t.Run("refused", func(t *testing.T) {
		for _, r := range []struct {
			req  api.DeployRequest
			code int
			msg  string
		}{
			{api.DeployRequest{Kind: "deploy", Env: "prod", Version: "1.0"}, 409, "has not passed alpha yet"},
			{api.DeployRequest{Kind: "deliver", Env: "prod", Version: "1.0"}, 409, "has not passed alpha yet"},
			{api.DeployRequest{Kind: "deploy", Env: "staging", Version: "1.0"}, 400, `no environment "staging"`},
			{api.DeployRequest{Kind: "deploy", Env: "alpha", Version: "9.9"}, 400, `no version "9.9"`},
			{api.DeployRequest{Kind: "deploy", Env: "alpha"}, 400, "version"},
			{api.DeployRequest{Kind: "rollback", Env: "alpha"}, 409, "no earlier version"},
			{api.DeployRequest{Kind: "deploy", Env: "prod", Version: "1.0", Override: true}, 400, "reason"},
			{api.DeployRequest{Kind: "launch", Env: "prod", Version: "1.0"}, 400, "kind"},
		} {
			_, err := f.deploy(f.c, r.req)
			if statusCode(err) != r.code || !strings.Contains(err.Error(), r.msg) {
				t.Errorf("%+v: %v, want %d %q", r.req, err, r.code, r.msg)
			}
		}
	})

	t.Run("deliver and deploy", func(t *testing.T) {
		d, err := f.deploy(f.c, api.DeployRequest{Kind: "deliver", Env: "alpha", Version: "1.0"})
		if err != nil || d.State != "ok" {
			t.Fatalf("deliver: %+v %v", d, err)
		}
		if _, err := os.Stat(filepath.Join(roots["a-1"], "opt/phenix/apps/web/releases/1.0/health")); err != nil {
			t.Fatalf("not delivered: %v", err)
		}
		if _, err := os.Lstat(filepath.Join(roots["a-1"], "opt/phenix/apps/web/current")); !os.IsNotExist(err) {
			t.Fatalf("deliver switched current: %v", err)
		}
		if st := f.status(f.c)["alpha"]; st.Delivered != "1.0" || st.Current != "" {
			t.Errorf("alpha after deliver: %+v", st)
		}
		d, err = f.deploy(f.c, api.DeployRequest{Kind: "deploy", Env: "alpha", Version: "1.0"})
		if err != nil || d.State != "ok" {
			t.Fatalf("deploy alpha: %+v %v", d, err)
		}
		if cur("a-1") != "1.0" {
			t.Errorf("a-1 runs %s", cur("a-1"))
		}
		// The migration ran once, on the host, for the deploy (not the deliver).
		if m, err := os.ReadFile(filepath.Join(roots["a-1"], "migrations")); err != nil || string(m) != "1.0\n" {
			t.Errorf("migrations: %q %v", m, err)
		}
		env, err := os.ReadFile(filepath.Join(roots["a-1"], "opt/phenix/apps/web/current/config/app.env"))
		if err != nil || string(env) != "ENV=alpha\nVERSION=1.0\nPREVIOUS=\n" {
			t.Errorf("config: %q %v", env, err)
		}
		// prod needs an approval, then deploys batch by batch.
		if _, err := f.deploy(f.c, api.DeployRequest{Kind: "deploy", Env: "prod", Version: "1.0"}); statusCode(err) != 409 || !strings.Contains(err.Error(), "phenix approve web 1.0 --env prod") {
			t.Fatalf("deploy without approval: %v", err)
		}
		if err := f.c.Do(ctx, "POST", "/api/v1/apps/web/approvals", api.ApproveRequest{Env: "prod", Version: "1.0"}, nil); err != nil {
			t.Fatal(err)
		}
		os.Remove(hookLog)
		d, err = f.deploy(f.c, api.DeployRequest{Kind: "deploy", Env: "prod", Version: "1.0"})
		if err != nil || d.State != "ok" {
			t.Fatalf("deploy prod: %+v %v", d, err)
		}
		log, _ := os.ReadFile(hookLog)
		if string(log) != "prod out p-1\nprod in p-1\nprod out p-2\nprod in p-2\n" {
			t.Errorf("hooks ran:\n%s", log)
		}
		var names []string
		for _, s := range d.Steps {
			names = append(names, s.Name)
		}
		want := []string{"deliver", "migrate: migrations", "pre: hold", "pre: out", "activate", "post: in", "pre: hold", "pre: out", "activate", "post: in"}
		if !slices.Equal(names, want) {
			t.Errorf("steps %q, want %q", names, want)
		}
		if m := d.Steps[1]; len(m.Hosts) != 1 || m.Hosts[0].Host != "p-1" {
			t.Errorf("the migration ran on %+v, want p-1 only", m.Hosts)
		}
		act := d.Steps[4]
		if act.Batch != 1 || len(act.Hosts) != 1 || act.Hosts[0].Host != "p-1" || len(act.Hosts[0].Checks) != 1 || !act.Hosts[0].Checks[0].OK {
			t.Errorf("activate step: %+v", act)
		}
		for _, id := range []string{"p-1", "p-2"} {
			if cur(id) != "1.0" {
				t.Errorf("%s runs %s", id, cur(id))
			}
		}
		// 2.0 goes through alpha, then prod.
		for _, env := range []string{"alpha", "prod"} {
			if env == "prod" {
				if err := f.c.Do(ctx, "POST", "/api/v1/apps/web/approvals", api.ApproveRequest{Env: "prod", Version: "2.0"}, nil); err != nil {
					t.Fatal(err)
				}
			}
			if d, err := f.deploy(f.c, api.DeployRequest{Kind: "deploy", Env: env, Version: "2.0"}); err != nil || d.State != "ok" {
				t.Fatalf("deploy 2.0 to %s: %+v %v", env, d, err)
			}
		}
		st := f.status(f.c)["prod"]
		if st.Current != "2.0" || st.Previous != "1.0" || st.Last == nil || st.Last.Version != "2.0" || st.Last.State != "ok" || st.Hosts != 2 || !st.Approval {
			t.Errorf("prod status: %+v", st)
		}
	})

	t.Run("failing version is switched back", func(t *testing.T) {
		d, err := f.deploy(f.c, api.DeployRequest{Kind: "deploy", Env: "alpha", Version: "3.0"})
		if err != nil || d.State != "failed" || !strings.Contains(d.Summary, "batch 1: activate") || !strings.Contains(d.Summary, "alpha stays on 2.0") {
			t.Fatalf("deploy 3.0: %+v %v", d, err)
		}
		if cur("a-1") != "2.0" {
			t.Errorf("a-1 runs %s after the failed deploy", cur("a-1"))
		}
		if st := f.status(f.c)["alpha"]; st.Current != "2.0" || st.Last.State != "failed" {
			t.Errorf("alpha: %+v", st)
		}
		// An admin overrides the lifecycle for prod: the first batch fails
		// and is switched back, the second is never touched.
		os.Remove(hookLog)
		d, err = f.deploy(f.c, api.DeployRequest{Kind: "deploy", Env: "prod", Version: "3.0", Override: true, Reason: "hotfix test"})
		if err != nil || d.State != "failed" || d.Override != "hotfix test" {
			t.Fatalf("override: %+v %v", d, err)
		}
		if cur("p-1") != "2.0" || cur("p-2") != "2.0" {
			t.Errorf("prod runs %s, %s", cur("p-1"), cur("p-2"))
		}
		log, _ := os.ReadFile(hookLog)
		if string(log) != "prod out p-1\nprod in p-1\n" {
			t.Errorf("hooks ran:\n%s", log)
		}
		// Nothing redeploys 3.0 by itself: prod stays on 2.0.
		if st := f.status(f.c)["prod"]; st.Current != "2.0" || st.Previous != "1.0" {
			t.Errorf("prod: %+v", st)
		}
	})

	t.Run("rollback", func(t *testing.T) {
		d, err := f.deploy(f.c, api.DeployRequest{Kind: "rollback", Env: "prod"})
		if err != nil || d.State != "ok" || d.Version != "1.0" {
			t.Fatalf("rollback: %+v %v", d, err)
		}
		if cur("p-1") != "1.0" || cur("p-2") != "1.0" {
			t.Errorf("prod runs %s, %s", cur("p-1"), cur("p-2"))
		}
		if _, err := f.deploy(f.c, api.DeployRequest{Kind: "rollback", Env: "prod"}); statusCode(err) != 409 {
			t.Errorf("a second rollback with nothing below: %v", err)
		}
		if _, err := f.deploy(f.c, api.DeployRequest{Kind: "rollback", Env: "prod", Version: "3.0"}); statusCode(err) != 409 || !strings.Contains(err.Error(), "never ran on prod") {
			t.Errorf("rollback to a version that never ran: %v", err)
		}
	})

	t.Run("permissions", func(t *testing.T) {
		users := map[string]*api.Client{}
		for _, name := range []string{"alice", "bob"} {
			var ur api.UserResponse
			if err := f.c.Do(ctx, "POST", "/api/v1/users", api.UserRequest{Name: name}, &ur); err != nil {
				t.Fatal(err)
			}
			c := *f.c
			c.Token = ur.Token
			users[name] = &c
		}
		if _, err := f.deploy(users["bob"], api.DeployRequest{Kind: "deploy", Env: "prod", Version: "2.0"}); statusCode(err) != http.StatusForbidden || !strings.Contains(err.Error(), "deployers are alice") {
			t.Errorf("bob deploys to prod: %v", err)
		}
		if err := users["alice"].Do(ctx, "POST", "/api/v1/apps/web/approvals", api.ApproveRequest{Env: "prod", Version: "2.0"}, nil); statusCode(err) != http.StatusForbidden {
			t.Errorf("alice approves: %v", err)
		}
		if _, err := f.deploy(users["alice"], api.DeployRequest{Kind: "deploy", Env: "prod", Version: "3.0", Override: true, Reason: "x"}); statusCode(err) != http.StatusForbidden {
			t.Errorf("alice overrides: %v", err)
		}
		if err := users["alice"].Do(ctx, "GET", "/api/v1/hosts", nil, nil); statusCode(err) != http.StatusForbidden {
			t.Errorf("alice lists hosts: %v", err)
		}
		d, err := f.deploy(users["alice"], api.DeployRequest{Kind: "deploy", Env: "prod", Version: "2.0"})
		if err != nil || d.State != "ok" || d.Actor != "alice" {
			t.Fatalf("alice deploys: %+v %v", d, err)
		}
	})

	t.Run("lock", func(t *testing.T) {
		if err := os.WriteFile(hold, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		var d api.Deployment
		if err := f.c.Do(ctx, "POST", "/api/v1/apps/web/deployments", api.DeployRequest{Kind: "rollback", Env: "prod"}, &d); err != nil {
			t.Fatal(err)
		}
		_, err := f.deploy(f.c, api.DeployRequest{Kind: "deploy", Env: "prod", Version: "2.0"})
		if statusCode(err) != 409 || !strings.Contains(err.Error(), "locked by deployment "+d.ID+" of admin") || !strings.Contains(err.Error(), "rollback 1.0") {
			t.Errorf("second deployment: %v", err)
		}
		if err := f.c.Do(ctx, "DELETE", "/api/v1/apps/web/locks/prod", nil, nil); statusCode(err) != 400 {
			t.Errorf("unlock without a reason: %v", err)
		}
		// The server stops mid-deployment: the deployment ends failed,
		// its lock released, when it is back.
		testenv.WaitFor(t, "the first batch's pre hook", func() bool {
			var got api.Deployment
			if err := f.c.Do(ctx, "GET", "/api/v1/deployments/"+d.ID, nil, &got); err != nil {
				t.Fatal(err)
			}
			n := len(got.Steps)
			return n > 0 && got.Steps[n-1].Name == "pre: hold"
		})
		f.stop()
		f.start()
		var got api.Deployment
		if err := f.c.Do(ctx, "GET", "/api/v1/deployments/"+d.ID, nil, &got); err != nil {
			t.Fatal(err)
		}
		if got.State != "failed" || !strings.Contains(got.Summary, "the server stopped during batch 1: pre: hold") {
			t.Errorf("after restart: %+v", got)
		}
		if st := f.status(f.c)["prod"]; st.Lock != nil || st.Current != "2.0" {
			t.Errorf("prod after restart: %+v", st)
		}
		os.Remove(hold)
	})

	t.Run("crashed server", func(t *testing.T) {
		// A server killed mid-deployment leaves the deployment running,
		// its lock and its job open in the store: the next server ends
		// them at its start.
		f.stop()
		db, err := sqlstore.Open(ctx, f.db)
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now().UTC()
		job := sqlstore.Job{ID: "j-crash", Kind: "release", Actor: "admin", Selector: "env=prod", Spec: `{"job":{"id":"j-crash","kind":"release"},"deployment":"d-crash"}`,
			Hosts: []string{"p-1"}, Timeout: time.Minute, CreatedAt: now, Deadline: now.Add(time.Minute)}
		steps := `[{"batch":1,"name":"activate","where":"p-1","job":"j-crash","result":"running","started_at":"` + now.Format(time.RFC3339Nano) + `","duration":"0s"}]`
		d := sqlstore.Deployment{ID: "d-crash", App: "web", Env: "prod", Kind: "deploy", Version: "1.0", Previous: "2.0", Actor: "admin",
			State: "running", Hosts: []string{"p-1", "p-2"}, Detail: steps, CreatedAt: now}
		lock := sqlstore.Lock{App: "web", Env: "prod", Deployment: "d-crash", Actor: "admin", Reason: "deploy 1.0", Since: now, Expires: now.Add(time.Hour)}
		if err := db.CreateJob(ctx, job); err != nil {
			t.Fatal(err)
		}
		if err := db.CreateDeployment(ctx, d, lock, now); err != nil {
			t.Fatal(err)
		}
		db.Close()
		f.start()
		var got api.Deployment
		if err := f.c.Do(ctx, "GET", "/api/v1/deployments/d-crash", nil, &got); err != nil {
			t.Fatal(err)
		}
		if got.State != "failed" || !strings.Contains(got.Summary, "the server stopped during batch 1: activate") || got.Steps[0].Result != "failed" {
			t.Errorf("after the crash: %+v", got)
		}
		if st := f.status(f.c)["prod"]; st.Lock != nil {
			t.Errorf("the lock of the crashed deployment is held: %+v", st.Lock)
		}
		j, err := f.c.Job(ctx, "j-crash")
		if err != nil || j.Result != "failed" || !strings.Contains(j.Summary, "abandoned") || j.Results[0].Status != "unreachable" {
			t.Errorf("its job: %+v %v", j, err)
		}
		if story := deploymentStory(t, f.c, "d-crash"); len(story) != 1 || !strings.HasPrefix(story[0], "deploy failed: ") {
			t.Errorf("journal: %q", story)
		}
	})

	t.Run("host goes away", func(t *testing.T) {
		if err := f.c.Do(ctx, "POST", "/api/v1/apps/web/approvals", api.ApproveRequest{Env: "prod", Version: "1.0"}, nil); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(hold, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		var d api.Deployment
		if err := f.c.Do(ctx, "POST", "/api/v1/apps/web/deployments", api.DeployRequest{Kind: "deploy", Env: "prod", Version: "1.0"}, &d); err != nil {
			t.Fatal(err)
		}
		// p-2 goes away while the first batch waits on its pre hook.
		testenv.WaitFor(t, "the first batch's pre hook", func() bool {
			var got api.Deployment
			if err := f.c.Do(ctx, "GET", "/api/v1/deployments/"+d.ID, nil, &got); err != nil {
				t.Fatal(err)
			}
			n := len(got.Steps)
			return n > 0 && got.Steps[n-1].Name == "pre: hold"
		})
		f.killAgent("p-2")
		os.Remove(hold)
		d = f.waitDeployment(f.c, d.ID)
		if d.State != "failed" || !strings.Contains(d.Summary, "p-2 unreachable") {
			t.Fatalf("deployment: %+v", d)
		}
		if cur("p-1") != "2.0" {
			t.Errorf("p-1 runs %s: not switched back", cur("p-1"))
		}
		story := deploymentStory(t, f.c, d.ID)
		t.Logf("journal:\n%s", strings.Join(story, "\n"))
		if !slices.ContainsFunc(story, prefix("deploy failed: ")) || !slices.ContainsFunc(story, prefix("deploy.start running: ")) || !slices.ContainsFunc(story, prefix("release.activate failed: ")) {
			t.Errorf("journal story: %q", story)
		}
	})

	t.Run("scheduled checks", func(t *testing.T) {
		archive, _, err := policy.Pack(releasePolicy(t, roots, hookLog, hold, "10s", "0"))
		if err != nil {
			t.Fatal(err)
		}
		if err := f.c.Do(ctx, "POST", "/api/v1/policy", archive, nil); err != nil {
			t.Fatal(err)
		}
		// a-1 breaks after the deploy: the next scheduled run says so.
		if err := os.WriteFile(filepath.Join(roots["a-1"], "opt/phenix/apps/web/current/health"), []byte("broken\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(40 * time.Second)
		for {
			st := f.status(f.c)["alpha"]
			if st.Check != nil && !st.Check.OK {
				if !strings.Contains(st.Check.Summary, "a-1: check health") {
					t.Errorf("check summary: %q", st.Check.Summary)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no failed scheduled check: %+v", st.Check)
			}
			time.Sleep(200 * time.Millisecond)
		}
	})

	t.Run("failure within max_fail", func(t *testing.T) {
		archive, _, err := policy.Pack(releasePolicy(t, roots, hookLog, hold, "0s", "1"))
		if err != nil {
			t.Fatal(err)
		}
		if err := f.c.Do(ctx, "POST", "/api/v1/policy", archive, nil); err != nil {
			t.Fatal(err)
		}
		// p-2 is gone (above): prod allows one host to fail.
		d, err := f.deploy(f.c, api.DeployRequest{Kind: "deploy", Env: "prod", Version: "1.0"})
		if err != nil || d.State != "ok" || !strings.Contains(d.Summary, "1 failed, within max_fail 1: p-2") {
			t.Fatalf("deploy: %+v %v", d, err)
		}
		if cur("p-1") != "1.0" {
			t.Errorf("p-1 runs %s", cur("p-1"))
		}
	})

	var v []api.Version
	if err := f.c.Do(ctx, "GET", "/api/v1/apps/web/versions", nil, &v); err != nil {
		t.Fatal(err)
	}
	t.Logf("versions: %+v", v)
}
