package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/phenixhq/phenix/internal/api"
)

func (a *app) jobCommand() *cobra.Command {
	var (
		cf     clientFlags
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "job ID",
		Short: "Show a job and every host's result",
		Long: `Job shows job ID — what it ran, on which selector, who started it, how it
ended — and then, for every host, its status, exit code and output (for an
apply, the promises it changed or failed, with their diffs) under a
"== host (status)" header. A job still running shows the results so far.`,
		Example: `  phenix job j-20261122-061502-3fa9c1
  phenix job j-20261122-061502-3fa9c1 --json | jq -r '.results[] | select(.status!="ok") | .host'`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.client()
			if err != nil {
				return err
			}
			j, err := c.Job(cmd.Context(), args[0])
			if err != nil {
				return apiErr(err)
			}
			if asJSON {
				return printJSON(a.stdout, j)
			}
			a.printJob(j, time.Now())
			return nil
		},
	}
	cf.register(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the API's JSON")
	return cmd
}

func (a *app) printJob(j api.Job, now time.Time) {
	w := a.stdout
	fmt.Fprintf(w, "job %s: %s\n", j.ID, describeJob(j))
	fmt.Fprintf(w, "  selector  %s (%s)\n", j.Selector, count(len(j.Hosts), "host", "hosts"))
	fmt.Fprintf(w, "  actor     %s\n", j.Actor)
	fmt.Fprintf(w, "  started   %s (%s), %s\n", fmtTime(j.CreatedAt), fmtAgo(j.CreatedAt, now), jobTook(j, now))
	limits := "timeout " + time.Duration(j.Timeout).String()
	if j.Batch != "" {
		limits += ", batch " + j.Batch
	}
	fmt.Fprintf(w, "  limits    %s\n", limits)
	result := jobResultCell(j)
	if j.Summary != "" {
		result += ": " + j.Summary
	}
	fmt.Fprintf(w, "  result    %s\n", result)
	names := resultNames(j, nil)
	for _, r := range sortedResults(j, names) {
		fmt.Fprintln(w)
		printHostHeader(w, names[r.Host], r)
		if j.Kind == "apply" {
			printDetail(w, r)
		} else {
			printOutput(w, r)
		}
	}
}
