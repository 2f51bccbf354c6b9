package journal

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// chain returns an intact journal of n entries.
func chain(n int) []Entry {
	t0 := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	var out []Entry
	prev := ""
	for i := 1; i <= n; i++ {
		e := Entry{
			Seq:      int64(i),
			Time:     t0.Add(time.Duration(i) * time.Second),
			Actor:    "alice",
			Action:   "apply",
			Hosts:    []string{"web1"},
			Result:   "ok",
			Summary:  "entry " + string(rune('0'+i)),
			PrevHash: prev,
		}
		e.Hash = e.ComputeHash()
		prev = e.Hash
		out = append(out, e)
	}
	return out
}

// rehash recomputes the hash of every entry from i on, as someone covering
// their tracks would, and relinks them.
func rehash(es []Entry, i int) {
	for ; i < len(es); i++ {
		if i > 0 {
			es[i].PrevHash = es[i-1].Hash
		}
		es[i].Hash = es[i].ComputeHash()
	}
}

func TestVerify(t *testing.T) {
	for _, tt := range []struct {
		name   string
		n      int
		change func([]Entry) []Entry
		want   *ChainError // Detail holds a substring of the wanted Detail
	}{
		{name: "empty", n: 0},
		{name: "one", n: 1},
		{name: "intact", n: 4},
		{
			name:   "summary edited",
			n:      4,
			change: func(es []Entry) []Entry { es[1].Summary = "nothing happened"; return es },
			want:   &ChainError{Seq: 2, Kind: Edited, Detail: "not to its stored hash"},
		},
		{
			name:   "hash emptied",
			n:      4,
			change: func(es []Entry) []Entry { es[2].Hash = ""; return es },
			want:   &ChainError{Seq: 3, Kind: Edited, Detail: `stored hash ""`},
		},
		{
			name:   "seq edited",
			n:      4,
			change: func(es []Entry) []Entry { es[3].Seq = 9; return es },
			want:   &ChainError{Seq: 9, Kind: Edited},
		},
		{
			name: "edited and rehashed",
			n:    4,
			change: func(es []Entry) []Entry {
				es[1].Result = "ok"
				es[1].Summary = "x"
				es[1].Hash = es[1].ComputeHash()
				return es
			},
			want: &ChainError{Seq: 3, Kind: Deleted, Detail: "is not the hash"},
		},
		{
			name:   "middle deleted",
			n:      4,
			change: func(es []Entry) []Entry { return append(es[:1], es[2:]...) },
			want:   &ChainError{Seq: 3, Kind: Deleted, Detail: "seq 2 is missing"},
		},
		{
			name:   "two deleted",
			n:      4,
			change: func(es []Entry) []Entry { return append(es[:1], es[3:]...) },
			want:   &ChainError{Seq: 4, Kind: Deleted, Detail: "seqs 2 to 3 are missing"},
		},
		{
			name:   "first deleted",
			n:      4,
			change: func(es []Entry) []Entry { return es[1:] },
			want:   &ChainError{Seq: 2, Kind: Deleted, Detail: "seq 1 is missing"},
		},
		{
			name: "deleted and renumbered",
			n:    4,
			change: func(es []Entry) []Entry {
				es = append(es[:1], es[2:]...)
				es[1].Seq, es[2].Seq = 2, 3
				es[1].Hash, es[2].Hash = es[1].ComputeHash(), es[2].ComputeHash()
				return es
			},
			want: &ChainError{Seq: 2, Kind: Deleted, Detail: "entries before it were removed or replaced"},
		},
		{
			name: "first deleted and renumbered",
			n:    3,
			change: func(es []Entry) []Entry {
				es = es[1:]
				es[0].Seq, es[1].Seq = 1, 2
				es[0].Hash, es[1].Hash = es[0].ComputeHash(), es[1].ComputeHash()
				return es
			},
			want: &ChainError{Seq: 1, Kind: Deleted, Detail: "the first entry has prev_hash"},
		},
		{
			name:   "swapped",
			n:      4,
			change: func(es []Entry) []Entry { es[1], es[2] = es[2], es[1]; return es },
			want:   &ChainError{Seq: 3, Kind: Reordered, Detail: "it comes before seq 2"},
		},
		{
			name:   "last before first",
			n:      3,
			change: func(es []Entry) []Entry { return []Entry{es[2], es[0], es[1]} },
			want:   &ChainError{Seq: 3, Kind: Reordered, Detail: "it comes before seq 1"},
		},
		{
			name:   "duplicate",
			n:      3,
			change: func(es []Entry) []Entry { return append(es[:2], es[1:]...) },
			want:   &ChainError{Seq: 2, Kind: Reordered, Detail: "it comes after seq 2"},
		},
		{
			name: "inserted",
			n:    3,
			change: func(es []Entry) []Entry {
				x := es[1]
				x.Summary = "forged"
				es = append(es[:2], append([]Entry{x}, es[2:]...)...)
				rehash(es, 2)
				return es
			},
			want: &ChainError{Seq: 2, Kind: Reordered},
		},
		{
			name:   "fully rewritten",
			n:      3,
			change: func(es []Entry) []Entry { es[0].Actor = "mallory"; rehash(es, 0); return es },
			want:   nil, // a chain shows tampering only when it is not rewritten whole
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			es := chain(tt.n)
			if tt.change != nil {
				es = tt.change(es)
			}
			checkChainError(t, Verify(es), tt.want)
		})
	}
}

func TestVerifyHead(t *testing.T) {
	full := chain(3)
	headOf := func(e Entry) Head { return Head{Seq: e.Seq, Hash: e.Hash} }
	replaced := chain(3)
	replaced[2].Summary = "forged"
	rehash(replaced, 2)
	for _, tt := range []struct {
		name    string
		entries []Entry
		head    Head
		want    *ChainError
	}{
		{name: "empty", entries: nil, head: Head{}},
		{name: "intact", entries: full, head: headOf(full[2])},
		{name: "chain broken", entries: append(full[:1:1], full[2]), head: headOf(full[2]), want: &ChainError{Seq: 3, Kind: Deleted, Detail: "seq 2 is missing"}},
		{name: "last removed", entries: full[:2], head: headOf(full[2]), want: &ChainError{Seq: 3, Kind: Deleted, Detail: "ends at seq 2 but its head is seq 3"}},
		{name: "all removed", entries: nil, head: headOf(full[2]), want: &ChainError{Seq: 1, Kind: Deleted, Detail: "ends at seq 0"}},
		{name: "appended behind the store", entries: full, head: headOf(full[1]), want: &ChainError{Seq: 3, Kind: Edited, Detail: "seq 3 was not appended by the store"}},
		{name: "last replaced", entries: replaced, head: headOf(full[2]), want: &ChainError{Seq: 3, Kind: Edited, Detail: "the last entry was replaced"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			checkChainError(t, VerifyHead(tt.entries, tt.head), tt.want)
		})
	}
}

// checkChainError compares err with want, whose Detail is a substring of
// the wanted Detail.
func checkChainError(t *testing.T, err error, want *ChainError) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("error = %v, want nil", err)
		}
		return
	}
	var ce *ChainError
	if !errors.As(err, &ce) {
		t.Fatalf("error = %v (%T), want a *ChainError", err, err)
	}
	if diff := cmp.Diff(want, ce, cmp.Comparer(func(w, g string) bool { return strings.Contains(g, w) || strings.Contains(w, g) })); diff != "" {
		t.Errorf("error %q (-want +got):\n%s", err, diff)
	}
}
