package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sync/errgroup"

	"github.com/phenixhq/phenix/internal/journal"
	"github.com/phenixhq/phenix/internal/sqlstore"
	"github.com/phenixhq/phenix/internal/sqlstoretest"
)

// clock returns times one second apart from t0 (at a sub-microsecond
// offset, in another zone, to check they are stored in UTC and truncated).
func clock(t0 time.Time) func() time.Time {
	var mu sync.Mutex
	n := 0
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		n++
		return t0.Add(time.Duration(n) * time.Second)
	}
}

var t0 = time.Date(2025, 6, 1, 12, 0, 0, 123456789, time.FixedZone("CEST", 2*3600))

// appendAll appends es to db in order and returns them as stored.
func appendAll(t *testing.T, db *sqlstore.DB, es ...journal.Entry) []journal.Entry {
	t.Helper()
	var out []journal.Entry
	for _, e := range es {
		got, err := db.AppendJournal(t.Context(), e)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, got)
	}
	return out
}

// three are entries with every field set, and some edge cases: no hosts, a
// host twice, characters JSON escapes.
var three = []journal.Entry{
	{
		Actor: "alice", Action: "host.enrol", Selector: "", Hosts: []string{"web1"},
		Params: map[string]string{"token": journal.Masked}, Result: "ok", Summary: "enrolled web1",
	},
	{
		Actor: "bob", Action: "command.run", Selector: "role=web,env in (prod)", Hosts: []string{"web1", "web2", "web1"},
		Params: map[string]string{"cmd": `echo "<a> & 'b'" \ é ☃`, "timeout": "30s"}, Result: "failed", Summary: "1 of 2 failed\nweb2: exit 1",
	},
	{Actor: "alice", Action: "policy.push", Result: "ok", Summary: "no hosts, no params", Time: time.Unix(1, 0)},
}

func TestAppendAndRead(t *testing.T) {
	db := sqlstoretest.Open(t)
	db.SetClock(clock(t0))
	got := appendAll(t, db, three...)

	want := make([]journal.Entry, len(three))
	copy(want, three)
	prev := ""
	for i := range want {
		want[i].Seq = int64(i + 1)
		want[i].Time = t0.Add(time.Duration(i+1) * time.Second).UTC().Truncate(time.Microsecond)
		want[i].PrevHash = prev
		want[i].Hash = want[i].ComputeHash()
		prev = want[i].Hash
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("AppendJournal returned (-want +got):\n%s", diff)
	}
	all, err := db.JournalAll(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, all); diff != "" {
		t.Errorf("JournalAll (-want +got):\n%s", diff)
	}
	if err := journal.Verify(all); err != nil {
		t.Errorf("Verify: %v", err)
	}
	if err := db.VerifyJournal(t.Context()); err != nil {
		t.Errorf("VerifyJournal: %v", err)
	}
	if all[0].Time.Location() != time.UTC {
		t.Errorf("Time is in %v, want UTC", all[0].Time.Location())
	}
}

func TestAppendInvalid(t *testing.T) {
	db := sqlstoretest.Open(t)
	for _, e := range []journal.Entry{{Action: "deploy"}, {Actor: "alice"}} {
		if _, err := db.AppendJournal(t.Context(), e); err == nil || !strings.Contains(err.Error(), "journal entry has no") {
			t.Errorf("AppendJournal(%+v) error = %v, want a missing field", e, err)
		}
	}
	if all, err := db.JournalAll(t.Context()); err != nil || len(all) != 0 {
		t.Errorf("JournalAll = %d entries, %v; want none", len(all), err)
	}
}

