package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/phenixhq/phenix/internal/api"
)

func (a *app) opCommand() *cobra.Command {
	var cf clientFlags
	cmd := &cobra.Command{
		Use:   "op",
		Short: "List and run operations: named, parameterised commands of the policy",
		Long: `An operation is a named, parameterised command declared in the policy
(restart the app server, copy its logs, list users): it replaces the shell
snippets kept by hand on servers. Its parameters are typed and checked by
the server before anything runs; it selects its hosts unless told which.`,
		Example: `  phenix op list
  phenix op run restart-app --param service=worker role=app`,
		Args: noArgs,
	}
	group(cmd)
	cf.register(cmd)
	cmd.AddCommand(a.opListCommand(&cf), a.opRunCommand(&cf))
	return cmd
}

func (a *app) opListCommand(cf *clientFlags) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the operations of the latest policy",
		Long: `List prints the operations of the latest pushed policy: their name,
description, the hosts they select by default, and their parameters as
name:type, with a * after the required ones.`,
		Example: `  phenix op list
  phenix op list --json | jq '.[] | {name, params: [.params[].name]}'`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.client()
			if err != nil {
				return err
			}
			var ops []api.Op
			if err := c.Do(cmd.Context(), "GET", "/api/v1/ops", nil, &ops); err != nil {
				return apiErr(err)
			}
			if asJSON {
				return printJSON(a.stdout, ops)
			}
			if len(ops) == 0 {
				fmt.Fprintln(a.stdout, "no operations (phenix policy push DIR sends a policy that declares some)")
				return nil
			}
			tw := newTable(a.stdout, "NAME", "DESCRIPTION", "SELECT", "PARAMS")
			for _, op := range ops {
				row(tw, op.Name, op.Description, op.Select, fmtParams(op.Params))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the API's JSON")
	return cmd
}

// fmtParams writes an op's parameters: "service:enum* lines:int".
func fmtParams(ps []api.OpParam) string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = p.Name + ":" + p.Type
		if p.Required {
			parts[i] += "*"
		}
	}
	return strings.Join(parts, " ")
}

func (a *app) opRunCommand(cf *clientFlags) *cobra.Command {
	var (
		jf     jobFlags
		params []string
	)
	cmd := &cobra.Command{
		Use:   "run NAME [SELECTOR]",
		Short: "Run an operation on the hosts it selects",
		Long: `Run runs operation NAME of the latest policy with the --param values given,
on the hosts SELECTOR matches, or else on the hosts the operation selects.
The server checks every parameter against its declared type first: an
unknown operation or a bad parameter is refused (exit status 64) and nothing
runs.

Output, results and exit statuses are those of phenix run: each line as it
comes, prefixed with the host's name, then a table of results and a summary.`,
		Example: `  phenix op run restart-app --param service=worker
  phenix op run app-logs --param file=/var/log/app/error.log -p lines=50 'role=app,env=prod'
  phenix op run user-list --json | jq -r '.results[] | .hostname + ": " + .output'`,
		Args: func(cmd *cobra.Command, args []string) error {
			if err := minArgs(1)(cmd, args); err != nil {
				return err
			}
			return maxArgs(2)(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			pm, err := parseParams(params)
			if err != nil {
				return badInput(err)
			}
			req := api.JobRequest{Kind: "op", Op: args[0], Params: pm}
			if len(args) == 2 {
				req.Selector = args[1]
			}
			c, err := cf.client()
			if err != nil {
				return err
			}
			return a.runJob(cmd.Context(), c, req, jf)
		},
	}
	jf.register(cmd, 0, "the operation's, else 1m")
	cmd.Flags().StringArrayVarP(&params, "param", "p", nil, "give parameter `key=value` (repeatable)")
	return cmd
}

// parseParams reads --param key=value flags.
func parseParams(kvs []string) (map[string]string, error) {
	if len(kvs) == 0 {
		return nil, nil
	}
	out := map[string]string{}
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--param %q: expected key=value", kv)
		}
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("--param %q: %s is given twice", kv, k)
		}
		out[k] = v
	}
	return out, nil
}
