package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/phenixhq/phenix/internal/api"
)

func (a *app) runCommand() *cobra.Command {
	var (
		cf clientFlags
		jf jobFlags
	)
	cmd := &cobra.Command{
		Use:   "run SELECTOR [flags] -- COMMAND [ARG...]",
		Short: "Run a command on the hosts a selector matches",
		Long: `Run runs COMMAND with its ARGs on every host SELECTOR matches ('*' for every
host), at once or --batch hosts at a time, and prints each line of output as
it comes, prefixed with the host's name ("web-1 | ..."); lines a command
writes to stderr go to stderr. The command is run directly, not by a shell:
write sh -c '...' for pipes and globs. Put -- before the command when it has
options of its own.

At the end comes a table of every host's result — ok, failed (exit N),
timeout (still running after --timeout: it was killed) or unreachable (an
offline host, or one that did not answer) — and a summary line with the job's
id. The job is journaled; phenix job ID shows it again.

Ctrl-C stops following: the job goes on, and phenix job ID shows its
results.

Exit status:
  0   every host is ok (or no host matched)
  1   a host failed, timed out or was unreachable
  64  bad input: a malformed selector, a bad flag`,
		Example: `  phenix run '*' -- uptime
  phenix run role=web --batch 25% -- systemctl restart nginx
  phenix run 'env=prod' --timeout 5m -- sh -c 'df -h / | tail -1'
  phenix run role=db --json -- pg_isready | jq '.results[] | {host, status}'`,
		Args: minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			sel, command, err := splitRunArgs(args, cmd.ArgsLenAtDash())
			if err != nil {
				return badInput(fmt.Errorf("%w (see %s --help)", err, cmd.CommandPath()))
			}
			c, err := cf.client()
			if err != nil {
				return err
			}
			return a.runJob(cmd.Context(), c, api.JobRequest{Kind: "run", Selector: sel, Command: command}, jf)
		},
	}
	cf.register(cmd)
	jf.register(cmd, time.Minute, "")
	return cmd
}

// splitRunArgs splits run's arguments into the selector and the command:
// SELECTOR -- COMMAND ARG..., or SELECTOR COMMAND ARG... when the command
// has no options. dash is the number of arguments before "--", -1 when
// there was none.
func splitRunArgs(args []string, dash int) (sel string, command []string, err error) {
	switch {
	case dash == 0:
		return "", nil, fmt.Errorf("expected a SELECTOR before --")
	case dash > 1:
		return "", nil, fmt.Errorf("expected one SELECTOR before --, got %d arguments (quote a selector with spaces)", dash)
	}
	if len(args) < 2 {
		return "", nil, fmt.Errorf("expected a COMMAND after the selector")
	}
	return args[0], args[1:], nil
}
