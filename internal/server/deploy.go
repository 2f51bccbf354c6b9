package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"text/template"
	"time"

	"github.com/phenixhq/phenix/internal/api"
	"github.com/phenixhq/phenix/internal/bundle"
	"github.com/phenixhq/phenix/internal/host"
	"github.com/phenixhq/phenix/internal/journal"
	"github.com/phenixhq/phenix/internal/policy"
	"github.com/phenixhq/phenix/internal/sqlstore"
	"github.com/phenixhq/phenix/internal/wire"
)

// Deployment timings.
const (
	// lockTTL is how long a deployment's lock outlives its last sign of
	// life: a server that dies mid-deployment leaves a lock that expires.
	lockTTL = 2 * time.Minute
	// deliverTimeout bounds the download and extraction of a version.
	deliverTimeout = 30 * time.Minute
	// activateTimeout bounds a switch: service restart and checks.
	activateTimeout = 10 * time.Minute
	// maxHookOutput is how much of a server hook's output is kept.
	maxHookOutput = 64 << 10
)

// deployTracker follows the deployments running in this server.
type deployTracker struct {
	mu      sync.Mutex
	running map[string]*deployRun
}

func (t *deployTracker) get(id string) *deployRun {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.running[id]
}

// deployRun is one running deliver, deploy or rollback.
type deployRun struct {
	s      *Server
	d      sqlstore.Deployment
	app    *policy.App
	env    *policy.Env
	ver    sqlstore.Version
	window int // hosts per batch

	mu    sync.Mutex
	steps []api.DeployStep
	subs  map[chan api.DeploymentEvent]bool
	done  chan struct{}
}

// handleDeploy starts a deliver, deploy or rollback: POST /apps/{app}/deployments.
func (s *Server) handleDeploy(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	app, err := s.appOf(ctx, r.PathValue("app"))
	if err != nil {
		return err
	}
	var req api.DeployRequest
	if err := readJSON(r, &req); err != nil {
		return err
	}
	run, err := s.prepareDeploy(ctx, actorOf(r), app, req)
	if err != nil {
		return err
	}
	s.startDeploy(run)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	return writeOK(w, run.snapshot())
}

