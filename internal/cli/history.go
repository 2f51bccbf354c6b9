package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

func (a *app) historyCommand() *cobra.Command {
	var (
		cf     clientFlags
		env    string
		limit  int
		asJSON bool
		steps  bool
	)
	cmd := &cobra.Command{
		Use:   "history APP",
		Short: "List the deliveries, deployments and rollbacks of an app",
		Long: `History lists the deployments of APP — deliveries, deploys and rollbacks —
newest first, on every environment or on --env only: the version, the one
before (FROM), who started it, how it ended and how long it took.

--steps prints each deployment in full instead, as phenix deployment ID
does: every step, and every host's status, duration and checks.`,
		Example: `  phenix history web
  phenix history web --env prod --limit 5 --steps
  phenix history web --json | jq -r '.[] | select(.state=="failed") | .id'`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if limit < 1 {
				return badInput(fmt.Errorf("--limit %d: expected 1 or more", limit))
			}
			c, err := cf.client()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			ds, err := c.Deployments(ctx, args[0], env, limit)
			if err != nil {
				return apiErr(err)
			}
			if steps {
				// The list may leave the steps out: ask for each
				// deployment in full then.
				for i, d := range ds {
					if d.Steps == nil {
						full, err := c.Deployment(ctx, d.ID)
						if err != nil {
							return apiErr(err)
						}
						ds[i] = full
					}
				}
			}
			if asJSON {
				return printJSON(a.stdout, ds)
			}
			clk := localClock()
			if !steps || len(ds) == 0 {
				printHistory(a.stdout, args[0], env, ds, clk)
				return nil
			}
			for i, d := range ds {
				if i > 0 {
					fmt.Fprintln(a.stdout)
				}
				printDeployment(a.stdout, d, clk)
			}
			return nil
		},
	}
	cf.register(cmd)
	cmd.Flags().StringVar(&env, "env", "", "only the deployments on `ENVIRONMENT`")
	cmd.Flags().IntVar(&limit, "limit", 20, "list at most `N` deployments")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the API's JSON")
	cmd.Flags().BoolVar(&steps, "steps", false, "print each deployment with its steps and hosts")
	return cmd
}
