package cli

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/phenixhq/phenix/internal/engine"
)

// printReport writes one line per promise that changed, failed or was
// skipped, the diffs when asked, and the totals line.
func printReport(w io.Writer, rep *engine.Report, diffs bool) {
	changed := "changed"
	if rep.DryRun {
		changed = "would change"
	}
	for _, r := range rep.Results {
		printResult(w, r, diffs)
	}
	t := rep.Totals
	fmt.Fprintf(w, "%d %s: %d %s, %d ok, %d failed, %d skipped (%s)\n",
		t.Promises, plural(t.Promises, "promise", "promises"), t.Changed, changed, t.OK, t.Failed, t.Skipped, fmtDuration(t.DurationMS))
}

// printResult writes the line of a promise that changed, failed or was
// skipped (nothing for one kept), and its content diff when asked.
func printResult(w io.Writer, r engine.Result, diffs bool) {
	switch r.Status {
	case engine.Changed:
		what := r.Diff.Summary()
		if r.Refreshed != "" {
			what = strings.TrimPrefix(what+", "+r.Refreshed, ", ")
		}
		fmt.Fprintf(w, "%-8s %s: %s\n", "changed", r.ID, what)
		if diffs && r.Diff != nil {
			if r.Diff.Content != "" {
				fmt.Fprint(w, indent(r.Diff.Content))
			}
		}
	case engine.Failed:
		fmt.Fprintf(w, "%-8s %s: %s (%s)\n", "failed", r.ID, r.Error, r.Source)
	case engine.Skipped:
		fmt.Fprintf(w, "%-8s %s: %s\n", "skipped", r.ID, r.Reason)
	}
}

func indent(s string) string {
	var b strings.Builder
	for _, line := range strings.SplitAfter(s, "\n") {
		if line != "" {
			b.WriteString("    ")
			b.WriteString(line)
		}
	}
	if !strings.HasSuffix(s, "\n") {
		b.WriteByte('\n')
	}
	return b.String()
}

func fmtDuration(ms float64) string {
	d := time.Duration(ms * float64(time.Millisecond))
	switch {
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	default:
		return fmt.Sprintf("%.2fs", d.Seconds())
	}
}

// progress draws "[ 120/1000] converging…" on a terminal, at most ten times
// a second, and erases it at the end.
type progress struct {
	mu    sync.Mutex
	w     io.Writer
	last  time.Time
	t0    time.Time
	shown bool
}

func newProgress(w io.Writer) *progress { return &progress{w: w, t0: time.Now()} }

func (p *progress) update(done, total int) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	// Stay silent for short runs: nobody needs a bar for 50 ms.
	if now.Sub(p.t0) < 300*time.Millisecond || now.Sub(p.last) < 100*time.Millisecond {
		return
	}
	p.last = now
	p.shown = true
	fmt.Fprintf(p.w, "\r\033[K[%*d/%d] converging…", len(fmt.Sprint(total)), done, total)
}

func (p *progress) clear() {
	if p == nil || !p.shown {
		return
	}
	fmt.Fprint(p.w, "\r\033[K")
}
