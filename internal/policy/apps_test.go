package policy

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/phenixhq/phenix/internal/bundle"
	"github.com/phenixhq/phenix/internal/check"
	"github.com/phenixhq/phenix/internal/promise"
)

// shopApp is the app of the package documentation.
const shopApp = `description: The shop's web front end
dir: /opt/phenix/apps/shop
artifact:
  strip: 1
owner: shop
group: shop
keep: 5
vars: {port: 8080}
config:
  - path: config/app.env
    template: app.env.tmpl
    mode: "0640"
  - path: VERSION.txt
    content: "{{ .version }} on {{ .env }}\n"
service:
  provider: supervisor
  command: ["{{ .current }}/bin/shop", "--listen", ":{{ .vars.port }}"]
restart: restart
hooks:
  migrate:
    - name: database migrations
      on: one
      command: ["{{ .release }}/bin/shop", "migrate"]
  pre:
    - name: out of the load balancer
      on: server
      script: echo "set server web/{{ range .hosts }}{{ .id }} {{ end }}state maint" | socat stdio tcp:lb:9999
  post:
    - name: back into the load balancer
      on: server
      script: echo "set server web/{{ range .hosts }}{{ .id }} {{ end }}state ready" | socat stdio tcp:lb:9999
checks:
  - name: health
    http: {url: "http://{{ .host.address }}:{{ .vars.port }}/health", contains: ok}
check_every: 1m
environments:
  alpha:   {select: env=alpha, batch: "100%"}
  preprod: {select: env=preprod}
  prod:
    select: env=prod
    batch: 25%
    max_fail: 0
    approval: true
    deployers: [alice, ci]
    approvers: [bob]
    vars: {port: 80}
`

var shopPolicy = map[string]string{
	"policy.yml":                "",
	"apps/shop.yml":             shopApp,
	"apps/shop/app.env.tmpl":    "PORT={{ .vars.port }}\nRELEASE={{ .release }}\n",
	"apps/shop/unused/note.txt": "files not named by config are allowed\n",
}

func wantShop(file string) *App {
	pos := func(line, col int) promise.Pos { return promise.Pos{File: file, Line: line, Col: col} }
	return &App{
		Name:        "shop",
		Description: "The shop's web front end",
		Dir:         "/opt/phenix/apps/shop",
		Strip:       1,
		Owner:       "shop",
		Group:       "shop",
		Keep:        5,
		Vars:        map[string]any{"port": 8080},
		Files: []AppFile{
			{Path: "config/app.env", Template: "PORT={{ .vars.port }}\nRELEASE={{ .release }}\n", Mode: 0o640, Pos: pos(10, 5)},
			{Path: "VERSION.txt", Template: "{{ .version }} on {{ .env }}\n", Mode: 0o644, Pos: pos(13, 5)},
		},
		Service: map[string]any{
			"service":  "shop",
			"provider": "supervisor",
			"command":  []any{"{{ .current }}/bin/shop", "--listen", ":{{ .vars.port }}"},
		},
		Restart: "restart",
		Hooks: Hooks{
			Migrate: []Hook{{Name: "database migrations", On: "one", Argv: []string{"{{ .release }}/bin/shop", "migrate"}, Timeout: 5 * time.Minute, Pos: pos(21, 7)}},
			Pre:     []Hook{{Name: "out of the load balancer", On: "server", Script: `echo "set server web/{{ range .hosts }}{{ .id }} {{ end }}state maint" | socat stdio tcp:lb:9999`, Timeout: 5 * time.Minute, Pos: pos(25, 7)}},
			Post:    []Hook{{Name: "back into the load balancer", On: "server", Script: `echo "set server web/{{ range .hosts }}{{ .id }} {{ end }}state ready" | socat stdio tcp:lb:9999`, Timeout: 5 * time.Minute, Pos: pos(29, 7)}},
		},
		ChecksYAML: "- name: health\n  http: {url: \"http://{{ .host.address }}:{{ .vars.port }}/health\", contains: ok}\n",
		CheckEvery: time.Minute,
		Envs: []*Env{
			{Name: "alpha", Select: "env=alpha", Vars: map[string]any{}, Batch: "100%", MaxFail: "0", Pos: pos(37, 3)},
			{Name: "preprod", Select: "env=preprod", Vars: map[string]any{}, Batch: "1", MaxFail: "0", Pos: pos(38, 3)},
			{
				Name: "prod", Select: "env=prod", Vars: map[string]any{"port": 80}, Batch: "25%", MaxFail: "0", Approval: true,
				Deployers: []string{"alice", "ci"}, Approvers: []string{"bob"}, Pos: pos(39, 3),
			},
		},
		Pos: pos(1, 1),
	}
}

