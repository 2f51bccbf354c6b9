package bus

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/phenixhq/phenix/internal/pki"
)

// Defaults of ClientConfig, used for its zero fields.
const (
	DefaultConnectTimeout  = 5 * time.Second
	DefaultReconnectWait   = 2 * time.Second
	DefaultReconnectJitter = time.Second
)

// ClientConfig holds the connection settings of Connect. The zero value
// holds the defaults.
type ClientConfig struct {
	// ConnectTimeout bounds each attempt to connect: TCP, TLS handshake
	// and the first exchange with the server (DefaultConnectTimeout).
	ConnectTimeout time.Duration
	// ReconnectWait is how long a client waits before it tries a server
	// again after losing it (DefaultReconnectWait), plus a random part of
	// up to ReconnectJitter (DefaultReconnectJitter), so that a fleet does
	// not reconnect all at once when the server comes back.
	ReconnectWait   time.Duration
	ReconnectJitter time.Duration
	// MaxReconnects is how many times in a row a client tries to
	// reconnect before it gives up and closes the connection; zero, the
	// default, and negative values retry forever. Whatever its value,
	// nats.go closes a connection refused twice in a row for authorisation
	// (a revoked host): the connection's ClosedHandler runs and LastError
	// is nats.ErrAuthorization.
	MaxReconnects int
	// Log receives, at Warn, the asynchronous errors of the connection
	// (permissions violations, slow consumers), unless an option of
	// Connect sets nats.ErrorHandler; nil discards them. (Without a
	// handler, nats.go would print them on the standard error.)
	Log *slog.Logger
}

// Connect connects to the bus at url as the identity of cert (a host or
// the server, see pki.HostID), over TLS, verifying the server's
// certificate with ca. name names the connection in the server's logs;
// empty, it is the identity ("host:web-1", "server"). The reply subjects of
// a host are under its InboxPrefix, those of the server under
// ServerInboxPrefix. opts come last and may add handlers or override
// settings. ctx bounds the first connection; later reconnections run on
// their own until the connection is closed.
func Connect(ctx context.Context, url string, ca *x509.CertPool, cert tls.Certificate, name string, opts ...nats.Option) (*nats.Conn, error) {
	return ClientConfig{}.Connect(ctx, url, ca, cert, name, opts...)
}

// Connect is the function Connect with the settings of c.
func (c ClientConfig) Connect(ctx context.Context, url string, ca *x509.CertPool, cert tls.Certificate, name string, opts ...nats.Option) (*nats.Conn, error) {
	identity, inbox, err := identityOf(cert)
	if err != nil {
		return nil, fmt.Errorf("connect to bus %s: %w", url, err)
	}
	if name == "" {
		name = identity
	}
	c = c.withDefaults()
	d := &dialer{timeout: c.ConnectTimeout, ctx: ctx}
	all := []nats.Option{
		nats.Name(name),
		nats.Secure(&tls.Config{
			RootCAs:    ca,
			MinVersion: tls.VersionTLS13,
			// Offer the certificate even to a server that does not list
			// its CA, so that the server logs why it refuses it.
			GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert, nil },
		}),
		nats.CustomInboxPrefix(inbox),
		nats.Timeout(c.ConnectTimeout),
		nats.SetCustomDialer(d),
		nats.MaxReconnects(c.MaxReconnects),
		nats.ReconnectWait(c.ReconnectWait),
		nats.ReconnectJitter(c.ReconnectJitter, c.ReconnectJitter),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			if sub != nil {
				c.Log.Warn("bus error", "name", name, "subject", sub.Subject, "err", err)
				return
			}
			c.Log.Warn("bus error", "name", name, "err", err)
		}),
	}
	nc, err := nats.Connect(url, append(all, opts...)...)
	d.release()
	if ctxErr := ctx.Err(); ctxErr != nil {
		if nc != nil {
			nc.Close()
		}
		err = ctxErr
	}
	if err != nil {
		return nil, fmt.Errorf("connect to bus %s as %s: %w", url, identity, err)
	}
	return nc, nil
}

// withDefaults returns c with its zero fields set to the defaults.
func (c ClientConfig) withDefaults() ClientConfig {
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	if c.ReconnectWait <= 0 {
		c.ReconnectWait = DefaultReconnectWait
	}
	if c.ReconnectJitter <= 0 {
		c.ReconnectJitter = DefaultReconnectJitter
	}
	if c.MaxReconnects <= 0 {
		c.MaxReconnects = -1 // forever
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	return c
}

// identityOf returns the identity that cert names, as a connection name,
// and the inbox prefix of its connections.
func identityOf(cert tls.Certificate) (identity, inbox string, err error) {
	leaf := cert.Leaf
	if leaf == nil {
		if len(cert.Certificate) == 0 {
			return "", "", errors.New("no client certificate")
		}
		if leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return "", "", fmt.Errorf("client certificate: %w", err)
		}
	}
	id, isServer, err := pki.HostID(leaf)
	if err != nil {
		return "", "", fmt.Errorf("client certificate: %w", err)
	}
	if isServer {
		return serverUser, ServerInboxPrefix, nil
	}
	return hostUserPrefix + id, InboxPrefix(id), nil
}

// dialer dials TCP connections with a timeout. Until release, it ties the
// connections it dials to a context, whose end closes them: a cancelled
// context stops the first connection wherever it is (dial, TLS handshake,
// first exchange), not the later reconnections.
type dialer struct {
	timeout time.Duration

	mu    sync.Mutex
	ctx   context.Context // nil after release
	stops []func() bool   // stop closing the connections dialled before release
}

func (d *dialer) Dial(network, address string) (net.Conn, error) {
	d.mu.Lock()
	ctx := d.ctx
	d.mu.Unlock()
	if ctx == nil {
		ctx = context.Background()
	}
	conn, err := (&net.Dialer{Timeout: d.timeout}).DialContext(ctx, network, address)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	if d.ctx != nil {
		d.stops = append(d.stops, context.AfterFunc(d.ctx, func() { conn.Close() }))
	}
	d.mu.Unlock()
	return conn, nil
}

// release detaches the dialer and its connections from the context.
func (d *dialer) release() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.ctx = nil
	for _, stop := range d.stops {
		stop()
	}
	d.stops = nil
}
