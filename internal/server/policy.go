package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/phenixhq/phenix/internal/api"
	"github.com/phenixhq/phenix/internal/journal"
	"github.com/phenixhq/phenix/internal/policy"
	"github.com/phenixhq/phenix/internal/selector"
	"github.com/phenixhq/phenix/internal/sqlstore"
	"github.com/phenixhq/phenix/internal/wire"
)

// maxPolicy caps a pushed policy archive.
const maxPolicy = 64 << 20

// policyCache holds the latest policy, parsed, and the secrets, opened.
type policyCache struct {
	mu      sync.Mutex
	cur     *loadedPolicy
	secrets []policy.Secret
	secOK   bool
}

type loadedPolicy struct {
	rev sqlstore.PolicyRevision
	pol *policy.Policy
}

// latest returns the latest policy, nil when none was pushed.
func (c *policyCache) latest(ctx context.Context, db *sqlstore.DB) (*loadedPolicy, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur != nil {
		return c.cur, nil
	}
	rev, err := db.LatestPolicy(ctx)
	if errors.Is(err, sqlstore.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	pol, err := policy.FromArchive(rev.Archive)
	if err != nil {
		return nil, fmt.Errorf("policy %s: %w", rev.Hash, err)
	}
	pol.Hash = rev.Hash
	c.cur = &loadedPolicy{rev: rev, pol: pol}
	return c.cur, nil
}

func (c *policyCache) set(p *loadedPolicy) {
	c.mu.Lock()
	c.cur = p
	c.mu.Unlock()
}

// openSecrets returns every secret, opened.
func (s *Server) openSecrets(ctx context.Context) ([]policy.Secret, error) {
	c := s.policies
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.secOK {
		return c.secrets, nil
	}
	stored, err := s.db.Secrets(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]policy.Secret, 0, len(stored))
	for _, sec := range stored {
		v, err := s.box.Open(sec.Sealed, sec.Name)
		if err != nil {
			return nil, fmt.Errorf("secret %s (%s): %w", sec.Name, sec.Selector, err)
		}
		out = append(out, policy.Secret{Name: sec.Name, Selector: sec.Selector, Value: string(v)})
	}
	c.secrets, c.secOK = out, true
	return out, nil
}

func (s *Server) forgetSecrets() {
	s.policies.mu.Lock()
	s.policies.secOK = false
	s.policies.secrets = nil
	s.policies.mu.Unlock()
}

// maskParams masks the params whose name is that of a secret, or says it
// holds one.
func (s *Server) maskParams(params map[string]string) map[string]string {
	secrets, _ := s.openSecrets(s.ctx)
	names := map[string]bool{}
	for _, sec := range secrets {
		names[strings.ToLower(sec.Name)] = true
	}
	return journal.Mask(params, func(key string) bool {
		k := strings.ToLower(key)
		k = k[strings.LastIndex(k, ".")+1:]
		return names[k] || strings.Contains(k, "password") || strings.Contains(k, "secret") || strings.Contains(k, "token")
	})
}

// payloadFor answers a host's policy request.
func (s *Server) payloadFor(id, have string) wire.PolicyReply {
	lp, err := s.policies.latest(s.ctx, s.db)
	if err != nil {
		return wire.PolicyReply{Error: err.Error()}
	}
	if lp == nil {
		return wire.PolicyReply{}
	}
	h, ok := s.hosts.get(id)
	if !ok {
		return wire.PolicyReply{Error: "unknown host"}
	}
	secrets, err := s.openSecrets(s.ctx)
	if err != nil {
		return wire.PolicyReply{Error: err.Error()}
	}
	pl, err := lp.pol.ForHost(h.Selectable(), secrets)
	if err != nil {
		return wire.PolicyReply{Revision: lp.rev.Hash, Error: err.Error()}
	}
	d := pl.Digest()
	if d == have {
		return wire.PolicyReply{Revision: lp.rev.Hash, Digest: d, Unchanged: true}
	}
	b, err := json.Marshal(pl)
	if err != nil {
		return wire.PolicyReply{Error: err.Error()}
	}
	return wire.PolicyReply{Revision: lp.rev.Hash, Digest: d, Payload: b}
}

