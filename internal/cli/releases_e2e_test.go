package cli

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/phenixhq/phenix/internal/agent"
	"github.com/phenixhq/phenix/internal/api"
	"github.com/phenixhq/phenix/internal/server"
	"github.com/phenixhq/phenix/internal/testenv"
)

// writeRelease writes a tar.gz of a release whose health file says health.
func writeRelease(t *testing.T, path, version, health string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	zw := gzip.NewWriter(f)
	tw := tar.NewWriter(zw)
	for name, content := range map[string]string{"VERSION": version + "\n", "health": health + "\n"} {
		if err := tw.WriteHeader(&tar.Header{Name: "web-" + version + "/" + name, Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(content))
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	zw.Close()
	f.Close()
}

// TestReleaseCommands drives a release through the CLI against a real
// server and agent: upload, deploy, a failed deploy switched back,
// status, history, versions and rollback.
func TestReleaseCommands(t *testing.T) {
	data := startServer(t)
	info, err := server.ReadInfo(data)
	if err != nil {
		t.Fatal(err)
	}
	cli := func(args ...string) (int, string, string) {
		t.Helper()
		return run(t, append(args, "--data", data)...)
	}
	code, out, errs := cli("tokens", "create", "--labels", "env=alpha", "--json")
	var tok api.TokenResponse
	if code != 0 || json.Unmarshal([]byte(out), &tok) != nil {
		t.Fatalf("token: %d %s %s", code, out, errs)
	}
	root := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- agent.Run(ctx, agent.Config{Server: info.URL, JoinToken: tok.Token, CAHash: info.CAHash, ID: "a-1",
			StateDir: t.TempDir(), Root: root, Log: slog.New(slog.DiscardHandler), Version: "test"})
	}()
	t.Cleanup(func() { cancel(); <-done })
	testenv.WaitFor(t, "a-1 online", func() bool {
		_, out, _ := cli("hosts")
		return strings.Contains(out, "online")
	})

	pol := t.TempDir()
	os.MkdirAll(filepath.Join(pol, "apps"), 0o755)
	os.WriteFile(filepath.Join(pol, "policy.yml"), []byte("hosts:\n  a-1:\n    vars: {root: "+root+"}\n"), 0o644)
	os.WriteFile(filepath.Join(pol, "apps/web.yml"), []byte(`artifact: {strip: 1}
checks:
  - name: health
    command: {script: "grep -qx ok {{ .vars.root }}/opt/phenix/apps/web/current/health"}
    retry: {interval: 100ms, deadline: 500ms}
check_every: 0s
environments:
  alpha: {select: env=alpha}
`), 0o644)
	if code, out, errs := cli("policy", "push", pol); code != 0 {
		t.Fatalf("push: %s %s", out, errs)
	}
	files := t.TempDir()
	for _, v := range []struct{ version, health string }{{"1.0", "ok"}, {"2.0", "ok"}, {"3.0", "broken"}} {
		p := filepath.Join(files, v.version+".tar.gz")
		writeRelease(t, p, v.version, v.health)
		if code, out, errs := cli("version", "upload", "web", v.version, p, "--note", "build "+v.version); code != 0 || !strings.Contains(out, "uploaded web "+v.version) {
			t.Fatalf("upload %s: %d %s %s", v.version, code, out, errs)
		}
	}
	for _, v := range []string{"1.0", "2.0"} {
		code, out, errs := cli("deploy", "web", v, "--env", "alpha")
		if code != 0 || !strings.Contains(out+errs, "activate") {
			t.Fatalf("deploy %s: %d\n%s\n%s", v, code, out, errs)
		}
	}
	code, out, errs = cli("deploy", "web", "3.0", "--env", "alpha")
	if code != ExitFailed || !strings.Contains(out+errs, "alpha stays on 2.0") {
		t.Errorf("deploy 3.0: %d\n%s\n%s", code, out, errs)
	}
	t.Logf("phenix deploy web 3.0 --env alpha:\n%s%s", out, errs)
	code, out, errs = cli("status", "web")
	if code != 0 || !strings.Contains(out, "2.0") || !strings.Contains(out, "failed") {
		t.Errorf("status: %d\n%s\n%s", code, out, errs)
	}
	t.Logf("phenix status web:\n%s", out)
	code, out, errs = cli("history", "web", "--steps")
	if code != 0 || !strings.Contains(out, "3.0") || !strings.Contains(out, "health") {
		t.Errorf("history: %d\n%s\n%s", code, out, errs)
	}
	t.Logf("phenix history web --steps:\n%s", out)
	code, out, errs = cli("rollback", "web", "--env", "alpha")
	if code != 0 {
		t.Errorf("rollback: %d\n%s\n%s", code, out, errs)
	}
	if l, _ := os.Readlink(filepath.Join(root, "opt/phenix/apps/web/current")); filepath.Base(l) != "1.0" {
		t.Errorf("current → %s after the rollback", l)
	}
	code, out, errs = cli("versions", "web")
	if code != 0 || !strings.Contains(out, "build 1.0") {
		t.Errorf("versions: %d\n%s\n%s", code, out, errs)
	}
	t.Logf("phenix versions web:\n%s", out)
	code, out, errs = cli("deploy", "web", "9.9", "--env", "alpha")
	if code != ExitBadInput || !strings.Contains(errs, `no version "9.9"`) {
		t.Errorf("unknown version: %d\n%s\n%s", code, out, errs)
	}
	code, out, errs = cli("unlock", "web", "--env", "alpha", "--reason", "test")
	if code == 0 || !strings.Contains(errs, "not locked") {
		t.Errorf("unlock: %d\n%s\n%s", code, out, errs)
	}
}