// prepareDeploy checks a request against the lifecycle, the permissions
// and the lock, and records the deployment, lock taken. Nothing has been
// sent to a host when it returns.
func (s *Server) prepareDeploy(ctx context.Context, a actor, app *policy.App, req api.DeployRequest) (*deployRun, error) {
	switch req.Kind {
	case api.KindDeliver, api.KindDeploy, api.KindRollback:
	default:
		return nil, badRequest("kind", "expected deliver, deploy or rollback, got %q", req.Kind)
	}
	env, idx, err := envOf(app, req.Env, "env")
	if err != nil {
		return nil, err
	}
	if err := mayDeploy(a, app, env, req.Kind); err != nil {
		return nil, err
	}
	reason := strings.TrimSpace(req.Reason)
	if req.Override {
		if !a.Admin {
			return nil, forbidden("user %s may not override the lifecycle: admins only", a.Name)
		}
		if reason == "" {
			return nil, badRequest("reason", "required with override: say why the lifecycle is skipped (it is journaled)")
		}
	}
	batch := env.Batch
	if req.Batch != "" {
		if err := parseBatch(req.Batch); err != nil {
			return nil, err
		}
		batch = req.Batch
	}
	hist, err := s.db.Deployments(ctx, app.Name, env.Name, historyDepth)
	if err != nil {
		return nil, err
	}
	states, err := s.envStates(ctx, app)
	if err != nil {
		return nil, err
	}
	current := states[env.Name].Current
	version := req.Version
	if req.Kind == api.KindRollback {
		if version == "" {
			if version = rollbackTarget(hist); version == "" {
				return nil, conflict("%s %s has no earlier version to roll back to (it runs %s)", app.Name, env.Name, orNone(current))
			}
		}
		if version == current {
			return nil, conflict("%s %s already runs %s", app.Name, env.Name, version)
		}
		if !req.Override {
			ok, err := s.db.Passed(ctx, app.Name, env.Name, version)
			if err != nil {
				return nil, err
			}
			if !ok {
				return nil, conflict("%s %s never ran on %s: a rollback goes back to a version that did; deploy it instead", app.Name, version, env.Name)
			}
		}
	}
	ver, err := s.version(ctx, app, version)
	if err != nil {
		return nil, err
	}
	if req.Kind != api.KindRollback && !req.Override {
		if idx > 0 {
			before := app.Envs[idx-1].Name
			ok, err := s.db.Passed(ctx, app.Name, before, version)
			if err != nil {
				return nil, err
			}
			if !ok {
				return nil, conflict("%s %s has not passed %s yet: deploy it to %s first, where its checks must pass, before %s (the lifecycle is %s; admins may override it with a reason)",
					app.Name, version, before, before, env.Name, strings.Join(app.EnvNames(), " → "))
			}
		}
		if req.Kind == api.KindDeploy && env.Approval {
			if _, err := s.db.Approval(ctx, app.Name, env.Name, version); errors.Is(err, sqlstore.ErrNotFound) {
				who := "an admin"
				if len(env.Approvers) > 0 {
					who = strings.Join(env.Approvers, " or ") + " (or an admin)"
				}
				return nil, conflict("%s needs an approval before %s %s is deployed there: phenix approve %s %s --env %s, by %s",
					env.Name, app.Name, version, app.Name, version, env.Name, who)
			} else if err != nil {
				return nil, err
			}
		}
	}
	sel, err := parseSelector("select", env.Select)
	if err != nil {
		return nil, fmt.Errorf("environment %s of %s: %w", env.Name, app.Name, err)
	}
	now := time.Now().UTC()
	hosts, _ := s.hosts.targets(sel, now)
	if len(hosts) == 0 {
		return nil, conflict("environment %s of %s selects no hosts (select: %s)", env.Name, app.Name, env.Select)
	}
	id, err := newJobID(now)
	if err != nil {
		return nil, err
	}
	id = "d" + id[1:]
	d := sqlstore.Deployment{
		ID: id, App: app.Name, Env: env.Name, Kind: req.Kind, Version: version, Previous: current,
		Actor: a.Name, State: api.StateRunning, Hosts: hosts, Detail: "[]", CreatedAt: now,
	}
	if req.Override {
		d.Override = reason
	}
	lock := sqlstore.Lock{App: app.Name, Env: env.Name, Deployment: id, Actor: a.Name, Reason: req.Kind + " " + version, Since: now, Expires: now.Add(lockTTL)}
	if err := s.db.CreateDeployment(ctx, d, lock, now); err != nil {
		var le *sqlstore.LockedError
		if errors.As(err, &le) {
			return nil, conflict("%v", err)
		}
		return nil, err
	}
	params := map[string]string{"app": app.Name, "env": env.Name, "version": version, "deployment": id, "batch": batch}
	summary := fmt.Sprintf("%s %s %s to %s: started on %d hosts", req.Kind, app.Name, version, env.Name, len(hosts))
	if req.Override {
		params["override"] = reason
		summary += " (lifecycle overridden: " + reason + ")"
	}
	s.journal(journal.Entry{Actor: a.Name, Action: req.Kind + ".start", Selector: env.Select, Hosts: hosts, Params: params, Result: api.StateRunning, Summary: summary})
	return &deployRun{
		s: s, d: d, app: app, env: env, ver: ver, window: batchWindow(batch, len(hosts)),
		subs: map[chan api.DeploymentEvent]bool{}, done: make(chan struct{}),
	}, nil
}

func orNone(v string) string {
	if v == "" {
		return "no version yet"
	}
	return v
}

// startDeploy runs a prepared deployment in the background.
func (s *Server) startDeploy(run *deployRun) {
	s.deploys.mu.Lock()
	s.deploys.running[run.d.ID] = run
	s.deploys.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		run.run()
	}()
}

// run carries the deployment out and ends it.
func (dr *deployRun) run() {
	ctx := dr.s.ctx
	keep := make(chan struct{})
	go dr.keepLock(ctx, keep)
	var err error
	switch dr.d.Kind {
	case api.KindDeliver:
		_, err = dr.deliver(ctx)
	case api.KindDeploy:
		var hosts []string
		if hosts, err = dr.deliver(ctx); err == nil {
			// Migrations run with the first batch's hosts: on: one picks one
			// of them, on: each runs on each.
			if err = dr.hookSet(ctx, 0, "migrate", dr.app.Hooks.Migrate, split(hosts, dr.window)[0]); err == nil {
				err = dr.rollout(ctx, hosts, true)
			}
		}
	case api.KindRollback:
		err = dr.rollout(ctx, dr.d.Hosts, false)
	}
	close(keep)
	dr.end(err)
}

// keepLock extends the deployment's lock while it runs.
func (dr *deployRun) keepLock(ctx context.Context, stop chan struct{}) {
	t := time.NewTicker(lockTTL / 4)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-stop:
			return
		case <-t.C:
			dr.save()
		}
	}
}

