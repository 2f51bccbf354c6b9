package cli

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/phenixhq/phenix/internal/bundle"
	"github.com/phenixhq/phenix/internal/containertest"
	"github.com/phenixhq/phenix/internal/promise"
	"github.com/phenixhq/phenix/internal/testenv"
)

// readmeExample is a YAML block of the README that starts with
// "# example: NAME".
type readmeExample struct {
	name, body string
	rooted     bool // every promise honours --root
}

var exampleBlock = regexp.MustCompile("(?s)```yaml\n(# example: ([a-z-]+)\n.*?)```")

func readmeExamples(t *testing.T) []readmeExample {
	t.Helper()
	src, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var out []readmeExample
	for _, m := range exampleBlock.FindAllStringSubmatch(string(src), -1) {
		ex := readmeExample{name: m[2], body: m[1], rooted: true}
		dir := t.TempDir()
		writeExampleFiles(t, dir)
		ps, errs := bundle.Parse(filepath.Join(dir, "example.yaml"), []byte(ex.body), bundle.Options{Facts: map[string]any{"hostname": "h", "cpu_count": 2}})
		if len(errs) > 0 {
			t.Fatalf("README example %s does not parse:\n%v", ex.name, errs)
		}
		for _, p := range ps {
			if typ, _ := promise.Lookup(p.Type); !typ.Rooted {
				ex.rooted = false
			}
		}
		out = append(out, ex)
	}
	if len(out) < 10 {
		t.Fatalf("found %d README examples, want one per promise type at least", len(out))
	}
	return out
}

// writeExampleFiles puts beside an example bundle the files its examples
// refer to: files/tool.tar.gz.
func writeExampleFiles(t *testing.T, dir string) {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, e := range []struct {
		name, body string
		mode       int64
	}{{"bin/", "", 0o755}, {"bin/tool", "#!/bin/sh\necho tool\n", 0o755}, {"README", "the tool\n", 0o644}} {
		h := &tar.Header{Name: e.name, Mode: e.mode, Size: int64(len(e.body)), Typeflag: tar.TypeReg}
		if strings.HasSuffix(e.name, "/") {
			h.Typeflag, h.Size = tar.TypeDir, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(e.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "files"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "files/tool.tar.gz"), buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestREADMEExamplesUnderRoot applies every README example whose promises
// all honour --root under a temporary root, twice.
func TestREADMEExamplesUnderRoot(t *testing.T) {
	for _, ex := range readmeExamples(t) {
		if !ex.rooted {
			continue
		}
		t.Run(ex.name, func(t *testing.T) {
			dir := t.TempDir()
			writeExampleFiles(t, dir)
			b := filepath.Join(dir, "example.yaml")
			if err := os.WriteFile(b, []byte(ex.body), 0o644); err != nil {
				t.Fatal(err)
			}
			root := t.TempDir()
			if code, out, errOut := run(t, "apply", b, "--root", root); code != ExitChanged {
				t.Fatalf("first apply: exit %d\n%s%s", code, out, errOut)
			}
			if code, out, errOut := run(t, "apply", b, "--root", root); code != ExitOK {
				t.Fatalf("second apply: exit %d, want 0\n%s%s", code, out, errOut)
			}
		})
	}
}

// TestREADMEExamplesInDebian applies the README examples that act on the
// running system (packages, services, users, exec, cron) inside a Debian
// container with network access to the Debian mirror, twice each.
func TestREADMEExamplesInDebian(t *testing.T) {
	testenv.Require(t, "docker", "debootstrap")
	bin := testenv.PhenixBinary(t)
	c := containertest.Start(t, containertest.DebianImage(t), containertest.WithPhenix(bin), containertest.WithNetwork("bridge"))
	for _, ex := range readmeExamples(t) {
		if ex.rooted {
			continue
		}
		t.Run(ex.name, func(t *testing.T) {
			dir := "/examples/" + ex.name
			c.WriteFile(t, dir+"/example.yaml", []byte(ex.body), 0o644)
			for i, want := range []int{ExitChanged, ExitOK} {
				out, errOut, code, err := c.Exec(t.Context(), "phenix", "apply", dir+"/example.yaml")
				if err != nil {
					t.Fatal(err)
				}
				if code != want {
					t.Fatalf("apply %d: exit %d, want %d\n%s%s", i+1, code, want, out, errOut)
				}
			}
		})
	}
	// The service example leaves nginx running under the supervisor,
	// serving the promised configuration.
	out := c.MustExec(t, "sh", "-c", "cat /run/phenix/nginx.pid && cat /proc/$(cat /run/phenix/nginx.pid)/cmdline | tr '\\0' ' '")
	if !strings.Contains(out, "nginx") {
		t.Errorf("nginx is not running under the supervisor: %q", out)
	}
}
