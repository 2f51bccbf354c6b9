package pki_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/phenixhq/phenix/internal/pki"
)

func newCA(t *testing.T, name string, validity time.Duration) *pki.CA {
	t.Helper()
	ca, err := pki.NewCA(name, validity)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

// summary is what the tests compare of a certificate.
type summary struct {
	Issuer, CN     string
	URIs, DNSNames []string
	IPs, Emails    []string
	IsCA           bool
	KeyUsage       x509.KeyUsage
	ExtKeyUsage    []x509.ExtKeyUsage
	Extensions     int // beyond those the summary shows
}

func summarize(c *x509.Certificate) summary {
	s := summary{
		Issuer: c.Issuer.CommonName, CN: c.Subject.CommonName, DNSNames: c.DNSNames, Emails: c.EmailAddresses,
		IsCA: c.IsCA, KeyUsage: c.KeyUsage, ExtKeyUsage: c.ExtKeyUsage,
	}
	for _, u := range c.URIs {
		s.URIs = append(s.URIs, u.String())
	}
	for _, ip := range c.IPAddresses {
		s.IPs = append(s.IPs, ip.String())
	}
	known := map[string]bool{
		"2.5.29.15": true, // key usage
		"2.5.29.37": true, // extended key usage
		"2.5.29.19": true, // basic constraints
		"2.5.29.17": true, // subject alternative names
		"2.5.29.35": true, // authority key id
		"2.5.29.14": true, // subject key id
	}
	for _, e := range c.Extensions {
		if !known[e.Id.String()] {
			s.Extensions++
		}
	}
	return s
}

func parseCertPEM(t *testing.T, b []byte) *x509.Certificate {
	t.Helper()
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "CERTIFICATE" {
		t.Fatalf("not a PEM certificate: %q", b)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// csr returns a PEM certificate request for key asking for tmpl.
func csr(t *testing.T, tmpl *x509.CertificateRequest, key crypto.Signer) []byte {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

var hostWant = summary{
	Issuer: "test CA", CN: "host:web1.example.com", URIs: []string{"phenix://host/web1.example.com"},
	KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
}

func TestSignClient(t *testing.T) {
	ca := newCA(t, "test CA", time.Hour)
	key, req, err := pki.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	certPEM, err := ca.SignClient(req, "web1.example.com", 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	cert := parseCertPEM(t, certPEM)
	if diff := cmp.Diff(hostWant, summarize(cert)); diff != "" {
		t.Errorf("client certificate (-want +got):\n%s", diff)
	}
	if !key.PublicKey.Equal(cert.PublicKey) {
		t.Errorf("the certificate is not for the key of the request")
	}
	if d := cert.NotAfter.Sub(cert.NotBefore); d != 15*time.Minute {
		t.Errorf("certificate valid for %v, want 15m (10m and 5m of clock skew)", d)
	}
	id, isServer, err := pki.VerifyClient(ca.Pool(), cert)
	if err != nil || id != "web1.example.com" || isServer {
		t.Errorf("VerifyClient = %q, %v, %v, want web1.example.com, false, nil", id, isServer, err)
	}
}

// TestSignClientIgnoresRequest forges a request asking to be the server, a
// CA, and more: the certificate names the host the CA chose and nothing
// else.
func TestSignClientIgnoresRequest(t *testing.T) {
	ca := newCA(t, "test CA", time.Hour)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTrue, err := asn1.Marshal(struct{ IsCA bool }{true})
	if err != nil {
		t.Fatal(err)
	}
	forged := csr(t, &x509.CertificateRequest{
		Subject:        pkix.Name{CommonName: "server", Organization: []string{"phenix"}},
		DNSNames:       []string{"phenix.example.com"},
		EmailAddresses: []string{"root@example.com"},
		IPAddresses:    []net.IP{net.IPv4(10, 0, 0, 1)},
		URIs:           []*url.URL{{Scheme: "phenix", Host: "server"}, {Scheme: "phenix", Host: "host", Path: "/db-1"}},
		ExtraExtensions: []pkix.Extension{
			{Id: asn1.ObjectIdentifier{2, 5, 29, 19}, Critical: true, Value: caTrue},
			{Id: asn1.ObjectIdentifier{1, 2, 3, 4}, Value: []byte{5, 0}},
		},
	}, key)
	certPEM, err := ca.SignClient(forged, "web1.example.com", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	cert := parseCertPEM(t, certPEM)
	if diff := cmp.Diff(hostWant, summarize(cert)); diff != "" {
		t.Errorf("certificate for a forged request (-want +got):\n%s", diff)
	}
	if len(cert.Subject.Organization) != 0 {
		t.Errorf("certificate subject %q, want the common name only", cert.Subject)
	}
}

func TestSignClientRefuses(t *testing.T) {
	ca := newCA(t, "test CA", time.Hour)
	_, good, err := pki.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(good)
	tampered := append([]byte(nil), blk.Bytes...)
	tampered[len(tampered)-1] ^= 0xff // in the signature
	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p224, err := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name     string
		csr      []byte
		id       string
		validity time.Duration
		wantErr  string // a prefix
	}{
		{name: "not PEM", csr: []byte("hello"), id: "a", wantErr: "sign client certificate of host a: no PEM block"},
		{name: "certificate", csr: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: blk.Bytes}), id: "a",
			wantErr: `sign client certificate of host a: PEM block "CERTIFICATE", want "CERTIFICATE REQUEST"`},
		{name: "garbage", csr: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: []byte{1, 2, 3}}), id: "a",
			wantErr: "sign client certificate of host a: asn1: structure error"},
		{name: "bad signature", csr: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: tampered}), id: "a",
			wantErr: "sign client certificate of host a: certificate request: x509: ECDSA verification failure"},
		{name: "weak RSA", csr: csr(t, &x509.CertificateRequest{}, rsa1024), id: "a",
			wantErr: "sign client certificate of host a: RSA key of 1024 bits, want 2048 or more"},
		{name: "P-224", csr: csr(t, &x509.CertificateRequest{}, p224), id: "a",
			wantErr: "sign client certificate of host a: ECDSA key on curve P-224, want P-256, P-384 or P-521"},
		{name: "bad id", csr: good, id: "Web", wantErr: `sign client certificate: invalid host id "Web": want a-z, 0-9, '.', '_' or '-', starting with a letter or digit`},
		{name: "no id", csr: good, id: "", wantErr: `sign client certificate: invalid host id "": want 1 to 63 characters`},
		{name: "zero validity", csr: good, id: "a", validity: -1, wantErr: "sign client certificate of host a: validity 0s is not positive"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			v := tt.validity
			switch v {
			case 0:
				v = time.Minute
			case -1:
				v = 0
			}
			got, err := ca.SignClient(tt.csr, tt.id, v)
			if e := errString(err); err == nil || !strings.HasPrefix(e, tt.wantErr) {
				t.Fatalf("SignClient error = %q, want %q", e, tt.wantErr)
			}
			if got != nil {
				t.Errorf("SignClient returned a certificate with an error")
			}
		})
	}
}

