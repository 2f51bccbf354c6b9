package engine

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/phenixhq/phenix/internal/bundle"
	"github.com/phenixhq/phenix/internal/promise"
)

// probe is a resource that records the order it ran in. Real promise types
// are tested against real files in their own package; this one lets the
// tests see the engine's ordering, concurrency and notification rules.
type probe struct {
	name    string
	drift   bool
	fail    error
	serial  string
	log     *eventLog
	applied bool
}

type eventLog struct {
	mu      sync.Mutex
	events  []string
	running atomic.Int32
	peak    atomic.Int32
}

func (l *eventLog) add(e string) {
	l.mu.Lock()
	l.events = append(l.events, e)
	l.mu.Unlock()
}

func (p *probe) Check(ctx context.Context, env *promise.Env) (*promise.Diff, error) {
	n := p.log.running.Add(1)
	defer p.log.running.Add(-1)
	for {
		old := p.log.peak.Load()
		if n <= old || p.log.peak.CompareAndSwap(old, n) {
			break
		}
	}
	p.log.add("check " + p.name)
	if p.fail != nil {
		return nil, p.fail
	}
	d := &promise.Diff{}
	if p.drift {
		d.Add("state", "old", "new")
	}
	return d, nil
}

func (p *probe) Apply(ctx context.Context, env *promise.Env, d *promise.Diff) error {
	p.log.add("apply " + p.name)
	p.applied = true
	return nil
}

func (p *probe) Refresh(ctx context.Context, env *promise.Env) (string, error) {
	p.log.add("refresh " + p.name)
	return "restarted", nil
}

func (p *probe) RefreshPlan() string { return "would restart" }

func (p *probe) SerialKey() string { return p.serial }

func mk(log *eventLog, typ, name string, drift bool, rel ...string) *promise.Promise {
	p := &promise.Promise{Type: typ, Subjects: []string{name}, Resource: &probe{name: name, drift: drift, log: log}, Pos: promise.Pos{File: "t.yaml", Line: 1, Col: 1}}
	for _, r := range rel {
		kind, ref, _ := strings.Cut(r, " ")
		rr, err := promise.ParseRef(ref)
		if err != nil {
			panic(err)
		}
		switch kind {
		case "require":
			p.Require = append(p.Require, rr)
		case "before":
			p.Before = append(p.Before, rr)
		case "notify":
			p.Notify = append(p.Notify, rr)
		}
	}
	return p
}

func statuses(rep *Report) map[string]string {
	m := map[string]string{}
	for _, r := range rep.Results {
		s := string(r.Status)
		if r.Reason != "" {
			s += ": " + r.Reason
		}
		if r.Refreshed != "" {
			s += " (" + r.Refreshed + ")"
		}
		m[r.ID] = s
	}
	return m
}

func TestOrderAndNotify(t *testing.T) {
	log := &eventLog{}
	ps := []*promise.Promise{
		mk(log, "service", "app", false, "require package:app"),
		mk(log, "file", "/etc/app.conf", true, "notify service:app", "require package:app"),
		mk(log, "package", "app", true, "before file:/etc/app.conf"),
		mk(log, "service", "other", false),
	}
	plan, err := NewPlan(ps, &promise.Env{})
	if err != nil {
		t.Fatal(err)
	}
	rep := plan.Run(context.Background(), &promise.Env{}, Options{Parallel: 1})
	want := map[string]string{
		"service:app":        "changed (restarted)",
		"file:/etc/app.conf": "changed",
		"package:app":        "changed",
		"service:other":      "ok",
	}
	if diff := cmp.Diff(want, statuses(rep)); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
	pos := map[string]int{}
	for i, e := range log.events {
		pos[e] = i
	}
	for _, pair := range [][2]string{
		{"apply app", "check /etc/app.conf"},
		{"apply /etc/app.conf", "check app"},
		{"check app", "refresh app"},
	} {
		a, aok := pos[pair[0]]
		b, bok := pos[pair[1]]
		if !aok || !bok || a > b {
			t.Errorf("%q should come before %q; events: %v", pair[0], pair[1], log.events)
		}
	}
	if got := rep.Totals; got.Changed != 3 || got.OK != 1 || got.Promises != 4 {
		t.Errorf("totals = %+v", got)
	}
}