// save writes the steps so far and extends the lock.
func (dr *deployRun) save() {
	dr.mu.Lock()
	detail, _ := json.Marshal(dr.steps)
	dr.mu.Unlock()
	if err := dr.s.db.UpdateDeployment(dr.s.ctx, dr.d.ID, string(detail), time.Now().UTC().Add(lockTTL)); err != nil {
		dr.s.log.Error("save deployment", "deployment", dr.d.ID, "err", err)
	}
}

// stepFailure is a step that failed, and why.
type stepFailure struct {
	step string
	why  string
}

func (e *stepFailure) Error() string { return e.step + ": " + e.why }

// deliver stages the version on every host of the environment and returns
// the hosts that have it. More failures than max_fail allows fail it.
func (dr *deployRun) deliver(ctx context.Context) ([]string, error) {
	task := dr.task(wire.ReleaseDeliver, dr.d.Version)
	st, ok := dr.hostStep(ctx, 0, "deliver", dr.d.Hosts, task, deliverTimeout)
	if err := dr.tolerate(st, dr.d.Hosts, ok); err != nil {
		return nil, err
	}
	return ok, nil
}

// tolerate returns a failure when the hosts that failed a step, added to
// those that failed before, are more than the environment's max_fail, or
// when no host at all went through the step.
func (dr *deployRun) tolerate(st *api.DeployStep, hosts, ok []string) error {
	if len(hosts) == len(ok) {
		return nil
	}
	failed := dr.failedHosts()
	if len(failed) <= maxFail(dr.env.MaxFail, len(dr.d.Hosts)) && (len(ok) > 0 || len(hosts) < len(dr.d.Hosts)) {
		return nil
	}
	return &stepFailure{step: stepTitle(st), why: failures(st)}
}

// failedHosts returns the hosts that failed a step so far, sorted.
func (dr *deployRun) failedHosts() []string {
	dr.mu.Lock()
	defer dr.mu.Unlock()
	seen := map[string]bool{}
	for _, s := range dr.steps {
		for _, h := range s.Hosts {
			if !hostOK(h.Status) {
				seen[h.Host] = true
			}
		}
	}
	return slices.Sorted(maps.Keys(seen))
}

func stepTitle(st *api.DeployStep) string {
	if st.Batch > 0 {
		return fmt.Sprintf("batch %d: %s", st.Batch, st.Name)
	}
	return st.Name
}

// maxFail is how many hosts of total may fail: N or N%.
func maxFail(spec string, total int) int {
	if spec == "" {
		return 0
	}
	if p, ok := strings.CutSuffix(spec, "%"); ok {
		var n int
		fmt.Sscan(p, &n)
		return total * n / 100
	}
	var n int
	fmt.Sscan(spec, &n)
	return n
}

func hostOK(status string) bool { return status == wire.StatusOK || status == wire.StatusChanged }

// rollout switches hosts to the deployment's version batch by batch: pre
// hooks, activate (switch, restart, checks), post hooks. With undo, a
// failure switches the hosts already switched back to the environment's
// previous version, batch by batch, the failing one first.
func (dr *deployRun) rollout(ctx context.Context, hosts []string, undo bool) error {
	batches := split(hosts, dr.window)
	var done [][]string // batches switched, in order
	for i, b := range batches {
		n := i + 1
		err := dr.hookSet(ctx, n, "pre", dr.app.Hooks.Pre, b)
		var ok []string
		if err == nil {
			var st *api.DeployStep
			st, ok = dr.hostStep(ctx, n, "activate", b, dr.task(wire.ReleaseActivate, dr.d.Version), activateTimeout)
			done = append(done, b)
			err = dr.tolerate(st, b, ok)
		}
		if err == nil {
			err = dr.hookSet(ctx, n, "post", dr.app.Hooks.Post, ok)
		}
		if err != nil {
			if undo && dr.d.Previous != "" && ctx.Err() == nil {
				dr.undo(ctx, n, b, done)
			}
			return err
		}
	}
	return nil
}

// undo switches back to the previous version: first the failing batch n
// (out of the load balancer already: switch, then post hooks), then the
// batches done before it, newest first, each with its pre and post hooks.
func (dr *deployRun) undo(ctx context.Context, n int, failing []string, done [][]string) {
	back := dr.task(wire.ReleaseActivate, dr.d.Previous)
	switched := len(done) > 0 && slices.Equal(done[len(done)-1], failing)
	ok := failing
	if switched {
		_, ok = dr.hostStep(ctx, n, "rollback to "+dr.d.Previous, failing, back, activateTimeout)
		done = done[:len(done)-1]
	}
	_ = dr.hookSet(ctx, n, "post", dr.app.Hooks.Post, ok)
	for i := len(done) - 1; i >= 0; i-- {
		b := done[i]
		if err := dr.hookSet(ctx, i+1, "pre", dr.app.Hooks.Pre, b); err != nil {
			continue
		}
		_, ok := dr.hostStep(ctx, i+1, "rollback to "+dr.d.Previous, b, back, activateTimeout)
		_ = dr.hookSet(ctx, i+1, "post", dr.app.Hooks.Post, ok)
	}
}

