package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// phenixBackups is where phenix keeps the content of the files it replaces,
// under each file's absolute path.
const phenixBackups = "/var/lib/phenix/backups"

// phenix runs `phenix apply <dir>/bundle.yaml`. Keeping backups is part of
// a real run, so they are timed; the benchmark removes those of its own
// files afterwards (see removeBackups).
type phenix struct {
	bin    string
	bundle string
}

var _ tool = (*phenix)(nil)

func (*phenix) name() string { return "phenix" }

func (p *phenix) version(ctx context.Context) (string, error) {
	if _, err := os.Stat(p.bin); err != nil {
		return "", fmt.Errorf("phenix binary: %w", err)
	}
	v, err := versionOf(ctx, p.bin, "version")
	if err != nil {
		return "unknown", nil // the version command is optional
	}
	return v, nil
}

func (p *phenix) prepare(dir string, w workload) error {
	var b strings.Builder
	b.WriteString("promises:\n")
	for _, f := range w.files() {
		if strings.Contains(f.content, "{{") {
			return fmt.Errorf("phenix bundle: content of %s would be read as a template", f.path)
		}
		// A Go-quoted ASCII string is a valid YAML double-quoted scalar.
		fmt.Fprintf(&b, "  - file: %s\n    content: %s\n    mode: \"%04o\"\n",
			strconv.Quote(f.path), strconv.QuoteToASCII(f.content), fileMode)
	}
	p.bundle = filepath.Join(dir, "bundle.yaml")
	if err := os.WriteFile(p.bundle, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("phenix bundle: %w", err)
	}
	return nil
}

func (p *phenix) command(ctx context.Context) *exec.Cmd {
	return exec.CommandContext(ctx, p.bin, "apply", p.bundle)
}

// outcome follows phenix's contract: 0 nothing changed, 2 something
// changed, 1 failure, 64 bad input.
func (*phenix) outcome(code int) (outcome, error) {
	switch code {
	case 0:
		return unchanged, nil
	case 2:
		return changed, nil
	}
	return unknown, fmt.Errorf("exit code %d", code)
}

// removeBackups deletes the backups phenix made of files under root, and
// the directories above them that this leaves empty.
func removeBackups(root string) error {
	dir := filepath.Join(phenixBackups, root)
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove phenix backups: %w", err)
	}
	for d := filepath.Dir(dir); d != phenixBackups && strings.HasPrefix(d, phenixBackups); d = filepath.Dir(d) {
		if os.Remove(d) != nil { // not empty: another run's backups
			break
		}
	}
	return nil
}
