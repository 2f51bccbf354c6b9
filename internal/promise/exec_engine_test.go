package promise_test

import (
	"github.com/phenixhq/phenix/internal/testenv"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/phenixhq/phenix/internal/bundle"
	"github.com/phenixhq/phenix/internal/engine"
	"github.com/phenixhq/phenix/internal/promise"
)

// runBundle parses src, plans it and runs it as phenix apply does.
func runBundle(t *testing.T, src string, dryRun bool) map[string]engine.Result {
	t.Helper()
	ps, errs := bundle.Parse(filepath.Join(t.TempDir(), "bundle.yaml"), []byte(src), bundle.Options{})
	if len(errs) > 0 {
		t.Fatalf("Parse: %v", errs)
	}
	env := &promise.Env{DryRun: dryRun}
	plan, err := engine.NewPlan(ps, env)
	if err != nil {
		t.Fatalf("NewPlan: %v", err)
	}
	rep := plan.Run(t.Context(), env, engine.Options{})
	out := map[string]engine.Result{}
	for _, r := range rep.Results {
		out[r.ID] = r
	}
	return out
}

func TestExecNotifications(t *testing.T) {
	dir := t.TempDir()
	conf, log := filepath.Join(dir, "app.conf"), filepath.Join(dir, "log")
	src := strings.NewReplacer("CONF", conf, "LOG", log).Replace(`promises:
  - file: CONF
    content: "port=80\n"
    notify: [exec:reload, exec:echo always >> LOG]
  - exec: reload
    args: [/bin/sh, -c, "echo reload >> LOG"]
    refresh_only: true
  - exec: echo always >> LOG
    creates: CONF.done
  - exec: echo never >> LOG
    refresh_only: true
`)
	type want struct {
		status    engine.Status
		refreshed string
	}
	check := func(t *testing.T, got map[string]engine.Result, wants map[string]want) {
		t.Helper()
		for id, w := range wants {
			r, ok := got[id]
			if !ok {
				t.Errorf("no result for %s", id)
				continue
			}
			if r.Status != w.status || r.Refreshed != w.refreshed {
				t.Errorf("%s: status %s, refreshed %q, error %q; want %s, %q", id, r.Status, r.Refreshed, r.Error, w.status, w.refreshed)
			}
		}
	}
	t.Run("dry run", func(t *testing.T) {
		got := runBundle(t, src, true)
		check(t, got, map[string]want{
			"file:" + conf:               {engine.Changed, ""},
			"exec:reload":                {engine.Changed, "would run /bin/sh -c 'echo reload >> " + log + "'"},
			"exec:echo always >> " + log: {engine.Changed, ""},
			"exec:echo never >> " + log:  {engine.OK, ""},
		})
		if _, err := os.Stat(log); err == nil {
			t.Errorf("a dry run ran a command")
		}
	})
	t.Run("first apply", func(t *testing.T) {
		got := runBundle(t, src, false)
		check(t, got, map[string]want{
			"file:" + conf:               {engine.Changed, ""},
			"exec:reload":                {engine.Changed, "ran"},
			"exec:echo always >> " + log: {engine.Changed, ""},
			"exec:echo never >> " + log:  {engine.OK, ""},
		})
		// The notified plain exec ran once, not once more for the
		// notification.
		if got, want := readFile(t, log), "always\nreload\n"; got != want && got != "reload\nalways\n" {
			t.Errorf("log = %q, want %q in some order", got, want)
		}
	})
	t.Run("second apply", func(t *testing.T) {
		if err := os.WriteFile(conf+".done", nil, 0o644); err != nil {
			t.Fatal(err)
		}
		got := runBundle(t, src, false)
		for id, r := range got {
			if r.Status != engine.OK {
				t.Errorf("%s: status %s (%s), want ok", id, r.Status, r.Error)
			}
		}
		if got := readFile(t, log); strings.Count(got, "\n") != 2 {
			t.Errorf("log = %q, want nothing more", got)
		}
	})
	t.Run("failure", func(t *testing.T) {
		got := runBundle(t, "promises:\n  - exec: echo oops >&2; exit 7\n", false)
		r := got["exec:echo oops >&2; exit 7"]
		if r.Status != engine.Failed || r.Error != "exit status 7: oops" {
			t.Errorf("status %s, error %q; want failed with exit status 7: oops", r.Status, r.Error)
		}
	})
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestExecUserBundle(t *testing.T) {
	testenv.Require(t, "root") // running as another user needs root
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o777); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(dir, "whoami")
	src := "promises:\n  - exec: id -un > " + out + "\n    user: nobody\n    creates: " + out + "\n    timeout: 30s\n"
	got := runBundle(t, src, false)
	if r := got["exec:id -un > "+out]; r.Status != engine.Changed {
		t.Fatalf("status %s, error %q; want changed", r.Status, r.Error)
	}
	if who := readFile(t, out); who != "nobody\n" {
		t.Errorf("ran as %q, want nobody", who)
	}
	for id, r := range runBundle(t, src, false) {
		if r.Status != engine.OK {
			t.Errorf("second run: %s %s, want ok", id, r.Status)
		}
	}
}
