package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

const modulePath = "github.com/phenixhq/phenix"

// buildPhenix builds ./cmd/phenix of the enclosing module into dir, the way
// it is released: static (CGO_ENABLED=0) and with -trimpath.
func buildPhenix(ctx context.Context, dir string) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("build phenix: go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("build phenix: not inside the phenix module; run from its root or pass -phenix")
	}
	mod, err := os.ReadFile(gomod)
	if err != nil {
		return "", fmt.Errorf("build phenix: %w", err)
	}
	if !slices.Contains(strings.Fields(string(mod)), modulePath) {
		return "", fmt.Errorf("build phenix: %s is not module %s; pass -phenix", gomod, modulePath)
	}
	bin := filepath.Join(dir, "bin", "phenix")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", bin, "./cmd/phenix")
	cmd.Dir = filepath.Dir(gomod)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build phenix: %w\n%s", err, out)
	}
	return bin, nil
}
