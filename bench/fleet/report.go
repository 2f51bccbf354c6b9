package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/phenixhq/phenix/bench/internal/benchkit"
)

// writeText prints the results as tables: one column per fleet size, the
// restarts, then the targets.
func writeText(w io.Writer, r *results) error {
	fmt.Fprintf(w, "\n%s, %d CPUs, %s; load average %.2f before, %.2f after%s\n", r.Host.Kernel, r.Host.CPUs, r.Host.Go,
		r.Host.Load[0], r.Host.Load[1], benchkit.Busy(r.Host.Load[0], r.Host.CPUs))
	fmt.Fprintf(w, "server and simulator on the same host; open files limit %d, %d local ports; server environment %s\n",
		r.Host.Nofile, r.Host.Ports, strings.Join(r.ServerEnv, " "))
	for _, warn := range r.Host.Warnings {
		fmt.Fprintf(w, "warning: %s\n", warn)
	}
	if len(r.Phases) > 0 {
		fmt.Fprintln(w)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		row := func(name string, f func(p phaseResult) string) {
			fmt.Fprint(tw, name+"\t")
			for _, p := range r.Phases {
				fmt.Fprint(tw, f(p)+"\t")
			}
			fmt.Fprintln(tw)
		}
		row("hosts", func(p phaseResult) string { return fmt.Sprint(p.N) })
		row("enrolled now (not a target)", func(p phaseResult) string {
			if p.Enrolled == 0 {
				return "0 (cached)"
			}
			return fmt.Sprintf("%d in %s", p.Enrolled, fmtMS(p.EnrolMS))
		})
		row("all connected and greeted", func(p phaseResult) string { return fmtMS(p.ConnectMS) })
		row("warm-up job", func(p phaseResult) string { return fmtMS(p.WarmupMS) })
		row("job: timed runs ok / failed", func(p phaseResult) string { return fmt.Sprintf("%d / %d", p.Job.Runs, p.FailedRuns) })
		for _, s := range []struct {
			name string
			f    func(summary) float64
		}{{"job p50", func(s summary) float64 { return s.P50 }}, {"job p99", func(s summary) float64 { return s.P99 }},
			{"job min", func(s summary) float64 { return s.Min }}, {"job max", func(s summary) float64 { return s.Max }}} {
			row(s.name, func(p phaseResult) string {
				if p.Job.Runs == 0 {
					return "-"
				}
				return fmtMS(s.f(p.Job))
			})
		}
		row("  POST answered, p50", func(p phaseResult) string {
			if p.Posted.Runs == 0 {
				return "-"
			}
			return fmtMS(p.Posted.P50)
		})
		row("server CPU per job", func(p phaseResult) string { return fmtMS(p.ServerCPUMS) })
		row("simulator CPU per job", func(p phaseResult) string { return fmtMS(p.SimCPUMS) })
		row("server peak RSS (VmHWM)", func(p phaseResult) string { return fmtKiB(p.Server.HWM) })
		row("server RSS after the jobs", func(p phaseResult) string { return fmtKiB(p.Server.RSS) })
		row("  of which anonymous", func(p phaseResult) string { return fmtKiB(p.Server.Anon) })
		row("simulator RSS", func(p phaseResult) string { return fmtKiB(p.Sim.RSS) })
		row("job after the restarts", func(p phaseResult) string {
			if p.CheckJobMS == 0 {
				return "-"
			}
			return fmtMS(p.CheckJobMS)
		})
		if err := tw.Flush(); err != nil {
			return fmt.Errorf("write results: %w", err)
		}

		rows := 0
		for _, p := range r.Phases {
			for i, rs := range p.Restarts {
				if rows == 0 {
					fmt.Fprintln(w, "\nrestarts: SIGTERM, start on the same data directory and ports, until every agent is greeted again")
					fmt.Fprintln(tw, "hosts\trestart\tstop\tstart\tall back after SIGTERM\tafter start\tback\tfailed attempts\tonline\tstale\tserver CPU\tsimulator CPU\tpeak RSS\tRSS\t")
				}
				rows++
				back := fmtMS(rs.BackMS)
				if rs.Error != "" {
					back = "FAILED"
				}
				fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t\n", p.N, i+1, fmtMS(rs.StopMS), fmtMS(rs.StartMS),
					back, fmtMS(rs.BackAfterStartMS), rs.Back, rs.FailedAttempts, rs.Online, rs.Stale,
					fmtMS(rs.ServerCPUMS), fmtMS(rs.SimCPUMS), fmtKiB(rs.Server.HWM), fmtKiB(rs.Server.RSS))
			}
		}
		if err := tw.Flush(); err != nil {
			return fmt.Errorf("write results: %w", err)
		}
	}
	if a := r.Agent; a != nil && a.Error == "" {
		fmt.Fprintf(w, "\nidle agent: online %s after its start; after %.0f s idle, RSS %s (anonymous %s, executable and files %s), peak %s\n",
			fmtMS(a.OnlineMS), a.IdleS, fmtKiB(a.Mem.RSS), fmtKiB(a.Mem.Anon), fmtKiB(a.Mem.File), fmtKiB(a.Mem.HWM))
	}

	fmt.Fprintln(w, "\ntargets")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "target\tgoal\tmeasured\t")
	for _, t := range r.Targets {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.Name, t.Goal, t.Measured, t.Status)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	if len(r.Failures) > 0 {
		fmt.Fprintf(w, "\n%d FAILED runs:\n", len(r.Failures))
		for _, f := range r.Failures {
			fmt.Fprintf(w, "  %s\n", f)
		}
	}
	return nil
}
