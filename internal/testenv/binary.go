package testenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// phenixPackage is the import path PhenixBinary builds.
const phenixPackage = "github.com/phenixhq/phenix/cmd/phenix"

// built holds the result of the one build of phenix in this process.
var built struct {
	once sync.Once
	dir  string // temporary directory holding the binary; removed by Cleanup
	path string
	err  error
}

// PhenixBinary returns the path of a phenix binary built from the module
// that contains the working directory. The first call builds it with
// CGO_ENABLED=0 and -trimpath, so that it is static; later calls in the same
// process return the same path. A build failure fails t, and every later
// caller, with the compiler's output.
func PhenixBinary(t testing.TB) string {
	t.Helper()
	built.once.Do(func() {
		built.dir, built.path, built.err = buildPhenix()
	})
	if built.err != nil {
		t.Fatalf("build phenix: %v", built.err)
	}
	return built.path
}

// Cleanup removes what this package created for the process: the directory
// of the binary built by PhenixBinary. Call it from TestMain after m.Run;
// PhenixBinary must not be called afterwards.
func Cleanup() {
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
}

func buildPhenix() (dir, path string, err error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", "", err
	}
	root, err := moduleRoot(wd)
	if err != nil {
		return "", "", err
	}
	dir, err = os.MkdirTemp("", "phenix-testenv-")
	if err != nil {
		return "", "", err
	}
	path = filepath.Join(dir, "phenix")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if err := goBuild(ctx, root, phenixPackage, path); err != nil {
		return dir, "", err
	}
	return dir, path, nil
}

// goBuild builds the main package pkg, from the module rooted at dir, into
// the static binary out.
func goBuild(ctx context.Context, dir, pkg, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", out, pkg)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
	}
	return nil
}

// moduleRoot returns the nearest directory, from dir upwards, that holds a
// go.mod file.
func moduleRoot(dir string) (string, error) {
	for d := dir; ; {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		} else if !errors.Is(err, os.ErrNotExist) {
			return "", err
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("no go.mod in %s or any parent directory", dir)
		}
		d = parent
	}
}
