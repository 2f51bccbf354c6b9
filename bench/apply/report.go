package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/phenixhq/phenix/bench/internal/benchkit"
)

// writeText prints the results as tables: one row per tool and phase, then
// phenix's ratios, then what each tool printed on stderr.
func writeText(w io.Writer, r *results) error {
	fmt.Fprintf(w, "\n%d files, %d timed runs per phase after 1 warm-up run, tools interleaved\n", r.Files, r.Runs)
	fmt.Fprintf(w, "%s, %d CPUs, load average %.2f before the timed runs, %.2f after%s\n\n",
		r.Host.Kernel, r.Host.CPUs, r.Host.Load[0], r.Host.Load[1], benchkit.Busy(r.Host.Load[0], r.Host.CPUs))
	for _, t := range r.Tools {
		name := t.Tool
		if t.Version != "" {
			name += " (" + t.Version + ")"
		}
		fmt.Fprintf(w, "%s: %s\n", name, t.Status)
		if t.Command != "" {
			fmt.Fprintf(w, "  $ %s\n", t.Command)
		}
		if t.Error != "" {
			fmt.Fprintf(w, "  error: %s\n", t.Error)
		}
	}

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	rows := 0
	for _, t := range r.Tools {
		for _, p := range t.Phases {
			if rows == 0 {
				fmt.Fprintln(w)
				fmt.Fprintln(tw, "tool\tphase\tmedian\tmin\tmedian CPU\tpeak RSS\t")
			}
			rows++
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t\n", t.Tool, p.Phase,
				fmtMS(p.MedianMS), fmtMS(p.MinMS), fmtMS(p.CPUMS), fmtKiB(p.MaxRSSKiB))
		}
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write results: %w", err)
	}

	if len(r.Ratios) > 0 {
		fmt.Fprintln(w, "\nphenix / other (medians of wall and CPU time, peak RSS; below 1 means phenix is faster or smaller)")
		fmt.Fprintln(tw, "phase\tother\twall\tCPU\tRSS\t")
		for _, q := range r.Ratios {
			fmt.Fprintf(tw, "%s\t%s\t%.3f\t%.3f\t%.3f\t\n", q.Phase, q.Other, q.WallMS, q.CPUMS, q.RSS)
		}
		if err := tw.Flush(); err != nil {
			return fmt.Errorf("write results: %w", err)
		}
	}

	for _, t := range r.Tools {
		if len(t.Stderr) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n%s stderr over all runs (times printed, distinct lines):\n", t.Tool)
		for _, l := range t.Stderr {
			fmt.Fprintf(w, "  %5d× %.160s\n", l.Count, l.Line)
		}
		if t.StderrMore > 0 {
			fmt.Fprintf(w, "  … and %d more distinct lines\n", t.StderrMore)
		}
	}
	return nil
}

func fmtMS(ms float64) string {
	if ms >= 1000 {
		return fmt.Sprintf("%.2fs", ms/1000)
	}
	return fmt.Sprintf("%.1fms", ms)
}

func fmtKiB(kib int64) string {
	return fmt.Sprintf("%.1f MiB", float64(kib)/1024)
}