func TestJournalFilter(t *testing.T) {
	db := sqlstoretest.Open(t)
	db.SetClock(clock(t0)) // entry n is at t0 + n seconds
	appendAll(t, db,
		journal.Entry{Actor: "alice", Action: "apply", Hosts: []string{"web1", "web2"}},
		journal.Entry{Actor: "bob", Action: "apply", Hosts: []string{"web2"}},
		journal.Entry{Actor: "alice", Action: "deploy", Hosts: []string{"db1"}},
		journal.Entry{Actor: "phenix", Action: "check"},
		journal.Entry{Actor: "alice", Action: "apply", Hosts: []string{"web10", "web2"}},
	)
	// at returns the Time of entry n as stored: truncated to the microsecond.
	at := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Second).Truncate(time.Microsecond) }
	for _, tt := range []struct {
		name string
		f    journal.Filter
		want []int64
	}{
		{"all", journal.Filter{}, []int64{1, 2, 3, 4, 5}},
		{"host", journal.Filter{Host: "web2"}, []int64{1, 2, 5}},
		{"host is not a prefix", journal.Filter{Host: "web1"}, []int64{1}},
		{"unknown host", journal.Filter{Host: "web3"}, nil},
		{"actor", journal.Filter{Actor: "alice"}, []int64{1, 3, 5}},
		{"since", journal.Filter{Since: at(3)}, []int64{3, 4, 5}},
		{"since in UTC", journal.Filter{Since: at(3).UTC()}, []int64{3, 4, 5}},
		{"since below the microsecond", journal.Filter{Since: at(3).Add(time.Nanosecond)}, []int64{4, 5}},
		{"since the clock, not the stored time", journal.Filter{Since: t0.Add(3 * time.Second)}, []int64{4, 5}},
		{"since the future", journal.Filter{Since: at(6)}, nil},
		{"limit", journal.Filter{Limit: 2}, []int64{4, 5}},
		{"limit above count", journal.Filter{Limit: 10}, []int64{1, 2, 3, 4, 5}},
		{"negative limit", journal.Filter{Limit: -1}, []int64{1, 2, 3, 4, 5}},
		{"host and actor", journal.Filter{Host: "web2", Actor: "alice"}, []int64{1, 5}},
		{"host, actor and limit", journal.Filter{Host: "web2", Actor: "alice", Limit: 1}, []int64{5}},
		{"actor since", journal.Filter{Actor: "alice", Since: at(2)}, []int64{3, 5}},
		{"everything", journal.Filter{Host: "web2", Actor: "alice", Since: at(1), Limit: 5}, []int64{1, 5}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			es, err := db.Journal(t.Context(), tt.f)
			if err != nil {
				t.Fatal(err)
			}
			var got []int64
			for _, e := range es {
				got = append(got, e.Seq)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Journal(%+v) seqs (-want +got):\n%s", tt.f, diff)
			}
		})
	}
}

