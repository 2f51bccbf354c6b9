package cli

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/phenixhq/phenix/internal/api"
)

// jobFlags are the flags of the commands that start a job: run, op run
// and a fleet apply.
type jobFlags struct {
	timeout time.Duration
	batch   string
	asJSON  bool
}

// register adds the flags; def is the default --timeout, defText says
// what it is when def is 0 (the server's default).
func (jf *jobFlags) register(cmd *cobra.Command, def time.Duration, defText string) {
	jf.registerLimits(cmd, def, defText)
	cmd.Flags().BoolVar(&jf.asJSON, "json", false, "stream nothing; print the job and every host's result as JSON at the end")
}

// registerLimits adds --timeout and --batch only.
func (jf *jobFlags) registerLimits(cmd *cobra.Command, def time.Duration, defText string) {
	usage := "stop on a host after `DURATION`: its result is timeout"
	if defText != "" {
		usage += " (default " + defText + ")"
	}
	cmd.Flags().DurationVar(&jf.timeout, "timeout", def, usage)
	cmd.Flags().StringVar(&jf.batch, "batch", "", "run on at most `N` hosts at once, or N% of them (default all at once)")
}

// maxNameWidth caps the column of host names before streamed lines.
const maxNameWidth = 24

// jobStream prints the output of a running job as it comes.
type jobStream struct {
	stdout, stderr io.Writer
	names          map[string]string // host id → what to show
	width          int
	lines          lineSplitter
}

func (s *jobStream) name(id string) string {
	if n := s.names[id]; n != "" {
		return n
	}
	return id
}

func (s *jobStream) print(ls []line) {
	for _, l := range ls {
		w := s.stdout
		if l.stream == "stderr" {
			w = s.stderr
		}
		fmt.Fprintf(w, "%-*s | %s\n", s.width, s.name(l.host), l.text)
	}
}

func (s *jobStream) event(ev api.Event) {
	switch ev.Type {
	case "output":
		s.print(s.lines.write(ev.Host, ev.Stream, ev.Data))
	case "result":
		if ev.Result != nil {
			s.print(s.lines.flush(ev.Result.Host))
		}
	}
}

// runJob starts a job, streams its output (unless --json), waits for its
// end and prints every host's result. Its error carries the exit status:
// 0 when every host is ok; for an apply, 2 when some changed and none
// failed; else 1.
func (a *app) runJob(ctx context.Context, c *api.Client, req api.JobRequest, jf jobFlags) error {
	req.Timeout = api.Duration(jf.timeout)
	req.Batch = jf.batch
	job, err := c.StartJob(ctx, req)
	if err != nil {
		return apiErr(err)
	}
	if len(job.Hosts) == 0 {
		if jf.asJSON {
			return printJSON(a.stdout, job)
		}
		fmt.Fprintf(a.stdout, "0 hosts matched %s\n", job.Selector)
		return nil
	}
	st := &jobStream{stdout: a.stdout, stderr: a.stderr}
	if !jf.asJSON {
		st.names = a.hostNames(ctx, c, job)
		for _, id := range job.Hosts {
			st.width = max(st.width, min(len(st.name(id)), maxNameWidth))
		}
	}
	err = c.Events(ctx, job.ID, func(ev api.Event) {
		if !jf.asJSON {
			st.event(ev)
		}
	})
	st.print(st.lines.flushAll())
	if ctx.Err() != nil {
		fmt.Fprintf(a.stderr, "job %s goes on; phenix job %s shows its results\n", job.ID, job.ID)
		return &exitError{code: ExitFailed}
	}
	if err != nil {
		return fmt.Errorf("%w (phenix job %s shows its results)", apiErr(err), job.ID)
	}
	full, err := c.Job(ctx, job.ID)
	if err != nil {
		return fmt.Errorf("%w (phenix job %s shows its results)", apiErr(err), job.ID)
	}
	if jf.asJSON {
		if err := printJSON(a.stdout, full); err != nil {
			return err
		}
	} else {
		a.printJobEnd(full, st.names)
	}
	return jobExit(full)
}

// hostNames returns what to call the hosts of job: their hostname, or
// their id when the hostname is unknown or shared with another host of the
// job.
func (a *app) hostNames(ctx context.Context, c *api.Client, job api.Job) map[string]string {
	list, err := c.Hosts(ctx, job.Selector)
	if err != nil {
		return nil // the ids will do
	}
	hostname := map[string]string{}
	for _, h := range list.Hosts {
		hostname[h.ID] = h.Hostname
	}
	return displayNames(job.Hosts, func(id string) string { return hostname[id] })
}

// displayNames maps each id to its hostname, or to itself when the
// hostname is empty or not unique among ids.
func displayNames(ids []string, hostname func(id string) string) map[string]string {
	uses := map[string]int{}
	for _, id := range ids {
		uses[hostname(id)]++
	}
	out := make(map[string]string, len(ids))
	for _, id := range ids {
		n := hostname(id)
		if n == "" || uses[n] > 1 {
			n = id
		}
		out[id] = n
	}
	return out
}

// printJobEnd writes, after a job streamed, each host's apply report (for
// an apply), the table of results and the summary line.
func (a *app) printJobEnd(job api.Job, names map[string]string) {
	names = resultNames(job, names)
	rs := sortedResults(job, names)
	w := a.stdout
	if job.Kind == "apply" {
		for _, r := range rs {
			printHostHeader(w, names[r.Host], r)
			printDetail(w, r)
		}
		fmt.Fprintln(w)
	}
	tw := newTable(w, "HOST", "STATUS", "DURATION")
	for _, r := range rs {
		row(tw, names[r.Host], statusCell(r), resultDuration(r))
	}
	tw.Flush()
	fmt.Fprintf(w, "%s (job %s)\n", summarize(job, rs), job.ID)
}
