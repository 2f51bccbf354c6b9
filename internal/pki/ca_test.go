package pki_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"testing"
	"time"

	"github.com/phenixhq/phenix/internal/pki"
)

func TestNewCA(t *testing.T) {
	ca := newCA(t, "fleet CA", time.Hour)
	c := ca.Certificate()
	if !c.IsCA || !c.MaxPathLenZero || c.MaxPathLen != 0 || c.KeyUsage&x509.KeyUsageCertSign == 0 {
		t.Errorf("CA certificate: IsCA %v, MaxPathLen %d (zero %v), KeyUsage %b", c.IsCA, c.MaxPathLen, c.MaxPathLenZero, c.KeyUsage)
	}
	if c.Subject.CommonName != "fleet CA" {
		t.Errorf("CA common name %q, want %q", c.Subject.CommonName, "fleet CA")
	}
	if _, err := pki.NewCA("", time.Hour); err == nil {
		t.Errorf("NewCA with no name succeeded")
	}
	if _, err := pki.NewCA("x", 0); err == nil {
		t.Errorf("NewCA with no validity succeeded")
	}
}

// TestPEMRoundTrip expects a loaded CA to sign certificates that the
// original verifies.
func TestPEMRoundTrip(t *testing.T) {
	ca := newCA(t, "test CA", time.Hour)
	certPEM, keyPEM := ca.PEM()
	loaded, err := pki.LoadCA(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	if !loaded.Certificate().Equal(ca.Certificate()) {
		t.Errorf("the loaded CA has another certificate")
	}
	_, req, err := pki.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	b, err := loaded.SignClient(req, "a", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if id, _, err := pki.VerifyClient(ca.Pool(), parseCertPEM(t, b)); err != nil || id != "a" {
		t.Errorf("VerifyClient of a certificate from the loaded CA = %q, %v", id, err)
	}
}

func TestLoadCARefuses(t *testing.T) {
	ca := newCA(t, "test CA", time.Hour)
	certPEM, keyPEM := ca.PEM()
	_, otherKey := newCA(t, "other CA", time.Hour).PEM()
	srv, err := ca.IssueServer([]string{"localhost"}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	leafPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Leaf.Raw})
	leafKey, err := x509.MarshalPKCS8PrivateKey(srv.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecDER, err := x509.MarshalECPrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name      string
		cert, key []byte
		wantErr   string
	}{
		{name: "no certificate", cert: nil, key: keyPEM, wantErr: "load CA certificate: no PEM block"},
		{name: "key as certificate", cert: keyPEM, key: keyPEM, wantErr: `load CA certificate: PEM block "PRIVATE KEY", want "CERTIFICATE"`},
		{name: "no key", cert: certPEM, key: []byte("x"), wantErr: "load CA test CA key: no PEM block"},
		{name: "certificate as key", cert: certPEM, key: certPEM, wantErr: `load CA test CA key: PEM block "CERTIFICATE", want "PRIVATE KEY"`},
		{name: "another CA's key", cert: certPEM, key: otherKey, wantErr: "load CA test CA: the key does not match the certificate"},
		{name: "EC key of another", cert: certPEM, key: pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: ecDER}),
			wantErr: "load CA test CA: the key does not match the certificate"},
		{name: "not a CA", cert: leafPEM, key: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: leafKey}),
			wantErr: "load CA localhost: the certificate is not a CA certificate"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := pki.LoadCA(tt.cert, tt.key)
			if e := errString(err); e != tt.wantErr {
				t.Fatalf("LoadCA error = %q, want %q", e, tt.wantErr)
			}
			if got != nil {
				t.Errorf("LoadCA returned a CA with an error")
			}
		})
	}
}
