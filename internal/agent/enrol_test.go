package agent

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/phenixhq/phenix/internal/api"
	"github.com/phenixhq/phenix/internal/bustest"
	"github.com/phenixhq/phenix/internal/pki"
	"github.com/phenixhq/phenix/internal/testenv"
)

func caHash(der []byte) string {
	sum := sha256.Sum256(der)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// TestFetchCA expects the CA of a server to be trusted only when its hash
// is the one given.
func TestFetchCA(t *testing.T) {
	ca, err := pki.NewCA("test CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	caPEM, _ := ca.PEM()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/ca" {
			http.NotFound(w, r)
			return
		}
		w.Write(caPEM)
	}))
	defer srv.Close()
	right := caHash(ca.Certificate().Raw)
	other, _ := pki.NewCA("other CA", time.Hour)

	got, err := fetchCA(t.Context(), srv.URL, right)
	if err != nil {
		t.Fatalf("fetchCA with the right hash: %v", err)
	}
	if !bytes.Equal(got, caPEM) {
		t.Errorf("fetchCA returned\n%s\nwant\n%s", got, caPEM)
	}
	// Upper-case hex is the same hash.
	if _, err := fetchCA(t.Context(), srv.URL, "sha256:"+strings.ToUpper(strings.TrimPrefix(right, "sha256:"))); err != nil {
		t.Errorf("fetchCA with an upper-case hash: %v", err)
	}

	_, err = fetchCA(t.Context(), srv.URL, caHash(other.Certificate().Raw))
	if !errors.Is(err, ErrCAMismatch) {
		t.Fatalf("fetchCA with a wrong hash: error %v, want %v", err, ErrCAMismatch)
	}
	for _, want := range []string{srv.URL, caHash(other.Certificate().Raw), "it has " + right} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	for _, bad := range []string{"", "md5:abcd", "sha256:xyz", "sha256:" + strings.Repeat("0", 62)} {
		if _, err := fetchCA(t.Context(), srv.URL, bad); err == nil || !strings.Contains(err.Error(), "want sha256:<64 hex digits>") {
			t.Errorf("fetchCA(%q): error %v", bad, err)
		}
	}
}

// enrolServer is a phenix server's enrolment endpoint: pending for the
// first pending answers, then accepted, or refused with refuse.
type enrolServer struct {
	*httptest.Server
	env      *bustest.Env
	pending  int // enrolments answered pending before one is accepted
	refuse   string
	caErrors int // CA requests answered 503 first

	mu      sync.Mutex
	reqs    []api.EnrolRequest
	caFetch int
}

func newEnrolServer(t *testing.T, env *bustest.Env) *enrolServer {
	t.Helper()
	s := &enrolServer{env: env}
	cert, err := env.CA.IssueServer([]string{"127.0.0.1"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	caPEM, _ := env.CA.PEM()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/ca", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.caFetch++
		n := s.caFetch
		s.mu.Unlock()
		if n <= s.caErrors {
			http.Error(w, "starting", http.StatusServiceUnavailable)
			return
		}
		w.Write(caPEM)
	})
	mux.HandleFunc("POST /api/v1/enrol", func(w http.ResponseWriter, r *http.Request) {
		var req api.EnrolRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		s.reqs = append(s.reqs, req)
		n := len(s.reqs)
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch {
		case s.refuse != "":
			w.WriteHeader(http.StatusForbidden)
			json.NewEncoder(w).Encode(api.Error{Error: s.refuse})
		case n <= s.pending:
			json.NewEncoder(w).Encode(api.EnrolResponse{Status: "pending", Message: "waiting for an administrator"})
		default:
			certPEM, err := env.CA.SignClient([]byte(req.CSR), req.ID, time.Hour)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			json.NewEncoder(w).Encode(api.EnrolResponse{Status: "accepted", Cert: string(certPEM), CA: string(caPEM), NATS: []string{env.URL}})
		}
	})
	s.Server = httptest.NewUnstartedServer(mux)
	s.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	s.StartTLS()
	t.Cleanup(s.Close)
	return s
}

func (s *enrolServer) requests() []api.EnrolRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]api.EnrolRequest(nil), s.reqs...)
}

