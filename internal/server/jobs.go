package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/phenixhq/phenix/internal/api"
	"github.com/phenixhq/phenix/internal/host"
	"github.com/phenixhq/phenix/internal/journal"
	"github.com/phenixhq/phenix/internal/sqlstore"
	"github.com/phenixhq/phenix/internal/wire"
)

// Job defaults and limits.
const (
	DefaultRunTimeout   = time.Minute
	DefaultApplyTimeout = 10 * time.Minute
	MaxJobTimeout       = 24 * time.Hour
	// resultGrace is how long after its timeout a host that has not
	// answered becomes unreachable: the agent kills the command at the
	// timeout and needs a moment to say so.
	resultGrace = 5 * time.Second
	// resumeGrace is added to the deadline of a job resumed after a
	// restart, for the agents to reconnect.
	resumeGrace = 30 * time.Second
)

// jobSpec is what sqlstore.Job.Spec holds.
type jobSpec struct {
	Command []string          `json:"command,omitempty"`
	Op      string            `json:"op,omitempty"`
	Params  map[string]string `json:"params,omitempty"` // secrets masked
	DryRun  bool              `json:"dry_run,omitempty"`
	Job     wire.Job          `json:"job"`
	// Deployment is the deployment a release job is a step of.
	Deployment string `json:"deployment,omitempty"`
}

// jobTracker follows the jobs that have not ended.
type jobTracker struct {
	s       *Server
	mu      sync.Mutex
	running map[string]*runningJob
}

type runningJob struct {
	t    *jobTracker
	job  sqlstore.Job
	spec jobSpec
	msg  []byte // the wire.Job, encoded

	mu         sync.Mutex
	pending    map[string]bool      // hosts without a final result
	deadline   map[string]time.Time // dispatched hosts still pending → when they become unreachable
	queue      []string             // hosts not dispatched yet
	window     int                  // hosts in flight at most; 0 for all
	counts     map[string]int
	subs       map[chan api.Event]bool
	wake       chan struct{}
	extraGrace time.Duration
	dispatched map[string]time.Time // when each host was sent the job
	done       chan struct{}        // closed when the job ends, or the server stops
	closeOnce  sync.Once
}

func newJobTracker(s *Server) *jobTracker {
	return &jobTracker{s: s, running: map[string]*runningJob{}}
}

// start stores job and runs it. offline hosts are unreachable at once.
func (t *jobTracker) start(ctx context.Context, job sqlstore.Job, spec jobSpec, offline []string) (*runningJob, error) {
	if err := t.s.db.CreateJob(ctx, job); err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	if len(offline) > 0 {
		if _, err := t.s.db.MarkUnreachable(ctx, job.ID, offline, now); err != nil {
			return nil, err
		}
	}
	off := map[string]bool{}
	for _, h := range offline {
		off[h] = true
	}
	var targets []string
	for _, h := range job.Hosts {
		if !off[h] {
			targets = append(targets, h)
		}
	}
	rj := t.register(job, spec, targets, 0)
	rj.counts[wire.StatusUnreachable] += len(offline)
	t.s.wg.Add(1)
	go func() { defer t.s.wg.Done(); rj.run() }()
	return rj, nil
}

func (t *jobTracker) register(job sqlstore.Job, spec jobSpec, targets []string, extraGrace time.Duration) *runningJob {
	msg, _ := json.Marshal(spec.Job)
	rj := &runningJob{
		t: t, job: job, spec: spec, msg: msg,
		pending:    map[string]bool{},
		deadline:   map[string]time.Time{},
		queue:      targets,
		window:     batchWindow(job.Batch, len(job.Hosts)),
		counts:     map[string]int{},
		subs:       map[chan api.Event]bool{},
		wake:       make(chan struct{}, 1),
		extraGrace: extraGrace,
		dispatched: map[string]time.Time{},
		done:       make(chan struct{}),
	}
	for _, h := range targets {
		rj.pending[h] = true
	}
	t.mu.Lock()
	t.running[job.ID] = rj
	t.mu.Unlock()
	return rj
}