// split cuts hosts into batches of n (all at once for 0).
func split(hosts []string, n int) [][]string {
	if n <= 0 || n >= len(hosts) {
		return [][]string{hosts}
	}
	var out [][]string
	for len(hosts) > 0 {
		k := min(n, len(hosts))
		out = append(out, hosts[:k])
		hosts = hosts[k:]
	}
	return out
}

// task returns the release task of action for version.
func (dr *deployRun) task(action, version string) wire.ReleaseTask {
	v := dr.ver
	if version != v.Version {
		if pv, err := dr.s.db.Version(dr.s.ctx, dr.app.Name, version); err == nil {
			v = pv
		}
	}
	return releaseTask(dr.app, dr.env, action, v)
}

// releaseTask returns the task of action for version v of app on env.
func releaseTask(a *policy.App, env *policy.Env, action string, v sqlstore.Version) wire.ReleaseTask {
	t := wire.ReleaseTask{
		Action: action, App: a.Name, Env: env.Name, Version: v.Version, Dir: a.Dir,
		Strip: a.Strip, Owner: a.Owner, Group: a.Group, Vars: envVars(a, env), Keep: a.Keep,
	}
	if v.SHA256 != "" {
		t.Artifact = wire.Artifact{SHA256: v.SHA256, Size: v.Size, Format: v.Format, Path: "/api/v1/artifacts/" + v.SHA256}
	}
	if action == wire.ReleaseActivate || action == wire.ReleaseCheck {
		t.Checks = a.ChecksYAML
	}
	if action == wire.ReleaseActivate {
		for _, f := range a.Files {
			t.Files = append(t.Files, wire.ReleaseFile{Path: f.Path, Template: f.Template, Mode: f.Mode})
		}
		if a.Service != nil {
			t.Service, _ = json.Marshal(a.Service)
		}
		t.Restart = a.Restart
	}
	return t
}

// vars are the app's vars overlaid with the environment's.
func (dr *deployRun) vars() map[string]any { return envVars(dr.app, dr.env) }

// envVars are the vars of app overlaid with those of env.
func envVars(a *policy.App, env *policy.Env) map[string]any {
	v := maps.Clone(a.Vars)
	if v == nil {
		v = map[string]any{}
	}
	maps.Copy(v, env.Vars)
	return v
}

// hookSet runs hooks (a phase: migrate, pre, post) for the hosts of batch
// n, in order; the first that fails stops them.
func (dr *deployRun) hookSet(ctx context.Context, n int, phase string, hooks []policy.Hook, hosts []string) error {
	if len(hosts) == 0 {
		return nil
	}
	for _, h := range hooks {
		name := phase + ": " + h.Name
		switch h.On {
		case "server":
			st := dr.serverHook(ctx, n, name, h, hosts)
			if st.Result != api.StateOK {
				return &stepFailure{step: stepTitle(st), why: st.Summary}
			}
		default:
			targets := hosts
			if h.On == "one" {
				targets = hosts[:1]
			}
			task := dr.task(wire.ReleaseHook, dr.d.Version)
			task.Hook = &wire.Hook{Name: h.Name, Argv: h.Argv, Script: h.Script}
			st, ok := dr.hostStep(ctx, n, name, targets, task, h.Timeout)
			if len(ok) < len(targets) {
				return &stepFailure{step: stepTitle(st), why: failures(st)}
			}
		}
	}
	return nil
}

func failures(st *api.DeployStep) string {
	var why []string
	for _, h := range st.Hosts {
		if !hostOK(h.Status) {
			msg := h.Host + " " + h.Status
			if h.Error != "" {
				msg += " (" + h.Error + ")"
			}
			why = append(why, msg)
		}
	}
	return strings.Join(why, "; ")
}

// addStep appends a running step and announces it.
func (dr *deployRun) addStep(st api.DeployStep) int {
	dr.mu.Lock()
	dr.steps = append(dr.steps, st)
	i := len(dr.steps) - 1
	dr.broadcastLocked(api.DeploymentEvent{Type: "step", Step: &st})
	dr.mu.Unlock()
	dr.save()
	return i
}