func TestLoadApp(t *testing.T) {
	dir := writeTree(t, shopPolicy)
	p, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	got := p.Apps["shop"]
	want := wantShop(dir + "/apps/shop.yml")
	if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(App{}, "Checks")); diff != "" {
		t.Errorf("app (-want +got):\n%s", diff)
	}
	if len(got.Checks) != 1 || got.Checks[0].Name != "health" || got.Checks[0].HTTP.Contains != "ok" ||
		got.Checks[0].Pos != (promise.Pos{File: dir + "/apps/shop.yml", Line: 34, Col: 5}) {
		t.Errorf("checks = %+v", got.Checks)
	}
	// Agents parse ChecksYAML again and get the same checks, but for positions.
	again, err := check.Parse("checks", []byte(got.ChecksYAML))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(got.Checks, again, cmpopts.IgnoreTypes(promise.Pos{})); diff != "" {
		t.Errorf("check.Parse(ChecksYAML) (-app +parsed):\n%s", diff)
	}
	if e, i := got.Env("prod"); e == nil || i != 2 || e.Name != "prod" {
		t.Errorf("Env(prod) = %v, %d", e, i)
	}
	if e, i := got.Env("demo"); e != nil || i != -1 {
		t.Errorf("Env(demo) = %v, %d; want nil, -1", e, i)
	}
	if diff := cmp.Diff([]string{"alpha", "preprod", "prod"}, got.EnvNames()); diff != "" {
		t.Errorf("EnvNames (-want +got):\n%s", diff)
	}
}

func TestAppDefaults(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"policy.yml":   "",
		"apps/api.yml": "environments:\n  prod: {select: env=prod}\nservice: {state: running}\ncheck_every: 0s\n",
	})
	p, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	a := p.Apps["api"]
	want := &App{
		Name: "api", Dir: "/opt/phenix/apps/api", Keep: 5, Vars: map[string]any{}, Restart: "restart",
		Service: map[string]any{"service": "api", "state": "running"},
		Envs:    []*Env{{Name: "prod", Select: "env=prod", Vars: map[string]any{}, Batch: "1", MaxFail: "0", Pos: promise.Pos{File: dir + "/apps/api.yml", Line: 2, Col: 3}}},
		Pos:     promise.Pos{File: dir + "/apps/api.yml", Line: 1, Col: 1},
	}
	if diff := cmp.Diff(want, a); diff != "" {
		t.Errorf("app (-want +got):\n%s", diff)
	}
}

func TestAppServiceKeys(t *testing.T) {
	want := []string{"service", "state", "enabled", "on_notify", "provider", "command", "env", "user", "cwd", "log", "pidfile", "reload_signal", "stop_signal", "stop_timeout"}
	if diff := cmp.Diff(want, serviceKeys); diff != "" {
		t.Errorf("service keys (-want +got):\n%s", diff)
	}
}

func TestAppsSurviveTheArchive(t *testing.T) {
	dir := writeTree(t, shopPolicy)
	archive, hash := mustPack(t, dir)
	got, err := FromArchive(archive)
	if err != nil {
		t.Fatal(err)
	}
	want, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got.Hash != hash {
		t.Errorf("Hash = %q, want %q", got.Hash, hash)
	}
	// The archive holds apps/ and its templates: the app is the same, with
	// positions naming archive paths.
	trim := cmp.Transformer("archivePath", func(p promise.Pos) promise.Pos {
		p.File = strings.TrimPrefix(p.File, dir+"/")
		return p
	})
	if diff := cmp.Diff(want.Apps, got.Apps, trim); diff != "" {
		t.Errorf("FromArchive(Pack(dir)).Apps differs from Load(dir) (-load +archive):\n%s", diff)
	}
	if diff := cmp.Diff(wantShop("apps/shop.yml"), got.Apps["shop"], cmpopts.IgnoreFields(App{}, "Checks")); diff != "" {
		t.Errorf("app from the archive (-want +got):\n%s", diff)
	}
	if got.Apps["shop"].Checks[0].Pos.File != "apps/shop.yml" {
		t.Errorf("check position = %v", got.Apps["shop"].Checks[0].Pos)
	}
}