// TestEnrolThenServe runs an agent from an empty state directory: it pins
// the CA (asking again while the server cannot answer), waits while
// pending, asking again with the same key, then
// connects to the bus and greets the server.
func TestEnrolThenServe(t *testing.T) {
	env := bustest.NewServer(t)
	srv := newFakeServer(t, env)
	es := newEnrolServer(t, env)
	es.pending = 2
	es.caErrors = 2 // the server is starting
	cfg := Config{
		Server:    es.URL,
		JoinToken: "phx_t1_secret",
		CAHash:    caHash(env.CA.Certificate().Raw),
		ID:        "web-1",
		Labels:    map[string]string{"role": "web"},
		StateDir:  filepath.Join(t.TempDir(), "state"),
		Root:      t.TempDir(),
	}
	startAgent(t, cfg)
	testenv.WaitFor(t, "the agent's hello", func() bool { return srv.helloCount() > 0 })

	reqs := es.requests()
	if len(reqs) != 3 {
		t.Fatalf("%d enrolment requests, want 3", len(reqs))
	}
	for _, r := range reqs {
		if r.CSR != reqs[0].CSR && !sameKey(t, r.CSR, reqs[0].CSR) {
			t.Errorf("a pending host asked again with another key")
		}
		if r.ID != "web-1" || r.Token != "phx_t1_secret" || r.Labels["role"] != "web" || r.Facts["os"] == "" {
			t.Errorf("request %+v", r)
		}
	}
	st, err := os.Stat(filepath.Join(cfg.StateDir, keyFile))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("key.pem: %v, %v", st.Mode(), err)
	}
	id, err := loadIdentity(cfg.StateDir)
	if err != nil || id.id != "web-1" || id.nats[0] != env.URL {
		t.Errorf("identity %+v, %v", id, err)
	}
}

func sameKey(t *testing.T, a, b string) bool {
	t.Helper()
	pub := func(s string) []byte {
		blk, _ := pem.Decode([]byte(s))
		csr, err := x509.ParseCertificateRequest(blk.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := x509.MarshalPKIXPublicKey(csr.PublicKey)
		return b
	}
	return bytes.Equal(pub(a), pub(b))
}

// TestEnrolRefused expects a refused enrolment to end Run with the
// server's reason.
func TestEnrolRefused(t *testing.T) {
	env := bustest.NewServer(t)
	es := newEnrolServer(t, env)
	es.refuse = "join token expired"
	log, _ := testLog(t)
	cfg := Config{Server: es.URL, JoinToken: "phx_t1_old", CAHash: caHash(env.CA.Certificate().Raw), ID: "web-1", StateDir: t.TempDir(), Log: log}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	err := run(ctx, cfg, testTuning())
	if err == nil || !strings.Contains(err.Error(), "refused") || !strings.Contains(err.Error(), "join token expired") {
		t.Errorf("Run: %v, want the refusal and its reason", err)
	}
}

// TestEnrolWrongCA expects an agent given the hash of another CA to
// refuse the server and never send it its request.
func TestEnrolWrongCA(t *testing.T) {
	env := bustest.NewServer(t)
	es := newEnrolServer(t, env)
	other, _ := pki.NewCA("other", time.Hour)
	log, _ := testLog(t)
	cfg := Config{Server: es.URL, CAHash: caHash(other.Certificate().Raw), ID: "web-1", StateDir: t.TempDir(), Log: log}
	err := run(t.Context(), cfg, testTuning())
	if !errors.Is(err, ErrCAMismatch) {
		t.Errorf("Run: %v, want %v", err, ErrCAMismatch)
	}
	if n := len(es.requests()); n != 0 {
		t.Errorf("%d enrolment requests sent to an unpinned server", n)
	}
}

func TestDefaultID(t *testing.T) {
	for in, want := range map[string]string{
		"web-1":                 "web-1",
		"Web-1.Example.COM":     "web-1.example.com",
		"my host":               "my-host",
		"_x":                    "x",
		"été":                   "t-",
		"":                      "",
		strings.Repeat("a", 70): strings.Repeat("a", 63),
	} {
		got := DefaultID(in)
		if got != want {
			t.Errorf("DefaultID(%q) = %q, want %q", in, got, want)
		}
	}
}
