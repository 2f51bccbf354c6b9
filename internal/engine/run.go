package engine

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/phenixhq/phenix/internal/promise"
)

// Status is the outcome of one promise.
type Status string

const (
	OK      Status = "ok"      // already kept
	Changed Status = "changed" // changed, or would change in a dry run
	Failed  Status = "failed"  // check, apply or refresh failed
	Skipped Status = "skipped" // not run: a promise it depends on failed or was skipped
)

// Result is the outcome of one promise in a run.
type Result struct {
	ID         string        `json:"id"`
	Type       string        `json:"type"`
	Subject    string        `json:"subject"`
	Status     Status        `json:"status"`
	Diff       *promise.Diff `json:"diff,omitempty"`
	Refreshed  string        `json:"refreshed,omitempty"` // what a notification did: "restarted"
	Error      string        `json:"error,omitempty"`
	Reason     string        `json:"reason,omitempty"` // why it was skipped
	Source     string        `json:"source"`           // file:line:column of the promise
	DurationMS float64       `json:"duration_ms"`
}

// Totals counts the results of a run.
type Totals struct {
	Promises   int     `json:"promises"`
	Changed    int     `json:"changed"`
	OK         int     `json:"ok"`
	Failed     int     `json:"failed"`
	Skipped    int     `json:"skipped"`
	DurationMS float64 `json:"duration_ms"`
}

// Report is the outcome of a run, results in declaration order.
type Report struct {
	DryRun  bool     `json:"dry_run"`
	Results []Result `json:"promises"`
	Totals  Totals   `json:"totals"`
}

// Options tune a run.
type Options struct {
	// Parallel bounds how many promises run at once; 0 means DefaultParallel.
	Parallel int
	// Progress, if set, is called after each promise with the count done.
	// It is called from the engine's goroutines, one call at a time.
	Progress func(done, total int)
	// Log receives debug detail; nil discards it.
	Log *slog.Logger
}

// DefaultParallel is the default bound on promises run at once. Most
// promises wait on the filesystem or on a child process, not on the CPU;
// package promises take turns anyway. Measured on two cores with a
// thousand file promises, going past 2 per CPU only adds scheduling.
var DefaultParallel = min(8, max(4, 2*runtime.GOMAXPROCS(0)))

// Run converges the plan on env's host. It does not stop at the first
// failure: independent promises go on, and dependents of a failed promise
// are skipped with the reason. A cancelled ctx skips what has not started.
func (pl *Plan) Run(ctx context.Context, env *promise.Env, opts Options) *Report {
	t0 := time.Now()
	if env.Managed == nil {
		// Promises see a copy of env that knows every path the plan claims.
		e := *env
		e.Managed = sync.OnceValue(pl.managed)
		env = &e
	}
	par := opts.Parallel
	if par <= 0 {
		par = DefaultParallel
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	n := len(pl.nodes)
	results := make([]Result, n)
	waiting := make([]int, n)
	for i, nd := range pl.nodes {
		waiting[i] = len(nd.deps)
	}
	serial := map[string]*sync.Mutex{}
	for _, nd := range pl.nodes {
		if nd.serial != "" && serial[nd.serial] == nil {
			serial[nd.serial] = new(sync.Mutex)
		}
	}

	var (
		mu   sync.Mutex // guards waiting, results statuses read by dependers, done
		done int
		wg   sync.WaitGroup
	)
	ready := make(chan *node, n)
	for _, nd := range pl.nodes {
		if waiting[nd.idx] == 0 {
			ready <- nd
		}
	}
	finish := func(nd *node, r Result) {
		mu.Lock()
		results[nd.idx] = r
		done++
		d := done
		var next []*node
		for _, m := range nd.dependers {
			waiting[m.idx]--
			if waiting[m.idx] == 0 {
				next = append(next, m)
			}
		}
		if opts.Progress != nil {
			opts.Progress(d, n)
		}
		mu.Unlock()
		for _, m := range next {
			ready <- m
		}
		if d == n {
			close(ready)
		}
	}
	if n == 0 {
		close(ready)
	}
	for w := 0; w < min(par, max(n, 1)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for nd := range ready {
				mu.Lock()
				r := pl.prepare(nd, results)
				mu.Unlock()
				if r.Status == "" {
					if ctx.Err() != nil {
						r.Status, r.Reason = Skipped, "interrupted"
					} else {
						pl.execute(ctx, env, nd, &r, results, &mu, serial[nd.serial], log)
					}
				}
				finish(nd, r)
			}
		}()
	}
	wg.Wait()

	rep := &Report{DryRun: env.DryRun, Results: results}
	rep.Totals.Promises = n
	for _, r := range results {
		switch r.Status {
		case OK:
			rep.Totals.OK++
		case Changed:
			rep.Totals.Changed++
		case Failed:
			rep.Totals.Failed++
		case Skipped:
			rep.Totals.Skipped++
		}
	}
	rep.Totals.DurationMS = ms(time.Since(t0))
	return rep
}

