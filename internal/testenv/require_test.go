package testenv

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
)

func TestRequired(t *testing.T) {
	for _, tt := range []struct {
		env, name string
		want      bool
	}{
		{env: "", name: "docker", want: false},
		{env: "all", name: "docker", want: true},
		{env: "all", name: "root", want: true},
		{env: "docker", name: "docker", want: true},
		{env: "docker", name: "debootstrap", want: false},
		{env: "docker,debootstrap", name: "debootstrap", want: true},
		{env: " docker , root ", name: "root", want: true},
		{env: "docker,,root", name: "", want: true}, // an empty item matches only an empty name
		{env: "dock", name: "docker", want: false},
		{env: "docker-x", name: "docker", want: false},
		{env: "ALL", name: "docker", want: false},
		{env: "none", name: "docker", want: false},
		{env: "root,all", name: "dpkg-deb", want: true},
	} {
		t.Run(fmt.Sprintf("%q/%s", tt.env, tt.name), func(t *testing.T) {
			if got := required(tt.env, tt.name); got != tt.want {
				t.Errorf("required(%q, %q) = %v, want %v", tt.env, tt.name, got, tt.want)
			}
		})
	}
}

// recorder is a testing.TB that records how Require ended the test.
type recorder struct {
	testing.TB // nil: calling anything not overridden panics
	how, msg   string
}

func (r *recorder) Helper() {}

func (r *recorder) Fatalf(format string, args ...any) {
	r.how, r.msg = "fatal", fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (r *recorder) Skipf(format string, args ...any) {
	r.how, r.msg = "skip", fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// requireWith runs Require(r, what...) as a test would, in its own goroutine
// so that Fatalf and Skipf can stop it.
func requireWith(what ...string) *recorder {
	r := &recorder{how: "pass"}
	done := make(chan struct{})
	go func() {
		defer close(done)
		Require(r, what...)
	}()
	<-done
	return r
}

func TestRequire(t *testing.T) {
	probes["test-missing"] = &probe{check: func() error { return errors.New("widget not reachable: no widget") }}
	probes["test-present"] = &probe{check: func() error { return nil }}
	t.Cleanup(func() {
		delete(probes, "test-missing")
		delete(probes, "test-present")
	})
	for _, tt := range []struct {
		env     string
		what    []string
		how     string
		msgPart string
	}{
		{env: "", what: []string{"test-present"}, how: "pass"},
		{env: "", what: []string{"test-present", "test-missing"}, how: "skip",
			msgPart: "widget not reachable: no widget; set PHENIX_TEST_REQUIRE=all to make this a failure"},
		{env: "all", what: []string{"test-missing"}, how: "fatal",
			msgPart: "widget not reachable: no widget (required by PHENIX_TEST_REQUIRE=all)"},
		{env: "test-missing", what: []string{"test-missing"}, how: "fatal"},
		{env: "docker", what: []string{"test-missing"}, how: "skip"},
		{env: "", what: []string{"no-such-thing"}, how: "fatal", msgPart: `unknown requirement "no-such-thing"`},
	} {
		t.Run(fmt.Sprintf("%q/%s", tt.env, strings.Join(tt.what, ",")), func(t *testing.T) {
			t.Setenv(EnvRequire, tt.env)
			r := requireWith(tt.what...)
			if r.how != tt.how || !strings.Contains(r.msg, tt.msgPart) {
				t.Errorf("Require(%q) with %s=%q: %s %q, want %s containing %q",
					tt.what, EnvRequire, tt.env, r.how, r.msg, tt.how, tt.msgPart)
			}
		})
	}
}

func TestProbeCached(t *testing.T) {
	n := 0
	p := &probe{check: func() error { n++; return nil }}
	for range 3 {
		p.result()
	}
	if n != 1 {
		t.Errorf("check ran %d times, want 1", n)
	}
}