func TestNoNotificationWithoutChange(t *testing.T) {
	log := &eventLog{}
	ps := []*promise.Promise{
		mk(log, "file", "/etc/app.conf", false, "notify service:app"),
		mk(log, "service", "app", false),
	}
	plan, err := NewPlan(ps, &promise.Env{})
	if err != nil {
		t.Fatal(err)
	}
	rep := plan.Run(context.Background(), &promise.Env{}, Options{})
	if diff := cmp.Diff(map[string]string{"file:/etc/app.conf": "ok", "service:app": "ok"}, statuses(rep)); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
}

func TestFailureSkipsDependentsOnly(t *testing.T) {
	log := &eventLog{}
	bad := mk(log, "package", "app", true)
	bad.Resource.(*probe).fail = errors.New("apt-get: no such package")
	ps := []*promise.Promise{
		bad,
		mk(log, "file", "/etc/app.conf", true, "require package:app"),
		mk(log, "service", "app", true, "require file:/etc/app.conf"),
		mk(log, "file", "/etc/motd", true),
	}
	plan, err := NewPlan(ps, &promise.Env{})
	if err != nil {
		t.Fatal(err)
	}
	rep := plan.Run(context.Background(), &promise.Env{}, Options{})
	want := map[string]string{
		"package:app":        "failed",
		"file:/etc/app.conf": "skipped: requires package:app, which failed",
		"service:app":        "skipped: requires file:/etc/app.conf, which was skipped",
		"file:/etc/motd":     "changed",
	}
	if diff := cmp.Diff(want, statuses(rep)); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
	if rep.Results[0].Error != "apt-get: no such package" {
		t.Errorf("error = %q", rep.Results[0].Error)
	}
}

func TestDryRunAppliesNothing(t *testing.T) {
	log := &eventLog{}
	ps := []*promise.Promise{
		mk(log, "file", "/etc/app.conf", true, "notify service:app"),
		mk(log, "service", "app", false),
	}
	plan, err := NewPlan(ps, &promise.Env{})
	if err != nil {
		t.Fatal(err)
	}
	env := &promise.Env{DryRun: true}
	rep := plan.Run(context.Background(), env, Options{})
	for _, e := range log.events {
		if !strings.HasPrefix(e, "check ") {
			t.Errorf("dry run did %q", e)
		}
	}
	if diff := cmp.Diff(map[string]string{"file:/etc/app.conf": "changed", "service:app": "changed (would restart)"}, statuses(rep)); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
	if !rep.DryRun {
		t.Error("report does not say dry run")
	}
}

func TestParallelBoundAndSerial(t *testing.T) {
	log := &eventLog{}
	var ps []*promise.Promise
	for i := range 40 {
		ps = append(ps, mk(log, "file", "/f"+string(rune('a'+i%26))+strings.Repeat("x", i/26), false))
	}
	plan, err := NewPlan(ps, &promise.Env{})
	if err != nil {
		t.Fatal(err)
	}
	plan.Run(context.Background(), &promise.Env{}, Options{Parallel: 3})
	if peak := log.peak.Load(); peak > 3 {
		t.Errorf("peak concurrency %d, want at most 3", peak)
	}

	log2 := &eventLog{}
	ps = nil
	for i := range 10 {
		p := mk(log2, "package", "p"+string(rune('a'+i)), false)
		p.Resource.(*probe).serial = "dpkg"
		ps = append(ps, p)
	}
	plan, err = NewPlan(ps, &promise.Env{})
	if err != nil {
		t.Fatal(err)
	}
	plan.Run(context.Background(), &promise.Env{}, Options{Parallel: 8})
	if peak := log2.peak.Load(); peak != 1 {
		t.Errorf("serialised promises peaked at %d concurrent, want 1", peak)
	}
}

