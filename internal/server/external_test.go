package server_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/phenixhq/phenix/internal/api"
	"github.com/phenixhq/phenix/internal/bus"
	"github.com/phenixhq/phenix/internal/bustest"
	"github.com/phenixhq/phenix/internal/pki"
	"github.com/phenixhq/phenix/internal/server"
	"github.com/phenixhq/phenix/internal/testenv"
)

// TestExternalNATS runs the server with an external nats-server (a
// separate process) whose auth callout it answers: an agent enrols, runs a
// job, and is cut off at once when revoked; a host the server does not
// know is refused.
func TestExternalNATS(t *testing.T) {
	ctx := t.Context()
	data := t.TempDir()
	// The CA, the NATS servers' certificate and the issuer key exist
	// before the NATS server starts, as after a first start of phenix.
	ca, err := pki.NewCA("phenix fleet CA", 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	caPEM, caKey := ca.PEM()
	natsCert, err := ca.IssueServer([]string{"127.0.0.1", "localhost"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	key, err := x509.MarshalPKCS8PrivateKey(natsCert.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{
		"ca.pem": caPEM, "ca.key": caKey,
		"nats-cert.pem": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: natsCert.Certificate[0]}),
		"nats-key.pem":  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: key}),
	} {
		if err := os.WriteFile(filepath.Join(data, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	issuer, _, err := bus.LoadIssuer(filepath.Join(data, "nats-issuer.nk"))
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := issuer.PublicKey()
	n := bustest.StartNATS(t, data, pub)

	srv, err := server.Start(ctx, server.Config{
		DataDir: data, Listen: freeAddr(t), NATS: n.AuthURL, NATSSystemCreds: n.SystemCreds,
		Heartbeat: 300 * time.Millisecond, Log: testLog(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	f := &fleet{t: t, data: data, srv: srv, agents: map[string]context.CancelFunc{}, done: map[string]chan error{}, roots: map[string]string{}}
	t.Cleanup(func() {
		f.mu.Lock()
		for id, cancel := range f.agents {
			cancel()
			<-f.done[id]
		}
		f.mu.Unlock()
		srv.Close()
	})
	tok, _ := srv.AdminToken()
	f.c = api.NewClient(srv.Info().URL, tok, ca.Pool())
	if got := srv.Info().NATS; len(got) != 1 || got[0] != n.URL {
		t.Errorf("Info().NATS = %v, want [%s] (the URL without its password)", got, n.URL)
	}
	if !strings.Contains(srv.NATSSetup(), "issuer:     "+pub) {
		t.Errorf("NATSSetup does not name the issuer %s:\n%s", pub, srv.NATSSetup())
	}

	f.agent("web-1", f.token(nil).Token)
	f.waitStatus("web-1", "online")
	j, _ := f.run(api.JobRequest{Kind: "run", Selector: "web-1", Command: []string{"echo", "hello over external NATS"}})
	if r := results(j)["web-1"]; j.Result != "ok" || !strings.Contains(r.Output, "hello over external NATS") {
		t.Fatalf("job %s %s, result %+v", j.Result, j.Summary, r)
	}

	// A certificate of the fleet CA for a host the server does not know.
	if nc, err := bus.Connect(ctx, n.URL, ca.Pool(), hostCert(t, ca, "ghost"), ""); !errors.Is(err, nats.ErrAuthorization) {
		if nc != nil {
			nc.Close()
		}
		t.Errorf("unknown host connects with error %v, want %v", err, nats.ErrAuthorization)
	}

	// Revocation closes the agent's connection on the NATS server at once.
	sysOpt, err := nats.NkeyOptionFromSeed(n.SystemCreds)
	if err != nil {
		t.Fatal(err)
	}
	identity, err := ca.ServerIdentity(time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	sys, err := bus.Connect(ctx, n.URL, ca.Pool(), identity, "test-system", sysOpt)
	if err != nil {
		t.Fatal(err)
	}
	defer sys.Close()
	if got := connections(t, sys, "host:web-1"); got != 1 {
		t.Fatalf("web-1 has %d connections, want 1", got)
	}
	t0 := time.Now()
	if err := f.c.Do(ctx, "POST", "/api/v1/hosts/web-1/revoke", nil, nil); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, "web-1 cut off", func() bool { return connections(t, sys, "host:web-1") == 0 })
	if d := time.Since(t0); d > time.Second {
		t.Errorf("web-1 cut off after %v, want at once", d)
	}
}

// connections returns how many connections of user the NATS server has,
// asked through its system account.
func connections(t *testing.T, sys *nats.Conn, user string) int {
	t.Helper()
	req, _ := json.Marshal(natsserver.ConnzEventOptions{ConnzOptions: natsserver.ConnzOptions{Username: true, Account: bus.DefaultAccount}})
	m, err := sys.Request("$SYS.REQ.SERVER.PING.CONNZ", req, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var resp struct {
		Data natsserver.Connz `json:"data"`
	}
	if err := json.Unmarshal(m.Data, &resp); err != nil {
		t.Fatal(err)
	}
	count := 0
	for _, c := range resp.Data.Conns {
		if c.AuthorizedUser == user {
			count++
		}
	}
	return count
}

// hostCert returns a key and certificate of the CA for host id.
func hostCert(t *testing.T, ca *pki.CA, id string) tls.Certificate {
	t.Helper()
	key, req, err := pki.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	certPEM, err := ca.SignClient(req, id, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode(certPEM)
	leaf, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{leaf.Raw}, PrivateKey: key, Leaf: leaf}
}
