package pki_test

import (
	"crypto/tls"
	"net"
	"testing"
	"time"

	"github.com/phenixhq/phenix/internal/pki"
)

// clientCert returns the TLS certificate of host id, issued by ca the way
// an agent enrols: its own key, a request, a signed certificate.
func clientCert(t *testing.T, ca *pki.CA, id string) tls.Certificate {
	t.Helper()
	key, req, err := pki.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	certPEM, err := ca.SignClient(req, id, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	c := tls.Certificate{PrivateKey: key}
	c.Leaf = parseCertPEM(t, certPEM)
	c.Certificate = [][]byte{c.Leaf.Raw}
	return c
}

// handshake runs a mutual TLS handshake over a pipe and returns the errors
// of both sides and the server's view of the connection.
func handshake(t *testing.T, server, client *tls.Config) (serverErr, clientErr error, st tls.ConnectionState) {
	t.Helper()
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	deadline := time.Now().Add(10 * time.Second)
	a.SetDeadline(deadline)
	b.SetDeadline(deadline)
	done := make(chan error, 1)
	go func() {
		c := tls.Client(b, client)
		err := c.Handshake()
		if err == nil {
			_, err = c.Read(make([]byte, 1)) // a TLS 1.3 client learns of a refused certificate here
		}
		b.Close()
		done <- err
	}()
	s := tls.Server(a, server)
	serverErr = s.Handshake()
	if serverErr == nil {
		st = s.ConnectionState()
		s.Write([]byte{1})
	}
	a.Close()
	return serverErr, <-done, st
}

func TestMutualTLS(t *testing.T) {
	ca := newCA(t, "test CA", time.Hour)
	other := newCA(t, "other CA", time.Hour)
	srvCert, err := ca.IssueServer([]string{"bus.example.com"}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	serverConf := &tls.Config{
		Certificates: []tls.Certificate{srvCert},
		ClientCAs:    ca.Pool(),
		ClientAuth:   tls.RequireAndVerifyClientCert,
		MinVersion:   tls.VersionTLS13,
	}
	for _, tt := range []struct {
		name    string
		cert    tls.Certificate
		force   bool // present the certificate even to a server that did not ask for its CA
		wantID  string
		refused bool
	}{
		{name: "host", cert: clientCert(t, ca, "web-1"), wantID: "web-1"},
		{name: "host of another CA", cert: clientCert(t, other, "web-1"), refused: true},
		{name: "host of another CA, forced", cert: clientCert(t, other, "web-1"), force: true, refused: true},
		{name: "server certificate as client", cert: srvCert, refused: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			clientConf := &tls.Config{
				RootCAs:      ca.Pool(),
				Certificates: []tls.Certificate{tt.cert},
				ServerName:   "bus.example.com",
				MinVersion:   tls.VersionTLS13,
			}
			if tt.force {
				clientConf.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &tt.cert, nil }
			}
			serverErr, clientErr, st := handshake(t, serverConf, clientConf)
			if tt.refused {
				// Go's client does not even offer a certificate that the
				// server's CAs did not issue; the server refuses either way.
				if serverErr == nil {
					t.Errorf("the server accepted the client")
				}
				t.Logf("server: %v; client: %v", serverErr, clientErr)
				if clientErr == nil {
					t.Errorf("the client was not told it was refused")
				}
				return
			}
			if serverErr != nil || clientErr != nil {
				t.Fatalf("handshake: server %v, client %v", serverErr, clientErr)
			}
			id, isServer, err := pki.HostID(st.PeerCertificates[0])
			if err != nil || id != tt.wantID || isServer {
				t.Errorf("HostID of the peer = %q, %v, %v, want %q", id, isServer, err, tt.wantID)
			}
		})
	}
}