// resume runs again the jobs a previous server left unfinished.
func (t *jobTracker) resume(ctx context.Context) {
	jobs, err := t.s.db.OpenJobs(ctx)
	if err != nil {
		t.s.log.Error("resume jobs", "err", err)
		return
	}
	for _, j := range jobs {
		job, results, err := t.s.db.Job(ctx, j.ID)
		if err != nil {
			t.s.log.Error("resume job", "job", j.ID, "err", err)
			continue
		}
		var spec jobSpec
		if err := json.Unmarshal([]byte(job.Spec), &spec); err != nil {
			t.s.log.Error("resume job: spec", "job", j.ID, "err", err)
			continue
		}
		if spec.Deployment != "" || job.Kind == wire.JobCheck {
			// Its deployment ended failed (recoverDeployments), and
			// nobody waits for a scheduled check any more.
			t.s.abandonJob(ctx, job.ID, spec.Deployment, time.Now().UTC())
			continue
		}
		var pending []string
		counts := map[string]int{}
		for _, r := range results {
			if r.Status == wire.StatusPending {
				pending = append(pending, r.HostID)
			} else {
				counts[r.Status]++
			}
		}
		rj := t.register(job, spec, pending, resumeGrace)
		for k, v := range counts {
			rj.counts[k] = v
		}
		t.s.log.Info("resumed job", "job", job.ID, "pending", len(pending))
		t.s.wg.Add(1)
		go func() { defer t.s.wg.Done(); rj.run() }()
	}
}

func (t *jobTracker) get(id string) *runningJob {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.running[id]
}

// redispatch publishes again the running jobs host id has not answered:
// the host has just (re)connected and may have missed them.
func (t *jobTracker) redispatch(id string) {
	t.mu.Lock()
	var rjs []*runningJob
	for _, rj := range t.running {
		rjs = append(rjs, rj)
	}
	t.mu.Unlock()
	for _, rj := range rjs {
		rj.mu.Lock()
		_, inflight := rj.deadline[id]
		rj.mu.Unlock()
		if inflight {
			_ = rj.t.s.nc.Publish(busDown(id, wire.KindJob), rj.msg)
		}
	}
}

// batchWindow returns how many hosts a job runs on at once: N, or N% of
// total (at least 1); 0 for all.
func batchWindow(batch string, total int) int {
	if batch == "" {
		return 0
	}
	if p, ok := strings.CutSuffix(batch, "%"); ok {
		n, _ := strconv.Atoi(p)
		return max(1, total*n/100)
	}
	n, _ := strconv.Atoi(batch)
	return n
}

// parseBatch checks a batch: N or N% with N >= 1 (and <= 100 for %).
func parseBatch(b string) error {
	if b == "" {
		return nil
	}
	p, pct := strings.CutSuffix(b, "%")
	n, err := strconv.Atoi(p)
	if err != nil || n < 1 || (pct && n > 100) {
		return badRequest("batch", "expected N or N%% (N >= 1, at most 100%%), got %q", b)
	}
	return nil
}

func (rj *runningJob) run() {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	expire := false
	for {
		rj.dispatch()
		// Deadlines are checked on the tick only: a result wakes the loop,
		// and scanning 10,000 deadlines for each of 10,000 results would
		// cost more than the job itself.
		if expire {
			rj.expire()
		}
		if rj.finished() {
			rj.finish()
			return
		}
		select {
		case <-rj.t.s.ctx.Done():
			rj.close()
			return
		case <-rj.wake:
			expire = false
		case <-tick.C:
			expire = true
		}
	}
}

// dispatch publishes the job to as many queued hosts as the window allows.
func (rj *runningJob) dispatch() {
	rj.mu.Lock()
	n := len(rj.queue)
	if rj.window > 0 {
		n = min(n, rj.window-len(rj.deadline))
	}
	if n <= 0 {
		rj.mu.Unlock()
		return
	}
	batch := rj.queue[:n]
	rj.queue = rj.queue[n:]
	now := time.Now()
	dl := now.Add(rj.job.Timeout + resultGrace + rj.extraGrace)
	for _, h := range batch {
		rj.deadline[h] = dl
		rj.dispatched[h] = now
	}
	rj.mu.Unlock()
	nc := rj.t.s.nc
	for _, h := range batch {
		if err := nc.Publish(busDown(h, wire.KindJob), rj.msg); err != nil {
			rj.t.s.log.Warn("publish job", "job", rj.job.ID, "host", h, "err", err)
		}
	}
	_ = nc.Flush()
}

