package testenv

import (
	"testing"
	"time"
)

// WaitFor polls cond every 10ms until it holds, and fails the test when it
// still does not after 10s. Tests wait on conditions with it, never on a
// fixed sleep.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		case <-tick.C:
		}
	}
}
