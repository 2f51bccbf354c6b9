package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// cfAgent runs CFEngine's `cf-agent -K -w <workdir>` on a policy written to
// <workdir>/inputs/promises.cf, in a private work directory so that the
// host's /var/lib/cfengine3 (inputs, locks, state databases) is neither
// read nor written.
//
// Without -f the policy is the work directory's default input, and cf-agent
// re-validates it with cf-promises only when it changed, exactly as a
// scheduled production run does; the first (warm-up) run validates it. With
// withF it runs `-f <policy>` instead, which re-validates on every run.
// -K ignores the locks that would otherwise turn a second run within a
// minute into a no-op.
type cfAgent struct {
	withF   bool
	workdir string
	policy  string
}

var _ tool = (*cfAgent)(nil)

func (*cfAgent) name() string { return "cf-agent" }

func (*cfAgent) version(ctx context.Context) (string, error) {
	return versionOf(ctx, "cf-agent", "--version")
}

func (c *cfAgent) prepare(dir string, w workload) error {
	c.workdir = filepath.Join(dir, "cfengine")
	c.policy = filepath.Join(c.workdir, "inputs", "promises.cf")
	// cf-agent pre-validates policy by running <workdir>/bin/cf-promises.
	promises, err := exec.LookPath("cf-promises")
	if err != nil {
		return fmt.Errorf("cf-agent needs cf-promises: %w", err)
	}
	for _, d := range []string{"bin", "inputs"} {
		if err := os.MkdirAll(filepath.Join(c.workdir, d), 0o700); err != nil {
			return fmt.Errorf("cf-agent workdir: %w", err)
		}
	}
	if err := os.Symlink(promises, filepath.Join(c.workdir, "bin", "cf-promises")); err != nil {
		return fmt.Errorf("cf-agent workdir: %w", err)
	}
	policy, err := cfPolicy(w)
	if err != nil {
		return err
	}
	if err := os.WriteFile(c.policy, []byte(policy), 0o600); err != nil {
		return fmt.Errorf("cf-agent policy: %w", err)
	}
	return nil
}

// cfPolicy returns a policy with one files promise per file of w. The
// bundle is called main, which cf-agent runs when no body common control
// sets a bundlesequence.
func cfPolicy(w workload) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "body perms bench_mode\n{\n  mode => \"%o\";\n  rxdirs => \"false\";\n}\n\n", fileMode)
	b.WriteString("bundle agent main\n{\n  files:\n")
	for _, f := range w.files() {
		// CFEngine strings may span lines; these characters would need
		// escaping or be expanded, and the workload never uses them.
		if strings.ContainsAny(f.path+f.content, "\"\\$@'`") {
			return "", fmt.Errorf("cf-agent policy: %s: content needs quoting", f.path)
		}
		fmt.Fprintf(&b, "    \"%s\"\n      create => \"true\",\n      content => \"%s\",\n      perms => bench_mode;\n",
			f.path, f.content)
	}
	b.WriteString("}\n")
	return b.String(), nil
}

func (c *cfAgent) command(ctx context.Context) *exec.Cmd {
	args := []string{"-K", "-w", c.workdir}
	if c.withF {
		args = append(args, "-f", c.policy)
	}
	return exec.CommandContext(ctx, "cf-agent", args...)
}

// outcome: cf-agent exits 0 whether or not it repaired anything, and
// non-zero when it could not run the policy.
func (*cfAgent) outcome(code int) (outcome, error) {
	if code != 0 {
		return unknown, fmt.Errorf("exit code %d", code)
	}
	return unknown, nil
}
