package agent

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"path/filepath"
	"time"

	"github.com/phenixhq/phenix/internal/bundle"
	"github.com/phenixhq/phenix/internal/engine"
	"github.com/phenixhq/phenix/internal/facts"
	"github.com/phenixhq/phenix/internal/promise"
	"github.com/phenixhq/phenix/internal/wire"
)

// Convergence triggers. Drift reports name the first two.
const (
	triggerWatch    = "watch"    // a managed file changed
	triggerInterval = "interval" // the schedule, and the start of the agent
	triggerPolicy   = "policy"   // a new payload arrived
	triggerApply    = "apply"    // an apply job
)

// convergeLoop converges the kept payload at start, at every interval
// (with a splay), when a new payload arrives and when a managed file
// changes, one convergence at a time.
func (a *agent) convergeLoop(ctx context.Context) error {
	if a.policy().Digest != "" {
		a.convergeAndReport(ctx, triggerInterval)
	}
	timer := time.NewTimer(a.untilNext(time.Now()))
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
			// Ask for the policy too, if the bus is there: a change missed
			// while away (a secret set keeps the revision) arrives so.
			if a.conn() != nil {
				signal(a.fetchCh, struct{}{})
			}
			a.convergeAndReport(ctx, triggerInterval)
		case <-a.policyCh:
			a.convergeAndReport(ctx, triggerPolicy)
		case paths := <-a.watchCh:
			changed := a.watch.Changed(paths)
			if len(changed) == 0 {
				continue // the agent's own writes
			}
			a.log.InfoContext(ctx, "managed files changed", "paths", changed)
			a.convergeAndReport(ctx, triggerWatch)
		}
		// The interval may have changed with the payload.
		timer.Reset(a.untilNext(time.Now()))
	}
}

// interval returns the convergence interval of the kept payload.
func (a *agent) interval() time.Duration {
	if iv := a.policy().Interval; iv > 0 {
		return iv
	}
	return a.tune.defaultInterval
}

// untilNext returns the time from now to the next scheduled convergence.
// Convergences happen at the multiples of the interval plus the host's
// splay, a stable offset in [0, interval) derived from its id, so that a
// fleet does not converge all at once, and a host keeps its place across
// restarts.
func (a *agent) untilNext(now time.Time) time.Duration {
	iv := a.interval()
	h := fnv.New64a()
	h.Write([]byte(a.ident.id))
	splay := time.Duration(h.Sum64() % uint64(iv))
	next := now.Add(-splay).Truncate(iv).Add(splay)
	for !next.After(now) {
		next = next.Add(iv)
	}
	return next.Sub(now)
}

// convergeAndReport converges and, when the convergence repaired or failed
// something that no new payload asked for, reports it as drift.
func (a *agent) convergeAndReport(ctx context.Context, trigger string) {
	t0 := time.Now()
	a.convMu.Lock()
	c, err := a.convergeLocked(ctx, trigger, false)
	a.convMu.Unlock()
	defer a.checkFacts()
	if err != nil {
		if ctx.Err() == nil {
			a.log.ErrorContext(ctx, "convergence failed", "trigger", trigger, "err", err)
		}
		return
	}
	if c.rep == nil {
		return // no policy yet
	}
	t := c.rep.Totals
	log := a.log.With("trigger", trigger, "revision", c.revision, "promises", t.Promises, "changed", t.Changed, "failed", t.Failed, "skipped", t.Skipped, "took", time.Since(t0))
	if t.Changed == 0 && t.Failed == 0 {
		log.DebugContext(ctx, "converged: nothing to change")
		return
	}
	log.InfoContext(ctx, "converged")
	if c.newPayload || (trigger != triggerWatch && trigger != triggerInterval) {
		return
	}
	if err := a.reportDrift(ctx, trigger, c); err != nil {
		a.log.ErrorContext(ctx, "cannot keep a drift report", "err", err)
	}
}

