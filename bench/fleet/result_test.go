package main

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/phenixhq/phenix/bench/internal/benchkit"
)

func TestSummarize(t *testing.T) {
	for _, tt := range []struct {
		name string
		ms   []float64
		want summary
	}{
		{name: "empty", want: summary{}},
		{name: "one", ms: []float64{7}, want: summary{Runs: 1, P50: 7, P99: 7, Min: 7, Max: 7}},
		// Nearest rank: the p50 of 4 is the 2nd, the p99 the 4th.
		{name: "four", ms: []float64{4, 1, 3, 2}, want: summary{Runs: 4, P50: 2, P99: 4, Min: 1, Max: 4}},
		{name: "twenty", ms: []float64{20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1},
			want: summary{Runs: 20, P50: 10, P99: 20, Min: 1, Max: 20}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, summarize(tt.ms)); diff != "" {
				t.Errorf("summarize(%v) (-want +got):\n%s", tt.ms, diff)
			}
		})
	}
}

func TestFields(t *testing.T) {
	got := fields(`stats agents=3 pending=0 last_error="sim-00001: read: connection reset" x=1`, "stats")
	want := map[string]string{"agents": "3", "pending": "0", "last_error": "sim-00001: read: connection reset", "x": "1"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("fields (-want +got):\n%s", diff)
	}
	if got := fields("ready n=1", "stats"); got != nil {
		t.Errorf("fields of another line = %v, want nil", got)
	}
}

func TestSimIndex(t *testing.T) {
	for id, want := range map[string]int{"sim-00000": 0, "sim-09999": 9999, "sim-99999": 99999,
		"bench-agent": -1, "sim-1": -1, "sim-0000x": -1, "sim--0001": -1} {
		if got := simIndex(id); got != want {
			t.Errorf("simIndex(%q) = %d, want %d", id, got, want)
		}
	}
	if simIndex(simID(42)) != 42 {
		t.Errorf("simIndex(simID(42)) = %d", simIndex(simID(42)))
	}
}

func TestEvaluate(t *testing.T) {
	r := &results{
		Phases: []phaseResult{
			{N: 1000, Job: summary{Runs: 20, P50: 100, P99: 150}, Server: benchkit.Mem{HWM: 200 << 10}},
			{N: 10000, Job: summary{Runs: 20, P50: 900, P99: 2500}, Server: benchkit.Mem{HWM: 900 << 10},
				Restarts: []restartResult{{Back: 10000, BackMS: 14000, Server: benchkit.Mem{HWM: 940 << 10}}, {Back: 10000, BackMS: 29000, Stale: 1}}},
		},
		Agent: &agentResult{Mem: benchkit.Mem{RSS: 20 << 10, HWM: 21 << 10}},
	}
	r.evaluate()
	var got []string
	for _, tg := range r.Targets {
		got = append(got, tg.Status+": "+tg.Measured)
	}
	want := []string{
		"met: 900 ms",
		"MISSED: 2.50 s (20 runs)",
		"met: 940.0 MiB (986 MB)",
		"met: 29.00 s (worst of 2, from SIGTERM)",
		"MISSED: 1 stale over 2 restarts",
		"MISSED: 20.0 MiB (21.0 MB) (peak 21.0 MiB)",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("targets (-want +got):\n%s", diff)
	}

	// Without the 10,000-host phase, its targets are not measured.
	r.Phases = r.Phases[:1]
	r.evaluate()
	if n := strings.Count(targetStatuses(r), notMeasured); n != 5 {
		t.Errorf("targets without 10,000 hosts: %s; want 5 not measured", targetStatuses(r))
	}
}

func targetStatuses(r *results) string {
	var s []string
	for _, tg := range r.Targets {
		s = append(s, tg.Status)
	}
	return strings.Join(s, ", ")
}
