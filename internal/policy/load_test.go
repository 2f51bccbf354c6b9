package policy

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/phenixhq/phenix/internal/bundle"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestErrorsGolden loads each policy testdata/errors/<case>/ and compares
// the full error list with testdata/errors/<case>.golden.
func TestErrorsGolden(t *testing.T) {
	entries, err := os.ReadDir("testdata/errors")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		n++
		dir := filepath.Join("testdata/errors", e.Name())
		t.Run(e.Name(), func(t *testing.T) {
			p, err := Load(dir)
			if err == nil {
				t.Fatalf("Load(%s) = %+v, no error; want errors", dir, p)
			}
			if p != nil {
				t.Errorf("Load(%s) returned a policy along with errors", dir)
			}
			var el bundle.ErrorList
			if !errors.As(err, &el) {
				t.Fatalf("Load(%s) error is %T (%v), want bundle.ErrorList", dir, err, err)
			}
			got := err.Error() + "\n"
			golden := dir + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("errors of %s (-want +got):\n%s", dir, diff)
			}
		})
	}
	if n == 0 {
		t.Fatal("no test policies in testdata/errors")
	}
}

// TestFromArchiveSameErrors packs each broken policy by hand and checks
// that FromArchive finds the same problems, named by archive path.
func TestFromArchiveSameErrors(t *testing.T) {
	entries, err := os.ReadDir("testdata/errors")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join("testdata/errors", e.Name())
		t.Run(e.Name(), func(t *testing.T) {
			_, loadErr := Load(dir)
			t0, errs, err := readDir(dir, "")
			if err != nil || len(errs) > 0 {
				t.Fatalf("readDir: %v %v", err, errs)
			}
			_, archErr := FromArchive(packTree(t, t0))
			if archErr == nil {
				t.Fatal("FromArchive succeeded")
			}
			want := strings.ReplaceAll(loadErr.Error(), dir+"/", "")
			if diff := cmp.Diff(want, archErr.Error()); diff != "" {
				t.Errorf("FromArchive errors differ from Load's (-load +archive):\n%s", diff)
			}
		})
	}
}

func TestLoadExample(t *testing.T) {
	p, err := Load("../../examples/policy")
	if err != nil {
		t.Fatalf("Load(examples/policy): %v", err)
	}
	if p.Interval != 5*time.Minute || p.Hash != "" {
		t.Errorf("Interval = %v, Hash = %q; want 5m and no hash", p.Interval, p.Hash)
	}
	var names []string
	for n := range p.Ops {
		names = append(names, n)
	}
	slices.Sort(names)
	want := []string{"app-logs", "db-processlist", "restart-app", "user-add", "user-list", "user-remove"}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("ops (-want +got):\n%s", diff)
	}
	ua := p.Ops["user-add"]
	if ua.Select != "*" || ua.Timeout != 30*time.Second || len(ua.Params) != 2 || ua.Params[0].Name != "name" || !ua.Params[0].Required {
		t.Errorf("user-add = %+v", ua)
	}
	if ua.Pos.File != "../../examples/policy/ops/user-add.yml" || ua.Pos.Line != 1 {
		t.Errorf("user-add Pos = %v", ua.Pos)
	}
	logs := p.Ops["app-logs"]
	for _, tt := range []struct {
		file    string
		wantErr bool
	}{
		{"/var/log/app/app.log", false},
		{"/var/log/syslog", false},
		{"/var/log/../../etc/shadow", true},
		{"/var/log/app/.hidden", true},
		{"/etc/shadow", true},
		{"/var/log", true},
	} {
		_, err := logs.Bind(map[string]string{"file": tt.file})
		if (err != nil) != tt.wantErr {
			t.Errorf("app-logs Bind(file=%s) error = %v, want error %v", tt.file, err, tt.wantErr)
		}
	}
}

func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

var minimal = map[string]string{
	"policy.yml":            "bundles:\n  - select: \"*\"\n    apply: [base]\n",
	"bundles/base/a.yml":    "promises:\n  - file: /etc/motd\n    source: motd\n",
	"bundles/base/motd":     "hello\n",
	"ops/uptime.yml":        "command: [uptime]\n",
	".git/config":           "[core]\n",
	".git/objects/x":        "not read",
	"bundles/base/.cache/x": "cached",
}

