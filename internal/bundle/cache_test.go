package bundle

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/phenixhq/phenix/internal/promise"
)

// TestCacheRoundTrip loads every example bundle of the repository twice
// through the cache and expects the same promises, unexported state
// included.
func TestCacheRoundTrip(t *testing.T) {
	bundles, _ := filepath.Glob("../promise/testdata/[dls]*/*.yaml") // the archive one needs a built archive
	bundles = append(bundles, "../../examples/hello")
	// The README's examples hold every promise type.
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "files"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "files/tool.tar.gz"), []byte("read at load, extracted at apply"), 0o644); err != nil {
		t.Fatal(err)
	}
	for i, block := range strings.Split(string(readme), "```yaml\n# example: ")[1:] {
		body, _, _ := strings.Cut(block, "```")
		p := filepath.Join(dir, fmt.Sprintf("readme-%02d.yaml", i))
		if err := os.WriteFile(p, []byte("# example: "+body), 0o644); err != nil {
			t.Fatal(err)
		}
		bundles = append(bundles, p)
	}
	if len(bundles) < 4 {
		t.Fatalf("found only %v", bundles)
	}
	for _, b := range bundles {
		t.Run(b, func(t *testing.T) {
			opts := Options{CacheDir: t.TempDir(), Facts: map[string]any{"hostname": "h", "cpu_count": 2}}
			first, err := Load([]string{b}, opts)
			if err != nil {
				t.Fatal(err)
			}
			entries, _ := os.ReadDir(opts.CacheDir)
			if len(entries) != 1 {
				t.Fatalf("cache holds %d entries after one load, want 1", len(entries))
			}
			key := entries[0].Name()
			cached, ok := loadCached(Options{CacheDir: opts.CacheDir, FactsFunc: func() map[string]any { return map[string]any{"hostname": "h", "cpu_count": 2} }}, key)
			if !ok {
				t.Fatal("second load missed the cache")
			}
			if !reflect.DeepEqual(first, cached) {
				t.Errorf("cached promises differ from parsed ones")
				for i := range first {
					if !reflect.DeepEqual(first[i], cached[i]) {
						t.Errorf("first difference: %s\nparsed %#v\ncached %#v", first[i].ID(), first[i].Resource, cached[i].Resource)
						break
					}
				}
			}
		})
	}
}

func TestCacheInvalidation(t *testing.T) {
	dir := t.TempDir()
	cache := t.TempDir()
	write := func(name, body string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("b.yaml", `vars: {greeting: hello}
promises:
  - file: /etc/motd
    content: "{{ .vars.greeting }} {{ .facts.hostname }}"
  - file: /etc/app.conf
    template: app.tmpl
`)
	write("app.tmpl", "v1 {{ .vars.greeting }}")
	facts := map[string]any{"hostname": "alpha"}
	load := func(vars map[string]any) (motd, conf string) {
		t.Helper()
		ps, err := Load([]string{filepath.Join(dir, "b.yaml")}, Options{CacheDir: cache, Vars: vars, FactsFunc: func() map[string]any { return facts }})
		if err != nil {
			t.Fatal(err)
		}
		motd = *ps[0].Resource.(*promise.File).Content
		if len(ps) > 1 {
			conf = string(fileData(ps[1]))
		}
		return motd, conf
	}
	if m, c := load(nil); m != "hello alpha" || c != "v1 hello" {
		t.Fatalf("first load: %q %q", m, c)
	}
	if m, c := load(nil); m != "hello alpha" || c != "v1 hello" {
		t.Fatalf("cached load: %q %q", m, c)
	}
	write("app.tmpl", "v2 {{ .vars.greeting }}") // a file beside the bundle
	if _, c := load(nil); c != "v2 hello" {
		t.Errorf("template change not seen through the cache: %q", c)
	}
	facts = map[string]any{"hostname": "beta"} // the facts a template used
	if m, _ := load(nil); m != "hello beta" {
		t.Errorf("facts change not seen through the cache: %q", m)
	}
	if m, c := load(map[string]any{"greeting": "hi"}); m != "hi beta" || c != "v2 hi" {
		t.Errorf("--var change not seen through the cache: %q %q", m, c)
	}
	write("b.yaml", "promises:\n  - file: /etc/motd\n    content: edited\n")
	if m, _ := load(nil); m != "edited" {
		t.Errorf("bundle change not seen through the cache: %q", m)
	}
	// A damaged cache is a miss, not an error.
	entries, _ := os.ReadDir(cache)
	for _, e := range entries {
		if err := os.WriteFile(filepath.Join(cache, e.Name()), []byte("garbage"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if m, _ := load(nil); m != "edited" {
		t.Errorf("damaged cache: %q", m)
	}
	// Bundles with errors are never cached.
	before, _ := os.ReadDir(cache)
	write("b.yaml", "promises:\n  - file: relative\n")
	if _, err := Load([]string{filepath.Join(dir, "b.yaml")}, Options{CacheDir: cache}); err == nil || !strings.Contains(err.Error(), "absolute path") {
		t.Fatalf("error = %v", err)
	}
	if after, _ := os.ReadDir(cache); len(after) != len(before) {
		t.Errorf("a bundle with errors was cached")
	}
}

// fileData reads the resolved content of a file promise through its
// Check against an empty root: the unexported data is what a new file gets.
func fileData(p *promise.Promise) []byte {
	root, _ := os.MkdirTemp("", "phenix-cache-test")
	defer os.RemoveAll(root)
	f := p.Resource.(*promise.File)
	d, err := f.Check(nil, &promise.Env{Root: root})
	if err != nil || d == nil {
		return nil
	}
	// The diff of a new file is "+line" per line.
	var out []string
	for _, l := range strings.Split(d.Content, "\n") {
		if strings.HasPrefix(l, "+") && !strings.HasPrefix(l, "+++") {
			out = append(out, l[1:])
		}
	}
	return []byte(strings.Join(out, "\n"))
}

// TestCacheKeyFollowsWorkingDirectory checks that a bundle named by
// another relative path, from another working directory, is not taken from
// the cache with paths that now point elsewhere.
func TestCacheKeyFollowsWorkingDirectory(t *testing.T) {
	cache := t.TempDir()
	top := t.TempDir()
	site := filepath.Join(top, "site")
	if err := os.MkdirAll(site, 0o755); err != nil {
		t.Fatal(err)
	}
	for path, body := range map[string]string{
		filepath.Join(site, "site.yaml"): "promises:\n  - file: /etc/x\n    template: x.tmpl\n",
		filepath.Join(site, "x.tmpl"):    "from site",
		filepath.Join(top, "x.tmpl"):     "decoy",
	} {
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, run := range []struct{ wd, bundle string }{{site, "site.yaml"}, {top, "site/site.yaml"}, {site, "site.yaml"}} {
		t.Chdir(run.wd)
		ps, err := Load([]string{run.bundle}, Options{CacheDir: cache})
		if err != nil {
			t.Fatal(err)
		}
		if got := string(fileData(ps[0])); got != "from site" {
			t.Errorf("from %s as %s: content %q, want the template beside the bundle", run.wd, run.bundle, got)
		}
	}
}
