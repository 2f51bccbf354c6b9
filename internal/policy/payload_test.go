package policy

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/phenixhq/phenix/internal/bundle"
	"github.com/phenixhq/phenix/internal/engine"
	"github.com/phenixhq/phenix/internal/promise"
	"github.com/phenixhq/phenix/internal/selector"
)

// fleetPolicy has four bundles, rules that overlap, and vars on every layer.
var fleetPolicy = map[string]string{
	"policy.yml": `bundles:
  - select: "*"
    apply: [base]
  - select: role=web
    apply: [web, monitoring]
  - select: env=prod
    apply: [monitoring, base, hardening]
vars:
  - select: "*"
    vars: {greeting: hello, port: 8080, tags: [a, b], nested: {x: 1}}
  - select: env=prod
    vars: {port: 80}
  - select: role=web
    vars: {greeting: hi}
hosts:
  web-1:
    vars: {port: 8081}
interval: 1m
`,
	"bundles/base/base.yml":             "promises:\n  - file: /etc/motd\n    template: motd.tmpl\n",
	"bundles/base/motd.tmpl":            "{{ .vars.greeting }}\n",
	"bundles/web/web.yml":               "promises:\n  - directory: /srv/www\n",
	"bundles/web/files/index.html":      "<h1>hi</h1>\n",
	"bundles/monitoring/monitoring.yml": "promises:\n  - package: prometheus-node-exporter\n",
	"bundles/hardening/ssh.yml":         "promises:\n  - line: /etc/ssh/sshd_config\n    text: PermitRootLogin no\n",
	"bundles/unused/unused.yml":         "promises:\n  - file: /etc/unused\n    content: x\n",
	"ops/uptime.yml":                    "command: [uptime]\n",
	"README.md":                         "not sent to hosts\n",
}

