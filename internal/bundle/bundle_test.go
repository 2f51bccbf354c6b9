package bundle

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/phenixhq/phenix/internal/promise"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestErrorsGolden loads each testdata/errors/*.yaml bundle and compares
// the full error list with the .golden file beside it.
func TestErrorsGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/errors/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no test bundles: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			ps, err := Load([]string{f}, Options{})
			if err == nil {
				t.Fatalf("Load(%s) = %d promises, no error; want errors", f, len(ps))
			}
			if ps != nil {
				t.Errorf("Load(%s) returned promises along with errors", f)
			}
			var el ErrorList
			if !errors.As(err, &el) {
				t.Fatalf("Load(%s) error is %T, want ErrorList", f, err)
			}
			got := err.Error() + "\n"
			golden := strings.TrimSuffix(f, ".yaml") + ".golden"
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
				t.Errorf("errors of %s (-want +got):\n%s", f, diff)
			}
		})
	}
}

func TestParseValid(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "app.conf.tmpl"), []byte("port={{ .vars.port }} os={{ .facts.os }}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	src := `vars:
  port: 8080
  name: web
promises:
  - file: /etc/app.conf
    template: app.conf.tmpl
    mode: 0640
    notify: ["file:/etc/{{ .vars.name }}.flag"]
  - file: /etc/{{ .vars.name }}.flag
    content: "{{ .vars.port }}"
    require: file:/etc/app.conf
    comment: a flag file
  - package: [curl, jq]
`
	name := filepath.Join(dir, "site.yaml")
	ps, errs := Parse(name, []byte(src), Options{Vars: map[string]any{"port": "9090"}, Facts: map[string]any{"os": "linux"}})
	if len(errs) > 0 {
		t.Fatalf("Parse: %v", errs)
	}
	var ids []string
	for _, p := range ps {
		ids = append(ids, p.ID())
	}
	if diff := cmp.Diff([]string{"file:/etc/app.conf", "file:/etc/web.flag", "package:curl,jq"}, ids); diff != "" {
		t.Errorf("ids (-want +got):\n%s", diff)
	}
	f := ps[0].Resource.(*promise.File)
	if f.Mode.String() != "0640" {
		t.Errorf("mode = %q, want 0640", f.Mode.String())
	}
	if got := ps[0].Notify; len(got) != 1 || got[0].String() != "file:/etc/web.flag" || got[0].Pos.Line != 8 {
		t.Errorf("notify = %+v, want file:/etc/web.flag at line 8", got)
	}
	flag := ps[1].Resource.(*promise.File)
	if *flag.Content != "9090" {
		t.Errorf("--var did not override bundle var: content = %q", *flag.Content)
	}
	if ps[1].Comment != "a flag file" {
		t.Errorf("comment = %q", ps[1].Comment)
	}
	if ps[0].Pos.Line != 5 || ps[0].Pos.Col != 5 {
		t.Errorf("pos = %v, want 5:5", ps[0].Pos)
	}
}

func TestLoadDirectory(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"b.yaml":    "promises:\n  - file: /b\n",
		"a.yml":     "promises:\n  - file: /a\n",
		"notes.txt": "not a bundle",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ps, err := Load([]string{dir}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 2 || ps[0].ID() != "file:/a" || ps[1].ID() != "file:/b" {
		t.Errorf("Load(dir) = %v, want file:/a then file:/b", ps)
	}
	if _, err := Load([]string{t.TempDir()}, Options{}); err == nil || !strings.Contains(err.Error(), "no .yaml or .yml file") {
		t.Errorf("Load(empty dir) error = %v, want a clear error", err)
	}
	if _, err := Load([]string{filepath.Join(dir, "missing.yaml")}, Options{}); err == nil {
		t.Error("Load(missing file) succeeded")
	}
}

// FuzzParse checks that no input makes the parser panic, and that every
// error it reports carries a position.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/errors/*.yaml")
	for _, s := range seeds {
		b, _ := os.ReadFile(s)
		f.Add(b)
	}
	f.Add([]byte("promises:\n  - file: /etc/motd\n    content: hi\n    notify: [service:x]\n  - service: x\n"))
	f.Add([]byte("vars: {a: &x [1]}\npromises: [*x, {package: [a, *x]}]\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		_, errs := Parse("fuzz.yaml", src, Options{})
		for _, e := range errs {
			if e.Pos.Line < 1 {
				t.Errorf("error without a line: %v", e)
			}
		}
	})
}
