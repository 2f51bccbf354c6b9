package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/phenixhq/phenix/internal/api"
	"github.com/phenixhq/phenix/internal/journal"
	"github.com/phenixhq/phenix/internal/server"
)

// startServer starts a phenix server in this process, on loopback ports,
// and returns its data directory: the CLI finds it there with --data, as
// it finds the one phenix up starts.
func startServer(t *testing.T) string {
	t.Helper()
	for _, k := range []string{"PHENIX_SERVER", "PHENIX_TOKEN", "PHENIX_CA", "PHENIX_DATA"} {
		t.Setenv(k, "")
	}
	dir := t.TempDir()
	// Not t.Context(): it ends before the cleanups run, and Close would
	// then run twice at once.
	srv, err := server.Start(context.Background(), server.Config{
		DataDir: dir, Listen: "127.0.0.1:0", NATSListen: "127.0.0.1:0",
		Heartbeat: time.Second, Log: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return dir
}

// runIn runs the CLI with stdin.
func runIn(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Run(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

// TestFleetCommands runs the fleet commands against a real server with no
// agent: another test (internal/server) covers jobs on agents.
func TestFleetCommands(t *testing.T) {
	data := startServer(t)
	// cli runs phenix with the flag that finds the local server, before
	// the "--" that starts a command to run.
	cli := func(args ...string) (int, string, string) {
		t.Helper()
		i := slices.Index(args, "--")
		if i < 0 {
			i = len(args)
		}
		return run(t, slices.Insert(slices.Clone(args), i, "--data", data)...)
	}
	expect := func(code int, stdout, stderr string, wantCode int, wants ...string) {
		t.Helper()
		if code != wantCode {
			t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, wantCode, stdout, stderr)
		}
		for _, w := range wants {
			if !strings.Contains(stdout+stderr, w) {
				t.Errorf("output lacks %q\nstdout:\n%s\nstderr:\n%s", w, stdout, stderr)
			}
		}
	}

	t.Run("hosts of an empty fleet", func(t *testing.T) {
		code, stdout, stderr := cli("hosts")
		expect(code, stdout, stderr, ExitOK, "0 hosts")
		code, stdout, stderr = cli("hosts", "--json")
		var list api.HostList
		if code != ExitOK || json.Unmarshal([]byte(stdout), &list) != nil || len(list.Hosts) != 0 {
			t.Errorf("hosts --json: exit %d\n%s%s", code, stdout, stderr)
		}
	})
	t.Run("selectors", func(t *testing.T) {
		code, stdout, stderr := cli("hosts", "nosuchkey=1")
		expect(code, stdout, stderr, ExitOK, "0 hosts matched nosuchkey=1")
		code, stdout, stderr = cli("hosts", "role in (web")
		expect(code, stdout, stderr, ExitBadInput, `phenix: selector: col 13: expected "," or ")"`)
		code, stdout, stderr = cli("run", "role~web", "--", "true")
		expect(code, stdout, stderr, ExitBadInput, `phenix: selector: col 5: unknown operator "~"`)
	})
	t.Run("tokens", func(t *testing.T) {
		code, stdout, stderr := cli("tokens", "create", "--labels", "role=web,env=prod", "--max-uses", "3")
		expect(code, stdout, stderr, ExitOK, "phx_", "phenix agent --server https://", "--ca-hash sha256:", "shown only once", "labels env=prod,role=web", "at most 3 uses")
		code, stdout, _ = cli("tokens", "create", "--ttl", "0", "--json")
		var tok api.TokenResponse
		if code != ExitOK || json.Unmarshal([]byte(stdout), &tok) != nil || !strings.HasPrefix(tok.Token, "phx_") || !tok.ExpiresAt.IsZero() {
			t.Errorf("tokens create --json: exit %d\n%s", code, stdout)
		}
		code, stdout, stderr = cli("tokens", "create", "--labels", "Role=web")
		expect(code, stdout, stderr, ExitBadInput, "--labels: col 1:")
	})
	t.Run("run and apply on no host", func(t *testing.T) {
		code, stdout, stderr := cli("run", "*", "--", "uptime")
		expect(code, stdout, stderr, ExitOK, "0 hosts matched *")
		code, stdout, stderr = cli("apply", "role=web", "--dry-run")
		expect(code, stdout, stderr, ExitOK, "0 hosts matched role=web")
		code, stdout, stderr = cli("run", "*", "--batch", "0", "--", "uptime")
		expect(code, stdout, stderr, ExitBadInput, "batch: ")
	})
	t.Run("jobs", func(t *testing.T) {
		code, stdout, stderr := cli("jobs")
		expect(code, stdout, stderr, ExitOK, "ID", "KIND", "run", "apply", "0 hosts matched")
		code, stdout, _ = cli("jobs", "--json")
		var jobs []api.Job
		if code != ExitOK || json.Unmarshal([]byte(stdout), &jobs) != nil || len(jobs) < 2 {
			t.Fatalf("jobs --json: exit %d\n%s", code, stdout)
		}
		var runJob string
		for _, j := range jobs {
			if j.Kind == "run" {
				runJob = j.ID
			}
		}
		code, stdout, stderr = cli("job", runJob)
		expect(code, stdout, stderr, ExitOK, "job "+runJob+": run uptime", "selector  * (0 hosts)", "actor     admin")
		code, stdout, stderr = cli("job", "j-nosuchjob")
		expect(code, stdout, stderr, ExitBadInput)
	})
	t.Run("policy", func(t *testing.T) {
		code, stdout, stderr := cli("policy", "list")
		expect(code, stdout, stderr, ExitOK, "no policy pushed yet")
		code, stdout, stderr = cli("policy", "push", "../../examples/policy")
		expect(code, stdout, stderr, ExitOK, "policy revision 1 (", ") pushed to 0 hosts")
		first := stdout
		code, stdout, stderr = cli("policy", "push", "../../examples/policy")
		expect(code, stdout, stderr, ExitOK)
		if stdout != first {
			t.Errorf("pushing the same policy again printed\n%s\nwant the same revision:\n%s", stdout, first)
		}
		code, stdout, stderr = cli("policy", "list")
		expect(code, stdout, stderr, ExitOK, "REVISION", "admin")

		bad := t.TempDir()
		if err := os.WriteFile(filepath.Join(bad, "policy.yml"), []byte("bundles:\n  - select: \"*\"\n    apply: [nosuch]\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		code, stdout, stderr = cli("policy", "push", bad)
		expect(code, stdout, stderr, ExitBadInput, filepath.Join(bad, "policy.yml")+":3:")
	})
	t.Run("ops", func(t *testing.T) {
		code, stdout, stderr := cli("op", "list")
		expect(code, stdout, stderr, ExitOK, "NAME", "restart-app", "Restart the application server", "service:enum")
		code, stdout, stderr = cli("op", "run", "restart-app", "--param", "service=nope")
		expect(code, stdout, stderr, ExitBadInput, "params: ")
		code, stdout, stderr = cli("op", "run", "no-such-op")
		expect(code, stdout, stderr, ExitBadInput, `unknown operation "no-such-op"`)
		code, stdout, stderr = cli("op", "run", "restart-app", "--param", "service=worker", "nosuchkey=1")
		expect(code, stdout, stderr, ExitOK, "0 hosts matched nosuchkey=1")
		code, stdout, stderr = cli("op", "run", "restart-app", "--param", "novalue")
		expect(code, stdout, stderr, ExitBadInput, `--param "novalue": expected key=value`)
	})
	t.Run("secrets", func(t *testing.T) {
		code, stdout, stderr := runIn(t, "s3cret\n", "secret", "set", "db_password", "--select", "role=db", "--data", data)
		expect(code, stdout, stderr, ExitOK, "secret db_password set for role=db")
		code, stdout, stderr = cli("secret", "list")
		expect(code, stdout, stderr, ExitOK, "db_password", "role=db", "admin")
		if strings.Contains(stdout, "s3cret") {
			t.Errorf("secret list shows the value:\n%s", stdout)
		}
		code, stdout, stderr = runIn(t, "", "secret", "set", "empty", "--data", data)
		expect(code, stdout, stderr, ExitBadInput, "empty value")
		code, stdout, stderr = cli("secret", "rm", "db_password", "--select", "role=db")
		expect(code, stdout, stderr, ExitOK, "secret db_password removed for role=db")
		code, stdout, stderr = cli("secret", "rm", "db_password", "--select", "role=db")
		expect(code, stdout, stderr, ExitBadInput, "no secret db_password")
	})
	t.Run("hosts that do not exist", func(t *testing.T) {
		code, stdout, stderr := cli("hosts", "label", "ghost", "role=web")
		expect(code, stdout, stderr, ExitBadInput, `no host "ghost"`)
		code, stdout, stderr = cli("hosts", "accept", "ghost")
		expect(code, stdout, stderr, ExitBadInput, `no host "ghost"`)
		code, stdout, stderr = cli("hosts", "label", "ghost", "role")
		expect(code, stdout, stderr, ExitBadInput, "expected key=value to set a label or key- to remove one")
	})
	t.Run("drift", func(t *testing.T) {
		code, stdout, stderr := cli("drift")
		expect(code, stdout, stderr, ExitOK, "no drift since 24h")
		code, stdout, stderr = cli("drift", "--since", "yesterday")
		expect(code, stdout, stderr, ExitBadInput, "--since")
	})
	t.Run("journal", func(t *testing.T) {
		code, stdout, stderr := cli("journal")
		expect(code, stdout, stderr, ExitOK, "SEQ", "token.create", "policy.push", "command.run", "secret.set", "admin")
		code, stdout, _ = cli("journal", "--json", "--actor", "admin", "--since", "1h")
		var es []journal.Entry
		if code != ExitOK || json.Unmarshal([]byte(stdout), &es) != nil || len(es) == 0 {
			t.Fatalf("journal --json: exit %d\n%s", code, stdout)
		}
		if strings.Contains(stdout, "s3cret") {
			t.Errorf("the journal holds a secret value:\n%s", stdout)
		}
		code, stdout, stderr = cli("journal", "verify")
		expect(code, stdout, stderr, ExitOK, "journal intact: ")
	})
}
