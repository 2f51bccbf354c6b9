package main

import (
	"context"
	"crypto/x509"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"runtime/pprof"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"golang.org/x/sync/errgroup"

	"github.com/phenixhq/phenix/bench/internal/benchkit"
	"github.com/phenixhq/phenix/internal/facts"
	"github.com/phenixhq/phenix/internal/selector"
)

// simulateFlag, as the first argument, runs this program as the fleet
// simulator instead of the benchmark.
const simulateFlag = "-simulate"

// simProfileEnv names a file: when set, the simulator writes a CPU profile
// of its whole run to it (go tool pprof).
const simProfileEnv = "PHENIX_FLEET_SIM_CPUPROFILE"

// maxHosts bounds -n: host ids are sim-00000 to sim-99999.
const maxHosts = 100000

// simConfig are the flags of the simulator.
type simConfig struct {
	n           int
	ids         string // directory of the cached identities
	server      string // API URL
	nats        string // bus URL
	caFile      string
	token       string // join token
	parallel    int    // connections being set up at once
	enrolBatch  int    // enrolments at once
	greetWithin time.Duration
}

// sim is the simulated fleet: N agents, each one NATS connection, and a
// few workers that handle every message the agents receive (from one
// channel all their subscriptions share: nats.ChanSubscribe), so that an
// agent costs no goroutine beyond the ones nats.go runs per connection.
type sim struct {
	cfg    simConfig
	ca     *x509.CertPool
	agents []*simAgent
	byTok  map[string]*simAgent // subject token → agent
	msgs   chan *nats.Msg
	log    io.Writer

	// Counters, for the control commands.
	greeted    atomic.Int64 // agents greeted at least once
	hellos     atomic.Int64 // Hello requests sent
	jobs       atomic.Int64 // distinct jobs received
	repeats    atomic.Int64 // jobs received again
	results    atomic.Int64 // Result requests sent, retries included
	acked      atomic.Int64 // results acknowledged OK
	pending    atomic.Int64 // results not acknowledged yet
	nacks      atomic.Int64 // acknowledgements that were not OK, or carried an error
	beats      atomic.Int64 // heartbeats published
	reconnects atomic.Int64
	// dials counts the connections the agents dialled: the first ones,
	// the reconnections, and the attempts that failed (refused while the
	// server is away, a TLS handshake or first exchange that failed or
	// timed out).
	dials            atomic.Int64
	lastReconnectErr atomic.Value // string, the last dial that failed
	disconnect       atomic.Int64
	busErrors        atomic.Int64 // asynchronous errors: permissions, slow consumers
	dropped          atomic.Int64 // messages that fit no agent
	lastBusErr       atomic.Value // string
}

