package bus_test

import (
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/phenixhq/phenix/internal/bus"
	"github.com/phenixhq/phenix/internal/bustest"
)

// echo makes nc answer requests on host id's down subject "echo".
func echo(t *testing.T, nc *nats.Conn, id string) {
	t.Helper()
	if _, err := nc.Subscribe(bus.Down(id, "echo"), func(m *nats.Msg) { m.Respond(m.Data) }); err != nil {
		t.Fatal(err)
	}
	flush(t, nc)
}

// ask checks that host id answers the server.
func ask(t *testing.T, srv *nats.Conn, id string) {
	t.Helper()
	if _, err := srv.Request(bus.Down(id, "echo"), []byte("?"), wait); err != nil {
		t.Errorf("host %s does not answer: %v", id, err)
	}
}

// TestRevokedRefused expects a revoked host to be refused as it connects,
// with an authorisation error, and admitted again once reinstated.
func TestRevokedRefused(t *testing.T) {
	env := bustest.NewServer(t)
	env.Revoke("a")
	_, err := env.Client.Connect(t.Context(), env.URL, env.CA.Pool(), env.HostCert(t, "a"), "")
	if !errors.Is(err, nats.ErrAuthorization) {
		t.Fatalf("a revoked host connects with error %v, want %v", err, nats.ErrAuthorization)
	}
	env.Connect(t, "b")
	env.Reinstate("a")
	env.Connect(t, "a")
}

// TestKick revokes and kicks a host: its connections close within a
// second and cannot come back; other hosts are not disturbed.
func TestKick(t *testing.T) {
	env := bustest.NewServer(t)
	srv := env.ConnectServer(t)
	disconnected, onDisconnect := signal()
	closed, onClose := signal()
	a := env.Connect(t, "a",
		nats.DisconnectErrHandler(func(*nats.Conn, error) { onDisconnect() }),
		nats.ClosedHandler(func(*nats.Conn) { onClose() }))
	a2 := env.Connect(t, "a") // a second connection of the same host
	b := env.Connect(t, "b")
	echo(t, a, "a")
	echo(t, b, "b")
	ask(t, srv, "a")

	env.Revoke("a")
	t0 := time.Now()
	if n := env.Server.Kick("a"); n != 2 {
		t.Errorf("Kick(a) closed %d connections, want 2", n)
	}
	waitFor(t, disconnected, time.Second, "a's connection closes")
	t.Logf("disconnected after %v", time.Since(t0))
	waitFor(t, closed, wait, "a gives up reconnecting")
	if err := a.LastError(); !errors.Is(err, nats.ErrAuthorization) {
		t.Errorf("a's last error is %v, want %v", err, nats.ErrAuthorization)
	}
	if a2.IsConnected() {
		// a2 may still be reconnecting; it must not get through.
		t.Errorf("a's second connection is still connected")
	}
	ask(t, srv, "b")
	if !b.IsConnected() || b.Stats().Reconnects != 0 {
		t.Errorf("b was disturbed: connected %v, %d reconnections", b.IsConnected(), b.Stats().Reconnects)
	}
	if n := env.Server.Kick("a"); n != 0 {
		t.Errorf("Kick(a) again closed %d connections, want 0", n)
	}
}

// TestKickReconnects kicks a host that is still authorised: it comes back.
func TestKickReconnects(t *testing.T) {
	env := bustest.NewServer(t)
	srv := env.ConnectServer(t)
	reconnected, onReconnect := signal()
	a := env.Connect(t, "a", nats.ReconnectHandler(func(*nats.Conn) { onReconnect() }))
	echo(t, a, "a")
	if n := env.Server.Kick("a"); n != 1 {
		t.Errorf("Kick(a) closed %d connections, want 1", n)
	}
	waitFor(t, reconnected, wait, "a reconnects")
	flush(t, a) // its subscriptions are back
	ask(t, srv, "a")
	// The bus knows the new connection, not the closed one.
	if n := env.Server.Kick("a"); n != 1 {
		t.Errorf("second Kick(a) closed %d connections, want 1", n)
	}
}

// TestKickForgetsClosed expects Kick to count open connections only, after
// a host connected and left several times.
func TestKickForgetsClosed(t *testing.T) {
	env := bustest.NewServer(t)
	for range 3 {
		env.Connect(t, "a").Close()
	}
	env.Connect(t, "a")
	if n := env.Server.Kick("a"); n != 1 {
		t.Errorf("Kick(a) closed %d connections, want 1", n)
	}
}
