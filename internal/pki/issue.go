package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"time"
)

// NewKey returns a new ECDSA P-256 private key and a certificate signing
// request for it, PEM encoded, which an agent sends to be enrolled. The
// request names no subject: SignClient would ignore one.
func NewKey() (key *ecdsa.PrivateKey, csrPEM []byte, err error) {
	key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("new key: %w", err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
	if err != nil {
		return nil, nil, fmt.Errorf("new key: certificate request: %w", err)
	}
	return key, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), nil
}

// SignClient returns the client certificate, PEM encoded, of host hostID
// for the key of the certificate signing request csrPEM, valid for
// validity (cut to the CA's end). Only the public key of the request is
// used, once its signature is checked: the certificate's common name is
// "host:"+hostID and its URI name phenix://host/<hostID>, whatever the
// request asked for.
func (ca *CA) SignClient(csrPEM []byte, hostID string, validity time.Duration) ([]byte, error) {
	if err := ValidateHostID(hostID); err != nil {
		return nil, fmt.Errorf("sign client certificate: %w", err)
	}
	der, err := decodePEM(csrPEM, "CERTIFICATE REQUEST")
	if err != nil {
		return nil, fmt.Errorf("sign client certificate of host %s: %w", hostID, err)
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return nil, fmt.Errorf("sign client certificate of host %s: %w", hostID, err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("sign client certificate of host %s: certificate request: %w", hostID, err)
	}
	if err := checkPublicKey(csr.PublicKey); err != nil {
		return nil, fmt.Errorf("sign client certificate of host %s: %w", hostID, err)
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: hostPrefix + hostID},
		URIs:        []*url.URL{hostURI(hostID)},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	cert, err := ca.sign(tmpl, csr.PublicKey, validity)
	if err != nil {
		return nil, fmt.Errorf("sign client certificate of host %s: %w", hostID, err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), nil
}

// ServerIdentity returns a new key and client certificate naming the
// server itself (common name "server", URI phenix://server), with which the
// server connects to the bus, valid for validity (cut to the CA's end).
func (ca *CA) ServerIdentity(validity time.Duration) (tls.Certificate, error) {
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: serverName},
		URIs:        []*url.URL{serverURI()},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	c, err := ca.issue(tmpl, validity)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("issue server identity: %w", err)
	}
	return c, nil
}

// IssueServer returns a new key and TLS server certificate for hosts, DNS
// names and IP addresses ("phenix.example.com", "10.0.0.5", "::1"), valid
// for validity (cut to the CA's end). The first host is also the common
// name.
func (ca *CA) IssueServer(hosts []string, validity time.Duration) (tls.Certificate, error) {
	if len(hosts) == 0 {
		return tls.Certificate{}, errors.New("issue server certificate: no host names")
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: hosts[0]},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if h == "" {
			return tls.Certificate{}, errors.New("issue server certificate: empty host name")
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	c, err := ca.issue(tmpl, validity)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("issue server certificate for %s: %w", hosts[0], err)
	}
	return c, nil
}

// issue signs tmpl for a new ECDSA P-256 key and returns both.
func (ca *CA) issue(tmpl *x509.Certificate, validity time.Duration) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	cert, err := ca.sign(tmpl, key.Public(), validity)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}, nil
}

// sign completes tmpl (serial number, validity, constraints), signs it for
// pub and returns the certificate.
func (ca *CA) sign(tmpl *x509.Certificate, pub crypto.PublicKey, validity time.Duration) (*x509.Certificate, error) {
	if validity <= 0 {
		return nil, fmt.Errorf("validity %v is not positive", validity)
	}
	serial, err := serialNumber()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl.SerialNumber = serial
	tmpl.NotBefore = now.Add(-clockSkew)
	tmpl.NotAfter = now.Add(validity)
	if tmpl.NotAfter.After(ca.cert.NotAfter) {
		tmpl.NotAfter = ca.cert.NotAfter
	}
	if !tmpl.NotAfter.After(now) {
		return nil, fmt.Errorf("CA %s expired at %s", ca.cert.Subject.CommonName, ca.cert.NotAfter.UTC().Format(time.RFC3339))
	}
	tmpl.BasicConstraintsValid = true
	tmpl.IsCA = false
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, pub, ca.key)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

// checkPublicKey refuses keys too weak to certify: RSA under 2048 bits and
// ECDSA on curves other than P-256, P-384 and P-521.
func checkPublicKey(pub crypto.PublicKey) error {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256(), elliptic.P384(), elliptic.P521():
			return nil
		}
		return fmt.Errorf("ECDSA key on curve %s, want P-256, P-384 or P-521", k.Curve.Params().Name)
	case ed25519.PublicKey:
		return nil
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return fmt.Errorf("RSA key of %d bits, want 2048 or more", k.N.BitLen())
		}
		return nil
	}
	return fmt.Errorf("unsupported public key %T", pub)
}

// serialNumber returns a random 128-bit serial number.
func serialNumber() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, fmt.Errorf("serial number: %w", err)
	}
	return n, nil
}
