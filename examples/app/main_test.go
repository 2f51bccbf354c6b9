package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/phenixhq/phenix/internal/exampleapp"
	"github.com/phenixhq/phenix/internal/testenv"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.Cleanup()
	os.Exit(code)
}

// release makes a release directory holding VERSION, and BROKEN if broken,
// and returns the path of its VERSION file.
func release(t *testing.T, version string, broken bool) string {
	t.Helper()
	dir := t.TempDir()
	vf := filepath.Join(dir, "VERSION")
	if err := os.WriteFile(vf, []byte(version+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if broken {
		if err := os.WriteFile(filepath.Join(dir, "BROKEN"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return vf
}

func newTestApp(t *testing.T, version string, broken bool) *httptest.Server {
	t.Helper()
	a, err := newApp(release(t, version, broken), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.handler())
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, url string) (int, string, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
}

func TestRoutes(t *testing.T) {
	srv := newTestApp(t, "1.2.3", false)
	host, _ := os.Hostname()
	for _, tc := range []struct {
		path, body string
		code       int
	}{
		{"/", "hello from app 1.2.3 on " + host + "\n", 200},
		{"/health", "ok 1.2.3\n", 200},
		{"/slow?ms=20", "slept 20 ms in app 1.2.3 on " + host + "\n", 200},
		{"/slow?ms=0", "slept 0 ms in app 1.2.3 on " + host + "\n", 200},
		{"/slow?ms=x", "want ms=N, 0 <= N <= 60000\n", 400},
		{"/slow", "want ms=N, 0 <= N <= 60000\n", 400},
		{"/nothing", "404 page not found\n", 404},
	} {
		code, ctype, body := get(t, srv.URL+tc.path)
		if code != tc.code || body != tc.body {
			t.Errorf("GET %s = %d %q, want %d %q", tc.path, code, body, tc.code, tc.body)
		}
		if !strings.HasPrefix(ctype, "text/plain") {
			t.Errorf("GET %s: Content-Type %q, want text/plain", tc.path, ctype)
		}
	}
}

func TestSlowTakesItsTime(t *testing.T) {
	srv := newTestApp(t, "1", false)
	start := time.Now()
	get(t, srv.URL+"/slow?ms=100")
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Errorf("/slow?ms=100 answered in %s", d)
	}
}

func TestVersion(t *testing.T) {
	before := time.Now().Add(-time.Second)
	srv := newTestApp(t, "4.5.6", false)
	code, ctype, body := get(t, srv.URL+"/version")
	if code != 200 || ctype != "application/json" {
		t.Fatalf("/version = %d %s", code, ctype)
	}
	var v struct {
		Version   string    `json:"version"`
		Host      string    `json:"host"`
		StartedAt time.Time `json:"started_at"`
	}
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("/version %q: %v", body, err)
	}
	host, _ := os.Hostname()
	if v.Version != "4.5.6" || v.Host != host || v.StartedAt.Before(before) || v.StartedAt.After(time.Now()) {
		t.Errorf("/version = %+v, want version 4.5.6 on %s started just now", v, host)
	}
}

func TestBroken(t *testing.T) {
	srv := newTestApp(t, "6.6.6", true)
	if code, _, body := get(t, srv.URL+"/health"); code != 500 || body != "broken 6.6.6\n" {
		t.Errorf("/health of a broken release = %d %q, want 500 %q", code, body, "broken 6.6.6\n")
	}
	// Only the health check fails.
	if code, _, _ := get(t, srv.URL+"/"); code != 200 {
		t.Errorf("/ of a broken release = %d, want 200", code)
	}
}

func TestVersionMissing(t *testing.T) {
	if _, err := newApp(filepath.Join(t.TempDir(), "VERSION"), slog.Default()); err == nil {
		t.Error("newApp without a VERSION file succeeded")
	}
	empty := filepath.Join(t.TempDir(), "VERSION")
	os.WriteFile(empty, []byte("\n"), 0o644)
	if _, err := newApp(empty, slog.Default()); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("newApp with an empty VERSION: %v, want an error saying it is empty", err)
	}
}

func TestDefaultVersionFile(t *testing.T) {
	o, err := parseArgs(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	exe, _ := os.Executable()
	exe, _ = filepath.EvalSymlinks(exe)
	if want := filepath.Join(filepath.Dir(filepath.Dir(exe)), "VERSION"); o.versionFile != want {
		t.Errorf("default version file %q, want %q", o.versionFile, want)
	}
	if o.listen != ":8080" || o.shutdown != 10*time.Second {
		t.Errorf("defaults: listen %q, shutdown %s; want :8080, 10s", o.listen, o.shutdown)
	}
}

func TestConfig(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "app.env")
	os.WriteFile(cfg, []byte("# app settings\n\nLISTEN=127.0.0.1:9090\nexport SHUTDOWN_TIMEOUT=\"3s\"\n"), 0o644)
	o, err := parseArgs([]string{"--config", cfg, "--version-file", "/v"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.listen != "127.0.0.1:9090" || o.shutdown != 3*time.Second || o.versionFile != "/v" {
		t.Errorf("from config: %+v", o)
	}
	o, err = parseArgs([]string{"--config", cfg, "--listen", ":7070"}, io.Discard)
	if err != nil || o.listen != ":7070" {
		t.Errorf("--listen with a config setting LISTEN: %q, %v; want the flag to win", o.listen, err)
	}
	for content, want := range map[string]string{
		"LISTEN=:1\nCOLOR=red\n":    "app.env:2: unknown key COLOR",
		"SHUTDOWN_TIMEOUT=soon\n":   `app.env:1: SHUTDOWN_TIMEOUT="soon"`,
		"# ok\njust words\n":        `app.env:2: "just words": want KEY=VALUE`,
		"=value\n":                  "app.env:1:",
		"SHUTDOWN_TIMEOUT=-1s\n":    "want a positive duration",
		"LISTEN=:1\nLISTEN=:2\n\n=": "app.env:4:",
	} {
		os.WriteFile(cfg, []byte(content), 0o644)
		if _, err := parseArgs([]string{"--config", cfg}, io.Discard); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("config %q: error %v, want one containing %q", content, err, want)
		}
	}
	if _, err := parseArgs([]string{"--config", filepath.Join(dir, "none")}, io.Discard); err == nil {
		t.Error("a missing config file was accepted")
	}
}

// TestGracefulShutdown stops the server, as SIGTERM does, while a /slow
// request is in flight: the request completes, new connections are refused
// at once, and run returns nil.
func TestGracefulShutdown(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	type started struct {
		addr string
		a    *app
	}
	up := make(chan started, 1)
	done := make(chan error, 1)
	var logs syncBuffer
	go func() {
		done <- run(ctx, []string{"--listen", "127.0.0.1:0", "--version-file", release(t, "7.0.0", false)},
			&logs, func(addr string, a *app) { up <- started{addr, a} })
	}()
	var s started
	select {
	case s = <-up:
	case err := <-done:
		t.Fatalf("run: %v", err)
	}

	type result struct {
		code int
		body string
		err  error
	}
	slow := make(chan result, 1)
	go func() {
		resp, err := http.Get("http://" + s.addr + "/slow?ms=500")
		if err != nil {
			slow <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		slow <- result{resp.StatusCode, string(b), err}
	}()
	testenv.WaitFor(t, "the /slow request to be in flight", func() bool { return s.a.inFlight.Load() == 1 })

	cancel() // what SIGTERM does in main
	testenv.WaitFor(t, "the listener to close", func() bool {
		c, err := net.Dial("tcp", s.addr)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	if n := s.a.inFlight.Load(); n != 1 {
		t.Errorf("listener closed with %d requests in flight, want the /slow one", n)
	}
	r := <-slow
	if r.err != nil || r.code != 200 || !strings.HasPrefix(r.body, "slept 500 ms") {
		t.Errorf("in-flight /slow across shutdown: %d %q %v; want it to complete with 200", r.code, r.body, r.err)
	}
	if err := <-done; err != nil {
		t.Errorf("run after shutdown: %v", err)
	}
	if !strings.Contains(logs.String(), "msg=stopped") {
		t.Errorf("no stop in the log:\n%s", logs.String())
	}
}

// TestShutdownTimeout: a request longer than SHUTDOWN_TIMEOUT is cut, and
// run says so.
func TestShutdownTimeout(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "app.env")
	os.WriteFile(cfg, []byte("SHUTDOWN_TIMEOUT=100ms\n"), 0o644)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	up := make(chan *app, 1)
	addr := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--listen", "127.0.0.1:0", "--config", cfg, "--version-file", release(t, "1", false)},
			io.Discard, func(a string, ap *app) { addr <- a; up <- ap })
	}()
	base, a := <-addr, <-up
	go http.Get("http://" + base + "/slow?ms=5000")
	testenv.WaitFor(t, "the /slow request to be in flight", func() bool { return a.inFlight.Load() == 1 })
	cancel()
	if err := <-done; err == nil || !strings.Contains(err.Error(), "shutdown") {
		t.Errorf("run = %v, want a shutdown timeout", err)
	}
}

// TestSIGTERM runs the built binary from an unpacked release, sends it
// SIGTERM during a /slow request, and expects the request to complete and
// the process to exit 0.
func TestSIGTERM(t *testing.T) {
	rel := t.TempDir()
	os.MkdirAll(filepath.Join(rel, "bin"), 0o755)
	b, err := os.ReadFile(exampleapp.Build(t))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(rel, "bin", "app"), b, 0o755)
	os.WriteFile(filepath.Join(rel, "VERSION"), []byte("9.9.9\n"), 0o644)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	var logs syncBuffer
	cmd := exec.Command(filepath.Join(rel, "bin", "app"), "--listen", addr)
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	testenv.WaitFor(t, "the app to listen", func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	if _, _, body := get(t, "http://"+addr+"/"); !strings.HasPrefix(body, "hello from app 9.9.9 on ") {
		t.Errorf("/ = %q: the version was not read from the release directory", body)
	}
	slow := make(chan string, 1)
	go func() {
		resp, err := http.Get("http://" + addr + "/slow?ms=700")
		if err != nil {
			slow <- err.Error()
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		slow <- resp.Status + " " + string(b)
	}()
	testenv.WaitFor(t, "the /slow request to start", func() bool { return strings.Contains(logs.String(), `msg="slow request"`) })
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if got := <-slow; !strings.HasPrefix(got, "200 OK slept 700 ms") {
		t.Errorf("in-flight /slow across SIGTERM: %q, want 200", got)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("app after SIGTERM: %v, want exit status 0\n%s", err, logs.String())
	}
	if !strings.Contains(logs.String(), "msg=stopped") {
		t.Errorf("no stop in the log:\n%s", logs.String())
	}
}

// syncBuffer is a bytes.Buffer safe for one writer and concurrent readers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
