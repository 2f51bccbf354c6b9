package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/phenixhq/phenix/bench/internal/benchkit"
	"github.com/phenixhq/phenix/internal/api"
)

// bench is the state of one benchmark.
type bench struct {
	o                  options
	root, bin          string
	listen, natsListen string
	cs                 *benchkit.Children
	log                io.Writer
	res                *results
}

// benchmark builds phenix, then runs one phase per fleet size in
// increasing order, each with a server of its own on the same data
// directory (so the identities enrolled for a smaller fleet serve the
// larger one), and measures the idle agent during the last phase. An
// error means the benchmark could not go on; the results so far are
// returned with it.
func benchmark(ctx context.Context, o options, log io.Writer) (*results, error) {
	res := &results{Host: machine{CPUs: runtime.NumCPU(), Go: runtime.Version(), Kernel: benchkit.Kernel()}, ServerEnv: append([]string{"GOMEMLIMIT=" + serverMemLimit, serverGODEBUG}, o.serverEnv...)}
	res.Host.Load[0] = benchkit.LoadAvg()
	defer func() { res.Host.Load[1] = benchkit.LoadAvg() }()

	root := o.dir
	var err error
	if root == "" {
		if root, err = os.MkdirTemp("", "phenix-fleet-"); err != nil {
			return nil, fmt.Errorf("work directory: %w", err)
		}
		if o.keep {
			fmt.Fprintln(log, "work directory:", root)
		} else {
			defer os.RemoveAll(root)
		}
	} else {
		if root, err = filepath.Abs(root); err != nil {
			return nil, fmt.Errorf("work directory: %w", err)
		}
		if err := os.MkdirAll(root, 0o700); err != nil {
			return nil, fmt.Errorf("work directory: %w", err)
		}
	}
	maxN := o.ns[len(o.ns)-1]
	if err := res.Host.limits(maxN); err != nil {
		return nil, err
	}
	for _, w := range res.Host.Warnings {
		fmt.Fprintln(log, "fleet: warning:", w)
	}

	b := &bench{o: o, root: root, cs: &benchkit.Children{}, log: log, res: res}
	defer b.cs.StopAll()
	b.bin = o.phenix
	if b.bin == "" {
		b.logf("building phenix (CGO_ENABLED=0 go build -trimpath ./cmd/phenix)")
		if b.bin, err = benchkit.BuildPhenix(ctx, root); err != nil {
			return nil, err
		}
	}
	if b.listen, err = benchkit.FreeAddr(); err != nil {
		return nil, err
	}
	if b.natsListen, err = benchkit.FreeAddr(); err != nil {
		return nil, err
	}
	for i, n := range o.ns {
		p, err := b.phase(ctx, n, i == len(o.ns)-1)
		res.Phases = append(res.Phases, p)
		if err != nil {
			return res, fmt.Errorf("%d hosts: %w", n, err)
		}
	}
	return res, nil
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(b.log, "fleet: "+format+"\n", args...)
}

// fail records a run that did not do the right thing.
func (b *bench) fail(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	b.res.Failures = append(b.res.Failures, msg)
	b.logf("FAILED: %s", msg)
}

