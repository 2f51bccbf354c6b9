package server_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/phenixhq/phenix/internal/api"
	"github.com/phenixhq/phenix/internal/containertest"
	"github.com/phenixhq/phenix/internal/exampleapp"
	"github.com/phenixhq/phenix/internal/loadgen"
	"github.com/phenixhq/phenix/internal/policy"
	"github.com/phenixhq/phenix/internal/testenv"
)

// lbHook is a server hook that sets the batch's servers to state in
// HAProxy through its runtime API, with bash's /dev/tcp: the phenix server
// needs no other tool.
func lbHook(name, state string) string {
	return `    - name: ` + name + `
      on: server
      command:
        - bash
        - -c
        - |
          for h in {{ range .hosts }}{{ .id }} {{ end }}; do
            exec 3<>/dev/tcp/{{ .vars.lb }}/9999
            echo "set server app/$h state ` + state + `" >&3
            cat <&3
            exec 3<&-
          done
`
}

// deployPolicy is the example app, deployed one host per batch behind the
// load balancer at lb.
func deployPolicy(t *testing.T, lb string) []byte {
	dir := t.TempDir()
	files := map[string]string{
		"policy.yml": "vars:\n  - select: \"*\"\n    vars: {}\n",
		"apps/web.yml": `description: the example app behind HAProxy
artifact: {strip: 1}
vars: {lb: ` + lb + `}
config:
  - path: app.env
    content: "SHUTDOWN_TIMEOUT=10s\n"
service:
  provider: supervisor
  command: ["{{ .current }}/bin/app", "--listen", ":8080", "--config", "{{ .current }}/app.env"]
hooks:
  pre:
` + lbHook("out of the load balancer", "maint") + `  post:
` + lbHook("back into the load balancer", "ready") + `checks:
  - name: health
    http:
      url: "http://{{ .host.address }}:8080/health"
      contains: ok
    retry: {interval: 200ms, deadline: 5s}
check_every: 0s
environments:
  prod:
    select: role=web
    batch: 1
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
	archive, _, err := policy.Pack(dir)
	if err != nil {
		t.Fatal(err)
	}
	return archive
}

// TestDeployFaults deploys the example app to three hosts (containers
// running the agent) behind HAProxy, under continuous load: a rolling
// deploy drops no request; a broken version stops after its first batch,
// is switched back, drops no request, and leaves the environment on the
// version before; a host that goes away mid-deploy fails it clearly.
func TestDeployFaults(t *testing.T) {
	testenv.Require(t, "docker", "debootstrap")
	hosts := []string{"web-1", "web-2", "web-3"}
	f := newDockerFleet(t, hosts...)
	ctx := t.Context()
	backends := map[string]string{}
	for _, id := range hosts {
		if err := f.c.Do(ctx, "POST", "/api/v1/hosts/"+id+"/labels", api.LabelRequest{Set: map[string]string{"role": "web"}}, nil); err != nil {
			t.Fatal(err)
		}
		backends[id] = f.agents[id].IP(t, f.net) + ":8080"
	}
	lb := containertest.StartHAProxy(t, f.net, backends)
	if err := f.c.Do(ctx, "POST", "/api/v1/policy", deployPolicy(t, lb.C.IP(t, f.net)), nil); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, v := range []struct {
		version string
		broken  bool
	}{{"1.0.0", false}, {"2.0.0", false}, {"3.0.0", true}} {
		body, err := os.ReadFile(exampleapp.Artifact(t, dir, v.version, v.broken, 0))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.c.DoBody(ctx, "PUT", "/api/v1/apps/web/versions/"+v.version, bytes.NewReader(body), int64(len(body)), nil); err != nil {
			t.Fatal(err)
		}
	}
	deploy := func(req api.DeployRequest) api.Deployment {
		t.Helper()
		var d api.Deployment
		if err := f.c.Do(ctx, "POST", "/api/v1/apps/web/deployments", req, &d); err != nil {
			t.Fatal(err)
		}
		testenv.WaitFor(t, "deployment "+d.ID, func() bool {
			if err := f.c.Do(ctx, "GET", "/api/v1/deployments/"+d.ID, nil, &d); err != nil {
				t.Fatal(err)
			}
			return d.State != api.StateRunning
		})
		return d
	}
	current := func(id string) string {
		out, _, _, _ := f.agents[id].Exec(ctx, "readlink", "/opt/phenix/apps/web/current")
		return filepath.Base(strings.TrimSpace(out))
	}
	allUp := func() {
		t.Helper()
		testenv.WaitFor(t, "every server UP in HAProxy", func() bool {
			for _, st := range lb.Servers(t) {
				if !strings.HasPrefix(st, "UP") || strings.Contains(st, "/") {
					return false
				}
			}
			return true
		})
	}
	underLoad := func(fn func()) *loadgen.Report {
		t.Helper()
		allUp()
		gen := loadgen.Start(context.Background(), loadgen.Config{URL: "http://" + lb.Addr + "/", Concurrency: 4})
		time.Sleep(500 * time.Millisecond)
		fn()
		time.Sleep(500 * time.Millisecond)
		rep := gen.Stop()
		t.Logf("load: %s", rep)
		return rep
	}

	if d := deploy(api.DeployRequest{Kind: "deploy", Env: "prod", Version: "1.0.0"}); d.State != api.StateOK {
		t.Fatalf("first deploy: %+v", d)
	}

	t.Run("rolling deploy under load", func(t *testing.T) {
		var d api.Deployment
		rep := underLoad(func() { d = deploy(api.DeployRequest{Kind: "deploy", Env: "prod", Version: "2.0.0"}) })
		if d.State != api.StateOK {
			t.Fatalf("deploy 2.0.0: %+v", d)
		}
		if rep.Failed != 0 || rep.Requests < 100 {
			t.Errorf("%d of %d requests failed: %v", rep.Failed, rep.Requests, rep.Errors)
		}
		if rep.Versions["1.0.0"] == 0 || rep.Versions["2.0.0"] == 0 {
			t.Errorf("versions seen: %v", rep.Versions)
		}
		for _, id := range hosts {
			if current(id) != "2.0.0" {
				t.Errorf("%s runs %s", id, current(id))
			}
		}
	})

	t.Run("broken version under load", func(t *testing.T) {
		var d api.Deployment
		rep := underLoad(func() { d = deploy(api.DeployRequest{Kind: "deploy", Env: "prod", Version: "3.0.0"}) })
		if d.State != api.StateFailed || !strings.Contains(d.Summary, "batch 1: activate") || !strings.Contains(d.Summary, "prod stays on 2.0.0") {
			t.Fatalf("deploy 3.0.0: %+v", d)
		}
		if rep.Failed != 0 {
			t.Errorf("%d of %d requests failed: %v", rep.Failed, rep.Requests, rep.Errors)
		}
		if rep.Versions["3.0.0"] != 0 {
			t.Errorf("the broken version answered: %v", rep.Versions)
		}
		var batches []int
		for _, s := range d.Steps {
			if !slices.Contains(batches, s.Batch) {
				batches = append(batches, s.Batch)
			}
		}
		if !slices.Equal(batches, []int{0, 1}) {
			t.Errorf("steps of batches %v, want the deliver and batch 1 only", batches)
		}
		for _, id := range hosts {
			if current(id) != "2.0.0" {
				t.Errorf("%s runs %s", id, current(id))
			}
		}
		var st api.AppStatus
		if err := f.c.Do(ctx, "GET", "/api/v1/apps/web/status", nil, &st); err != nil {
			t.Fatal(err)
		}
		if e := st.Envs[0]; e.Current != "2.0.0" || e.Last == nil || e.Last.State != api.StateFailed {
			t.Errorf("prod: %+v", e)
		}
		allUp() // the first batch is back in the load balancer
	})

	t.Run("host goes away mid-deploy", func(t *testing.T) {
		var d api.Deployment
		if err := f.c.Do(ctx, "POST", "/api/v1/apps/web/deployments", api.DeployRequest{Kind: "deploy", Env: "prod", Version: "1.0.0"}, &d); err != nil {
			t.Fatal(err)
		}
		testenv.WaitFor(t, "the second batch", func() bool {
			if err := f.c.Do(ctx, "GET", "/api/v1/deployments/"+d.ID, nil, &d); err != nil {
				t.Fatal(err)
			}
			return len(d.Steps) > 0 && d.Steps[len(d.Steps)-1].Batch == 2
		})
		f.agents["web-3"].Disconnect(t, f.net)
		testenv.WaitFor(t, "deployment "+d.ID, func() bool {
			if err := f.c.Do(ctx, "GET", "/api/v1/deployments/"+d.ID, nil, &d); err != nil {
				t.Fatal(err)
			}
			return d.State != api.StateRunning
		})
		if d.State != api.StateFailed || !strings.Contains(d.Summary, "web-3 unreachable") {
			t.Fatalf("deployment: %+v", d)
		}
		// The batches done are switched back; web-3 is reported, not waited for.
		for _, id := range []string{"web-1", "web-2"} {
			if current(id) != "2.0.0" {
				t.Errorf("%s runs %s", id, current(id))
			}
		}
		story := deploymentStory(t, f.c, d.ID)
		t.Logf("journal:\n%s", strings.Join(story, "\n"))
		for _, p := range []string{"deploy.start running: ", "release.deliver ok: ", "release.hook ok: ", "release.activate failed: ", "deploy failed: "} {
			if !slices.ContainsFunc(story, prefix(p)) {
				t.Errorf("the journal lacks %q", p)
			}
		}
	})
}