// endStep replaces step i with its end and announces it.
func (dr *deployRun) endStep(i int, st api.DeployStep) {
	dr.mu.Lock()
	dr.steps[i] = st
	dr.broadcastLocked(api.DeploymentEvent{Type: "step", Step: &st})
	dr.mu.Unlock()
	dr.save()
}

// hostStep runs task on hosts as one job and waits for it; it returns the
// step and the hosts where it went well.
func (dr *deployRun) hostStep(ctx context.Context, n int, name string, hosts []string, task wire.ReleaseTask, timeout time.Duration) (*api.DeployStep, []string) {
	s := dr.s
	now := time.Now().UTC()
	st := api.DeployStep{Batch: n, Name: name, Where: strings.Join(hosts, ","), Result: api.StateRunning, StartedAt: now}
	i := dr.addStep(st)
	if timeout <= 0 {
		timeout = policy.DefaultTimeout
	}
	fail := func(why string) (*api.DeployStep, []string) {
		st.Result, st.Summary, st.Duration = api.StateFailed, why, api.Duration(time.Since(now))
		dr.endStep(i, st)
		return &st, nil
	}
	id, results, err := s.runReleaseJob(ctx, dr.d.Actor, dr.env.Select, hosts, task, timeout, dr.d.ID, func(id string) {
		dr.mu.Lock()
		dr.steps[i].Job = id
		dr.mu.Unlock()
		dr.save() // a server that dies now leaves the job findable
	})
	st.Job = id
	if err != nil {
		return fail(err.Error())
	}
	var ok []string
	for _, r := range results {
		hs := hostStepOf(r)
		st.Hosts = append(st.Hosts, hs)
		if hostOK(r.Status) {
			ok = append(ok, r.HostID)
		}
	}
	st.Duration = api.Duration(time.Since(now))
	st.Result = api.StateOK
	if len(ok) < len(hosts) {
		st.Result = api.StateFailed
		st.Summary = failures(&st)
	} else {
		st.Summary = fmt.Sprintf("%d hosts ok", len(ok))
	}
	dr.endStep(i, st)
	return &st, ok
}

// runReleaseJob runs task on hosts as one job, waits for its end and
// returns its results. started, when not nil, learns the job's id before
// the job starts.
func (s *Server) runReleaseJob(ctx context.Context, actor, selector string, hosts []string, task wire.ReleaseTask, timeout time.Duration, deployment string, started func(id string)) (string, []sqlstore.JobResult, error) {
	now := time.Now().UTC()
	id, err := newJobID(now)
	if err != nil {
		return "", nil, err
	}
	kind := wire.JobRelease
	if task.Action == wire.ReleaseCheck {
		kind = wire.JobCheck
	}
	hosts = slices.Sorted(slices.Values(hosts))
	job := sqlstore.Job{ID: id, Kind: kind, Actor: actor, Selector: selector, Hosts: hosts, Timeout: timeout, CreatedAt: now, Deadline: now.Add(timeout + resultGrace)}
	spec := jobSpec{Job: wire.Job{ID: id, Kind: kind, Timeout: timeout, Release: &task}, Deployment: deployment}
	b, _ := json.Marshal(spec)
	job.Spec = string(b)
	var offline []string
	for _, h := range hosts {
		if hst, ok := s.hosts.get(h); !ok || hst.Presence(now, s.hosts.presenceTimeout()) != host.Online {
			offline = append(offline, h)
		}
	}
	if started != nil {
		started(id)
	}
	rj, err := s.jobs.start(ctx, job, spec, offline)
	if err != nil {
		return id, nil, fmt.Errorf("start job: %w", err)
	}
	select {
	case <-rj.done:
	case <-ctx.Done():
		return id, nil, errors.New("the server stopped")
	}
	_, results, err := s.db.Job(s.ctx, id)
	if err != nil {
		return id, nil, fmt.Errorf("read results: %w", err)
	}
	return id, results, nil
}

