package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

func (a *app) unlockCommand() *cobra.Command {
	var (
		cf     clientFlags
		env    string
		reason string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "unlock APP --env ENV --reason TEXT",
		Short: "Remove the lock a deployment left on an environment",
		Long: `A deployment holds the lock of its app's environment while it runs, and
renews it; another deployment there is refused meanwhile. A lock outlives
its deployment only when the server stopped in the middle of one, until
it expires. Unlock removes it now, with a --reason for the journal, and
prints the lock removed. phenix status shows the locks.`,
		Example: `  phenix unlock web --env prod --reason "server restarted during d-20261122-061502-3fa9c1"`,
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := needEnv(cmd, env); err != nil {
				return err
			}
			reason = strings.TrimSpace(reason)
			if reason == "" {
				return badInput(errors.New("--reason is required: why the lock is removed goes into the journal"))
			}
			c, err := cf.client()
			if err != nil {
				return err
			}
			l, err := c.Unlock(cmd.Context(), args[0], env, reason)
			if err != nil {
				return apiErr(err)
			}
			if asJSON {
				return printJSON(a.stdout, l)
			}
			clk := localClock()
			fmt.Fprintf(a.stdout, "unlocked %s on %s: removed the lock of deployment %s (%s by %s, taken %s)\n",
				args[0], env, l.Deployment, l.Reason, l.Actor, clk.ago(l.Since))
			return nil
		},
	}
	cf.register(cmd)
	cmd.Flags().StringVar(&env, "env", "", "the `ENVIRONMENT` (required)")
	cmd.Flags().StringVar(&reason, "reason", "", "why, `TEXT` kept in the journal (required)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the API's JSON")
	return cmd
}
