package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/phenixhq/phenix/internal/api"
	"github.com/phenixhq/phenix/internal/host"
)

func (a *app) hostsCommand() *cobra.Command {
	var (
		cf     clientFlags
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "hosts [SELECTOR]",
		Short: "List the hosts of the fleet, or the ones a selector matches",
		Long: `Hosts lists the hosts the server knows: their id, hostname, status, system,
labels, when they were last heard from and the result of their last
convergence.

STATUS is online (heard from within three heartbeats), offline, pending
(asked to join without a valid join token: phenix hosts accept admits it) or
revoked.

SELECTOR picks hosts by labels and facts, Kubernetes-style:
  role=web,env in (prod,preprod),os!=windows
A key no host has matches nothing; that is not an error. A malformed
selector is refused with the column at fault (exit status 64).

The subcommands change one host: label, accept and revoke.`,
		Example: `  phenix hosts
  phenix hosts 'role=web,env in (prod,preprod)'
  phenix hosts --json | jq -r '.hosts[] | select(.status=="offline") | .id'`,
		Args: maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.client()
			if err != nil {
				return err
			}
			sel := ""
			if len(args) == 1 {
				sel = args[0]
			}
			list, err := c.Hosts(cmd.Context(), sel)
			if err != nil {
				return apiErr(err)
			}
			if asJSON {
				return printJSON(a.stdout, list)
			}
			a.printHosts(list.Hosts, sel, time.Now())
			return nil
		},
	}
	cf.register(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the API's JSON")
	cmd.AddCommand(a.hostsLabelCommand(&cf), a.hostsAcceptCommand(&cf), a.hostsRevokeCommand(&cf))
	return cmd
}

func (a *app) printHosts(hosts []api.Host, sel string, now time.Time) {
	if len(hosts) == 0 {
		if sel != "" && sel != "*" {
			fmt.Fprintf(a.stdout, "0 hosts matched %s\n", sel)
		} else {
			fmt.Fprintln(a.stdout, "0 hosts (phenix tokens create gives the command that joins one)")
		}
		return
	}
	tw := newTable(a.stdout, "ID", "HOSTNAME", "STATUS", "OS", "LABELS", "LAST SEEN", "LAST RESULT")
	for _, h := range hosts {
		row(tw, h.ID, h.Hostname, h.Status, h.OS, host.FormatLabels(h.Labels), fmtAgo(h.LastSeen, now), h.LastResult)
	}
	tw.Flush()
	fmt.Fprintln(a.stdout, count(len(hosts), "host", "hosts"))
}

// printHost writes one host on one line, after a change.
func (a *app) printHost(verb string, h api.Host) {
	labels := host.FormatLabels(h.Labels)
	if labels == "" {
		labels = "none"
	}
	fmt.Fprintf(a.stdout, "%s %s (%s): %s, labels %s\n", verb, h.ID, h.Hostname, h.Status, labels)
}
