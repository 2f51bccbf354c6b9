package main

import (
	"context"
	"crypto/x509"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/phenixhq/phenix/bench/internal/benchkit"
	"github.com/phenixhq/phenix/internal/api"
	"github.com/phenixhq/phenix/internal/server"
)

// simTestEnv, set, makes the test binary run as the simulator: the tests
// start it so.
const simTestEnv = "PHENIX_FLEET_TEST_SIM"

func TestMain(m *testing.M) {
	if os.Getenv(simTestEnv) == "1" && len(os.Args) > 1 && os.Args[1] == simulateFlag {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := simulate(ctx, os.Args[2:], os.Stdin, os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// testFleet is a server in this process and the simulator as a child: the
// benchmark's parts without building phenix.
type testFleet struct {
	cfg server.Config
	srv *server.Server
	c   *api.Client
	sim *simProc
}

// startTestFleet starts a server on dir/data and a simulator of n agents
// (identities cached in dir/ids), connected and greeted.
func startTestFleet(t *testing.T, dir string, n int) *testFleet {
	ctx := t.Context()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	lim.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	listen, err := benchkit.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	natsListen, err := benchkit.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	f := &testFleet{cfg: server.Config{DataDir: filepath.Join(dir, "data"), Listen: listen, NATSListen: natsListen, Log: slog.New(slog.DiscardHandler)}}
	if f.srv, err = server.Start(ctx, f.cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.srv.Close() })
	info := f.srv.Info()
	tok, _ := f.srv.AdminToken()
	caPEM, err := os.ReadFile(info.CA)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	f.c = api.NewClient(info.URL, tok, pool)
	b := &bench{root: dir}
	if err := b.forgetOtherCA(info.CA); err != nil {
		t.Fatal(err)
	}
	var jt api.TokenResponse
	if err := f.c.Do(ctx, "POST", "/api/v1/tokens", api.TokenRequest{}, &jt); err != nil {
		t.Fatal(err)
	}
	if err := reconcile(ctx, f.c, n, t.Logf); err != nil {
		t.Fatal(err)
	}
	cs := &benchkit.Children{}
	t.Cleanup(cs.StopAll)
	cmd := simCommand(os.Args[0], n, filepath.Join(dir, "ids"), info, jt.Token)
	// GODEBUG (gctrace=1, say) and GOMEMLIMIT are for the server, in this
	// process.
	cmd.Env = append(slices.DeleteFunc(cmd.Env, func(v string) bool {
		return strings.HasPrefix(v, "GODEBUG=") || strings.HasPrefix(v, "GOMEMLIMIT=")
	}), simTestEnv+"=1")
	sim, rd, err := startSim(ctx, cs, cmd, n, os.Stderr)
	if sim != nil {
		t.Cleanup(sim.quit)
	}
	if err != nil {
		t.Fatal(err)
	}
	f.sim = sim
	t.Logf("ready: %+v", rd)
	if err := waitOnline(ctx, f.c, n, time.Minute); err != nil {
		t.Fatal(err)
	}
	return f
}

// restart closes the server and starts it again, and returns when it was
// closed and when started.
func (f *testFleet) restart(t *testing.T) (closed, started time.Time) {
	closed = time.Now()
	f.srv.Close()
	started = time.Now()
	var err error
	if f.srv, err = server.Start(t.Context(), f.cfg); err != nil {
		t.Fatal(err)
	}
	return closed, started
}

// TestFleet runs a small fleet through what the benchmark does: jobs,
// checked, and a restart after which every agent must be back and online.
func TestFleet(t *testing.T) {
	if testing.Short() {
		t.Skip("a restart takes seconds: agents wait 2 s or more before they reconnect")
	}
	const n = 20
	ctx := t.Context()
	f := startTestFleet(t, t.TempDir(), n)
	for i := range 3 {
		tm, err := runJob(ctx, f.c, n, i == 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.sim.idle(ctx, time.Minute); err != nil {
			t.Fatal(err)
		}
		if tm.end < tm.last || tm.last < tm.first || tm.first <= 0 {
			t.Errorf("job %d: times out of order: %+v", i+1, tm)
		}
	}
	if err := f.sim.mark(ctx); err != nil {
		t.Fatal(err)
	}
	closed, started := f.restart(t)
	back, last, err := f.sim.back(ctx, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if back != n || !last.After(started) {
		t.Errorf("%d agents back, last at %v; want %d, after the start at %v", back, last, n, started)
	}
	t.Logf("all back %v after the close", last.Sub(closed))
	online, stale, err := fleetPresence(ctx, f.c, n, started)
	if err != nil {
		t.Fatal(err)
	}
	if online != n || stale != 0 {
		t.Errorf("after the restart: %d online, %d stale; want %d, 0", online, stale, n)
	}
	if _, err := runJob(ctx, f.c, n, true); err != nil {
		t.Fatal(err)
	}
	st, err := f.sim.stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"agents": "20", "jobs": "80", "pending": "0", "bus_errors": "0", "dropped": "0", "nacks": "0", "reconnects": "20"} {
		if st[k] != want {
			t.Errorf("simulator %s = %s, want %s (stats %v)", k, st[k], want, st)
		}
	}
}
