package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/phenixhq/phenix/internal/api"
	"github.com/phenixhq/phenix/internal/engine"
)

// resultNames completes names (host id → what to show) with the
// hostnames of job's results.
func resultNames(job api.Job, names map[string]string) map[string]string {
	hostname := map[string]string{}
	for _, r := range job.Results {
		hostname[r.Host] = r.Hostname
	}
	ids := slices.Clone(job.Hosts)
	for _, r := range job.Results {
		if !slices.Contains(ids, r.Host) {
			ids = append(ids, r.Host)
		}
	}
	return displayNames(ids, func(id string) string {
		if n := hostname[id]; n != "" {
			return n
		}
		if n := names[id]; n != id {
			return n
		}
		return ""
	})
}

// sortedResults returns job's results by host name, with a pending one for
// each host that has none.
func sortedResults(job api.Job, names map[string]string) []api.JobResult {
	rs := slices.Clone(job.Results)
	for _, h := range job.Hosts {
		if !slices.ContainsFunc(rs, func(r api.JobResult) bool { return r.Host == h }) {
			rs = append(rs, api.JobResult{Host: h, Status: "pending"})
		}
	}
	slices.SortFunc(rs, func(x, y api.JobResult) int {
		if c := strings.Compare(names[x.Host], names[y.Host]); c != 0 {
			return c
		}
		return strings.Compare(x.Host, y.Host)
	})
	return rs
}

// statusCell writes a result's status: ok, changed, failed (exit N),
// timeout, unreachable.
func statusCell(r api.JobResult) string {
	if r.Status == "failed" && r.ExitCode != 0 {
		return fmt.Sprintf("failed (exit %d)", r.ExitCode)
	}
	return r.Status
}

func resultDuration(r api.JobResult) string {
	if r.StartedAt.IsZero() || r.EndedAt.IsZero() {
		return ""
	}
	return fmtElapsed(r.EndedAt.Sub(r.StartedAt))
}

// resultOrder is the order of statuses in a summary.
var resultOrder = []string{"ok", "changed", "failed", "timeout", "unreachable", "pending"}

// summarize writes "3 ok, 1 failed": how many hosts ended how.
func summarize(job api.Job, rs []api.JobResult) string {
	counts := map[string]int{}
	var others []string
	for _, r := range rs {
		if counts[r.Status] == 0 && !slices.Contains(resultOrder, r.Status) {
			others = append(others, r.Status)
		}
		counts[r.Status]++
	}
	var parts []string
	for _, st := range append(slices.Clone(resultOrder), others...) {
		if n := counts[st]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, st))
		}
	}
	if len(parts) == 0 {
		return "0 hosts"
	}
	return strings.Join(parts, ", ")
}

// jobExit returns the exit status of an ended job as an error: nil when
// every host is ok, ExitChanged when an apply changed some and none
// failed, else ExitFailed.
func jobExit(job api.Job) error {
	changed, bad := false, false
	seen := map[string]bool{}
	for _, r := range job.Results {
		seen[r.Host] = true
		switch r.Status {
		case "ok":
		case "changed":
			changed = true
		default:
			bad = true
		}
	}
	for _, h := range job.Hosts {
		if !seen[h] {
			bad = true
		}
	}
	switch {
	case bad:
		return &exitError{code: ExitFailed}
	case changed && job.Kind == "apply":
		return &exitError{code: ExitChanged}
	}
	return nil
}

// printHostHeader writes "== web-1 (failed, exit 3, 1.2s)".
func printHostHeader(w io.Writer, name string, r api.JobResult) {
	about := []string{r.Status}
	if r.Status == "ok" || r.Status == "failed" || r.Status == "changed" {
		about = append(about, fmt.Sprintf("exit %d", r.ExitCode))
	}
	if d := resultDuration(r); d != "" {
		about = append(about, d)
	}
	fmt.Fprintf(w, "== %s (%s)\n", name, strings.Join(about, ", "))
}

// printOutput writes a result's output, indented.
func printOutput(w io.Writer, r api.JobResult) {
	if r.Output != "" {
		fmt.Fprint(w, indent(r.Output))
	}
}

// applyDetail is the Detail of an apply result: an engine.Report, or an
// error that kept the agent from converging.
type applyDetail struct {
	engine.Report
	Error string `json:"error"`
}

// printDetail writes what an apply did on a host, from its result's
// Detail: its changed, failed and skipped promises with their diffs and its
// totals, as phenix apply prints them; or its error; or its output.
func printDetail(w io.Writer, r api.JobResult) {
	var d applyDetail
	if len(r.Detail) == 0 || json.Unmarshal(r.Detail, &d) != nil {
		printOutput(w, r)
		return
	}
	if d.Error != "" {
		fmt.Fprint(w, indent("error: "+d.Error))
	}
	if d.Results != nil || d.Totals.Promises > 0 {
		var b strings.Builder
		printReport(&b, &d.Report, true)
		fmt.Fprint(w, indent(b.String()))
	} else if d.Error == "" {
		printOutput(w, r)
	}
}

// describeJob writes what a job does: "run uptime -p", "op restart
// service=nginx", "apply --dry-run".
func describeJob(j api.Job) string {
	spec, _ := j.Spec.(map[string]any)
	switch j.Kind {
	case "run":
		var words []string
		if cmd, ok := spec["command"].([]any); ok {
			for _, w := range cmd {
				words = append(words, shellQuote(fmt.Sprint(w)))
			}
		}
		return "run " + strings.Join(words, " ")
	case "op":
		s := fmt.Sprintf("op %v", spec["op"])
		if params, ok := spec["params"].(map[string]any); ok {
			keys := make([]string, 0, len(params))
			for k := range params {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			for _, k := range keys {
				s += " " + shellQuote(fmt.Sprintf("%s=%v", k, params[k]))
			}
		}
		return s
	case "apply":
		if dry, _ := spec["dry_run"].(bool); dry {
			return "apply --dry-run"
		}
	}
	return j.Kind
}

// shellQuote quotes s for a shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,@%+", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// jobResultCell writes a job's result, "running" while it runs.
func jobResultCell(j api.Job) string {
	if j.EndedAt.IsZero() && j.Result == "" {
		return "running"
	}
	return j.Result
}

// jobTook writes how long a job ran, or has been running.
func jobTook(j api.Job, now time.Time) string {
	if j.EndedAt.IsZero() {
		return "running for " + fmtElapsed(now.Sub(j.CreatedAt))
	}
	return "took " + fmtElapsed(j.EndedAt.Sub(j.CreatedAt))
}
