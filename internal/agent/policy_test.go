package agent

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/phenixhq/phenix/internal/bustest"
	"github.com/phenixhq/phenix/internal/engine"
	"github.com/phenixhq/phenix/internal/journal"
	"github.com/phenixhq/phenix/internal/policy"
	"github.com/phenixhq/phenix/internal/testenv"
	"github.com/phenixhq/phenix/internal/wire"
)

// secretValue is the value of the secret var of testPayload.
const secretValue = "s3cr3t-Value"

// testPayload returns a payload with one bundle that promises
// /etc/app.conf, holding a secret.
func testPayload(rev string) policy.Payload {
	return policy.Payload{
		Revision: rev,
		Bundles:  []string{"web"},
		Files: map[string][]byte{"bundles/web/app.yml": []byte(`promises:
  - file: /etc/app.conf
    mode: "0644"
    content: "user=app\npassword={{ .vars.db_password }}\nrevision=` + rev + `\n"
`)},
		Vars:     map[string]any{"db_password": secretValue, "user": "app"},
		Secrets:  []string{"db_password"},
		Interval: time.Hour,
	}
}

func wantConf(rev string) string {
	return "user=app\npassword=" + secretValue + "\nrevision=" + rev + "\n"
}

// fileHolds waits until path holds want.
func fileHolds(t *testing.T, path, want string) {
	t.Helper()
	testenv.WaitFor(t, path+" to hold "+want, func() bool {
		b, err := os.ReadFile(path)
		return err == nil && string(b) == want
	})
}

// converged waits until a heartbeat says the agent converged revision
// with result.
func converged(t *testing.T, srv *fakeServer, revision, result string) {
	t.Helper()
	testenv.WaitFor(t, "a heartbeat of revision "+revision+", "+result, func() bool {
		hb := srv.lastBeat()
		return hb.Revision == revision && hb.LastResult == result
	})
}

// TestPolicy expects a policy payload to be applied under Root and kept
// on disk, and the kept payload to be converged when the agent starts
// with no server to talk to.
func TestPolicy(t *testing.T) {
	env := bustest.NewServer(t)
	srv := newFakeServer(t, env)
	cfg := Config{StateDir: enrolledDir(t, env, "web-1"), Root: t.TempDir()}
	stop := startAgent(t, cfg)
	testenv.WaitFor(t, "the agent's hello", func() bool { return srv.helloCount() > 0 })
	srv.setPolicy("web-1", testPayload("r1"))
	conf := filepath.Join(cfg.Root, "etc/app.conf")
	fileHolds(t, conf, wantConf("r1"))
	converged(t, srv, "r1", wire.StatusChanged)

	var kp keptPolicy
	if err := readJSON(filepath.Join(cfg.StateDir, keptFile), &kp); err != nil {
		t.Fatal(err)
	}
	if kp.Revision != "r1" || kp.Digest != testPayload("r1").Digest() || kp.Interval != time.Hour {
		t.Errorf("kept %+v", kp)
	}
	if _, err := os.Stat(filepath.Join(cfg.StateDir, policyDir, "bundles/web/app.yml")); err != nil {
		t.Errorf("bundle not kept: %v", err)
	}
	if st, err := os.Stat(filepath.Join(cfg.StateDir, keptFile)); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("%s holds secrets: mode %v, %v", keptFile, st.Mode(), err)
	}
	// The replaced content is backed up under Root, as phenix apply does.
	if err := os.WriteFile(conf, []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	fileHolds(t, conf, wantConf("r1"))

	// A new revision replaces the payload.
	srv.setPolicy("web-1", testPayload("r2"))
	fileHolds(t, conf, wantConf("r2"))
	// So does a secret set, which keeps the revision.
	pl := testPayload("r2")
	pl.Vars["db_password"] = "other-Secret"
	srv.setPolicy("web-1", pl)
	fileHolds(t, conf, "user=app\npassword=other-Secret\nrevision=r2\n")
	srv.setPolicy("web-1", testPayload("r2"))
	fileHolds(t, conf, wantConf("r2"))
	stop()

	// Without a server, the agent converges what it keeps.
	env.Server.Shutdown()
	if err := os.Remove(conf); err != nil {
		t.Fatal(err)
	}
	startAgent(t, cfg)
	fileHolds(t, conf, wantConf("r2"))
	if backups, _ := filepath.Glob(filepath.Join(cfg.Root, "var/lib/phenix/backups/etc/app.conf.*")); len(backups) == 0 {
		t.Errorf("no backup under the root")
	}
}

