// Command fleet benchmarks a real `phenix server` process with a simulated
// fleet of N agents in a second process: real keys, certificates from
// POST /api/v1/enrol, and N TLS connections to the server's NATS, each
// speaking the agent's side of package wire (Hello at every connection,
// heartbeats, jobs answered with a Result retried until acknowledged).
//
// For each N it measures the latency of a `phenix run '*' -- true` job
// until all N results are stored and ok, the server's memory with N agents
// connected, and how long the fleet takes to come back after the server is
// restarted; once, the memory of one idle real `phenix agent`. Every job
// run is verified (N results, all ok), and so is every restart (every
// simulated agent greeted by the new server, the server sees all N online
// and none stale), and the report marks each target met or not.
//
// Usage, from the module root (see bench/README.md):
//
//	go run ./bench/fleet [-n 1000,10000] [-runs 20] [-restarts 3] [-phenix PATH] [-dir DIR]
//	                     [-server-env KEY=VALUE] [-json]
//
// The simulator is this program run again with the hidden first argument
// -simulate (see simulate.go).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/phenixhq/phenix/bench/internal/benchkit"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	var code int
	if len(os.Args) > 1 && os.Args[1] == simulateFlag {
		code = simulate(ctx, os.Args[2:], os.Stdin, os.Stdout, os.Stderr)
	} else {
		code = run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	}
	stop()
	os.Exit(code)
}

// options are the command-line flags of the benchmark.
type options struct {
	ns       []int
	runs     int
	restarts int
	phenix   string
	dir      string
	idle     time.Duration
	json     bool
	keep     bool
	// serverEnv is added to the server's environment (after GOMEMLIMIT,
	// which it may override).
	serverEnv []string
}

// envFlag collects KEY=VALUE flags.
type envFlag []string

func (e *envFlag) String() string { return strings.Join(*e, " ") }

func (e *envFlag) Set(v string) error {
	if k, _, ok := strings.Cut(v, "="); !ok || k == "" {
		return fmt.Errorf("want KEY=VALUE, got %q", v)
	}
	*e = append(*e, v)
	return nil
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("fleet", flag.ContinueOnError)
	fs.SetOutput(stderr)
	ns := fs.String("n", "1000,10000", "comma-separated fleet sizes, run in increasing order")
	fs.IntVar(&o.runs, "runs", 20, "timed job runs per fleet size (the p99 of 20 runs is their maximum)")
	fs.IntVar(&o.restarts, "restarts", 3, "server restarts per fleet size")
	fs.StringVar(&o.phenix, "phenix", "", "phenix binary (default: build ./cmd/phenix with CGO_ENABLED=0 -trimpath)")
	fs.StringVar(&o.dir, "dir", "", "work directory to use and keep, reused by a later run: server data and enrolled identities (default: a new temporary one, removed)")
	fs.DurationVar(&o.idle, "idle", 20*time.Second, "how long the real agent idles before its memory is read")
	fs.BoolVar(&o.json, "json", false, "print machine-readable results")
	fs.BoolVar(&o.keep, "keep", false, "keep the temporary work directory (logs, data) for inspection")
	fs.Var((*envFlag)(&o.serverEnv), "server-env", "add `KEY=VALUE` to the server's environment (repeatable), e.g. GODEBUG=gcshrinkstackoff=1")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	for f := range strings.SplitSeq(*ns, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 || n > maxHosts {
			return o, fmt.Errorf("-n: want fleet sizes from 1 to %d, got %q", maxHosts, f)
		}
		o.ns = append(o.ns, n)
	}
	if len(o.ns) == 0 {
		return o, errors.New("-n: no fleet size given")
	}
	slices.Sort(o.ns)
	o.ns = slices.Compact(o.ns)
	if o.runs < 1 {
		return o, fmt.Errorf("-runs: need at least 1, got %d", o.runs)
	}
	if o.restarts < 0 {
		return o, fmt.Errorf("-restarts: need 0 or more, got %d", o.restarts)
	}
	if o.idle < 0 {
		return o, fmt.Errorf("-idle: need 0 or more, got %v", o.idle)
	}
	return o, nil
}

// run executes the benchmark and returns the process exit code: 0 when
// every run did the right thing (whether targets were met or not), 1 when
// a run failed or the benchmark could not run, 64 on bad flags.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "fleet:", err)
		return 64
	}
	res, err := benchmark(ctx, o, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "fleet:", err)
		if res == nil {
			return 1
		}
		res.Failures = append(res.Failures, err.Error())
	}
	res.evaluate()
	if o.json {
		err = benchkit.WriteJSON(stdout, res)
	} else {
		err = writeText(stdout, res)
	}
	if err != nil {
		fmt.Fprintln(stderr, "fleet:", err)
		return 1
	}
	if len(res.Failures) > 0 {
		fmt.Fprintf(stderr, "fleet: FAILED: %d run(s) did not do the right thing (see above)\n", len(res.Failures))
		return 1
	}
	return 0
}