// hostStepOf reads what a host did from its job result.
func hostStepOf(r sqlstore.JobResult) api.HostStep {
	hs := api.HostStep{Host: r.HostID, Status: r.Status}
	if !r.StartedAt.IsZero() && !r.EndedAt.IsZero() {
		hs.Duration = api.Duration(r.EndedAt.Sub(r.StartedAt))
	}
	var rep wire.ReleaseReport
	if r.Detail != "" && json.Unmarshal([]byte(r.Detail), &rep) == nil {
		hs.Error = rep.Error
		var checks []struct {
			Name     string        `json:"name"`
			OK       bool          `json:"ok"`
			Attempts int           `json:"attempts"`
			Duration time.Duration `json:"duration"`
			Error    string        `json:"error"`
		}
		if len(rep.Checks) > 0 && json.Unmarshal(rep.Checks, &checks) == nil {
			for _, c := range checks {
				hs.Checks = append(hs.Checks, api.CheckResult{Name: c.Name, OK: c.OK, Attempts: c.Attempts, Duration: api.Duration(c.Duration), Error: c.Error})
			}
		}
	}
	switch {
	case hs.Error != "" || hostOK(r.Status):
	case r.Status == wire.StatusUnreachable:
		hs.Error = "the host did not answer: it is offline or went away"
	case r.Status == wire.StatusTimeout:
		hs.Error = "timed out"
	default:
		hs.Error = lastLine(r.Output)
	}
	return hs
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return s
}

// serverHook runs a hook on the server, for the hosts of batch n.
func (dr *deployRun) serverHook(ctx context.Context, n int, name string, h policy.Hook, hosts []string) *api.DeployStep {
	now := time.Now().UTC()
	st := api.DeployStep{Batch: n, Name: name, Where: "server", Result: api.StateRunning, StartedAt: now}
	i := dr.addStep(st)
	out, err := dr.runServerHook(ctx, n, h, hosts)
	st.Output = out
	st.Duration = api.Duration(time.Since(now))
	st.Result, st.Summary = api.StateOK, "ok"
	if err != nil {
		st.Result, st.Summary = api.StateFailed, err.Error()
	}
	dr.endStep(i, st)
	dr.s.journal(journal.Entry{Actor: dr.d.Actor, Action: "release.hook", Hosts: hosts,
		Params: map[string]string{"app": dr.app.Name, "env": dr.env.Name, "version": dr.d.Version, "deployment": dr.d.ID, "hook": name, "on": "server", "batch": fmt.Sprint(n)},
		Result: st.Result, Summary: fmt.Sprintf("%s on the server for batch %d: %s", name, n, st.Summary)})
	return &st
}

