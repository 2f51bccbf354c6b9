package agent

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/nats-io/nats.go"
	"golang.org/x/sync/errgroup"
)

// agent is a running agent. Run makes one and runs it until its context
// ends.
//
// Lock order: convMu, then polMu (policy fetch), then mu or the
// watcher's lock. jobsMu is taken alone.
type agent struct {
	cfg   Config
	tune  tuning
	log   *slog.Logger
	ident identity

	nc atomic.Pointer[nats.Conn] // the bus connection; nil when there is none

	// Signals, each a channel of one slot: a send that finds it full is
	// dropped, the pending signal covers it.
	connected chan *nats.Conn // a connection (re)connected: greet the server
	factsCh   chan struct{}   // facts changed: greet again
	hbCh      chan struct{}   // the heartbeat interval changed
	fetchCh   chan struct{}   // fetch the policy
	policyCh  chan struct{}   // a new payload is kept: converge
	outboxCh  chan struct{}   // something to send, or a new connection
	watchCh   chan []string   // managed paths that had events

	jitter  atomic.Int64 // reconnect jitter, scaled with the fleet (ns)
	hbEvery atomic.Int64 // heartbeat interval (ns)

	convMu     sync.Mutex // one convergence at a time; guards lastDigest
	lastDigest string     // the digest of the payload last converged (not dry run)

	polMu sync.Mutex // one policy fetch at a time

	mu         sync.Mutex
	kept       keptPolicy        // the payload kept on disk
	lastResult string            // of the last convergence: ok, changed, failed
	factsSent  map[string]string // the facts of the last Hello

	jobsMu   sync.Mutex     // guards the records of jobs/, stopping and jobsWG.Add
	stopping bool           // no job starts any more
	jobSlots chan struct{}  // bounds the jobs running at once
	jobsWG   sync.WaitGroup // the jobs' goroutines

	watch *watcher
}

// Run enrols if the state dir holds no certificate yet (polling every few
// seconds, with a log line, while the host is pending; a refused enrolment
// is returned as an error that says why), then connects to the bus and
// serves until ctx is done. It returns nil when ctx ends.
func Run(ctx context.Context, cfg Config) error {
	return run(ctx, cfg, defaultTuning())
}

func run(ctx context.Context, cfg Config, tune tuning) error {
	explicitID := cfg.ID
	cfg, err := cfg.withDefaults()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
		return fmt.Errorf("agent: state directory: %w", err)
	}
	for _, d := range []string{outboxDir, jobsDir} {
		if err := os.MkdirAll(filepath.Join(cfg.StateDir, d), 0o700); err != nil {
			return fmt.Errorf("agent: state directory: %w", err)
		}
	}
	a := &agent{
		cfg:       cfg,
		tune:      tune,
		log:       cfg.Log.With("component", "agent"),
		connected: make(chan *nats.Conn, 1),
		factsCh:   make(chan struct{}, 1),
		hbCh:      make(chan struct{}, 1),
		fetchCh:   make(chan struct{}, 1),
		policyCh:  make(chan struct{}, 1),
		outboxCh:  make(chan struct{}, 1),
		watchCh:   make(chan []string),
		jobSlots:  make(chan struct{}, tune.maxJobs),
	}
	a.hbEvery.Store(int64(tune.defaultHB))
	a.jitter.Store(int64(jitterFor(0)))
	if err := a.enrol(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	if a.ident, err = loadIdentity(cfg.StateDir); err != nil {
		return fmt.Errorf("agent: state directory %s: %w", cfg.StateDir, err)
	}
	if explicitID != "" && explicitID != a.ident.id {
		return fmt.Errorf("agent: the state directory %s holds the identity of host %s, not %s", cfg.StateDir, a.ident.id, explicitID)
	}
	a.log = a.log.With("host", a.ident.id)
	if err := a.loadKept(); err != nil {
		// A damaged payload is not fatal: the server sends it again.
		a.log.ErrorContext(ctx, "cannot read the policy kept; waiting for the server to send it again", "err", err)
	}
	a.recoverJobs(ctx)
	a.watch = newWatcher(a.log, a.watchCh, tune.debounce)

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return a.watch.run(gctx) })
	g.Go(func() error { return a.convergeLoop(gctx) })
	g.Go(func() error { return a.busLoop(gctx) })
	g.Go(func() error { return a.greetLoop(gctx) })
	g.Go(func() error { return a.heartbeatLoop(gctx) })
	g.Go(func() error { return a.policyLoop(gctx) })
	g.Go(func() error { return a.outboxLoop(gctx) })
	g.Go(func() error { return a.pruneLoop(gctx) })
	g.Go(func() error { return a.trimLoop(gctx) })
	err = g.Wait()
	a.jobsMu.Lock()
	a.stopping = true
	a.jobsMu.Unlock()
	a.jobsWG.Wait()
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// signal sends on a channel of one slot without waiting.
func signal[T any](ch chan T, v T) {
	select {
	case ch <- v:
	default:
	}
}

// conn returns the bus connection when it is connected, else nil.
func (a *agent) conn() *nats.Conn {
	nc := a.nc.Load()
	if nc == nil || !nc.IsConnected() {
		return nil
	}
	return nc
}
