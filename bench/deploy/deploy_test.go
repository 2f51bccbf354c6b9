package main

import (
	"bytes"
	"encoding/json"
	"testing"
)

// TestBenchmark runs the whole benchmark small: 2 hosts, a 1 MB version,
// one run, every phase verified.
func TestBenchmark(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a server, agents and apps")
	}
	var out, log bytes.Buffer
	if code := run(t.Context(), []string{"-hosts", "2", "-size", "1", "-runs", "1", "-json", "-dir", t.TempDir()}, &out, &log); code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out.String(), log.String())
	}
	var r result
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Summary) != 4 || len(r.Rounds) != 1 || len(r.Rounds[0].Phases) != 4 || r.Failures != nil {
		t.Errorf("results: %s", out.String())
	}
}

func TestFlags(t *testing.T) {
	for _, args := range [][]string{{"-hosts", "0"}, {"-runs", "0"}, {"extra"}, {"-size", "-1"}} {
		var out, log bytes.Buffer
		if code := run(t.Context(), args, &out, &log); code != 64 {
			t.Errorf("%q: exit %d, want 64", args, code)
		}
	}
}
