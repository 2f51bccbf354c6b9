package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/phenixhq/phenix/internal/api"
)

func TestLineSplitter(t *testing.T) {
	var s lineSplitter
	var got []line
	got = append(got, s.write("a", "stdout", "one\ntw")...)
	got = append(got, s.write("b", "stdout", "b1")...)
	got = append(got, s.write("a", "stderr", "oops\r\n")...)
	got = append(got, s.write("a", "stdout", "o\nthree")...)
	got = append(got, s.flush("a")...)
	got = append(got, s.write("b", "stderr", "e")...)
	got = append(got, s.flushAll()...)
	got = append(got, s.flushAll()...) // nothing left
	want := []line{
		{"a", "stdout", "one"},
		{"a", "stderr", "oops"},
		{"a", "stdout", "two"},
		{"a", "stdout", "three"},
		{"b", "stdout", "b1"},
		{"b", "stderr", "e"},
	}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(line{})); diff != "" {
		t.Errorf("lines (-want +got):\n%s", diff)
	}
}

func TestParseLabelArgs(t *testing.T) {
	for _, tt := range []struct {
		args    []string
		want    api.LabelRequest
		wantErr string
	}{
		{args: []string{"role=web", "env=prod"}, want: api.LabelRequest{Set: map[string]string{"role": "web", "env": "prod"}}},
		{args: []string{"env-", "role=db"}, want: api.LabelRequest{Set: map[string]string{"role": "db"}, Remove: []string{"env"}}},
		{args: []string{"empty="}, want: api.LabelRequest{Set: map[string]string{"empty": ""}}},
		{args: []string{"role"}, wantErr: `label "role": expected key=value to set a label or key- to remove one`},
		{args: []string{"-"}, wantErr: `label "-": expected key=value to set a label or key- to remove one`},
		{args: []string{"role=web", "role-"}, wantErr: `label "role-": role is given twice`},
		{args: []string{"Role=web"}, wantErr: `label "Role=web": `},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			got, err := parseLabelArgs(tt.args)
			if tt.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestFmtAgo(t *testing.T) {
	now := time.Date(2026, 11, 22, 6, 15, 2, 0, time.UTC)
	for _, tt := range []struct {
		t    time.Time
		want string
	}{
		{time.Time{}, "never"},
		{now, "just now"},
		{now.Add(-400 * time.Millisecond), "just now"},
		{now.Add(-4 * time.Second), "4s ago"},
		{now.Add(-59 * time.Second), "59s ago"},
		{now.Add(-3*time.Minute - 10*time.Second), "3m ago"},
		{now.Add(-5 * time.Hour), "5h ago"},
		{now.Add(-47 * time.Hour), "47h ago"},
		{now.Add(-12 * 24 * time.Hour), "12d ago"},
		{now.Add(3 * time.Second), "in 3s"},
	} {
		if got := fmtAgo(tt.t, now); got != tt.want {
			t.Errorf("fmtAgo(now-%v) = %q, want %q", now.Sub(tt.t), got, tt.want)
		}
	}
}

func TestFmtElapsed(t *testing.T) {
	for d, want := range map[time.Duration]string{
		120 * time.Millisecond:                "120ms",
		3200 * time.Millisecond:               "3.2s",
		2*time.Minute + 5*time.Second:         "2m05s",
		3*time.Hour + 7*time.Minute:           "3h07m",
		-time.Second:                          "",
		59*time.Second + 940*time.Millisecond: "59.9s",
	} {
		if got := fmtElapsed(d); got != want {
			t.Errorf("fmtElapsed(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestFleetApplyDecision(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	if err := os.Mkdir("site", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("web", []byte("promises: []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		args  []string
		root  string
		fleet bool
	}{
		{[]string{"role=web"}, "", true},
		{[]string{"*"}, "", true},
		{[]string{"env in (prod,preprod)"}, "", true},
		{[]string{"kubernetes.io/role=web"}, "", true},
		{[]string{"role=web"}, "/tmp/try", false},         // --root: local
		{[]string{"role=web", "env=prod"}, "", false},     // two arguments: bundles
		{[]string{"site"}, "", false},                     // a directory
		{[]string{"web"}, "", false},                      // a file
		{[]string{filepath.Join(dir, "site")}, "", false}, // a directory, absolute
		{[]string{"missing.yaml"}, "", false},             // a bundle that is not there
		{[]string{"missing.yml"}, "", false},
		{[]string{"."}, "", false},
	} {
		if got := fleetApply(tt.args, tt.root); got != tt.fleet {
			t.Errorf("fleetApply(%q, root %q) = %v, want %v", tt.args, tt.root, got, tt.fleet)
		}
	}
}

func TestSplitRunArgs(t *testing.T) {
	for _, tt := range []struct {
		args    []string
		dash    int
		sel     string
		command []string
		wantErr string
	}{
		{args: []string{"*", "uptime"}, dash: 1, sel: "*", command: []string{"uptime"}},
		{args: []string{"role=web", "ls", "-l"}, dash: 1, sel: "role=web", command: []string{"ls", "-l"}},
		{args: []string{"role=web", "uptime"}, dash: -1, sel: "role=web", command: []string{"uptime"}},
		{args: []string{"uptime"}, dash: 0, wantErr: "expected a SELECTOR before --"},
		{args: []string{"role", "in", "uptime"}, dash: 2, wantErr: "expected one SELECTOR before --, got 2 arguments"},
		{args: []string{"*"}, dash: 1, wantErr: "expected a COMMAND after the selector"},
	} {
		sel, command, err := splitRunArgs(tt.args, tt.dash)
		if tt.wantErr != "" {
			if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
				t.Errorf("splitRunArgs(%q, %d) error = %v, want %q", tt.args, tt.dash, err, tt.wantErr)
			}
			continue
		}
		if err != nil || sel != tt.sel || !cmp.Equal(command, tt.command) {
			t.Errorf("splitRunArgs(%q, %d) = %q, %q, %v", tt.args, tt.dash, sel, command, err)
		}
	}
}

func TestParseSince(t *testing.T) {
	for in, want := range map[string]string{
		"":                     "",
		"24h":                  "24h0m0s",
		"90m":                  "1h30m0s",
		"7d":                   "168h0m0s",
		"2026-11-01T00:00:00Z": "2026-11-01T00:00:00Z",
	} {
		if got, err := parseSince(in); err != nil || got != want {
			t.Errorf("parseSince(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"yesterday", "-1h", "7days", "2026-11-01"} {
		if _, err := parseSince(in); err == nil {
			t.Errorf("parseSince(%q) gave no error", in)
		}
	}
}

func TestSummaryAndExit(t *testing.T) {
	res := func(host, status string, exit int) api.JobResult {
		return api.JobResult{Host: host, Status: status, ExitCode: exit}
	}
	for _, tt := range []struct {
		name    string
		job     api.Job
		summary string
		exit    int
	}{
		{"all ok", api.Job{Kind: "run", Hosts: []string{"a", "b"}, Results: []api.JobResult{res("a", "ok", 0), res("b", "ok", 0)}}, "2 ok", ExitOK},
		{"one failed", api.Job{Kind: "run", Hosts: []string{"a", "b", "c", "d"}, Results: []api.JobResult{res("a", "ok", 0), res("b", "failed", 3), res("c", "ok", 0), res("d", "ok", 0)}}, "3 ok, 1 failed", ExitFailed},
		{"timeout and unreachable", api.Job{Kind: "op", Hosts: []string{"a", "b"}, Results: []api.JobResult{res("a", "timeout", -1), res("b", "unreachable", 0)}}, "1 timeout, 1 unreachable", ExitFailed},
		{"apply changed", api.Job{Kind: "apply", Hosts: []string{"a", "b"}, Results: []api.JobResult{res("a", "ok", 0), res("b", "changed", 0)}}, "1 ok, 1 changed", ExitChanged},
		{"apply changed and failed", api.Job{Kind: "apply", Hosts: []string{"a", "b"}, Results: []api.JobResult{res("a", "failed", 1), res("b", "changed", 0)}}, "1 changed, 1 failed", ExitFailed},
		{"a result missing", api.Job{Kind: "run", Hosts: []string{"a", "b"}, Results: []api.JobResult{res("a", "ok", 0)}}, "1 ok, 1 pending", ExitFailed},
	} {
		t.Run(tt.name, func(t *testing.T) {
			names := resultNames(tt.job, nil)
			if got := summarize(tt.job, sortedResults(tt.job, names)); got != tt.summary {
				t.Errorf("summary = %q, want %q", got, tt.summary)
			}
			code := ExitOK
			if err := jobExit(tt.job); err != nil {
				code = err.(*exitError).code
			}
			if code != tt.exit {
				t.Errorf("exit = %d, want %d", code, tt.exit)
			}
		})
	}
	if got := statusCell(res("a", "failed", 3)); got != "failed (exit 3)" {
		t.Errorf("statusCell = %q", got)
	}
}

func TestDisplayNames(t *testing.T) {
	hostnames := map[string]string{"h1": "web-1", "h2": "db", "h3": "db", "h4": ""}
	got := displayNames([]string{"h1", "h2", "h3", "h4"}, func(id string) string { return hostnames[id] })
	want := map[string]string{"h1": "web-1", "h2": "h2", "h3": "h3", "h4": "h4"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestDescribeJob(t *testing.T) {
	for _, tt := range []struct {
		job  api.Job
		want string
	}{
		{api.Job{Kind: "run", Spec: map[string]any{"command": []any{"sh", "-c", "df -h | tail -1"}}}, "run sh -c 'df -h | tail -1'"},
		{api.Job{Kind: "op", Spec: map[string]any{"op": "restart", "params": map[string]any{"service": "nginx", "why": "it's stuck"}}}, `op restart service=nginx 'why=it'\''s stuck'`},
		{api.Job{Kind: "apply", Spec: map[string]any{"dry_run": true}}, "apply --dry-run"},
		{api.Job{Kind: "apply", Spec: map[string]any{"dry_run": false}}, "apply"},
	} {
		if got := describeJob(tt.job); got != tt.want {
			t.Errorf("describeJob = %q, want %q", got, tt.want)
		}
	}
}
