package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestSummarize(t *testing.T) {
	for _, tt := range []struct {
		walls       []time.Duration
		median, min float64
	}{
		{walls: []time.Duration{3 * time.Millisecond, time.Millisecond, 2 * time.Millisecond}, median: 2, min: 1},
		{walls: []time.Duration{4 * time.Millisecond, time.Millisecond, 2 * time.Millisecond, 3 * time.Millisecond}, median: 2.5, min: 1},
	} {
		var ss []sample
		for i, w := range tt.walls {
			ss = append(ss, sample{wall: w, maxRSS: int64(10 * i)})
		}
		p := summarize("create", ss)
		if p.MedianMS != tt.median || p.MinMS != tt.min || p.MaxRSSKiB != int64(10*(len(ss)-1)) {
			t.Errorf("summarize(%v) = median %v, min %v, rss %v; want %v, %v, %v",
				tt.walls, p.MedianMS, p.MinMS, p.MaxRSSKiB, tt.median, tt.min, 10*(len(ss)-1))
		}
	}
}

func TestPuppetQuote(t *testing.T) {
	got := puppetQuote("a \"$x\" \\\n")
	want := `"a \"\$x\" \\\n"`
	if got != want {
		t.Errorf("puppetQuote = %s, want %s", got, want)
	}
}

func TestWorkloadVerify(t *testing.T) {
	w := workload{dir: filepath.Join(t.TempDir(), "files"), n: 5}
	if err := w.reset(); err != nil {
		t.Fatal(err)
	}
	if err := w.verify(); err == nil || !strings.Contains(err.Error(), "5 problems") {
		t.Fatalf("verify of an empty directory = %v, want 5 problems", err)
	}
	for _, f := range w.files() {
		if err := os.WriteFile(f.path, []byte(f.content), fileMode); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.verify(); err != nil {
		t.Fatalf("verify of converged files: %v", err)
	}
	before, err := takeSnapshot(w)
	if err != nil {
		t.Fatal(err)
	}
	tampered, err := w.tamper()
	if err != nil {
		t.Fatal(err)
	}
	if err := w.verify(); err == nil || !strings.Contains(err.Error(), "3 problems") {
		t.Errorf("verify after tamper = %v, want 3 problems", err)
	}
	after, err := takeSnapshot(w)
	if err != nil {
		t.Fatal(err)
	}
	if got := before.touched(after); strings.Join(got, ",") != strings.Join(slices.Sorted(slices.Values(tampered)), ",") {
		t.Errorf("touched = %v, want %v", got, tampered)
	}
	if err := os.WriteFile(filepath.Join(w.dir, "stray"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := w.verify(); err == nil || !strings.Contains(err.Error(), "unexpected entry") {
		t.Errorf("verify with a stray file = %v, want unexpected entry", err)
	}
}

func TestPolicies(t *testing.T) {
	w := workload{dir: "/srv/bench", n: 3}
	cf, err := cfPolicy(w)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(cf, "perms => bench_mode;"); n != 3 {
		t.Errorf("cf-agent policy has %d files promises, want 3:\n%s", n, cf)
	}
	dir := t.TempDir()
	p := &phenix{}
	if err := p.prepare(dir, w); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "bundle.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want := "promises:\n  - file: \"/srv/bench/f0001\"\n    content: \"" +
		strings.Repeat(`line for file 0001\n`, 5) + "\"\n    mode: \"0644\"\n"
	if !strings.HasPrefix(string(b), want) {
		t.Errorf("bundle starts\n%s\nwant\n%s", b[:min(len(b), len(want))], want)
	}
}
