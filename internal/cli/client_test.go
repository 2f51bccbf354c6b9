package cli

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/phenixhq/phenix/internal/server"
)

// writeInfo writes a server.json, and the admin token it names, in a new
// data directory.
func writeInfo(t *testing.T, url string) string {
	t.Helper()
	dir := t.TempDir()
	tok := filepath.Join(dir, "admin.token")
	if err := os.WriteFile(tok, []byte("phxa_local\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(server.Info{URL: url, CA: filepath.Join(dir, "ca.pem"), Token: tok})
	if err := os.WriteFile(filepath.Join(dir, "server.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// resolveWith parses args as a fleet command's flags and resolves them.
func resolveWith(t *testing.T, args ...string) (clientSettings, error) {
	t.Helper()
	var cf clientFlags
	cmd := &cobra.Command{Use: "x", RunE: func(*cobra.Command, []string) error { return nil }}
	cf.register(cmd)
	if err := cmd.ParseFlags(args); err != nil {
		t.Fatal(err)
	}
	return cf.resolve()
}

func TestClientSettings(t *testing.T) {
	for _, k := range []string{"PHENIX_SERVER", "PHENIX_TOKEN", "PHENIX_CA", "PHENIX_DATA"} {
		t.Setenv(k, "")
	}
	t.Setenv("XDG_DATA_HOME", t.TempDir()) // no server.json in the default place

	// Nothing anywhere. As root the default place is /var/lib/phenix/server,
	// where a server of this machine may live: point at an empty one.
	t.Setenv("PHENIX_DATA", t.TempDir())
	if _, err := resolveWith(t); !errors.Is(err, errNoServer) {
		t.Fatalf("no server: error = %v, want %v", err, errNoServer)
	}
	t.Setenv("PHENIX_DATA", "")
	if !strings.Contains(errNoServer.Error(), "run `phenix up`, or set --server and --token (PHENIX_SERVER, PHENIX_TOKEN)") {
		t.Errorf("errNoServer = %q", errNoServer)
	}

	// The local server, from --data or PHENIX_DATA.
	local := writeInfo(t, "https://127.0.0.1:4680")
	want := clientSettings{URL: "https://127.0.0.1:4680", Token: "phxa_local", CA: filepath.Join(local, "ca.pem")}
	if got, err := resolveWith(t, "--data", local); err != nil || got != want {
		t.Errorf("--data: %+v, %v; want %+v", got, err, want)
	}
	t.Setenv("PHENIX_DATA", local)
	if got, err := resolveWith(t); err != nil || got != want {
		t.Errorf("PHENIX_DATA: %+v, %v; want %+v", got, err, want)
	}

	// Flags and variables beat server.json.
	t.Setenv("PHENIX_TOKEN", "phxa_env")
	if got, _ := resolveWith(t, "--ca", "/etc/my-ca.pem"); got.Token != "phxa_env" || got.CA != "/etc/my-ca.pem" || got.URL != want.URL {
		t.Errorf("PHENIX_TOKEN, --ca: %+v", got)
	}
	if got, _ := resolveWith(t, "--token", "phxa_flag"); got.Token != "phxa_flag" {
		t.Errorf("--token: %+v", got)
	}

	// A remote server, from PHENIX_SERVER: server.json is not read.
	t.Setenv("PHENIX_SERVER", "https://phenix.example.com:4680")
	t.Setenv("PHENIX_CA", "/etc/phenix-ca.pem")
	got, err := resolveWith(t)
	if err != nil || got != (clientSettings{URL: "https://phenix.example.com:4680", Token: "phxa_env", CA: "/etc/phenix-ca.pem"}) {
		t.Errorf("PHENIX_SERVER: %+v, %v", got, err)
	}
	// … unless --data says which local server.
	if got, _ := resolveWith(t, "--data", local); got.URL != want.URL {
		t.Errorf("--data with PHENIX_SERVER set: %+v, want the local server", got)
	}
	// A server without a token is bad input.
	t.Setenv("PHENIX_TOKEN", "")
	_, err = resolveWith(t, "--server", "https://x:1")
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != ExitBadInput || !strings.Contains(err.Error(), "no API token for https://x:1: set --token or PHENIX_TOKEN") {
		t.Errorf("--server without a token: %v", err)
	}
}

func TestNoServerMessage(t *testing.T) {
	for _, k := range []string{"PHENIX_SERVER", "PHENIX_TOKEN", "PHENIX_CA"} {
		t.Setenv(k, "")
	}
	empty := t.TempDir()
	code, _, errOut := run(t, "hosts", "--data", empty)
	if code != ExitFailed || !strings.Contains(errOut, "phenix: no phenix server: run `phenix up`, or set --server and --token") {
		t.Errorf("hosts without a server: exit %d\n%s", code, errOut)
	}
	// A fleet apply says why it wanted a server.
	code, _, errOut = run(t, "apply", "role=web", "--data", empty)
	if code != ExitFailed || !strings.Contains(errOut, `"role=web" is no file or directory, so phenix apply took it for a selector of hosts; no phenix server`) {
		t.Errorf("apply role=web without a server: exit %d\n%s", code, errOut)
	}
}

func TestApplyFlagsOfTheOtherForm(t *testing.T) {
	b := writeBundle(t, "promises: []\n")
	code, _, errOut := run(t, "apply", b, "--timeout", "5s")
	if code != ExitBadInput || !strings.Contains(errOut, "--timeout is for a fleet apply") {
		t.Errorf("local apply --timeout: exit %d\n%s", code, errOut)
	}
	code, _, errOut = run(t, "apply", "role=web", "--var", "a=b")
	if code != ExitBadInput || !strings.Contains(errOut, "--var is for bundles applied on this host") {
		t.Errorf("fleet apply --var: exit %d\n%s", code, errOut)
	}
}
