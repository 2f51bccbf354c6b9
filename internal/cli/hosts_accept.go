package cli

import (
	"net/url"

	"github.com/spf13/cobra"

	"github.com/phenixhq/phenix/internal/api"
)

func (a *app) hostsAcceptCommand(cf *clientFlags) *cobra.Command {
	return a.hostStatusCommand(cf, "accept", "accepted", &cobra.Command{
		Use:   "accept ID",
		Short: "Admit a pending or revoked host into the fleet",
		Long: `Accept admits host ID: a host that asked to join without a valid join token
(status pending), or one that was revoked. Its agent gets its certificate on
its next try and starts taking jobs and policy.`,
		Example: `  phenix hosts | grep pending
  phenix hosts accept db-3`,
	})
}

func (a *app) hostsRevokeCommand(cf *clientFlags) *cobra.Command {
	return a.hostStatusCommand(cf, "revoke", "revoked", &cobra.Command{
		Use:   "revoke ID",
		Short: "Shut a host out of the fleet",
		Long: `Revoke shuts host ID out: its connections to the bus are closed at once, it
gets no more jobs nor policy, and it cannot enrol again until phenix hosts
accept admits it. Its history stays in the journal.`,
		Example: `  phenix hosts revoke old-web-7`,
	})
}

// hostStatusCommand fills cmd in as a command that POSTs
// /hosts/{id}/{action}.
func (a *app) hostStatusCommand(cf *clientFlags, action, done string, cmd *cobra.Command) *cobra.Command {
	var asJSON bool
	cmd.Args = exactArgs(1)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		c, err := cf.client()
		if err != nil {
			return err
		}
		var h api.Host
		if err := c.Do(cmd.Context(), "POST", "/api/v1/hosts/"+url.PathEscape(args[0])+"/"+action, nil, &h); err != nil {
			return apiErr(err)
		}
		if asJSON {
			return printJSON(a.stdout, h)
		}
		a.printHost(done, h)
		return nil
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the host as the API's JSON")
	return cmd
}
