package sqlstore_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sync/errgroup"

	"github.com/phenixhq/phenix/internal/sqlstore"
	"github.com/phenixhq/phenix/internal/sqlstoretest"
)

// allBytes is an archive holding every byte value, NUL included.
func allBytes() []byte {
	b := make([]byte, 512)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

func TestPolicies(t *testing.T) {
	db := sqlstoretest.Open(t)
	if _, err := db.LatestPolicy(t.Context()); !errors.Is(err, sqlstore.ErrNotFound) {
		t.Errorf("LatestPolicy of a new database: error = %v, want ErrNotFound", err)
	}
	if ps, err := db.Policies(t.Context(), 0); err != nil || len(ps) != 0 {
		t.Errorf("Policies of a new database = %v, %v; want none", ps, err)
	}
	put := func(p sqlstore.PolicyRevision) sqlstore.PolicyRevision {
		t.Helper()
		got, err := db.PutPolicy(t.Context(), p)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	one := sqlstore.PolicyRevision{Seq: 42, Hash: "h1", Commit: "abc123", Actor: "alice", CreatedAt: hostTime, Archive: allBytes()}
	two := sqlstore.PolicyRevision{Hash: "h2", Actor: "bob", CreatedAt: hostTime.Add(time.Minute)}
	three := sqlstore.PolicyRevision{Hash: "h3", Actor: "alice", CreatedAt: hostTime.Add(2 * time.Minute), Archive: []byte("tgz")}

	wantOne := one
	wantOne.Seq, wantOne.CreatedAt = 1, stored(one.CreatedAt)
	wantTwo := two
	wantTwo.Seq, wantTwo.CreatedAt, wantTwo.Archive = 2, stored(two.CreatedAt), []byte{}
	wantThree := three
	wantThree.Seq, wantThree.CreatedAt = 3, stored(three.CreatedAt)

	for _, tt := range []struct {
		name string
		in   sqlstore.PolicyRevision
		want sqlstore.PolicyRevision
	}{
		{"first", one, wantOne},
		{"no archive", two, wantTwo},
		{"a hash pushed again", sqlstore.PolicyRevision{Hash: "h1", Actor: "carol", Archive: []byte("other")}, wantOne},
		{"no gap after a push of an old hash", three, wantThree},
	} {
		if diff := cmp.Diff(tt.want, put(tt.in)); diff != "" {
			t.Errorf("%s: PutPolicy (-want +got):\n%s", tt.name, diff)
		}
	}

	if got, err := db.LatestPolicy(t.Context()); err != nil || !cmp.Equal(wantThree, got) {
		t.Errorf("LatestPolicy = %+v, %v; want %+v", got, err, wantThree)
	}
	for _, want := range []sqlstore.PolicyRevision{wantOne, wantTwo, wantThree} {
		if got, err := db.Policy(t.Context(), want.Hash); err != nil || !cmp.Equal(want, got) {
			t.Errorf("Policy(%s) = %+v, %v; want %+v", want.Hash, got, err, want)
		}
	}
	if _, err := db.Policy(t.Context(), "h9"); !errors.Is(err, sqlstore.ErrNotFound) {
		t.Errorf("Policy of a missing hash: error = %v, want ErrNotFound", err)
	}
	list := []sqlstore.PolicyRevision{wantThree, wantTwo, wantOne}
	for i := range list {
		list[i].Archive = nil
	}
	for _, tt := range []struct {
		limit int
		want  []sqlstore.PolicyRevision
	}{
		{0, list},
		{2, list[:2]},
		{5, list},
	} {
		got, err := db.Policies(t.Context(), tt.limit)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("Policies(%d) (-want +got):\n%s", tt.limit, diff)
		}
	}
	if _, err := db.PutPolicy(t.Context(), sqlstore.PolicyRevision{Actor: "alice"}); err == nil {
		t.Errorf("PutPolicy without a hash succeeded")
	}
}

// TestPutPolicyConcurrently pushes from many goroutines at once, some the
// same hash: seqs have no gap and each hash has one.
func TestPutPolicyConcurrently(t *testing.T) {
	db := sqlstoretest.Open(t)
	var g errgroup.Group
	for i := range 16 {
		g.Go(func() error {
			_, err := db.PutPolicy(t.Context(), sqlstore.PolicyRevision{Hash: fmt.Sprintf("h%d", i%8), CreatedAt: hostTime})
			return err
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	ps, err := db.Policies(t.Context(), 0)
	if err != nil {
		t.Fatal(err)
	}
	var seqs []int64
	hashes := map[string]bool{}
	for _, p := range ps {
		seqs = append(seqs, p.Seq)
		hashes[p.Hash] = true
	}
	if want := []int64{8, 7, 6, 5, 4, 3, 2, 1}; !slices.Equal(want, seqs) || len(hashes) != 8 {
		t.Errorf("seqs = %v for %d hashes, want %v for 8", seqs, len(hashes), want)
	}
}
