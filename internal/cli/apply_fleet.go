package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/phenixhq/phenix/internal/api"
)

// fleetApply reports whether apply's arguments name hosts rather than
// bundles: exactly one argument, no --root, and an argument that is
// neither an existing file or directory nor a name ending in .yml or
// .yaml.
func fleetApply(args []string, root string) bool {
	if len(args) != 1 || root != "" {
		return false
	}
	arg := args[0]
	if strings.HasSuffix(arg, ".yaml") || strings.HasSuffix(arg, ".yml") {
		return false
	}
	_, err := os.Stat(arg)
	return err != nil && !errors.Is(err, fs.ErrPermission)
}

// The flags of apply that only one of its two forms takes.
var (
	localApplyFlags = []string{"var", "vars-file", "no-cache", "parallel"}
	fleetApplyFlags = []string{"timeout", "batch", "server", "token", "ca", "data"}
)

// localOnlyFlags refuses the flags of a local apply in a fleet apply.
func localOnlyFlags(cmd *cobra.Command) error {
	for _, name := range localApplyFlags {
		if cmd.Flags().Changed(name) {
			return badInput(fmt.Errorf("--%s is for bundles applied on this host; phenix apply SELECTOR converges the hosts to the pushed policy", name))
		}
	}
	return nil
}

// fleetOnlyFlags refuses the flags of a fleet apply in a local apply.
func fleetOnlyFlags(cmd *cobra.Command) error {
	for _, name := range fleetApplyFlags {
		if cmd.Flags().Changed(name) {
			return badInput(fmt.Errorf("--%s is for a fleet apply (phenix apply SELECTOR, one argument that is no file, without --root)", name))
		}
	}
	return nil
}

// applyFleet asks the hosts sel matches to converge to the pushed policy
// now.
func (a *app) applyFleet(ctx context.Context, cf *clientFlags, sel string, dryRun bool, jf jobFlags) error {
	c, err := cf.client()
	if errors.Is(err, errNoServer) {
		return fmt.Errorf("%q is no file or directory, so phenix apply took it for a selector of hosts; %w", sel, err)
	}
	if err != nil {
		return err
	}
	return a.runJob(ctx, c, api.JobRequest{Kind: "apply", Selector: sel, DryRun: dryRun}, jf)
}