func loadFleet(t *testing.T) *Policy {
	t.Helper()
	p, err := Load(writeTree(t, fleetPolicy))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func TestForHost(t *testing.T) {
	p := loadFleet(t)
	p.Hash = "sha256:abc"
	secrets := []Secret{
		{Name: "db_password", Selector: "env=prod", Value: "prod-secret"},
		{Name: "db_password", Selector: "env=prod,role=web", Value: "web-prod-secret"},
		{Name: "db_password", Selector: "env=dev", Value: "dev-secret"},
		{Name: "api_key", Selector: "*", Value: "k"},
		{Name: "greeting", Selector: "id=web-1", Value: "secret greeting"},
	}
	for _, tt := range []struct {
		name        string
		host        selector.Host
		bundles     []string
		vars        map[string]any
		secretNames []string
	}{
		{
			name:        "plain",
			host:        selector.Host{ID: "db-1", Labels: map[string]string{"role": "db", "env": "staging"}},
			bundles:     []string{"base"},
			vars:        map[string]any{"greeting": "hello", "port": 8080, "tags": []any{"a", "b"}, "nested": map[string]any{"x": 1}, "api_key": "k"},
			secretNames: []string{"api_key"},
		},
		{
			// web adds web and monitoring; prod adds monitoring again (kept
			// at its first place), base again (kept first) and hardening.
			name:        "web prod",
			host:        selector.Host{ID: "web-2", Labels: map[string]string{"role": "web", "env": "prod"}},
			bundles:     []string{"base", "web", "monitoring", "hardening"},
			vars:        map[string]any{"greeting": "hi", "port": 80, "tags": []any{"a", "b"}, "nested": map[string]any{"x": 1}, "api_key": "k", "db_password": "web-prod-secret"},
			secretNames: []string{"api_key", "db_password"},
		},
		{
			// hosts.web-1 beats every rule; a secret beats hosts.web-1.
			name:        "web-1",
			host:        selector.Host{ID: "web-1", Labels: map[string]string{"role": "web", "env": "prod"}},
			bundles:     []string{"base", "web", "monitoring", "hardening"},
			vars:        map[string]any{"greeting": "secret greeting", "port": 8081, "tags": []any{"a", "b"}, "nested": map[string]any{"x": 1}, "api_key": "k", "db_password": "web-prod-secret"},
			secretNames: []string{"api_key", "db_password", "greeting"},
		},
		{
			name:        "prod by fact",
			host:        selector.Host{ID: "db-9", Facts: map[string]string{"env": "prod"}},
			bundles:     []string{"base", "monitoring", "hardening"},
			vars:        map[string]any{"greeting": "hello", "port": 80, "tags": []any{"a", "b"}, "nested": map[string]any{"x": 1}, "api_key": "k", "db_password": "prod-secret"},
			secretNames: []string{"api_key", "db_password"},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pl, err := p.ForHost(tt.host, secrets)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.bundles, pl.Bundles); diff != "" {
				t.Errorf("bundles (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.vars, pl.Vars); diff != "" {
				t.Errorf("vars (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.secretNames, pl.Secrets); diff != "" {
				t.Errorf("secrets (-want +got):\n%s", diff)
			}
			if pl.Revision != "sha256:abc" || pl.Interval != time.Minute {
				t.Errorf("revision %q interval %v", pl.Revision, pl.Interval)
			}
			for _, f := range keys(pl.Files) {
				b := strings.Split(f, "/")[1]
				if !slices.Contains(tt.bundles, b) {
					t.Errorf("file %s of bundle %s sent, but the host has bundles %v", f, b, tt.bundles)
				}
			}
			for _, b := range tt.bundles {
				for _, f := range keys(p.files) {
					if strings.HasPrefix(f, "bundles/"+b+"/") && pl.Files[f] == nil {
						t.Errorf("file %s of bundle %s missing", f, b)
					}
				}
			}
			// The order of secrets does not matter.
			rev := slices.Clone(secrets)
			slices.Reverse(rev)
			pl2, err := p.ForHost(tt.host, rev)
			if err != nil {
				t.Fatal(err)
			}
			if pl.Digest() != pl2.Digest() {
				t.Error("ForHost depends on the order of secrets")
			}
		})
	}
}

func TestForHostFiles(t *testing.T) {
	p := loadFleet(t)
	pl, err := p.ForHost(selector.Host{ID: "w", Labels: map[string]string{"role": "web"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"bundles/base/base.yml", "bundles/base/motd.tmpl", "bundles/monitoring/monitoring.yml", "bundles/web/files/index.html", "bundles/web/web.yml"}
	if diff := cmp.Diff(want, keys(pl.Files)); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
	if string(pl.Files["bundles/web/files/index.html"]) != "<h1>hi</h1>\n" {
		t.Errorf("index.html = %q", pl.Files["bundles/web/files/index.html"])
	}
	// The payload's vars are its own.
	pl.Vars["tags"].([]any)[0] = "changed"
	pl.Vars["nested"].(map[string]any)["x"] = "changed"
	again, _ := p.ForHost(selector.Host{ID: "w", Labels: map[string]string{"role": "web"}}, nil)
	if again.Vars["tags"].([]any)[0] != "a" || again.Vars["nested"].(map[string]any)["x"] != 1 {
		t.Errorf("changing a payload's vars changed the policy: %v", again.Vars)
	}
}

func TestForHostBadSecret(t *testing.T) {
	p := loadFleet(t)
	_, err := p.ForHost(selector.Host{ID: "x"}, []Secret{{Name: "a", Selector: "role==", Value: "v"}, {Name: "", Selector: "*"}})
	want := "secret a: selector \"role==\": col 7: expected a value after \"==\"\nsecret with no name"
	if err == nil || err.Error() != want {
		t.Errorf("ForHost error = %v, want %s", err, want)
	}
}

func TestDigest(t *testing.T) {
	p := loadFleet(t)
	h := selector.Host{ID: "web-1", Labels: map[string]string{"role": "web", "env": "prod"}}
	pl, _ := p.ForHost(h, []Secret{{Name: "s", Selector: "*", Value: "v"}})
	d := pl.Digest()
	if !strings.HasPrefix(d, "sha256:") || len(d) != len("sha256:")+64 {
		t.Fatalf("Digest = %q", d)
	}
	for i := 0; i < 20; i++ { // map order must not show
		again, _ := p.ForHost(h, []Secret{{Name: "s", Selector: "*", Value: "v"}})
		if again.Digest() != d {
			t.Fatal("Digest is not stable")
		}
	}
	// The revision is not content.
	other := pl
	other.Revision = "sha256:other"
	if other.Digest() != d {
		t.Error("Digest depends on the revision")
	}
	// Through JSON and back, the digest stays.
	b, err := json.Marshal(pl)
	if err != nil {
		t.Fatal(err)
	}
	var back Payload
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Digest() != d {
		t.Error("Digest changed through JSON")
	}
	// Any change of content changes it.
	for name, change := range map[string]func(*Payload){
		"secret value": func(p *Payload) { p.Vars = map[string]any{"s": "w"} },
		"file":         func(p *Payload) { p.Files = map[string][]byte{"bundles/base/base.yml": []byte("x")} },
		"bundles":      func(p *Payload) { p.Bundles = []string{"web", "base"} },
		"interval":     func(p *Payload) { p.Interval = time.Hour },
		"secrets":      func(p *Payload) { p.Secrets = nil },
	} {
		c, _ := p.ForHost(h, []Secret{{Name: "s", Selector: "*", Value: "v"}})
		change(&c)
		if c.Digest() == d {
			t.Errorf("changing %s left the digest as it was", name)
		}
	}
}

func TestWrite(t *testing.T) {
	p := loadFleet(t)
	pl, err := p.ForHost(selector.Host{ID: "w", Labels: map[string]string{"role": "web"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	parent := t.TempDir()
	dir := filepath.Join(parent, "policy")
	// What was there before is replaced, not merged.
	if err := os.MkdirAll(filepath.Join(dir, "bundles/old"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "bundles/old/old.yml"), []byte("promises: []\n"), 0o644)
	for round := 0; round < 2; round++ {
		dirs, err := pl.Write(dir)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{filepath.Join(dir, "bundles/base"), filepath.Join(dir, "bundles/web"), filepath.Join(dir, "bundles/monitoring")}
		if diff := cmp.Diff(want, dirs); diff != "" {
			t.Errorf("dirs (-want +got):\n%s", diff)
		}
		var got []string
		filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if !d.IsDir() {
				rel, _ := filepath.Rel(dir, p)
				got = append(got, rel)
			}
			return nil
		})
		if diff := cmp.Diff(keys(pl.Files), got); diff != "" {
			t.Errorf("files written (-want +got):\n%s", diff)
		}
		// Nothing is left beside dir.
		entries, _ := os.ReadDir(parent)
		if len(entries) != 1 {
			t.Errorf("beside dir: %v", entries)
		}
		ps, err := bundle.Load(dirs, bundle.Options{Vars: pl.Vars})
		if err != nil {
			t.Fatalf("bundle.Load(written dirs): %v", err)
		}
		if len(ps) != 3 {
			t.Errorf("bundle.Load = %d promises, want 3", len(ps))
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "bundles/old")); !os.IsNotExist(err) {
		t.Errorf("old content survived: %v", err)
	}
}

func TestWriteRefusesPaths(t *testing.T) {
	for _, pl := range []Payload{
		{Bundles: []string{"a"}, Files: map[string][]byte{"bundles/a/../../../etc/passwd": nil}},
		{Bundles: []string{"a"}, Files: map[string][]byte{"/etc/passwd": nil}},
		{Bundles: []string{"a"}, Files: map[string][]byte{"bundles/b/x.yml": nil}},
		{Bundles: []string{"a"}, Files: map[string][]byte{"policy.yml": nil}},
		{Bundles: []string{".."}, Files: map[string][]byte{}},
		{Bundles: []string{"a/b"}, Files: map[string][]byte{}},
	} {
		dir := filepath.Join(t.TempDir(), "p")
		if _, err := pl.Write(dir); err == nil {
			t.Errorf("Write(%v) succeeded", pl)
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("Write(%v) left %s", pl, dir)
		}
	}
}

// TestExampleConverges sends the example policy to a web host of prod and
// applies what it receives under a temporary root: the templates render
// with the host's vars and facts, and a second run changes nothing.
func TestExampleConverges(t *testing.T) {
	p, err := Load("../../examples/policy")
	if err != nil {
		t.Fatal(err)
	}
	pl, err := p.ForHost(selector.Host{ID: "web-1", Labels: map[string]string{"role": "web", "env": "prod"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"base", "web"}, pl.Bundles); diff != "" {
		t.Errorf("bundles (-want +got):\n%s", diff)
	}
	dirs, err := pl.Write(filepath.Join(t.TempDir(), "policy"))
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	os.WriteFile(filepath.Join(root, "etc/hosts"), []byte("127.0.0.1 localhost\n"), 0o644)
	facts := map[string]any{"hostname": "web-1"}
	env := &promise.Env{Root: root}
	for run := 0; run < 2; run++ {
		ps, err := bundle.Load(dirs, bundle.Options{Vars: pl.Vars, Facts: facts})
		if err != nil {
			t.Fatal(err)
		}
		plan, err := engine.NewPlan(ps, env)
		if err != nil {
			t.Fatal(err)
		}
		rep := plan.Run(context.Background(), env, engine.Options{})
		if rep.Totals.Failed > 0 || (run == 1 && rep.Totals.Changed > 0) {
			t.Fatalf("run %d: %+v", run+1, rep)
		}
	}
	for file, want := range map[string]string{
		"etc/motd":                    "hello from web-1, a host of example.\nThis host is managed by phenix: changes made by hand are repaired.\n",
		"etc/phenix-example/web.conf": "# Managed by phenix.\nlisten = 8081\nserver_name = web-1\n",
		"etc/hosts":                   "127.0.0.1 localhost\n127.0.0.1 app.local\n",
	} {
		got, err := os.ReadFile(filepath.Join(root, file))
		if err != nil || string(got) != want {
			t.Errorf("%s = %q, %v; want %q", file, got, err, want)
		}
	}
}
