package bustest

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/phenixhq/phenix/internal/bus"
	"github.com/phenixhq/phenix/internal/pki"
)

// validity is the validity of the CA and certificates of a test bus.
const validity = time.Hour

// Env is a running test bus and what connects to it.
type Env struct {
	Server  *bus.Server  // nil with NewExternal
	Callout *bus.Callout // nil with NewServer
	CA      *pki.CA
	URL     string           // Server.ClientURL()
	Client  bus.ClientConfig // the settings of Connect and ConnectServer

	mu      sync.Mutex
	revoked map[string]bool
}

// NewServer starts a bus on 127.0.0.1 and a random port, with a new CA,
// that admits every host until Revoke; it is shut down when t ends.
func NewServer(t testing.TB) *Env {
	t.Helper()
	ca, err := pki.NewCA("bustest CA", validity)
	if err != nil {
		t.Fatalf("bustest: %v", err)
	}
	cert, err := ca.IssueServer([]string{"127.0.0.1", "localhost"}, validity)
	if err != nil {
		t.Fatalf("bustest: %v", err)
	}
	log := testLogger(t)
	e := &Env{
		CA:      ca,
		Client:  bus.ClientConfig{ReconnectWait: 20 * time.Millisecond, ReconnectJitter: 10 * time.Millisecond, Log: log},
		revoked: map[string]bool{},
	}
	srv, err := bus.Start(t.Context(), bus.Config{
		Listen:    "127.0.0.1:0",
		CA:        ca.Pool(),
		Cert:      cert,
		Log:       log,
		Authorize: e.authorize,
	})
	if err != nil {
		t.Fatalf("bustest: %v", err)
	}
	t.Cleanup(srv.Shutdown)
	e.Server, e.URL = srv, srv.ClientURL()
	return e
}

// Revoke makes the bus refuse host id's next connections. It does not
// close the open ones: Server.Kick does.
func (e *Env) Revoke(id string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.revoked[id] = true
}

// Reinstate undoes Revoke.
func (e *Env) Reinstate(id string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.revoked, id)
}

func (e *Env) authorize(id string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return !e.revoked[id]
}

// HostCert returns a new key and client certificate for host id, made as
// an agent's at enrolment (pki.NewKey, CA.SignClient).
func (e *Env) HostCert(t testing.TB, id string) tls.Certificate {
	t.Helper()
	key, req, err := pki.NewKey()
	if err != nil {
		t.Fatalf("bustest: %v", err)
	}
	certPEM, err := e.CA.SignClient(req, id, validity)
	if err != nil {
		t.Fatalf("bustest: %v", err)
	}
	b, _ := pem.Decode(certPEM)
	leaf, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatalf("bustest: %v", err)
	}
	return tls.Certificate{Certificate: [][]byte{leaf.Raw}, PrivateKey: key, Leaf: leaf}
}

// ServerCert returns a new key and client certificate of the server
// identity.
func (e *Env) ServerCert(t testing.TB) tls.Certificate {
	t.Helper()
	c, err := e.CA.ServerIdentity(validity)
	if err != nil {
		t.Fatalf("bustest: %v", err)
	}
	return c
}

// Connect connects to the bus as host id, with e.Client and then opts,
// and closes the connection when t ends.
func (e *Env) Connect(t testing.TB, id string, opts ...nats.Option) *nats.Conn {
	t.Helper()
	return e.connect(t, e.HostCert(t, id), opts)
}

// ConnectServer connects to the bus as the server identity, with e.Client
// and then opts, and closes the connection when t ends.
func (e *Env) ConnectServer(t testing.TB, opts ...nats.Option) *nats.Conn {
	t.Helper()
	return e.connect(t, e.ServerCert(t), opts)
}

func (e *Env) connect(t testing.TB, cert tls.Certificate, opts []nats.Option) *nats.Conn {
	t.Helper()
	nc, err := e.Client.Connect(t.Context(), e.URL, e.CA.Pool(), cert, "", opts...)
	if err != nil {
		t.Fatalf("bustest: %v", err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// testLogger returns a logger writing to t.Log until t's cleanup, and
// nowhere after: NATS goroutines may log after the test.
func testLogger(t testing.TB) *slog.Logger {
	w := &testWriter{t: t}
	t.Cleanup(w.stop) // registered before Shutdown, so it runs after
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimSuffix(string(p), "\n"))
	}
	return len(p), nil
}

func (w *testWriter) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.done = true
}