// tamper appends n entries to a fresh database, runs the raw SQL queries,
// and returns the database.
func tamper(t *testing.T, n int, queries ...string) *sqlstore.DB {
	t.Helper()
	db := sqlstoretest.Open(t)
	for i := range n {
		appendAll(t, db, journal.Entry{Actor: "alice", Action: "apply", Hosts: []string{"web1"}, Summary: fmt.Sprint("entry ", i+1)})
	}
	for _, q := range queries {
		if err := db.ExecRaw(t.Context(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	return db
}

// verify runs journal.Verify on the whole journal and VerifyJournal, and
// checks both errors against want (nil for an intact journal); wantHead is
// what VerifyJournal should report instead, when it differs.
func verify(t *testing.T, db *sqlstore.DB, want, wantHead *journal.ChainError) {
	t.Helper()
	all, err := db.JournalAll(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if wantHead == nil {
		wantHead = want
	}
	checkChain(t, "Verify", journal.Verify(all), want)
	checkChain(t, "VerifyJournal", db.VerifyJournal(t.Context()), wantHead)
}

func checkChain(t *testing.T, what string, err error, want *journal.ChainError) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Errorf("%s: %v", what, err)
		}
		return
	}
	var ce *journal.ChainError
	if !errors.As(err, &ce) {
		t.Fatalf("%s error = %v, want a *journal.ChainError", what, err)
	}
	if ce.Seq != want.Seq || ce.Kind != want.Kind || !strings.Contains(ce.Detail, want.Detail) {
		t.Errorf("%s error = %v, want seq %d %v: …%s…", what, err, want.Seq, want.Kind, want.Detail)
	}
}

func TestTamperEdit(t *testing.T) {
	db := tamper(t, 3, "UPDATE journal SET summary = 'nothing to see' WHERE seq = 2")
	verify(t, db, &journal.ChainError{Seq: 2, Kind: journal.Edited, Detail: "stored hash"}, nil)
}

func TestTamperDeleteMiddle(t *testing.T) {
	db := tamper(t, 3, "DELETE FROM journal WHERE seq = 2")
	verify(t, db, &journal.ChainError{Seq: 3, Kind: journal.Deleted, Detail: "seq 2 is missing"}, nil)
	es, err := db.Journal(t.Context(), journal.Filter{Host: "web1"})
	if err != nil || len(es) != 2 {
		t.Errorf("Journal(host) = %d entries, %v; want 2 (journal_host follows journal)", len(es), err)
	}
}

// TestTamperDeleteLast removes the last entry: the rest is an intact chain,
// which only the head shows is short, and the next append links to the
// missing entry.
func TestTamperDeleteLast(t *testing.T) {
	db := tamper(t, 3, "DELETE FROM journal WHERE seq = 3")
	verify(t, db, nil, &journal.ChainError{Seq: 3, Kind: journal.Deleted, Detail: "removed from the end"})
	e := appendAll(t, db, journal.Entry{Actor: "alice", Action: "apply"})[0]
	if e.Seq != 4 {
		t.Errorf("next Seq = %d, want 4", e.Seq)
	}
	verify(t, db, &journal.ChainError{Seq: 4, Kind: journal.Deleted, Detail: "seq 3 is missing"}, nil)
}

func TestTamperEditAndRehash(t *testing.T) {
	db := sqlstoretest.Open(t)
	es := appendAll(t, db,
		journal.Entry{Actor: "alice", Action: "apply"},
		journal.Entry{Actor: "mallory", Action: "command.run", Summary: "cat /etc/shadow"},
		journal.Entry{Actor: "alice", Action: "apply"},
	)
	forged := es[1]
	forged.Summary = "uptime"
	if err := db.ExecRaw(t.Context(), "UPDATE journal SET summary = ?, hash = ? WHERE seq = 2", forged.Summary, forged.ComputeHash()); err != nil {
		t.Fatal(err)
	}
	verify(t, db, &journal.ChainError{Seq: 3, Kind: journal.Deleted, Detail: "is not the hash"}, nil)
}

// TestConcurrentAppends appends from many goroutines on one DB.
func TestConcurrentAppends(t *testing.T) {
	db := sqlstoretest.Open(t)
	appendConcurrently(t, []*sqlstore.DB{db}, 8, 25)
	checkContiguous(t, db, 200)
}

// TestConcurrentHandles appends through two DBs opened on the same
// database, as two processes would (each has its own connections).
func TestConcurrentHandles(t *testing.T) {
	dsn := sqlstoretest.DSN(t)
	var dbs []*sqlstore.DB
	for range 2 {
		db, err := sqlstore.Open(t.Context(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		dbs = append(dbs, db)
	}
	appendConcurrently(t, dbs, 4, 25)
	checkContiguous(t, dbs[0], 200)
}

// appendConcurrently appends perGoroutine entries from goroutines
// goroutines on each of dbs.
func appendConcurrently(t *testing.T, dbs []*sqlstore.DB, goroutines, perGoroutine int) {
	t.Helper()
	g, ctx := errgroup.WithContext(t.Context())
	for d, db := range dbs {
		for i := range goroutines {
			g.Go(func() error {
				for j := range perGoroutine {
					e := journal.Entry{Actor: fmt.Sprintf("db%d-g%d", d, i), Action: "apply", Hosts: []string{fmt.Sprint("h", j)}, Summary: fmt.Sprint(j)}
					if _, err := db.AppendJournal(ctx, e); err != nil {
						return err
					}
				}
				return nil
			})
		}
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
}

// checkContiguous checks that the journal of db holds n entries numbered
// 1 to n in an intact chain.
func checkContiguous(t *testing.T, db *sqlstore.DB, n int) {
	t.Helper()
	all, err := db.JournalAll(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != n {
		t.Fatalf("journal holds %d entries, want %d", len(all), n)
	}
	for i, e := range all {
		if e.Seq != int64(i+1) {
			t.Fatalf("entry %d has Seq %d", i, e.Seq)
		}
	}
	if err := db.VerifyJournal(t.Context()); err != nil {
		t.Error(err)
	}
}

// TestReopen closes the database and opens it again, as a restarted
// server does: the chain goes on.
func TestReopen(t *testing.T) {
	dsn := sqlstoretest.DSN(t)
	open := func() *sqlstore.DB {
		db, err := sqlstore.Open(t.Context(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		return db
	}
	db := open()
	before := appendAll(t, db, journal.Entry{Actor: "alice", Action: "apply"}, journal.Entry{Actor: "alice", Action: "deploy"})
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = open()
	t.Cleanup(func() { db.Close() })
	after := appendAll(t, db, journal.Entry{Actor: "bob", Action: "rollback"})[0]
	if after.Seq != 3 || after.PrevHash != before[1].Hash {
		t.Errorf("after reopening, appended seq %d with prev_hash %.12s, want seq 3 after %.12s", after.Seq, after.PrevHash, before[1].Hash)
	}
	checkContiguous(t, db, 3)
}

func TestContextCancelled(t *testing.T) {
	db := sqlstoretest.Open(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := db.AppendJournal(ctx, journal.Entry{Actor: "alice", Action: "apply"}); !errors.Is(err, context.Canceled) {
		t.Errorf("AppendJournal with a cancelled context: %v, want context.Canceled", err)
	}
	checkContiguous(t, db, 0)
}
