package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/phenixhq/phenix/internal/api"
	"github.com/phenixhq/phenix/internal/pki"
)

// identity is an enrolled simulated host: its id and its certificate with
// the private key.
type identity struct {
	id   string
	cert tls.Certificate
}

// simID returns the id of simulated host i.
func simID(i int) string { return fmt.Sprintf("sim-%05d", i) }

// identities returns the identities of hosts sim-00000 … sim-N-1: those
// cached in the ids directory (<id>.pem: the key, then the certificate),
// and the others enrolled now with the join token, in parallel, and
// cached. It returns how many it enrolled.
func (s *sim) identities(ctx context.Context, hostFacts func(string) map[string]string) ([]identity, int, error) {
	if err := os.MkdirAll(s.cfg.ids, 0o700); err != nil {
		return nil, 0, err
	}
	ids := make([]identity, s.cfg.n)
	var missing []int
	for i := range ids {
		ids[i].id = simID(i)
		b, err := os.ReadFile(filepath.Join(s.cfg.ids, ids[i].id+".pem"))
		if errors.Is(err, os.ErrNotExist) {
			missing = append(missing, i)
			continue
		}
		if err != nil {
			return nil, 0, err
		}
		// X509KeyPair takes the certificates and the key it finds among
		// the blocks of each argument.
		if ids[i].cert, err = tls.X509KeyPair(b, b); err != nil {
			return nil, 0, fmt.Errorf("identity %s: %w", ids[i].id, err)
		}
	}
	if len(missing) == 0 {
		return ids, 0, nil
	}
	if s.cfg.token == "" {
		return nil, 0, fmt.Errorf("%d hosts to enrol and no join token", len(missing))
	}
	c := api.NewClient(s.cfg.server, "", s.ca)
	c.HTTP.Transport.(*http.Transport).MaxIdleConnsPerHost = s.cfg.enrolBatch
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.cfg.enrolBatch)
	var done atomic.Int64
	t0, last := time.Now(), time.Now()
	for _, i := range missing {
		g.Go(func() error {
			var err error
			ids[i].cert, err = s.enrol(gctx, c, ids[i].id, hostFacts(ids[i].id))
			if err == nil {
				done.Add(1)
			}
			return err
		})
		if time.Since(last) > 5*time.Second {
			last = time.Now()
			d := done.Load()
			s.logf("enrolling: %d/%d, %.0f/s", d, len(missing), float64(d)/time.Since(t0).Seconds())
		}
	}
	if err := g.Wait(); err != nil {
		return nil, 0, err
	}
	return ids, len(missing), nil
}

// enrol enrols host id with a new key and caches its identity.
func (s *sim) enrol(ctx context.Context, c *api.Client, id string, facts map[string]string) (tls.Certificate, error) {
	key, csr, err := pki.NewKey()
	if err != nil {
		return tls.Certificate{}, err
	}
	var resp api.EnrolResponse
	req := api.EnrolRequest{ID: id, Hostname: id, CSR: string(csr), Token: s.cfg.token, Facts: facts}
	if err := c.Do(ctx, "POST", "/api/v1/enrol", req, &resp); err != nil {
		return tls.Certificate{}, fmt.Errorf("enrol %s: %w", id, err)
	}
	if resp.Status != "accepted" || resp.Cert == "" {
		return tls.Certificate{}, fmt.Errorf("enrol %s: status %q: %s", id, resp.Status, resp.Message)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return tls.Certificate{}, err
	}
	b := append(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), resp.Cert...)
	cert, err := tls.X509KeyPair(b, b)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("enrol %s: certificate: %w", id, err)
	}
	path := filepath.Join(s.cfg.ids, id+".pem")
	if err := os.WriteFile(path+".tmp", b, 0o600); err != nil {
		return tls.Certificate{}, err
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		return tls.Certificate{}, err
	}
	return cert, nil
}
