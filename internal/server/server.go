package server

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/phenixhq/phenix/internal/artifact"
	"github.com/phenixhq/phenix/internal/bus"
	"github.com/phenixhq/phenix/internal/pki"
	"github.com/phenixhq/phenix/internal/secret"
	"github.com/phenixhq/phenix/internal/sqlstore"
)

// Defaults of Config.
const (
	DefaultListen     = ":4680"
	DefaultNATSListen = ":4222"
	DefaultHeartbeat  = 10 * time.Second
)

// Config configures Start.
type Config struct {
	DataDir string
	// Listen is the HTTPS API's host:port (DefaultListen); port 0 picks one.
	Listen string
	// NATSListen is the embedded NATS server's host:port (DefaultNATSListen).
	NATSListen string
	// NATS, if set, is the URL of external NATS servers (several separated
	// by commas) used instead of the embedded one, with the user and
	// password of the auth callout's auth user unless NATSCreds is set;
	// the server answers their auth callout (bus.StartCallout).
	NATS string
	// NATSCreds is the file of the auth user's credentials (nkey seed or
	// .creds), NATSSystemCreds that of a system account user, with which
	// revocation closes a host's connections at once (bus.CalloutConfig).
	NATSCreds       string
	NATSSystemCreds string
	// NATSAdvertise are the URLs of the external NATS servers given to
	// agents; by default, NATS without user information.
	NATSAdvertise []string
	// Advertise names this server for agents and certificates: host names
	// or addresses besides the ones found on the machine's interfaces.
	Advertise []string
	// DB is the store's DSN; "" is sqlite:DataDir/phenix.db.
	DB string
	// Heartbeat is how often agents send a heartbeat (DefaultHeartbeat).
	Heartbeat time.Duration
	Log       *slog.Logger
	Version   string
}

// Info is what server.json holds: how the CLI on this machine finds the
// server.
type Info struct {
	URL    string   `json:"url"`
	NATS   []string `json:"nats"`
	CA     string   `json:"ca"`    // path of ca.pem
	Token  string   `json:"token"` // path of admin.token
	PID    int      `json:"pid"`
	CAHash string   `json:"ca_hash"`
}