// TestDrift expects a hand edit of a managed file to be repaired within a
// second and reported as drift, with the diff and the secrets masked, and
// the agent to settle after its own writes.
func TestDrift(t *testing.T) {
	srv, cfg := startFleet(t)
	srv.setPolicy("web-1", testPayload("r1"))
	conf := filepath.Join(cfg.Root, "etc/app.conf")
	fileHolds(t, conf, wantConf("r1"))
	converged(t, srv, "r1", wire.StatusChanged)
	if d := srv.driftList(); len(d) != 0 {
		t.Fatalf("a new payload reported as drift: %+v", d)
	}

	for i, edit := range []func() error{
		func() error { return os.WriteFile(conf, []byte("user=root\npassword="+secretValue+"\n"), 0o644) },
		func() error { // as an editor saves: a new file renamed over it
			tmp := conf + ".swp"
			if err := os.WriteFile(tmp, []byte("hacked\n"), 0o644); err != nil {
				return err
			}
			return os.Rename(tmp, conf)
		},
		func() error { return os.Chmod(conf, 0o600) },
	} {
		t0 := time.Now()
		if err := edit(); err != nil {
			t.Fatal(err)
		}
		testenv.WaitFor(t, "the edit to be repaired", func() bool {
			b, err := os.ReadFile(conf)
			st, err2 := os.Stat(conf)
			return err == nil && err2 == nil && string(b) == wantConf("r1") && st.Mode().Perm() == 0o644
		})
		if took := time.Since(t0); took > time.Second {
			t.Errorf("edit %d repaired after %v, want less than a second", i, took)
		}
		testenv.WaitFor(t, "a drift report", func() bool { return len(srv.driftList()) == i+1 })
		d := srv.driftList()[i]
		if d.Trigger != triggerWatch || d.Result != wire.StatusChanged || d.Revision != "r1" || d.ID == "" {
			t.Errorf("drift %+v", d)
		}
		if strings.Contains(string(d.Changes), secretValue) {
			t.Errorf("drift changes show the secret: %s", d.Changes)
		}
		var changes []engine.Result
		if err := json.Unmarshal(d.Changes, &changes); err != nil {
			t.Fatal(err)
		}
		if len(changes) != 1 || changes[0].Status != engine.Changed || changes[0].Diff == nil {
			t.Fatalf("changes %s", d.Changes)
		}
		if i == 0 && !(strings.Contains(changes[0].Diff.Content, "-user=root") && strings.Contains(changes[0].Diff.Content, "password="+journal.Masked)) {
			t.Errorf("diff %q lacks the edit or the masked secret", changes[0].Diff.Content)
		}
	}

	// The agent settled: an apply job finds nothing to do, and no more
	// drift was reported.
	srv.publish("web-1", wire.KindJob, wire.Job{ID: "check", Kind: wire.JobApply, DryRun: true, Timeout: time.Minute})
	if r := waitResult(t, srv, "check"); r.Status != wire.StatusOK {
		t.Errorf("apply after the repairs: %s\n%s", r.Status, r.Output)
	}
	if n := len(srv.driftList()); n != 3 {
		t.Errorf("%d drift reports, want 3", n)
	}
}

// TestApplyJob expects an apply job to fetch the latest policy first, and
// a dry run to report what would change, secrets masked, changing
// nothing itself.
func TestApplyJob(t *testing.T) {
	srv, cfg := startFleet(t)
	srv.setPolicy("", testPayload("r1")) // no notice: the agent does not know
	srv.publish("web-1", wire.KindJob, wire.Job{ID: "dry", Kind: wire.JobApply, DryRun: true, Timeout: time.Minute})
	r := waitResult(t, srv, "dry")
	if r.Status != wire.StatusChanged {
		t.Errorf("dry run status %s, want changed\n%s", r.Status, r.Output)
	}
	if strings.Contains(string(r.Detail), secretValue) || strings.Contains(r.Output, secretValue) {
		t.Errorf("the report shows the secret: %s", r.Detail)
	}
	var rep engine.Report
	if err := json.Unmarshal(r.Detail, &rep); err != nil {
		t.Fatal(err)
	}
	if !rep.DryRun || rep.Totals.Changed != 1 || len(rep.Results) != 1 || rep.Results[0].Diff == nil ||
		!strings.Contains(rep.Results[0].Diff.Content, "+password="+journal.Masked) {
		t.Errorf("report %s", r.Detail)
	}
	// The new payload is then converged for real, not as drift.
	conf := filepath.Join(cfg.Root, "etc/app.conf")
	fileHolds(t, conf, wantConf("r1"))
	converged(t, srv, "r1", wire.StatusChanged)

	srv.publish("web-1", wire.KindJob, wire.Job{ID: "real", Kind: wire.JobApply, Timeout: time.Minute})
	if r := waitResult(t, srv, "real"); r.Status != wire.StatusOK {
		t.Errorf("apply status %s, want ok\n%s", r.Status, r.Output)
	}
	if d := srv.driftList(); len(d) != 0 {
		t.Errorf("drift reported: %+v", d)
	}
}

