package main

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/phenixhq/phenix/bench/internal/benchkit"
)

// results is the outcome of one benchmark; it is also the -json output.
type results struct {
	Host machine `json:"host"`
	// ServerEnv is what the benchmark adds to the server's environment.
	ServerEnv []string      `json:"server_env"`
	Phases    []phaseResult `json:"phases"`
	Agent     *agentResult  `json:"idle_agent,omitempty"`
	// Targets are evaluated from Phases and Agent (evaluate).
	Targets []target `json:"targets"`
	// Failures lists every run that did not do the right thing.
	Failures []string `json:"failures,omitempty"`
}

type machine struct {
	CPUs   int    `json:"cpus"`
	Kernel string `json:"kernel"`
	Go     string `json:"go"`
	// Load is the 1-minute load average before and after the benchmark.
	Load [2]float64 `json:"load_avg"`
	// Nofile is RLIMIT_NOFILE (soft = hard) of the benchmark and its
	// children; Ports is how many local ports the kernel hands out.
	Nofile   uint64   `json:"nofile"`
	Ports    int      `json:"ephemeral_ports"`
	Warnings []string `json:"warnings,omitempty"`
}

// phaseResult is everything measured with one fleet size.
type phaseResult struct {
	N int `json:"n"`
	// Enrolled is how many hosts were enrolled in this phase (the others'
	// identities were cached); EnrolMS is how long that took.
	Enrolled  int     `json:"enrolled"`
	EnrolMS   float64 `json:"enrol_ms"`
	ConnectMS float64 `json:"connect_ms"` // all N connected and greeted
	WarmupMS  float64 `json:"warmup_ms"`
	// JobMS holds the latency of each timed job run that succeeded.
	JobMS []float64 `json:"job_ms"`
	Job   summary   `json:"job"`
	// PostedMS holds, for the same runs, when the POST was answered: the
	// job stored with a pending result per host, and sent.
	PostedMS   []float64 `json:"posted_ms"`
	Posted     summary   `json:"posted"`
	FailedRuns int       `json:"failed_runs"`
	// CPU time per job run, of the server and of the simulator.
	ServerCPUMS float64 `json:"server_cpu_per_job_ms"`
	SimCPUMS    float64 `json:"sim_cpu_per_job_ms"`
	// Server memory with N agents connected, after the job runs.
	Server benchkit.Mem `json:"server_mem"`
	Sim    benchkit.Mem `json:"sim_mem"`

	Restarts []restartResult `json:"restarts,omitempty"`
	// CheckJobMS is the latency of one job run after the restarts.
	CheckJobMS float64           `json:"check_job_ms,omitempty"`
	SimStats   map[string]string `json:"sim_stats,omitempty"`
	Error      string            `json:"error,omitempty"`
}

// restartResult is one restart of the server under its fleet.
type restartResult struct {
	StopMS  float64 `json:"stop_ms"`  // SIGTERM until the process exited
	StartMS float64 `json:"start_ms"` // new process until it served
	// BackMS is from SIGTERM until the last agent was greeted again;
	// BackAfterStartMS from the new process's start.
	BackMS           float64 `json:"back_ms"`
	BackAfterStartMS float64 `json:"back_after_start_ms"`
	Back             int     `json:"back"` // agents greeted again
	// FailedAttempts counts the agents' attempts to reconnect that failed:
	// while the server was away, or a handshake that failed.
	FailedAttempts int `json:"failed_attempts"`
	// CPU time until every agent was back: of the new server since its
	// start, and of the simulator since SIGTERM.
	ServerCPUMS float64      `json:"server_cpu_ms"`
	SimCPUMS    float64      `json:"sim_cpu_ms"`
	Online      int          `json:"online"` // N hosts the server shows online, seen since its start
	Stale       int          `json:"stale"`  // N hosts not so
	Server      benchkit.Mem `json:"server_mem"`
	Error       string       `json:"error,omitempty"`
}

// agentResult is the memory of one idle real agent.
type agentResult struct {
	OnlineMS float64      `json:"online_ms"` // from its start until the server shows it online
	IdleS    float64      `json:"idle_s"`
	Mem      benchkit.Mem `json:"mem"`
	Error    string       `json:"error,omitempty"`
}

// summary summarises latencies in milliseconds. P50 and P99 are nearest-
// rank percentiles: of 20 runs, the P99 is the largest.
type summary struct {
	Runs int     `json:"runs"`
	P50  float64 `json:"p50_ms"`
	P99  float64 `json:"p99_ms"`
	Min  float64 `json:"min_ms"`
	Max  float64 `json:"max_ms"`
}

func summarize(ms []float64) summary {
	if len(ms) == 0 {
		return summary{}
	}
	s := slices.Sorted(slices.Values(ms))
	return summary{Runs: len(s), P50: percentile(s, 50), P99: percentile(s, 99), Min: s[0], Max: s[len(s)-1]}
}

