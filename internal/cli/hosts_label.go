package cli

import (
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/phenixhq/phenix/internal/api"
	"github.com/phenixhq/phenix/internal/host"
)

func (a *app) hostsLabelCommand(cf *clientFlags) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "label ID KEY=VALUE... [KEY-...]",
		Short: "Set and remove labels of a host",
		Long: `Label sets KEY=VALUE labels on host ID and removes the labels named KEY-
(like kubectl label). Other labels stay as they are. Selectors match labels,
so the host joins or leaves the jobs and policies that select them.

A key is 1 to 63 characters of a-z 0-9 . _ / - starting with a letter or a
digit; a value is up to 63 characters of A-Z a-z 0-9 . _ : / @ + -.`,
		Example: `  phenix hosts label web-1 role=web env=prod
  phenix hosts label web-1 env-`,
		Args: minArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			req, err := parseLabelArgs(args[1:])
			if err != nil {
				return badInput(err)
			}
			cl, err := cf.client()
			if err != nil {
				return err
			}
			var h api.Host
			if err := cl.Do(cmd.Context(), "POST", "/api/v1/hosts/"+url.PathEscape(args[0])+"/labels", req, &h); err != nil {
				return apiErr(err)
			}
			if asJSON {
				return printJSON(a.stdout, h)
			}
			a.printHost("labelled", h)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the host as the API's JSON")
	return cmd
}

// parseLabelArgs reads "key=value" (set) and "key-" (remove) arguments.
func parseLabelArgs(args []string) (api.LabelRequest, error) {
	var req api.LabelRequest
	for _, arg := range args {
		if k, v, ok := strings.Cut(arg, "="); ok {
			if err := host.ValidateLabels(map[string]string{k: v}); err != nil {
				return req, fmt.Errorf("label %q: %w", arg, err)
			}
			if _, dup := req.Set[k]; dup || slices.Contains(req.Remove, k) {
				return req, fmt.Errorf("label %q: %s is given twice", arg, k)
			}
			if req.Set == nil {
				req.Set = map[string]string{}
			}
			req.Set[k] = v
			continue
		}
		k, ok := strings.CutSuffix(arg, "-")
		if !ok || k == "" {
			return req, fmt.Errorf("label %q: expected key=value to set a label or key- to remove one", arg)
		}
		if _, dup := req.Set[k]; dup || slices.Contains(req.Remove, k) {
			return req, fmt.Errorf("label %q: %s is given twice", arg, k)
		}
		req.Remove = append(req.Remove, k)
	}
	return req, nil
}
