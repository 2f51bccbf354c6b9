package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"github.com/phenixhq/phenix/bench/internal/benchkit"
)

// phase is one kind of run. setup puts the files in the state the run
// starts from and returns the paths the run may touch; touchAny allows it
// to touch every file.
type phase struct {
	name     string
	setup    func(w workload) ([]string, error)
	touchAny bool
	want     outcome
}

var phases = []phase{
	{name: "create", setup: func(w workload) ([]string, error) { return nil, w.reset() }, touchAny: true, want: changed},
	{name: "noop", setup: func(workload) ([]string, error) { return nil, nil }, want: unchanged},
	{name: "tamper", setup: workload.tamper, want: changed},
}

// benchmark runs the selected tools in a fresh temporary directory and
// returns their results; progress goes to log. Runs are interleaved: run i
// of a phase is run for every tool before run i+1, so that load from other
// work on the host falls on all tools alike. An error means the benchmark
// itself could not run; a tool that fails is reported in the results.
func benchmark(ctx context.Context, o options, log io.Writer) (*results, error) {
	root, err := os.MkdirTemp("", "phenix-bench-")
	if err != nil {
		return nil, fmt.Errorf("work directory: %w", err)
	}
	if o.keep {
		fmt.Fprintln(log, "work directory:", root)
		fmt.Fprintln(log, "phenix backups:", filepath.Join(phenixBackups, root))
	} else {
		defer func() {
			os.RemoveAll(root)
			if err := removeBackups(root); err != nil {
				fmt.Fprintln(log, "apply:", err)
			}
		}()
	}
	res := &results{Files: o.n, Runs: o.runs, Host: host{CPUs: runtime.NumCPU(), Go: runtime.Version(), Kernel: benchkit.Kernel()}}
	bin := o.phenix
	if slices.Contains(o.tools, "phenix") && bin == "" {
		fmt.Fprintln(log, "building phenix")
		if bin, err = benchkit.BuildPhenix(ctx, root); err != nil {
			return nil, err
		}
	}
	res.Tools = make([]toolResult, len(o.tools))
	var cs []*contestant
	for i, name := range o.tools {
		tr := &res.Tools[i]
		tr.Tool = name
		t := newTool(name, bin, o)
		tr.Version, err = t.version(ctx)
		switch {
		case errors.Is(err, errNotInstalled):
			tr.Status = statusNotInstalled
			fmt.Fprintf(log, "%s: not installed, skipped\n", name)
		case err != nil && name == "phenix":
			return nil, err
		case err != nil:
			tr.Status, tr.Error = statusFailed, err.Error()
		default:
			c := &contestant{t: t, tr: tr, dir: filepath.Join(root, name), log: log}
			if c.prepare(ctx, o.n) {
				cs = append(cs, c)
			}
		}
	}
	res.Host.Load[0] = benchkit.LoadAvg()
	if err := race(ctx, cs, o.runs); err != nil {
		return nil, err
	}
	res.Host.Load[1] = benchkit.LoadAvg()
	res.Ratios = ratios(res.Tools)
	return res, nil
}

// race runs one warm-up create run per contestant, then every phase runs
// times, interleaving the contestants that have not failed.
func race(ctx context.Context, cs []*contestant, runs int) error {
	for _, c := range cs {
		c.run(ctx, phases[0], "warm-up")
	}
	for _, p := range phases {
		for i := range runs {
			for _, c := range cs {
				c.run(ctx, p, fmt.Sprintf("%s run %d/%d", p.name, i+1, runs))
			}
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		for _, c := range cs {
			c.endPhase(p)
		}
	}
	for _, c := range cs {
		c.finish()
	}
	return nil
}

// contestant is the state of one tool through the benchmark.
type contestant struct {
	t       tool
	tr      *toolResult
	dir     string
	w       workload
	log     io.Writer
	errs    stderrLines
	samples []sample // of the current phase
	failed  bool
}

// prepare creates the tool's directory and policy; false means it failed.
func (c *contestant) prepare(ctx context.Context, n int) bool {
	c.w = workload{dir: filepath.Join(c.dir, "files"), n: n}
	if err := os.Mkdir(c.dir, 0o755); err != nil {
		c.fail(fmt.Errorf("tool directory: %w", err))
		return false
	}
	if err := c.t.prepare(c.dir, c.w); err != nil {
		c.fail(err)
		return false
	}
	c.tr.Command = c.t.command(ctx).String()
	return true
}

func (c *contestant) fail(err error) {
	c.failed = true
	c.tr.Status, c.tr.Error = statusFailed, err.Error()
	fmt.Fprintf(c.log, "%s: FAILED: %v\n", c.t.name(), err)
}

// run does one run of phase p unless the contestant has failed.
func (c *contestant) run(ctx context.Context, p phase, label string) {
	if c.failed {
		return
	}
	s, err := runOnce(ctx, c.t, p, c.w, c.dir, &c.errs)
	if err != nil {
		c.fail(fmt.Errorf("%s: %w", label, err))
		return
	}
	fmt.Fprintf(c.log, "%s: %s: %s, %s\n", c.t.name(), label, fmtMS(ms(s.wall)), fmtKiB(s.maxRSS))
	if label != "warm-up" {
		c.samples = append(c.samples, s)
	}
}

func (c *contestant) endPhase(p phase) {
	if !c.failed {
		c.tr.Phases = append(c.tr.Phases, summarize(p.name, c.samples))
	}
	c.samples = nil
}

func (c *contestant) finish() {
	c.tr.Stderr, c.tr.StderrMore = c.errs.lines, len(c.errs.more)
	if !c.failed {
		c.tr.Status = statusOK
	}
}

// runOnce sets up one run of phase p, times it and checks what it did.
func runOnce(ctx context.Context, t tool, p phase, w workload, dir string, errs *stderrLines) (sample, error) {
	allowed, err := p.setup(w)
	if err != nil {
		return sample{}, err
	}
	var before snapshot
	if !p.touchAny {
		if before, err = takeSnapshot(w); err != nil {
			return sample{}, err
		}
	}
	s, err := measure(t.command(ctx), dir)
	if err != nil {
		return s, err
	}
	errs.add(s.stderr)
	got, err := t.outcome(s.code)
	if err != nil {
		return s, fmt.Errorf("%w; stderr:\n%s", err, tail(s.stderr, s.stdout))
	}
	if got != unknown && got != p.want {
		return s, fmt.Errorf("exit code %d says %s, want %s; stdout:\n%s", s.code, got, p.want, tail(s.stdout, nil))
	}
	if err := w.verify(); err != nil {
		return s, err
	}
	if before != nil {
		after, err := takeSnapshot(w)
		if err != nil {
			return s, err
		}
		var stray []string
		for _, path := range before.touched(after) {
			if !slices.Contains(allowed, path) {
				stray = append(stray, path)
			}
		}
		if len(stray) > 0 {
			return s, fmt.Errorf("touched %d files that were already right, first %s", len(stray), stray[0])
		}
	}
	return s, nil
}

// tail returns the last lines of b, or of alt when b is empty.
func tail(b, alt []byte) string {
	if len(strings.TrimSpace(string(b))) == 0 {
		b = alt
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return "  " + strings.Join(lines[max(0, len(lines)-20):], "\n  ")
}
