package agent

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/phenixhq/phenix/internal/bustest"
	"github.com/phenixhq/phenix/internal/pki"
	"github.com/phenixhq/phenix/internal/supervisor"
	"github.com/phenixhq/phenix/internal/testenv"
	"github.com/phenixhq/phenix/internal/wire"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.Cleanup()
	os.Exit(code)
}

// releaseEnv is an agent of host web-1 under a fake root, and an HTTPS
// server of artifacts that requires the host's certificate.
type releaseEnv struct {
	t    testing.TB
	a    *agent
	root string
	srv  *httptest.Server

	mu        sync.Mutex
	artifacts map[string]string // served path → file
	gets      atomic.Int32      // artifact requests
	peers     []string          // host ids of the client certificates seen
}

func newReleaseEnv(t testing.TB) *releaseEnv {
	t.Helper()
	ca, err := pki.NewCA("test CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	e := &releaseEnv{t: t, root: t.TempDir(), artifacts: map[string]string{}}
	e.srv = httptest.NewUnstartedServer(http.HandlerFunc(e.serve))
	cert, err := ca.IssueServer([]string{"127.0.0.1"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	e.srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: ca.Pool()}
	e.srv.StartTLS()
	t.Cleanup(e.srv.Close)
	dir := writeHostState(t, ca, "web-1", e.srv.URL)
	ident, err := loadIdentity(dir)
	if err != nil {
		t.Fatal(err)
	}
	log := testLogger(t)
	e.a = &agent{cfg: Config{StateDir: dir, Root: e.root, Log: log, Version: "test"}, tune: testTuning(), log: log, ident: ident}
	return e
}

func testLogger(t testing.TB) *slog.Logger {
	if tt, ok := t.(*testing.T); ok {
		l, _ := testLog(tt)
		return l
	}
	return slog.New(slog.DiscardHandler)
}

// writeHostState writes a state directory with the key and certificate of
// host id, signed by ca, and agent.json naming server.
func writeHostState(t testing.TB, ca *pki.CA, id, server string) string {
	t.Helper()
	dir := t.TempDir()
	key, csr, err := pki.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	certPEM, err := ca.SignClient(csr, id, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	caPEM, _ := ca.PEM()
	st, _ := json.Marshal(enrolled{ID: id, Server: server, NATS: []string{"nats://127.0.0.1:1"}})
	for name, b := range map[string][]byte{
		keyFile:   pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}),
		certFile:  certPEM,
		caFile:    caPEM,
		stateFile: st,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func (e *releaseEnv) serve(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	file, ok := e.artifacts[r.URL.Path]
	if len(r.TLS.PeerCertificates) > 0 {
		id, _, _ := pki.HostID(r.TLS.PeerCertificates[0])
		e.peers = append(e.peers, id)
	}
	e.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	e.gets.Add(1)
	f, err := os.Open(file)
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	defer f.Close()
	http.ServeContent(w, r, "", time.Time{}, f)
}

// entry is a file of a test archive; a name ending in / is a directory.
type entry struct{ name, body string }

// publish writes a tar.gz of entries, under the top directory app/, and
// serves it; it returns its artifact.
func (e *releaseEnv) publish(ents ...entry) wire.Artifact {
	e.t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, en := range append([]entry{{name: "app/"}}, ents...) {
		h := &tar.Header{Name: en.name, Mode: 0o644, Typeflag: tar.TypeReg, Size: int64(len(en.body))}
		if strings.HasSuffix(en.name, "/") {
			h.Typeflag, h.Mode, h.Size = tar.TypeDir, 0o755, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			e.t.Fatal(err)
		}
		io.WriteString(tw, en.body)
	}
	tw.Close()
	gz.Close()
	return e.serveBytes(buf.Bytes())
}

// serveBytes serves data as an artifact.
func (e *releaseEnv) serveBytes(data []byte) wire.Artifact {
	e.t.Helper()
	sum := sha256.Sum256(data)
	hx := hex.EncodeToString(sum[:])
	file := filepath.Join(e.t.TempDir(), hx)
	if err := os.WriteFile(file, data, 0o644); err != nil {
		e.t.Fatal(err)
	}
	return e.serveFile(file, hx, int64(len(data)))
}

func (e *releaseEnv) serveFile(file, sum string, size int64) wire.Artifact {
	p := "/api/v1/artifacts/" + sum
	e.mu.Lock()
	e.artifacts[p] = file
	e.mu.Unlock()
	return wire.Artifact{SHA256: sum, Size: size, Format: "tar.gz", Path: p}
}

// task returns a task of app web in /srv/web.
func task(action, version string, art wire.Artifact) wire.ReleaseTask {
	return wire.ReleaseTask{Action: action, App: "web", Env: "prod", Version: version, Dir: "/srv/web", Artifact: art, Strip: 1}
}

// run runs t as a release job and returns its result and report.
func (e *releaseEnv) run(t wire.ReleaseTask) (wire.Result, wire.ReleaseReport) {
	return e.runJob(wire.Job{ID: "job-" + t.Action + "-" + t.Version, Kind: wire.JobRelease, Timeout: 30 * time.Second, Release: &t})
}

func (e *releaseEnv) runJob(j wire.Job) (wire.Result, wire.ReleaseReport) {
	e.t.Helper()
	res := e.a.runRelease(context.Background(), j)
	var rep wire.ReleaseReport
	if err := json.Unmarshal(res.Detail, &rep); err != nil {
		e.t.Fatalf("detail %s: %v", res.Detail, err)
	}
	e.t.Logf("%s %s: %s\n%s", j.Kind, j.ID, res.Status, res.Output)
	return res, rep
}

// path returns where the host path p is under the fake root.
func (e *releaseEnv) path(p string) string { return filepath.Join(e.root, p) }

func (e *releaseEnv) read(p string) string {
	e.t.Helper()
	b, err := os.ReadFile(e.path(p))
	if err != nil {
		e.t.Fatal(err)
	}
	return string(b)
}

func (e *releaseEnv) current() string {
	target, _ := os.Readlink(e.path("/srv/web/current"))
	return target
}

// wantStatus fails t unless res has status.
func wantStatus(t testing.TB, res wire.Result, status string, output ...string) {
	t.Helper()
	if res.Status != status {
		t.Fatalf("status %s, want %s; output:\n%s", res.Status, status, res.Output)
	}
	for _, o := range output {
		if !strings.Contains(res.Output, o) {
			t.Errorf("output lacks %q:\n%s", o, res.Output)
		}
	}
}

// entries lists what is in dir, "" if it does not exist.
func entries(t testing.TB, dir string) []string {
	ents, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

func TestReleaseDeliver(t *testing.T) {
	e := newReleaseEnv(t)
	art := e.publish(entry{"app/bin/", ""}, entry{"app/bin/web", "#!/bin/sh\n"}, entry{"app/README", "hello"})
	res, rep := e.run(task(wire.ReleaseDeliver, "1.0", art))
	// A tar.gz is extracted as it is downloaded: one step.
	wantStatus(t, res, wire.StatusChanged, fmt.Sprintf("download %d bytes and extract 3 entries into /srv/web/releases/1.0 in", art.Size), "sha256 ok")
	if rep.Downloaded != art.Size || !slices.Equal(rep.Releases, []string{"1.0"}) {
		t.Errorf("report %+v", rep)
	}
	var names []string
	for _, s := range rep.Steps {
		names = append(names, s.Name)
	}
	if !slices.Equal(names, []string{"download"}) {
		t.Errorf("steps %q", names)
	}
	if got := e.read("/srv/web/releases/1.0/README"); got != "hello" {
		t.Errorf("README %q", got)
	}
	var rec releaseRecord
	if err := json.Unmarshal([]byte(e.read("/srv/web/releases/1.0/.phenix-release")), &rec); err != nil || rec.SHA256 != art.SHA256 || rec.App != "web" || rec.Version != "1.0" || rec.DeliveredAt.IsZero() {
		t.Errorf("marker %+v, %v", rec, err)
	}
	if got := entries(t, e.path("/srv/web/.download")); len(got) != 0 {
		t.Errorf(".download holds %q", got)
	}
	if got := entries(t, e.path("/srv/web/releases")); !slices.Equal(got, []string{"1.0"}) {
		t.Errorf("releases holds %q", got)
	}
	if e.current() != "" {
		t.Errorf("deliver switched current to %s", e.current())
	}
	e.mu.Lock()
	peers := slices.Clone(e.peers)
	e.mu.Unlock()
	if !slices.Equal(peers, []string{"web-1"}) {
		t.Errorf("client certificates seen: %q", peers)
	}

	// Again: on disk, nothing downloaded.
	res, rep = e.run(task(wire.ReleaseDeliver, "1.0", art))
	wantStatus(t, res, wire.StatusOK, "download: skipped, release 1.0 is on disk (sha256 ok)")
	if rep.Downloaded != 0 || e.gets.Load() != 1 || len(rep.Steps) != 0 {
		t.Errorf("second delivery: report %+v, %d downloads", rep, e.gets.Load())
	}

	// An incomplete release (no marker) is delivered again.
	if err := os.Remove(e.path("/srv/web/releases/1.0/.phenix-release")); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(e.path("/srv/web/releases/1.0/junk"), []byte("x"), 0o644)
	res, _ = e.run(task(wire.ReleaseDeliver, "1.0", art))
	wantStatus(t, res, wire.StatusChanged, "incomplete or of another artifact: replaced")
	if got := entries(t, e.path("/srv/web/releases/1.0")); !slices.Equal(got, []string{".phenix-release", "README", "bin"}) {
		t.Errorf("release 1.0 holds %q", got)
	}
	if got := entries(t, e.path("/srv/web/releases")); !slices.Equal(got, []string{"1.0"}) {
		t.Errorf("releases holds %q", got)
	}
}

func TestReleaseDeliverRefused(t *testing.T) {
	e := newReleaseEnv(t)
	good := e.publish(entry{"app/README", "hello"})
	other := e.publish(entry{"app/README", "other"})
	unsafe := e.publish(entry{"app/ok", "x"}, entry{"app/../../etc/passwd", "x"})
	for _, tc := range []struct {
		name string
		art  wire.Artifact
		err  string
	}{
		// The server sends other's bytes where good's are expected.
		{"checksum", wire.Artifact{SHA256: good.SHA256, Size: other.Size, Path: other.Path}, "checksum mismatch: expected sha256:" + good.SHA256 + ", got sha256:" + other.SHA256},
		{"size", wire.Artifact{SHA256: good.SHA256, Size: good.Size + 1, Path: good.Path}, fmt.Sprintf("size mismatch: expected %d bytes", good.Size+1)},
		{"missing", wire.Artifact{SHA256: strings.Repeat("a", 64), Path: "/api/v1/artifacts/nothing"}, "404 Not Found"},
		{"unsafe", unsafe, `artifact refused, nothing extracted: unsafe entry "app/../../etc/passwd": leaves the destination`},
		{"format", wire.Artifact{SHA256: good.SHA256, Size: good.Size, Path: good.Path, Format: "zip"}, "the artifact is a tar.gz archive, not the zip the task says"},
		{"bad-sum", wire.Artifact{SHA256: "abc", Path: good.Path}, `bad sha256 "abc"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, rep := e.run(task(wire.ReleaseDeliver, "1.0", tc.art))
			wantStatus(t, res, wire.StatusFailed, tc.err)
			if !strings.Contains(rep.Error, tc.err) {
				t.Errorf("report error %q lacks %q", rep.Error, tc.err)
			}
			if got := entries(t, e.path("/srv/web/releases")); len(got) != 0 {
				t.Errorf("releases holds %q", got)
			}
			if got := entries(t, e.path("/srv/web/.download")); len(got) != 0 {
				t.Errorf(".download holds %q", got)
			}
		})
	}
}

func TestReleaseVersionRefused(t *testing.T) {
	e := newReleaseEnv(t)
	art := e.publish(entry{"app/README", "hello"})
	for _, v := range []string{"", ".", "..", ".hidden", "a/b", "../x", strings.Repeat("v", 129), "a\x00b", "a\nb"} {
		for _, action := range []string{wire.ReleaseDeliver, wire.ReleaseActivate, wire.ReleaseHook} {
			tk := task(action, v, art)
			tk.Hook = &wire.Hook{Name: "h", Argv: []string{"true"}}
			res, rep := e.run(tk)
			wantStatus(t, res, wire.StatusFailed, "refused")
			if rep.Error == "" || len(rep.Steps) != 0 {
				t.Errorf("version %q: report %+v", v, rep)
			}
		}
	}
	if got := entries(t, e.path("/srv")); len(got) != 0 {
		t.Errorf("/srv holds %q", got)
	}
	if e.gets.Load() != 0 {
		t.Errorf("%d downloads", e.gets.Load())
	}
	// A version of 128 bytes is fine.
	res, _ := e.run(task(wire.ReleaseDeliver, strings.Repeat("v", 128), art))
	wantStatus(t, res, wire.StatusChanged)
}

func TestReleaseActivate(t *testing.T) {
	e := newReleaseEnv(t)
	e.a.kept = keptPolicy{Vars: map[string]any{"port": 8080, "name": "host", "db_password": "s3cret-pw"}, Secrets: []string{"db_password"}}
	arts := map[string]wire.Artifact{}
	for _, v := range []string{"1.0", "1.1", "1.2"} {
		arts[v] = e.publish(entry{"app/VERSION", v})
	}
	activate := func(v string) (wire.Result, wire.ReleaseReport) {
		tk := task(wire.ReleaseActivate, v, arts[v])
		tk.Vars = map[string]any{"name": "task", "db_password": "not the secret"}
		tk.Keep = 2
		tk.Files = []wire.ReleaseFile{
			{Path: "config/app.conf", Template: "app={{.app}} env={{.env}} version={{.version}} previous={{.previous}} host={{.host.id}}\nport={{.vars.port}} name={{.vars.name}} password={{.vars.db_password}} {{upper \"x\"}}\n"},
			{Path: "/etc/web/web.env", Template: "RELEASE={{.release}}\nCURRENT={{.current}}\nDIR={{.dir}}\n", Mode: 0o600},
		}
		return e.run(tk)
	}
	res, rep := activate("1.0")
	wantStatus(t, res, wire.StatusChanged, "switch current: (none) → 1.0", "render /srv/web/releases/1.0/config/app.conf", "render /etc/web/web.env")
	if e.current() != "releases/1.0" || rep.Previous != "" || rep.Current != "1.0" {
		t.Fatalf("current %s, report %+v", e.current(), rep)
	}
	want := "app=web env=prod version=1.0 previous= host=web-1\nport=8080 name=task password=s3cret-pw X\n"
	if got := e.read("/srv/web/releases/1.0/config/app.conf"); got != want {
		t.Errorf("app.conf:\n%s\nwant:\n%s", got, want)
	}
	if got := e.read("/etc/web/web.env"); got != "RELEASE=/srv/web/releases/1.0\nCURRENT=/srv/web/current\nDIR=/srv/web\n" {
		t.Errorf("web.env:\n%s", got)
	}
	if st, err := os.Stat(e.path("/etc/web/web.env")); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("web.env mode %v, %v", st.Mode(), err)
	}
	if st, err := os.Stat(e.path("/srv/web/releases/1.0/config/app.conf")); err != nil || st.Mode().Perm() != 0o644 {
		t.Errorf("app.conf mode %v, %v", st.Mode(), err)
	}
	if got := e.read("/srv/web/current/VERSION"); got != "1.0" {
		t.Errorf("current/VERSION %q", got)
	}

	// Leftovers: an incomplete release an hour old goes, a young one stays.
	old := e.path("/srv/web/releases/0.9")
	os.MkdirAll(old, 0o755)
	hourAgo := time.Now().Add(-2 * time.Hour)
	os.Chtimes(old, hourAgo, hourAgo)
	os.MkdirAll(e.path("/srv/web/releases/0.8"), 0o755)

	res, rep = activate("1.1")
	wantStatus(t, res, wire.StatusChanged, "switch current: 1.0 → 1.1", "prune: removed 0.9 (incomplete)")
	if e.current() != "releases/1.1" || rep.Previous != "1.0" || rep.Current != "1.1" {
		t.Fatalf("current %s, report %+v", e.current(), rep)
	}
	if got := e.read("/srv/web/releases/1.1/config/app.conf"); !strings.Contains(got, "version=1.1 previous=1.0") {
		t.Errorf("app.conf: %s", got)
	}
	var names []string
	for _, s := range rep.Steps {
		names = append(names, s.Name)
	}
	if !slices.Equal(names, []string{"download", "render", "switch", "prune"}) {
		t.Errorf("steps %q", names)
	}
	if strings.Contains(res.Output, "s3cret-pw") {
		t.Errorf("output shows the secret:\n%s", res.Output)
	}

	res, rep = activate("1.2")
	wantStatus(t, res, wire.StatusChanged, "switch current: 1.1 → 1.2", "prune: removed 1.0")
	if !slices.Equal(rep.Releases, []string{"1.2", "1.1"}) {
		t.Errorf("releases %q", rep.Releases)
	}
	if got := entries(t, e.path("/srv/web/releases")); !slices.Equal(got, []string{"0.8", "1.1", "1.2"}) {
		t.Errorf("releases holds %q", got)
	}

	// Rollback: 1.1 is on disk, nothing is downloaded.
	gets := e.gets.Load()
	res, rep = activate("1.1")
	wantStatus(t, res, wire.StatusChanged, "switch current: 1.2 → 1.1", "download: skipped")
	if e.gets.Load() != gets || rep.Downloaded != 0 || rep.Previous != "1.2" {
		t.Errorf("rollback downloaded: report %+v", rep)
	}
	// Activating the current one again switches nothing.
	res, _ = activate("1.1")
	wantStatus(t, res, wire.StatusChanged, "switch current: 1.1 already")

	// A template that fails fails the task before the switch.
	tk := task(wire.ReleaseActivate, "1.2", arts["1.2"])
	tk.Files = []wire.ReleaseFile{{Path: "x.conf", Template: "{{.vars.nope}}"}}
	res, _ = e.run(tk)
	wantStatus(t, res, wire.StatusFailed, "file x.conf:", "nope")
	if e.current() != "releases/1.1" {
		t.Errorf("current %s after a failed render", e.current())
	}
	tk.Files = []wire.ReleaseFile{{Path: "../../etc/x", Template: "x"}}
	res, _ = e.run(tk)
	wantStatus(t, res, wire.StatusFailed, "file ../../etc/x: leaves the release directory")
}

func TestReleaseChecks(t *testing.T) {
	e := newReleaseEnv(t)
	var status atomic.Int32
	status.Store(200)
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(int(status.Load()))
		fmt.Fprintf(w, "version %s", r.URL.Query().Get("v"))
	}))
	t.Cleanup(app.Close)
	checks := `
- name: health
  http:
    url: "{{ .vars.url }}/health?v=1.0&host={{ .host.id }}"
    contains: version 1.0
  retry: {interval: 10ms, deadline: 300ms}
- name: port
  tcp:
    address: "` + strings.TrimPrefix(app.URL, "http://") + `"
`
	art := e.publish(entry{"app/VERSION", "1.0"})
	tk := task(wire.ReleaseActivate, "1.0", art)
	tk.Vars = map[string]any{"url": app.URL}
	tk.Checks = checks
	res, rep := e.run(tk)
	wantStatus(t, res, wire.StatusChanged, "check health: ok (1 attempt, ", "check port: ok (1 attempt, ")
	var results []struct {
		Name string
		OK   bool
	}
	if err := json.Unmarshal(rep.Checks, &results); err != nil || len(results) != 2 || !results[0].OK || !results[1].OK {
		t.Errorf("checks %s: %v", rep.Checks, err)
	}

	// The check action, on the current release.
	ck := wire.ReleaseTask{Action: wire.ReleaseCheck, App: "web", Env: "prod", Version: "1.0", Dir: "/srv/web", Vars: tk.Vars, Checks: checks}
	res, rep = e.run(ck)
	wantStatus(t, res, wire.StatusOK, "check health: ok")
	if rep.Current != "1.0" {
		t.Errorf("report %+v", rep)
	}
	// A check job, the app answering 500.
	status.Store(500)
	res, rep = e.runJob(wire.Job{ID: "check-500", Kind: wire.JobCheck, Timeout: 10 * time.Second, Release: &ck})
	wantStatus(t, res, wire.StatusFailed, "check health: FAILED after ", "status 500", "check port: ok", "1 of 2 checks failed")
	if err := json.Unmarshal(rep.Checks, &results); err != nil || results[0].OK || !results[1].OK {
		t.Errorf("checks %s: %v", rep.Checks, err)
	}
	// Another version expected.
	ck.Version = "2.0"
	res, _ = e.run(ck)
	wantStatus(t, res, wire.StatusFailed, "current is 1.0, not 2.0")

	// An activation whose check fails fails, and prunes nothing.
	os.MkdirAll(e.path("/srv/web/releases/0.1"), 0o755)
	hourAgo := time.Now().Add(-2 * time.Hour)
	os.Chtimes(e.path("/srv/web/releases/0.1"), hourAgo, hourAgo)
	tk = task(wire.ReleaseActivate, "1.1", e.publish(entry{"app/VERSION", "1.1"}))
	tk.Vars, tk.Checks, tk.Keep = map[string]any{"url": app.URL}, checks, 1
	res, rep = e.run(tk)
	wantStatus(t, res, wire.StatusFailed, "check health: FAILED")
	if e.current() != "releases/1.1" || !slices.Equal(rep.Releases, []string{"1.1", "1.0"}) {
		t.Errorf("current %s, releases %q", e.current(), rep.Releases)
	}
	if _, err := os.Stat(e.path("/srv/web/releases/0.1")); err != nil {
		t.Errorf("a failed activation pruned: %v", err)
	}
	// Bad checks.
	ck.Version, ck.Checks = "", "- name: x\n  htp: {}\n"
	res, _ = e.run(ck)
	wantStatus(t, res, wire.StatusFailed, "checks: ")
}

func TestReleaseHook(t *testing.T) {
	e := newReleaseEnv(t)
	e.a.kept = keptPolicy{Vars: map[string]any{"token": "tok-123456"}, Secrets: []string{"token"}}
	art := e.publish(entry{"app/VERSION", "1.0"})
	res, _ := e.run(task(wire.ReleaseActivate, "1.0", art))
	wantStatus(t, res, wire.StatusChanged)

	hook := func(h wire.Hook, timeout time.Duration) wire.Result {
		tk := task(wire.ReleaseHook, "1.0", wire.Artifact{})
		tk.Hook = &h
		res, _ := e.runJob(wire.Job{ID: "hook-" + h.Name, Kind: wire.JobRelease, Timeout: timeout, Release: &tk})
		return res
	}
	res = hook(wire.Hook{Name: "migrate", Script: "echo hello {{.app}} $PHENIX_APP $PHENIX_ENV $PHENIX_VERSION $PHENIX_RELEASE prev=$PHENIX_PREVIOUS; pwd; cat VERSION; echo; echo token={{.vars.token}} >&2; exit 3"}, 10*time.Second)
	wantStatus(t, res, wire.StatusFailed, "hello web web prod 1.0 /srv/web/releases/1.0 prev=1.0\n", e.path("/srv/web/releases/1.0")+"\n", "1.0\n", "token=********", "hook migrate: exit status 3")
	if res.ExitCode != 3 || strings.Contains(res.Output, "tok-123456") {
		t.Errorf("exit code %d, output:\n%s", res.ExitCode, res.Output)
	}
	res = hook(wire.Hook{Name: "argv", Argv: []string{"echo", "{{.version}}", "{{.host.id}}"}}, 10*time.Second)
	wantStatus(t, res, wire.StatusOK, "1.0 web-1\n", "hook argv: exit status 0")
	t0 := time.Now()
	res = hook(wire.Hook{Name: "slow", Argv: []string{"sleep", "30"}}, 300*time.Millisecond)
	wantStatus(t, res, wire.StatusTimeout, "killed after the timeout")
	if time.Since(t0) > 5*time.Second {
		t.Errorf("the timeout took %v", time.Since(t0))
	}
	res = hook(wire.Hook{Name: "bad", Argv: []string{"{{.nope}}"}}, 10*time.Second)
	wantStatus(t, res, wire.StatusFailed, "hook bad:")
}

func TestReleaseService(t *testing.T) {
	supervisorExe = testenv.PhenixBinary(t)
	t.Cleanup(func() { supervisorExe = "" })
	e := newReleaseEnv(t)
	dirs := supervisor.Dirs{State: e.path("/var/lib/phenix/services"), Run: e.path("/run/phenix"), Log: e.path("/var/log/phenix")}
	t.Cleanup(func() {
		if err := supervisor.Stop(context.Background(), dirs.SupervisorPidfile("web"), dirs.StateFile("web")); err != nil {
			t.Errorf("stop web: %v", err)
		}
	})
	service := json.RawMessage(`{"service": "web", "provider": "supervisor", "command": ["/bin/sh", "-c", "exec sleep 300"], "env": {"APP": "{{.app}}"}}`)
	activate := func(v, restart string) wire.Result {
		tk := task(wire.ReleaseActivate, v, e.publish(entry{"app/VERSION", v}))
		tk.Service, tk.Restart = service, restart
		res, _ := e.run(tk)
		return res
	}
	res := activate("1.0", "")
	wantStatus(t, res, wire.StatusChanged, "service web started")
	pid1 := supervisor.ChildPid(dirs.Pidfile("web"))
	if pid1 == 0 {
		t.Fatal("no child running")
	}
	res = activate("1.1", "")
	wantStatus(t, res, wire.StatusChanged, "service web restarted")
	pid2 := supervisor.ChildPid(dirs.Pidfile("web"))
	if pid2 == 0 || pid2 == pid1 {
		t.Errorf("child %d after a restart, was %d", pid2, pid1)
	}
	res = activate("1.2", "none")
	wantStatus(t, res, wire.StatusChanged, "service web: kept as it is (restart: none)")
	if pid := supervisor.ChildPid(dirs.Pidfile("web")); pid != pid2 {
		t.Errorf("child %d after restart none, was %d", pid, pid2)
	}
	// A new spec: the engine restarts it, no second restart.
	service = json.RawMessage(`{"service": "web", "provider": "supervisor", "command": ["/bin/sh", "-c", "exec sleep 301"]}`)
	res = activate("1.3", "")
	wantStatus(t, res, wire.StatusChanged, "service web started (")
	if pid := supervisor.ChildPid(dirs.Pidfile("web")); pid == 0 || pid == pid2 {
		t.Errorf("child %d after a new spec, was %d", pid, pid2)
	}
	// A bad service mapping fails the task.
	service = json.RawMessage(`{"service": "web", "provider": "supervisor"}`)
	res = activate("1.4", "")
	wantStatus(t, res, wire.StatusFailed, "service: ", "command")
}

func TestReleaseSameAppSerialised(t *testing.T) {
	e := newReleaseEnv(t)
	var wg sync.WaitGroup
	results := make([]wire.Result, 4)
	for i := range results {
		v := fmt.Sprintf("1.%d", i)
		tk := task(wire.ReleaseActivate, v, e.publish(entry{"app/VERSION", v}))
		wg.Go(func() {
			results[i] = e.a.runRelease(context.Background(), wire.Job{ID: v, Kind: wire.JobRelease, Release: &tk})
		})
	}
	wg.Wait()
	for _, r := range results {
		wantStatus(t, r, wire.StatusChanged)
	}
	if got := entries(t, e.path("/srv/web/releases")); len(got) != 4 {
		t.Errorf("releases %q", got)
	}
}

// TestReleaseJob sends a release job through the bus to a running agent.
func TestReleaseJob(t *testing.T) {
	env := bustest.NewServer(t)
	srv := newFakeServer(t, env)
	e := &releaseEnv{t: t, artifacts: map[string]string{}}
	e.srv = httptest.NewUnstartedServer(http.HandlerFunc(e.serve))
	cert, err := env.CA.IssueServer([]string{"127.0.0.1"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	e.srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: env.CA.Pool()}
	e.srv.StartTLS()
	t.Cleanup(e.srv.Close)
	cfg := Config{StateDir: enrolledDir(t, env, "web-1"), Root: t.TempDir(), Version: "test"}
	st, _ := json.Marshal(enrolled{ID: "web-1", Server: e.srv.URL, NATS: []string{env.URL}})
	if err := os.WriteFile(filepath.Join(cfg.StateDir, stateFile), st, 0o600); err != nil {
		t.Fatal(err)
	}
	e.root = cfg.Root
	startAgent(t, cfg)
	testenv.WaitFor(t, "the agent's hello", func() bool { return srv.helloCount() > 0 })

	tk := task(wire.ReleaseActivate, "1.0", e.publish(entry{"app/VERSION", "1.0"}))
	srv.publish("web-1", wire.KindJob, wire.Job{ID: "release-1", Kind: wire.JobRelease, Timeout: 30 * time.Second, Release: &tk})
	r := waitResult(t, srv, "release-1")
	wantStatus(t, r, wire.StatusChanged, "switch current: (none) → 1.0")
	if got := e.read("/srv/web/current/VERSION"); got != "1.0" {
		t.Errorf("current/VERSION %q", got)
	}
	ck := wire.ReleaseTask{App: "web", Version: "1.0", Dir: "/srv/web", Checks: "- name: true\n  command: {argv: [\"true\"]}\n"}
	srv.publish("web-1", wire.KindJob, wire.Job{ID: "check-1", Kind: wire.JobCheck, Timeout: 30 * time.Second, Release: &ck})
	r = waitResult(t, srv, "check-1")
	wantStatus(t, r, wire.StatusOK, "check true: ok")
}

// BenchmarkDeliver delivers a 100 MB tar.gz of random data over loopback
// HTTPS: download, checksum, extraction.
func BenchmarkDeliver(b *testing.B) {
	e := newReleaseEnv(b)
	dir := b.TempDir()
	f, err := os.Create(filepath.Join(dir, "app.tar.gz"))
	if err != nil {
		b.Fatal(err)
	}
	h := sha256.New()
	gz, _ := gzip.NewWriterLevel(io.MultiWriter(f, h), gzip.BestSpeed)
	tw := tar.NewWriter(gz)
	const size = 100 << 20
	const files = 4
	for i := range files {
		tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("app/data-%d", i), Mode: 0o644, Size: size / files, Typeflag: tar.TypeReg})
		if _, err := io.CopyN(tw, rand.Reader, size/files); err != nil {
			b.Fatal(err)
		}
	}
	tw.Close()
	gz.Close()
	st, _ := f.Stat()
	f.Close()
	art := e.serveFile(f.Name(), hex.EncodeToString(h.Sum(nil)), st.Size())
	b.SetBytes(st.Size())
	b.ResetTimer()
	for i := range b.N {
		tk := task(wire.ReleaseDeliver, fmt.Sprintf("1.%d", i), art)
		tk.Dir = fmt.Sprintf("/srv/web-%d", i)
		res := e.a.runRelease(context.Background(), wire.Job{ID: "bench", Kind: wire.JobRelease, Release: &tk})
		if res.Status != wire.StatusChanged {
			b.Fatalf("%s: %s", res.Status, res.Output)
		}
		if i == 0 {
			b.Logf("%s", res.Output)
		}
		b.StopTimer()
		os.RemoveAll(e.path(tk.Dir))
		b.StartTimer()
	}
}