func TestLoadRefusesLinksAndSpecialFiles(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"policy.yml":         "bundles:\n  - select: \"*\"\n    apply: [base]\n",
		"bundles/base/a.yml": "promises:\n  - file: /etc/motd\n    source: inside\n",
		"bundles/base/real":  "hello\n",
	})
	outside := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(outside, []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, l := range []struct{ target, name string }{
		{"real", "bundles/base/inside"},             // inside: followed
		{outside, "bundles/base/outside"},           // leaves the policy
		{"../../../", "bundles/base/up"},            // leaves the policy
		{"..", "bundles/base/loop"},                 // a loop
		{"missing", "bundles/base/broken"},          // broken
		{"base", "bundles/base-again"},              // a second name for a directory inside: followed
		{filepath.Dir(outside), "bundles/external"}, // leaves the policy
	} {
		if err := os.Symlink(l.target, filepath.Join(dir, l.name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "bundles/base/fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(dir)
	if err == nil {
		t.Fatal("Load succeeded")
	}
	got := strings.ReplaceAll(err.Error(), dir+"/", "")
	got = strings.ReplaceAll(got, filepath.Dir(outside), "OUTSIDE")
	want := strings.Join([]string{
		"bundles/base-again/broken: broken symbolic link: no such file or directory",
		"bundles/base-again/fifo: a named pipe: a policy holds only regular files and directories",
		"bundles/base-again/loop: symbolic link makes a loop",
		"bundles/base-again/outside: symbolic link to OUTSIDE/secret leaves the policy directory: a policy holds only its own files",
		"bundles/base-again/up: symbolic link to " + filepath.Dir(dir) + " leaves the policy directory: a policy holds only its own files",
		"bundles/base/broken: broken symbolic link: no such file or directory",
		"bundles/base/fifo: a named pipe: a policy holds only regular files and directories",
		"bundles/base/loop: symbolic link makes a loop",
		"bundles/base/outside: symbolic link to OUTSIDE/secret leaves the policy directory: a policy holds only its own files",
		"bundles/base/up: symbolic link to " + filepath.Dir(dir) + " leaves the policy directory: a policy holds only its own files",
		"bundles/external: symbolic link to OUTSIDE leaves the policy directory: a policy holds only its own files",
	}, "\n")
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Load errors (-want +got):\n%s", diff)
	}
}

func TestLoadFollowsLinksInside(t *testing.T) {
	dir := writeTree(t, minimal)
	if err := os.Symlink("base", filepath.Join(dir, "bundles/alias")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../../ops/uptime.yml", filepath.Join(dir, "bundles/base/uptime.txt")); err != nil {
		t.Fatal(err)
	}
	p, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if string(p.files["bundles/alias/motd"]) != "hello\n" || string(p.files["bundles/base/uptime.txt"]) != "command: [uptime]\n" {
		t.Errorf("files = %v", p.files)
	}
	for name := range p.files {
		if strings.Contains(name, ".git") || strings.Contains(name, ".cache") {
			t.Errorf("dot-directory file %s loaded", name)
		}
	}
}

func TestLoadNotADirectory(t *testing.T) {
	if _, err := Load(filepath.Join(t.TempDir(), "nope")); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing) error = %v, want not exist", err)
	}
	f := filepath.Join(t.TempDir(), "file")
	os.WriteFile(f, nil, 0o644)
	if _, err := Load(f); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("Load(file) error = %v", err)
	}
}

func TestLoadPrefixAsGiven(t *testing.T) {
	dir := writeTree(t, map[string]string{"policy.yml": "interval: 1s\n"})
	for _, given := range []string{dir, dir + "/", dir + "/."} {
		_, err := Load(given)
		want := strings.TrimSuffix(given, "/") + "/policy.yml:1:11: interval: 1s is too short: expected at least 10s"
		if err == nil || err.Error() != want {
			t.Errorf("Load(%q) error = %v, want %s", given, err, want)
		}
	}
}

func TestLoadIntervalAndEmpty(t *testing.T) {
	for _, tt := range []struct {
		src  string
		want time.Duration
	}{
		{"", DefaultInterval},
		{"# nothing yet\n", DefaultInterval},
		{"{}\n", DefaultInterval},
		{"interval: 30s\n", 30 * time.Second},
		{"interval: 1h\n", time.Hour},
	} {
		dir := writeTree(t, map[string]string{"policy.yml": tt.src})
		p, err := Load(dir)
		if err != nil {
			t.Errorf("Load(%q): %v", tt.src, err)
			continue
		}
		if p.Interval != tt.want {
			t.Errorf("Load(%q).Interval = %v, want %v", tt.src, p.Interval, tt.want)
		}
	}
}

func TestLoadTooLarge(t *testing.T) {
	dir := writeTree(t, minimal)
	big, err := os.Create(filepath.Join(dir, "bundles/base/big.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if err := big.Truncate(MaxSize + 1); err != nil {
		t.Fatal(err)
	}
	big.Close()
	if _, err := Load(dir); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Load(70 MiB) error = %v, want ErrTooLarge", err)
	}
	if _, _, err := Pack(dir); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "64 MiB") {
		t.Errorf("Pack(70 MiB) error = %v, want ErrTooLarge", err)
	}
}

// packTree packs a tree that need not be a valid policy.
func packTree(t *testing.T, tr *tree) []byte {
	t.Helper()
	b, _, err := tr.pack("test")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestLoadVarTypes(t *testing.T) {
	dir := writeTree(t, map[string]string{"policy.yml": `vars:
  - select: "*"
    vars:
      int: 8080
      float: 1.5
      bool: true
      yes_word: yes
      yes_string: "yes"
      nothing:
      date: 2024-01-02
      ports: {80: http, 443: https}
      list: [1, two, {three: 3}]
`})
	p, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"int": 8080, "float": 1.5, "bool": true, "yes_word": "yes", "yes_string": "yes", "nothing": nil, "date": "2024-01-02",
		"ports": map[string]any{"80": "http", "443": "https"},
		"list":  []any{1, "two", map[string]any{"three": 3}},
	}
	if diff := cmp.Diff(want, p.vars[0].vars); diff != "" {
		t.Errorf("vars (-want +got):\n%s", diff)
	}
}

func TestLoadBareStar(t *testing.T) {
	dir := writeTree(t, map[string]string{"policy.yml": "bundles:\n  - select: *\n    apply: [a]\n"})
	_, err := Load(dir)
	if err == nil || !strings.Contains(err.Error(), `policy.yml:2:1: syntax error: did not find expected alphabetic or numeric character (a bare * starts a YAML alias: to select every host, write "*" in quotes)`) {
		t.Errorf("Load error = %v", err)
	}
}
