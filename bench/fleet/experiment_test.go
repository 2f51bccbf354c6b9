package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/phenixhq/phenix/bench/internal/benchkit"
)

// TestExperiment runs the server in this process, with the simulator as a
// child, and writes heap and CPU profiles of the server alone: with the
// fleet connected, over job runs, and over a restart. It is an aid to find
// bottlenecks, not a test:
//
//	PHENIX_FLEET_EXPERIMENT=10000 PHENIX_FLEET_EXPERIMENT_DIR=/tmp/exp \
//	  go test -run Experiment -v -timeout 1h ./bench/fleet
//	go tool pprof -top /tmp/exp/heap-connected.pprof
//
// The directory keeps the server's data and the enrolled identities
// between runs. GOMEMLIMIT and GODEBUG apply to the server only, and
// PHENIX_FLEET_SIM_CPUPROFILE=FILE profiles the simulator.
func TestExperiment(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("PHENIX_FLEET_EXPERIMENT"))
	dir := os.Getenv("PHENIX_FLEET_EXPERIMENT_DIR")
	if n <= 0 || dir == "" {
		t.Skip("an experiment, not a test: set PHENIX_FLEET_EXPERIMENT=N and PHENIX_FLEET_EXPERIMENT_DIR")
	}
	runs := 5
	if v, err := strconv.Atoi(os.Getenv("PHENIX_FLEET_EXPERIMENT_RUNS")); err == nil {
		runs = v
	}
	ctx := t.Context()
	f := startTestFleet(t, dir, n)
	c, sim := f.c, f.sim
	memReport(t, dir, "connected")

	profile(t, dir, "cpu-jobs", func() {
		for i := range runs {
			tm, err := runJob(ctx, c, n, i == 0)
			if err != nil {
				t.Error(err)
			}
			t.Logf("job %d: %v", i+1, tm)
			if err := sim.idle(ctx, time.Minute); err != nil {
				t.Fatal(err)
			}
		}
	})
	memReport(t, dir, "after-jobs")

	if err := sim.mark(ctx); err != nil {
		t.Fatal(err)
	}
	profile(t, dir, "cpu-restart", func() {
		closed, started := f.restart(t)
		t.Logf("closed in %v, started in %v", started.Sub(closed), time.Since(started))
		back, last, err := sim.back(ctx, backWithin)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%d back %v after the close, %v after the start", back, last.Sub(closed), last.Sub(started))
	})
	memReport(t, dir, "after-restart")
	st, err := sim.stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("simulator: %v", st)
}

// profile writes a CPU profile of f to dir/name.pprof.
func profile(t *testing.T, dir, name string, f func()) {
	out, err := os.Create(filepath.Join(dir, name+".pprof"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if err := pprof.StartCPUProfile(out); err != nil {
		t.Fatal(err)
	}
	defer pprof.StopCPUProfile()
	f()
}

// memReport logs this process's memory and writes a heap profile to
// dir/heap-name.pprof.
func memReport(t *testing.T, dir, name string) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	m, err := benchkit.ProcStatus(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: RSS %s (anonymous %s), peak %s; heap in use %s, stacks %s, goroutines %d, Go runtime total %s", name,
		fmtKiB(m.RSS), fmtKiB(m.Anon), fmtKiB(m.HWM), mib(ms.HeapInuse), mib(ms.StackInuse), runtime.NumGoroutine(), mib(ms.Sys))
	var classes []string
	for _, d := range metrics.All() {
		if strings.HasPrefix(d.Name, "/memory/classes/") && d.Name != "/memory/classes/total:bytes" {
			s := []metrics.Sample{{Name: d.Name}}
			metrics.Read(s)
			if v := s[0].Value.Uint64(); v >= 1<<20 {
				classes = append(classes, fmt.Sprintf("%s %s", strings.TrimSuffix(strings.TrimPrefix(d.Name, "/memory/classes/"), ":bytes"), mib(v)))
			}
		}
	}
	t.Logf("%s: runtime memory: %s", name, strings.Join(classes, ", "))
	f, err := os.Create(filepath.Join(dir, "heap-"+name+".pprof"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		t.Fatal(err)
	}
}

func mib(b uint64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