func TestLoadExampleApp(t *testing.T) {
	for _, from := range []string{"dir", "archive"} {
		t.Run(from, func(t *testing.T) {
			var p *Policy
			var err error
			if from == "dir" {
				p, err = Load("../../examples/policy")
			} else {
				archive, _ := mustPack(t, "../../examples/policy")
				p, err = FromArchive(archive)
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Apps) != 1 {
				t.Fatalf("apps = %v, want web only", p.Apps)
			}
			web := p.Apps["web"]
			if diff := cmp.Diff([]string{"alpha", "preprod", "prod"}, web.EnvNames()); diff != "" {
				t.Errorf("environments (-want +got):\n%s", diff)
			}
			prod, _ := web.Env("prod")
			if !prod.Approval || prod.Batch != "25%" || prod.Vars["port"] != 80 || web.Vars["port"] != 8080 {
				t.Errorf("prod = %+v, vars = %v", prod, web.Vars)
			}
			if len(web.Files) != 2 || !strings.Contains(web.Files[0].Template, "WEB_LISTEN=:{{ .vars.port }}") || web.Files[0].Mode != 0o640 {
				t.Errorf("files = %+v", web.Files)
			}
			if len(web.Hooks.Migrate) != 1 || len(web.Hooks.Pre) != 1 || len(web.Hooks.Post) != 1 || len(web.Checks) != 2 {
				t.Errorf("hooks = %+v, checks = %d", web.Hooks, len(web.Checks))
			}
			if web.Service["service"] != "web" || web.Strip != 1 || web.CheckEvery != time.Minute {
				t.Errorf("web = %+v", web)
			}
		})
	}
}

