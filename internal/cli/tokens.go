package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/phenixhq/phenix/internal/api"
	"github.com/phenixhq/phenix/internal/host"
)

func (a *app) tokensCommand() *cobra.Command {
	var cf clientFlags
	cmd := &cobra.Command{
		Use:   "tokens",
		Short: "Make join tokens, with which hosts enrol",
		Long: `A join token lets a host enrol in the fleet without an operator accepting it:
the agent presents it once, gets its certificate, and receives the token's
labels. The server keeps only a hash of the token.`,
		Example: `  phenix tokens create --labels role=web,env=prod --max-uses 10`,
		Args:    noArgs,
	}
	group(cmd)
	cf.register(cmd)
	cmd.AddCommand(a.tokensCreateCommand(&cf))
	return cmd
}

func (a *app) tokensCreateCommand(cf *clientFlags) *cobra.Command {
	var (
		labels  string
		maxUses int
		ttl     time.Duration
		asJSON  bool
	)
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create a join token and print the command that joins with it",
		Long: `Create makes a join token and prints it, with the phenix agent command line
that enrols a host with it. The command pins the fleet CA by its hash
(--ca-hash), so the agent trusts the server from its first request.

The token is shown only once: the server keeps its hash. --labels are given
to every host that enrols with it; --max-uses limits how many may (0: no
limit); --ttl is how long it is valid (0: no expiry).`,
		Example: `  phenix tokens create
  phenix tokens create --labels role=web,env=prod --max-uses 3 --ttl 1h
  phenix tokens create --json | jq -r .token`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			lm, err := host.ParseLabels(labels)
			if err != nil {
				return badInput(fmt.Errorf("--labels: %w", err))
			}
			if maxUses < 0 {
				return badInput(fmt.Errorf("--max-uses %d: expected 0 (no limit) or more", maxUses))
			}
			if ttl < 0 {
				return badInput(fmt.Errorf("--ttl %s: expected 0 (no expiry) or more", ttl))
			}
			c, err := cf.client()
			if err != nil {
				return err
			}
			var tok api.TokenResponse
			err = c.Do(cmd.Context(), "POST", "/api/v1/tokens", api.TokenRequest{Labels: lm, MaxUses: maxUses, TTL: api.Duration(ttl)}, &tok)
			if err != nil {
				return apiErr(err)
			}
			if asJSON {
				return printJSON(a.stdout, tok)
			}
			a.printToken(tok, lm, maxUses)
			return nil
		},
	}
	cmd.Flags().StringVar(&labels, "labels", "", "give hosts that join with it these labels, `k=v,…`")
	cmd.Flags().IntVar(&maxUses, "max-uses", 0, "let at most `N` hosts join with it (0: no limit)")
	cmd.Flags().DurationVar(&ttl, "ttl", 24*time.Hour, "how long it is valid (0: no expiry)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the API's JSON (the token included)")
	return cmd
}

func (a *app) printToken(tok api.TokenResponse, labels map[string]string, maxUses int) {
	var about []string
	if tok.ExpiresAt.IsZero() {
		about = append(about, "no expiry")
	} else {
		about = append(about, "valid until "+fmtTime(tok.ExpiresAt))
	}
	if maxUses > 0 {
		about = append(about, "at most "+count(maxUses, "use", "uses"))
	} else {
		about = append(about, "any number of uses")
	}
	if len(labels) > 0 {
		about = append(about, "labels "+host.FormatLabels(labels))
	}
	w := a.stdout
	fmt.Fprintf(w, "join token %s (%s):\n\n  %s\n\n", tok.ID, strings.Join(about, ", "), tok.Token)
	fmt.Fprintf(w, "On a host to join, run:\n\n  %s\n\n", tok.Command)
	fmt.Fprintln(w, "The token is shown only once: the server keeps only its hash.")
}
