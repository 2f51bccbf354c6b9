package exampleapp

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"debug/elf"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/phenixhq/phenix/internal/testenv"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.Cleanup()
	os.Exit(code)
}

func TestBuild(t *testing.T) {
	bin := Build(t)
	if again := Build(t); again != bin {
		t.Errorf("second Build = %q, want the cached %q", again, bin)
	}
	if filepath.Base(bin) != "app" {
		t.Errorf("Build = %q, want a binary named app", bin)
	}
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s has a dynamic loader; want a static binary", bin)
		}
	}
}

type entry struct {
	mode int64
	typ  byte
	data []byte
}

func readArtifact(t *testing.T, path string) map[string]entry {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	m := map[string]entry{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return m
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		m[h.Name] = entry{h.Mode, h.Typeflag, b}
	}
}

func TestArtifact(t *testing.T) {
	dir := t.TempDir()
	path := Artifact(t, dir, "1.0.0", false, 0)
	if want := filepath.Join(dir, "app-1.0.0.tar.gz"); path != want {
		t.Errorf("Artifact = %q, want %q", path, want)
	}
	got := readArtifact(t, path)
	bin, err := os.ReadFile(Build(t))
	if err != nil {
		t.Fatal(err)
	}
	if e := got["app-1.0.0/bin/app"]; e.mode != 0o755 || !bytes.Equal(e.data, bin) {
		t.Errorf("bin/app: mode %o, %d bytes; want 0755 and the %d bytes of the binary", e.mode, len(e.data), len(bin))
	}
	if e := got["app-1.0.0/VERSION"]; string(e.data) != "1.0.0\n" {
		t.Errorf("VERSION = %q, want %q", e.data, "1.0.0\n")
	}
	for _, name := range []string{"app-1.0.0/BROKEN", "app-1.0.0/data/blob"} {
		if _, ok := got[name]; ok {
			t.Errorf("%s present in an artifact that is not broken and has no padding", name)
		}
	}
	for name, e := range got {
		if !strings.HasPrefix(name, "app-1.0.0/") {
			t.Errorf("entry %s outside the top-level directory app-1.0.0/", name)
		}
		if e.typ == tar.TypeDir && e.mode != 0o755 {
			t.Errorf("directory %s has mode %o, want 0755", name, e.mode)
		}
	}
}

func TestArtifactBrokenPadded(t *testing.T) {
	dir := t.TempDir()
	const padding = 1 << 20
	path := Artifact(t, dir, "2.0.0", true, padding)
	got := readArtifact(t, path)
	if _, ok := got["app-2.0.0/BROKEN"]; !ok {
		t.Error("no BROKEN in a broken artifact")
	}
	blob := got["app-2.0.0/data/blob"].data
	if len(blob) != padding {
		t.Fatalf("data/blob has %d bytes, want %d", len(blob), padding)
	}
	// Incompressible: the artifact is no smaller than its padding.
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() < padding {
		t.Errorf("artifact is %d bytes with %d bytes of padding: the padding compresses", st.Size(), padding)
	}
	// The same artifact twice is the same file; another version differs.
	first, _ := os.ReadFile(path)
	again, _ := os.ReadFile(Artifact(t, dir, "2.0.0", true, padding))
	if !bytes.Equal(first, again) {
		t.Error("writing the same artifact twice gave different bytes")
	}
	other := readArtifact(t, Artifact(t, dir, "2.0.1", true, padding))["app-2.0.1/data/blob"].data
	if bytes.Equal(blob, other) {
		t.Error("two versions have the same padding")
	}
}

// TestArtifactRuns unpacks an artifact as a deployment would (strip 1) and
// runs its binary, which finds VERSION in its release directory by default.
func TestArtifactRuns(t *testing.T) {
	release := t.TempDir()
	for name, e := range readArtifact(t, Artifact(t, t.TempDir(), "3.1.4", false, 0)) {
		p := filepath.Join(release, strings.TrimPrefix(name, "app-3.1.4/"))
		if e.typ == tar.TypeDir {
			os.MkdirAll(p, 0o755)
			continue
		}
		if err := os.WriteFile(p, e.data, os.FileMode(e.mode)); err != nil {
			t.Fatal(err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(release, "bin", "app"), "--listen", addr)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cancel()
		cmd.Wait()
	}()
	var body string
	testenv.WaitFor(t, "the app to answer /health", func() bool {
		resp, err := http.Get("http://" + addr + "/health")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		body = string(b)
		return true
	})
	if body != "ok 3.1.4\n" {
		t.Errorf("/health = %q, want %q; stderr:\n%s", body, "ok 3.1.4\n", stderr.String())
	}
}
