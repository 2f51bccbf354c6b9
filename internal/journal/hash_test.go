package journal

import (
	"testing"
	"time"
)

// base is an entry with every field set.
func base() Entry {
	return Entry{
		Seq:      7,
		Time:     time.Date(2025, 3, 14, 15, 9, 26, 535897000, time.UTC),
		Actor:    "alice",
		Action:   "command.run",
		Selector: "role=web",
		Hosts:    []string{"web1", "web2"},
		Params:   map[string]string{"name": "restart", "token": Masked},
		Result:   "ok",
		Summary:  "restarted the app server on 2 hosts",
		PrevHash: "5e1f3f6ce1f4a6bd37a3b2a7c4e2f1d0b9a8c7d6e5f4a3b2c1d0e9f8a7b6c5d4",
	}
}

// TestHashGolden pins the encoding: if this hash changes, every stored
// journal stops verifying.
func TestHashGolden(t *testing.T) {
	e := base()
	const want = "397f1c445fc82a6dc93156e29fb88252534071b8eb6e1eab532094389e92b1c8"
	if got := e.ComputeHash(); got != want {
		t.Errorf("ComputeHash() = %s, want %s\nencoding: %q", got, want, e.encode())
	}
}

func TestHashEncoding(t *testing.T) {
	e := base()
	const want = "17:phenix-journal-v1,1:7,27:2025-03-14T15:09:26.535897Z,5:alice,11:command.run,8:role=web,1:2,4:web1,4:web2,1:2,4:name,7:restart,5:token,8:********,2:ok,35:restarted the app server on 2 hosts,64:5e1f3f6ce1f4a6bd37a3b2a7c4e2f1d0b9a8c7d6e5f4a3b2c1d0e9f8a7b6c5d4,"
	if got := string(e.encode()); got != want {
		t.Errorf("encode() =\n%s\nwant\n%s", got, want)
	}
}

// TestHashCoversEveryField changes one field at a time and expects another
// hash each time.
func TestHashCoversEveryField(t *testing.T) {
	for _, tt := range []struct {
		name   string
		change func(*Entry)
	}{
		{"seq", func(e *Entry) { e.Seq++ }},
		{"time", func(e *Entry) { e.Time = e.Time.Add(time.Microsecond) }},
		{"actor", func(e *Entry) { e.Actor = "bob" }},
		{"action", func(e *Entry) { e.Action = "deploy" }},
		{"selector", func(e *Entry) { e.Selector = "" }},
		{"host added", func(e *Entry) { e.Hosts = append(e.Hosts, "web3") }},
		{"hosts order", func(e *Entry) { e.Hosts = []string{"web2", "web1"} }},
		{"hosts joined", func(e *Entry) { e.Hosts = []string{"web1,4:web2"} }},
		{"param value", func(e *Entry) { e.Params = map[string]string{"name": "stop", "token": Masked} }},
		{"param key", func(e *Entry) { e.Params = map[string]string{"nam": "restart", "token": Masked} }},
		{"param removed", func(e *Entry) { e.Params = map[string]string{"name": "restart"} }},
		{"result", func(e *Entry) { e.Result = "failed" }},
		{"summary", func(e *Entry) { e.Summary += "." }},
		{"prev hash", func(e *Entry) { e.PrevHash = "" }},
		{"boundary between actor and action", func(e *Entry) { e.Actor, e.Action = "alicec", "ommand.run" }},
		{"host moved to selector", func(e *Entry) { e.Selector, e.Hosts = "role=web1:", []string{"web2"} }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := base()
			tt.change(&e)
			b := base()
			if e.ComputeHash() == b.ComputeHash() {
				t.Errorf("changing %s keeps the hash", tt.name)
			}
		})
	}
}

// TestHashSameEntry expects the same hash for representations of the same
// entry.
func TestHashSameEntry(t *testing.T) {
	for _, tt := range []struct {
		name   string
		change func(*Entry)
	}{
		{"another time zone", func(e *Entry) { e.Time = e.Time.In(time.FixedZone("CET", 3600)) }},
		{"below the microsecond", func(e *Entry) { e.Time = e.Time.Add(999 * time.Nanosecond) }},
		{"hash field", func(e *Entry) { e.Hash = "anything" }},
		{"params copied", func(e *Entry) { e.Params = map[string]string{"token": Masked, "name": "restart"} }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := base()
			tt.change(&e)
			b := base()
			if e.ComputeHash() != b.ComputeHash() {
				t.Errorf("%s changes the hash", tt.name)
			}
		})
	}
	empty, nils := base(), base()
	empty.Hosts, empty.Params = []string{}, map[string]string{}
	nils.Hosts, nils.Params = nil, nil
	if empty.ComputeHash() != nils.ComputeHash() {
		t.Errorf("empty and nil Hosts and Params hash differently")
	}
}
