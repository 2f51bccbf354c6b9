package agent

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/phenixhq/phenix/internal/engine"
	"github.com/phenixhq/phenix/internal/wire"
)

// Job states in jobs/.
const (
	jobRunning = "running" // accepted: queued or running
	jobDone    = "done"    // its result is in the record (and in the outbox until acknowledged)
)

// jobRecord is jobs/<id>.json: a job seen, remembered for a day so that a
// job published again is not run twice.
type jobRecord struct {
	ID       string       `json:"id"`
	Kind     string       `json:"kind"`
	State    string       `json:"state"`
	Received time.Time    `json:"received"`
	Result   *wire.Result `json:"result,omitempty"`
}

// fileName returns a file name for id: id itself when it is made of
// safe characters, else a hash of it.
func fileName(id string) string {
	safe := id != "" && len(id) <= 100 && !strings.HasPrefix(id, ".")
	for _, r := range id {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '-' || r == '_' || r == '.') {
			safe = false
			break
		}
	}
	if safe {
		return id
	}
	sum := sha256.Sum256([]byte(id))
	return "h" + hex.EncodeToString(sum[:16])
}

func (a *agent) jobPath(id string) string {
	return filepath.Join(a.cfg.StateDir, jobsDir, fileName(id)+".json")
}

// onJob handles a Job from the bus: run it, unless it was seen already.
func (a *agent) onJob(ctx context.Context, data []byte) {
	var j wire.Job
	if err := json.Unmarshal(data, &j); err != nil || j.ID == "" {
		a.log.WarnContext(ctx, "bad job", "err", err, "id", j.ID)
		return
	}
	log := a.log.With("job", j.ID, "kind", j.Kind)
	a.jobsMu.Lock()
	var rec jobRecord
	err := readJSON(a.jobPath(j.ID), &rec)
	if err == nil {
		a.jobsMu.Unlock()
		if rec.State == jobDone && rec.Result != nil {
			// The server did not get the result, or forgot that it did:
			// send it again; the server stores it once.
			log.InfoContext(ctx, "job already run: sending its result again")
			if err := a.outboxPut(outboxResult, j.ID, rec.Result); err != nil {
				log.ErrorContext(ctx, "cannot queue the result again", "err", err)
			}
		} else {
			log.DebugContext(ctx, "job already running: ignored")
		}
		return
	}
	if !errors.Is(err, fs.ErrNotExist) {
		log.WarnContext(ctx, "job record unreadable: running the job as new", "err", err)
	}
	if a.stopping {
		a.jobsMu.Unlock()
		return // the server publishes it again
	}
	rec = jobRecord{ID: j.ID, Kind: j.Kind, State: jobRunning, Received: time.Now().UTC()}
	if err := writeJSON(a.jobPath(j.ID), rec, 0o600); err != nil {
		a.jobsMu.Unlock()
		log.ErrorContext(ctx, "cannot record the job: not running it", "err", err)
		return
	}
	a.jobsWG.Add(1)
	a.jobsMu.Unlock()
	go func() {
		defer a.jobsWG.Done()
		select {
		case a.jobSlots <- struct{}{}:
		case <-ctx.Done():
			return // recoverJobs reports it at the next start
		}
		defer func() { <-a.jobSlots }()
		log.InfoContext(ctx, "job started", "argv", len(j.Argv), "timeout", j.Timeout, "dry_run", j.DryRun)
		res := a.runJob(ctx, j)
		if ctx.Err() != nil {
			return // killed as the agent stops: recoverJobs reports it
		}
		log.InfoContext(ctx, "job finished", "status", res.Status, "exit_code", res.ExitCode, "took", res.EndedAt.Sub(res.StartedAt))
		a.finishJob(ctx, rec, res)
	}()
}

// runJob runs one job and returns its result.
func (a *agent) runJob(ctx context.Context, j wire.Job) wire.Result {
	kp := a.policy()
	switch j.Kind {
	case wire.JobRun, wire.JobOp:
		return a.runCommand(ctx, j, newMasker(kp.Vars, kp.Secrets))
	case wire.JobApply:
		return a.runApply(ctx, j)
	case wire.JobRelease, wire.JobCheck:
		return a.runRelease(ctx, j)
	}
	now := time.Now().UTC()
	return wire.Result{
		Job: j.ID, Status: wire.StatusFailed, ExitCode: 1, StartedAt: now, EndedAt: now,
		Output: fmt.Sprintf("phenix agent %s: unknown job kind %q\n", a.cfg.Version, j.Kind),
	}
}

// finishJob puts the result in the outbox, then marks the job done: a
// record still running at the next start whose result is in the outbox is
// done, not interrupted.
func (a *agent) finishJob(ctx context.Context, rec jobRecord, res wire.Result) {
	if err := a.outboxPut(outboxResult, rec.ID, res); err != nil {
		a.log.ErrorContext(ctx, "cannot keep the job result", "job", rec.ID, "err", err)
	}
	rec.State, rec.Result = jobDone, &res
	a.jobsMu.Lock()
	defer a.jobsMu.Unlock()
	if err := writeJSON(a.jobPath(rec.ID), rec, 0o600); err != nil {
		a.log.ErrorContext(ctx, "cannot record the job result", "job", rec.ID, "err", err)
	}
}

