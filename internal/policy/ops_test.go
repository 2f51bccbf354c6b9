package policy

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func int64p(v int64) *int64 { return &v }

// testOp is the op of the package documentation.
func testOp() *Op {
	return &Op{
		Name: "restart",
		Params: []Param{
			{Name: "service", Type: "enum", Values: []string{"app", "worker"}, Default: "app"},
			{Name: "lines", Type: "int", Min: int64p(1), Max: int64p(100000), Default: "200"},
			{Name: "name", Type: "string", Pattern: `^[a-z_][a-z0-9_-]{0,31}$`, Required: true, Description: "the login"},
			{Name: "note", Type: "string"},
		},
		Command: []string{"systemctl", "restart", "{{ .params.service }}"},
	}
}

func TestBind(t *testing.T) {
	for _, tt := range []struct {
		name    string
		args    map[string]string
		want    map[string]string
		wantErr string
	}{
		{
			name: "defaults",
			args: map[string]string{"name": "bob"},
			want: map[string]string{"service": "app", "lines": "200", "name": "bob", "note": ""},
		},
		{
			name: "all given",
			args: map[string]string{"name": "bob", "service": "worker", "lines": "1", "note": "x y; rm -rf /"},
			want: map[string]string{"service": "worker", "lines": "1", "name": "bob", "note": "x y; rm -rf /"},
		},
		{
			name: "empty counts as not given",
			args: map[string]string{"name": "bob", "lines": ""},
			want: map[string]string{"service": "app", "lines": "200", "name": "bob", "note": ""},
		},
		{name: "missing required", args: map[string]string{}, wantErr: "param name is required (the login)"},
		{name: "required given empty", args: map[string]string{"name": ""}, wantErr: "param name is required (the login)"},
		{name: "unknown, close", args: map[string]string{"name": "bob", "servise": "app"}, wantErr: `unknown param "servise" (did you mean "service"?)`},
		{name: "unknown, far", args: map[string]string{"name": "bob", "zzzzzzzz": "1"}, wantErr: `unknown param "zzzzzzzz": op restart takes service, lines, name, note`},
		{name: "not an int", args: map[string]string{"name": "bob", "lines": "ten"}, wantErr: `param lines: expected a whole number, got "ten"`},
		{name: "not a whole number", args: map[string]string{"name": "bob", "lines": "1.5"}, wantErr: `param lines: expected a whole number, got "1.5"`},
		{name: "below min", args: map[string]string{"name": "bob", "lines": "0"}, wantErr: "param lines: 0 is less than the minimum, 1"},
		{name: "above max", args: map[string]string{"name": "bob", "lines": "100001"}, wantErr: "param lines: 100001 is more than the maximum, 100000"},
		{name: "not in enum", args: map[string]string{"name": "bob", "service": "db"}, wantErr: `param service: "db" is not one of app, worker`},
		{name: "pattern", args: map[string]string{"name": "Bob"}, wantErr: `param name: "Bob" does not match ^[a-z_][a-z0-9_-]{0,31}$`},
		{name: "pattern anchored as written", args: map[string]string{"name": "bob\nroot"}, wantErr: `param name: "bob\nroot" does not match ^[a-z_][a-z0-9_-]{0,31}$`},
		{name: "NUL", args: map[string]string{"name": "bob", "note": "a\x00b"}, wantErr: "param note: the value holds a NUL byte"},
		{
			name: "every problem at once",
			args: map[string]string{"service": "db", "lines": "-1", "extra": "1", "zzzzzzzz": "2"},
			wantErr: strings.Join([]string{
				`unknown param "extra": op restart takes service, lines, name, note`,
				`unknown param "zzzzzzzz": op restart takes service, lines, name, note`,
				`param service: "db" is not one of app, worker`,
				`param lines: -1 is less than the minimum, 1`,
				`param name is required (the login)`,
			}, "\n"),
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := testOp().Bind(tt.args)
			if e := errString(err); e != tt.wantErr {
				t.Fatalf("Bind(%v) error = %q, want %q", tt.args, e, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Bind(%v) (-want +got):\n%s", tt.args, diff)
			}
		})
	}
	noParams := &Op{Name: "uptime", Command: []string{"uptime"}}
	if _, err := noParams.Bind(map[string]string{"x": "1"}); errString(err) != `unknown param "x": op uptime takes no params` {
		t.Errorf("Bind on an op without params: %v", err)
	}
	if got, err := noParams.Bind(nil); err != nil || len(got) != 0 {
		t.Errorf("Bind(nil) = %v, %v", got, err)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestRenderCommand(t *testing.T) {
	op := testOp()
	op.Command = []string{"useradd", "-c", "{{ .params.note }}", "{{ .params.name }}", "--lines={{ .params.lines }}"}
	params, err := op.Bind(map[string]string{"name": "bob", "note": "$(reboot); `id` 'x'"})
	if err != nil {
		t.Fatal(err)
	}
	argv, env, err := op.Render(params)
	if err != nil {
		t.Fatal(err)
	}
	// Each element stays one argument, whatever the value holds.
	if diff := cmp.Diff([]string{"useradd", "-c", "$(reboot); `id` 'x'", "bob", "--lines=200"}, argv); diff != "" {
		t.Errorf("argv (-want +got):\n%s", diff)
	}
	wantEnv := []string{"PHENIX_PARAM_SERVICE=app", "PHENIX_PARAM_LINES=200", "PHENIX_PARAM_NAME=bob", "PHENIX_PARAM_NOTE=$(reboot); `id` 'x'"}
	if diff := cmp.Diff(wantEnv, env); diff != "" {
		t.Errorf("env (-want +got):\n%s", diff)
	}
	// A param the command names but params lacks is an error.
	op.Command = []string{"echo", "{{ .params.missing }}"}
	if _, _, err := op.Render(params); errString(err) != `op restart: command element 2: at <.params.missing>: map has no entry for key "missing"` {
		t.Errorf("Render(missing param) error = %v", err)
	}
}

func TestRenderScript(t *testing.T) {
	script := "tail -n \"$PHENIX_PARAM_LINES\" /var/log/app.log\necho {{ .params.name }}\n"
	op := &Op{
		Name:   "logs",
		Params: []Param{{Name: "lines", Type: "int", Default: "200"}, {Name: "name", Type: "string"}},
		Script: script,
	}
	params, err := op.Bind(map[string]string{"name": "$(reboot)"})
	if err != nil {
		t.Fatal(err)
	}
	argv, env, err := op.Render(params)
	if err != nil {
		t.Fatal(err)
	}
	// The script is run as written: no param is put into its text.
	if diff := cmp.Diff([]string{"/bin/sh", "-c", script}, argv); diff != "" {
		t.Errorf("argv (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"PHENIX_PARAM_LINES=200", "PHENIX_PARAM_NAME=$(reboot)"}, env); diff != "" {
		t.Errorf("env (-want +got):\n%s", diff)
	}
	if _, _, err := (&Op{Name: "none"}).Render(nil); err == nil {
		t.Error("Render of an op without command or script succeeded")
	}
}

func TestLoadOps(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"policy.yml": "",
		"ops/restart-app.yml": `description: Restart the application server
select: role=app
timeout: 60s
params:
  service:
    type: enum
    values: [app, worker]
    default: app
    description: which unit
  lines:
    type: int
    min: 1
    max: 100000
    default: 200
  name:
    type: string
    pattern: '^[a-z_][a-z0-9_-]{0,31}$'
    required: true
command: ["systemctl", "restart", "{{ .params.service }}"]
`,
		"ops/tail.yaml":     "script: |\n  tail -n \"$PHENIX_PARAM_LINES\" /var/log/app.log\nparams:\n  lines: {type: int, default: 10}\n",
		"ops/docker-ps.yml": "script: docker ps --format '{{.Names}}'\n",
	})
	p, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := &Op{
		Name:        "restart-app",
		Description: "Restart the application server",
		Select:      "role=app",
		Timeout:     time.Minute,
		Params: []Param{
			{Name: "service", Type: "enum", Values: []string{"app", "worker"}, Default: "app", Description: "which unit"},
			{Name: "lines", Type: "int", Min: int64p(1), Max: int64p(100000), Default: "200"},
			{Name: "name", Type: "string", Pattern: `^[a-z_][a-z0-9_-]{0,31}$`, Required: true},
		},
		Command: []string{"systemctl", "restart", "{{ .params.service }}"},
	}
	want.Pos = p.Ops["restart-app"].Pos
	if diff := cmp.Diff(want, p.Ops["restart-app"]); diff != "" {
		t.Errorf("restart-app (-want +got):\n%s", diff)
	}
	tail := p.Ops["tail"]
	if tail == nil || tail.Select != "*" || tail.Timeout != DefaultTimeout || tail.Command != nil || !strings.HasPrefix(tail.Script, "tail -n") {
		t.Errorf("tail = %+v", tail)
	}
	// "{{" in a script is the shell's business unless it reads .params.
	if p.Ops["docker-ps"] == nil {
		t.Error("docker-ps missing")
	}
}
