package bus

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/phenixhq/phenix/internal/pki"
)

// Names and durations of the callout service.
const (
	// DefaultAccount is the account of the external NATS servers in which
	// the callout places the server and the hosts: every fleet subject is
	// in it.
	DefaultAccount = "PHENIX"
	// ShortUserLifetime is the default life of the users the callout
	// gives hosts when it cannot kick (no CalloutConfig.SystemCreds): a
	// revoked host keeps an open connection at most this long.
	ShortUserLifetime = 2 * time.Minute

	authRequestSubject = "$SYS.REQ.USER.AUTH"
	kickSubject        = "$SYS.REQ.SERVER.%s.KICK"
	disconnectSubject  = "$SYS.ACCOUNT.%s.DISCONNECT"
	kickTimeout        = 2 * time.Second
)

// CalloutConfig configures StartCallout.
type CalloutConfig struct {
	// URL is the external NATS servers' URL (several separated by commas),
	// holding the user and password of the callout's auth user, unless
	// Creds authenticates it.
	URL string
	// Creds, if set, is the file of the auth user's credentials: an nkey
	// seed, or a NATS .creds file.
	Creds string
	// SystemCreds, if set, is the file of the credentials (nkey seed or
	// .creds) of a user of the system account. With it, Kick closes a
	// host's connections at once; without it, the users of hosts live
	// ShortUserLifetime.
	SystemCreds string
	// Issuer is the account key that signs the callout's answers: the
	// issuer of the servers' auth_callout block (LoadIssuer).
	Issuer nkeys.KeyPair
	// Account is the account of the hosts and the server (DefaultAccount).
	Account string
	// CA holds the fleet CA, which must have issued a client's certificate.
	CA *x509.CertPool
	// Cert is the server identity (pki.CA.ServerIdentity): the callout's
	// connections present it, since the NATS servers verify every client
	// certificate.
	Cert tls.Certificate
	// UserLifetime is how long the users of hosts live without
	// SystemCreds (ShortUserLifetime); with it, as their certificate.
	UserLifetime time.Duration
	// Log and Authorize are as in Config.
	Log       *slog.Logger
	Authorize func(hostID string) bool
}

// Callout is the auth callout service of external NATS servers. Its
// methods are safe for concurrent use.
type Callout struct {
	cfg  CalloutConfig
	log  *slog.Logger
	nc   *nats.Conn // the auth user's connection
	sys  *nats.Conn // the system user's, or nil
	url  string     // cfg.URL without user information
	seen *seen
}