// TestAppErrors loads one app file at a time and compares every error,
// with its position.
func TestAppErrors(t *testing.T) {
	const envs = "environments:\n  prod: {select: env=prod}\n"
	for _, tt := range []struct {
		name  string
		files map[string]string // besides policy.yml
		want  []string
	}{
		{
			name:  "bad app name",
			files: map[string]string{"apps/Shop_1.yml": envs},
			want:  []string{`apps/Shop_1.yml: bad app name "Shop_1" (the file's name): expected lower-case letters, digits and -, starting with a letter or digit`},
		},
		{
			name:  "app defined twice",
			files: map[string]string{"apps/a.yml": envs, "apps/a.yaml": envs},
			want:  []string{`apps/a.yml: app a is already defined in apps/a.yaml`},
		},
		{
			name:  "directory without app file",
			files: map[string]string{"apps/a.yml": envs, "apps/b/x.tmpl": "x"},
			want:  []string{`apps/b: no app file for this directory: expected apps/b.yml beside it`},
		},
		{
			name:  "empty app",
			files: map[string]string{"apps/a.yml": "# nothing\n"},
			want:  []string{`apps/a.yml:1:1: empty app: expected a mapping with at least environments`},
		},
		{
			name:  "unknown key",
			files: map[string]string{"apps/a.yml": envs + "descripton: x\nchecks_every: 1m\n"},
			want: []string{
				`apps/a.yml:3:1: unknown app key "descripton" (did you mean "description"?)`,
				`apps/a.yml:4:1: unknown app key "checks_every" (did you mean "check_every"?)`,
			},
		},
		{
			name:  "missing environments",
			files: map[string]string{"apps/a.yml": "description: x\n"},
			want:  []string{`apps/a.yml:1:1: app without environments: expected environments: {NAME: {select: SELECTOR}, ...}, in lifecycle order`},
		},
		{
			name:  "misspelt environments reported once",
			files: map[string]string{"apps/a.yml": "enviroments:\n  prod: {select: env=prod}\n"},
			want:  []string{`apps/a.yml:1:1: unknown app key "enviroments" (did you mean "environments"?)`},
		},
		{
			name:  "empty environments",
			files: map[string]string{"apps/a.yml": "environments: {}\n"},
			want:  []string{`apps/a.yml:1:15: environments: expected at least one environment, such as prod: {select: env=prod}`},
		},
		{
			name:  "environments not a mapping",
			files: map[string]string{"apps/a.yml": "environments: [prod]\n"},
			want:  []string{`apps/a.yml:1:15: environments: expected a mapping, got a list`},
		},
		{
			name:  "env without select",
			files: map[string]string{"apps/a.yml": "environments:\n  alpha:\n  prod: {batch: 2}\n  demo: {selct: env=demo}\n"},
			want: []string{
				`apps/a.yml:2:3: environment alpha without select: expected a selector such as env=alpha`,
				`apps/a.yml:3:3: environment prod without select: expected a selector such as env=prod`,
				`apps/a.yml:4:10: unknown environment key "selct" (did you mean "select"?)`,
			},
		},
		{
			name:  "bad selector",
			files: map[string]string{"apps/a.yml": "environments:\n  prod: {select: \"env in (prod\"}\n"},
			want:  []string{`apps/a.yml:2:31: select: bad selector: expected "," or ")"`},
		},
		{
			name: "bad batch and max_fail",
			files: map[string]string{"apps/a.yml": `environments:
  a: {select: env=a, batch: 0}
  b: {select: env=b, batch: 120%}
  c: {select: env=c, batch: some}
  d: {select: env=d, max_fail: -1}
  e: {select: env=e, max_fail: 0%, batch: 100%}
  f: {select: env=f, max_fail: [1]}
`},
			want: []string{
				`apps/a.yml:2:29: batch: expected a number of hosts (at least 1) or a percentage from 1% to 100%, such as 25%, got "0"`,
				`apps/a.yml:3:29: batch: expected a number of hosts (at least 1) or a percentage from 1% to 100%, such as 25%, got "120%"`,
				`apps/a.yml:4:29: batch: expected a number of hosts (at least 1) or a percentage from 1% to 100%, such as 25%, got "some"`,
				`apps/a.yml:5:32: max_fail: expected a number of hosts (at least 0) or a percentage from 0% to 100%, such as 25%, got "-1"`,
				`apps/a.yml:7:32: max_fail: expected a number of hosts (at least 0) or a percentage from 0% to 100%, such as 25%, got a list`,
			},
		},
		{
			name:  "duplicate and bad env names",
			files: map[string]string{"apps/a.yml": "environments:\n  prod: {select: env=prod}\n  Prod_2: {select: env=prod}\n  prod: {select: env=other}\n"},
			want: []string{
				`apps/a.yml:3:3: bad environment name "Prod_2": expected lower-case letters, digits and -, starting with a letter or digit`,
				`apps/a.yml:4:3: environments: prod given twice (first at line 2)`,
			},
		},
		{
			name: "env values",
			files: map[string]string{"apps/a.yml": `environments:
  prod:
    select: env=prod
    approval: yes please
    deployers: [alice, "bob smith"]
    approvers: {bob: true}
    vars: [1]
`},
			want: []string{
				`apps/a.yml:4:15: approval: expected true or false, got "yes please"`,
				`apps/a.yml:5:24: deployers: expected a user name, got "bob smith"`,
				`apps/a.yml:6:16: approvers: expected a list of strings, got a mapping`,
				`apps/a.yml:7:11: vars: expected a mapping of names to values, got a list`,
			},
		},
		{
			name:  "relative dir",
			files: map[string]string{"apps/a.yml": envs + "dir: apps/a\n"},
			want:  []string{`apps/a.yml:3:6: dir: expected an absolute path such as /opt/phenix/apps/a, got "apps/a"`},
		},
		{
			name:  "root dir",
			files: map[string]string{"apps/a.yml": envs + "dir: /srv/..\n"},
			want:  []string{`apps/a.yml:3:6: dir: expected a directory of the app's own, got /`},
		},
		{
			name:  "keep, strip, owner",
			files: map[string]string{"apps/a.yml": envs + "keep: 1\nartifact: {strip: -1, strp: 1}\nowner: \"a b\"\ngroup: [x]\n"},
			want: []string{
				`apps/a.yml:3:7: keep: expected at least 2, got 1`,
				`apps/a.yml:4:19: strip: expected at least 0, got -1`,
				`apps/a.yml:4:23: unknown artifact key "strp" (did you mean "strip"?)`,
				`apps/a.yml:5:8: owner: expected a user name, got "a b"`,
				`apps/a.yml:6:8: group: expected a string, got a list`,
			},
		},
		{
			name:  "keep not a number",
			files: map[string]string{"apps/a.yml": envs + "keep: five\n"},
			want:  []string{`apps/a.yml:3:7: keep: expected a whole number, got "five"`},
		},
		{
			name: "config",
			files: map[string]string{"apps/a/app.env.tmpl": "x\n", "apps/a.yml": envs + `config:
  - {path: app.env, template: app.env.tmpl}
  - {path: ../etc/passwd, content: x}
  - {path: config/../../x, content: x}
  - {path: /etc/a.conf, template: app.env.tpl}
  - {path: b, template: app.env.tmpl, content: x}
  - {path: c}
  - {template: app.env.tmpl}
  - {path: d, template: ../a.yml}
  - {path: e, contnt: x}
  - {path: ./app.env, content: again}
  - {path: m, content: x, mode: "0988"}
`},
			want: []string{
				`apps/a.yml:5:12: path: "../etc/passwd" leaves the release directory: expected a path inside it, or an absolute path`,
				`apps/a.yml:6:12: path: "config/../../x" leaves the release directory: expected a path inside it, or an absolute path`,
				`apps/a.yml:7:35: template: no file apps/a/app.env.tpl (did you mean "app.env.tmpl"?)`,
				`apps/a.yml:8:48: give either template or content, not both`,
				`apps/a.yml:9:5: config file without template or content: expected template: FILE (under apps/a/) or content: TEXT`,
				`apps/a.yml:10:5: config file without path: expected path: relative/to/the/release or /absolute/path`,
				`apps/a.yml:11:25: template: expected the name of a file under apps/a/, got "../a.yml"`,
				`apps/a.yml:12:15: unknown config key "contnt" (did you mean "content"?)`,
				`apps/a.yml:13:12: config: app.env given twice (first at line 4)`,
				`apps/a.yml:14:33: mode: expected an octal mode such as "0640", got "0988"`,
			},
		},
		{
			name:  "config not a list",
			files: map[string]string{"apps/a.yml": envs + "config: {path: x}\n"},
			want:  []string{`apps/a.yml:3:9: config: expected a list such as [{path: config/app.env, template: app.env.tmpl}], got a mapping`},
		},
		{
			name: "template syntax",
			files: map[string]string{
				"apps/a/bad.tmpl": "line one\nport={{ .vars.port }\n",
				"apps/a.yml": envs + `config:
  - {path: a, template: bad.tmpl}
  - {path: b, content: "{{ .version "}
  - path: c
    content: |
      first
      {{ if .vars.x }}
service:
  command: ["{{ .current }}/bin/a", "{{ end }}"]
hooks:
  pre:
    - name: x
      script: "{{ range .hosts }}"
`,
			},
			want: []string{
				`apps/a.yml:5:24: content: bad template: unclosed action`,
				`apps/a.yml:9:7: content: bad template: unexpected EOF`,
				`apps/a.yml:11:37: command: bad template: unexpected {{end}}`,
				`apps/a.yml:15:15: script: bad template: unexpected EOF`,
				`apps/a/bad.tmpl:2:1: bad template: unexpected "}" in operand`,
			},
		},
		{
			name:  "service keys",
			files: map[string]string{"apps/a.yml": envs + "service:\n  provider: supervisor\n  comand: [x]\n  service: [a]\n"},
			want: []string{
				`apps/a.yml:5:3: unknown service key "comand" (did you mean "command"?)`,
			},
		},
		{
			name:  "service name",
			files: map[string]string{"apps/a.yml": envs + "service:\n  service: [a]\n"},
			want:  []string{`apps/a.yml:4:12: service: expected a string, got a list`},
		},
		{
			name:  "bad restart",
			files: map[string]string{"apps/a.yml": envs + "restart: relaod\n"},
			want:  []string{`apps/a.yml:3:10: restart: unknown value "relaod" (did you mean "reload"?): expected restart, reload or none`},
		},
		{
			name:  "check_every too short",
			files: map[string]string{"apps/a.yml": envs + "check_every: 5s\n"},
			want:  []string{`apps/a.yml:3:14: check_every: 5s is too short: expected at least 10s, or 0s to run checks only after a deploy`},
		},
		{
			name:  "check_every not a duration",
			files: map[string]string{"apps/a.yml": envs + "check_every: often\n"},
			want:  []string{`apps/a.yml:3:14: check_every: expected a duration such as 1m or 30s (0s: never), got "often"`},
		},
		{
			name: "hooks",
			files: map[string]string{"apps/a.yml": envs + `hooks:
  migrate:
    - command: [migrate]
    - name: x
      on: sever
      command: [x]
    - name: y
      command: [y]
      script: y
    - name: z
    - name: ""
      script: z
      timeout: never
  pre: {name: x}
  psot: []
`},
			want: []string{
				`apps/a.yml:5:7: hook without name: expected name: what it does, as the journal shows it`,
				`apps/a.yml:7:11: on: unknown value "sever" (did you mean "server"?): expected each, one or server`,
				`apps/a.yml:11:15: give either command or script, not both`,
				`apps/a.yml:12:7: hook without command or script: expected command: [program, args...] or script: shell text`,
				`apps/a.yml:13:13: name: expected what the hook does, got an empty name`,
				`apps/a.yml:15:16: timeout: expected a positive duration such as 60s or 5m, got "never"`,
				`apps/a.yml:16:8: pre: expected a list such as [{name: migrate, on: one, command: [./bin/migrate]}], got a mapping`,
				`apps/a.yml:17:3: unknown hooks key "psot" (did you mean "post"?)`,
			},
		},
		{
			name: "checks",
			files: map[string]string{"apps/a.yml": envs + `checks:
  - name: health
    http: {url: "http://{{ .host.address }}/health", containz: ok}
  - name: port
    tcp: {address: "{{ .host.address }}:80", timeout: soon}
`},
			want: []string{
				`apps/a.yml:5:54: unknown http key "containz" (did you mean "contains"?)`,
				`apps/a.yml:7:55: timeout: bad duration "soon": expected a duration such as 5s or 1m30s`,
			},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string]string{"policy.yml": ""}
			for k, v := range tt.files {
				files[k] = v
			}
			dir := writeTree(t, files)
			p, err := Load(dir)
			if err == nil {
				t.Fatalf("Load = %+v, no error", p.Apps)
			}
			var el bundle.ErrorList
			if !errors.As(err, &el) {
				t.Fatalf("error is %T (%v), want bundle.ErrorList", err, err)
			}
			got := strings.ReplaceAll(err.Error(), dir+"/", "")
			got = strings.ReplaceAll(got, dir, "DIR")
			if diff := cmp.Diff(strings.Join(tt.want, "\n"), got); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAppChecksWithAliases(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"policy.yml": "",
		"apps/a.yml": `vars: {url: &u "http://{{ .host.address }}/health"}
checks:
  - name: health
    http: {url: *u, contains: ok}
environments:
  prod: {select: env=prod}
`,
	})
	p, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	a := p.Apps["a"]
	cs, err := check.Parse("checks", []byte(a.ChecksYAML))
	if err != nil {
		t.Fatalf("check.Parse(%q): %v", a.ChecksYAML, err)
	}
	if len(cs) != 1 || cs[0].HTTP.URL != "http://{{ .host.address }}/health" {
		t.Errorf("checks = %+v", cs)
	}
}