// phase measures a fleet of n hosts.
func (b *bench) phase(ctx context.Context, n int, last bool) (phaseResult, error) {
	p := phaseResult{N: n}
	srv := &benchkit.Server{Bin: b.bin, Data: filepath.Join(b.root, "data"), Listen: b.listen, NATSListen: b.natsListen,
		LogPath: filepath.Join(b.root, "server.log"), Children: b.cs,
		// The last value of a variable wins in exec: -server-env overrides.
		Env: append([]string{"GOMEMLIMIT=" + serverMemLimit, serverGODEBUG}, b.o.serverEnv...)}
	b.logf("%d hosts: starting the server (log %s)", n, srv.LogPath)
	if err := srv.Start(ctx); err != nil {
		return p, err
	}
	defer srv.Stop()
	ids := filepath.Join(b.root, "ids")
	if err := b.forgetOtherCA(srv.Info.CA); err != nil {
		return p, err
	}
	var tok api.TokenResponse
	if err := srv.API.Do(ctx, "POST", "/api/v1/tokens", api.TokenRequest{Labels: map[string]string{"bench": "fleet"}}, &tok); err != nil {
		return p, fmt.Errorf("join token: %w", err)
	}
	if err := reconcile(ctx, srv.API, n, b.logf); err != nil {
		return p, err
	}

	b.logf("%d hosts: starting the simulator (enrols the hosts not cached in %s)", n, ids)
	exe, err := os.Executable()
	if err != nil {
		return p, fmt.Errorf("simulator: %w", err)
	}
	sim, rd, err := startSim(ctx, b.cs, simCommand(exe, n, ids, srv.Info, tok.Token), n, b.log)
	if sim != nil {
		defer sim.quit()
	}
	if err != nil {
		return p, err
	}
	p.Enrolled, p.EnrolMS, p.ConnectMS = rd.enrolled, rd.enrolMS, rd.greetMS
	b.logf("%d hosts: %d enrolled in %s, all connected and greeted in %s", n, rd.enrolled, fmtMS(rd.enrolMS), fmtMS(rd.greetMS))
	if err := waitOnline(ctx, srv.API, n, time.Minute); err != nil {
		return p, err
	}

	if err := b.jobs(ctx, &p, srv, sim); err != nil {
		return p, err
	}
	if p.Server, err = benchkit.ProcStatus(srv.Proc.Pid()); err != nil {
		return p, err
	}
	if p.Sim, err = benchkit.ProcStatus(sim.c.Pid()); err != nil {
		return p, err
	}
	b.logf("%d hosts: server RSS %s, peak %s (simulator %s)", n, fmtKiB(p.Server.RSS), fmtKiB(p.Server.HWM), fmtKiB(p.Sim.RSS))

	for i := range b.o.restarts {
		rr, err := b.restart(ctx, srv, sim, n)
		p.Restarts = append(p.Restarts, rr)
		if err != nil {
			return p, err
		}
		if rr.Error != "" {
			b.fail("%d hosts: restart %d: %s", n, i+1, rr.Error)
			continue
		}
		b.logf("%d hosts: restart %d/%d: stopped in %s, serving %s after its start; all %d back %s after SIGTERM (%s after the start), %d online, %d stale",
			n, i+1, b.o.restarts, fmtMS(rr.StopMS), fmtMS(rr.StartMS), rr.Back, fmtMS(rr.BackMS), fmtMS(rr.BackAfterStartMS), rr.Online, rr.Stale)
	}
	if b.o.restarts > 0 {
		tm, err := runJob(ctx, srv.API, n, true)
		if err != nil {
			b.fail("%d hosts: job after the restarts: %v", n, err)
		} else {
			p.CheckJobMS = ms(tm.end)
			b.logf("%d hosts: job after the restarts: %s", n, fmtMS(p.CheckJobMS))
		}
		if err := sim.idle(ctx, time.Minute); err != nil {
			b.fail("%d hosts: %v", n, err)
		}
	}
	if last {
		ar := b.idleAgent(ctx, srv, tok.Token)
		b.res.Agent = &ar
		if ar.Error != "" {
			b.fail("idle agent: %s", ar.Error)
		}
	}
	if p.SimStats, err = sim.stats(ctx); err != nil {
		return p, err
	}
	if e := p.SimStats["bus_errors"]; e != "0" {
		b.logf("%d hosts: warning: the simulator saw %s bus errors, last: %s", n, e, p.SimStats["last_error"])
	}
	if e := p.SimStats["last_reconnect_error"]; e != "" {
		b.logf("%d hosts: the last reconnection attempt that failed to dial: %s", n, e)
	}
	return p, srv.Alive()
}

// jobs runs one warm-up job and the timed ones, waiting after each until
// the simulator has every Ack, so that runs do not overlap.
// serverGODEBUG is the server's GODEBUG, the setting docs/fleet.md
// recommends for large fleets: near GOMEMLIMIT the collector runs often,
// and shrinking the 20,000 goroutine stacks of 10,000 NATS connections at
// every cycle, only for them to grow again, cost 40% of the server's CPU
// (p50 2.68 s → 1.53 s, peak 966 → 906 MiB at 10,000 hosts). A later
// -server-env GODEBUG=… replaces it.
const serverGODEBUG = "GODEBUG=gcshrinkstackoff=1"

