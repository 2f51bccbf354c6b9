package cli

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/phenixhq/phenix/internal/api"
	"github.com/phenixhq/phenix/internal/journal"
)

func (a *app) journalCommand() *cobra.Command {
	var (
		cf                   clientFlags
		hostID, actor, since string
		limit                int
		asJSON               bool
	)
	cmd := &cobra.Command{
		Use:   "journal",
		Short: "Show the journal: who did what, where, when, with what result",
		Long: `Every action on the fleet — a host joining, a label set, a command run, an
operation, an apply, a policy pushed, a secret set — lands in the journal,
an append-only list of entries chained by hash: an entry changed or removed
afterwards breaks the chain, and phenix journal verify says where.

Journal prints the latest entries, oldest first: their number, time, actor,
action, the selector or hosts aimed at, result and summary. Secret values
are masked. --host, --actor and --since (RFC 3339, or a duration meaning
that long ago) narrow the list.`,
		Example: `  phenix journal
  phenix journal --host web-1 --since 7d
  phenix journal --actor admin --limit 500 --json | jq -r '.[] | select(.Action=="command.run") | .Summary'
  phenix journal verify`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := parseSince(since)
			if err != nil {
				return badInput(err)
			}
			if limit < 0 {
				return badInput(fmt.Errorf("--limit %d: expected 0 (no limit) or more", limit))
			}
			c, err := cf.client()
			if err != nil {
				return err
			}
			q := url.Values{}
			for k, v := range map[string]string{"host": hostID, "actor": actor, "since": s} {
				if v != "" {
					q.Set(k, v)
				}
			}
			q.Set("limit", strconv.Itoa(limit))
			var es []journal.Entry
			if err := c.Do(cmd.Context(), "GET", "/api/v1/journal?"+q.Encode(), nil, &es); err != nil {
				return apiErr(err)
			}
			if asJSON {
				return printJSON(a.stdout, es)
			}
			if len(es) == 0 {
				fmt.Fprintln(a.stdout, "no journal entries")
				return nil
			}
			tw := newTable(a.stdout, "SEQ", "TIME", "ACTOR", "ACTION", "SELECTOR/HOSTS", "RESULT", "SUMMARY")
			for _, e := range es {
				row(tw, strconv.FormatInt(e.Seq, 10), fmtTime(e.Time), e.Actor, e.Action, aimedAt(e), e.Result, e.Summary)
			}
			return tw.Flush()
		},
	}
	cf.register(cmd)
	cmd.Flags().StringVar(&hostID, "host", "", "only the entries about host `ID`")
	cmd.Flags().StringVar(&actor, "actor", "", "only the entries of `ACTOR` (admin, a host id, …)")
	cmd.Flags().StringVar(&since, "since", "", "only the entries after `TIME`: RFC 3339, or a duration meaning that long ago (24h, 7d)")
	cmd.Flags().IntVar(&limit, "limit", 50, "show the latest `N` entries (0: all)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the API's JSON")
	cmd.AddCommand(a.journalVerifyCommand(&cf))
	return cmd
}

// maxHostsShown is how many hosts of an entry the table names.
const maxHostsShown = 3

// aimedAt writes what an entry aimed at: its selector, else its hosts.
func aimedAt(e journal.Entry) string {
	if e.Selector != "" {
		if len(e.Hosts) > 0 {
			return fmt.Sprintf("%s (%s)", e.Selector, count(len(e.Hosts), "host", "hosts"))
		}
		return e.Selector
	}
	if len(e.Hosts) <= maxHostsShown {
		return strings.Join(e.Hosts, ",")
	}
	return fmt.Sprintf("%s +%d", strings.Join(e.Hosts[:maxHostsShown], ","), len(e.Hosts)-maxHostsShown)
}

func (a *app) journalVerifyCommand(cf *clientFlags) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Check that no journal entry was changed or removed",
		Long: `Verify recomputes the hash chain of the whole journal on the server. It
prints "journal intact: N entries" and exits 0, or says which entry breaks
the chain and exits 1.`,
		Example: `  phenix journal verify`,
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.client()
			if err != nil {
				return err
			}
			var v api.VerifyResponse
			if err := c.Do(cmd.Context(), "GET", "/api/v1/journal/verify", nil, &v); err != nil {
				return apiErr(err)
			}
			if asJSON {
				if err := printJSON(a.stdout, v); err != nil {
					return err
				}
			} else if v.OK {
				fmt.Fprintf(a.stdout, "journal intact: %s\n", count(v.Entries, "entry", "entries"))
			}
			if !v.OK {
				if asJSON {
					return &exitError{code: ExitFailed}
				}
				return fmt.Errorf("journal broken (%s): %s", count(v.Entries, "entry", "entries"), v.Error)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the API's JSON")
	return cmd
}
