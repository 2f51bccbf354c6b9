package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/phenixhq/phenix/internal/api"
)

// deployFlags are the flags deliver, deploy and rollback share.
type deployFlags struct {
	cf     clientFlags
	env    string
	detach bool
	asJSON bool
}

func (df *deployFlags) register(cmd *cobra.Command) {
	df.cf.register(cmd)
	cmd.Flags().StringVar(&df.env, "env", "", "the `ENVIRONMENT` (required)")
	cmd.Flags().BoolVar(&df.detach, "detach", false, "return once the server accepted it, without following it")
	cmd.Flags().BoolVar(&df.asJSON, "json", false, "stream nothing; print the deployment and its steps as JSON at the end")
}

// needEnv refuses a missing --env as bad input.
func needEnv(cmd *cobra.Command, env string) error {
	if strings.TrimSpace(env) == "" {
		return badInput(fmt.Errorf("--env is required: the environment, e.g. --env prod (see %s --help)", cmd.CommandPath()))
	}
	return nil
}

// checkBatch checks a --batch: N or N%, N ≥ 1, at most 100%.
func checkBatch(b string) error {
	if b == "" {
		return nil
	}
	p, pct := strings.CutSuffix(b, "%")
	n, err := strconv.Atoi(p)
	if err != nil || n < 1 || (pct && n > 100) {
		return badInput(fmt.Errorf("--batch %q: expected N or N%% (N ≥ 1, at most 100%%)", b))
	}
	return nil
}

// batchCount returns how many batches --batch b makes of hosts hosts (as
// jobs count them), or 0 when b is empty: the server's default, unknown
// here.
func batchCount(b string, hosts int) int {
	if b == "" || hosts == 0 {
		return 0
	}
	var window int
	if p, ok := strings.CutSuffix(b, "%"); ok {
		n, _ := strconv.Atoi(p)
		window = max(1, hosts*n/100)
	} else {
		window, _ = strconv.Atoi(b)
	}
	if window < 1 {
		return 0
	}
	return (hosts + window - 1) / window
}

// startDeployment posts req and, unless --detach, follows the deployment
// to its end. Its error carries the exit status: 0 when the deployment
// ended ok, 1 when it failed.
func (a *app) startDeployment(ctx context.Context, app string, req api.DeployRequest, df *deployFlags) error {
	c, err := df.cf.client()
	if err != nil {
		return err
	}
	d, err := c.Deploy(ctx, app, req)
	if err != nil {
		return apiErr(err)
	}
	if df.detach {
		if df.asJSON {
			return printJSON(a.stdout, d)
		}
		fmt.Fprintf(a.stdout, "deployment %s started: %s (phenix deployment %s shows it)\n", d.ID, describeDeployment(d), d.ID)
		return nil
	}
	st := &deployStream{w: a.stdout, batches: batchCount(req.Batch, len(d.Hosts))}
	if !df.asJSON {
		if f, ok := a.stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			st.live = a.stderr
		}
		st.start(d)
	}
	var (
		end   *api.Deployment
		steps []api.DeployStep // as they ended: the end event comes without them
	)
	err = c.DeploymentEvents(ctx, d.ID, func(ev api.DeploymentEvent) {
		if ev.Type == "end" && ev.Deployment != nil {
			end = ev.Deployment
		}
		if ev.Type == "step" && ev.Step != nil && ev.Step.Result != api.StateRunning {
			steps = append(steps, *ev.Step)
		}
		if !df.asJSON {
			st.event(ev)
		}
	})
	st.clearLive()
	if ctx.Err() != nil {
		fmt.Fprintf(a.stderr, "deployment %s goes on; phenix deployment %s shows it\n", d.ID, d.ID)
		return &exitError{code: ExitFailed}
	}
	if err != nil {
		return fmt.Errorf("%w (phenix deployment %s shows it)", apiErr(err), d.ID)
	}
	if end == nil || end.State == api.StateRunning || (df.asJSON && end.Steps == nil) {
		full, err := c.Deployment(ctx, d.ID)
		if err != nil {
			return fmt.Errorf("%w (phenix deployment %s shows it)", apiErr(err), d.ID)
		}
		end = &full
	}
	if df.asJSON {
		if err := printJSON(a.stdout, end); err != nil {
			return err
		}
	} else {
		if end.Steps == nil {
			end.Steps = steps
		}
		fmt.Fprintln(a.stdout, endLine(*end))
	}
	if end.State != api.StateOK {
		return &exitError{code: ExitFailed}
	}
	return nil
}

func (a *app) deployCommand() *cobra.Command {
	var (
		df       deployFlags
		batch    string
		override bool
		reason   string
	)
	cmd := &cobra.Command{
		Use:   "deploy APP VERSION --env ENV",
		Short: "Switch an environment's hosts to a version, batch by batch, with checks",
		Long: `Deploy switches the hosts of environment ENV to VERSION of APP. The version is
delivered where it is not yet; then, batch by batch, the hosts switch their
current release to it atomically (between the app's pre and post hooks) and
run its checks. A batch that fails stops the deployment, and the hosts
already switched go back to the version before.

The lifecycle holds: VERSION must have passed the environment before ENV
(alpha → preprod → prod), and be approved when ENV requires approvals
(phenix approve). --override skips these rules, with a --reason that the
journal keeps (admins only). While a deployment runs on ENV it holds the
environment's lock, and another one is refused (phenix unlock removes a
lock left behind).

The steps are printed as they end, with the hosts that failed; the last line
says how it ended. --batch sets how many hosts switch at once (N, or N% of
them; default the environment's). --detach returns at once: phenix status
and phenix deployment ID follow it.

Exit status: 0 when the deployment succeeded, 1 when it failed or was
refused (locked, or by the lifecycle), 64 for bad input.`,
		Example: `  phenix deploy web 1.4.2 --env preprod
  phenix deploy web 1.4.2 --env prod --batch 25%
  phenix deploy web 1.4.3 --env prod --override --reason "hotfix for incident 42"
  phenix deploy web 1.4.2 --env prod --json | jq -r .state`,
		Args: exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := needEnv(cmd, df.env); err != nil {
				return err
			}
			if err := checkBatch(batch); err != nil {
				return err
			}
			reason = strings.TrimSpace(reason)
			if override && reason == "" {
				return badInput(errors.New("--override needs a --reason: why the lifecycle is skipped goes into the journal"))
			}
			req := api.DeployRequest{Kind: api.KindDeploy, Env: df.env, Version: args[1], Override: override, Reason: reason, Batch: batch}
			return a.startDeployment(cmd.Context(), args[0], req, &df)
		},
	}
	df.register(cmd)
	cmd.Flags().StringVar(&batch, "batch", "", "switch at most `N` hosts at once, or N% of them (default the environment's)")
	cmd.Flags().BoolVar(&override, "override", false, "skip the lifecycle (passed before, approved): admins only, with --reason")
	cmd.Flags().StringVar(&reason, "reason", "", "why the lifecycle is skipped, `TEXT` kept in the journal")
	return cmd
}
