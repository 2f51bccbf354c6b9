package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/phenixhq/phenix/internal/engine"
)

func (a *app) applyCommand() *cobra.Command {
	var (
		lf       loadFlags
		dryRun   bool
		asJSON   bool
		showDiff bool
		parallel int
	)
	cmd := &cobra.Command{
		Use:   "apply PATH...",
		Short: "Converge this host to the promises in bundles",
		Long: `Apply reads the bundles at PATH (files, or directories of *.yaml and *.yml),
compares each promise with the host and changes only what differs. Running
it twice changes nothing the second time.

Independent promises run in parallel; require, before and notify order
them. A failed promise does not stop the others: the promises that depend on
it are skipped with the reason. Files are written to a temporary file and
renamed into place, and the content they replace is kept under
/var/lib/phenix/backups.

Bundles that did not change since an earlier run are not parsed again: their
decoded promises are kept in ~/.cache/phenix/bundles (--no-cache skips it).
Sources and templates beside a bundle are read on every run.

Output: one line per changed, failed or skipped promise, then the totals.
--dry-run changes nothing and shows the diffs; --json prints one document
with each promise's id, type, status, diff, error and duration_ms.

Exit status:
  0   converged: nothing to change
  2   something changed (or would change, with --dry-run)
  1   a promise failed
  64  bad input (bundle, flag or argument): nothing was applied`,
		Example: `  phenix apply examples/web.yaml --root /tmp/try --dry-run
  phenix apply site/ --var env=prod --vars-file prod.yaml
  phenix apply site.yaml --json | jq '.promises[] | select(.status=="failed")'`,
		Args: minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			t0 := time.Now()
			plan, env, err := lf.load(args)
			if err != nil {
				return err
			}
			log := a.logger()
			log.DebugContext(cmd.Context(), "bundles loaded and planned", "promises", plan.Len(), "took", time.Since(t0))
			env.DryRun = dryRun
			opts := engine.Options{Parallel: parallel, Log: log}
			var prog *progress
			if !asJSON {
				if f, ok := a.stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
					prog = newProgress(a.stderr)
					opts.Progress = prog.update
				}
			}
			rep := plan.Run(cmd.Context(), env, opts)
			prog.clear()
			if asJSON {
				enc := json.NewEncoder(a.stdout)
				enc.SetIndent("", "  ")
				if err := enc.Encode(rep); err != nil {
					return err
				}
			} else {
				printReport(a.stdout, rep, dryRun || showDiff)
			}
			switch {
			case rep.Totals.Failed > 0:
				return &exitError{code: ExitFailed}
			case rep.Totals.Changed > 0:
				return &exitError{code: ExitChanged}
			}
			if err := cmd.Context().Err(); err != nil {
				return fmt.Errorf("interrupted: %w", err)
			}
			return nil
		},
	}
	lf.register(cmd)
	cmd.Flags().BoolVarP(&dryRun, "dry-run", "n", false, "change nothing; show what would change")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON document with every promise's result")
	cmd.Flags().BoolVar(&showDiff, "diff", false, "show content diffs of what changed (always on with --dry-run)")
	cmd.Flags().IntVar(&parallel, "parallel", engine.DefaultParallel, "run at most `N` independent promises at once")
	return cmd
}