// expire marks unreachable the dispatched hosts past their deadline, and
// those that went away: silent (no heartbeat) for longer than the
// presence timeout, counted from the later of their last heartbeat and
// the dispatch — a host that vanishes mid-job is not waited for until
// the job's timeout.
func (rj *runningJob) expire() {
	now := time.Now()
	gone := rj.t.s.hosts.presenceTimeout() + resultGrace
	rj.mu.Lock()
	var late []string
	for h, dl := range rj.deadline {
		if now.After(dl) {
			late = append(late, h)
			continue
		}
		if seen, ok := rj.t.s.hosts.lastSeen(h); ok {
			since := rj.dispatched[h]
			if seen.After(since) {
				since = seen
			}
			if now.Sub(since) > gone {
				late = append(late, h)
			}
		}
	}
	rj.mu.Unlock()
	if len(late) == 0 {
		return
	}
	marked, err := rj.t.s.db.MarkUnreachable(rj.t.s.ctx, rj.job.ID, late, now.UTC())
	if err != nil {
		rj.t.s.log.Error("mark unreachable", "job", rj.job.ID, "err", err)
		return
	}
	rj.mu.Lock()
	for _, h := range late {
		delete(rj.deadline, h)
	}
	for _, h := range marked {
		if rj.pending[h] {
			delete(rj.pending, h)
			rj.counts[wire.StatusUnreachable]++
			rj.broadcastLocked(api.Event{Type: "result", Host: h, Result: &api.JobResult{Host: h, Status: wire.StatusUnreachable, EndedAt: now.UTC()}})
		}
	}
	rj.mu.Unlock()
}

func (rj *runningJob) finished() bool {
	rj.mu.Lock()
	defer rj.mu.Unlock()
	return len(rj.pending) == 0
}

// deliver records a stored result.
func (rj *runningJob) deliver(r sqlstore.JobResult) {
	rj.mu.Lock()
	if rj.pending[r.HostID] {
		delete(rj.pending, r.HostID)
		delete(rj.deadline, r.HostID)
		rj.counts[r.Status]++
	}
	ar := apiResult(r)
	rj.broadcastLocked(api.Event{Type: "result", Host: r.HostID, Result: &ar})
	rj.mu.Unlock()
	select {
	case rj.wake <- struct{}{}:
	default:
	}
}

func (rj *runningJob) output(host string, o wire.Output) {
	rj.mu.Lock()
	defer rj.mu.Unlock()
	if len(rj.subs) > 0 {
		rj.broadcastLocked(api.Event{Type: "output", Host: host, Stream: o.Stream, Data: o.Data})
	}
}

// broadcastLocked sends ev to every subscriber; one too slow to keep up is
// dropped (its stream ends and the client resumes it from the store).
func (rj *runningJob) broadcastLocked(ev api.Event) {
	for ch := range rj.subs {
		select {
		case ch <- ev:
		default:
			delete(rj.subs, ch)
			close(ch)
		}
	}
}

func (rj *runningJob) subscribe() chan api.Event {
	ch := make(chan api.Event, 4096)
	rj.mu.Lock()
	rj.subs[ch] = true
	rj.mu.Unlock()
	return ch
}

func (rj *runningJob) unsubscribe(ch chan api.Event) {
	rj.mu.Lock()
	defer rj.mu.Unlock()
	if rj.subs[ch] {
		delete(rj.subs, ch)
		close(ch)
	}
}

// close ends the subscriptions without ending the job (the server stops).
func (rj *runningJob) close() {
	rj.closeOnce.Do(func() { close(rj.done) })
	rj.mu.Lock()
	for ch := range rj.subs {
		close(ch)
	}
	rj.subs = map[chan api.Event]bool{}
	rj.mu.Unlock()
	rj.t.mu.Lock()
	delete(rj.t.running, rj.job.ID)
	rj.t.mu.Unlock()
}

