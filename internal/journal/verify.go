package journal

import "fmt"

// Kind says how a hash chain is broken.
type Kind int

const (
	// Edited: an entry's content no longer matches its Hash, or the last
	// entry no longer matches the head.
	Edited Kind = iota + 1
	// Deleted: entries are missing, seen as a gap in Seq or as a PrevHash
	// that is not the Hash of the entry before.
	Deleted
	// Reordered: Seq does not increase from one entry to the next.
	Reordered
)

func (k Kind) String() string {
	switch k {
	case Edited:
		return "edited"
	case Deleted:
		return "deleted"
	case Reordered:
		return "reordered"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// ChainError reports the first place where a journal's hash chain breaks.
// It is the error type of Verify and VerifyHead.
type ChainError struct {
	Seq    int64  // the entry at which the chain breaks
	Kind   Kind   // how it breaks
	Detail string // why, for people
}

func (e *ChainError) Error() string {
	return fmt.Sprintf("seq %d %s: %s", e.Seq, e.Kind, e.Detail)
}

// Verify checks that entries, a whole journal in the order the store
// returns it, form an intact hash chain: Seq runs from 1 without a gap,
// each Hash is ComputeHash of its entry, and each PrevHash is the Hash of
// the entry before ("" for the first). It returns nil for an intact chain
// (an empty one included) and otherwise a *ChainError for the first entry
// that breaks it. Checks run entry by entry in this order: the hash (an
// edited entry), then the position (a gap or a step back), then the link to
// the entry before.
//
// Verify cannot see entries removed from the end of the journal, since what
// is left is an intact chain; VerifyHead can.
func Verify(entries []Entry) error {
	for i := range entries {
		e := &entries[i]
		if got := e.ComputeHash(); got != e.Hash {
			return &ChainError{Seq: e.Seq, Kind: Edited, Detail: fmt.Sprintf("its content hashes to %s, not to its stored hash %s", short(got), short(e.Hash))}
		}
		var prev *Entry
		if i > 0 {
			prev = &entries[i-1]
		}
		if err := position(prev, e, entries[i+1:]); err != nil {
			return err
		}
		want := ""
		if prev != nil {
			want = prev.Hash
		}
		if e.PrevHash != want {
			detail := fmt.Sprintf("its prev_hash %s is not the hash %s of seq %d: entries before it were removed or replaced", short(e.PrevHash), short(want), e.Seq-1)
			if prev == nil {
				detail = fmt.Sprintf("the first entry has prev_hash %s, not \"\": entries before it were removed", short(e.PrevHash))
			}
			return &ChainError{Seq: e.Seq, Kind: Deleted, Detail: detail}
		}
	}
	return nil
}

// position checks that e comes right after prev (or is seq 1 when prev is
// nil). A gap is a deletion, unless a missing entry turns up in rest, the
// entries after e: then it is a reordering.
func position(prev, e *Entry, rest []Entry) error {
	after := int64(0)
	if prev != nil {
		after = prev.Seq
	}
	switch {
	case e.Seq < 1:
		return &ChainError{Seq: e.Seq, Kind: Edited, Detail: "a seq starts at 1"}
	case e.Seq <= after:
		return &ChainError{Seq: e.Seq, Kind: Reordered, Detail: fmt.Sprintf("it comes after seq %d", after)}
	case e.Seq == after+1:
		return nil
	}
	for _, r := range rest {
		if r.Seq > after && r.Seq < e.Seq {
			return &ChainError{Seq: e.Seq, Kind: Reordered, Detail: fmt.Sprintf("it comes before seq %d", r.Seq)}
		}
	}
	detail := fmt.Sprintf("seq %d is missing", after+1)
	if e.Seq > after+2 {
		detail = fmt.Sprintf("seqs %d to %d are missing", after+1, e.Seq-1)
	}
	return &ChainError{Seq: e.Seq, Kind: Deleted, Detail: detail}
}

// Head is what a store records about the last entry it appended, apart from
// the entries themselves: its Seq and Hash, or zero and "" before the first
// append.
type Head struct {
	Seq  int64
	Hash string
}

// VerifyHead is Verify for a whole journal whose store also records its
// head. Beyond what Verify finds, it reports entries removed from the end of
// the journal (Deleted), a last entry that is not the one the store
// appended, and entries added behind the store's back (both Edited).
func VerifyHead(entries []Entry, head Head) error {
	if err := Verify(entries); err != nil {
		return err
	}
	var last Head
	if n := len(entries); n > 0 {
		last = Head{Seq: entries[n-1].Seq, Hash: entries[n-1].Hash}
	}
	switch {
	case last.Seq < head.Seq:
		detail := fmt.Sprintf("the journal ends at seq %d but its head is seq %d: entries were removed from the end", last.Seq, head.Seq)
		return &ChainError{Seq: last.Seq + 1, Kind: Deleted, Detail: detail}
	case last.Seq > head.Seq:
		detail := fmt.Sprintf("the head is seq %d: seq %d was not appended by the store", head.Seq, head.Seq+1)
		return &ChainError{Seq: head.Seq + 1, Kind: Edited, Detail: detail}
	case last.Hash != head.Hash:
		detail := fmt.Sprintf("its hash %s is not the head's %s: the last entry was replaced", short(last.Hash), short(head.Hash))
		return &ChainError{Seq: last.Seq, Kind: Edited, Detail: detail}
	}
	return nil
}

// short abbreviates a hash for messages.
func short(h string) string {
	if h == "" {
		return `""`
	}
	if len(h) > 12 {
		return h[:12] + "…"
	}
	return h
}