// notifyPolicy tells every accepted host that a new revision exists.
func (s *Server) notifyPolicy(rev string) int {
	msg, _ := json.Marshal(wire.PolicyNotice{Revision: rev})
	ids := s.hosts.acceptedIDs()
	for _, id := range ids {
		_ = s.nc.Publish(busDown(id, wire.KindPolicy), msg)
	}
	_ = s.nc.Flush()
	return len(ids)
}

func (s *Server) handlePolicyPush(w http.ResponseWriter, r *http.Request) error {
	archive, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxPolicy))
	if err != nil {
		return badRequest("body", "policy archive: %v (at most %d MiB)", err, maxPolicy>>20)
	}
	pol, err := policy.FromArchive(archive)
	if err != nil {
		return badRequest("policy", "%v", err)
	}
	hash := pol.Hash // of the tar inside, as policy.Pack gives it to the CLI
	commit := r.Header.Get("X-Phenix-Commit")
	if commit != "" && !regexp.MustCompile(`^[0-9a-f]{7,64}$`).MatchString(commit) {
		return badRequest("X-Phenix-Commit", "expected a git commit id, got %q", commit)
	}
	rev, err := s.db.PutPolicy(r.Context(), sqlstore.PolicyRevision{Hash: hash, Commit: commit, Actor: actorOf(r).Name, CreatedAt: time.Now().UTC(), Archive: archive})
	if err != nil {
		return err
	}
	pol.Hash = rev.Hash
	rev.Archive = archive
	s.policies.set(&loadedPolicy{rev: rev, pol: pol})
	n := s.notifyPolicy(rev.Hash)
	params := map[string]string{"hash": rev.Hash, "seq": fmt.Sprint(rev.Seq)}
	if commit != "" {
		params["commit"] = commit
	}
	s.journal(journal.Entry{Actor: actorOf(r).Name, Action: "policy.push", Selector: "*", Params: params, Result: "ok",
		Summary: fmt.Sprintf("policy revision %d (%s) pushed; %d hosts notified", rev.Seq, short(rev.Hash), n)})
	return writeOK(w, api.PolicyRevision{Seq: rev.Seq, Hash: rev.Hash, Commit: rev.Commit, Actor: rev.Actor, CreatedAt: rev.CreatedAt, Hosts: n})
}

func short(hash string) string {
	h := strings.TrimPrefix(hash, "sha256:")
	if len(h) > 12 {
		h = h[:12]
	}
	return h
}

func (s *Server) handlePolicies(w http.ResponseWriter, r *http.Request) error {
	limit, err := queryInt(r, "limit", 20)
	if err != nil {
		return err
	}
	revs, err := s.db.Policies(r.Context(), limit)
	if err != nil {
		return err
	}
	out := []api.PolicyRevision{}
	for _, rev := range revs {
		out = append(out, api.PolicyRevision{Seq: rev.Seq, Hash: rev.Hash, Commit: rev.Commit, Actor: rev.Actor, CreatedAt: rev.CreatedAt})
	}
	return writeOK(w, out)
}