// jobContext returns the context a job runs in: ctx, ended at the job's
// timeout when it has one.
func jobContext(ctx context.Context, j wire.Job) (context.Context, context.CancelFunc) {
	if j.Timeout > 0 {
		return context.WithTimeout(ctx, j.Timeout)
	}
	return context.WithCancel(ctx)
}

// runApply converges the latest policy now: it fetches it first (going on
// with the one kept if the server does not answer), converges, dry-run if
// asked, and returns the report as the Detail, with secrets masked.
func (a *agent) runApply(ctx context.Context, j wire.Job) wire.Result {
	res := wire.Result{Job: j.ID, StartedAt: time.Now().UTC()}
	jctx, cancel := jobContext(ctx, j)
	defer cancel()
	// The convergence lock is held from the fetch on, so that the
	// convergence of a new payload that the fetch starts comes after
	// this one: a dry run shows what the new payload changes.
	a.convMu.Lock()
	if _, err := a.fetchPolicy(jctx); err != nil {
		a.log.WarnContext(ctx, "apply job: policy not fetched, converging the one kept", "job", j.ID, "err", err)
	}
	c, err := a.convergeLocked(jctx, triggerApply, j.DryRun)
	a.convMu.Unlock()
	m, rep := c.mask, c.rep
	if rep == nil && err == nil {
		rep = &engine.Report{DryRun: j.DryRun, Results: []engine.Result{}} // no policy yet
	}
	res.EndedAt = time.Now().UTC()
	if err != nil {
		msg := m.String(err.Error())
		res.Status, res.ExitCode, res.Output = wire.StatusFailed, 1, msg+"\n"
		res.Detail, _ = json.Marshal(map[string]string{"error": msg})
		return res
	}
	res.Detail, _ = json.Marshal(m.report(rep))
	res.Output = m.String(summary(rep))
	switch {
	case jctx.Err() != nil && ctx.Err() == nil:
		res.Status, res.ExitCode = wire.StatusTimeout, 1
	case rep.Totals.Failed > 0:
		res.Status, res.ExitCode = wire.StatusFailed, 1
	case rep.Totals.Changed > 0:
		res.Status, res.ExitCode = wire.StatusChanged, 2
	default:
		res.Status = wire.StatusOK
	}
	return res
}

// summary writes a report as phenix apply does, briefly: one line per
// promise that changed, failed or was skipped, then the totals.
func summary(rep *engine.Report) string {
	var b strings.Builder
	for _, r := range rep.Results {
		switch r.Status {
		case engine.Changed, engine.Failed, engine.Skipped:
			fmt.Fprintf(&b, "%-7s %s", r.Status, r.ID)
			if r.Error != "" {
				fmt.Fprintf(&b, ": %s", r.Error)
			} else if r.Reason != "" {
				fmt.Fprintf(&b, ": %s", r.Reason)
			}
			b.WriteByte('\n')
		}
	}
	t := rep.Totals
	verb := "changed"
	if rep.DryRun {
		verb = "to change"
	}
	fmt.Fprintf(&b, "%d promises: %d %s, %d ok, %d failed, %d skipped\n", t.Promises, t.Changed, verb, t.OK, t.Failed, t.Skipped)
	return b.String()
}

// recoverJobs, at start, forgets the jobs older than a day and reports
// the jobs the agent was running when it stopped as failed: a command cut
// in the middle is not run again.
func (a *agent) recoverJobs(ctx context.Context) {
	a.pruneJobs(ctx)
	dir := filepath.Join(a.cfg.StateDir, jobsDir)
	ents, err := os.ReadDir(dir)
	if err != nil {
		a.log.ErrorContext(ctx, "cannot read the job records", "err", err)
		return
	}
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".json") || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		var rec jobRecord
		if err := readJSON(filepath.Join(dir, e.Name()), &rec); err != nil || rec.State != jobRunning {
			continue
		}
		var res wire.Result
		if err := readJSON(a.outboxPath(outboxResult, rec.ID), &res); err != nil {
			now := time.Now().UTC()
			res = wire.Result{
				Job: rec.ID, Status: wire.StatusFailed, ExitCode: 1, StartedAt: rec.Received, EndedAt: now,
				Output: "phenix agent: interrupted: the agent stopped while the job was queued or running; it is not run again\n",
			}
			a.log.WarnContext(ctx, "job interrupted by the agent stopping: reported as failed", "job", rec.ID)
		}
		a.finishJob(ctx, rec, res)
	}
}

// pruneJobs forgets the jobs received more than jobMemory ago.
func (a *agent) pruneJobs(ctx context.Context) {
	dir := filepath.Join(a.cfg.StateDir, jobsDir)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	a.jobsMu.Lock()
	defer a.jobsMu.Unlock()
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		var rec jobRecord
		if err := readJSON(p, &rec); err != nil {
			if info, err2 := e.Info(); err2 == nil && time.Since(info.ModTime()) > time.Hour {
				os.Remove(p) // debris of an interrupted write
			}
			continue
		}
		if rec.State == jobDone && time.Since(rec.Received) > a.tune.jobMemory {
			if err := os.Remove(p); err != nil {
				a.log.WarnContext(ctx, "cannot forget a job", "job", rec.ID, "err", err)
			}
		}
	}
}

// pruneLoop prunes the job records every hour.
func (a *agent) pruneLoop(ctx context.Context) error {
	for sleep(ctx, time.Hour) == nil {
		a.pruneJobs(ctx)
	}
	return nil
}