// runServerHook renders and runs a server hook, with the hosts of the
// batch in its template data (.hosts) and environment (PHENIX_HOSTS).
func (dr *deployRun) runServerHook(ctx context.Context, n int, h policy.Hook, hosts []string) (string, error) {
	var hd []map[string]string
	var addrs []string
	for _, id := range hosts {
		addr := dr.s.hostAddress(id)
		hd = append(hd, map[string]string{"id": id, "address": addr})
		addrs = append(addrs, addr)
	}
	data := map[string]any{
		"app": dr.app.Name, "env": dr.env.Name, "version": dr.d.Version, "previous": dr.d.Previous,
		"vars": dr.vars(), "hosts": hd, "batch": n,
	}
	render := func(text string) (string, error) {
		t, err := template.New(h.Name).Funcs(bundle.TemplateFuncs()).Option("missingkey=error").Parse(text)
		if err != nil {
			return "", err
		}
		var b bytes.Buffer
		if err := t.Execute(&b, data); err != nil {
			return "", err
		}
		return b.String(), nil
	}
	var argv []string
	if h.Script != "" {
		sc, err := render(h.Script)
		if err != nil {
			return "", fmt.Errorf("template: %w", err)
		}
		argv = []string{"/bin/sh", "-c", sc}
	} else {
		for _, a := range h.Argv {
			v, err := render(a)
			if err != nil {
				return "", fmt.Errorf("template: %w", err)
			}
			argv = append(argv, v)
		}
	}
	timeout := h.Timeout
	if timeout <= 0 {
		timeout = policy.DefaultTimeout
	}
	hctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(hctx, argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 2 * time.Second
	cmd.Env = append(os.Environ(),
		"PHENIX_APP="+dr.app.Name, "PHENIX_ENV="+dr.env.Name, "PHENIX_VERSION="+dr.d.Version,
		"PHENIX_PREVIOUS="+dr.d.Previous, "PHENIX_HOSTS="+strings.Join(hosts, " "),
		"PHENIX_HOST_ADDRESSES="+strings.Join(addrs, " "), fmt.Sprintf("PHENIX_BATCH=%d", n))
	var out capped
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if hctx.Err() == context.DeadlineExceeded {
		return out.String(), fmt.Errorf("timed out after %s", timeout)
	}
	if err != nil {
		if l := lastLine(out.String()); l != "" {
			return out.String(), fmt.Errorf("%v: %s", err, l)
		}
		return out.String(), err
	}
	return out.String(), nil
}

// capped keeps the first maxHookOutput bytes written to it.
type capped struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (c *capped) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if room := maxHookOutput - c.b.Len(); room > 0 {
		c.b.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (c *capped) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.b.String()
}

// hostAddress returns the first address of a host's facts, IPv4 first,
// or its host name.
func (s *Server) hostAddress(id string) string {
	h, ok := s.hosts.get(id)
	if !ok {
		return id
	}
	var v6 string
	for _, a := range strings.Split(h.Facts["addresses"], ",") {
		ip := net.ParseIP(strings.TrimSpace(a))
		if ip == nil || ip.IsLoopback() || ip.IsLinkLocalUnicast() {
			continue
		}
		if ip.To4() != nil {
			return ip.String()
		}
		if v6 == "" {
			v6 = ip.String()
		}
	}
	if v6 != "" {
		return v6
	}
	if h.Hostname != "" {
		return h.Hostname
	}
	return id
}

// end records how the deployment ended, releases its lock and journals it.
func (dr *deployRun) end(err error) {
	s := dr.s
	now := time.Now().UTC()
	state, summary := api.StateOK, ""
	change := &sqlstore.EnvChange{LastDeployment: dr.d.ID}
	v := dr.d.Version
	took := now.Sub(dr.d.CreatedAt).Round(time.Millisecond)
	switch {
	case err != nil && s.ctx.Err() != nil:
		state = api.StateFailed
		summary = "the server stopped " + dr.where() + "; hosts may run either version (see the steps): phenix rollback " + dr.app.Name + " --env " + dr.env.Name + " or deploy again"
	case err != nil:
		state = api.StateFailed
		summary = err.Error()
		if dr.d.Kind == api.KindDeploy {
			if dr.d.Previous != "" {
				summary += "; " + dr.env.Name + " stays on " + dr.d.Previous
			} else {
				summary += "; " + dr.env.Name + " had no version before"
			}
		}
	case dr.d.Kind == api.KindDeliver:
		change.Delivered = &v
		summary = fmt.Sprintf("delivered %s to %d hosts in %s", v, len(dr.d.Hosts), took)
	default:
		change.Current = &v
		change.Delivered = &v
		verb := "deployed"
		if dr.d.Kind == api.KindRollback {
			verb = "rolled back to"
		}
		summary = fmt.Sprintf("%s %s on %d hosts in %s", verb, v, len(dr.d.Hosts), took)
	}
	if failed := dr.failedHosts(); err == nil && len(failed) > 0 {
		summary += fmt.Sprintf("; %d failed, within max_fail %s: %s", len(failed), dr.env.MaxFail, strings.Join(failed, ", "))
	}
	dr.mu.Lock()
	for i := range dr.steps {
		if dr.steps[i].Result == api.StateRunning {
			dr.steps[i].Result, dr.steps[i].Summary = api.StateFailed, "abandoned: "+summary
		}
	}
	detail, _ := json.Marshal(dr.steps)
	dr.mu.Unlock()
	// The end is written with a context of its own: a server stopping
	// mid-deployment still records it failed.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.db.EndDeployment(ctx, dr.d.ID, state, summary, string(detail), now, change); err != nil {
		s.log.Error("end deployment", "deployment", dr.d.ID, "err", err)
	}
	if state == api.StateOK && dr.d.Kind != api.KindDeliver && dr.app.ChecksYAML != "" {
		if err := s.db.SetEnvCheck(ctx, dr.app.Name, dr.env.Name, now, true, "checks passed on every host after the "+dr.d.Kind+" of "+v); err != nil {
			s.log.Error("record checks", "err", err)
		}
	}
	dr.d.State, dr.d.Summary, dr.d.EndedAt, dr.d.Detail = state, summary, now, string(detail)
	s.journal(journal.Entry{Actor: dr.d.Actor, Action: dr.d.Kind, Selector: dr.env.Select, Hosts: dr.d.Hosts,
		Params: map[string]string{"app": dr.app.Name, "env": dr.env.Name, "version": v, "previous": dr.d.Previous, "deployment": dr.d.ID, "override": dr.d.Override},
		Result: state, Summary: dr.d.Kind + " " + dr.app.Name + " " + v + " to " + dr.env.Name + ": " + summary})
	s.log.Info("deployment ended", "deployment", dr.d.ID, "state", state, "summary", summary)
	snap := s.apiDeployment(dr.d, false)
	dr.mu.Lock()
	dr.broadcastLocked(api.DeploymentEvent{Type: "end", Deployment: &snap})
	for ch := range dr.subs {
		close(ch)
	}
	dr.subs = map[chan api.DeploymentEvent]bool{}
	dr.mu.Unlock()
	close(dr.done)
	s.deploys.mu.Lock()
	delete(s.deploys.running, dr.d.ID)
	s.deploys.mu.Unlock()
}