// StartCallout connects to external NATS servers as the auth user of
// their auth_callout block and answers their authorisation requests
// until Shutdown. ctx bounds the start only.
func StartCallout(ctx context.Context, cfg CalloutConfig) (*Callout, error) {
	switch {
	case cfg.URL == "":
		return nil, errors.New("start callout: no NATS URL")
	case cfg.Issuer == nil:
		return nil, errors.New("start callout: no issuer key")
	case cfg.CA == nil:
		return nil, errors.New("start callout: no client CA")
	case cfg.Authorize == nil:
		return nil, errors.New("start callout: no Authorize function")
	}
	if cfg.Account == "" {
		cfg.Account = DefaultAccount
	}
	if cfg.UserLifetime <= 0 {
		cfg.UserLifetime = ShortUserLifetime
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Callout{cfg: cfg, log: log.With("component", "callout"), url: StripUserInfo(cfg.URL), seen: &seen{conns: map[string]map[connID]time.Time{}}}
	client := ClientConfig{Log: log}
	var opts []nats.Option
	if cfg.Creds != "" {
		o, err := credsOption(cfg.Creds)
		if err != nil {
			return nil, fmt.Errorf("start callout: %w", err)
		}
		opts = append(opts, o)
	}
	var err error
	if c.nc, err = client.Connect(ctx, cfg.URL, cfg.CA, cfg.Cert, "phenix-callout", opts...); err != nil {
		return nil, fmt.Errorf("start callout: %w", err)
	}
	if _, err := c.nc.Subscribe(authRequestSubject, c.handle); err != nil {
		c.nc.Close()
		return nil, fmt.Errorf("start callout: %w", err)
	}
	if err := flush(ctx, c.nc); err != nil {
		c.nc.Close()
		return nil, fmt.Errorf("start callout: %w", err)
	}
	if cfg.SystemCreds != "" {
		if err := c.connectSystem(ctx, client); err != nil {
			c.nc.Close()
			return nil, fmt.Errorf("start callout: system account: %w", err)
		}
	}
	c.log.Info("auth callout started", "url", c.url, "account", cfg.Account, "kicks", c.sys != nil)
	return c, nil
}

// connectSystem connects the system user and follows disconnections, so
// that seen forgets closed connections.
func (c *Callout) connectSystem(ctx context.Context, client ClientConfig) error {
	o, err := credsOption(c.cfg.SystemCreds)
	if err != nil {
		return err
	}
	if c.sys, err = client.Connect(ctx, c.url, c.cfg.CA, c.cfg.Cert, "phenix-system", o); err != nil {
		return err
	}
	_, err = c.sys.Subscribe(fmt.Sprintf(disconnectSubject, c.cfg.Account), func(m *nats.Msg) {
		var ev server.DisconnectEventMsg
		if json.Unmarshal(m.Data, &ev) == nil {
			c.seen.forget(connID{server: ev.Server.ID, cid: ev.Client.ID})
		}
	})
	if err == nil {
		err = flush(ctx, c.sys)
	}
	if err != nil {
		c.sys.Close()
	}
	return err
}

// ClientURL returns the URL of the NATS servers without user information:
// the server identity connects there through the callout.
func (c *Callout) ClientURL() string { return c.url }

// Shutdown closes the callout's connections: the NATS servers then refuse
// every new connection of the fleet until a callout is back.
func (c *Callout) Shutdown() {
	c.nc.Close()
	if c.sys != nil {
		c.sys.Close()
	}
	c.log.Info("auth callout stopped")
}

// Kick closes at once every connection of host hostID on the NATS servers
// and returns how many it closed, when the callout has the system user;
// without it, it closes none, and the host's connections end when their
// user expires, within ShortUserLifetime. As with Server.Kick, make
// Authorize refuse the host first.
func (c *Callout) Kick(hostID string) int {
	conns := c.seen.kick(hostID)
	if c.sys == nil {
		c.log.Info("host kicked: its connections close when their user expires", "host_id", hostID, "connections", len(conns), "within", c.cfg.UserLifetime)
		return 0
	}
	n := 0
	for _, id := range conns {
		req, _ := json.Marshal(server.KickClientReq{CID: id.cid})
		m, err := c.sys.Request(fmt.Sprintf(kickSubject, id.server), req, kickTimeout)
		if err != nil {
			c.log.Warn("kick", "host_id", hostID, "server_id", id.server, "cid", id.cid, "err", err)
			continue
		}
		var resp server.ServerAPIResponse
		if err := json.Unmarshal(m.Data, &resp); err != nil || resp.Error != nil {
			continue // already closed
		}
		n++
	}
	c.log.Info("host kicked", "host_id", hostID, "connections", n)
	return n
}

// handle answers an authorisation request of a NATS server.
func (c *Callout) handle(m *nats.Msg) {
	req, err := jwt.DecodeAuthorizationRequestClaims(string(m.Data))
	if err != nil {
		c.log.Warn("authorisation request refused", "err", err)
		return // not a request we can answer: the NATS server times out
	}
	log := c.log.With("remote", req.ClientInformation.Host, "server_id", req.Server.ID, "cid", req.ClientInformation.ID)
	log.Debug("authorisation request", "name", req.ClientInformation.Name, "user", req.ConnectOptions.Username, "nkey", req.ConnectOptions.Nkey)
	resp := jwt.NewAuthorizationResponseClaims(req.UserNkey)
	resp.Audience = req.Server.ID
	user, err := c.user(req)
	if err != nil {
		log.Info("connection refused", "err", err)
		resp.Error = err.Error()
	} else {
		resp.Jwt = user
	}
	tok, err := resp.Encode(c.cfg.Issuer)
	if err != nil {
		log.Error("authorisation response", "err", err)
		return
	}
	if err := m.Respond([]byte(tok)); err != nil {
		log.Warn("authorisation response", "err", err)
	}
}

// user returns the user JWT for the client of req, or why it is refused.
// It verifies the client's certificate itself, with the fleet CA, from
// the chain the NATS server verified.
func (c *Callout) user(req *jwt.AuthorizationRequestClaims) (string, error) {
	if req.TLS == nil || len(req.TLS.VerifiedChains) == 0 || len(req.TLS.VerifiedChains[0]) == 0 {
		return "", errors.New("no verified client certificate (the NATS server needs tls { verify: true })")
	}
	b, _ := pem.Decode([]byte(req.TLS.VerifiedChains[0][0]))
	if b == nil {
		return "", errors.New("client certificate: no PEM")
	}
	leaf, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return "", fmt.Errorf("client certificate: %v", err)
	}
	id, isServer, err := pki.VerifyClient(c.cfg.CA, leaf)
	if err != nil {
		return "", err
	}
	uc := jwt.NewUserClaims(req.UserNkey)
	uc.Audience = c.cfg.Account
	expires := leaf.NotAfter
	if isServer {
		uc.Name = serverUser
	} else {
		if c.sys == nil {
			expires = minTime(expires, time.Now().Add(c.cfg.UserLifetime))
		}
		conn := connID{server: req.Server.ID, cid: req.ClientInformation.ID}
		if !c.seen.admit(id, conn, expires, c.cfg.Authorize) {
			return "", fmt.Errorf("host %s not authorised", id)
		}
		uc.Name = hostUserPrefix + id
		uc.Permissions = jwtPermissions(hostPermissions(id))
	}
	uc.Expires = expires.Unix()
	return uc.Encode(c.cfg.Issuer)
}

