package cli

import (
	"github.com/spf13/cobra"
)

func (a *app) deploymentCommand() *cobra.Command {
	var (
		cf     clientFlags
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "deployment ID",
		Short: "Show a deployment with its steps and every host's result",
		Long: `Deployment shows deployment ID — a delivery, deploy or rollback: what it did,
from which version, who started it, how it ended — and then each of its
steps, in order: the steps before the batches (deliver, migrate), then those
of every batch (pre hooks, activate, post hooks) and a rollback after a
failure, each with where it ran, its result and duration, and under it
every host's status, duration and checks. A deployment still running shows
the steps so far.`,
		Example: `  phenix deployment d-20261122-061502-3fa9c1
  phenix deployment d-20261122-061502-3fa9c1 --json | jq '.steps[] | select(.result=="failed")'`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.client()
			if err != nil {
				return err
			}
			d, err := c.Deployment(cmd.Context(), args[0])
			if err != nil {
				return apiErr(err)
			}
			if asJSON {
				return printJSON(a.stdout, d)
			}
			printDeployment(a.stdout, d, localClock())
			return nil
		},
	}
	cf.register(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the API's JSON")
	return cmd
}