// prepare fills the identity of nd's result and, when a dependency did not
// succeed, marks it skipped. Called with the run's lock held.
func (pl *Plan) prepare(nd *node, results []Result) Result {
	r := Result{
		ID:      nd.p.ID(),
		Type:    nd.p.Type,
		Subject: strings.Join(nd.p.Subjects, ","),
		Source:  nd.p.Pos.String(),
	}
	for _, d := range nd.deps {
		switch results[d.idx].Status {
		case Failed:
			r.Status, r.Reason = Skipped, fmt.Sprintf("requires %s, which failed", d.p.ID())
			return r
		case Skipped:
			r.Status, r.Reason = Skipped, fmt.Sprintf("requires %s, which was skipped", d.p.ID())
			return r
		}
	}
	return r
}

// execute checks, applies and refreshes one promise.
func (pl *Plan) execute(ctx context.Context, env *promise.Env, nd *node, r *Result, results []Result, mu *sync.Mutex, lock *sync.Mutex, log *slog.Logger) {
	t0 := time.Now()
	defer func() { r.DurationMS = ms(time.Since(t0)) }()
	if lock != nil {
		lock.Lock()
		defer lock.Unlock()
	}
	res := nd.p.Resource
	d, err := res.Check(ctx, env)
	if err != nil {
		r.Status, r.Error = Failed, err.Error()
		return
	}
	r.Status = OK
	if !d.Empty() {
		r.Diff = d
		r.Status = Changed
		if !env.DryRun {
			log.DebugContext(ctx, "applying", "promise", r.ID, "changes", d.Summary())
			if err := res.Apply(ctx, env, d); err != nil {
				r.Status, r.Error = Failed, err.Error()
				return
			}
		}
	}
	rf, ok := res.(promise.Refresher)
	if !ok || !pl.notified(nd, results, mu) {
		return
	}
	if env.DryRun {
		if what := rf.RefreshPlan(); what != "" {
			r.Refreshed, r.Status = what, Changed
		}
		return
	}
	what, err := rf.Refresh(ctx, env)
	if err != nil {
		r.Status, r.Error = Failed, fmt.Sprintf("on notification: %v", err)
		return
	}
	if what != "" {
		r.Refreshed, r.Status = what, Changed
	}
}

// notified reports whether a promise that notifies nd changed.
func (pl *Plan) notified(nd *node, results []Result, mu *sync.Mutex) bool {
	mu.Lock()
	defer mu.Unlock()
	for _, m := range nd.notifiers {
		if results[m.idx].Status == Changed {
			return true
		}
	}
	return false
}

// managed gathers the paths claimed by the plan's promises (see
// promise.PathClaimer), before any of them runs.
func (pl *Plan) managed() map[string]bool {
	m := map[string]bool{}
	for _, nd := range pl.nodes {
		if c, ok := nd.p.Resource.(promise.PathClaimer); ok {
			for _, p := range c.ClaimedPaths() {
				m[p] = true
			}
		}
	}
	return m
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