// TestSecretsMaskedInOutput expects the value of a secret var to be
// masked in the output of a command, streamed and kept.
func TestSecretsMaskedInOutput(t *testing.T) {
	srv, cfg := startFleet(t)
	srv.setPolicy("web-1", testPayload("r1"))
	fileHolds(t, filepath.Join(cfg.Root, "etc/app.conf"), wantConf("r1"))
	srv.publish("web-1", wire.KindJob, wire.Job{ID: "leak", Kind: wire.JobRun, Timeout: time.Minute,
		// The value is written in two pieces, to straddle two writes.
		Argv: []string{"sh", "-c", "printf 'pw=s3cr3t'; sleep 0.1; printf -- '-Value\n'; echo " + secretValue + " >&2"}})
	r := waitResult(t, srv, "leak")
	streamed := srv.output("leak")
	for _, s := range []string{r.Output, streamed} {
		if strings.Contains(s, secretValue) || strings.Contains(s, "s3cr3t") {
			t.Errorf("output shows the secret: %q", s)
		}
		if !strings.Contains(s, "pw="+journal.Masked+"\n") || strings.Count(s, journal.Masked) != 2 {
			t.Errorf("output %q, want the secret masked twice", s)
		}
	}
}

// TestRevoked expects an agent the bus refuses to say so, to go on
// keeping its promises, and to come back once reinstated, delivering the
// drift it repaired meanwhile.
func TestRevoked(t *testing.T) {
	env := bustest.NewServer(t)
	srv := newFakeServer(t, env)
	log, logs := testLog(t)
	cfg := Config{StateDir: enrolledDir(t, env, "web-1"), Root: t.TempDir(), Log: log}
	startAgent(t, cfg)
	testenv.WaitFor(t, "the agent's hello", func() bool { return srv.helloCount() > 0 })
	srv.setPolicy("web-1", testPayload("r1"))
	conf := filepath.Join(cfg.Root, "etc/app.conf")
	fileHolds(t, conf, wantConf("r1"))
	converged(t, srv, "r1", wire.StatusChanged)

	env.Revoke("web-1")
	env.Server.Kick("web-1")
	testenv.WaitFor(t, "the revocation to be logged", func() bool {
		return strings.Contains(logs.String(), "level=ERROR msg=\"host web-1 was revoked or is unknown to the server")
	})
	hellos := srv.helloCount()
	if err := os.WriteFile(conf, []byte("edited\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	fileHolds(t, conf, wantConf("r1"))
	if n := len(srv.driftList()); n != 0 {
		t.Errorf("a revoked host delivered %d drift reports", n)
	}

	env.Reinstate("web-1")
	testenv.WaitFor(t, "a new hello", func() bool { return srv.helloCount() > hellos })
	testenv.WaitFor(t, "the drift report", func() bool { return len(srv.driftList()) == 1 })
}

// TestFactsChanged expects the agent to greet the server again when its
// facts change, checked after a convergence.
func TestFactsChanged(t *testing.T) {
	srv, cfg := startFleet(t)
	srv.setPolicy("web-1", testPayload("r1"))
	conf := filepath.Join(cfg.Root, "etc/app.conf")
	fileHolds(t, conf, wantConf("r1"))
	converged(t, srv, "r1", wire.StatusChanged)
	// os-release is read under Root.
	if err := os.WriteFile(filepath.Join(cfg.Root, "etc/os-release"), []byte("ID=phenixos\nVERSION_ID=9\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(conf, []byte("edited\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, "a hello with the new facts", func() bool {
		srv.mu.Lock()
		defer srv.mu.Unlock()
		h := srv.hellos[len(srv.hellos)-1]
		return h.Facts["os_name"] == "phenixos" && h.Facts["os_version"] == "9" && h.Revision == "r1"
	})
}
