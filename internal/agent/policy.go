package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/phenixhq/phenix/internal/policy"
	"github.com/phenixhq/phenix/internal/wire"
)

// keptFile is the small description of the kept payload, beside the
// directory that Payload.Write fills.
const keptFile = "payload.json"

// keptPolicy is payload.json: what the agent needs of the payload it
// keeps, the files being under policy/. It holds the values of secrets,
// so it is readable by the agent's user only.
type keptPolicy struct {
	Digest   string         `json:"digest"`
	Revision string         `json:"revision"`
	Bundles  []string       `json:"bundles"` // directories, as Payload.Write returned them
	Vars     map[string]any `json:"vars,omitempty"`
	Secrets  []string       `json:"secrets,omitempty"`
	Interval time.Duration  `json:"interval,omitempty"`
}

// policy returns the kept payload.
func (a *agent) policy() keptPolicy {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.kept
}

// loadKept reads the payload kept on disk, and the digest of the last
// payload converged.
func (a *agent) loadKept() error {
	if b, err := os.ReadFile(filepath.Join(a.cfg.StateDir, convergedFn)); err == nil {
		a.lastDigest = string(b)
	}
	var kp keptPolicy
	err := readJSON(filepath.Join(a.cfg.StateDir, keptFile), &kp)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	a.mu.Lock()
	a.kept = kp
	a.mu.Unlock()
	return nil
}

// onPolicyNotice handles a PolicyNotice: fetch the policy. A notice of
// the revision kept is not ignored: the host's payload may have changed
// all the same (a secret was set), and the fetch tells, by digest.
func (a *agent) onPolicyNotice(ctx context.Context, data []byte) {
	var n wire.PolicyNotice
	if err := json.Unmarshal(data, &n); err != nil {
		a.log.WarnContext(ctx, "bad policy notice", "err", err)
		return
	}
	a.log.InfoContext(ctx, "policy notice", "revision", n.Revision)
	signal(a.fetchCh, struct{}{})
}

// policyLoop fetches the policy when asked, retrying while connected.
func (a *agent) policyLoop(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-a.fetchCh:
		}
		for backoff := a.tune.backoffMin; ; backoff = min(2*backoff, a.tune.backoffMax) {
			_, err := a.fetchPolicy(ctx)
			if err == nil || ctx.Err() != nil {
				break
			}
			if a.conn() == nil {
				// The next Hello asks again.
				a.log.WarnContext(ctx, "policy not fetched", "err", err)
				break
			}
			a.log.WarnContext(ctx, "policy not fetched, trying again", "err", err, "in", backoff)
			if sleep(ctx, backoff) != nil {
				return nil
			}
		}
	}
}

// fetchPolicy asks the server for the host's payload and keeps it when it
// changed, on disk first; a new payload is then converged (policyCh). It
// reports whether the payload changed.
func (a *agent) fetchPolicy(ctx context.Context) (bool, error) {
	a.polMu.Lock()
	defer a.polMu.Unlock()
	kp := a.policy()
	var rep wire.PolicyReply
	if err := a.request(ctx, nil, wire.KindPolicy, wire.PolicyRequest{Have: kp.Digest}, &rep, a.tune.policyTimeout); err != nil {
		return false, err
	}
	if rep.Error != "" {
		return false, fmt.Errorf("policy: the server says: %s", rep.Error)
	}
	if rep.Unchanged || len(rep.Payload) == 0 {
		if rep.Unchanged && rep.Revision != "" && rep.Revision != kp.Revision {
			// A new revision that changes nothing for this host.
			kp.Revision = rep.Revision
			if err := a.keep(kp); err != nil {
				return false, err
			}
		}
		if !rep.Unchanged {
			a.log.DebugContext(ctx, "no policy for this host yet")
		}
		return false, nil
	}
	var pl policy.Payload
	if err := json.Unmarshal(rep.Payload, &pl); err != nil {
		return false, fmt.Errorf("policy revision %s: decode payload: %w", rep.Revision, err)
	}
	dirs, err := pl.Write(filepath.Join(a.cfg.StateDir, policyDir))
	if err != nil {
		return false, fmt.Errorf("policy revision %s: %w", rep.Revision, err)
	}
	nk := keptPolicy{
		Digest:   rep.Digest,
		Revision: rep.Revision,
		Bundles:  dirs,
		Vars:     pl.Vars,
		Secrets:  pl.Secrets,
		Interval: pl.Interval,
	}
	if nk.Digest == "" {
		nk.Digest = pl.Digest()
	}
	if nk.Revision == "" {
		nk.Revision = pl.Revision
	}
	if err := a.keep(nk); err != nil {
		return false, err
	}
	a.log.InfoContext(ctx, "policy received", "revision", nk.Revision, "digest", nk.Digest, "bundles", len(dirs))
	signal(a.policyCh, struct{}{})
	return true, nil
}

// keep writes kp to payload.json and makes it the kept payload.
func (a *agent) keep(kp keptPolicy) error {
	if err := writeJSON(filepath.Join(a.cfg.StateDir, keptFile), kp, 0o600); err != nil {
		return fmt.Errorf("keep policy: %w", err)
	}
	a.mu.Lock()
	a.kept = kp
	a.mu.Unlock()
	return nil
}
