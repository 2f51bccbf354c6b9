package server

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/phenixhq/phenix/internal/policy"
	"github.com/phenixhq/phenix/internal/sqlstore"
	"github.com/phenixhq/phenix/internal/wire"
)

// checkTick is how often the scheduler looks for checks that are due.
const checkTick = 5 * time.Second

// checkTimeout bounds one scheduled run of an app's checks on its hosts.
const checkTimeout = 5 * time.Minute

// checkScheduler runs the checks of every app's environments every
// check_every after a deploy, on the environment's hosts, and records the
// latest outcome (phenix status). An environment being deployed is not
// checked: the deployment checks it.
type checkScheduler struct {
	s       *Server
	mu      sync.Mutex
	last    map[string]time.Time // app/env → when its latest run started
	running map[string]bool
}

func newCheckScheduler(s *Server) *checkScheduler {
	return &checkScheduler{s: s, last: map[string]time.Time{}, running: map[string]bool{}}
}

func (c *checkScheduler) loop(ctx context.Context) {
	t := time.NewTicker(checkTick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			c.tick(ctx)
		}
	}
}

// tick starts the runs that are due.
func (c *checkScheduler) tick(ctx context.Context) {
	s := c.s
	lp, err := s.policies.latest(ctx, s.db)
	if err != nil || lp == nil {
		return
	}
	now := time.Now().UTC()
	for _, app := range lp.pol.Apps {
		if app.CheckEvery <= 0 || strings.TrimSpace(app.ChecksYAML) == "" {
			continue
		}
		states, err := s.envStates(ctx, app)
		if err != nil {
			s.log.Error("scheduled checks", "app", app.Name, "err", err)
			continue
		}
		for _, env := range app.Envs {
			st := states[env.Name]
			if st.Current == "" {
				continue
			}
			key := app.Name + "/" + env.Name
			c.mu.Lock()
			last := c.last[key]
			if last.IsZero() {
				last = st.CheckedAt
			}
			due := !c.running[key] && now.Sub(last) >= app.CheckEvery
			if due {
				c.last[key], c.running[key] = now, true
			}
			c.mu.Unlock()
			if !due {
				continue
			}
			if l, err := s.db.Lock(ctx, app.Name, env.Name); err == nil && now.Before(l.Expires) {
				c.done(key)
				continue
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer c.done(key)
				c.run(ctx, app, env, st.Current)
			}()
		}
	}
}

func (c *checkScheduler) done(key string) {
	c.mu.Lock()
	delete(c.running, key)
	c.mu.Unlock()
}

// run runs the checks of app on env's hosts and records the outcome.
func (c *checkScheduler) run(ctx context.Context, app *policy.App, env *policy.Env, version string) {
	s := c.s
	sel, err := parseSelector("select", env.Select)
	if err != nil {
		return
	}
	hosts, _ := s.hosts.targets(sel, time.Now())
	if len(hosts) == 0 {
		return
	}
	task := releaseTask(app, env, wire.ReleaseCheck, sqlstore.Version{Version: version})
	_, results, err := s.runReleaseJob(ctx, "phenix", env.Select, hosts, task, checkTimeout, "", nil)
	if err != nil {
		s.log.Error("scheduled checks", "app", app.Name, "env", env.Name, "err", err)
		return
	}
	ok, bad := 0, []string{}
	for _, r := range results {
		if hostOK(r.Status) {
			ok++
			continue
		}
		hs := hostStepOf(r)
		msg := r.HostID + ": " + r.Status
		for _, ch := range hs.Checks {
			if !ch.OK {
				msg = r.HostID + ": check " + ch.Name + ": " + ch.Error
				break
			}
		}
		if len(hs.Checks) == 0 && hs.Error != "" {
			msg += " (" + hs.Error + ")"
		}
		bad = append(bad, msg)
	}
	summary := fmt.Sprintf("%s: %d hosts ok", version, ok)
	if len(bad) > 0 {
		summary = fmt.Sprintf("%s: %d of %d hosts failed: %s", version, len(bad), len(results), strings.Join(bad, "; "))
	}
	if err := s.db.SetEnvCheck(s.ctx, app.Name, env.Name, time.Now().UTC(), len(bad) == 0, summary); err != nil {
		s.log.Error("record scheduled checks", "err", err)
	}
}
