package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// puppet runs `puppet apply --detailed-exitcodes <manifest>` with every
// directory puppet writes to (vardir, confdir, logdir, rundir, codedir,
// publicdir, ssldir) moved into a private directory, so that runs neither
// read the host's configuration nor leave reports, file buckets or state
// behind. Facter still gathers the host's facts on every run, as in a real
// run.
type puppet struct {
	state    string
	manifest string
}

var _ tool = (*puppet)(nil)

func (*puppet) name() string { return "puppet" }

func (*puppet) version(ctx context.Context) (string, error) {
	return versionOf(ctx, "puppet", "--version")
}

func (p *puppet) prepare(dir string, w workload) error {
	p.state = filepath.Join(dir, "state")
	p.manifest = filepath.Join(dir, "site.pp")
	if err := os.Mkdir(p.state, 0o700); err != nil {
		return fmt.Errorf("puppet state: %w", err)
	}
	var b strings.Builder
	for _, f := range w.files() {
		fmt.Fprintf(&b, "file { %s:\n  ensure  => file,\n  content => %s,\n  mode    => '%04o',\n}\n",
			puppetQuote(f.path), puppetQuote(f.content), fileMode)
	}
	if err := os.WriteFile(p.manifest, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("puppet manifest: %w", err)
	}
	return nil
}

// puppetQuote returns s as a Puppet double-quoted string.
func puppetQuote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, `$`, `\$`, "\n", `\n`, "\t", `\t`, "\r", `\r`)
	return `"` + r.Replace(s) + `"`
}

func (p *puppet) command(ctx context.Context) *exec.Cmd {
	args := []string{"apply", "--detailed-exitcodes", "--color=false"}
	for _, d := range []string{"vardir", "confdir", "logdir", "rundir", "codedir", "publicdir", "ssldir"} {
		args = append(args, "--"+d, filepath.Join(p.state, d))
	}
	args = append(args, p.manifest)
	return exec.CommandContext(ctx, "puppet", args...)
}

// outcome follows --detailed-exitcodes: 0 no changes, 2 changes, 4
// failures, 6 changes and failures, 1 the catalog did not compile.
func (*puppet) outcome(code int) (outcome, error) {
	switch code {
	case 0:
		return unchanged, nil
	case 2:
		return changed, nil
	}
	return unknown, fmt.Errorf("exit code %d", code)
}
