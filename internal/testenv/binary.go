package testenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// phenixPackage is the import path PhenixBinary builds.
const phenixPackage = "github.com/phenixhq/phenix/cmd/phenix"

// builds holds the result of the one build of each main package in this
// process, by import path.
var builds struct {
	sync.Mutex
	m map[string]*build
}

type build struct {
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
	return Binary(t, phenixPackage)
}

// Binary returns the path of a static binary of the main package pkg (an
// import path in the module that contains the working directory, such as
// github.com/phenixhq/phenix/examples/app), built once per process the way
// PhenixBinary builds phenix. The binary is named after the last element of
// pkg.
func Binary(t testing.TB, pkg string) string {
	t.Helper()
	builds.Lock()
	if builds.m == nil {
		builds.m = map[string]*build{}
	}
	b := builds.m[pkg]
	if b == nil {
		b = &build{}
		builds.m[pkg] = b
	}
	builds.Unlock()
	b.once.Do(func() {
		b.dir, b.path, b.err = buildBinary(pkg)
	})
	if b.err != nil {
		t.Fatalf("build %s: %v", path.Base(pkg), b.err)
	}
	return b.path
}

// Cleanup removes what this package created for the process: the
// directories of the binaries built by PhenixBinary and Binary. Call it from
// TestMain after m.Run; neither must be called afterwards.
func Cleanup() {
	builds.Lock()
	defer builds.Unlock()
	for _, b := range builds.m {
		if b.dir != "" {
			os.RemoveAll(b.dir)
		}
	}
}

func buildBinary(pkg string) (dir, bin string, err error) {
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
	bin = filepath.Join(dir, path.Base(pkg))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if err := goBuild(ctx, root, pkg, bin); err != nil {
		return dir, "", err
	}
	return dir, bin, nil
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