// FuzzLoadApp checks that no app file makes loading panic and that every
// problem found in it has a position.
func FuzzLoadApp(f *testing.F) {
	f.Add([]byte(shopApp))
	f.Add([]byte("environments: {prod: {select: env=prod}}\nchecks: &c [{name: x, tcp: {address: a}}]\nhooks: {pre: *c}\n"))
	f.Add([]byte("config: [{path: a, content: |\n    {{ if }}\n}]\nenvironments: {prod: &e {select: '*'}, alpha: *e}\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		tr := newTree()
		tr.dirs["apps"], tr.dirs["apps/shop"] = true, true
		tr.files["policy.yml"] = &treeFile{}
		tr.files["apps/shop.yml"] = &treeFile{data: src}
		tr.files["apps/shop/app.env.tmpl"] = &treeFile{data: []byte("PORT={{ .vars.port }}\n")}
		p, err := load(tr, "", nil)
		if err != nil {
			for _, e := range err.(bundle.ErrorList) {
				if e.Pos.Line < 1 {
					t.Errorf("error without a line: %v", e)
				}
			}
			return
		}
		if a := p.Apps["shop"]; a.ChecksYAML != "" {
			if _, err := check.Parse("checks", []byte(a.ChecksYAML)); err != nil {
				t.Errorf("ChecksYAML %q does not parse: %v", a.ChecksYAML, err)
			}
		}
	})
}
