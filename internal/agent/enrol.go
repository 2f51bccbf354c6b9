package agent

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/phenixhq/phenix/internal/api"
	"github.com/phenixhq/phenix/internal/facts"
	"github.com/phenixhq/phenix/internal/pki"
	"github.com/phenixhq/phenix/internal/selector"
)

// ErrCAMismatch is returned when the CA a server presents does not have
// the hash the agent was given.
var ErrCAMismatch = errors.New("CA certificate does not match the CA hash")

// enrol enrols the host unless the state directory holds a certificate:
// it pins the CA, makes or reuses the host's key and asks the server for a
// certificate until it is accepted, refused or ctx ends.
func (a *agent) enrol(ctx context.Context) error {
	dir := a.cfg.StateDir
	if exists(filepath.Join(dir, certFile)) {
		return nil
	}
	if a.cfg.Server == "" {
		return errors.New("enrol: no server to enrol with (the state directory holds no certificate)")
	}
	var lastLog time.Time
	caPEM, pool, err := a.trustCA(ctx)
	for err != nil {
		var te *transientError
		if !errors.As(err, &te) || ctx.Err() != nil {
			return fmt.Errorf("enrol with %s: %w", a.cfg.Server, err)
		}
		if time.Since(lastLog) >= time.Minute {
			a.log.WarnContext(ctx, "enrolment: cannot fetch the CA, trying again", "server", a.cfg.Server, "err", err, "every", a.tune.enrolPoll)
			lastLog = time.Now()
		}
		if err := sleep(ctx, a.tune.enrolPoll); err != nil {
			return err
		}
		caPEM, pool, err = a.trustCA(ctx)
	}
	if err := writeFileAtomic(filepath.Join(dir, caFile), caPEM, 0o644); err != nil {
		return fmt.Errorf("enrol: %w", err)
	}
	key, keyPEM, err := loadOrMakeKey(filepath.Join(dir, keyFile))
	if err != nil {
		return fmt.Errorf("enrol: %w", err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
	if err != nil {
		return fmt.Errorf("enrol: certificate request: %w", err)
	}
	f := facts.Gather(a.cfg.Root)
	req := api.EnrolRequest{
		ID:       a.cfg.ID,
		Hostname: f.Hostname,
		CSR:      string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})),
		Token:    a.cfg.JoinToken,
		Labels:   a.cfg.Labels,
		Facts:    selector.FlattenFacts(f.Map()),
	}
	client := pinnedClient(pool)
	log := a.log.With("server", a.cfg.Server)
	lastLog = time.Time{}
	for {
		resp, err := postEnrol(ctx, client, a.cfg.Server, req)
		var refused *enrolRefused
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.As(err, &refused):
			return fmt.Errorf("enrolment of host %s refused by %s: %w", a.cfg.ID, a.cfg.Server, err)
		case err != nil:
			if time.Since(lastLog) >= time.Minute {
				log.WarnContext(ctx, "enrolment: server unreachable, trying again", "err", err, "every", a.tune.enrolPoll)
				lastLog = time.Now()
			}
		case resp.Status == "accepted":
			id, err := a.saveEnrolment(resp, caPEM, keyPEM)
			if err != nil {
				return fmt.Errorf("enrolment of host %s: %w", a.cfg.ID, err)
			}
			log.InfoContext(ctx, "host enrolled", "host", id, "nats", resp.NATS)
			return nil
		case resp.Status == "pending":
			if time.Since(lastLog) >= time.Minute {
				log.InfoContext(ctx, "host is pending: waiting for an administrator to accept it",
					"host", a.cfg.ID, "command", "phenix hosts accept "+a.cfg.ID, "message", resp.Message)
				lastLog = time.Now()
			}
		default:
			return fmt.Errorf("enrolment of host %s: server %s answered status %q", a.cfg.ID, a.cfg.Server, resp.Status)
		}
		if err := sleep(ctx, a.tune.enrolPoll); err != nil {
			return err
		}
	}
}