// jwtPermissions writes p, permissions of the embedded server, as those of
// a user JWT.
func jwtPermissions(p *server.Permissions) jwt.Permissions {
	var out jwt.Permissions
	if p.Publish != nil {
		out.Pub = jwt.Permission{Allow: p.Publish.Allow, Deny: p.Publish.Deny}
	}
	if p.Subscribe != nil {
		out.Sub = jwt.Permission{Allow: p.Subscribe.Allow, Deny: p.Subscribe.Deny}
	}
	if p.Response != nil {
		out.Resp = &jwt.ResponsePermission{MaxMsgs: p.Response.MaxMsgs, Expires: p.Response.Expires}
	}
	return out
}

// connID names a connection on the NATS servers.
type connID struct {
	server string // server id
	cid    uint64
}

// seen keeps the connections the callout admitted for each host, for
// Kick, until they close (a disconnect event) or their user expires. Its
// admit and kick work as authenticator's.
type seen struct {
	mu    sync.Mutex
	kicks uint64
	conns map[string]map[connID]time.Time // host id → connection → expiry of its user
}

func (s *seen) admit(id string, conn connID, expires time.Time, authorize func(string) bool) bool {
	for {
		s.mu.Lock()
		kicks := s.kicks
		s.mu.Unlock()
		if !authorize(id) {
			return false
		}
		s.mu.Lock()
		if s.kicks != kicks {
			s.mu.Unlock()
			continue
		}
		set := s.conns[id]
		if set == nil {
			set = map[connID]time.Time{}
			s.conns[id] = set
		}
		now := time.Now()
		for old, exp := range set {
			if exp.Before(now) {
				delete(set, old)
			}
		}
		set[conn] = expires
		s.mu.Unlock()
		return true
	}
}