// where says at which step the deployment is: "during batch 2: activate".
func (dr *deployRun) where() string {
	dr.mu.Lock()
	defer dr.mu.Unlock()
	if n := len(dr.steps); n > 0 && dr.steps[n-1].Result != api.StateOK {
		return "during " + stepTitle(&dr.steps[n-1]) // cut short by the stop
	}
	if n := len(dr.steps); n > 0 {
		return "after " + stepTitle(&dr.steps[n-1])
	}
	return "before its first step"
}

// snapshot returns the deployment as it is now, with its steps.
func (dr *deployRun) snapshot() api.Deployment {
	dr.mu.Lock()
	defer dr.mu.Unlock()
	d := dr.s.apiDeployment(dr.d, false)
	d.Steps = slices.Clone(dr.steps)
	return d
}

func (dr *deployRun) subscribe() (chan api.DeploymentEvent, api.Deployment) {
	ch := make(chan api.DeploymentEvent, 1024)
	dr.mu.Lock()
	defer dr.mu.Unlock()
	d := dr.s.apiDeployment(dr.d, false)
	d.Steps = slices.Clone(dr.steps)
	if d.State == api.StateRunning {
		dr.subs[ch] = true
	}
	return ch, d
}

func (dr *deployRun) unsubscribe(ch chan api.DeploymentEvent) {
	dr.mu.Lock()
	defer dr.mu.Unlock()
	if dr.subs[ch] {
		delete(dr.subs, ch)
		close(ch)
	}
}

func (dr *deployRun) broadcastLocked(ev api.DeploymentEvent) {
	for ch := range dr.subs {
		select {
		case ch <- ev:
		default:
			delete(dr.subs, ch)
			close(ch)
		}
	}
}

// recoverDeployments ends the deployments a previous server left running:
// failed, lock released, their unfinished jobs abandoned — never left as
// running. It runs before the jobs are resumed.
func (s *Server) recoverDeployments(ctx context.Context) {
	open, err := s.db.OpenDeployments(ctx)
	if err != nil {
		s.log.Error("recover deployments", "err", err)
		return
	}
	now := time.Now().UTC()
	for _, d := range open {
		var steps []api.DeployStep
		_ = json.Unmarshal([]byte(d.Detail), &steps)
		where := "before its first step"
		for i := range steps {
			if steps[i].Result != api.StateRunning {
				continue
			}
			where = "during " + stepTitle(&steps[i])
			steps[i].Result, steps[i].Summary = api.StateFailed, "abandoned: the server stopped"
			if steps[i].Job != "" {
				s.abandonJob(ctx, steps[i].Job, d.ID, now)
			}
		}
		summary := "the server stopped " + where + "; hosts may run either version (see the steps): phenix rollback " + d.App + " --env " + d.Env + " or deploy again"
		detail, _ := json.Marshal(steps)
		if err := s.db.EndDeployment(ctx, d.ID, api.StateFailed, summary, string(detail), now, &sqlstore.EnvChange{LastDeployment: d.ID}); err != nil {
			s.log.Error("recover deployment", "deployment", d.ID, "err", err)
			continue
		}
		s.journal(journal.Entry{Actor: "phenix", Action: d.Kind, Hosts: d.Hosts,
			Params: map[string]string{"app": d.App, "env": d.Env, "version": d.Version, "deployment": d.ID},
			Result: api.StateFailed, Summary: d.Kind + " " + d.App + " " + d.Version + " to " + d.Env + ": " + summary + "; lock released"})
		s.log.Warn("deployment left running by a previous server: failed", "deployment", d.ID)
	}
}

// abandonJob ends a job of a deployment the server will not carry on.
func (s *Server) abandonJob(ctx context.Context, id, deployment string, now time.Time) {
	_, results, err := s.db.Job(ctx, id)
	if err != nil {
		return
	}
	var pending []string
	for _, r := range results {
		if r.Status == wire.StatusPending {
			pending = append(pending, r.HostID)
		}
	}
	if len(pending) > 0 {
		if _, err := s.db.MarkUnreachable(ctx, id, pending, now); err != nil {
			s.log.Error("abandon job", "job", id, "err", err)
		}
	}
	if err := s.db.EndJob(ctx, id, wire.StatusFailed, "abandoned: the server stopped during deployment "+deployment, now); err != nil {
		s.log.Error("abandon job", "job", id, "err", err)
	}
}