// saveEnrolment checks an accepted enrolment and writes agent.json, the
// CA and, last, the certificate, whose presence means the host is
// enrolled.
func (a *agent) saveEnrolment(resp enrolResponse, caPEM, keyPEM []byte) (string, error) {
	dir := a.cfg.StateDir
	pair, err := tls.X509KeyPair([]byte(resp.Cert), keyPEM)
	if err != nil {
		return "", fmt.Errorf("certificate from the server: %w", err)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return "", fmt.Errorf("certificate from the server: %w", err)
	}
	id, isServer, err := pki.HostID(leaf)
	if err != nil || isServer {
		return "", fmt.Errorf("certificate from the server names no host: %v", err)
	}
	nats := resp.NATS
	if len(nats) == 0 {
		return "", errors.New("the server gave no bus URL")
	}
	// The server's CA may add certificates to the pinned one (a CA file
	// that only verifies the HTTPS server); the pinned one stays.
	caPEM = mergePEM(caPEM, []byte(resp.CA))
	if err := writeFileAtomic(filepath.Join(dir, caFile), caPEM, 0o644); err != nil {
		return "", err
	}
	st := enrolled{ID: id, Server: a.cfg.Server, NATS: nats, EnrolledAt: time.Now().UTC()}
	if err := writeJSON(filepath.Join(dir, stateFile), st, 0o644); err != nil {
		return "", err
	}
	if err := writeFileAtomic(filepath.Join(dir, certFile), []byte(resp.Cert), 0o644); err != nil {
		return "", err
	}
	return id, nil
}

// trustCA returns the CA the agent pins, PEM, from Config.CAFile, from
// the server checked against Config.CAHash, or from the state directory.
func (a *agent) trustCA(ctx context.Context) ([]byte, *x509.CertPool, error) {
	var (
		b   []byte
		err error
	)
	switch {
	case a.cfg.CAFile != "":
		if b, err = os.ReadFile(a.cfg.CAFile); err != nil {
			return nil, nil, fmt.Errorf("CA file: %w", err)
		}
		if a.cfg.CAHash != "" {
			if b, err = pinCA(b, a.cfg.CAHash); err != nil {
				return nil, nil, fmt.Errorf("CA file %s: %w", a.cfg.CAFile, err)
			}
		}
	case a.cfg.CAHash != "":
		if b, err = fetchCA(ctx, a.cfg.Server, a.cfg.CAHash); err != nil {
			return nil, nil, err
		}
	default:
		if b, err = os.ReadFile(filepath.Join(a.cfg.StateDir, caFile)); errors.Is(err, fs.ErrNotExist) {
			return nil, nil, errors.New("no CA to trust: give the CA hash that phenix prints with a join token, or a CA file")
		} else if err != nil {
			return nil, nil, err
		}
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, nil, errors.New("the CA holds no PEM certificate")
	}
	return b, pool, nil
}

// fetchCA fetches the CA of the server at base, GET /api/v1/ca, without
// verifying the server (the agent trusts nothing yet), and returns the
// certificate, PEM, whose DER has hash "sha256:<hex>". A CA that does not
// match is refused with ErrCAMismatch: the server is not the one the hash
// was made for, or someone is in between.
func fetchCA(ctx context.Context, base, hash string) ([]byte, error) {
	if _, err := parseCAHash(hash); err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	// The answer is checked against the hash instead.
	tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12} //nolint:gosec
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	defer tr.CloseIdleConnections()
	url := strings.TrimRight(base, "/") + "/api/v1/ca"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("fetch CA: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, &transientError{fmt.Errorf("fetch CA: %w", err)}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, &transientError{fmt.Errorf("fetch CA from %s: %w", url, err)}
	}
	if resp.StatusCode != http.StatusOK {
		return nil, &transientError{fmt.Errorf("fetch CA from %s: %s", url, resp.Status)}
	}
	b, err := pinCA(body, hash)
	if err != nil {
		return nil, fmt.Errorf("CA of %s: %w", base, err)
	}
	return b, nil
}

// transientError is an error worth trying again: the server is not up,
// or not answering yet.
type transientError struct{ err error }

func (e *transientError) Error() string { return e.err.Error() }
func (e *transientError) Unwrap() error { return e.err }

// pinCA returns, PEM, the certificate of pemBytes whose DER has hash, or
// an error wrapping ErrCAMismatch that names the hash it found.
func pinCA(pemBytes []byte, hash string) ([]byte, error) {
	want, err := parseCAHash(hash)
	if err != nil {
		return nil, err
	}
	var got []string
	for rest := pemBytes; ; {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		sum := sha256.Sum256(blk.Bytes)
		if subtle.ConstantTimeCompare(sum[:], want) == 1 {
			return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: blk.Bytes}), nil
		}
		got = append(got, "sha256:"+hex.EncodeToString(sum[:]))
	}
	if len(got) == 0 {
		return nil, errors.New("no PEM certificate")
	}
	return nil, fmt.Errorf("%w %s: it has %s (refusing it: the server is not the one the hash was made for)",
		ErrCAMismatch, hash, strings.Join(got, ", "))
}

