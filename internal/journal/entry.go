package journal

import (
	"errors"
	"time"
)

// Entry is one action recorded in the journal.
//
// The store assigns Seq, Time, PrevHash and Hash when it appends the entry;
// the caller fills in the rest.
type Entry struct {
	Seq      int64     // position in the journal, from 1, without gaps
	Time     time.Time // when the entry was appended, UTC, to the microsecond
	Actor    string    // who acted: a user, a host id, "phenix" for the system itself
	Action   string    // what was done: "host.enrol", "command.run", "deploy", …
	Selector string    // the selector the action was aimed at, if any
	Hosts    []string  // the hosts the action reached
	Params   map[string]string
	Result   string // how it ended: ok, changed, failed, timeout, unreachable, …
	Summary  string // one line for people
	PrevHash string // Hash of the entry before; "" for the first
	Hash     string // ComputeHash of this entry
}

// Validate reports whether e has what every entry needs: an actor and an
// action.
func (e *Entry) Validate() error {
	switch {
	case e.Actor == "":
		return errors.New("journal entry has no actor")
	case e.Action == "":
		return errors.New("journal entry has no action")
	}
	return nil
}

// TimeFormat is the layout of an entry's Time, in UTC, in the hash encoding.
// Stores may keep times as text in this layout: it has a fixed width, so
// text order is time order.
const TimeFormat = "2006-01-02T15:04:05.000000Z"

// FormatTime returns t in UTC as TimeFormat, truncated to the microsecond.
func FormatTime(t time.Time) string {
	return t.UTC().Format(TimeFormat)
}

// Filter selects entries of the journal. Its zero value selects them all.
type Filter struct {
	Host  string    // only entries whose Hosts contain Host
	Actor string    // only entries by Actor
	Since time.Time // only entries at or after Since
	Limit int       // at most the Limit newest of them; 0 (or less) for no limit
}
