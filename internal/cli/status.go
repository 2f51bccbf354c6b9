package cli

import (
	"github.com/spf13/cobra"
)

func (a *app) statusCommand() *cobra.Command {
	var (
		cf     clientFlags
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "status APP",
		Short: "Show what version of an app runs on each environment",
		Long: `Status shows the environments of APP in lifecycle order, one per line: how
many hosts it has, the version CURRENT on them, the PREVIOUS one (where
phenix rollback goes), a version DELIVERED but not switched to, the last
deployment and how it ended, the latest scheduled CHECKS and the LOCK held
by a deployment running there. An environment whose deploys need an
approval is marked "(approval)".`,
		Example: `  phenix status web
  phenix status web --json | jq -r '.envs[] | "\(.env) \(.current)"'`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.client()
			if err != nil {
				return err
			}
			st, err := c.Status(cmd.Context(), args[0])
			if err != nil {
				return apiErr(err)
			}
			if asJSON {
				return printJSON(a.stdout, st)
			}
			printStatus(a.stdout, st, localClock())
			return nil
		},
	}
	cf.register(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the API's JSON")
	return cmd
}
