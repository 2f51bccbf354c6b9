package bus_test

import (
	"context"
	"crypto/tls"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/phenixhq/phenix/internal/bus"
	"github.com/phenixhq/phenix/internal/bustest"
	"github.com/phenixhq/phenix/internal/pki"
)

func TestStartRefuses(t *testing.T) {
	ca, err := pki.NewCA("test CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.IssueServer([]string{"127.0.0.1"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	good := bus.Config{Listen: "127.0.0.1:0", CA: ca.Pool(), Cert: cert, Authorize: func(string) bool { return true }}
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	for _, tt := range []struct {
		name    string
		ctx     context.Context
		change  func(*bus.Config)
		wantErr string // a prefix
	}{
		{name: "no CA", change: func(c *bus.Config) { c.CA = nil }, wantErr: "start bus: no client CA"},
		{name: "no certificate", change: func(c *bus.Config) { c.Cert = tls.Certificate{} }, wantErr: "start bus: no server certificate"},
		{name: "no Authorize", change: func(c *bus.Config) { c.Authorize = nil }, wantErr: "start bus: no Authorize function"},
		{name: "no port", change: func(c *bus.Config) { c.Listen = "127.0.0.1" }, wantErr: "start bus: listen address: address 127.0.0.1: missing port in address"},
		{name: "bad port", change: func(c *bus.Config) { c.Listen = ":http" }, wantErr: `start bus: listen address ":http": want a port number`},
		{name: "port in use", change: func(c *bus.Config) { c.Listen = busy.Addr().String() },
			wantErr: "start bus on " + busy.Addr().String() + ": Error listening on port: " + busy.Addr().String()},
		{name: "cancelled", ctx: cancelled, wantErr: "start bus on 127.0.0.1:0: context canceled"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := good
			if tt.change != nil {
				tt.change(&cfg)
			}
			ctx := tt.ctx
			if ctx == nil {
				ctx = t.Context()
			}
			srv, err := bus.Start(ctx, cfg)
			if err == nil {
				srv.Shutdown()
				t.Fatalf("Start succeeded")
			}
			if !strings.HasPrefix(err.Error(), tt.wantErr) {
				t.Errorf("Start error = %q, want %q", err, tt.wantErr)
			}
		})
	}
}

// TestClientURL expects a URL with the port chosen, and a loopback address
// for a server listening on every address.
func TestClientURL(t *testing.T) {
	env := bustest.NewServer(t)
	if !regexp.MustCompile(`^tls://127\.0\.0\.1:[1-9][0-9]*$`).MatchString(env.URL) {
		t.Errorf("ClientURL() = %q, want tls://127.0.0.1:<port>", env.URL)
	}

	cert, err := env.CA.IssueServer([]string{"127.0.0.1"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := bus.Start(t.Context(), bus.Config{Listen: ":0", CA: env.CA.Pool(), Cert: cert, Authorize: func(string) bool { return true }})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	if !regexp.MustCompile(`^tls://127\.0\.0\.1:[1-9][0-9]*$`).MatchString(srv.ClientURL()) {
		t.Errorf("ClientURL() of a server on :0 = %q, want tls://127.0.0.1:<port>", srv.ClientURL())
	}
	nc, err := env.Client.Connect(t.Context(), srv.ClientURL(), env.CA.Pool(), env.HostCert(t, "a"), "")
	if err != nil {
		t.Fatal(err)
	}
	nc.Close()
}
