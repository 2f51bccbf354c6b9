package pki_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/phenixhq/phenix/internal/pki"
)

func TestValidateHostID(t *testing.T) {
	for _, tt := range []struct {
		id string
		ok bool
	}{
		{id: "a", ok: true},
		{id: "0", ok: true},
		{id: "web-1", ok: true},
		{id: "web1.example.com", ok: true},
		{id: "db_2", ok: true},
		{id: "a..b", ok: true},
		{id: "a-", ok: true},
		{id: strings.Repeat("a", 63), ok: true},
		{id: ""},
		{id: strings.Repeat("a", 64)},
		{id: "Web"},
		{id: "-a"},
		{id: ".a"},
		{id: "_a"},
		{id: "a b"},
		{id: "a/b"},
		{id: "a:b"},
		{id: "a*"},
		{id: "a>"},
		{id: "é"},
		{id: "a\n"},
	} {
		t.Run(tt.id, func(t *testing.T) {
			err := pki.ValidateHostID(tt.id)
			if (err == nil) != tt.ok {
				t.Fatalf("ValidateHostID(%q) = %v, want ok %v", tt.id, err, tt.ok)
			}
			if err != nil && !errors.Is(err, pki.ErrInvalidHostID) {
				t.Errorf("ValidateHostID(%q) = %v, want an ErrInvalidHostID", tt.id, err)
			}
		})
	}
}

// selfSigned returns a certificate with common name cn and URI names uris,
// signed by its own key: HostID reads names and checks no signature.
func selfSigned(t *testing.T, cn string, uris ...string) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	for _, s := range uris {
		u, err := url.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		tmpl.URIs = append(tmpl.URIs, u)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func TestHostID(t *testing.T) {
	for _, tt := range []struct {
		name     string
		cn       string
		uris     []string
		id       string
		isServer bool
		wantErr  string
	}{
		{name: "host", cn: "host:web-1", uris: []string{"phenix://host/web-1"}, id: "web-1"},
		{name: "dotted host", cn: "host:web1.example.com", uris: []string{"phenix://host/web1.example.com"}, id: "web1.example.com"},
		{name: "other URI schemes ignored", cn: "host:a", uris: []string{"spiffe://x/y", "phenix://host/a"}, id: "a"},
		{name: "server", cn: "server", uris: []string{"phenix://server"}, isServer: true},
		{name: "host without URI", cn: "host:a", wantErr: `certificate names no phenix identity: common name "host:a" without URI name phenix://host/a`},
		{name: "host with another host's URI", cn: "host:a", uris: []string{"phenix://host/b"}, wantErr: `certificate names no phenix identity: common name "host:a" without URI name phenix://host/a`},
		{name: "host with the server URI", cn: "host:a", uris: []string{"phenix://server"}, wantErr: `certificate names no phenix identity: common name "host:a" without URI name phenix://host/a`},
		{name: "server with a host URI", cn: "server", uris: []string{"phenix://host/server"}, wantErr: `certificate names no phenix identity: common name "server" without URI name phenix://server`},
		{name: "two URIs", cn: "host:a", uris: []string{"phenix://host/a", "phenix://host/a"}, wantErr: "certificate names no phenix identity: two phenix URI names"},
		{name: "empty id", cn: "host:", uris: []string{"phenix://host/"}, wantErr: `certificate names no phenix identity: invalid host id "": want 1 to 63 characters`},
		{name: "bad id", cn: "host:A", uris: []string{"phenix://host/A"}, wantErr: `certificate names no phenix identity: invalid host id "A": want a-z, 0-9, '.', '_' or '-', starting with a letter or digit`},
		{name: "wildcard id", cn: "host:*", uris: []string{"phenix://host/*"}, wantErr: `certificate names no phenix identity: invalid host id "*": want a-z, 0-9, '.', '_' or '-', starting with a letter or digit`},
		{name: "other common name", cn: "admin", uris: []string{"phenix://server"}, wantErr: `certificate names no phenix identity: common name "admin"`},
		{name: "no common name", wantErr: `certificate names no phenix identity: common name ""`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			id, isServer, err := pki.HostID(selfSigned(t, tt.cn, tt.uris...))
			if e := errString(err); e != tt.wantErr {
				t.Fatalf("HostID error = %q, want %q", e, tt.wantErr)
			}
			if err != nil && !errors.Is(err, pki.ErrNoIdentity) {
				t.Errorf("HostID error %v is not an ErrNoIdentity", err)
			}
			if id != tt.id || isServer != tt.isServer {
				t.Errorf("HostID = %q, %v, want %q, %v", id, isServer, tt.id, tt.isServer)
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