// outcome returns a job's result and summary from its counts.
func outcome(counts map[string]int, hosts int) (result, summary string) {
	if hosts == 0 {
		return "ok", "0 hosts matched"
	}
	var parts []string
	for _, st := range []string{wire.StatusOK, wire.StatusChanged, wire.StatusFailed, wire.StatusTimeout, wire.StatusUnreachable} {
		if n := counts[st]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, st))
		}
	}
	result = wire.StatusOK
	switch {
	case counts[wire.StatusFailed]+counts[wire.StatusTimeout]+counts[wire.StatusUnreachable] > 0:
		result = wire.StatusFailed
	case counts[wire.StatusChanged] > 0:
		result = wire.StatusChanged
	}
	return result, strings.Join(parts, ", ")
}

func (rj *runningJob) finish() {
	s := rj.t.s
	rj.mu.Lock()
	result, summary := outcome(rj.counts, len(rj.job.Hosts))
	rj.mu.Unlock()
	now := time.Now().UTC()
	if err := s.db.EndJob(s.ctx, rj.job.ID, result, summary, now); err != nil {
		s.log.Error("end job", "job", rj.job.ID, "err", err)
	}
	rj.job.EndedAt, rj.job.Result, rj.job.Summary = now, result, summary
	s.journalJob(rj.job, rj.spec)
	aj := s.apiJob(rj.job, nil)
	rj.mu.Lock()
	rj.broadcastLocked(api.Event{Type: "end", Job: &aj})
	rj.mu.Unlock()
	rj.close()
}

// journalJob writes the journal entry of an ended job.
func (s *Server) journalJob(j sqlstore.Job, spec jobSpec) {
	action := map[string]string{wire.JobRun: "command.run", wire.JobOp: "op.run", wire.JobApply: "apply"}[j.Kind]
	params := map[string]string{}
	switch j.Kind {
	case wire.JobCheck:
		return // scheduled: its outcome is the environment's check status
	case wire.JobRelease:
		if t := spec.Job.Release; t != nil {
			action = "release." + t.Action
			params["app"], params["env"], params["version"] = t.App, t.Env, t.Version
			if t.Hook != nil {
				params["hook"] = t.Hook.Name
			}
		}
		params["deployment"] = spec.Deployment
	case wire.JobRun:
		params["command"] = strings.Join(spec.Command, " ")
	case wire.JobOp:
		params["op"] = spec.Op
		for k, v := range spec.Params {
			params["param."+k] = v
		}
	case wire.JobApply:
		params["dry_run"] = strconv.FormatBool(spec.DryRun)
	}
	params["job"] = j.ID
	if j.Batch != "" {
		params["batch"] = j.Batch
	}
	params["timeout"] = j.Timeout.String()
	s.journal(journal.Entry{Actor: j.Actor, Action: action, Selector: j.Selector, Hosts: j.Hosts, Params: s.maskParams(params), Result: j.Result, Summary: j.Summary})
}

func apiResult(r sqlstore.JobResult) api.JobResult {
	return api.JobResult{Host: r.HostID, Status: r.Status, ExitCode: r.ExitCode, Output: r.Output, Detail: json.RawMessage(nonEmptyJSON(r.Detail)), StartedAt: r.StartedAt, EndedAt: r.EndedAt}
}

func nonEmptyJSON(s string) []byte {
	if s == "" {
		return nil
	}
	return []byte(s)
}

func (s *Server) apiJob(j sqlstore.Job, results []sqlstore.JobResult) api.Job {
	var spec jobSpec
	_ = json.Unmarshal([]byte(j.Spec), &spec)
	view := map[string]any{}
	if spec.Command != nil {
		view["command"] = spec.Command
	}
	if spec.Op != "" {
		view["op"] = spec.Op
		view["params"] = spec.Params
	}
	if j.Kind == wire.JobApply {
		view["dry_run"] = spec.DryRun
	}
	out := api.Job{ID: j.ID, Kind: j.Kind, Actor: j.Actor, Selector: j.Selector, Spec: view, Hosts: j.Hosts,
		Timeout: api.Duration(j.Timeout), Batch: j.Batch, CreatedAt: j.CreatedAt, EndedAt: j.EndedAt, Result: j.Result, Summary: j.Summary}
	if out.Hosts == nil {
		out.Hosts = []string{}
	}
	for _, r := range results {
		ar := apiResult(r)
		ar.Hostname = s.hosts.hostname(r.HostID)
		out.Results = append(out.Results, ar)
	}
	return out
}