// Server is a running phenix server.
type Server struct {
	cfg     Config
	log     *slog.Logger
	db      *sqlstore.DB
	ca      *pki.CA
	caPEM   []byte
	caHash  string
	token   string
	box     *secret.Box
	bus     natsBus
	nc      *nats.Conn
	http    *http.Server
	ln      net.Listener
	info    Info
	created bool // the admin token was created by this start

	natsAdvertise []string // external NATS servers for agents; nil with the embedded one
	natsSetup     string   // their configuration (NATSSetup)

	hosts    *hostTable
	jobs     *jobTracker
	results  chan *pendingResult
	policies *policyCache

	artifacts *artifact.Store
	deploys   *deployTracker
	checks    *checkScheduler

	ctx       context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

// Start starts a server and returns once it serves. The server runs until
// Close or ctx ends.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("server: no data directory")
	}
	if cfg.Listen == "" {
		cfg.Listen = DefaultListen
	}
	if cfg.NATSListen == "" {
		cfg.NATSListen = DefaultNATSListen
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = DefaultHeartbeat
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("server: data directory: %w", err)
	}
	s := &Server{cfg: cfg, log: cfg.Log.With("component", "server")}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	ok := false
	defer func() {
		if !ok {
			s.Close()
		}
	}()
	var err error
	if err = s.loadCA(); err != nil {
		return nil, err
	}
	if err = s.loadToken(); err != nil {
		return nil, err
	}
	if s.box, err = secret.LoadOrCreateKey(filepath.Join(cfg.DataDir, "secrets.key")); err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	dsn := cfg.DB
	if dsn == "" {
		dsn = "sqlite:" + filepath.Join(cfg.DataDir, "phenix.db")
	}
	if s.db, err = sqlstore.Open(ctx, dsn); err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	if s.hosts, err = loadHosts(ctx, s.db, cfg.Heartbeat); err != nil {
		return nil, err
	}
	s.policies = &policyCache{}
	s.artifacts = &artifact.Store{Dir: filepath.Join(cfg.DataDir, "artifacts")}
	s.deploys = &deployTracker{running: map[string]*deployRun{}}
	s.checks = newCheckScheduler(s)

	names := serverNames(cfg.Advertise)
	cert, err := s.ca.IssueServer(names, 397*24*time.Hour)
	if err != nil {
		return nil, fmt.Errorf("server: certificate: %w", err)
	}
	if cfg.NATS != "" {
		c, err := s.startCallout(ctx, names)
		if err != nil {
			return nil, err
		}
		s.bus = c
	} else {
		b, err := bus.Start(ctx, bus.Config{
			Listen: cfg.NATSListen, CA: s.ca.Pool(), Cert: cert, Log: cfg.Log,
			Authorize: s.hosts.authorized,
		})
		if err != nil {
			return nil, fmt.Errorf("server: %w", err)
		}
		s.bus = b
	}
	identity, err := s.ca.ServerIdentity(397 * 24 * time.Hour)
	if err != nil {
		return nil, fmt.Errorf("server: identity: %w", err)
	}
	s.nc, err = bus.ClientConfig{Log: cfg.Log}.Connect(ctx, s.bus.ClientURL(), s.ca.Pool(), identity, "phenix-server")
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	s.jobs = newJobTracker(s)
	// Pointers: a buffer of 65,536 results held by value would be 10 MB
	// kept, and scanned by every collection, for a burst that is rare.
	s.results = make(chan *pendingResult, 65536)
	if err := s.subscribe(); err != nil {
		return nil, err
	}

	s.ln, err = net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("server: listen %s: %w", cfg.Listen, err)
	}
	s.http = &http.Server{
		Handler: s.routes(),
		// Hosts present their certificate to download artifacts; people
		// and the CLI present none and use a token.
		TLSConfig: &tls.Config{
			Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12,
			ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: s.ca.Pool(),
		},
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	s.info = Info{
		URL:    "https://" + urlHost(s.ln.Addr()),
		NATS:   s.natsURLsFor(""),
		CA:     filepath.Join(cfg.DataDir, "ca.pem"),
		Token:  filepath.Join(cfg.DataDir, "admin.token"),
		PID:    os.Getpid(),
		CAHash: s.caHash,
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.http.ServeTLS(s.ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("https server", "err", err)
		}
	}()
	// Deployments a previous server left running end failed before the
	// jobs resume, so that their jobs are not carried on.
	s.recoverDeployments(ctx)
	s.wg.Add(4)
	go func() { defer s.wg.Done(); s.storeResults() }()
	go func() { defer s.wg.Done(); s.hosts.flush(s.ctx, s.db, s.log) }()
	go func() { defer s.wg.Done(); s.jobs.resume(ctx) }()
	go func() { defer s.wg.Done(); s.checks.loop(s.ctx) }()
	if err := writeJSON(filepath.Join(cfg.DataDir, "server.json"), s.info); err != nil {
		return nil, err
	}
	go func() {
		select {
		case <-ctx.Done():
			s.Close()
		case <-s.ctx.Done():
		}
	}()
	ok = true
	s.log.Info("phenix server started", "api", s.info.URL, "nats", s.info.NATS[0], "data", cfg.DataDir, "hosts", s.hosts.count())
	return s, nil
}

// Info returns how to reach the server.
func (s *Server) Info() Info { return s.info }

// AdminToken returns the admin token, and whether this start created it.
func (s *Server) AdminToken() (string, bool) { return s.token, s.created }

// Done is closed when the server has stopped.
func (s *Server) Done() <-chan struct{} { return s.ctx.Done() }

// Close stops the server: no new request, no new result; what is stored
// stays stored. It is safe to call more than once.
func (s *Server) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.close() })
	return s.closeErr
}

func (s *Server) close() error {
	s.cancel()
	if s.http != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = s.http.Shutdown(ctx)
		cancel()
	}
	if s.nc != nil {
		_ = s.nc.Drain()
		for i := 0; i < 100 && !s.nc.IsClosed(); i++ {
			time.Sleep(10 * time.Millisecond)
		}
		s.nc.Close()
	}
	s.wg.Wait()
	if s.hosts != nil && s.db != nil {
		s.hosts.flushOnce(context.Background(), s.db, s.log)
	}
	if s.bus != nil {
		s.bus.Shutdown()
		s.bus = nil
	}
	if s.db != nil {
		err := s.db.Close()
		s.db = nil
		return err
	}
	return nil
}