func (s *Server) handleOps(w http.ResponseWriter, r *http.Request) error {
	lp, err := s.policies.latest(r.Context(), s.db)
	if err != nil {
		return err
	}
	out := []api.Op{}
	if lp != nil {
		for _, op := range lp.pol.Ops {
			out = append(out, apiOp(op))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return writeOK(w, out)
}

func apiOp(op *policy.Op) api.Op {
	o := api.Op{Name: op.Name, Description: op.Description, Select: op.Select, Timeout: api.Duration(op.Timeout), Params: []api.OpParam{}}
	for _, p := range op.Params {
		o.Params = append(o.Params, api.OpParam{Name: p.Name, Type: p.Type, Description: p.Description, Required: p.Required, Default: p.Default, Values: p.Values, Pattern: p.Pattern, Min: p.Min, Max: p.Max})
	}
	return o
}

// prepareOp fills an op job from the latest policy.
func (s *Server) prepareOp(req api.JobRequest, job *sqlstore.Job, spec *jobSpec) error {
	if req.Op == "" {
		return badRequest("op", "required: the operation to run (phenix op list)")
	}
	lp, err := s.policies.latest(s.ctx, s.db)
	if err != nil {
		return err
	}
	if lp == nil {
		return badRequest("op", "unknown operation %q: no policy was pushed yet (phenix policy push DIR)", req.Op)
	}
	op := lp.pol.Ops[req.Op]
	if op == nil {
		names := make([]string, 0, len(lp.pol.Ops))
		for n := range lp.pol.Ops {
			names = append(names, n)
		}
		sort.Strings(names)
		return badRequest("op", "unknown operation %q; the policy has: %s", req.Op, strings.Join(names, ", "))
	}
	params, err := op.Bind(req.Params)
	if err != nil {
		return badRequest("params", "%v", err)
	}
	argv, env, err := op.Render(params)
	if err != nil {
		return badRequest("params", "%v", err)
	}
	if job.Selector == "" {
		job.Selector = op.Select
		if job.Selector == "" {
			job.Selector = "*"
		}
	}
	if job.Timeout == 0 {
		job.Timeout = op.Timeout
		if job.Timeout == 0 {
			job.Timeout = DefaultRunTimeout
		}
	}
	spec.Op = op.Name
	spec.Params = s.maskParams(params)
	spec.Job.Argv = argv
	spec.Job.Env = env
	return nil
}

var secretName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func (s *Server) handleSecretPut(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	if !secretName.MatchString(name) {
		return badRequest("name", "a secret is a var: letters, digits and _, not starting with a digit; got %q", name)
	}
	sel := r.URL.Query().Get("select")
	if sel == "" {
		sel = "*"
	}
	if _, err := selector.Parse(sel); err != nil {
		return badRequest("select", "%v", err)
	}
	value, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, 1<<20))
	if err != nil {
		return badRequest("body", "%v (at most 1 MiB)", err)
	}
	if len(value) == 0 {
		return badRequest("body", "empty value")
	}
	sealed, err := s.box.Seal(value, name)
	if err != nil {
		return err
	}
	if err := s.db.PutSecret(r.Context(), sqlstore.Secret{Name: name, Selector: sel, Sealed: sealed, UpdatedBy: actorOf(r).Name, UpdatedAt: time.Now().UTC()}); err != nil {
		return err
	}
	s.forgetSecrets()
	s.journal(journal.Entry{Actor: actorOf(r).Name, Action: "secret.set", Selector: sel, Params: map[string]string{"name": name, "value": journal.Masked}, Result: "ok", Summary: "secret " + name + " set for " + sel})
	if lp, _ := s.policies.latest(s.ctx, s.db); lp != nil {
		s.notifyPolicy(lp.rev.Hash)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) handleSecrets(w http.ResponseWriter, r *http.Request) error {
	stored, err := s.db.Secrets(r.Context())
	if err != nil {
		return err
	}
	out := []api.Secret{}
	for _, sec := range stored {
		out = append(out, api.Secret{Name: sec.Name, Selector: sec.Selector, UpdatedBy: sec.UpdatedBy, UpdatedAt: sec.UpdatedAt})
	}
	return writeOK(w, out)
}

func (s *Server) handleSecretDelete(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	sel := r.URL.Query().Get("select")
	if sel == "" {
		sel = "*"
	}
	if err := s.db.DeleteSecret(r.Context(), name, sel); err != nil {
		if errors.Is(err, sqlstore.ErrNotFound) {
			return notFound("no secret %s for %s", name, sel)
		}
		return err
	}
	s.forgetSecrets()
	s.journal(journal.Entry{Actor: actorOf(r).Name, Action: "secret.delete", Selector: sel, Params: map[string]string{"name": name}, Result: "ok", Summary: "secret " + name + " deleted for " + sel})
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) handleDrift(w http.ResponseWriter, r *http.Request) error {
	since, err := queryTime(r, "since", time.Now())
	if err != nil {
		return err
	}
	limit, err := queryInt(r, "limit", 100)
	if err != nil {
		return err
	}
	var hosts []string
	if q := r.URL.Query().Get("selector"); q != "" && q != "*" {
		sel, err := s.parseSelector("selector", q)
		if err != nil {
			return err
		}
		hosts = []string{}
		for _, h := range s.hosts.match(sel, true) {
			hosts = append(hosts, h.ID)
		}
		if len(hosts) == 0 {
			return writeOK(w, []api.Drift{})
		}
	}
	ds, err := s.db.Drifts(r.Context(), hosts, since, limit)
	if err != nil {
		return err
	}
	out := []api.Drift{}
	for _, d := range ds {
		out = append(out, api.Drift{ID: d.ID, Host: d.HostID, Time: d.Time, Revision: d.Revision, Trigger: d.Trigger, Result: d.Result, Changes: json.RawMessage(d.Changes)})
	}
	return writeOK(w, out)
}
