package main

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// errNotInstalled is returned by tool.version when the tool's executable is
// not on PATH; the tool is then reported and skipped.
var errNotInstalled = errors.New("not installed")

// outcome is what a tool's exit code says about one run.
type outcome int

const (
	unknown   outcome = iota // the exit code does not say (cf-agent)
	unchanged                // nothing needed changing
	changed                  // something was changed
)

func (o outcome) String() string {
	return [...]string{"unknown", "unchanged", "changed"}[o]
}

// tool is one configuration-management tool under test. The benchmark
// calls version once, then prepare once for the tool's workload, then
// command once per run; runs never overlap, and every run of a tool uses
// the same policy and private state directories, as a real agent would.
type tool interface {
	// name is the tool's name on the command line and in reports.
	name() string
	// version returns the tool's version, or errNotInstalled.
	version(ctx context.Context) (string, error)
	// prepare writes the policy that promises w and creates the tool's
	// private state directories under dir.
	prepare(dir string, w workload) error
	// command returns the command of one run.
	command(ctx context.Context) *exec.Cmd
	// outcome interprets an exit code; an error means the run failed.
	outcome(code int) (outcome, error)
}

func knownTool(name string) bool {
	switch name {
	case "phenix", "cf-agent", "puppet":
		return true
	}
	return false
}

// newTool returns the tool called name; phenixBin is the phenix binary.
func newTool(name, phenixBin string, o options) tool {
	switch name {
	case "phenix":
		return &phenix{bin: phenixBin}
	case "cf-agent":
		return &cfAgent{withF: o.cfFile}
	default:
		return &puppet{}
	}
}

// versionOf runs bin with args and returns the first line it prints.
func versionOf(ctx context.Context, bin string, args ...string) (string, error) {
	path, err := exec.LookPath(bin)
	if err != nil {
		return "", errNotInstalled
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, args...).Output()
	if err != nil {
		return "", fmt.Errorf("%s %s: %w", bin, strings.Join(args, " "), err)
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return line, nil
}