// simulate is the simulator's main: it enrols or loads the identities,
// connects every agent, prints "ready …" on stdout once every agent has
// been greeted, then answers the benchmark's commands on stdin (see
// control.go) until "quit" or the end of stdin.
func simulate(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var cfg simConfig
	fs := flag.NewFlagSet("fleet -simulate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&cfg.n, "n", 1000, "agents")
	fs.StringVar(&cfg.ids, "ids", "", "directory of the cached identities")
	fs.StringVar(&cfg.server, "server", "", "API URL")
	fs.StringVar(&cfg.nats, "nats", "", "bus URL")
	fs.StringVar(&cfg.caFile, "ca", "", "CA file")
	fs.StringVar(&cfg.token, "token", "", "join token")
	fs.IntVar(&cfg.parallel, "parallel", 200, "connections set up at once")
	fs.IntVar(&cfg.enrolBatch, "enrol-parallel", 16, "enrolments at once")
	fs.DurationVar(&cfg.greetWithin, "greet-within", 5*time.Minute, "how long the whole fleet may take to connect")
	if err := fs.Parse(args); err != nil {
		return 64
	}
	if cfg.n < 1 || cfg.n > maxHosts || cfg.ids == "" || cfg.server == "" || cfg.nats == "" || cfg.caFile == "" {
		fmt.Fprintln(stderr, "sim: -n, -ids, -server, -nats and -ca are required")
		return 64
	}
	if path := os.Getenv(simProfileEnv); path != "" {
		f, err := os.Create(path)
		if err != nil {
			fmt.Fprintln(stderr, "sim:", err)
			return 1
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(stderr, "sim:", err)
			return 1
		}
		defer func() {
			pprof.StopCPUProfile()
			f.Close()
		}()
	}
	s := &sim{cfg: cfg, log: stderr}
	if err := s.run(ctx, stdin, stdout); err != nil {
		fmt.Fprintln(stderr, "sim:", err)
		return 1
	}
	return 0
}

func (s *sim) logf(format string, args ...any) {
	fmt.Fprintf(s.log, "sim: "+format+"\n", args...)
}

func (s *sim) run(ctx context.Context, stdin io.Reader, stdout io.Writer) error {
	caPEM, err := os.ReadFile(s.cfg.caFile)
	if err != nil {
		return err
	}
	s.ca = x509.NewCertPool()
	if !s.ca.AppendCertsFromPEM(caPEM) {
		return fmt.Errorf("%s: no certificate", s.cfg.caFile)
	}
	base := selector.FlattenFacts(facts.Gather("").Map())
	// Each host has its own name and address; the rest is this
	// machine's, which must not change between enrolment and Hello (the
	// server stores facts that change).
	hostFacts := func(id string) map[string]string {
		f := maps.Clone(base)
		i := max(simIndex(id), 0)
		f["hostname"], f["fqdn"] = id, id
		f["addresses"] = fmt.Sprintf("10.%d.%d.%d", 1+i>>16, i>>8&0xff, i&0xff)
		return f
	}

	t0 := time.Now()
	ids, enrolled, err := s.identities(ctx, hostFacts)
	if err != nil {
		return err
	}
	enrolTime := time.Since(t0)
	s.logf("%d identities (%d enrolled now, %d cached) in %v", len(ids), enrolled, len(ids)-enrolled, enrolTime.Round(time.Millisecond))

	// Every agent receives about one message per job, hello and result:
	// a channel that never fills, or nats.go drops messages (slow
	// consumer).
	s.msgs = make(chan *nats.Msg, 4*s.cfg.n+4096)
	s.byTok = make(map[string]*simAgent, s.cfg.n)
	for _, id := range ids {
		a, err := newSimAgent(s, id, hostFacts(id.id))
		if err != nil {
			return err
		}
		s.agents = append(s.agents, a)
		s.byTok[a.tok] = a
	}
	workers := errgroup.Group{}
	for range 4 {
		workers.Go(func() error { s.work(); return nil })
	}
	defer func() {
		close(s.msgs)
		_ = workers.Wait()
	}()
	defer s.closeAll()

	t1 := time.Now()
	if err := s.connectAll(ctx); err != nil {
		return err
	}
	connectTime := time.Since(t1)
	if err := s.waitGreeted(ctx, s.cfg.greetWithin); err != nil {
		return err
	}
	greetTime := time.Since(t1)
	s.logf("%d agents connected in %v, all greeted in %v", len(s.agents), connectTime.Round(time.Millisecond), greetTime.Round(time.Millisecond))
	fmt.Fprintf(stdout, "ready n=%d enrolled=%d enrol_ms=%d connect_ms=%d greet_ms=%d\n",
		len(s.agents), enrolled, enrolTime.Milliseconds(), connectTime.Milliseconds(), greetTime.Milliseconds())
	return s.control(ctx, stdin, stdout)
}

// connectAll connects every agent, parallel at a time.
func (s *sim) connectAll(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.cfg.parallel)
	var done atomic.Int64
	last := time.Now()
	for _, a := range s.agents {
		g.Go(func() error {
			if err := a.connect(gctx); err != nil {
				return err
			}
			done.Add(1)
			return nil
		})
		if time.Since(last) > 2*time.Second {
			last = time.Now()
			s.logf("connecting: %d/%d", done.Load(), len(s.agents))
		}
	}
	return g.Wait()
}

// waitGreeted waits until every agent has had its first HelloReply.
func (s *sim) waitGreeted(ctx context.Context, within time.Duration) error {
	deadline := time.Now().Add(within)
	for s.greeted.Load() < int64(len(s.agents)) {
		if time.Now().After(deadline) {
			return fmt.Errorf("only %d of %d agents greeted by the server after %v", s.greeted.Load(), len(s.agents), within)
		}
		if err := benchkit.Sleep(ctx, 20*time.Millisecond); err != nil {
			return err
		}
	}
	return nil
}

// closeAll closes every connection.
func (s *sim) closeAll() {
	var g errgroup.Group
	g.SetLimit(64)
	for _, a := range s.agents {
		g.Go(func() error { a.close(); return nil })
	}
	_ = g.Wait()
}

// work handles messages until the channel is closed.
func (s *sim) work() {
	for m := range s.msgs {
		if !s.dispatch(m) {
			s.dropped.Add(1)
		}
	}
}
