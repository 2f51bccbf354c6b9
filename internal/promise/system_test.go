package promise_test

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/phenixhq/phenix/internal/bundle"
	"github.com/phenixhq/phenix/internal/containertest"
	"github.com/phenixhq/phenix/internal/engine"
	"github.com/phenixhq/phenix/internal/promise"
	"github.com/phenixhq/phenix/internal/testenv"
)

// The tests of this file's siblings named *_system_test.go run phenix
// apply in a Debian container, against real apt, dpkg, shadow tools and
// cron, and then look at the system with its own tools.

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.Cleanup()
	os.Exit(code)
}

// startDebian starts a Debian container with phenix in it for t.
func startDebian(t *testing.T) *containertest.Container {
	t.Helper()
	testenv.Require(t, "docker", "debootstrap")
	return containertest.Start(t, containertest.DebianImage(t), containertest.WithPhenix(testenv.PhenixBinary(t)))
}

// bundlePath is where apply writes the bundle in the container.
const bundlePath = "/bundle.yaml"

// apply writes src to /bundle.yaml and runs phenix apply --json on it with
// flags. It returns the report, keyed by promise id, and the exit code.
func apply(t *testing.T, c *containertest.Container, src string, flags ...string) (map[string]engine.Result, *engine.Report, int) {
	t.Helper()
	c.WriteFile(t, bundlePath, []byte(src), 0o644)
	args := append([]string{"phenix", "apply", bundlePath, "--json"}, flags...)
	stdout, stderr, code, err := c.Exec(t.Context(), args...)
	if err != nil {
		t.Fatal(err)
	}
	var rep engine.Report
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("phenix apply: exit %d, output is not a JSON report: %v\nstdout:\n%s\nstderr:\n%s", code, err, stdout, stderr)
	}
	byID := map[string]engine.Result{}
	for _, r := range rep.Results {
		byID[r.ID] = r
	}
	return byID, &rep, code
}

// mustChange applies src and expects every promise to be ok or changed,
// and at least one changed (exit status 2). It returns the results by id.
func mustChange(t *testing.T, c *containertest.Container, src string) map[string]engine.Result {
	t.Helper()
	got, rep, code := apply(t, c, src)
	if code != 2 || rep.Totals.Failed > 0 || rep.Totals.Skipped > 0 || rep.Totals.Changed == 0 {
		t.Fatalf("phenix apply: exit %d, totals %+v, want changes and no failure (exit 2)\n%s", code, rep.Totals, failures(rep))
	}
	return got
}

// mustConverged applies src and expects nothing to change (exit status 0):
// the idempotence check after mustChange.
func mustConverged(t *testing.T, c *containertest.Container, src string) {
	t.Helper()
	_, rep, code := apply(t, c, src)
	if code != 0 || rep.Totals.Changed != 0 || rep.Totals.OK != rep.Totals.Promises {
		var changed []string
		for _, r := range rep.Results {
			if r.Status != engine.OK {
				changed = append(changed, r.ID+" "+string(r.Status)+": "+r.Diff.Summary()+r.Error)
			}
		}
		t.Fatalf("second apply: exit %d, totals %+v, want 0 changed and exit 0:\n%s", code, rep.Totals, strings.Join(changed, "\n"))
	}
}

// failures lists the failed and skipped promises of rep.
func failures(rep *engine.Report) string {
	var out []string
	for _, r := range rep.Results {
		if r.Status == engine.Failed || r.Status == engine.Skipped {
			out = append(out, r.ID+": "+string(r.Status)+": "+r.Error+r.Reason)
		}
	}
	return strings.Join(out, "\n")
}

// exitCode runs args in c and returns the exit code and the output.
func exitCode(t *testing.T, c *containertest.Container, args ...string) (int, string) {
	t.Helper()
	stdout, stderr, code, err := c.Exec(t.Context(), args...)
	if err != nil {
		t.Fatal(err)
	}
	return code, stdout + stderr
}

// bundleParse decodes src and returns its resources by promise id.
func bundleParse(src string) (map[string]promise.Resource, bundle.ErrorList) {
	ps, errs := bundle.Parse(bundlePath, []byte(src), bundle.Options{})
	out := map[string]promise.Resource{}
	for _, p := range ps {
		out[p.ID()] = p.Resource
	}
	return out, errs
}
