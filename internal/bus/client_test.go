package bus_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/phenixhq/phenix/internal/bus"
	"github.com/phenixhq/phenix/internal/bustest"
	"github.com/phenixhq/phenix/internal/pki"
)

// startBus starts a bus with bus.Start and a new CA, counting the calls of
// Authorize, which admits every host.
func startBus(t *testing.T) (*bus.Server, *pki.CA, *atomic.Int64) {
	t.Helper()
	ca, err := pki.NewCA("test CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.IssueServer([]string{"127.0.0.1"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int64
	srv, err := bus.Start(t.Context(), bus.Config{
		Listen: "127.0.0.1:0",
		CA:     ca.Pool(),
		Cert:   cert,
		Authorize: func(string) bool {
			calls.Add(1)
			return true
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	return srv, ca, &calls
}

// TestTLSRefused expects the TLS handshake to refuse a client certificate
// that the fleet's CA did not issue, or none, before any authorisation:
// the error is not nats.ErrAuthorization and Authorize is never asked.
func TestTLSRefused(t *testing.T) {
	srv, ca, calls := startBus(t)
	other, err := pki.NewCA("other CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	foreignHost := hostCert(t, other, "a", time.Hour)
	foreignServer, err := other.ServerIdentity(time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name    string
		connect func() (*nats.Conn, error)
	}{
		{
			name: "host of another CA",
			connect: func() (*nats.Conn, error) {
				return bus.Connect(t.Context(), srv.ClientURL(), ca.Pool(), foreignHost, "")
			},
		},
		{
			name: "server identity of another CA",
			connect: func() (*nats.Conn, error) {
				return bus.Connect(t.Context(), srv.ClientURL(), ca.Pool(), foreignServer, "")
			},
		},
		{
			name: "no certificate",
			connect: func() (*nats.Conn, error) {
				return nats.Connect(srv.ClientURL(), nats.Secure(&tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS13}))
			},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			nc, err := tt.connect()
			if err == nil {
				nc.Close()
			}
			// The client may see the server's alert, or the connection
			// closed after it, depending on timing.
			if err == nil || errors.Is(err, nats.ErrAuthorization) || !errors.Is(err, nats.ErrTLS) && !strings.Contains(err.Error(), "tls: ") {
				t.Fatalf("Connect error = %v, want a TLS error", err)
			}
			t.Log(err)
		})
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("Authorize called %d times", n)
	}
}

// hostCert returns a new key and client certificate of host id, issued by
// ca for validity.
func hostCert(t *testing.T, ca *pki.CA, id string, validity time.Duration) tls.Certificate {
	t.Helper()
	key, req, err := pki.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	certPEM, err := ca.SignClient(req, id, validity)
	if err != nil {
		t.Fatal(err)
	}
	c, err := tls.X509KeyPair(certPEM, pemKey(t, key))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func pemKey(t *testing.T, key *ecdsa.PrivateKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// TestCertificateExpiry expects a connection to close when its certificate
// expires.
func TestCertificateExpiry(t *testing.T) {
	env := bustest.NewServer(t)
	// Certificates hold whole seconds: aim at one at least 300ms ahead.
	t0 := time.Now()
	end := t0.Truncate(time.Second).Add(time.Second)
	if end.Sub(t0) < 300*time.Millisecond {
		end = end.Add(time.Second)
	}
	validity := end.Sub(t0)
	disconnected := make(chan error, 1)
	nc, err := env.Client.Connect(t.Context(), env.URL, env.CA.Pool(), hostCert(t, env.CA, "a", validity), "",
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			select {
			case disconnected <- err:
			default:
			}
		}))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	select {
	case err := <-disconnected:
		t.Logf("disconnected after %v: %v", time.Since(t0), err)
		if early := end.Sub(time.Now()); early > 100*time.Millisecond {
			t.Errorf("disconnected %v before the certificate expired", early)
		}
	case <-time.After(validity + wait):
		t.Fatalf("still connected %v after the certificate expired", wait)
	}
}

// TestServerNotTrusted expects a client to refuse a server whose
// certificate its CA pool does not hold.
func TestServerNotTrusted(t *testing.T) {
	env := bustest.NewServer(t)
	other, err := pki.NewCA("other CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	_, err = bus.Connect(t.Context(), env.URL, other.Pool(), env.HostCert(t, "a"), "")
	if !errors.Is(err, nats.ErrTLS) || !strings.Contains(err.Error(), "x509: certificate signed by unknown authority") {
		t.Errorf("Connect error = %v, want an unknown authority", err)
	}
}

// TestConnectNames expects connections named after their identity and
// host inboxes under InboxPrefix.
func TestConnectNames(t *testing.T) {
	env := bustest.NewServer(t)
	for _, tt := range []struct {
		cert           tls.Certificate
		name, wantName string
		wantInbox      string
	}{
		{cert: env.HostCert(t, "web.1"), wantName: "host:web.1", wantInbox: "_INBOX.web~1."},
		{cert: env.HostCert(t, "web.1"), name: "agent web.1", wantName: "agent web.1", wantInbox: "_INBOX.web~1."},
		{cert: env.ServerCert(t), wantName: "server", wantInbox: bus.ServerInboxPrefix + "."},
	} {
		nc, err := env.Client.Connect(t.Context(), env.URL, env.CA.Pool(), tt.cert, tt.name)
		if err != nil {
			t.Fatal(err)
		}
		if nc.Opts.Name != tt.wantName {
			t.Errorf("connection name %q, want %q", nc.Opts.Name, tt.wantName)
		}
		if inbox := nc.NewRespInbox(); !strings.HasPrefix(inbox, tt.wantInbox) {
			t.Errorf("inbox %q, want one under %q", inbox, tt.wantInbox)
		}
		nc.Close()
	}
}

// TestConnectNoIdentity expects Connect to refuse, before dialling, a
// certificate that names no identity.
func TestConnectNoIdentity(t *testing.T) {
	ca, err := pki.NewCA("test CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.IssueServer([]string{"localhost"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []tls.Certificate{cert, {}} {
		_, err := bus.Connect(t.Context(), "tls://192.0.2.1:1", ca.Pool(), c, "")
		if err == nil || !strings.HasPrefix(err.Error(), "connect to bus tls://192.0.2.1:1: ") {
			t.Errorf("Connect error = %v, want a refusal of the certificate", err)
		}
	}
}

// TestConnectContext expects the end of ctx to stop the first connection,
// wherever it is: here, waiting for a server that accepted the TCP
// connection and never speaks.
func TestConnectContext(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()
	env := bustest.NewServer(t)
	cert := env.HostCert(t, "a")
	url := "tls://" + ln.Addr().String()

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := bus.Connect(ctx, url, env.CA.Pool(), cert, ""); !errors.Is(err, context.Canceled) {
		t.Errorf("Connect with a cancelled context: error %v, want %v", err, context.Canceled)
	}

	ctx, cancel = context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	_, err = bus.Connect(ctx, url, env.CA.Pool(), cert, "")
	if took := time.Since(t0); took > 2*time.Second {
		t.Errorf("Connect returned after %v, want about 100ms", took)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Connect error %v, want %v", err, context.DeadlineExceeded)
	}
	ln.Close()
	for c := range accepted {
		c.Close()
	}
}

// recordHandler sends the messages of the records it handles to ch.
type recordHandler struct{ ch chan<- string }

func (h recordHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h recordHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h recordHandler) WithGroup(string) slog.Handler            { return h }
func (h recordHandler) Handle(_ context.Context, r slog.Record) error {
	msg := r.Level.String() + " " + r.Message
	r.Attrs(func(a slog.Attr) bool {
		msg += " " + a.String()
		return true
	})
	select {
	case h.ch <- msg:
	default:
	}
	return nil
}

// TestConnectLogsErrors expects the asynchronous errors of a connection
// in ClientConfig.Log.
func TestConnectLogsErrors(t *testing.T) {
	env := bustest.NewServer(t)
	logged := make(chan string, 16)
	cfg := env.Client
	cfg.Log = slog.New(recordHandler{logged})
	nc, err := cfg.Connect(t.Context(), env.URL, env.CA.Pool(), env.HostCert(t, "a"), "")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if err := nc.Publish(bus.Up("b", "results"), nil); err != nil {
		t.Fatal(err)
	}
	want := `WARN bus error name=host:a err=nats: permissions violation: Permissions Violation for Publish to "phenix.up.b.results"`
	select {
	case got := <-logged:
		if got != want {
			t.Errorf("logged %q, want %q", got, want)
		}
	case <-time.After(wait):
		t.Fatalf("nothing logged after %v", wait)
	}
}
