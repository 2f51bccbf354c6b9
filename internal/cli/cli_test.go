package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/phenixhq/phenix/internal/testenv"
)

// cacheHome keeps the bundle cache of the tests out of the user's.
var cacheHome string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "phenix-cli-test-cache-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cacheHome = dir
	code := m.Run()
	os.RemoveAll(dir)
	testenv.Cleanup()
	os.Exit(code)
}

// run runs the CLI in-process and returns its exit status and output.
func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	t.Setenv("XDG_CACHE_HOME", cacheHome)
	var out, errb bytes.Buffer
	code = Run(context.Background(), args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func writeBundle(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "bundle.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestApplyExitStatusesAndIdempotence(t *testing.T) {
	root := t.TempDir()
	b := writeBundle(t, `promises:
  - file: /motd
    content: "hello\n"
    mode: "0600"
`)
	code, out, errOut := run(t, "apply", b, "--root", root)
	if code != ExitChanged {
		t.Fatalf("first apply: exit %d, want %d\n%s%s", code, ExitChanged, out, errOut)
	}
	if !strings.Contains(out, "changed  file:/motd: state absent → present, mode (none) → 0600, content") {
		t.Errorf("first apply output:\n%s", out)
	}
	if !strings.HasSuffix(strings.TrimSpace(out), ")") || !strings.Contains(out, "1 promise: 1 changed, 0 ok, 0 failed, 0 skipped (") {
		t.Errorf("totals line missing:\n%s", out)
	}
	got, err := os.ReadFile(filepath.Join(root, "motd"))
	if err != nil || string(got) != "hello\n" {
		t.Fatalf("motd = %q, %v", got, err)
	}
	st, _ := os.Stat(filepath.Join(root, "motd"))
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, want 0600", st.Mode())
	}
	code, out, _ = run(t, "apply", b, "--root", root)
	if code != ExitOK || !strings.Contains(out, "1 promise: 0 changed, 1 ok") {
		t.Errorf("second apply: exit %d, want 0\n%s", code, out)
	}
	// A hand edit is repaired, and the replaced content is backed up.
	if err := os.WriteFile(filepath.Join(root, "motd"), []byte("edited\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, _ = run(t, "apply", b, "--root", root, "--diff")
	if code != ExitChanged || !strings.Contains(out, "-edited") || !strings.Contains(out, "+hello") {
		t.Errorf("repair: exit %d\n%s", code, out)
	}
	backups, _ := filepath.Glob(filepath.Join(root, "var/lib/phenix/backups/motd.*"))
	if len(backups) != 1 {
		t.Fatalf("backups = %v, want one", backups)
	}
	if b, _ := os.ReadFile(backups[0]); string(b) != "edited\n" {
		t.Errorf("backup holds %q, want the replaced content", b)
	}
}

func TestApplyCreatesMissingRoot(t *testing.T) {
	root := filepath.Join(t.TempDir(), "new", "root")
	b := writeBundle(t, "promises:\n  - file: /etc/motd\n    content: hi\n")
	if code, out, errOut := run(t, "apply", b, "--root", root, "--dry-run"); code != ExitChanged {
		t.Fatalf("dry run: exit %d\n%s%s", code, out, errOut)
	}
	if _, err := os.Stat(root); err == nil {
		t.Fatal("a dry run created the root")
	}
	if code, out, errOut := run(t, "apply", b, "--root", root); code != ExitChanged {
		t.Fatalf("apply: exit %d\n%s%s", code, out, errOut)
	}
	if got, _ := os.ReadFile(filepath.Join(root, "etc/motd")); string(got) != "hi" {
		t.Errorf("motd = %q", got)
	}
}

func TestDryRunChangesNothing(t *testing.T) {
	root := t.TempDir()
	b := writeBundle(t, `promises:
  - file: /etc/app.conf
    content: "port=80\n"
`)
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	code, out, _ := run(t, "apply", b, "--root", root, "--dry-run")
	if code != ExitChanged {
		t.Fatalf("dry run: exit %d, want 2\n%s", code, out)
	}
	for _, want := range []string{"--- /dev/null", "+++ b/etc/app.conf", "+port=80", "1 would change"} {
		if !strings.Contains(out, want) {
			t.Errorf("dry-run output lacks %q:\n%s", want, out)
		}
	}
	entries, _ := os.ReadDir(filepath.Join(root, "etc"))
	if len(entries) != 0 {
		t.Errorf("dry run wrote %v", entries)
	}
}

func TestApplyJSON(t *testing.T) {
	root := t.TempDir()
	b := writeBundle(t, `promises:
  - file: /ok
    content: x
  - file: /blocker/f
    content: y
  - file: /after
    content: z
    require: file:/blocker/f
`)
	if err := os.WriteFile(filepath.Join(root, "blocker"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := run(t, "apply", b, "--root", root, "--json")
	if code != ExitFailed {
		t.Fatalf("exit %d, want 1 (a promise failed)\n%s%s", code, out, errOut)
	}
	var rep struct {
		DryRun   bool `json:"dry_run"`
		Promises []struct {
			ID, Type, Status, Error, Reason string
			Diff                            *struct {
				Content string `json:"content"`
			} `json:"diff"`
			DurationMS *float64 `json:"duration_ms"`
		} `json:"promises"`
		Totals map[string]float64 `json:"totals"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("output is not one JSON document: %v\n%s", err, out)
	}
	if len(rep.Promises) != 3 {
		t.Fatalf("promises = %d, want 3", len(rep.Promises))
	}
	p := rep.Promises
	if p[0].ID != "file:/ok" || p[0].Type != "file" || p[0].Status != "changed" || p[0].Diff == nil || !strings.Contains(p[0].Diff.Content, "+x") || p[0].DurationMS == nil {
		t.Errorf("promise 0 = %+v", p[0])
	}
	if p[1].Status != "failed" || !strings.Contains(p[1].Error, "not a directory") {
		t.Errorf("promise 1 = %+v, want failed with the cause", p[1])
	}
	if p[2].Status != "skipped" || p[2].Reason != "requires file:/blocker/f, which failed" {
		t.Errorf("promise 2 = %+v, want skipped with the reason", p[2])
	}
	if rep.Totals["promises"] != 3 || rep.Totals["changed"] != 1 || rep.Totals["failed"] != 1 || rep.Totals["skipped"] != 1 {
		t.Errorf("totals = %v", rep.Totals)
	}
	if _, err := os.Stat(filepath.Join(root, "ok")); err != nil {
		t.Errorf("independent promise was not applied: %v", err)
	}
}

func TestBadInputAppliesNothing(t *testing.T) {
	root := t.TempDir()
	b := writeBundle(t, `promises:
  - file: /good
    content: fine
  - file: /bad
    mode: rw-r--r--
    ownr: root
`)
	code, out, errOut := run(t, "apply", b, "--root", root)
	if code != ExitBadInput {
		t.Fatalf("exit %d, want 64\n%s%s", code, out, errOut)
	}
	for _, want := range []string{
		b + `:5:11: mode: bad mode "rw-r--r--": expected an octal mode such as "0644"`,
		b + `:6:5: unknown file attribute "ownr" (did you mean "owner"?)`,
		"phenix: 2 errors, nothing applied",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "good")); err == nil {
		t.Error("a bundle with errors was partly applied")
	}
	// validate says the same, and exits 64 too.
	code, _, errOut2 := run(t, "validate", b)
	if code != ExitBadInput || errOut2 != errOut {
		t.Errorf("validate: exit %d\n%s\nwant the same errors as apply:\n%s", code, errOut2, errOut)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"apply"}, "requires at least 1 arg"},
		{[]string{"apply", "x.yaml", "--bogus"}, "unknown flag: --bogus"},
		{[]string{"apply", "/nonexistent/x.yaml"}, "no such file or directory"},
		{[]string{"apply", "x.yaml", "--var", "novalue"}, ""},
		{[]string{"apply", "x.yaml", "--root", "/etc/hostname"}, "--root /etc/hostname: not a directory"},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, _, errOut := run(t, tt.args...)
			if code != ExitBadInput {
				t.Errorf("exit %d, want 64; stderr:\n%s", code, errOut)
			}
			if !strings.Contains(errOut, tt.want) {
				t.Errorf("stderr %q lacks %q", errOut, tt.want)
			}
		})
	}
}

func TestVarsPrecedence(t *testing.T) {
	root := t.TempDir()
	dir := t.TempDir()
	vf := filepath.Join(dir, "vars.yaml")
	if err := os.WriteFile(vf, []byte("port: 9000\nname: fromfile\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	b := writeBundle(t, `vars:
  port: 80
  name: bundle
  env: dev
promises:
  - file: /conf
    content: "{{ .vars.port }} {{ .vars.name }} {{ .vars.env }}"
`)
	if code, out, errOut := run(t, "apply", b, "--root", root, "--vars-file", vf, "--var", "name=flag"); code != ExitChanged {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	got, _ := os.ReadFile(filepath.Join(root, "conf"))
	if string(got) != "9000 flag dev" {
		t.Errorf("conf = %q, want bundle < vars file < --var", got)
	}
}

func TestFacts(t *testing.T) {
	code, out, _ := run(t, "facts", "--json")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	var f map[string]any
	if err := json.Unmarshal([]byte(out), &f); err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	if f["os"] != "linux" || f["hostname"] != host || f["cpu_count"].(float64) < 1 {
		t.Errorf("facts = %v", f)
	}
	code, out, _ = run(t, "facts")
	if code != 0 || !strings.Contains(out, "hostname") {
		t.Errorf("facts: exit %d\n%s", code, out)
	}
}

// TestExamplesHello applies examples/hello, the README's first command,
// under a temporary root, twice, and checks what it built.
func TestExamplesHello(t *testing.T) {
	root := t.TempDir()
	if code, out, errOut := run(t, "apply", "../../examples/hello", "--root", root); code != ExitChanged {
		t.Fatalf("first apply: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut := run(t, "apply", "../../examples/hello", "--root", root)
	if code != ExitOK || !strings.Contains(out, "0 changed") {
		t.Fatalf("second apply: exit %d\n%s%s", code, out, errOut)
	}
	host, _ := os.Hostname()
	for path, want := range map[string]string{
		"etc/motd":           "Hello from phenix on " + host + "\n",
		"etc/hello/hosts":    "127.0.0.1 hello.local\n",
		"srv/hello/current":  "release 1\n",
		"etc/hello/app.conf": "# Managed by phenix: edits are repaired.\n[server]\nname = hello\nport = 8080\n",
	} {
		got, err := os.ReadFile(filepath.Join(root, path))
		if err != nil {
			t.Errorf("%s: %v", path, err)
			continue
		}
		if !strings.HasPrefix(string(got), want) {
			t.Errorf("%s = %q, want it to start with %q", path, got, want)
		}
	}
	// A hand edit is repaired on the next run.
	if err := os.WriteFile(filepath.Join(root, "etc/hello/app.conf"), []byte("port = 1\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	if code, out, _ := run(t, "apply", "../../examples/hello", "--root", root); code != ExitChanged || !strings.Contains(out, "file:/etc/hello/app.conf: content") {
		t.Errorf("repair: exit %d\n%s", code, out)
	}
}
