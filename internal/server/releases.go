package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/phenixhq/phenix/internal/api"
	"github.com/phenixhq/phenix/internal/artifact"
	"github.com/phenixhq/phenix/internal/journal"
	"github.com/phenixhq/phenix/internal/pki"
	"github.com/phenixhq/phenix/internal/policy"
	"github.com/phenixhq/phenix/internal/sqlstore"
)

// MaxArtifact is the largest version artifact the server accepts.
const MaxArtifact = 8 << 30

// versionName is what a version may be called: it names a directory on
// every host (releases/<version>), so no slash, no leading dot.
var versionName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+~-]{0,127}$`)

// appOf returns app name of the latest policy, or a 404 that says how to
// declare it.
func (s *Server) appOf(ctx context.Context, name string) (*policy.App, error) {
	lp, err := s.policies.latest(ctx, s.db)
	if err != nil {
		return nil, err
	}
	if lp == nil {
		return nil, notFound("no app %q: no policy was pushed yet (declare it in apps/%s.yml, then phenix policy push)", name, name)
	}
	app := lp.pol.Apps[name]
	if app == nil {
		return nil, notFound("no app %q in the latest policy (revision %s): declare it in apps/%s.yml and push the policy", name, short(lp.rev.Hash), name)
	}
	return app, nil
}

// envOf returns the environment of app named by field name, or a 400
// listing the environments.
func envOf(app *policy.App, name, field string) (*policy.Env, int, error) {
	if name == "" {
		return nil, -1, badRequest(field, "required: one of the environments of %s: %s", app.Name, strings.Join(app.EnvNames(), ", "))
	}
	env, i := app.Env(name)
	if env == nil {
		return nil, -1, badRequest(field, "app %s has no environment %q (its environments: %s)", app.Name, name, strings.Join(app.EnvNames(), ", "))
	}
	return env, i, nil
}

func (s *Server) handleApps(w http.ResponseWriter, r *http.Request) error {
	lp, err := s.policies.latest(r.Context(), s.db)
	if err != nil {
		return err
	}
	out := []api.App{}
	if lp != nil {
		for _, a := range lp.pol.Apps {
			out = append(out, api.App{Name: a.Name, Description: a.Description, Environments: a.EnvNames()})
		}
	}
	slices.SortFunc(out, func(a, b api.App) int { return strings.Compare(a.Name, b.Name) })
	return writeOK(w, out)
}

// handleUpload stores a version's artifact: PUT /apps/{app}/versions/{version}.
func (s *Server) handleUpload(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	app, err := s.appOf(ctx, r.PathValue("app"))
	if err != nil {
		return err
	}
	version := r.PathValue("version")
	if !versionName.MatchString(version) {
		return badRequest("version", "%q is not a version name: letters, digits and . _ + ~ -, starting with a letter or digit, at most 128 characters", version)
	}
	note := strings.TrimSpace(r.Header.Get("X-Phenix-Note"))
	info, err := s.artifacts.Put(ctx, r.Body, MaxArtifact, app.Strip)
	if err != nil {
		if errors.Is(err, artifact.ErrBadArchive) {
			return badRequest("body", "%v", err)
		}
		return fmt.Errorf("upload %s %s: %w", app.Name, version, err)
	}
	a := actorOf(r)
	v, created, err := s.db.PutVersion(ctx, sqlstore.Version{
		App: app.Name, Version: version, SHA256: info.SHA256, Size: info.Size, Format: info.Format,
		Note: note, Actor: a.Name, CreatedAt: time.Now().UTC(),
	})
	if err != nil {
		// A refused version may leave its artifact unreferenced in the
		// store: removing it could race with an upload of the same
		// content, and a later upload of that content uses it.
		return err
	}
	if created {
		s.journal(journal.Entry{Actor: a.Name, Action: "version.upload", Params: map[string]string{
			"app": app.Name, "version": version, "sha256": info.SHA256, "size": fmt.Sprint(info.Size), "note": note,
		}, Result: "ok", Summary: fmt.Sprintf("uploaded %s %s (sha256:%s, %d bytes)", app.Name, version, info.SHA256[:12], info.Size)})
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
	}
	return writeOK(w, apiVersion(v))
}

func apiVersion(v sqlstore.Version) api.Version {
	return api.Version{App: v.App, Version: v.Version, SHA256: v.SHA256, Size: v.Size, Format: v.Format, Note: v.Note, Actor: v.Actor, CreatedAt: v.CreatedAt}
}

func (s *Server) handleVersions(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	app, err := s.appOf(ctx, r.PathValue("app"))
	if err != nil {
		return err
	}
	limit, err := queryInt(r, "limit", 50)
	if err != nil {
		return err
	}
	vs, err := s.db.Versions(ctx, app.Name, limit)
	if err != nil {
		return err
	}
	states, err := s.envStates(ctx, app)
	if err != nil {
		return err
	}
	passed, err := s.db.PassedEnvs(ctx, app.Name)
	if err != nil {
		return err
	}
	approvals, err := s.db.Approvals(ctx, app.Name)
	if err != nil {
		return err
	}
	out := make([]api.Version, 0, len(vs))
	for _, v := range vs {
		av := apiVersion(v)
		for _, e := range app.Envs {
			st := states[e.Name]
			if st.Current == v.Version {
				av.Current = append(av.Current, e.Name)
			}
			if st.Delivered == v.Version && st.Current != v.Version {
				av.Delivered = append(av.Delivered, e.Name)
			}
			if slices.Contains(passed[v.Version], e.Name) {
				av.Passed = append(av.Passed, e.Name)
			}
		}
		for _, a := range approvals {
			if a.Version == v.Version {
				av.Approved = append(av.Approved, a.Env)
			}
		}
		out = append(out, av)
	}
	return writeOK(w, out)
}

// envStates returns the state of each environment of app, by name.
func (s *Server) envStates(ctx context.Context, app *policy.App) (map[string]sqlstore.EnvState, error) {
	list, err := s.db.EnvStates(ctx, app.Name)
	if err != nil {
		return nil, err
	}
	out := map[string]sqlstore.EnvState{}
	for _, st := range list {
		out[st.Env] = st
	}
	return out, nil
}

// handleArtifact serves an artifact to the hosts, which present their
// client certificate, and to users.
func (s *Server) handleArtifact(w http.ResponseWriter, r *http.Request) {
	if who, ok := s.artifactReader(r); !ok {
		writeError(w, http.StatusUnauthorized, api.Error{Error: "artifacts are for enrolled hosts (client certificate) and users (API token)"})
		return
	} else {
		s.log.Debug("artifact download", "sha256", r.PathValue("sha256"), "by", who)
	}
	f, err := s.artifacts.Open(r.PathValue("sha256"))
	if err != nil {
		writeError(w, http.StatusNotFound, api.Error{Error: "no such artifact"})
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		writeError(w, http.StatusInternalServerError, api.Error{Error: err.Error()})
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Cache-Control", "private, immutable")
	http.ServeContent(w, r, "", st.ModTime(), f)
}

// artifactReader authenticates an artifact download: an accepted host by
// its verified client certificate, or a user by token.
func (s *Server) artifactReader(r *http.Request) (string, bool) {
	if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 {
		id, isServer, err := pki.HostID(r.TLS.PeerCertificates[0])
		if err == nil && !isServer && s.hosts.authorized(id) {
			return id, true
		}
	}
	a, ok := s.authenticate(r)
	return a.Name, ok
}

// handleStatus answers GET /apps/{app}/status: what runs where.
func (s *Server) handleStatus(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	app, err := s.appOf(ctx, r.PathValue("app"))
	if err != nil {
		return err
	}
	states, err := s.envStates(ctx, app)
	if err != nil {
		return err
	}
	locks, err := s.db.Locks(ctx, app.Name)
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	out := api.AppStatus{App: app.Name, Envs: []api.EnvStatus{}}
	for _, e := range app.Envs {
		st := states[e.Name]
		es := api.EnvStatus{Env: e.Name, Selector: e.Select, Current: st.Current, Approval: e.Approval}
		if sel, err := parseSelector("select", e.Select); err == nil {
			ids, _ := s.hosts.targets(sel, now)
			es.Hosts = len(ids)
		}
		if st.Delivered != st.Current {
			es.Delivered = st.Delivered
		}
		hist, err := s.db.Deployments(ctx, app.Name, e.Name, historyDepth)
		if err != nil {
			return err
		}
		es.Previous = rollbackTarget(hist)
		if len(hist) > 0 {
			d := s.apiDeployment(hist[0], false)
			es.Last = &d
		}
		for _, l := range locks {
			if l.Env == e.Name {
				al := apiLock(l)
				es.Lock = &al
			}
		}
		if !st.CheckedAt.IsZero() {
			es.Check = &api.CheckStatus{At: st.CheckedAt, OK: st.CheckOK, Summary: st.CheckSummary}
		}
		out.Envs = append(out.Envs, es)
	}
	return writeOK(w, out)
}

func apiLock(l sqlstore.Lock) api.Lock {
	return api.Lock{App: l.App, Env: l.Env, Deployment: l.Deployment, Actor: l.Actor, Reason: l.Reason, Since: l.Since, Expires: l.Expires}
}

// historyDepth is how many deployments of an environment are read to find
// where a rollback goes.
const historyDepth = 500

// rollbackTarget returns the version a rollback of an environment goes to,
// from its deployments, newest first: the releases that ended ok form a
// stack — a deploy pushes its version, a rollback pops down to its — and
// the target is the one under the top. So rolling back twice goes two
// versions back, never forward to the version rolled back from.
func rollbackTarget(newestFirst []sqlstore.Deployment) string {
	var stack []string
	for i := len(newestFirst) - 1; i >= 0; i-- {
		d := newestFirst[i]
		if d.State != api.StateOK {
			continue
		}
		switch d.Kind {
		case api.KindDeploy:
			if len(stack) == 0 || stack[len(stack)-1] != d.Version {
				stack = append(stack, d.Version)
			}
		case api.KindRollback:
			j := slices.Index(stack, d.Version)
			if j < 0 {
				stack = append(stack, d.Version)
			} else {
				stack = stack[:j+1]
			}
		}
	}
	if len(stack) < 2 {
		return ""
	}
	return stack[len(stack)-2]
}

func (s *Server) handleApprove(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	app, err := s.appOf(ctx, r.PathValue("app"))
	if err != nil {
		return err
	}
	var req api.ApproveRequest
	if err := readJSON(r, &req); err != nil {
		return err
	}
	env, _, err := envOf(app, req.Env, "env")
	if err != nil {
		return err
	}
	a := actorOf(r)
	if !a.Admin && !slices.Contains(env.Approvers, a.Name) {
		who := "admins"
		if len(env.Approvers) > 0 {
			who = "admins and " + strings.Join(env.Approvers, ", ")
		}
		return forbidden("user %s may not approve versions of %s for %s: only %s may", a.Name, app.Name, env.Name, who)
	}
	if _, err := s.version(ctx, app, req.Version); err != nil {
		return err
	}
	ap, created, err := s.db.Approve(ctx, sqlstore.Approval{App: app.Name, Env: env.Name, Version: req.Version, Actor: a.Name, Note: strings.TrimSpace(req.Note), CreatedAt: time.Now().UTC()})
	if err != nil {
		return err
	}
	if created {
		s.journal(journal.Entry{Actor: a.Name, Action: "approve", Params: map[string]string{"app": app.Name, "env": env.Name, "version": req.Version, "note": ap.Note},
			Result: "ok", Summary: fmt.Sprintf("approved %s %s for %s", app.Name, req.Version, env.Name)})
	}
	return writeOK(w, api.Approval{App: ap.App, Env: ap.Env, Version: ap.Version, Actor: ap.Actor, Note: ap.Note, CreatedAt: ap.CreatedAt})
}

// version returns a version of app, or a 400 naming the field version.
func (s *Server) version(ctx context.Context, app *policy.App, version string) (sqlstore.Version, error) {
	if version == "" {
		return sqlstore.Version{}, badRequest("version", "required")
	}
	v, err := s.db.Version(ctx, app.Name, version)
	if errors.Is(err, sqlstore.ErrNotFound) {
		return v, badRequest("version", "app %s has no version %q: upload it first (phenix version upload %s %s FILE)", app.Name, version, app.Name, version)
	}
	return v, err
}

func (s *Server) handleUnlock(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	app, err := s.appOf(ctx, r.PathValue("app"))
	if err != nil {
		return err
	}
	env, _, err := envOf(app, r.PathValue("env"), "env")
	if err != nil {
		return err
	}
	reason := strings.TrimSpace(r.URL.Query().Get("reason"))
	if reason == "" {
		return badRequest("reason", "required: why the lock is removed (it is journaled)")
	}
	a := actorOf(r)
	if err := mayDeploy(a, app, env, "unlock"); err != nil {
		return err
	}
	l, err := s.db.Unlock(ctx, app.Name, env.Name)
	if errors.Is(err, sqlstore.ErrNotFound) {
		return notFound("%s %s is not locked", app.Name, env.Name)
	}
	if err != nil {
		return err
	}
	if run := s.deploys.get(l.Deployment); run != nil {
		s.log.Warn("lock removed while its deployment runs", "deployment", l.Deployment, "by", a.Name)
	}
	s.journal(journal.Entry{Actor: a.Name, Action: "unlock", Params: map[string]string{
		"app": app.Name, "env": env.Name, "deployment": l.Deployment, "holder": l.Actor, "reason": reason,
	}, Result: "ok", Summary: fmt.Sprintf("unlocked %s %s, held by %s of %s since %s: %s", app.Name, env.Name, l.Deployment, l.Actor, l.Since.Format(time.RFC3339), reason)})
	return writeOK(w, apiLock(l))
}

// mayDeploy says whether a may deliver, deploy, roll back or unlock env.
func mayDeploy(a actor, app *policy.App, env *policy.Env, what string) error {
	if a.Admin || len(env.Deployers) == 0 || slices.Contains(env.Deployers, a.Name) {
		return nil
	}
	return forbidden("user %s may not %s %s on %s: its deployers are %s (and admins)", a.Name, what, app.Name, env.Name, strings.Join(env.Deployers, ", "))
}

func (s *Server) handleDeployments(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	app, err := s.appOf(ctx, r.PathValue("app"))
	if err != nil {
		return err
	}
	env := r.URL.Query().Get("env")
	if env != "" {
		if _, _, err := envOf(app, env, "env"); err != nil {
			return err
		}
	}
	limit, err := queryInt(r, "limit", 20)
	if err != nil {
		return err
	}
	ds, err := s.db.Deployments(ctx, app.Name, env, limit)
	if err != nil {
		return err
	}
	out := make([]api.Deployment, 0, len(ds))
	for _, d := range ds {
		out = append(out, s.apiDeployment(d, true))
	}
	return writeOK(w, out)
}

func (s *Server) handleDeployment(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if run := s.deploys.get(id); run != nil {
		return writeOK(w, run.snapshot())
	}
	d, err := s.db.Deployment(r.Context(), id)
	if errors.Is(err, sqlstore.ErrNotFound) {
		return notFound("no deployment %s", id)
	}
	if err != nil {
		return err
	}
	return writeOK(w, s.apiDeployment(d, true))
}

// apiDeployment converts a stored deployment, with its steps or not.
func (s *Server) apiDeployment(d sqlstore.Deployment, steps bool) api.Deployment {
	out := api.Deployment{
		ID: d.ID, App: d.App, Env: d.Env, Kind: d.Kind, Version: d.Version, Previous: d.Previous,
		Actor: d.Actor, Override: d.Override, State: d.State, Summary: d.Summary, Hosts: d.Hosts,
		CreatedAt: d.CreatedAt, EndedAt: d.EndedAt,
	}
	if out.Hosts == nil {
		out.Hosts = []string{}
	}
	if steps && d.Detail != "" {
		if err := json.Unmarshal([]byte(d.Detail), &out.Steps); err != nil {
			s.log.Warn("deployment detail", "deployment", d.ID, "err", err)
		}
	}
	return out
}

// handleDeploymentEvents streams a deployment's steps as they start and
// end, then its end.
func (s *Server) handleDeploymentEvents(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	run := s.deploys.get(id)
	var ch chan api.DeploymentEvent
	var snap api.Deployment
	if run != nil {
		ch, snap = run.subscribe()
		defer run.unsubscribe(ch)
	} else {
		d, err := s.db.Deployment(r.Context(), id)
		if errors.Is(err, sqlstore.ErrNotFound) {
			return notFound("no deployment %s", id)
		}
		if err != nil {
			return err
		}
		snap = s.apiDeployment(d, true)
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	enc := json.NewEncoder(w)
	flush := func() {
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
	}
	for i := range snap.Steps {
		_ = enc.Encode(api.DeploymentEvent{Type: "step", Step: &snap.Steps[i]})
	}
	if ch == nil || snap.State != api.StateRunning {
		snap.Steps = nil
		_ = enc.Encode(api.DeploymentEvent{Type: "end", Deployment: &snap})
		flush()
		return nil
	}
	flush()
	for {
		select {
		case <-r.Context().Done():
			return nil
		case ev, ok := <-ch:
			if !ok {
				return nil // the server stops, or the client was too slow: it asks again
			}
			if err := enc.Encode(ev); err != nil {
				return nil
			}
			flush()
			if ev.Type == "end" {
				return nil
			}
		}
	}
}

// userTokenPrefix starts every user token, so that a token is recognised
// before the store is asked.
const userTokenPrefix = "phu_"

var userName = regexp.MustCompile(`^[a-z][a-z0-9._-]{0,62}$`)

// hashToken is what the store keeps of a user token.
func hashToken(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(sum[:])
}

func (s *Server) handleUserCreate(w http.ResponseWriter, r *http.Request) error {
	var req api.UserRequest
	if err := readJSON(r, &req); err != nil {
		return err
	}
	if !userName.MatchString(req.Name) {
		return badRequest("name", "%q is not a user name: lower-case letters, digits and . _ -, starting with a letter, at most 63 characters", req.Name)
	}
	if req.Name == adminActor || req.Name == "phenix" {
		return badRequest("name", "%q is reserved", req.Name)
	}
	tok, err := randomToken(userTokenPrefix, 24)
	if err != nil {
		return err
	}
	a := actorOf(r)
	u := sqlstore.User{Name: req.Name, Admin: req.Admin, CreatedBy: a.Name, CreatedAt: time.Now().UTC()}
	if err := s.db.CreateUser(r.Context(), u, hashToken(tok)); err != nil {
		return err
	}
	s.journal(journal.Entry{Actor: a.Name, Action: "user.create", Params: map[string]string{"name": u.Name, "admin": fmt.Sprint(u.Admin)}, Result: "ok", Summary: "user " + u.Name + " created"})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	return writeOK(w, api.UserResponse{User: apiUser(u), Token: tok})
}

func apiUser(u sqlstore.User) api.User {
	return api.User{Name: u.Name, Admin: u.Admin, CreatedBy: u.CreatedBy, CreatedAt: u.CreatedAt}
}

func (s *Server) handleUsers(w http.ResponseWriter, r *http.Request) error {
	us, err := s.db.Users(r.Context())
	if err != nil {
		return err
	}
	out := make([]api.User, 0, len(us))
	for _, u := range us {
		out = append(out, apiUser(u))
	}
	return writeOK(w, out)
}

func (s *Server) handleUserDelete(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	if err := s.db.DeleteUser(r.Context(), name); err != nil {
		if errors.Is(err, sqlstore.ErrNotFound) {
			return notFound("no user %s", name)
		}
		return err
	}
	s.journal(journal.Entry{Actor: actorOf(r).Name, Action: "user.delete", Params: map[string]string{"name": name}, Result: "ok", Summary: "user " + name + " deleted"})
	w.WriteHeader(http.StatusNoContent)
	return nil
}
