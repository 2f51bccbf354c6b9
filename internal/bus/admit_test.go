package bus

import (
	"log/slog"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestAdmitDuringKick revokes and kicks a host while authorize is deciding
// about one of its connections: admit must ask again and refuse, since the
// kick could not find a connection not yet recorded.
func TestAdmitDuringKick(t *testing.T) {
	var mu sync.Mutex
	revoked := false
	calls := 0
	asked := make(chan struct{})
	release := make(chan struct{})
	a := &authenticator{
		log:   slog.New(slog.DiscardHandler),
		alive: func(uint64) bool { return true },
		conns: map[string]map[uint64]struct{}{},
		authorize: func(string) bool {
			mu.Lock()
			calls++
			first := calls == 1
			mu.Unlock()
			if first {
				close(asked)
				<-release // the decision was made before the revocation
				return true
			}
			mu.Lock()
			defer mu.Unlock()
			return !revoked
		},
	}
	done := make(chan bool)
	go func() { done <- a.admit("a", 7) }()
	<-asked
	mu.Lock()
	revoked = true
	mu.Unlock()
	if cids := a.kick("a"); len(cids) != 0 {
		t.Errorf("kick found %v before admit recorded anything", cids)
	}
	close(release)
	if <-done {
		t.Errorf("admit let a revoked host in")
	}
	if calls != 2 {
		t.Errorf("authorize called %d times, want 2", calls)
	}
	if len(a.conns["a"]) != 0 {
		t.Errorf("connections of a: %v, want none", a.conns["a"])
	}
}

// TestAdmitForgetsClosed expects admit to drop the closed connections of
// a host when it records a new one.
func TestAdmitForgetsClosed(t *testing.T) {
	open := map[uint64]bool{1: true, 3: true}
	a := &authenticator{
		log:       slog.New(slog.DiscardHandler),
		alive:     func(cid uint64) bool { return open[cid] },
		conns:     map[string]map[uint64]struct{}{"a": {1: {}, 2: {}}, "b": {5: {}}},
		authorize: func(string) bool { return true },
	}
	if !a.admit("a", 3) {
		t.Fatal("admit refused")
	}
	want := map[string]map[uint64]struct{}{"a": {1: {}, 3: {}}, "b": {5: {}}}
	if diff := cmp.Diff(want, a.conns); diff != "" {
		t.Errorf("connections (-want +got):\n%s", diff)
	}
}
