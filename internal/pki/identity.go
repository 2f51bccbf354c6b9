package pki

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

const (
	hostPrefix = "host:"  // the common name of a host is hostPrefix + id
	serverName = "server" // the common name of the server identity
	uriScheme  = "phenix" // the scheme of identity URIs
	maxHostID  = 63       // the longest host id, in bytes
)

// ErrNoIdentity is returned by HostID and VerifyClient for a certificate
// that names no phenix identity.
var ErrNoIdentity = errors.New("certificate names no phenix identity")

// ErrInvalidHostID is returned for a host id that ValidateHostID refuses.
var ErrInvalidHostID = errors.New("invalid host id")

// ValidateHostID returns an error wrapping ErrInvalidHostID unless id is 1
// to 63 characters of a-z, 0-9, '.', '_' and '-', the first a letter or a
// digit.
func ValidateHostID(id string) error {
	if id == "" || len(id) > maxHostID {
		return fmt.Errorf("%w %q: want 1 to %d characters", ErrInvalidHostID, id, maxHostID)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		case i > 0 && (c == '.' || c == '_' || c == '-'):
		default:
			return fmt.Errorf("%w %q: want a-z, 0-9, '.', '_' or '-', starting with a letter or digit", ErrInvalidHostID, id)
		}
	}
	return nil
}

// HostID returns the identity that cert names: a host id, or isServer for
// the server's own identity. The common name and the one phenix:// URI name
// must agree. HostID does not check who signed cert: see VerifyClient.
func HostID(cert *x509.Certificate) (id string, isServer bool, err error) {
	var uri *url.URL
	for _, u := range cert.URIs {
		if u.Scheme != uriScheme {
			continue
		}
		if uri != nil {
			return "", false, fmt.Errorf("%w: two %s URI names", ErrNoIdentity, uriScheme)
		}
		uri = u
	}
	cn := cert.Subject.CommonName
	var want *url.URL
	switch {
	case cn == serverName:
		isServer, want = true, serverURI()
	case strings.HasPrefix(cn, hostPrefix):
		id = strings.TrimPrefix(cn, hostPrefix)
		if err := ValidateHostID(id); err != nil {
			return "", false, fmt.Errorf("%w: %w", ErrNoIdentity, err)
		}
		want = hostURI(id)
	default:
		return "", false, fmt.Errorf("%w: common name %q", ErrNoIdentity, cn)
	}
	if uri == nil || uri.String() != want.String() {
		return "", false, fmt.Errorf("%w: common name %q without URI name %s", ErrNoIdentity, cn, want)
	}
	return id, isServer, nil
}

// VerifyClient checks that cert was issued by a CA in roots for client
// authentication and is valid now, and returns the identity it names (see
// HostID). A TLS server that requires and verifies client certificates
// does the same checks of the chain during the handshake.
func VerifyClient(roots *x509.CertPool, cert *x509.Certificate) (id string, isServer bool, err error) {
	_, err = cert.Verify(x509.VerifyOptions{
		Roots:     roots,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	if err != nil {
		return "", false, fmt.Errorf("verify client certificate %q: %w", cert.Subject.CommonName, err)
	}
	return HostID(cert)
}

// hostURI returns the URI name of host id, phenix://host/<id>.
func hostURI(id string) *url.URL {
	return &url.URL{Scheme: uriScheme, Host: "host", Path: "/" + id}
}

// serverURI returns the URI name of the server identity, phenix://server.
func serverURI() *url.URL {
	return &url.URL{Scheme: uriScheme, Host: serverName}
}
