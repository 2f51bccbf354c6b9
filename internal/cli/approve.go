package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/phenixhq/phenix/internal/api"
)

func (a *app) approveCommand() *cobra.Command {
	var (
		cf     clientFlags
		env    string
		note   string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "approve APP VERSION --env ENV",
		Short: "Approve a version for an environment that requires approvals",
		Long: `Approve lets VERSION of APP be deployed to ENV, an environment whose deploys
need an approval (phenix status marks it "(approval)"). The approval is
journaled with its --note; the version must still have passed the
environment before ENV.`,
		Example: `  phenix approve web 1.4.2 --env prod --note "QA sign-off, ticket REL-118"`,
		Args:    exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := needEnv(cmd, env); err != nil {
				return err
			}
			c, err := cf.client()
			if err != nil {
				return err
			}
			ap, err := c.Approve(cmd.Context(), args[0], api.ApproveRequest{Env: env, Version: args[1], Note: strings.TrimSpace(note)})
			if err != nil {
				return apiErr(err)
			}
			if asJSON {
				return printJSON(a.stdout, ap)
			}
			fmt.Fprintf(a.stdout, "approved %s %s for %s (by %s)\n", ap.App, ap.Version, ap.Env, ap.Actor)
			return nil
		},
	}
	cf.register(cmd)
	cmd.Flags().StringVar(&env, "env", "", "the `ENVIRONMENT` (required)")
	cmd.Flags().StringVar(&note, "note", "", "why, `TEXT` kept in the journal")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the API's JSON")
	return cmd
}
