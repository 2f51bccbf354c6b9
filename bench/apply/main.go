// Command apply benchmarks `phenix apply` against CFEngine's cf-agent and
// `puppet apply` on the same workload: N file promises (fixed content, mode
// 0644) in a fresh directory per tool, converged from nothing, re-run with
// nothing to do, and re-run after three files were tampered with.
//
// Every run is verified: after each one all N files must have the expected
// content and mode, the directory must hold nothing else, a no-op run must
// not touch any file, and a tool's exit code must agree with what it did.
// A benchmark that times a tool doing the wrong thing is worthless, so any
// mismatch fails the tool loudly and makes the command exit 1.
//
// Usage, from the module root (see bench/README.md):
//
//	go run ./bench/apply [-n 1000] [-runs 5] [-tools phenix,cf-agent,puppet] [-phenix PATH] [-json]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/phenixhq/phenix/bench/internal/benchkit"
)

func main() { benchkit.Main(run) }

// options are the command-line flags.
type options struct {
	n      int
	runs   int
	tools  []string
	phenix string
	json   bool
	keep   bool
	cfFile bool
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("apply", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.n, "n", 1000, "number of file promises")
	fs.IntVar(&o.runs, "runs", 5, "timed runs per phase")
	tools := fs.String("tools", "phenix,cf-agent,puppet", "comma-separated tools to run")
	fs.StringVar(&o.phenix, "phenix", "", "phenix binary (default: build ./cmd/phenix with CGO_ENABLED=0 -trimpath)")
	fs.BoolVar(&o.json, "json", false, "print machine-readable results")
	fs.BoolVar(&o.keep, "keep", false, "keep the work directory for inspection")
	fs.BoolVar(&o.cfFile, "cf-f", false, "run cf-agent with -f <policy>, which re-validates the policy with cf-promises on every run")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if o.n < 3 {
		return o, fmt.Errorf("-n: need at least 3 files to tamper with, got %d", o.n)
	}
	if o.runs < 1 {
		return o, fmt.Errorf("-runs: need at least 1, got %d", o.runs)
	}
	seen := map[string]bool{}
	for t := range strings.SplitSeq(*tools, ",") {
		t = strings.TrimSpace(t)
		if t == "" || seen[t] {
			continue
		}
		if !knownTool(t) {
			return o, fmt.Errorf("-tools: unknown tool %q (want phenix, cf-agent or puppet)", t)
		}
		seen[t] = true
		o.tools = append(o.tools, t)
	}
	if len(o.tools) == 0 {
		return o, errors.New("-tools: no tool given")
	}
	return o, nil
}

// run executes the benchmark and returns the process exit code: 0 when
// every selected tool that is installed passed, 1 when one failed, 64 on
// bad flags.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "apply:", err)
		return 64
	}
	res, err := benchmark(ctx, o, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "apply:", err)
		return 1
	}
	if o.json {
		err = benchkit.WriteJSON(stdout, res)
	} else {
		err = writeText(stdout, res)
	}
	if err != nil {
		fmt.Fprintln(stderr, "apply:", err)
		return 1
	}
	if res.failed() {
		fmt.Fprintln(stderr, "apply: FAILED: at least one tool did not converge correctly (see above)")
		return 1
	}
	return 0
}
