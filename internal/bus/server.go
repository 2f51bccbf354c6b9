package bus

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// startTimeout bounds the start of the server when ctx has no deadline.
const startTimeout = 10 * time.Second

// Config configures the embedded NATS server of Start.
type Config struct {
	// Listen is the host:port on which clients connect; port 0 picks a
	// free port (see ClientURL), and an empty host listens on every
	// address.
	Listen string
	// CA holds the CAs that issue client certificates: a connection whose
	// certificate they did not issue is refused during the TLS handshake.
	CA *x509.CertPool
	// Cert is the server's TLS certificate (pki.CA.IssueServer), for the
	// names clients use in their URL.
	Cert tls.Certificate
	// Log receives the log of the bus and of the NATS server (see
	// natsLogger); nil discards it. NATS debug lines are written when Log
	// is enabled for slog.LevelDebug, trace lines (every protocol message)
	// when it is enabled for slog.LevelDebug-4.
	Log *slog.Logger
	// Authorize reports whether host hostID may connect; false, for a host
	// revoked or unknown, refuses the connection. It is called, possibly
	// from many goroutines at once, on every connection of a host
	// (reconnections included), but never for the server identity.
	Authorize func(hostID string) bool
}

// Server is a running embedded NATS server. Its methods are safe for
// concurrent use.
type Server struct {
	ns   *server.Server
	auth *authenticator
	log  *slog.Logger
	url  string
}

// Start starts a NATS server in this process, configured by cfg and
// listening when Start returns. ctx bounds the start only: the server runs
// until Shutdown.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	host, port, err := cfg.listen()
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("start bus on %s: %w", cfg.Listen, err)
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "bus")
	auth := &authenticator{
		log:       log,
		authorize: cfg.Authorize,
		conns:     map[string]map[uint64]struct{}{},
	}
	opts := &server.Options{
		Host:   host,
		Port:   port,
		NoSigs: true,
		NoLog:  false,
		TLSConfig: &tls.Config{
			Certificates: []tls.Certificate{cfg.Cert},
			ClientCAs:    cfg.CA,
			ClientAuth:   tls.RequireAndVerifyClientCert,
			MinVersion:   tls.VersionTLS13,
		},
		TLSVerify:                  true,
		CustomClientAuthentication: auth,
		JetStream:                  false,
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("start bus on %s: %w", cfg.Listen, err)
	}
	nlog := &natsLogger{log: log}
	ns.SetLogger(nlog, nlog.enabled(slog.LevelDebug), nlog.enabled(levelTrace))
	auth.alive = func(cid uint64) bool { return ns.GetClient(cid) != nil }

	ns.Start() // listens before it returns, or logs why it cannot
	s := &Server{ns: ns, auth: auth, log: log}
	fail := func(err error) (*Server, error) {
		ns.Shutdown()
		ns.WaitForShutdown()
		return nil, fmt.Errorf("start bus on %s: %w", cfg.Listen, err)
	}
	a, ok := ns.Addr().(*net.TCPAddr)
	if !ok {
		if msg := nlog.lastFatal(); msg != "" {
			return fail(errors.New(msg))
		}
		return fail(errors.New("the NATS server is not listening"))
	}
	wait := startTimeout
	if d, ok := ctx.Deadline(); ok {
		wait = time.Until(d)
	}
	if !ns.ReadyForConnections(wait) {
		if err := ctx.Err(); err != nil {
			return fail(err)
		}
		return fail(fmt.Errorf("not ready for connections after %v", wait))
	}
	s.url = clientURL(a)
	log.Info("bus started", "url", s.url)
	return s, nil
}

// ClientURL returns the URL on which clients of this process reach the
// server, tls://<address>:<port>, with the actual port when Listen asked
// for port 0, and 127.0.0.1 when Listen named no address or an
// unspecified one (0.0.0.0, ::). The server's certificate must name that
// address for a client to connect with it.
func (s *Server) ClientURL() string { return s.url }

// Shutdown closes every connection and stops the server; it returns once
// the server has stopped.
func (s *Server) Shutdown() {
	s.ns.Shutdown()
	s.ns.WaitForShutdown()
	s.log.Info("bus stopped")
}

// Kick closes at once every connection of host hostID and returns how many
// it closed. A host that is still authorised reconnects; to keep it out,
// make Authorize refuse it first, then Kick it.
//
// The bus keeps the connection ids of every host from the authentication
// callback, instead of searching the server's connection list (Connz) by
// user name: the list holds a connection before its user is set, so a
// search could miss one being admitted while the host is revoked. See
// authenticator.admit.
func (s *Server) Kick(hostID string) int {
	n := 0
	for _, cid := range s.auth.kick(hostID) {
		if s.ns.DisconnectClientByID(cid) == nil {
			n++
		}
	}
	s.log.Info("host kicked", "host_id", hostID, "connections", n)
	return n
}

// listen checks cfg and returns the host and port to listen on, port
// server.RANDOM_PORT for port 0.
func (cfg Config) listen() (host string, port int, err error) {
	switch {
	case cfg.CA == nil:
		return "", 0, errors.New("start bus: no client CA")
	case len(cfg.Cert.Certificate) == 0 || cfg.Cert.PrivateKey == nil:
		return "", 0, errors.New("start bus: no server certificate")
	case cfg.Authorize == nil:
		return "", 0, errors.New("start bus: no Authorize function")
	}
	host, p, err := net.SplitHostPort(cfg.Listen)
	if err != nil {
		return "", 0, fmt.Errorf("start bus: listen address: %w", err)
	}
	port, err = strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("start bus: listen address %q: want a port number", cfg.Listen)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	return host, port, nil
}

// clientURL returns the URL of a listener at a.
func clientURL(a *net.TCPAddr) string {
	ip := a.IP
	if ip.IsUnspecified() {
		// Go listens on IPv4 too when the address is "::".
		ip = net.IPv4(127, 0, 0, 1)
	}
	u := url.URL{Scheme: "tls", Host: net.JoinHostPort(ip.String(), strconv.Itoa(a.Port))}
	return u.String()
}
