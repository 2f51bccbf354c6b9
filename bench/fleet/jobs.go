package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/phenixhq/phenix/internal/api"
	"github.com/phenixhq/phenix/internal/wire"
)

// jobTimeout bounds one job run: a host that does not answer is
// unreachable after the run timeout (1 minute) and a grace period.
const jobTimeout = 2 * time.Minute

// jobTiming is when things happened in one job run, from the POST.
type jobTiming struct {
	end    time.Duration // the job ended: every result stored
	posted time.Duration // the POST was answered: the job stored and sent
	first  time.Duration // the first result event arrived
	last   time.Duration // the last one did
}

func (t jobTiming) String() string {
	return fmt.Sprintf("%s (POST answered %s, results from %s to %s)", fmtMS(ms(t.end)), fmtMS(ms(t.posted)), fmtMS(ms(t.first)), fmtMS(ms(t.last)))
}

// runJob runs `true` on every host ("*") and returns, with other times,
// the time from the POST /api/v1/jobs to the job's end (its "end" event:
// every result stored). It follows the job with the events stream (whose
// result events the server sends once it has stored them) and checks that
// it targeted n hosts, that n distinct hosts answered ok with exit code 0,
// and that the job ended ok with the summary "n ok". With readBack, it
// also reads the job back (GET /api/v1/jobs/{id}) and checks the n stored
// results: reading 10,000 results costs the server as much garbage as a
// fifth of a job, which its next collection pays for, so the benchmark
// does this on some runs only.
func runJob(ctx context.Context, c *api.Client, n int, readBack bool) (jobTiming, error) {
	ctx, cancel := context.WithTimeout(ctx, jobTimeout)
	defer cancel()
	var tm jobTiming
	t0 := time.Now()
	job, err := c.StartJob(ctx, api.JobRequest{Kind: wire.JobRun, Selector: "*", Command: []string{"true"}})
	if err != nil {
		return tm, fmt.Errorf("start job: %w", err)
	}
	tm.posted = time.Since(t0)
	var (
		results int
		bad     []string
		end     *api.Job
	)
	err = c.Events(ctx, job.ID, func(ev api.Event) {
		switch ev.Type {
		case "result":
			results++
			tm.last = time.Since(t0)
			if results == 1 {
				tm.first = tm.last
			}
			if r := ev.Result; r == nil || r.Status != wire.StatusOK || r.ExitCode != 0 {
				bad = append(bad, describe(ev.Host, r))
			}
		case "end":
			tm.end = time.Since(t0)
			end = ev.Job
		}
	})
	if err != nil {
		return tm, fmt.Errorf("job %s: %w", job.ID, err)
	}
	var problems []error
	if len(job.Hosts) != n {
		problems = append(problems, fmt.Errorf("targets %d hosts, want %d", len(job.Hosts), n))
	}
	if results != n {
		problems = append(problems, fmt.Errorf("%d results streamed, want %d", results, n))
	}
	if len(bad) > 0 {
		problems = append(problems, fmt.Errorf("%d results not ok, first %s", len(bad), bad[0]))
	}
	if end == nil || end.Result != wire.StatusOK || end.Summary != fmt.Sprintf("%d ok", n) {
		problems = append(problems, fmt.Errorf("ended %s", describeJob(end)))
	}
	if readBack {
		problems = append(problems, readBackJob(ctx, c, job.ID, n)...)
	}
	if err := errors.Join(problems...); err != nil {
		return tm, fmt.Errorf("job %s: %w", job.ID, err)
	}
	return tm, nil
}

// readBackJob checks that the store holds n results of job id, all ok.
func readBackJob(ctx context.Context, c *api.Client, id string, n int) []error {
	var problems []error
	stored, err := c.Job(ctx, id)
	if err != nil {
		problems = append(problems, fmt.Errorf("read back: %w", err))
	} else {
		ok := 0
		var first string
		for _, r := range stored.Results {
			if r.Status == wire.StatusOK && r.ExitCode == 0 {
				ok++
			} else if first == "" {
				first = describe(r.Host, &r)
			}
		}
		if len(stored.Results) != n || ok != n {
			problems = append(problems, fmt.Errorf("stored %d results, %d ok, want %d ok (first other: %s)", len(stored.Results), ok, n, first))
		}
		if stored.EndedAt.IsZero() {
			problems = append(problems, errors.New("not ended in the store"))
		}
	}
	return problems
}

func describe(host string, r *api.JobResult) string {
	if r == nil {
		return host + ": no result"
	}
	return fmt.Sprintf("%s: %s, exit %d, %.80q", host, r.Status, r.ExitCode, r.Output)
}

func describeJob(j *api.Job) string {
	if j == nil {
		return "without an end event"
	}
	return fmt.Sprintf("%s: %s", j.Result, j.Summary)
}
