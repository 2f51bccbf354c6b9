package cli

import (
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/phenixhq/phenix/internal/api"
)

func (a *app) jobsCommand() *cobra.Command {
	var (
		cf     clientFlags
		limit  int
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "jobs",
		Short: "List the latest jobs",
		Long: `Jobs lists the latest jobs, newest first: commands (phenix run), operations
(phenix op run) and fleet applies (phenix apply SELECTOR), with who started
them, on which hosts, and how they ended. phenix job ID shows one with every
host's output.`,
		Example: `  phenix jobs
  phenix jobs --limit 100 --json | jq -r '.[] | select(.result=="failed") | .id'`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if limit < 1 {
				return badInput(fmt.Errorf("--limit %d: expected 1 or more", limit))
			}
			c, err := cf.client()
			if err != nil {
				return err
			}
			var jobs []api.Job
			if err := c.Do(cmd.Context(), "GET", "/api/v1/jobs?limit="+strconv.Itoa(limit), nil, &jobs); err != nil {
				return apiErr(err)
			}
			if asJSON {
				return printJSON(a.stdout, jobs)
			}
			if len(jobs) == 0 {
				fmt.Fprintln(a.stdout, "no jobs yet")
				return nil
			}
			now := time.Now()
			tw := newTable(a.stdout, "ID", "KIND", "ACTOR", "SELECTOR", "HOSTS", "RESULT", "SUMMARY", "STARTED")
			for _, j := range jobs {
				row(tw, j.ID, j.Kind, j.Actor, j.Selector, strconv.Itoa(len(j.Hosts)), jobResultCell(j), j.Summary, fmtAgo(j.CreatedAt, now))
			}
			return tw.Flush()
		},
	}
	cf.register(cmd)
	cmd.Flags().IntVar(&limit, "limit", 20, "list at most `N` jobs")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the API's JSON")
	return cmd
}
