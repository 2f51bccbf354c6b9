package sqlstoretest

import (
	"testing"

	"github.com/phenixhq/phenix/internal/journal"
)

// TestFresh expects every Open to give an empty database of its own.
func TestFresh(t *testing.T) {
	a := Open(t)
	if _, err := a.AppendJournal(t.Context(), journal.Entry{Actor: "alice", Action: "apply"}); err != nil {
		t.Fatal(err)
	}
	b := Open(t)
	es, err := b.JournalAll(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 0 {
		t.Errorf("a second database holds %d entries of the first", len(es))
	}
	if DSN(t) == DSN(t) {
		t.Errorf("DSN returns the same database twice")
	}
}