func (s *Server) handleStartJob(w http.ResponseWriter, r *http.Request) error {
	var req api.JobRequest
	if err := readJSON(r, &req); err != nil {
		return err
	}
	job, spec, err := s.prepareJob(req)
	if err != nil {
		return err
	}
	job.Actor = actorOf(r).Name
	sel, err := s.parseSelector("selector", job.Selector)
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	var offline []string
	job.Hosts, offline = s.hosts.targets(sel, now)
	if job.ID, err = newJobID(now); err != nil {
		return err
	}
	spec.Job.ID = job.ID
	b, _ := json.Marshal(spec)
	job.Spec = string(b)
	job.CreatedAt = now
	job.Deadline = now.Add(job.Timeout + resultGrace)
	if _, err := s.jobs.start(r.Context(), job, spec, offline); err != nil {
		return err
	}
	return writeOK(w, s.apiJob(job, nil))
}

// prepareJob checks a job request and returns the job (without hosts and
// id) and its spec.
func (s *Server) prepareJob(req api.JobRequest) (sqlstore.Job, jobSpec, error) {
	job := sqlstore.Job{Kind: req.Kind, Selector: strings.TrimSpace(req.Selector), Batch: req.Batch, Timeout: time.Duration(req.Timeout)}
	spec := jobSpec{Job: wire.Job{Kind: req.Kind}}
	if err := parseBatch(req.Batch); err != nil {
		return job, spec, err
	}
	if job.Timeout < 0 || job.Timeout > MaxJobTimeout {
		return job, spec, badRequest("timeout", "must be between 0 and %s, got %s", MaxJobTimeout, job.Timeout)
	}
	switch req.Kind {
	case wire.JobRun:
		if len(req.Command) == 0 || req.Command[0] == "" {
			return job, spec, badRequest("command", "required: what to run on each host")
		}
		spec.Command = req.Command
		spec.Job.Argv = req.Command
		if job.Timeout == 0 {
			job.Timeout = DefaultRunTimeout
		}
	case wire.JobApply:
		spec.DryRun = req.DryRun
		spec.Job.DryRun = req.DryRun
		if job.Timeout == 0 {
			job.Timeout = DefaultApplyTimeout
		}
	case wire.JobOp:
		if err := s.prepareOp(req, &job, &spec); err != nil {
			return job, spec, err
		}
	default:
		return job, spec, badRequest("kind", "expected run, op or apply, got %q", req.Kind)
	}
	if job.Selector == "" {
		return job, spec, badRequest("selector", "required: which hosts ('*' for every host)")
	}
	spec.Job.Timeout = job.Timeout
	return job, spec, nil
}

func (s *Server) handleJobs(w http.ResponseWriter, r *http.Request) error {
	limit, err := queryInt(r, "limit", 50)
	if err != nil {
		return err
	}
	jobs, err := s.db.Jobs(r.Context(), limit)
	if err != nil {
		return err
	}
	out := []api.Job{}
	for _, j := range jobs {
		out = append(out, s.apiJob(j, nil))
	}
	return writeOK(w, out)
}