// parseCAHash returns the digest of "sha256:<64 hex digits>".
func parseCAHash(hash string) ([]byte, error) {
	hexPart, ok := strings.CutPrefix(hash, "sha256:")
	b, err := hex.DecodeString(hexPart)
	if !ok || err != nil || len(b) != sha256.Size {
		return nil, fmt.Errorf("CA hash %q: want sha256:<64 hex digits>", hash)
	}
	return b, nil
}

// pinnedClient returns an HTTP client that trusts the servers pool's CAs
// issued, and no other.
func pinnedClient(pool *x509.CertPool) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// enrolResponse is an api.EnrolResponse or an api.Error: the server may
// answer either.
type enrolResponse struct {
	api.EnrolResponse
	Error string `json:"error"`
	Field string `json:"field"`
}

// enrolRefused is a refused enrolment: a 4xx answer that is not pending.
type enrolRefused struct {
	code int
	msg  string
}

func (e *enrolRefused) Error() string {
	return fmt.Sprintf("%d %s: %s", e.code, http.StatusText(e.code), e.msg)
}

// postEnrol sends one enrolment request. A 4xx answer other than pending
// is an *enrolRefused; a 5xx or a network error is another error, worth
// trying again.
func postEnrol(ctx context.Context, client *http.Client, base string, in api.EnrolRequest) (enrolResponse, error) {
	body, err := json.Marshal(in)
	if err != nil {
		return enrolResponse{}, err
	}
	url := strings.TrimRight(base, "/") + "/api/v1/enrol"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return enrolResponse{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return enrolResponse{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return enrolResponse{}, fmt.Errorf("POST %s: %w", url, err)
	}
	var out enrolResponse
	decodeErr := json.Unmarshal(b, &out)
	switch {
	case resp.StatusCode >= 500:
		return out, fmt.Errorf("POST %s: %s", url, resp.Status)
	case out.Status == "pending":
		return out, nil
	case resp.StatusCode >= 400:
		msg := out.Error
		if out.Field != "" {
			msg = out.Field + ": " + msg
		}
		if msg == "" {
			msg = strings.TrimSpace(out.Message)
		}
		if msg == "" {
			msg = strings.TrimSpace(string(b))
		}
		return out, &enrolRefused{code: resp.StatusCode, msg: msg}
	case decodeErr != nil:
		return out, fmt.Errorf("POST %s: decode answer: %w", url, decodeErr)
	}
	return out, nil
}

// loadOrMakeKey returns the key at path, or makes one and writes it there
// (0600) first: a pending host asks again with the same key.
func loadOrMakeKey(path string) (*ecdsa.PrivateKey, []byte, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		blk, _ := pem.Decode(b)
		if blk == nil {
			return nil, nil, fmt.Errorf("%s: no PEM key", path)
		}
		k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", path, err)
		}
		ek, ok := k.(*ecdsa.PrivateKey)
		if !ok {
			return nil, nil, fmt.Errorf("%s: not an ECDSA key", path)
		}
		return ek, b, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, nil, err
	}
	key, _, err := pki.NewKey()
	if err != nil {
		return nil, nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	b = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	if err := writeFileAtomic(path, b, 0o600); err != nil {
		return nil, nil, fmt.Errorf("write %s: %w", path, err)
	}
	return key, b, nil
}

// mergePEM returns a followed by the certificates of b that a lacks.
func mergePEM(a, b []byte) []byte {
	have := map[string]bool{}
	for rest := a; ; {
		var blk *pem.Block
		if blk, rest = pem.Decode(rest); blk == nil {
			break
		}
		have[string(blk.Bytes)] = true
	}
	out := bytes.Clone(a)
	for rest := b; ; {
		var blk *pem.Block
		if blk, rest = pem.Decode(rest); blk == nil {
			break
		}
		if blk.Type == "CERTIFICATE" && !have[string(blk.Bytes)] {
			have[string(blk.Bytes)] = true
			out = append(out, pem.EncodeToMemory(blk)...)
		}
	}
	return out
}

// sleep waits for d or until ctx ends, and returns ctx.Err() then.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