// reportDrift puts a Drift with the promises that changed or failed in
// the outbox.
func (a *agent) reportDrift(ctx context.Context, trigger string, c convergence) error {
	var changes []engine.Result
	for _, r := range c.rep.Results {
		if r.Status == engine.Changed || r.Status == engine.Failed {
			changes = append(changes, r)
		}
	}
	b, err := json.Marshal(c.mask.results(changes))
	if err != nil {
		return err
	}
	var id [12]byte
	_, _ = rand.Read(id[:])
	d := wire.Drift{
		ID:       hex.EncodeToString(id[:]),
		Time:     time.Now().UTC(),
		Revision: c.revision,
		Trigger:  trigger,
		Result:   wire.StatusChanged,
		Changes:  b,
	}
	if c.rep.Totals.Failed > 0 {
		d.Result = wire.StatusFailed
	}
	a.log.InfoContext(ctx, "drift repaired", "drift", d.ID, "result", d.Result, "promises", len(changes))
	return a.outboxPut(outboxDrift, d.ID, d)
}

// convergence is the outcome of one convergence.
type convergence struct {
	rep        *engine.Report // nil when no payload is kept
	mask       *masker        // of the payload's secrets
	revision   string         // of the payload converged
	newPayload bool           // the payload was not converged before (dry runs do not count)
}

// convergeLocked converges the kept payload once, with convMu held.
func (a *agent) convergeLocked(ctx context.Context, trigger string, dryRun bool) (convergence, error) {
	kp := a.policy()
	c := convergence{mask: newMasker(kp.Vars, kp.Secrets), revision: kp.Revision}
	if kp.Digest == "" {
		return c, nil
	}
	c.newPayload = kp.Digest != a.lastDigest
	a.log.DebugContext(ctx, "converging", "trigger", trigger, "revision", kp.Revision, "dry_run", dryRun)
	env := &promise.Env{Root: a.cfg.Root, BackupDir: promise.DefaultBackupDir, DryRun: dryRun, Log: a.log}
	plan, ps, err := a.load(kp, env)
	if err != nil {
		if !dryRun {
			a.setLastResult(wire.StatusFailed)
		}
		return c, fmt.Errorf("policy revision %s: %s", kp.Revision, c.mask.String(err.Error()))
	}
	// The managed paths are fingerprinted before the run, so that an
	// edit made while it runs, after its promise was checked, shows. When
	// the run changed something, they are fingerprinted again after it.
	var before map[string]fingerprint
	if !dryRun {
		before = map[string]fingerprint{}
		for _, p := range a.claims(ps) {
			before[p] = fingerprintOf(p)
		}
	}
	rep := plan.Run(ctx, env, engine.Options{Log: a.log})
	c.rep = rep
	if dryRun {
		return c, nil
	}
	if rep.Totals.OK != rep.Totals.Promises {
		// Not only the promises that changed may have written: an exec
		// may have edited a path another promise keeps.
		for p := range before {
			before[p] = fingerprintOf(p)
		}
	}
	a.watch.set(before)
	if c.newPayload {
		a.lastDigest = kp.Digest
		if err := writeFileAtomic(filepath.Join(a.cfg.StateDir, convergedFn), []byte(kp.Digest), 0o600); err != nil {
			a.log.WarnContext(ctx, "cannot record the payload converged", "err", err)
		}
	}
	switch {
	case rep.Totals.Failed > 0:
		a.setLastResult(wire.StatusFailed)
	case rep.Totals.Changed > 0:
		a.setLastResult(wire.StatusChanged)
	default:
		a.setLastResult(wire.StatusOK)
	}
	return c, nil
}

// load reads the bundles of kp and plans them, as phenix apply does.
func (a *agent) load(kp keptPolicy, env *promise.Env) (*engine.Plan, []*promise.Promise, error) {
	gather := func() map[string]any { return facts.Gather(a.cfg.Root).Map() }
	ps, err := bundle.Load(kp.Bundles, bundle.Options{
		Vars:      kp.Vars,
		FactsFunc: gather,
		CacheDir:  filepath.Join(a.cfg.StateDir, cacheDir),
	})
	if err != nil {
		return nil, nil, err
	}
	plan, err := engine.NewPlan(ps, env)
	if err != nil {
		return nil, nil, err
	}
	return plan, ps, nil
}

// claims returns the paths the promises of ps claim, under Root.
func (a *agent) claims(ps []*promise.Promise) []string {
	var out []string
	for _, p := range ps {
		if c, ok := p.Resource.(promise.PathClaimer); ok {
			for _, path := range c.ClaimedPaths() {
				out = append(out, filepath.Join(a.cfg.Root, filepath.Clean("/"+path)))
			}
		}
	}
	return out
}

func (a *agent) setLastResult(s string) {
	a.mu.Lock()
	a.lastResult = s
	a.mu.Unlock()
}
