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
		cf       clientFlags
		jf       jobFlags
	)
	cmd := &cobra.Command{
		Use:   "apply PATH... | SELECTOR",
		Short: "Converge this host to the promises in bundles, or the fleet to its policy",
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

Fleet apply: with exactly one argument, no --root, and an argument that is
neither an existing file or directory nor a name ending in .yml or .yaml,
apply takes it for a SELECTOR and asks the phenix server to converge the
hosts it matches ('*' for all) to the pushed policy now, instead of at their
next scheduled run. It streams their output like phenix run, then prints
each host's changed and failed promises with their diffs and a table of
results; --dry-run asks them what would change. --timeout and --batch limit
the job; --root, --var, --vars-file, --no-cache and --parallel are for
bundles on this host only. See phenix run for --server, --token, --ca and
--data.

Exit status:
  0   converged: nothing to change
  2   something changed (or would change, with --dry-run)
  1   a promise failed (a fleet apply: a host failed, timed out or was
      unreachable)
  64  bad input (bundle, flag or argument): nothing was applied`,
		Example: `  phenix apply examples/web.yaml --root /tmp/try --dry-run
  phenix apply site/ --var env=prod --vars-file prod.yaml
  phenix apply site.yaml --json | jq '.promises[] | select(.status=="failed")'
  phenix apply 'role=web,env=prod' --dry-run
  phenix apply '*' --batch 10%`,
		Args: minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if fleetApply(args, lf.root) {
				if err := localOnlyFlags(cmd); err != nil {
					return err
				}
				jf.asJSON = asJSON
				return a.applyFleet(cmd.Context(), &cf, args[0], dryRun, jf)
			}
			if err := fleetOnlyFlags(cmd); err != nil {
				return err
			}
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
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON document with every promise's result (a fleet apply: the job with every host's result)")
	cmd.Flags().BoolVar(&showDiff, "diff", false, "show content diffs of what changed (always on with --dry-run)")
	cmd.Flags().IntVar(&parallel, "parallel", engine.DefaultParallel, "run at most `N` independent promises at once")
	jf.registerLimits(cmd, 0, "10m; fleet apply only")
	cf.register(cmd)
	return cmd
}
