package cli

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/phenixhq/phenix/internal/api"
	"github.com/phenixhq/phenix/internal/policy"
)

func (a *app) policyCommand() *cobra.Command {
	var cf clientFlags
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Push the fleet's policy and list its revisions",
		Long: `The policy is a directory of YAML files that says which bundles apply to
which hosts (by selector), with their vars, and declares the operations.
phenix policy push sends it to the server, which keeps every revision and
tells the agents; each agent then converges to its part.`,
		Example: `  phenix policy push site/
  phenix policy list`,
		Args: noArgs,
	}
	group(cmd)
	cf.register(cmd)
	cmd.AddCommand(a.policyPushCommand(&cf), a.policyListCommand(&cf))
	return cmd
}

func (a *app) policyPushCommand(cf *clientFlags) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "push DIR",
		Short: "Check the policy in DIR and send it to the server",
		Long: `Push loads the policy in DIR and every bundle it names, checks them (errors
are reported as file:line:column and nothing is sent: exit status 64), packs
them into one archive and sends it to the server, which tells every
accepted host. Pushing the same files again gives the same revision.

When DIR is in a git work tree, the revision records its commit (git
rev-parse HEAD); files not committed yet are pushed as they are, with a
warning.`,
		Example: `  phenix policy push site/
  git -C site pull && phenix policy push site/`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := args[0]
			archive, _, err := policy.Pack(dir)
			if err != nil {
				return badInput(err)
			}
			c, err := cf.client()
			if err != nil {
				return err
			}
			var header []string
			if commit, dirty := gitCommit(cmd.Context(), dir); commit != "" {
				header = []string{"X-Phenix-Commit", commit}
				if dirty {
					fmt.Fprintf(a.stderr, "warning: %s has uncommitted changes; pushing the files as they are\n", dir)
				}
			}
			var rev api.PolicyRevision
			if err := c.Do(cmd.Context(), "POST", "/api/v1/policy", archive, &rev, header...); err != nil {
				return apiErr(err)
			}
			if asJSON {
				return printJSON(a.stdout, rev)
			}
			fmt.Fprintf(a.stdout, "policy revision %d (%s) pushed to %s\n", rev.Seq, shortHash(rev.Hash), count(rev.Hosts, "host", "hosts"))
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the revision as the API's JSON")
	return cmd
}

// gitCommit returns the commit checked out in the git work tree that holds
// dir, and whether dir has changes not committed (untracked files
// included); "" when dir is in no work tree or git is missing.
func gitCommit(ctx context.Context, dir string) (commit string, dirty bool) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "git", "-C", dir, "rev-parse", "HEAD").Output()
	if err != nil {
		return "", false
	}
	commit = strings.TrimSpace(string(out))
	st, err := exec.CommandContext(ctx, "git", "-C", dir, "status", "--porcelain", "--untracked-files=all", "--", ".").Output()
	return commit, err == nil && len(strings.TrimSpace(string(st))) > 0
}

func (a *app) policyListCommand(cf *clientFlags) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the policy revisions pushed, newest first",
		Long: `List prints the latest policy revisions: their number, hash, the git
commit they were pushed from (when the policy directory was in a git work
tree), who pushed them and when.`,
		Example: `  phenix policy list
  phenix policy list --json | jq -r '.[0].hash'`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.client()
			if err != nil {
				return err
			}
			var revs []api.PolicyRevision
			if err := c.Do(cmd.Context(), "GET", "/api/v1/policy", nil, &revs); err != nil {
				return apiErr(err)
			}
			if asJSON {
				return printJSON(a.stdout, revs)
			}
			if len(revs) == 0 {
				fmt.Fprintln(a.stdout, "no policy pushed yet (phenix policy push DIR)")
				return nil
			}
			now := time.Now()
			tw := newTable(a.stdout, "REVISION", "HASH", "COMMIT", "ACTOR", "PUSHED")
			for _, r := range revs {
				commit := r.Commit
				if len(commit) > 12 {
					commit = commit[:12]
				}
				row(tw, fmt.Sprint(r.Seq), shortHash(r.Hash), commit, r.Actor, fmtAgo(r.CreatedAt, now))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the API's JSON")
	return cmd
}
