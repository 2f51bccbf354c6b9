package testenv

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// natsServerPackage is the import path NATSServerBinary builds: the NATS
// server of the module's own requirement.
const natsServerPackage = "github.com/nats-io/nats-server/v2"

// NATSServerBinary builds nats-server, at the version the module requires,
// into a temporary directory of t and returns its path, for tests that run
// an external NATS server as a separate process. It skips t, with the
// compiler's output, if the build fails.
func NATSServerBinary(t testing.TB) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	root, err := moduleRoot(wd)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "nats-server")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if err := goBuild(ctx, root, natsServerPackage, path); err != nil {
		t.Skipf("cannot build an external NATS server: %v", err)
	}
	return path
}
