package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/phenixhq/phenix/bench/internal/benchkit"
)

// backWithin is how long the fleet may take to come back after a restart
// before the restart counts as failed (the target is 30 s).
const backWithin = 2 * time.Minute

// restart stops the server with SIGTERM, starts it again on the same data
// directory and addresses, and waits until every simulated agent has been
// greeted by the new server (the simulator says when the last one was).
// It then checks that the server shows every host online and seen since
// its start: none left stale. A fleet that does not come back is reported
// in the result's Error; an error means the benchmark cannot go on.
func (b *bench) restart(ctx context.Context, srv *benchkit.Server, sim *simProc, n int) (restartResult, error) {
	var rr restartResult
	before, err := sim.stats(ctx)
	if err != nil {
		return rr, err
	}
	if err := sim.mark(ctx); err != nil {
		return rr, err
	}
	simCPU0, err := benchkit.ProcCPU(sim.c.Pid())
	if err != nil {
		return rr, err
	}
	t0 := time.Now()
	rr.StopMS = ms(srv.Stop())
	if err := srv.Start(ctx); err != nil {
		return rr, err
	}
	rr.StartMS = ms(time.Since(srv.Started))
	back, last, err := sim.back(ctx, backWithin)
	rr.Back = back
	if err != nil {
		rr.Error = err.Error()
	} else {
		rr.BackMS = ms(last.Sub(t0))
		rr.BackAfterStartMS = ms(last.Sub(srv.Started))
	}
	srvCPU, err1 := benchkit.ProcCPU(srv.Proc.Pid())
	simCPU1, err2 := benchkit.ProcCPU(sim.c.Pid())
	if err := errors.Join(err1, err2); err != nil {
		return rr, err
	}
	rr.ServerCPUMS, rr.SimCPUMS = ms(srvCPU), ms(simCPU1-simCPU0)
	after, err := sim.stats(ctx)
	if err != nil {
		return rr, err
	}
	// Every dial that did not become a reconnection failed.
	delta := func(k string) int {
		v0, _ := strconv.Atoi(before[k])
		v1, _ := strconv.Atoi(after[k])
		return v1 - v0
	}
	rr.FailedAttempts = delta("dials") - delta("reconnects")
	if rr.Online, rr.Stale, err = fleetPresence(ctx, srv.API, n, srv.Started); err != nil {
		return rr, err
	}
	if rr.Error == "" && rr.Stale > 0 {
		b.logf("%d hosts: %d hosts stale after the restart", n, rr.Stale)
	}
	if rr.Server, err = benchkit.ProcStatus(srv.Proc.Pid()); err != nil {
		return rr, fmt.Errorf("restarted server: %w", err)
	}
	return rr, nil
}