func (s *Server) handleJob(w http.ResponseWriter, r *http.Request) error {
	j, rs, err := s.db.Job(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeOK(w, s.apiJob(j, rs))
}

// handleEvents streams a job's results (those stored first, then live ones
// with the output) as newline-delimited JSON until the job ends.
func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	var ch chan api.Event
	if rj := s.jobs.get(id); rj != nil {
		ch = rj.subscribe()
		defer rj.unsubscribe(ch)
	}
	j, rs, err := s.db.Job(r.Context(), id)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	fl, _ := w.(http.Flusher)
	sent := map[string]bool{}
	for _, res := range rs {
		if res.Status == wire.StatusPending {
			continue
		}
		ar := apiResult(res)
		sent[res.HostID] = true
		if err := enc.Encode(api.Event{Type: "result", Host: res.HostID, Result: &ar}); err != nil {
			return nil
		}
	}
	if ch == nil || !j.EndedAt.IsZero() {
		if j.EndedAt.IsZero() {
			// Not running here and not ended: the server is stopping.
			return nil
		}
		aj := s.apiJob(j, nil)
		_ = enc.Encode(api.Event{Type: "end", Job: &aj})
		return nil
	}
	if fl != nil {
		fl.Flush()
	}
	for {
		select {
		case <-r.Context().Done():
			return nil
		case ev, ok := <-ch:
			if !ok {
				return nil
			}
			if ev.Type == "result" {
				if sent[ev.Host] {
					continue
				}
				sent[ev.Host] = true
			}
			if err := enc.Encode(ev); err != nil {
				return nil
			}
			if ev.Type == "end" {
				return nil
			}
			if fl != nil && len(ch) == 0 {
				fl.Flush()
			}
		}
	}
}

// pendingResult is a result received from a host, to store and acknowledge.
type pendingResult struct {
	r     sqlstore.JobResult
	reply string
}

// storeResults stores results in batches, then acknowledges them: a burst
// of 10,000 results is a few transactions, not 10,000.
func (s *Server) storeResults() {
	ok, _ := json.Marshal(wire.Ack{OK: true})
	for {
		var batch []*pendingResult
		select {
		case <-s.ctx.Done():
			return
		case p := <-s.results:
			batch = append(batch, p)
		}
	fill:
		for len(batch) < 5000 {
			select {
			case p := <-s.results:
				batch = append(batch, p)
			default:
				break fill
			}
		}
		rs := make([]sqlstore.JobResult, len(batch))
		for i, p := range batch {
			rs[i] = p.r
		}
		stored, err := s.db.SetResults(s.ctx, rs)
		if err != nil {
			s.log.Error("store results", "results", len(rs), "err", err)
			nack, _ := json.Marshal(wire.Ack{Error: "the server could not store the result; retry"})
			for _, p := range batch {
				_ = s.nc.Publish(p.reply, nack)
			}
			continue
		}
		for i, p := range batch {
			_ = s.nc.Publish(p.reply, ok)
			if !stored[i] {
				continue
			}
			if rj := s.jobs.get(p.r.JobID); rj != nil {
				rj.deliver(p.r)
			} else {
				s.lateResult(p.r.JobID)
			}
		}
		s.updateLastResults(batch, stored)
	}
}

// updateLastResults records the outcome of apply jobs as the hosts' last
// convergence result.
func (s *Server) updateLastResults(batch []*pendingResult, stored []bool) {
	for i, p := range batch {
		if !stored[i] {
			continue
		}
		rj := s.jobs.get(p.r.JobID)
		if rj == nil || rj.job.Kind != wire.JobApply || rj.spec.DryRun {
			continue
		}
		s.setLastResult(p.r.HostID, p.r.Status)
	}
}

func (s *Server) setLastResult(id, result string) {
	h, ok := s.hosts.get(id)
	if !ok || h.LastResult == result {
		return
	}
	if err := s.db.SetLastResult(s.ctx, id, result); err != nil {
		s.log.Warn("store last result", "host", id, "err", err)
		return
	}
	s.hosts.update(id, func(x *host.Host) { x.LastResult = result })
}

// lateResult updates the outcome of an ended job after a result that
// arrived past its deadline replaced unreachable: the job's summary says
// what its results say.
func (s *Server) lateResult(jobID string) {
	j, rs, err := s.db.Job(s.ctx, jobID)
	if err != nil || j.EndedAt.IsZero() {
		return
	}
	counts := map[string]int{}
	for _, r := range rs {
		counts[r.Status]++
	}
	result, summary := outcome(counts, len(rs))
	if result == j.Result && summary == j.Summary {
		return
	}
	if err := s.db.EndJob(s.ctx, jobID, result, summary+" (after a late result)", j.EndedAt); err != nil {
		s.log.Warn("update a job after a late result", "job", jobID, "err", err)
	}
}