func (s *Server) loadCA() error {
	certPath := filepath.Join(s.cfg.DataDir, "ca.pem")
	keyPath := filepath.Join(s.cfg.DataDir, "ca.key")
	certPEM, err1 := os.ReadFile(certPath)
	keyPEM, err2 := os.ReadFile(keyPath)
	switch {
	case err1 == nil && err2 == nil:
		ca, err := pki.LoadCA(certPEM, keyPEM)
		if err != nil {
			return fmt.Errorf("server: %s: %w", certPath, err)
		}
		s.ca = ca
	case errors.Is(err1, os.ErrNotExist) && errors.Is(err2, os.ErrNotExist):
		ca, err := pki.NewCA("phenix fleet CA", 10*365*24*time.Hour)
		if err != nil {
			return fmt.Errorf("server: %w", err)
		}
		certPEM, keyPEM = ca.PEM()
		if err := writeFile(keyPath, keyPEM, 0o600); err != nil {
			return err
		}
		if err := writeFile(certPath, certPEM, 0o644); err != nil {
			return err
		}
		s.ca = ca
		s.log.Info("created the fleet CA", "cert", certPath)
	default:
		return fmt.Errorf("server: CA: %w", errors.Join(err1, err2))
	}
	s.caPEM = certPEM
	s.caHash = CAHash(s.ca.Certificate().Raw)
	return nil
}

// CAHash returns the pin of a CA certificate (DER): "sha256:<hex>".
func CAHash(der []byte) string {
	sum := sha256.Sum256(der)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func (s *Server) loadToken() error {
	path := filepath.Join(s.cfg.DataDir, "admin.token")
	b, err := os.ReadFile(path)
	if err == nil {
		st, err := os.Stat(path)
		if err == nil && st.Mode().Perm()&0o077 != 0 {
			return fmt.Errorf("server: %s is readable by others (mode %v); chmod 600 it", path, st.Mode().Perm())
		}
		s.token = string(trimSpace(b))
		if s.token == "" {
			return fmt.Errorf("server: %s is empty", path)
		}
		return nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("server: %w", err)
	}
	secret, err := randomToken("phxa_", 24)
	if err != nil {
		return err
	}
	s.token = secret
	s.created = true
	return writeFile(path, []byte(secret+"\n"), 0o600)
}

// serverNames are the names the server's certificate holds: localhost,
// the host name, every address of the machine, and extra.
func serverNames(extra []string) []string {
	names := []string{"localhost", "127.0.0.1", "::1"}
	if h, err := os.Hostname(); err == nil && h != "" {
		names = append(names, h)
	}
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok {
				names = append(names, ipn.IP.String())
			}
		}
	}
	names = append(names, extra...)
	seen := map[string]bool{}
	out := names[:0]
	for _, n := range names {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}

// urlHost writes a listening address for a URL, 127.0.0.1 for an
// unspecified one.
func urlHost(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok {
		return a.String()
	}
	ip := tcp.IP
	if ip == nil || ip.IsUnspecified() {
		return net.JoinHostPort("127.0.0.1", strconv.Itoa(tcp.Port))
	}
	return net.JoinHostPort(ip.String(), strconv.Itoa(tcp.Port))
}

// natsURLsFor returns the bus URLs an agent that reached the API at
// apiHost (the Host of its request) should use: the same host, the bus's
// port.
func (s *Server) natsURLsFor(apiHost string) []string {
	if s.natsAdvertise != nil {
		return s.natsAdvertise
	}
	u, err := url.Parse(s.bus.ClientURL())
	if err != nil {
		return []string{s.bus.ClientURL()}
	}
	host, _, err := net.SplitHostPort(apiHost)
	if err != nil {
		host = apiHost
	}
	if host == "" {
		return []string{s.bus.ClientURL()}
	}
	return []string{"tls://" + net.JoinHostPort(host, u.Port())}
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return writeFile(path, append(b, '\n'), 0o644)
}

// writeFile writes a file atomically with mode.
func writeFile(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return fmt.Errorf("server: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("server: write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("server: write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("server: %w", err)
	}
	return nil
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r' || b[len(b)-1] == ' ') {
		b = b[:len(b)-1]
	}
	return b
}
