package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

func (a *app) validateCommand() *cobra.Command {
	var lf loadFlags
	cmd := &cobra.Command{
		Use:   "validate PATH...",
		Short: "Check bundles without touching the host",
		Long: `Validate reads the bundles at PATH (files, or directories of *.yaml and *.yml),
checks every promise, template and reference, and reports every problem as
file:line:column: message. It changes nothing.

Exit status: 0 valid, 64 invalid.`,
		Example: `  phenix validate examples/
  phenix validate site.yaml --var env=prod`,
		Args: minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			plan, _, err := lf.load(args)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "%d %s, valid\n", plan.Len(), plural(plan.Len(), "promise", "promises"))
			return nil
		},
	}
	lf.register(cmd)
	return cmd
}
