package bus_test

import (
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/phenixhq/phenix/internal/bus"
	"github.com/phenixhq/phenix/internal/bustest"
	"github.com/phenixhq/phenix/internal/pki"
)

// TestCalloutPermissions runs an external nats-server whose auth callout
// is bus.Callout: a host uses its own subjects, and the NATS server
// refuses it those of another host.
func TestCalloutPermissions(t *testing.T) {
	env := bustest.NewExternal(t, nil)
	srv := env.ConnectServer(t)
	opt, errs := asyncErrors()
	a := env.Connect(t, "a", opt)
	b := env.Connect(t, "b")

	// Its own subjects, both ways.
	echo(t, a, "a")
	ask(t, srv, "a")
	ups := subscribe(t, srv, bus.UpAll("results"))
	if err := a.Publish(bus.Up("a", "results"), []byte("1")); err != nil {
		t.Fatal(err)
	}
	if m := nextMsg(t, ups); m.Subject != bus.Up("a", "results") {
		t.Errorf("server got %s", m.Subject)
	}
	noError(t, errs)

	// Not another host's.
	if _, err := a.SubscribeSync(bus.Down("b", ">")); err != nil {
		t.Fatal(err)
	}
	waitViolation(t, errs, bus.Down("b", ">"))
	if err := a.Publish(bus.Up("b", "results"), []byte("forged")); err != nil {
		t.Fatal(err)
	}
	waitViolation(t, errs, bus.Up("b", "results"))
	flush(t, b)
	if m, err := ups.NextMsg(100 * time.Millisecond); err == nil {
		t.Errorf("server got %s %q from a forged publication", m.Subject, m.Data)
	}
}

// TestCalloutRefused expects the callout to refuse a revoked host, and a
// certificate of another CA (which the NATS server's TLS refuses first).
func TestCalloutRefused(t *testing.T) {
	env := bustest.NewExternal(t, nil)
	env.Revoke("a")
	if _, err := env.Client.Connect(t.Context(), env.URL, env.CA.Pool(), env.HostCert(t, "a"), ""); !errors.Is(err, nats.ErrAuthorization) {
		t.Errorf("a revoked host connects with error %v, want %v", err, nats.ErrAuthorization)
	}
	other, err := pki.NewCA("other", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	foreign := (&bustest.Env{CA: other}).HostCert(t, "b")
	if nc, err := env.Client.Connect(t.Context(), env.URL, env.CA.Pool(), foreign, ""); err == nil {
		nc.Close()
		t.Errorf("a certificate of another CA connects")
	}
	env.Reinstate("a")
	env.Connect(t, "a")
}

// TestCalloutKick revokes and kicks a connected host: with the system
// user, its connections close at once and cannot come back.
func TestCalloutKick(t *testing.T) {
	env := bustest.NewExternal(t, func(cfg *bus.CalloutConfig, n *bustest.NATS) { cfg.SystemCreds = n.SystemCreds })
	srv := env.ConnectServer(t)
	disconnected, onDisconnect := signal()
	closed, onClose := signal()
	a := env.Connect(t, "a",
		nats.DisconnectErrHandler(func(*nats.Conn, error) { onDisconnect() }),
		nats.ClosedHandler(func(*nats.Conn) { onClose() }))
	env.Connect(t, "a")
	b := env.Connect(t, "b")
	echo(t, a, "a")
	echo(t, b, "b")
	ask(t, srv, "a")

	env.Revoke("a")
	t0 := time.Now()
	if n := env.Callout.Kick("a"); n != 2 {
		t.Errorf("Kick(a) closed %d connections, want 2", n)
	}
	waitFor(t, disconnected, time.Second, "a's connection closes")
	t.Logf("disconnected after %v", time.Since(t0))
	waitFor(t, closed, wait, "a gives up reconnecting")
	if err := a.LastError(); !errors.Is(err, nats.ErrAuthorization) {
		t.Errorf("a's last error is %v, want %v", err, nats.ErrAuthorization)
	}
	ask(t, srv, "b")
	if b.Stats().Reconnects != 0 {
		t.Errorf("b reconnected")
	}
}

// TestCalloutExpiry expects, without the system user, Kick to close
// nothing and a host's connection to end when its user expires
// (CalloutConfig.UserLifetime, ShortUserLifetime by default): a revoked
// host is then refused, an authorised one comes back through the
// callout at once, with its subscriptions.
func TestCalloutExpiry(t *testing.T) {
	const lifetime = 2 * time.Second
	env := bustest.NewExternal(t, func(cfg *bus.CalloutConfig, _ *bustest.NATS) { cfg.UserLifetime = lifetime })
	srv := env.ConnectServer(t)
	closed, onClose := signal()
	a := env.Connect(t, "a", nats.ClosedHandler(func(*nats.Conn) { onClose() }))
	reconnected, onReconnect := signal()
	b := env.Connect(t, "b", nats.ReconnectHandler(func(*nats.Conn) { onReconnect() }))
	echo(t, b, "b")
	t0 := time.Now()
	env.Revoke("a")
	if n := env.Callout.Kick("a"); n != 0 {
		t.Errorf("Kick(a) without the system user closed %d connections, want 0", n)
	}
	if !a.IsConnected() {
		t.Errorf("a is cut off before its user expires")
	}
	waitFor(t, closed, lifetime+wait, "a's connection closes when its user expires, and is refused again")
	t.Logf("a closed after %v", time.Since(t0))
	if err := a.LastError(); !errors.Is(err, nats.ErrAuthorization) {
		t.Errorf("a's last error is %v, want %v", err, nats.ErrAuthorization)
	}
	waitFor(t, reconnected, wait, "b reconnects when its user expires")
	flush(t, b)
	ask(t, srv, "b")
	if !b.IsConnected() {
		t.Errorf("b is not connected")
	}
}
