package agent

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/phenixhq/phenix/internal/pki"
)

// The files and directories of the state directory.
const (
	keyFile     = "key.pem"    // the host's private key, 0600; it never leaves the host
	certFile    = "cert.pem"   // the host's certificate, from enrolment
	caFile      = "ca.pem"     // the CA the agent trusts: the pinned one
	stateFile   = "agent.json" // enrolled: see enrolled
	policyDir   = "policy"     // the kept payload (see policy.go)
	outboxDir   = "outbox"     // results and drift reports not yet acknowledged
	jobsDir     = "jobs"       // the jobs seen, for a day
	cacheDir    = "cache"      // decoded bundles (bundle.Options.CacheDir)
	convergedFn = "converged"  // the digest of the payload last converged
)

// enrolled is agent.json: what enrolment gave the host.
type enrolled struct {
	ID         string    `json:"id"`
	Server     string    `json:"server"`
	NATS       []string  `json:"nats"` // URLs of the bus
	EnrolledAt time.Time `json:"enrolled_at"`
}

// identity is what the agent connects to the bus with.
type identity struct {
	id   string
	cert tls.Certificate
	ca   *x509.CertPool
	nats []string
}

// loadIdentity reads the key, certificate, CA and agent.json of dir.
func loadIdentity(dir string) (identity, error) {
	var st enrolled
	if err := readJSON(filepath.Join(dir, stateFile), &st); err != nil {
		return identity{}, err
	}
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, certFile), filepath.Join(dir, keyFile))
	if err != nil {
		return identity{}, fmt.Errorf("host certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		return identity{}, fmt.Errorf("host certificate %s: %w", filepath.Join(dir, certFile), err)
	}
	cert.Leaf = leaf
	id, isServer, err := pki.HostID(leaf)
	if err != nil || isServer {
		return identity{}, fmt.Errorf("host certificate %s names no host: %v", filepath.Join(dir, certFile), err)
	}
	caPEM, err := os.ReadFile(filepath.Join(dir, caFile))
	if err != nil {
		return identity{}, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return identity{}, fmt.Errorf("%s: no certificate", filepath.Join(dir, caFile))
	}
	if len(st.NATS) == 0 {
		return identity{}, fmt.Errorf("%s: no bus URL", filepath.Join(dir, stateFile))
	}
	return identity{id: id, cert: cert, ca: pool, nats: st.NATS}, nil
}

// writeFileAtomic writes data to path through a temporary file in the
// same directory, synced and renamed into place: readers, and an agent
// that restarts after a crash, see the old content or the new, never a
// part.
func writeFileAtomic(path string, data []byte, perm fs.FileMode) error {
	var b [6]byte
	_, _ = rand.Read(b[:])
	tmp := filepath.Join(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-"+hex.EncodeToString(b[:]))
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// writeJSON writes v as JSON to path, atomically.
func writeJSON(path string, v any, perm fs.FileMode) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := writeFileAtomic(path, append(b, '\n'), perm); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// readJSON reads the JSON document at path into v. A missing file is an
// error satisfying errors.Is(err, fs.ErrNotExist).
func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	return nil
}

// exists reports whether path exists.
func exists(path string) bool {
	_, err := os.Stat(path)
	return !errors.Is(err, fs.ErrNotExist)
}
