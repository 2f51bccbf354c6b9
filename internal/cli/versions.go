package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

func (a *app) versionsCommand() *cobra.Command {
	var (
		cf     clientFlags
		limit  int
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "versions APP",
		Short: "List the uploaded versions of an app and where they are",
		Long: `Versions lists the versions of APP uploaded with phenix version upload, newest
first: when and by whom, the artifact's size and sha256 (its first 12 hex
digits), the environments it runs on now (ON), those where a deployment of
it passed its checks (PASSED, which the lifecycle requires before the next
environment), and its note.`,
		Example: `  phenix versions web
  phenix versions web --limit 100 --json | jq -r '.[] | select(.current | index("prod")) | .version'`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if limit < 1 {
				return badInput(fmt.Errorf("--limit %d: expected 1 or more", limit))
			}
			c, err := cf.client()
			if err != nil {
				return err
			}
			vs, err := c.Versions(cmd.Context(), args[0], limit)
			if err != nil {
				return apiErr(err)
			}
			if asJSON {
				return printJSON(a.stdout, vs)
			}
			printVersions(a.stdout, args[0], vs, localClock())
			return nil
		},
	}
	cf.register(cmd)
	cmd.Flags().IntVar(&limit, "limit", 20, "list at most `N` versions")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the API's JSON")
	return cmd
}