func TestVerifyClient(t *testing.T) {
	ca := newCA(t, "test CA", time.Hour)
	other := newCA(t, "other CA", time.Hour)
	_, req, err := pki.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	sign := func(ca *pki.CA, id string) *x509.Certificate {
		b, err := ca.SignClient(req, id, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		return parseCertPEM(t, b)
	}
	srvID, err := ca.ServerIdentity(time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	otherSrvID, err := other.ServerIdentity(time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	tlsCert, err := ca.IssueServer([]string{"localhost"}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name     string
		cert     *x509.Certificate
		id       string
		isServer bool
		wantErr  string // a prefix
	}{
		{name: "host", cert: sign(ca, "a"), id: "a"},
		{name: "server identity", cert: srvID.Leaf, isServer: true},
		{name: "host of another CA", cert: sign(other, "a"), wantErr: `verify client certificate "host:a": x509: certificate signed by unknown authority`},
		{name: "server identity of another CA", cert: otherSrvID.Leaf, wantErr: `verify client certificate "server": x509: certificate signed by unknown authority`},
		{name: "TLS server certificate", cert: tlsCert.Leaf, wantErr: `verify client certificate "localhost": x509: certificate specifies an incompatible key usage`},
		{name: "the CA itself", cert: ca.Certificate(), wantErr: `certificate names no phenix identity: common name "test CA"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			id, isServer, err := pki.VerifyClient(ca.Pool(), tt.cert)
			if e := errString(err); !strings.HasPrefix(e, tt.wantErr) || (tt.wantErr == "") != (e == "") {
				t.Fatalf("VerifyClient error = %q, want %q", e, tt.wantErr)
			}
			if id != tt.id || isServer != tt.isServer {
				t.Errorf("VerifyClient = %q, %v, want %q, %v", id, isServer, tt.id, tt.isServer)
			}
		})
	}
}

func TestServerIdentity(t *testing.T) {
	ca := newCA(t, "test CA", time.Hour)
	c, err := ca.ServerIdentity(time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	want := summary{
		Issuer: "test CA", CN: "server", URIs: []string{"phenix://server"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if diff := cmp.Diff(want, summarize(c.Leaf)); diff != "" {
		t.Errorf("server identity (-want +got):\n%s", diff)
	}
}

func TestIssueServer(t *testing.T) {
	ca := newCA(t, "test CA", time.Hour)
	c, err := ca.IssueServer([]string{"phenix.example.com", "localhost", "127.0.0.1", "::1"}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	want := summary{
		Issuer: "test CA", CN: "phenix.example.com", DNSNames: []string{"phenix.example.com", "localhost"}, IPs: []string{"127.0.0.1", "::1"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if diff := cmp.Diff(want, summarize(c.Leaf)); diff != "" {
		t.Errorf("server certificate (-want +got):\n%s", diff)
	}
	for _, name := range []string{"phenix.example.com", "localhost", "127.0.0.1", "::1"} {
		if _, err := c.Leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: name}); err != nil {
			t.Errorf("verify for %s: %v", name, err)
		}
	}
	if _, err := c.Leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: "10.0.0.1"}); err == nil {
		t.Errorf("the certificate is valid for 10.0.0.1")
	}
	if _, err := ca.IssueServer(nil, time.Minute); err == nil {
		t.Errorf("IssueServer(nil) succeeded")
	}
	if _, err := ca.IssueServer([]string{"a", ""}, time.Minute); err == nil {
		t.Errorf(`IssueServer(["a", ""]) succeeded`)
	}
}

// TestValidityCut expects leaves to end with their CA at the latest.
func TestValidityCut(t *testing.T) {
	ca := newCA(t, "test CA", time.Hour)
	_, req, err := pki.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	b, err := ca.SignClient(req, "a", 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := parseCertPEM(t, b).NotAfter, ca.Certificate().NotAfter; !got.Equal(want) {
		t.Errorf("client certificate ends at %v, want the CA's end %v", got, want)
	}
	c, err := ca.IssueServer([]string{"localhost"}, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Leaf.NotAfter, ca.Certificate().NotAfter; !got.Equal(want) {
		t.Errorf("server certificate ends at %v, want the CA's end %v", got, want)
	}
}
