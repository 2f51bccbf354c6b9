package cli

import (
	"github.com/spf13/cobra"

	"github.com/phenixhq/phenix/internal/api"
)

func (a *app) deliverCommand() *cobra.Command {
	var df deployFlags
	cmd := &cobra.Command{
		Use:   "deliver APP VERSION --env ENV",
		Short: "Stage a version on an environment's hosts without switching to it",
		Long: `Deliver stages VERSION of APP on the hosts of environment ENV: each host
downloads the artifact, checks its sha256 and extracts it beside the current
release, switching nothing. A later phenix deploy of that version then only
has to switch. A host that has the release already keeps it.

The steps are printed as they end, with the hosts that failed; the last line
says how it ended. --detach returns at once: phenix deployment ID shows it.

Exit status: 0 when every host has the version, 1 when the delivery failed
or was refused, 64 for bad input.`,
		Example: `  phenix deliver web 1.4.2 --env prod
  phenix deliver web 1.4.2 --env prod --detach`,
		Args: exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := needEnv(cmd, df.env); err != nil {
				return err
			}
			req := api.DeployRequest{Kind: api.KindDeliver, Env: df.env, Version: args[1]}
			return a.startDeployment(cmd.Context(), args[0], req, &df)
		},
	}
	df.register(cmd)
	return cmd
}
