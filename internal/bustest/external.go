package bustest

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nkeys"

	"github.com/phenixhq/phenix/internal/bus"
	"github.com/phenixhq/phenix/internal/pki"
	"github.com/phenixhq/phenix/internal/testenv"
)

// Password is the password of the auth user "phenix" of StartNATS.
const Password = "bustest-secret"

// NATS is an external NATS server, a separate process, configured for
// the auth callout of package bus.
type NATS struct {
	URL         string // tls://127.0.0.1:<port>
	AuthURL     string // URL with the auth user and its password
	SystemCreds string // the nkey seed file of a user of the system account
}

// StartNATS builds nats-server (testenv.NATSServerBinary; t is skipped if
// that fails) and runs it on 127.0.0.1 and a free port, with the
// configuration of bus.CalloutSnippet for issuer issuerPub: TLS with the
// files ca.pem, nats-cert.pem and nats-key.pem of dir, client
// certificates verified, the auth user "phenix" (Password) and a system
// account user. It is killed when t ends; its output goes to t.Log.
func StartNATS(t testing.TB, dir, issuerPub string) *NATS {
	t.Helper()
	bin := testenv.NATSServerBinary(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	sys, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	seed, _ := sys.Seed()
	sysPub, _ := sys.PublicKey()
	n := &NATS{URL: "tls://" + addr, AuthURL: "tls://phenix:" + Password + "@" + addr, SystemCreds: filepath.Join(dir, "sys.nk")}
	if err := os.WriteFile(n.SystemCreds, seed, 0o600); err != nil {
		t.Fatal(err)
	}
	snippet := bus.CalloutSnippet(issuerPub, "", dir)
	snippet = strings.Replace(snippet, "CHANGE-ME", Password, 1)
	snippet = strings.Replace(snippet, `# SYS { users: [ { nkey: "USYS…" } ] }`, fmt.Sprintf(`SYS { users: [ { nkey: %q } ] }`, sysPub), 1)
	snippet = strings.Replace(snippet, "# system_account: SYS", "system_account: SYS", 1)
	snippet = strings.Replace(snippet, "auth_users: [ phenix ]", fmt.Sprintf("auth_users: [ phenix, %q ]", sysPub), 1)
	conf := fmt.Sprintf("listen: %q\nserver_name: bustest\n%s", addr, snippet)
	confPath := filepath.Join(dir, "nats.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	out := &lineLog{t: t}
	cmd := exec.Command(bin, "-c", confPath)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		out.stop()
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return n
		}
		if time.Now().After(deadline) {
			t.Fatalf("bustest: nats-server does not listen on %s: %v\n%s", addr, err, conf)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// NewExternal runs an external NATS server (StartNATS) with a new CA, and
// the auth callout of package bus for it, that admits every host until
// Revoke. configure, if not nil, may change the callout's configuration,
// such as giving it the NATS server's system user (NATS.SystemCreds).
// Env.Server is nil; Env.Callout kicks.
func NewExternal(t testing.TB, configure func(*bus.CalloutConfig, *NATS)) *Env {
	t.Helper()
	ca, err := pki.NewCA("bustest CA", validity)
	if err != nil {
		t.Fatalf("bustest: %v", err)
	}
	dir := t.TempDir()
	certPEM, _ := ca.PEM()
	natsCert, err := ca.IssueServer([]string{"127.0.0.1", "localhost"}, validity)
	if err != nil {
		t.Fatalf("bustest: %v", err)
	}
	key, err := x509.MarshalPKCS8PrivateKey(natsCert.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{
		"ca.pem":        certPEM,
		"nats-cert.pem": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: natsCert.Certificate[0]}),
		"nats-key.pem":  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: key}),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	issuer, _, err := bus.LoadIssuer(filepath.Join(dir, "nats-issuer.nk"))
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := issuer.PublicKey()
	n := StartNATS(t, dir, pub)
	log := testLogger(t)
	e := &Env{
		CA:      ca,
		URL:     n.URL,
		Client:  bus.ClientConfig{ReconnectWait: 20 * time.Millisecond, ReconnectJitter: 10 * time.Millisecond, Log: log},
		revoked: map[string]bool{},
	}
	identity, err := ca.ServerIdentity(validity)
	if err != nil {
		t.Fatal(err)
	}
	cfg := bus.CalloutConfig{URL: n.AuthURL, Issuer: issuer, CA: ca.Pool(), Cert: identity, Log: log, Authorize: e.authorize}
	if configure != nil {
		configure(&cfg, n)
	}
	c, err := bus.StartCallout(t.Context(), cfg)
	if err != nil {
		t.Fatalf("bustest: %v", err)
	}
	t.Cleanup(c.Shutdown)
	e.Callout = c
	return e
}

// lineLog writes a process's output to t.Log, line by line, until stop.
type lineLog struct {
	mu   sync.Mutex
	t    testing.TB
	buf  bytes.Buffer
	done bool
}

func (l *lineLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.done {
		return len(p), nil
	}
	l.buf.Write(p)
	for {
		line, err := l.buf.ReadString('\n')
		if err != nil {
			l.buf.WriteString(line)
			break
		}
		l.t.Log("nats-server: " + strings.TrimSuffix(line, "\n"))
	}
	return len(p), nil
}

func (l *lineLog) stop() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.done = true
}
