package cli

import (
	"github.com/spf13/cobra"
)

func (a *app) appsCommand() *cobra.Command {
	var (
		cf     clientFlags
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "apps",
		Short: "List the apps of the policy and their environments",
		Long: `Apps lists the apps the latest policy declares, each with its environments in
lifecycle order: a version reaches an environment only after it passed the
one before (alpha → preprod → prod). phenix status APP shows what runs
where.`,
		Example: `  phenix apps
  phenix apps --json | jq -r '.[].name'`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.client()
			if err != nil {
				return err
			}
			apps, err := c.Apps(cmd.Context())
			if err != nil {
				return apiErr(err)
			}
			if asJSON {
				return printJSON(a.stdout, apps)
			}
			printApps(a.stdout, apps)
			return nil
		},
	}
	cf.register(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the API's JSON")
	return cmd
}
