package main

import (
	"fmt"
	"io"
	"slices"
	"text/tabwriter"

	"github.com/phenixhq/phenix/bench/internal/benchkit"
)

// Targets, on the 2-core machine of the issue.
const (
	// deliverTarget bounds the delivery of a 100 MB version to 20 hosts.
	deliverTargetMS = 10000
	// rollbackOverheadMS bounds a rollback's wall time minus the slowest
	// host's own part (its switch, service restart and checks).
	rollbackOverheadMS = 2000
)

// result is what the benchmark measured.
type result struct {
	Hosts      int          `json:"hosts"`
	SizeMB     int          `json:"size_mb"`
	Runs       int          `json:"runs"`
	CPUs       int          `json:"cpus"`
	Kernel     string       `json:"kernel"`
	LoadBefore float64      `json:"load_before"`
	LoadAfter  float64      `json:"load_after"`
	Rounds     []round      `json:"rounds"`
	Server     benchkit.Mem `json:"server_mem"`
	Summary    []summary    `json:"summary"`
	Failures   []string     `json:"failures,omitempty"`
}

// round is one run: two uploads and four phases.
type round struct {
	N             int       `json:"n"`
	ArtifactBytes int64     `json:"artifact_bytes"`
	Upload        []float64 `json:"upload_ms"`
	Phases        []phase   `json:"phases"`
}

// phase is one deployment, timed from the API call to its end.
type phase struct {
	Name       string  `json:"name"`
	Version    string  `json:"version"`
	WallMS     float64 `json:"wall_ms"`
	HostMaxMS  float64 `json:"host_max_ms"`  // the slowest host's part of a step
	CheckMaxMS float64 `json:"check_max_ms"` // the slowest check
}

// summary is a phase over the runs.
type summary struct {
	Name        string  `json:"name"`
	MedianMS    float64 `json:"median_ms"`
	MaxMS       float64 `json:"max_ms"`
	HostMedMS   float64 `json:"host_median_ms"`
	Target      string  `json:"target,omitempty"`
	Met         *bool   `json:"met,omitempty"`
	MBPerSecond float64 `json:"mb_per_second,omitempty"` // deliver: bytes served to every host, per second
}

// evaluate summarises the phases and checks the targets.
func (r *result) evaluate() {
	r.Summary = nil
	var artifact int64
	for _, rr := range r.Rounds {
		artifact = max(artifact, rr.ArtifactBytes)
	}
	for _, name := range []string{"deliver", "deploy", "upgrade", "rollback"} {
		var wall, host, over []float64
		for _, rr := range r.Rounds {
			for _, p := range rr.Phases {
				if p.Name == name {
					wall = append(wall, p.WallMS)
					host = append(host, p.HostMaxMS)
					over = append(over, p.WallMS-p.HostMaxMS)
				}
			}
		}
		if len(wall) == 0 {
			continue
		}
		s := summary{Name: name, MedianMS: median(wall), MaxMS: slices.Max(wall), HostMedMS: median(host)}
		switch name {
		case "deliver":
			s.MBPerSecond = float64(artifact) * float64(r.Hosts) / 1e6 / (s.MedianMS / 1000)
			if r.Hosts == 20 && r.SizeMB == 100 {
				met := s.MaxMS < deliverTargetMS
				s.Target, s.Met = "< 10 s (100 MB to 20 hosts)", &met
			}
		case "rollback":
			met := slices.Max(over) < rollbackOverheadMS
			s.Target, s.Met = "< 2 s + the slowest host's switch, restart and checks", &met
		}
		r.Summary = append(r.Summary, s)
	}
}

func median(v []float64) float64 {
	s := slices.Sorted(slices.Values(v))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func writeJSON(w io.Writer, r *result) error { return benchkit.WriteJSON(w, r) }

func writeText(w io.Writer, r *result) error {
	fmt.Fprintf(w, "phenix releases: %d hosts, a %d MB version, %d runs; %s, %d CPUs, load %.2f before, %.2f after%s\n\n",
		r.Hosts, r.SizeMB, r.Runs, r.Kernel, r.CPUs, r.LoadBefore, r.LoadAfter, benchkit.Busy(r.LoadBefore, r.CPUs))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "phase\tmedian\tmax\tslowest host (median)\tthroughput\ttarget\t")
	for _, s := range r.Summary {
		thr := ""
		if s.MBPerSecond > 0 {
			thr = fmt.Sprintf("%.0f MB/s", s.MBPerSecond)
		}
		target := ""
		if s.Met != nil {
			target = s.Target + map[bool]string{true: ": met", false: ": MISSED"}[*s.Met]
		}
		fmt.Fprintf(tw, "%s\t%.0f ms\t%.0f ms\t%.0f ms\t%s\t%s\t\n", s.Name, s.MedianMS, s.MaxMS, s.HostMedMS, thr, target)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(r.Rounds) > 0 && len(r.Rounds[0].Upload) > 0 {
		fmt.Fprintf(w, "\nupload of one version: %.0f ms; server peak memory %.1f MiB\n", r.Rounds[0].Upload[0], float64(r.Server.HWM)/1024)
	}
	for _, f := range r.Failures {
		fmt.Fprintln(w, "FAILED:", f)
	}
	return nil
}
