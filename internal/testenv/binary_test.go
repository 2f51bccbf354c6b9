package testenv

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestModuleRoot(t *testing.T) {
	root := t.TempDir()
	deep := filepath.Join(root, "a", "b", "c")
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "go.mod"), []byte("module example.com/m\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{root, deep} {
		got, err := moduleRoot(dir)
		if err != nil || got != root {
			t.Errorf("moduleRoot(%q) = %q, %v; want %q", dir, got, err, root)
		}
	}
}

func TestModuleRootMissing(t *testing.T) {
	if _, err := moduleRoot("/"); err == nil {
		t.Errorf("moduleRoot(/) succeeded; want an error") // assumes no /go.mod
	}
}

func TestGoBuildStatic(t *testing.T) {
	out := filepath.Join(t.TempDir(), "hello")
	if err := goBuild(t.Context(), ".", "./testdata/hello", out); err != nil {
		t.Fatal(err)
	}
	assertStatic(t, out)
	got, err := exec.Command(out).Output()
	if err != nil || strings.TrimSpace(string(got)) != "hello from testenv" {
		t.Errorf("running %s: %q, %v", out, got, err)
	}
}

func TestPhenixBinary(t *testing.T) {
	path := PhenixBinary(t)
	if again := PhenixBinary(t); again != path {
		t.Errorf("second PhenixBinary = %q, want the cached %q", again, path)
	}
	assertStatic(t, path)
}

// assertStatic fails t unless path is an ELF executable without a dynamic
// loader, the way CGO_ENABLED=0 builds it.
func assertStatic(t *testing.T, path string) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s has a dynamic loader (PT_INTERP); want a static binary", path)
		}
	}
}
