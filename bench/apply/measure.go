package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// sample is what one run of a tool cost and printed.
type sample struct {
	wall time.Duration
	// cpu is user plus system time of the process and the descendants it
	// waited for; unlike wall time it hardly grows when other work
	// competes for the CPUs.
	cpu time.Duration
	// maxRSS is ru_maxrss in KiB from wait4 on the tool's process. Linux
	// reports there the largest resident set of the process itself and of
	// every descendant it waited for (RUSAGE_SELF and RUSAGE_CHILDREN
	// combined by maximum, not by sum): cf-promises under cf-agent, the
	// shell and ifconfig it runs, facter's helpers under puppet.
	maxRSS         int64
	code           int
	stdout, stderr []byte
}

// measure runs cmd with its output sent to files in dir (no copying
// goroutines in this process while the clock runs) and returns its cost.
// An exit code other than 0 is not an error here; failing to start is.
func measure(cmd *exec.Cmd, dir string) (sample, error) {
	var s sample
	outPath, errPath := filepath.Join(dir, "stdout"), filepath.Join(dir, "stderr")
	out, err := os.Create(outPath)
	if err != nil {
		return s, fmt.Errorf("capture output: %w", err)
	}
	defer out.Close()
	errf, err := os.Create(errPath)
	if err != nil {
		return s, fmt.Errorf("capture output: %w", err)
	}
	defer errf.Close()
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, out, errf

	t0 := time.Now()
	err = cmd.Run()
	s.wall = time.Since(t0)
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		return s, fmt.Errorf("run %s: %w", cmd, err)
	}
	s.code = cmd.ProcessState.ExitCode()
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		s.maxRSS = ru.Maxrss
		s.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	if s.stdout, err = os.ReadFile(outPath); err != nil {
		return s, fmt.Errorf("read output: %w", err)
	}
	if s.stderr, err = os.ReadFile(errPath); err != nil {
		return s, fmt.Errorf("read output: %w", err)
	}
	return s, nil
}