// serverMemLimit is the GOMEMLIMIT the server runs with.
const serverMemLimit = "900MiB"

func (b *bench) jobs(ctx context.Context, p *phaseResult, srv *benchkit.Server, sim *simProc) error {
	tm, err := runJob(ctx, srv.API, p.N, true)
	if err != nil {
		b.fail("%d hosts: warm-up job: %v", p.N, err)
	}
	p.WarmupMS = ms(tm.end)
	b.logf("%d hosts: warm-up job: %v", p.N, tm)
	if err := sim.idle(ctx, time.Minute); err != nil {
		return err
	}
	srv0, err1 := benchkit.ProcCPU(srv.Proc.Pid())
	sim0, err2 := benchkit.ProcCPU(sim.c.Pid())
	for i := range b.o.runs {
		// The first and the last runs are also read back from the store.
		tm, err := runJob(ctx, srv.API, p.N, i == 0 || i == b.o.runs-1)
		if err != nil {
			p.FailedRuns++
			b.fail("%d hosts: job run %d: %v", p.N, i+1, err)
			if err := srv.Alive(); err != nil {
				return err
			}
		} else {
			p.JobMS = append(p.JobMS, ms(tm.end))
			p.PostedMS = append(p.PostedMS, ms(tm.posted))
			b.logf("%d hosts: job run %d/%d: %v", p.N, i+1, b.o.runs, tm)
		}
		if err := sim.idle(ctx, time.Minute); err != nil {
			return err
		}
	}
	srv1, err3 := benchkit.ProcCPU(srv.Proc.Pid())
	sim1, err4 := benchkit.ProcCPU(sim.c.Pid())
	if err1 == nil && err2 == nil && err3 == nil && err4 == nil {
		p.ServerCPUMS = ms(srv1-srv0) / float64(b.o.runs)
		p.SimCPUMS = ms(sim1-sim0) / float64(b.o.runs)
	}
	p.Job = summarize(p.JobMS)
	p.Posted = summarize(p.PostedMS)
	return nil
}

// forgetOtherCA removes the cached identities when they belong to another
// CA than the server's (a data directory made again): their certificates
// would be refused. The identities directory gets a copy of the CA they
// belong to.
func (b *bench) forgetOtherCA(caPath string) error {
	ca, err := os.ReadFile(caPath)
	if err != nil {
		return err
	}
	ids := filepath.Join(b.root, "ids")
	if old, err := os.ReadFile(filepath.Join(ids, "ca.pem")); err != nil || !bytes.Equal(old, ca) {
		if err := os.RemoveAll(ids); err != nil {
			return err
		}
		if err := os.MkdirAll(ids, 0o700); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(ids, "ca.pem"), ca, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// limits raises RLIMIT_NOFILE to its hard limit for the benchmark and its
// children, and notes what may stop n connections: the server and the
// simulator each need a descriptor per agent, and the simulator a local
// port per agent.
func (h *machine) limits(n int) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("RLIMIT_NOFILE: %w", err)
	}
	lim.Cur = lim.Max
	// Unlike the limit Go raises at start, this one children inherit.
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("raise RLIMIT_NOFILE to %d: %w", lim.Max, err)
	}
	h.Nofile = lim.Max
	const spare = 1024
	if lim.Max < uint64(n+spare) {
		h.Warnings = append(h.Warnings, fmt.Sprintf("the hard limit of open files (RLIMIT_NOFILE) is %d, below the %d that the server and the simulator each need for %d agents: raise it (ulimit -Hn, LimitNOFILE=)", lim.Max, n+spare, n))
	}
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		f := strings.Fields(string(b))
		if len(f) == 2 {
			lo, _ := strconv.Atoi(f[0])
			hi, _ := strconv.Atoi(f[1])
			h.Ports = hi - lo + 1
			if h.Ports < n+spare {
				h.Warnings = append(h.Warnings, fmt.Sprintf("only %d local ports (net.ipv4.ip_local_port_range) for %d connections", h.Ports, n))
			}
		}
	}
	return nil
}
