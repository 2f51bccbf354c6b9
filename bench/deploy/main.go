// Command deploy benchmarks releases: a real `phenix server` process and
// N real `phenix agent` processes on this machine (each with a file
// system tree of its own, the agent's hidden --root), an app whose version
// is the example HTTP service (examples/app) padded to -size with
// incompressible bytes, kept running by the supervisor on a port per host
// and checked over HTTP after every switch.
//
// Each run uploads two new versions, then times, from the API call to the
// deployment's end:
//
//	deliver   the first version to every host: each downloads it once from
//	          the server (its client certificate, checksum verified) and
//	          extracts it; nothing switched
//	deploy    the first version: switch, service started, checks
//	upgrade   the second version: deliver, switch, restart, checks
//	rollback  back to the first version: switch, restart, checks
//
// and verifies each phase on every host: the deployment ended ok, current
// points at the version, the release's marker has the artifact's sha256,
// and the app answers /version with that version on its port.
//
// Usage, from the module root (see bench/README.md):
//
//	go run ./bench/deploy [-hosts 20] [-size 100] [-runs 3] [-phenix PATH] [-dir DIR] [-keep] [-json]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/phenixhq/phenix/bench/internal/benchkit"
)

func main() { benchkit.Main(run) }

// options are the command-line flags.
type options struct {
	hosts  int
	sizeMB int
	runs   int
	phenix string
	dir    string
	keep   bool
	json   bool
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("deploy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.hosts, "hosts", 20, "agents, each a host of the environment")
	fs.IntVar(&o.sizeMB, "size", 100, "size of a version's artifact, in MB (10^6 bytes) of incompressible data")
	fs.IntVar(&o.runs, "runs", 3, "timed runs of every phase")
	fs.StringVar(&o.phenix, "phenix", "", "phenix binary (default: build ./cmd/phenix)")
	fs.StringVar(&o.dir, "dir", "", "work directory (default: a temporary one, removed after)")
	fs.BoolVar(&o.keep, "keep", false, "keep the work directory")
	fs.BoolVar(&o.json, "json", false, "print the results as JSON")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	switch {
	case fs.NArg() > 0:
		return o, fmt.Errorf("unexpected arguments: %v", fs.Args())
	case o.hosts < 1 || o.hosts > 99:
		return o, fmt.Errorf("-hosts %d: expected 1 to 99", o.hosts)
	case o.sizeMB < 0:
		return o, fmt.Errorf("-size %d: expected 0 or more", o.sizeMB)
	case o.runs < 1:
		return o, fmt.Errorf("-runs %d: expected 1 or more", o.runs)
	}
	return o, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "deploy:", err)
		return 64
	}
	res, err := benchmark(ctx, o, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "deploy:", err)
		if res == nil {
			return 1
		}
		res.Failures = append(res.Failures, err.Error())
	}
	res.evaluate()
	if o.json {
		err = writeJSON(stdout, res)
	} else {
		err = writeText(stdout, res)
	}
	if err != nil {
		fmt.Fprintln(stderr, "deploy:", err)
		return 1
	}
	if len(res.Failures) > 0 {
		return 1
	}
	return 0
}