func (s *seen) kick(id string) []connID {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.kicks++
	var out []connID
	for conn := range s.conns[id] {
		out = append(out, conn)
	}
	delete(s.conns, id)
	return out
}

func (s *seen) forget(conn connID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, set := range s.conns {
		if _, ok := set[conn]; ok {
			delete(set, conn)
			if len(set) == 0 {
				delete(s.conns, id)
			}
			return
		}
	}
}

// LoadIssuer reads the issuer account key of the callout from the nkey
// seed in file path, creating it (mode 0600) if the file does not exist;
// created tells whether it did.
func LoadIssuer(path string) (kp nkeys.KeyPair, created bool, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		if kp, err = nkeys.CreateAccount(); err != nil {
			return nil, false, fmt.Errorf("issuer key: %w", err)
		}
		seed, _ := kp.Seed()
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, false, fmt.Errorf("issuer key: %w", err)
		}
		_, err = f.Write(append(seed, '\n'))
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, false, fmt.Errorf("issuer key: %w", err)
		}
		return kp, true, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("issuer key: %w", err)
	}
	if kp, err = nkeys.FromSeed([]byte(strings.TrimSpace(string(b)))); err != nil {
		return nil, false, fmt.Errorf("issuer key %s: %w", path, err)
	}
	if pub, _ := kp.PublicKey(); !nkeys.IsValidPublicAccountKey(pub) {
		return nil, false, fmt.Errorf("issuer key %s: not an account seed (SA…)", path)
	}
	return kp, false, nil
}

// CalloutSnippet returns the nats-server configuration that delegates
// authentication to the callout of issuer issuerPub, with the auth user
// phenix in account (DefaultAccount if ""), TLS files under dir.
func CalloutSnippet(issuerPub, account, dir string) string {
	if account == "" {
		account = DefaultAccount
	}
	return fmt.Sprintf(`tls {
  cert_file: %q
  key_file:  %q
  ca_file:   %q
  verify:    true
}
accounts {
  %s { users: [ { user: phenix, password: "CHANGE-ME" } ] }
  # For an at-once 'phenix hosts revoke' (--nats-system-creds), a user of
  # the system account, listed in auth_users too:
  # SYS { users: [ { nkey: "USYS…" } ] }
}
# system_account: SYS
authorization {
  auth_callout {
    issuer:     %s
    account:    %s
    auth_users: [ phenix ]  # [ phenix, "USYS…" ] with the system user
  }
}
`, dir+"/nats-cert.pem", dir+"/nats-key.pem", dir+"/ca.pem", account, issuerPub, account)
}

// StripUserInfo returns the NATS URLs in urls (separated by commas)
// without their user information.
func StripUserInfo(urls string) string {
	parts := strings.Split(urls, ",")
	for i, p := range parts {
		p = strings.TrimSpace(p)
		if u, err := url.Parse(p); err == nil && u.User != nil {
			u.User = nil
			p = u.String()
		}
		parts[i] = p
	}
	return strings.Join(parts, ",")
}

// credsOption returns the nats.go option for the credentials in file: a
// NATS .creds file (a user JWT and its seed) or a bare nkey seed.
func credsOption(file string) (nats.Option, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	if strings.Contains(string(b), "BEGIN NATS USER JWT") {
		return nats.UserCredentials(file), nil
	}
	o, err := nats.NkeyOptionFromSeed(file)
	if err != nil {
		return nil, fmt.Errorf("%s: want an nkey seed or a .creds file: %w", file, err)
	}
	return o, nil
}

// flush waits until the NATS server has processed what nc sent, within
// ctx's deadline or DefaultConnectTimeout.
func flush(ctx context.Context, nc *nats.Conn) error {
	if _, ok := ctx.Deadline(); ok {
		return nc.FlushWithContext(ctx)
	}
	return nc.FlushTimeout(DefaultConnectTimeout)
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
