package main

import (
	"slices"
	"strings"
	"time"
)

// Tool statuses.
const (
	statusOK           = "ok"
	statusNotInstalled = "not installed"
	statusFailed       = "failed"
)

// results is the outcome of one benchmark; it is also the -json output.
type results struct {
	Files  int          `json:"files"`
	Runs   int          `json:"runs"`
	Host   host         `json:"host"`
	Tools  []toolResult `json:"tools"`
	Ratios []ratio      `json:"ratios,omitempty"`
}

type host struct {
	CPUs   int    `json:"cpus"`
	Kernel string `json:"kernel"`
	Go     string `json:"go"`
	// Load is the 1-minute load average before and after the timed
	// runs: other work on the host makes the timings noisy.
	Load [2]float64 `json:"load_avg"`
}

type toolResult struct {
	Tool    string `json:"tool"`
	Version string `json:"version,omitempty"`
	// Command is the exact command of every run.
	Command string        `json:"command,omitempty"`
	Status  string        `json:"status"`
	Error   string        `json:"error,omitempty"`
	Phases  []phaseResult `json:"phases,omitempty"`
	// Stderr holds the distinct lines the tool printed on stderr over
	// all runs, each with how often it was printed.
	Stderr []stderrLine `json:"stderr,omitempty"`
	// StderrMore counts distinct lines left out of Stderr.
	StderrMore int `json:"stderr_more,omitempty"`
}

type phaseResult struct {
	Phase     string    `json:"phase"`
	WallMS    []float64 `json:"wall_ms"`
	MedianMS  float64   `json:"median_ms"`
	MinMS     float64   `json:"min_ms"`
	CPUMS     float64   `json:"median_cpu_ms"`
	MaxRSSKiB int64     `json:"peak_rss_kib"`
}

type stderrLine struct {
	Line  string `json:"line"`
	Count int    `json:"count"`
}

// ratio compares phenix with another tool in one phase: phenix's value
// divided by the other's, so below 1 means phenix is faster or smaller.
type ratio struct {
	Phase  string  `json:"phase"`
	Other  string  `json:"other"`
	WallMS float64 `json:"median_wall"`
	CPUMS  float64 `json:"median_cpu"`
	RSS    float64 `json:"peak_rss"`
}

func (r *results) failed() bool {
	return slices.ContainsFunc(r.Tools, func(t toolResult) bool { return t.Status == statusFailed })
}

// summarize turns the samples of one phase into a phaseResult.
func summarize(phase string, samples []sample) phaseResult {
	p := phaseResult{Phase: phase}
	var cpu []float64
	for _, s := range samples {
		p.WallMS = append(p.WallMS, ms(s.wall))
		cpu = append(cpu, ms(s.cpu))
		p.MaxRSSKiB = max(p.MaxRSSKiB, s.maxRSS)
	}
	p.MedianMS, p.MinMS = median(p.WallMS), slices.Min(p.WallMS)
	p.CPUMS = median(cpu)
	return p
}

// median returns the median of vs, which must not be empty.
func median(vs []float64) float64 {
	s := slices.Sorted(slices.Values(vs))
	n := len(s)
	return (s[(n-1)/2] + s[n/2]) / 2
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// ratios compares phenix with every other tool that passed.
func ratios(tools []toolResult) []ratio {
	i := slices.IndexFunc(tools, func(t toolResult) bool { return t.Tool == "phenix" && t.Status == statusOK })
	if i < 0 {
		return nil
	}
	px := tools[i]
	var rs []ratio
	for _, t := range tools {
		if t.Tool == "phenix" || t.Status != statusOK {
			continue
		}
		for j, p := range t.Phases {
			q := px.Phases[j]
			rs = append(rs, ratio{Phase: p.Phase, Other: t.Tool,
				WallMS: q.MedianMS / p.MedianMS, CPUMS: q.CPUMS / p.CPUMS,
				RSS: float64(q.MaxRSSKiB) / float64(p.MaxRSSKiB)})
		}
	}
	return rs
}

// stderrLines counts the distinct lines of a tool's stderr over all runs,
// keeping the first maxLines distinct ones in order of appearance.
type stderrLines struct {
	lines []stderrLine
	index map[string]int
	more  map[string]bool
}

const maxLines = 10

func (c *stderrLines) add(b []byte) {
	if c.index == nil {
		c.index, c.more = map[string]int{}, map[string]bool{}
	}
	for l := range strings.Lines(string(b)) {
		l = strings.TrimSpace(l)
		switch i, ok := c.index[l]; {
		case l == "":
		case ok:
			c.lines[i].Count++
		case len(c.lines) < maxLines:
			c.index[l] = len(c.lines)
			c.lines = append(c.lines, stderrLine{Line: l, Count: 1})
		default:
			c.more[l] = true
		}
	}
}
