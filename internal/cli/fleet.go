package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

// fleetCommands are the commands that talk to a phenix server. Each has
// the client flags (client.go).
func (a *app) fleetCommands() []*cobra.Command {
	return []*cobra.Command{
		a.hostsCommand(),
		a.tokensCommand(),
		a.runCommand(),
		a.jobsCommand(),
		a.jobCommand(),
		a.opCommand(),
		a.policyCommand(),
		a.secretCommand(),
		a.driftCommand(),
		a.journalCommand(),
		a.appsCommand(),
		a.versionsCommand(),
		a.deliverCommand(),
		a.deployCommand(),
		a.rollbackCommand(),
		a.approveCommand(),
		a.unlockCommand(),
		a.statusCommand(),
		a.historyCommand(),
		a.deploymentCommand(),
		a.usersCommand(),
	}
}

// noArgs is cobra.NoArgs with the bad-input exit status.
func noArgs(cmd *cobra.Command, args []string) error {
	if err := cobra.NoArgs(cmd, args); err != nil {
		return badInput(fmt.Errorf("%w (see %s --help)", err, cmd.CommandPath()))
	}
	return nil
}

// group makes cmd, which only holds subcommands, print its help when run
// alone and refuse an unknown subcommand as bad input.
func group(cmd *cobra.Command) *cobra.Command {
	cmd.Args = noArgs
	cmd.RunE = func(cmd *cobra.Command, args []string) error { return cmd.Help() }
	return cmd
}

// maxArgs is cobra.MaximumNArgs with the bad-input exit status.
func maxArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := cobra.MaximumNArgs(n)(cmd, args); err != nil {
			return badInput(fmt.Errorf("%w (see %s --help)", err, cmd.CommandPath()))
		}
		return nil
	}
}

// exactArgs is cobra.ExactArgs with the bad-input exit status.
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := cobra.ExactArgs(n)(cmd, args); err != nil {
			return badInput(fmt.Errorf("%w (see %s --help)", err, cmd.CommandPath()))
		}
		return nil
	}
}

// printJSON writes v as indented JSON.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// newTable returns a tabwriter for a table of columns two spaces apart;
// write rows with cells separated by tabs and Flush it.
func newTable(w io.Writer, header ...string) *tabwriter.Writer {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	return tw
}

// row writes one table row; an empty cell is shown as "-".
func row(tw io.Writer, cells ...string) {
	for i, c := range cells {
		if c == "" {
			c = "-"
		}
		// A tab or a newline inside a cell would break the table.
		cells[i] = strings.NewReplacer("\t", " ", "\n", " ").Replace(c)
	}
	fmt.Fprintln(tw, strings.Join(cells, "\t"))
}

// fmtAgo says how long before now t was: "4s ago", "3m ago", "5h ago",
// "12d ago"; "never" for the zero time.
func fmtAgo(t, now time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t)
	switch {
	case d < 0:
		if d > -time.Second {
			return "just now"
		}
		return "in " + fmtAge(-d)
	case d < time.Second:
		return "just now"
	}
	return fmtAge(d) + " ago"
}

func fmtAge(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d/time.Hour))
	}
	return fmt.Sprintf("%dd", int(d/(24*time.Hour)))
}

// fmtElapsed writes a duration for people: "120ms", "3.2s", "2m05s".
func fmtElapsed(d time.Duration) string {
	switch {
	case d < 0:
		return ""
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", d.Seconds())
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d/time.Minute), int(d%time.Minute/time.Second))
	}
	return fmt.Sprintf("%dh%02dm", int(d/time.Hour), int(d%time.Hour/time.Minute))
}

// fmtTime writes a time in the local zone, to the second.
func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Local().Format("2006-01-02 15:04:05")
}

// shortHash writes the first 12 hex digits of a "sha256:<hex>" hash.
func shortHash(h string) string {
	h = strings.TrimPrefix(h, "sha256:")
	if len(h) > 12 {
		h = h[:12]
	}
	return h
}

// count writes "1 host", "3 hosts".
func count(n int, one, many string) string { return fmt.Sprintf("%d %s", n, plural(n, one, many)) }
