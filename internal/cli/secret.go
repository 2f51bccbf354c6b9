package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/phenixhq/phenix/internal/api"
)

// maxSecret is the largest secret value the server takes.
const maxSecret = 1 << 20

func (a *app) secretCommand() *cobra.Command {
	var cf clientFlags
	cmd := &cobra.Command{
		Use:   "secret",
		Short: "Set, list and remove secrets: vars kept encrypted by the server",
		Long: `A secret is a template var whose value the server keeps encrypted and sends
only to the hosts its selector matches; every output masks it. Bundles read
it like any var: {{ .vars.NAME }}. A name may have a value per selector:
--select names which one set and rm mean.`,
		Example: `  printf %s "$DB_PASSWORD" | phenix secret set db_password --select role=db
  phenix secret list
  phenix secret rm db_password --select role=db`,
		Args: noArgs,
	}
	group(cmd)
	cf.register(cmd)
	cmd.AddCommand(a.secretSetCommand(&cf), a.secretListCommand(&cf), a.secretRmCommand(&cf))
	return cmd
}

func (a *app) secretSetCommand(cf *clientFlags) *cobra.Command {
	var sel string
	cmd := &cobra.Command{
		Use:   "set NAME",
		Short: "Set a secret from standard input",
		Long: `Set reads the value of secret NAME from standard input (one trailing newline
is dropped) and stores it for the hosts --select matches (default every
host). On a terminal the value is read without echo, up to the end of the
line. The hosts get the new value with their next policy.`,
		Example: `  phenix secret set api_token < token.txt
  printf %s "$DB_PASSWORD" | phenix secret set db_password --select role=db`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			value, err := a.readSecret(name)
			if err != nil {
				return err
			}
			c, err := cf.client()
			if err != nil {
				return err
			}
			path := "/api/v1/secrets/" + url.PathEscape(name) + "?select=" + url.QueryEscape(sel)
			if err := c.Do(cmd.Context(), "PUT", path, value, nil); err != nil {
				return apiErr(err)
			}
			fmt.Fprintf(a.stdout, "secret %s set for %s\n", name, orAll(sel))
			return nil
		},
	}
	cmd.Flags().StringVar(&sel, "select", "", "for the hosts `SELECTOR` matches (default '*': every host)")
	return cmd
}

// readSecret reads a secret's value from stdin: without echo up to the
// end of the line on a terminal, else all of it less one trailing newline.
func (a *app) readSecret(name string) ([]byte, error) {
	var value []byte
	if f, ok := a.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprintf(a.stderr, "value of %s: ", name)
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(a.stderr)
		if err != nil {
			return nil, fmt.Errorf("read the value: %w", err)
		}
		value = b
	} else {
		if a.stdin == nil {
			return nil, badInput(errors.New("no value: give it on standard input"))
		}
		b, err := io.ReadAll(io.LimitReader(a.stdin, maxSecret+2))
		if err != nil {
			return nil, fmt.Errorf("read the value from standard input: %w", err)
		}
		value = trimNewline(b)
	}
	switch {
	case len(value) == 0:
		return nil, badInput(errors.New("empty value: give it on standard input"))
	case len(value) > maxSecret:
		return nil, badInput(fmt.Errorf("value too long: at most %d bytes", maxSecret))
	}
	return value, nil
}

// trimNewline drops one trailing "\n" or "\r\n".
func trimNewline(b []byte) []byte {
	if b, ok := bytes.CutSuffix(b, []byte("\n")); ok {
		return bytes.TrimSuffix(b, []byte("\r"))
	}
	return b
}

func orAll(sel string) string {
	if sel == "" {
		return "*"
	}
	return sel
}

func (a *app) secretListCommand(cf *clientFlags) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the secrets, without their values",
		Long: `List prints every secret's name, the selector of the hosts it is for, and
who set it when. Values never leave the server but to the hosts they are
for.`,
		Example: `  phenix secret list`,
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.client()
			if err != nil {
				return err
			}
			var secrets []api.Secret
			if err := c.Do(cmd.Context(), "GET", "/api/v1/secrets", nil, &secrets); err != nil {
				return apiErr(err)
			}
			if asJSON {
				return printJSON(a.stdout, secrets)
			}
			if len(secrets) == 0 {
				fmt.Fprintln(a.stdout, "no secrets")
				return nil
			}
			now := time.Now()
			tw := newTable(a.stdout, "NAME", "SELECT", "UPDATED BY", "UPDATED")
			for _, s := range secrets {
				row(tw, s.Name, s.Selector, s.UpdatedBy, fmtAgo(s.UpdatedAt, now))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the API's JSON")
	return cmd
}

func (a *app) secretRmCommand(cf *clientFlags) *cobra.Command {
	var sel string
	cmd := &cobra.Command{
		Use:   "rm NAME",
		Short: "Remove a secret",
		Long: `Rm removes the value of secret NAME for the hosts --select matches (default
'*'); the values it has for other selectors stay.`,
		Example: `  phenix secret rm db_password --select role=db`,
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.client()
			if err != nil {
				return err
			}
			path := "/api/v1/secrets/" + url.PathEscape(args[0]) + "?select=" + url.QueryEscape(sel)
			if err := c.Do(cmd.Context(), "DELETE", path, nil, nil); err != nil {
				return apiErr(err)
			}
			fmt.Fprintf(a.stdout, "secret %s removed for %s\n", args[0], orAll(sel))
			return nil
		},
	}
	cmd.Flags().StringVar(&sel, "select", "", "the value for `SELECTOR` (default '*')")
	return cmd
}
