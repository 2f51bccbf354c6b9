// Package benchkit holds what the benchmarks under bench/ share: building
// the phenix binary as it is released, describing the machine and its
// load, and writing results as JSON.
package benchkit

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

const modulePath = "github.com/phenixhq/phenix"

// BuildPhenix builds ./cmd/phenix of the enclosing module into dir/bin,
// the way it is released: static (CGO_ENABLED=0) and with -trimpath.
func BuildPhenix(ctx context.Context, dir string) (string, error) {
	return Build(ctx, dir, "./cmd/phenix", "phenix")
}

// Build builds the main package pkg of the enclosing module (a path
// relative to its root, such as ./examples/app) into dir/bin/name, static
// and with -trimpath.
func Build(ctx context.Context, dir, pkg, name string) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("build %s: go env GOMOD: %w", name, err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("build %s: not inside the phenix module; run from its root or pass -phenix", name)
	}
	mod, err := os.ReadFile(gomod)
	if err != nil {
		return "", fmt.Errorf("build %s: %w", name, err)
	}
	if !slices.Contains(strings.Fields(string(mod)), modulePath) {
		return "", fmt.Errorf("build %s: %s is not module %s; pass -phenix", name, gomod, modulePath)
	}
	bin := filepath.Join(dir, "bin", name)
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", bin, pkg)
	cmd.Dir = filepath.Dir(gomod)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build %s: %w\n%s", name, err, out)
	}
	return bin, nil
}

// Kernel describes the running system: "linux 6.18.44".
func Kernel() string {
	k := runtime.GOOS
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		k += " " + strings.TrimSpace(string(b))
	}
	return k
}

// LoadAvg returns the 1-minute load average, or -1 when it is unknown.
func LoadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	f, _, _ := strings.Cut(string(b), " ")
	v, err := strconv.ParseFloat(f, 64)
	if err != nil {
		return -1
	}
	return v
}

// Busy returns a warning to print after the load average when load, taken
// before the timed runs, says other work shared the CPUs.
func Busy(load float64, cpus int) string {
	if load > float64(cpus)/2 {
		return " (other work was running: timings are noisy)"
	}
	return ""
}

// WriteJSON writes v indented, as the benchmarks' -json output.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	return nil
}

// Main runs a benchmark's run function with a context that Ctrl-C or
// SIGTERM ends (so that it stops its processes before it exits), and
// exits with the status run returns.
func Main(run func(ctx context.Context, args []string, stdout, stderr io.Writer) int) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
