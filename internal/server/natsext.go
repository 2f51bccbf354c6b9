package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/phenixhq/phenix/internal/bus"
)

// natsBus is how the server reaches agents: the embedded NATS server
// (bus.Server) or the auth callout of external ones (bus.Callout).
type natsBus interface {
	ClientURL() string
	Kick(hostID string) int
	Shutdown()
}

var (
	_ natsBus = (*bus.Server)(nil)
	_ natsBus = (*bus.Callout)(nil)
)

// startCallout starts the auth callout of the external NATS servers of
// cfg.NATS. It creates, on first start, the issuer key and a TLS
// certificate for the NATS servers, and keeps the configuration they need
// in s.natsSetup.
func (s *Server) startCallout(ctx context.Context, names []string) (*bus.Callout, error) {
	cfg := s.cfg
	issuer, created, err := bus.LoadIssuer(filepath.Join(cfg.DataDir, "nats-issuer.nk"))
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	pub, _ := issuer.PublicKey()
	if err := s.writeNATSCert(append(names, natsHosts(cfg.NATS, cfg.NATSAdvertise)...)); err != nil {
		return nil, err
	}
	s.natsSetup = bus.CalloutSnippet(pub, "", cfg.DataDir)
	if created {
		s.log.Info("created the NATS auth callout issuer key; add the auth_callout block to the NATS servers' configuration (phenix server prints it)", "issuer", pub)
	}
	identity, err := s.ca.ServerIdentity(397 * 24 * time.Hour)
	if err != nil {
		return nil, fmt.Errorf("server: identity: %w", err)
	}
	c, err := bus.StartCallout(ctx, bus.CalloutConfig{
		URL: cfg.NATS, Creds: cfg.NATSCreds, SystemCreds: cfg.NATSSystemCreds,
		Issuer: issuer, CA: s.ca.Pool(), Cert: identity, Log: cfg.Log,
		Authorize: s.hosts.authorized,
	})
	if err != nil {
		return nil, fmt.Errorf("server: %w (the NATS servers need the auth_callout block of issuer %s)", err, pub)
	}
	s.natsAdvertise = cfg.NATSAdvertise
	if len(s.natsAdvertise) == 0 {
		s.natsAdvertise = strings.Split(bus.StripUserInfo(cfg.NATS), ",")
	}
	return c, nil
}

// writeNATSCert writes, if they do not exist, nats-cert.pem and
// nats-key.pem: a certificate of the fleet CA for the external NATS
// servers, since agents trust that CA only.
func (s *Server) writeNATSCert(names []string) error {
	certPath := filepath.Join(s.cfg.DataDir, "nats-cert.pem")
	keyPath := filepath.Join(s.cfg.DataDir, "nats-key.pem")
	if _, err := os.Stat(certPath); err == nil {
		return nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("server: %w", err)
	}
	cert, err := s.ca.IssueServer(serverNames(names), 397*24*time.Hour)
	if err != nil {
		return fmt.Errorf("server: NATS certificate: %w", err)
	}
	key, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		return fmt.Errorf("server: NATS certificate: %w", err)
	}
	if err := writeFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: key}), 0o600); err != nil {
		return err
	}
	if err := writeFile(certPath, certPEM(cert), 0o644); err != nil {
		return err
	}
	s.log.Info("created a certificate for the NATS servers", "cert", certPath, "key", keyPath)
	return nil
}

func certPEM(c tls.Certificate) []byte {
	var out []byte
	for _, der := range c.Certificate {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	return out
}

// natsHosts returns the host names of the NATS URLs in urls (separated by
// commas) and advertise.
func natsHosts(urls string, advertise []string) []string {
	var out []string
	for _, u := range append(strings.Split(urls, ","), advertise...) {
		p, err := url.Parse(strings.TrimSpace(u))
		if err != nil || p.Host == "" {
			continue
		}
		host := p.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		if host != "" {
			out = append(out, host)
		}
	}
	return out
}

// NATSSetup returns, when the server uses external NATS servers, the
// configuration they need (see docs/fleet.md), and "" otherwise.
func (s *Server) NATSSetup() string { return s.natsSetup }