// percentile returns the nearest-rank p-th percentile of sorted, which
// must not be empty.
func percentile(sorted []float64, p float64) float64 {
	i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// The targets, for 10,000 hosts.
const (
	targetHosts     = 10000
	targetP50       = time.Second
	targetP99       = 2 * time.Second
	targetServerMem = 1_000_000_000 // bytes: 1 GB, 953.7 MiB
	targetBack      = 30 * time.Second
	targetAgentMem  = 15_000_000 // bytes: 15 MB, 14.3 MiB
)

// target is one goal and whether it was met.
type target struct {
	Name     string `json:"name"`
	Goal     string `json:"goal"`
	Measured string `json:"measured"`
	// Status is met, missed or "not measured".
	Status string `json:"status"`
}

const (
	met         = "met"
	missed      = "MISSED"
	notMeasured = "not measured"
)

func verdict(ok bool) string {
	if ok {
		return met
	}
	return missed
}

// evaluate fills Targets: those for 10,000 hosts are judged on the phase
// with N = 10,000 only.
func (r *results) evaluate() {
	r.Targets = nil
	var p *phaseResult
	for i := range r.Phases {
		if r.Phases[i].N == targetHosts {
			p = &r.Phases[i]
		}
	}
	add := func(name, goal, measured, status string) {
		r.Targets = append(r.Targets, target{Name: name, Goal: goal, Measured: measured, Status: status})
	}
	const fleet = "10,000 hosts"
	if p == nil || p.Job.Runs == 0 {
		add(fleet+": all results stored, p50", "< 1 s", "-", notMeasured)
		add(fleet+": all results stored, p99", "< 2 s", "-", notMeasured)
	} else {
		add(fleet+": all results stored, p50", "< 1 s", fmtMS(p.Job.P50), verdict(p.Job.P50 < ms(targetP50)))
		add(fleet+": all results stored, p99", "< 2 s", fmt.Sprintf("%s (%d runs)", fmtMS(p.Job.P99), p.Job.Runs), verdict(p.Job.P99 < ms(targetP99)))
	}
	if p == nil || p.Server.HWM == 0 {
		add("server memory with 10,000 agents (peak RSS)", "< 1 GB", "-", notMeasured)
	} else {
		peak := p.Server.HWM
		for _, rs := range p.Restarts {
			peak = max(peak, rs.Server.HWM)
		}
		add("server memory with 10,000 agents (peak RSS)", "< 1 GB", fmtMem(peak), verdict(peak*1024 < targetServerMem))
	}
	if p == nil || len(p.Restarts) == 0 {
		add("after a restart, all 10,000 TLS agents back", "< 30 s", "-", notMeasured)
		add("after a restart, none left stale", "0", "-", notMeasured)
	} else {
		worst, stale, ok := 0.0, 0, true
		for _, rs := range p.Restarts {
			if rs.Error != "" || rs.Back != p.N {
				ok = false
				continue
			}
			worst = max(worst, rs.BackMS)
			stale += rs.Stale
		}
		m := fmt.Sprintf("%s (worst of %d, from SIGTERM)", fmtMS(worst), len(p.Restarts))
		if !ok {
			m = "not all back"
		}
		add("after a restart, all 10,000 TLS agents back", "< 30 s", m, verdict(ok && worst < ms(targetBack)))
		add("after a restart, none left stale", "0", fmt.Sprintf("%d stale over %d restarts", stale, len(p.Restarts)), verdict(ok && stale == 0))
	}
	if r.Agent == nil || r.Agent.Error != "" {
		add("one idle agent (RSS)", "< 15 MB", "-", notMeasured)
	} else {
		m := r.Agent.Mem
		add("one idle agent (RSS)", "< 15 MB", fmt.Sprintf("%s (peak %s)", fmtMem(m.RSS), fmtKiB(m.HWM)), verdict(m.RSS*1024 < targetAgentMem))
	}
}

func fmtMS(ms float64) string {
	if ms >= 1000 {
		return fmt.Sprintf("%.2f s", ms/1000)
	}
	return fmt.Sprintf("%.0f ms", ms)
}

func fmtKiB(kib int64) string {
	return fmt.Sprintf("%.1f MiB", float64(kib)/1024)
}

// fmtMem writes a size in MiB and in MB, as the memory targets are in MB
// (10^6 bytes).
func fmtMem(kib int64) string {
	mb := float64(kib) * 1024 / 1e6
	if mb >= 100 {
		return fmt.Sprintf("%s (%.0f MB)", fmtKiB(kib), mb)
	}
	return fmt.Sprintf("%s (%.1f MB)", fmtKiB(kib), mb)
}
