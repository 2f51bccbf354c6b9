package selector

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/phenixhq/phenix/internal/facts"
)

func TestFlattenFacts(t *testing.T) {
	in := map[string]any{
		"os":        "linux",
		"cpu_count": float64(2),
		"load":      0.5,
		"int":       7,
		"virtual":   true,
		"addresses": []any{"10.0.0.5", "fe80::1"},
		"names":     []string{"a", "b"},
		"none":      []any{},
		"gone":      nil,
		"disk":      map[string]any{"root": map[string]any{"size_mb": float64(1024)}},
	}
	want := map[string]string{
		"os":                "linux",
		"cpu_count":         "2",
		"load":              "0.5",
		"int":               "7",
		"virtual":           "true",
		"addresses":         "10.0.0.5,fe80::1",
		"names":             "a,b",
		"none":              "",
		"disk.root.size_mb": "1024",
	}
	if diff := cmp.Diff(want, FlattenFacts(in)); diff != "" {
		t.Errorf("FlattenFacts (-want +got):\n%s", diff)
	}
}

// TestFlattenGatheredFacts matches selectors against the facts of package
// facts, as an agent reports them.
func TestFlattenGatheredFacts(t *testing.T) {
	f := facts.Facts{OS: "linux", Arch: "amd64", CPUCount: 4, MemoryMB: 2048, Addresses: []string{"10.0.0.5", "fe80::1"}}
	b, err := json.Marshal(f) // facts travel as JSON from agent to server
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, fm := range []map[string]any{f.Map(), m} {
		h := Host{ID: "h1", Facts: FlattenFacts(fm)}
		for _, s := range []string{"os=linux,arch=amd64", "cpu_count>2,memory_mb<4096", "addresses=fe80::1", "id=h1"} {
			sel, err := Parse(s)
			if err != nil {
				t.Fatal(err)
			}
			if !sel.Match(h) {
				t.Errorf("%q does not match %v", s, h.Facts)
			}
		}
	}
}
