package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"time"
)

// clockSkew is how long before its issue a certificate starts to be valid.
const clockSkew = 5 * time.Minute

// CA is a certificate authority: a self-signed certificate and its key. Its
// methods are safe for concurrent use.
type CA struct {
	cert *x509.Certificate
	key  crypto.Signer
}

// NewCA returns a new CA named name (its common name), valid for validity,
// with a fresh ECDSA P-256 key.
func NewCA(name string, validity time.Duration) (*CA, error) {
	if name == "" {
		return nil, errors.New("new CA: empty name")
	}
	if validity <= 0 {
		return nil, fmt.Errorf("new CA %s: validity %v is not positive", name, validity)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("new CA %s: %w", name, err)
	}
	serial, err := serialNumber()
	if err != nil {
		return nil, fmt.Errorf("new CA %s: %w", name, err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("new CA %s: %w", name, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("new CA %s: %w", name, err)
	}
	return &CA{cert: cert, key: key}, nil
}

// LoadCA returns the CA whose certificate and private key are certPEM and
// keyPEM, as written by PEM. The key may be of any type x509 can parse, in
// a "PRIVATE KEY" (PKCS #8) or "EC PRIVATE KEY" block.
func LoadCA(certPEM, keyPEM []byte) (*CA, error) {
	der, err := decodePEM(certPEM, "CERTIFICATE")
	if err != nil {
		return nil, fmt.Errorf("load CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("load CA certificate: %w", err)
	}
	if !cert.IsCA || cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		return nil, fmt.Errorf("load CA %s: the certificate is not a CA certificate", cert.Subject.CommonName)
	}
	key, err := parseKey(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("load CA %s key: %w", cert.Subject.CommonName, err)
	}
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(cert.PublicKey) {
		return nil, fmt.Errorf("load CA %s: the key does not match the certificate", cert.Subject.CommonName)
	}
	return &CA{cert: cert, key: key}, nil
}

// PEM returns the CA's certificate and its private key (PKCS #8), PEM
// encoded. The key is a secret: store it readable by the server only.
func (ca *CA) PEM() (certPEM, keyPEM []byte) {
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw})
	der, err := x509.MarshalPKCS8PrivateKey(ca.key)
	if err != nil {
		// NewCA and LoadCA only hold keys that x509 parses, and so marshals.
		panic(fmt.Sprintf("pki: marshal CA key: %v", err))
	}
	return certPEM, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// Certificate returns the CA's certificate. The caller must not modify it.
func (ca *CA) Certificate() *x509.Certificate { return ca.cert }

// Pool returns a new pool holding the CA's certificate only, for verifying
// the certificates it issued (tls.Config RootCAs and ClientCAs).
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

// parseKey reads a private key in a "PRIVATE KEY" (PKCS #8) or
// "EC PRIVATE KEY" PEM block.
func parseKey(keyPEM []byte) (crypto.Signer, error) {
	b, _ := pem.Decode(keyPEM)
	if b == nil {
		return nil, errors.New("no PEM block")
	}
	var k any
	var err error
	switch b.Type {
	case "PRIVATE KEY":
		k, err = x509.ParsePKCS8PrivateKey(b.Bytes)
	case "EC PRIVATE KEY":
		k, err = x509.ParseECPrivateKey(b.Bytes)
	default:
		return nil, fmt.Errorf("PEM block %q, want \"PRIVATE KEY\"", b.Type)
	}
	if err != nil {
		return nil, err
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("a %T cannot sign", k)
	}
	return s, nil
}

// decodePEM returns the bytes of the first PEM block of data, which must be
// of type typ.
func decodePEM(data []byte, typ string) ([]byte, error) {
	b, _ := pem.Decode(data)
	if b == nil {
		return nil, errors.New("no PEM block")
	}
	if b.Type != typ {
		return nil, fmt.Errorf("PEM block %q, want %q", b.Type, typ)
	}
	return b.Bytes, nil
}
