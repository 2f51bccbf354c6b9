package cli

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/phenixhq/phenix/internal/api"
	"github.com/phenixhq/phenix/internal/server"
)

// errNoServer is what a fleet command says when it finds no server to talk
// to.
var errNoServer = errors.New("no phenix server: run `phenix up`, or set --server and --token (PHENIX_SERVER, PHENIX_TOKEN)")

// clientFlags are the flags of every fleet command: how to reach the
// server.
type clientFlags struct {
	server, token, ca, data string
	flags                   *pflag.FlagSet // to tell a flag given from its default
}

func (cf *clientFlags) register(cmd *cobra.Command) {
	fl := cmd.PersistentFlags()
	cf.flags = fl
	fl.StringVar(&cf.server, "server", "", "the phenix server's `URL` (env PHENIX_SERVER; default: the local server's, from --data)")
	fl.StringVar(&cf.token, "token", "", "the API `TOKEN` (env PHENIX_TOKEN; default: the local server's admin token)")
	fl.StringVar(&cf.ca, "ca", "", "trust the CA certificate in `FILE`, PEM (env PHENIX_CA; default: the local server's, else the system's roots)")
	fl.StringVar(&cf.data, "data", "", "the local server's data `DIR`, where phenix up wrote server.json (env PHENIX_DATA; default "+server.DefaultDataDir()+")")
}

// clientSettings is where a client goes and what it presents.
type clientSettings struct {
	URL, Token, CA string
}

// resolve merges flags, PHENIX_* variables and the server.json of the
// local data directory: a flag beats a variable, which beats the local
// server. An explicit --data picks the local server even when
// PHENIX_SERVER is set.
func (cf *clientFlags) resolve() (clientSettings, error) {
	changed := func(name string) bool {
		return cf.flags != nil && cf.flags.Changed(name)
	}
	pick := func(flag, env string) string {
		if flag != "" {
			return flag
		}
		return os.Getenv(env)
	}
	s := clientSettings{Token: pick(cf.token, "PHENIX_TOKEN"), CA: pick(cf.ca, "PHENIX_CA")}
	switch {
	case cf.server != "":
		s.URL = cf.server
	case !changed("data"):
		s.URL = os.Getenv("PHENIX_SERVER")
	}
	if s.URL != "" {
		if s.Token == "" {
			return s, badInput(fmt.Errorf("no API token for %s: set --token or PHENIX_TOKEN", s.URL))
		}
		return s, nil
	}
	dir := pick(cf.data, "PHENIX_DATA")
	if dir == "" {
		dir = server.DefaultDataDir()
	}
	info, err := server.ReadInfo(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return s, errNoServer
	}
	if err != nil {
		return s, fmt.Errorf("%w\n(reading %s: %v)", errNoServer, dir, err)
	}
	if info.URL == "" {
		return s, fmt.Errorf("%w\n(%s/server.json names no URL)", errNoServer, dir)
	}
	s.URL = info.URL
	if s.CA == "" {
		s.CA = info.CA
	}
	if s.Token == "" {
		b, err := os.ReadFile(info.Token)
		if err != nil {
			return s, fmt.Errorf("admin token of the local server: %w (run as the server's user, or set --token)", err)
		}
		s.Token = strings.TrimSpace(string(b))
	}
	return s, nil
}

// client returns an API client built from the flags.
func (cf *clientFlags) client() (*api.Client, error) {
	s, err := cf.resolve()
	if err != nil {
		return nil, err
	}
	return s.client()
}

// client returns an API client with these settings.
func (s clientSettings) client() (*api.Client, error) {
	var pool *x509.CertPool
	if s.CA != "" {
		pem, err := os.ReadFile(s.CA)
		if err != nil {
			return nil, badInput(fmt.Errorf("CA certificate: %w", err))
		}
		pool = x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, badInput(fmt.Errorf("CA certificate %s: no PEM certificate in it", s.CA))
		}
	}
	return api.NewClient(s.URL, s.Token, pool), nil
}

// apiErr gives an error from the API its exit status: a request the server
// refused as bad input exits 64 with the server's message.
func apiErr(err error) error {
	if err == nil {
		return nil
	}
	if api.IsBadInput(err) {
		return badInput(err)
	}
	var uae x509.UnknownAuthorityError
	var cve *tls.CertificateVerificationError
	if errors.As(err, &uae) || errors.As(err, &cve) {
		return fmt.Errorf("%w\n(the server's certificate is not trusted: set --ca or PHENIX_CA to its ca.pem)", err)
	}
	return err
}
