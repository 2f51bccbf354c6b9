package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/phenixhq/phenix/internal/api"
	"github.com/phenixhq/phenix/internal/engine"
)

func (a *app) driftCommand() *cobra.Command {
	var (
		cf     clientFlags
		since  string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "drift [SELECTOR]",
		Short: "Show what agents found changed and repaired",
		Long: `Drift lists the times an agent found its host no longer as promised — a
file edited by hand, a service stopped, a package removed — and what it did
about it: for each, the time, the host, what triggered the run (schedule,
policy, …), its result, then each promise it changed with its diff, as
phenix apply shows them.

SELECTOR limits the list to the hosts it matches; --since to the reports
after a time (RFC 3339) or that long ago (24h, 30m).`,
		Example: `  phenix drift
  phenix drift role=web --since 7d
  phenix drift --since 2026-11-01T00:00:00Z --json`,
		Args: maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := parseSince(since)
			if err != nil {
				return badInput(err)
			}
			c, err := cf.client()
			if err != nil {
				return err
			}
			sel := ""
			if len(args) == 1 {
				sel = args[0]
			}
			q := url.Values{}
			q.Set("selector", sel)
			q.Set("since", s)
			var ds []api.Drift
			if err := c.Do(cmd.Context(), "GET", "/api/v1/drift?"+q.Encode(), nil, &ds); err != nil {
				return apiErr(err)
			}
			if asJSON {
				return printJSON(a.stdout, ds)
			}
			if len(ds) == 0 {
				where := ""
				if sel != "" && sel != "*" {
					where = " on " + sel
				}
				fmt.Fprintf(a.stdout, "no drift%s since %s\n", where, since)
				return nil
			}
			names := map[string]string{}
			if list, err := c.Hosts(cmd.Context(), sel); err == nil {
				for _, h := range list.Hosts {
					names[h.ID] = h.Hostname
				}
			}
			for i, d := range ds {
				if i > 0 {
					fmt.Fprintln(a.stdout)
				}
				printDrift(a.stdout, d, names[d.Host])
			}
			return nil
		},
	}
	cf.register(cmd)
	cmd.Flags().StringVar(&since, "since", "24h", "reports after `TIME`: RFC 3339, or a duration meaning that long ago")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the API's JSON")
	return cmd
}

// printDrift writes one drift report: a header line, then each promise,
// indented, as phenix apply writes it.
func printDrift(w io.Writer, d api.Drift, hostname string) {
	host := d.Host
	if hostname != "" && hostname != d.Host {
		host += " (" + hostname + ")"
	}
	fmt.Fprintf(w, "%s  %s  %s  %s\n", fmtTime(d.Time), host, d.Trigger, d.Result)
	var rs []engine.Result
	if len(d.Changes) > 0 {
		if err := json.Unmarshal(d.Changes, &rs); err != nil {
			fmt.Fprint(w, indent(fmt.Sprintf("(changes unreadable: %v)", err)))
			return
		}
	}
	var b strings.Builder
	for _, r := range rs {
		printResult(&b, r, true)
	}
	if b.Len() > 0 {
		fmt.Fprint(w, indent(b.String()))
	}
}

// parseSince checks a --since value: a duration (with d for days) or an
// RFC 3339 time. It returns the value the API takes.
func parseSince(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	if d, err := parseDays(s); err == nil {
		if d < 0 {
			return "", fmt.Errorf("--since %s: expected a duration of 0 or more", s)
		}
		return d.String(), nil
	}
	if _, err := time.Parse(time.RFC3339, s); err == nil {
		return s, nil
	}
	return "", fmt.Errorf("--since %q: expected a time (RFC 3339, 2026-11-01T00:00:00Z) or a duration (24h, 30m, 7d)", s)
}

// parseDays is time.ParseDuration that also reads a number of days: 7d.
func parseDays(s string) (time.Duration, error) {
	var n int
	if _, err := fmt.Sscanf(s, "%dd", &n); err == nil && fmt.Sprintf("%dd", n) == s {
		return time.Duration(n) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}