func TestPlanErrors(t *testing.T) {
	log := &eventLog{}
	for _, tt := range []struct {
		name string
		ps   []*promise.Promise
		env  promise.Env
		want string
	}{
		{
			name: "cycle",
			ps: []*promise.Promise{
				mk(log, "file", "/a", false, "require file:/c"),
				mk(log, "file", "/b", false, "require file:/a"),
				mk(log, "file", "/c", false, "require file:/b"),
			},
			want: "t.yaml:1:1: dependency cycle: file:/a → file:/b → file:/c → file:/a",
		},
		{
			name: "unknown reference",
			ps:   []*promise.Promise{mk(log, "file", "/a", false, "require service:nope")},
			want: "file:/a refers to service:nope, which is not declared",
		},
		{
			name: "root refuses system types",
			ps:   []*promise.Promise{mk(log, "service", "nginx", false), mk(log, "file", "/a", false)},
			env:  promise.Env{Root: "/tmp/x"},
			want: "t.yaml:1:1: service promises cannot honour --root (they act on the running system): apply them without --root",
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewPlan(tt.ps, &tt.env)
			var el bundle.ErrorList
			if !errors.As(err, &el) {
				t.Fatalf("NewPlan error = %v, want an ErrorList", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("NewPlan error = %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

// TestAutoRequire checks that a file waits for the directory promise of its
// parent, with real files in a temporary root.
func TestAutoRequire(t *testing.T) {
	root := t.TempDir()
	src := []byte(`promises:
  - file: /srv/app/config.ini
    content: "a=1\n"
  - file: /srv/app/README
    content: "hello\n"
`)
	ps, errs := bundle.Parse("auto.yaml", src, bundle.Options{})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if err := os.MkdirAll(filepath.Join(root, "srv/app"), 0o755); err != nil {
		t.Fatal(err)
	}
	env := &promise.Env{Root: root}
	plan, err := NewPlan(ps, env)
	if err != nil {
		t.Fatal(err)
	}
	rep := plan.Run(context.Background(), env, Options{})
	if rep.Totals.Changed != 2 {
		t.Fatalf("first run: %+v", rep.Totals)
	}
	rep = plan.Run(context.Background(), env, Options{})
	if rep.Totals.Changed != 0 || rep.Totals.OK != 2 {
		t.Fatalf("second run not idempotent: %+v", rep.Totals)
	}
}

func TestCancelledRunSkips(t *testing.T) {
	log := &eventLog{}
	ps := []*promise.Promise{mk(log, "file", "/a", true), mk(log, "file", "/b", true, "require file:/a")}
	plan, err := NewPlan(ps, &promise.Env{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rep := plan.Run(ctx, &promise.Env{}, Options{})
	if rep.Totals.Skipped != 2 {
		t.Errorf("cancelled run: %+v, want 2 skipped", rep.Totals)
	}
	if len(log.events) != 0 {
		t.Errorf("cancelled run did %v", log.events)
	}
}

// TestKeyedLinesInOrder checks that several line promises on one file run
// in the order written, and that a reference to the file's lines waits for
// all of them.
func TestKeyedLinesInOrder(t *testing.T) {
	src := []byte(`promises:
  - file: /etc/after
    content: done
    require: line:/etc/conf
  - line: /etc/conf
    create: true
    text: a=1
  - line: /etc/conf
    text: b=2
    match: '^b='
  - line: /etc/conf
    text: c=3
  - line: /etc/conf
    text: a=1
    state: absent
  - line: /etc/conf
    text: d=4
`)
	for i := range 5 {
		root := t.TempDir()
		if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
			t.Fatal(err)
		}
		ps, errs := bundle.Parse("lines.yaml", src, bundle.Options{})
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		env := &promise.Env{Root: root}
		plan, err := NewPlan(ps, env)
		if err != nil {
			t.Fatal(err)
		}
		rep := plan.Run(context.Background(), env, Options{Parallel: 8})
		if rep.Totals.Failed > 0 {
			t.Fatalf("run %d: %+v", i, rep.Results)
		}
		got, _ := os.ReadFile(filepath.Join(root, "etc/conf"))
		if string(got) != "b=2\nc=3\nd=4\n" {
			t.Fatalf("run %d: conf = %q, want the edits applied in order", i, got)
		}
		if rep.Results[0].Status != Changed {
			t.Errorf("file:/etc/after = %s", rep.Results[0].Status)
		}
	}
	_, err := bundle.Load([]string{writeTemp(t, "promises:\n  - line: /etc/x\n    text: a\n  - line: /etc/x\n    text: a\n")}, bundle.Options{})
	if err == nil || !strings.Contains(err.Error(), "duplicate promise line:/etc/x[a]") {
		t.Errorf("two identical line promises: error = %v, want a duplicate", err)
	}
}

func writeTemp(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "b.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
