package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/phenixhq/phenix/bench/internal/benchkit"
	"github.com/phenixhq/phenix/internal/api"
	"github.com/phenixhq/phenix/internal/host"
)

// agentID is the host id of the real agent whose memory is measured.
const agentID = "bench-agent"

// idleAgent runs one real `phenix agent` against srv, waits until the
// server shows it online, lets it idle, and reads its memory.
func (b *bench) idleAgent(ctx context.Context, srv *benchkit.Server, token string) agentResult {
	var ar agentResult
	if err := b.runIdleAgent(ctx, srv, token, &ar); err != nil {
		ar.Error = err.Error()
	}
	return ar
}

func (b *bench) runIdleAgent(ctx context.Context, srv *benchkit.Server, token string, ar *agentResult) error {
	// A work directory used before (-dir) holds the agent revoked by
	// reconcile: admit it again.
	var h api.Host
	err := srv.API.Do(ctx, "POST", "/api/v1/hosts/"+agentID+"/accept", nil, &h)
	var se *api.StatusError
	if err != nil && !(errors.As(err, &se) && se.Code == 404) {
		return fmt.Errorf("accept %s: %w", agentID, err)
	}
	// A fresh state directory: one kept from an earlier run (-dir) names
	// the bus URL of that run, whose port is not this run's.
	state := filepath.Join(b.root, "agent")
	if err := os.RemoveAll(state); err != nil {
		return err
	}
	logPath := filepath.Join(b.root, "agent.log")
	cmd := exec.Command(b.bin, "agent", "--server", srv.Info.URL, "--join-token", token, "--ca", srv.Info.CA,
		"--state", state, "--id", agentID)
	b.logf("idle agent: starting phenix agent --id %s (log %s)", agentID, logPath)
	t0 := time.Now()
	c, err := b.cs.Start("agent", cmd, logPath)
	if err != nil {
		return err
	}
	defer c.Stop(10 * time.Second)
	for {
		hl, err := srv.API.Hosts(ctx, "id="+agentID)
		if err != nil {
			return err
		}
		if len(hl.Hosts) == 1 && hl.Hosts[0].Status == host.Online {
			break
		}
		if c.Exited() {
			return fmt.Errorf("the agent exited (%v); its log ends:\n%s", c.Err, benchkit.LogTail(logPath, 20))
		}
		if time.Since(t0) > 2*time.Minute {
			return fmt.Errorf("the agent is not online after 2 minutes; its log ends:\n%s", benchkit.LogTail(logPath, 20))
		}
		if err := benchkit.Sleep(ctx, 50*time.Millisecond); err != nil {
			return err
		}
	}
	ar.OnlineMS = ms(time.Since(t0))
	b.logf("idle agent: online after %s; idling %v", fmtMS(ar.OnlineMS), b.o.idle)
	if err := benchkit.Sleep(ctx, b.o.idle); err != nil {
		return err
	}
	if c.Exited() {
		return fmt.Errorf("the agent exited (%v); its log ends:\n%s", c.Err, benchkit.LogTail(logPath, 20))
	}
	ar.IdleS = b.o.idle.Seconds()
	if ar.Mem, err = benchkit.ProcStatus(c.Pid()); err != nil {
		return err
	}
	b.logf("idle agent: RSS %s (anonymous %s, file %s), peak %s", fmtKiB(ar.Mem.RSS), fmtKiB(ar.Mem.Anon), fmtKiB(ar.Mem.File), fmtKiB(ar.Mem.HWM))
	return nil
}
