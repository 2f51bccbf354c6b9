package cli

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/phenixhq/phenix/internal/api"
)

func (a *app) rollbackCommand() *cobra.Command {
	var (
		df     deployFlags
		to     string
		reason string
	)
	cmd := &cobra.Command{
		Use:   "rollback APP --env ENV",
		Short: "Switch an environment back to its previous version",
		Long: `Rollback switches the hosts of environment ENV back to the version APP ran
there before the current one (phenix status shows it as PREVIOUS), or to
--to VERSION. The previous release is still on the hosts, so it is one
switch, followed by the checks as for a deploy. --reason says why, for the
journal.

The steps are printed as they end, with the hosts that failed; the last line
says how it ended. --detach returns at once: phenix deployment ID shows it.

Exit status: 0 when the rollback succeeded, 1 when it failed or was refused,
64 for bad input.`,
		Example: `  phenix rollback web --env prod --reason "500s on checkout"
  phenix rollback web --env prod --to 1.4.0`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := needEnv(cmd, df.env); err != nil {
				return err
			}
			req := api.DeployRequest{Kind: api.KindRollback, Env: df.env, Version: to, Reason: strings.TrimSpace(reason)}
			return a.startDeployment(cmd.Context(), args[0], req, &df)
		},
	}
	df.register(cmd)
	cmd.Flags().StringVar(&to, "to", "", "roll back to `VERSION` (default the environment's previous version)")
	cmd.Flags().StringVar(&reason, "reason", "", "why, `TEXT` kept in the journal")
	return cmd
}
