package loadgen

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/phenixhq/phenix/internal/testenv"
)

// runUntil starts g on cfg and stops it once it counted n requests.
func runUntil(t *testing.T, cfg Config, n int64) *Report {
	t.Helper()
	g := Start(t.Context(), cfg)
	testenv.WaitFor(t, fmt.Sprintf("%d requests", n), func() bool {
		r, _ := g.Live()
		return r >= n
	})
	return g.Stop()
}

func TestEveryTenthFails(t *testing.T) {
	var total, failed atomic.Int64
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := total.Add(1)
		if n%10 == 0 {
			failed.Add(1)
			http.Error(w, "tenth", http.StatusServiceUnavailable)
			return
		}
		version := "1.0"
		if n%2 == 0 {
			version = "2.0"
		}
		fmt.Fprintf(w, "hello from app %s on host-%d\nmore\n", version, n%3)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()

	r := runUntil(t, Config{URL: srv.URL, Concurrency: 3}, 500)
	t.Log(r)
	if r.Requests != total.Load() || r.Failed != failed.Load() {
		t.Errorf("report: %d requests, %d failed; the server answered %d, %d with 503", r.Requests, r.Failed, total.Load(), failed.Load())
	}
	if r.Failed != r.Requests/10 {
		t.Errorf("%d of %d requests failed, want every tenth: %d", r.Failed, r.Requests, r.Requests/10)
	}
	if len(r.Errors) != 1 || r.Errors["status 503"] != r.Failed {
		t.Errorf("errors %v, want all %d under \"status 503\"", r.Errors, r.Failed)
	}
	if got := r.Versions["1.0"] + r.Versions["2.0"]; got != r.Requests-r.Failed || len(r.Versions) != 2 || r.Versions["1.0"] == 0 || r.Versions["2.0"] == 0 {
		t.Errorf("versions %v, want 1.0 and 2.0 summing to the %d successes", r.Versions, r.Requests-r.Failed)
	}
	if r.P50 <= 0 || r.P50 > r.P99 || r.P99 > r.Max {
		t.Errorf("latency p50 %s p99 %s max %s, want 0 < p50 <= p99 <= max", r.P50, r.P99, r.Max)
	}
	// A worker may ask for a connection before its last one is back in the
	// pool, and the transport then dials another: allow a few more.
	if c := conns.Load(); c > 2*3 {
		t.Errorf("%d connections for 3 workers and %d requests: keep-alive is not used", c, r.Requests)
	}
	for _, want := range []string{fmt.Sprintf("%d requests", r.Requests), fmt.Sprintf("%d failed", r.Failed), "versions: 1.0=", `"status 503"=`} {
		if !strings.Contains(r.String(), want) {
			t.Errorf("String() = %q, want it to contain %q", r.String(), want)
		}
	}
}

func TestStopTwice(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	g := Start(t.Context(), Config{URL: srv.URL})
	r1 := g.Stop()
	if r2 := g.Stop(); r1 != r2 {
		t.Error("second Stop returned another report")
	}
}

// TestStopWaitsForInFlight: a request in flight when Stop is called is
// completed and counted.
func TestStopWaitsForInFlight(t *testing.T) {
	var started atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started.Add(1)
		time.Sleep(200 * time.Millisecond)
	}))
	defer srv.Close()
	g := Start(t.Context(), Config{URL: srv.URL, Concurrency: 2})
	testenv.WaitFor(t, "2 requests in flight", func() bool { return started.Load() == 2 })
	r := g.Stop()
	if r.Requests != 2 || r.Failed != 0 {
		t.Errorf("%d requests, %d failed; want the 2 in flight, completed", r.Requests, r.Failed)
	}
}

func TestInterval(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	// With an hour between requests, each worker sends one request before
	// Stop, and Stop does not wait for the pause.
	g := Start(t.Context(), Config{URL: srv.URL, Concurrency: 5, Interval: time.Hour})
	testenv.WaitFor(t, "5 requests", func() bool { n, _ := g.Live(); return n == 5 })
	start := time.Now()
	r := g.Stop()
	if r.Requests != 5 {
		t.Errorf("%d requests, want 5: one per worker", r.Requests)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Stop took %s during the pause", d)
	}
}

func TestTimeout(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(5 * time.Second):
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	r := runUntil(t, Config{URL: srv.URL, Concurrency: 2, Timeout: 50 * time.Millisecond}, 4)
	if r.Failed != r.Requests || r.Errors["timeout"] != r.Failed {
		t.Errorf("%d requests, %d failed, errors %v; want all failed by timeout", r.Requests, r.Failed, r.Errors)
	}
	if r.P50 < 50*time.Millisecond {
		t.Errorf("p50 %s below the 50ms timeout", r.P50)
	}
}

func TestConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	r := runUntil(t, Config{URL: "http://" + addr + "/", Concurrency: 1}, 3)
	if r.Failed != r.Requests || r.Errors["dial: connection refused"] != r.Failed {
		t.Errorf("errors %v, want all %d under \"dial: connection refused\"", r.Errors, r.Requests)
	}
}

// TestConnectionReset: a server that closes connections without answering
// is a failure, not silently retried forever.
func TestConnectionReset(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			c.(*net.TCPConn).SetLinger(0) // RST
			c.Close()
		}
	}))
	defer srv.Close()
	r := runUntil(t, Config{URL: srv.URL, Concurrency: 1}, 3)
	if r.Failed != r.Requests || r.Requests < 3 {
		t.Errorf("%d requests, %d failed (%v), want all failed", r.Requests, r.Failed, r.Errors)
	}
	t.Log(r.Errors)
}

// TestContextEnd: Run returns when ctx ends, and requests cut short by it
// are not counted.
func TestContextEnd(t *testing.T) {
	var started atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started.Add(1)
		<-r.Context().Done()
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan *Report)
	go func() { done <- Run(ctx, Config{URL: srv.URL, Concurrency: 3, Timeout: time.Minute}) }()
	testenv.WaitFor(t, "3 requests in flight", func() bool { return started.Load() == 3 })
	cancel()
	r := <-done
	if r.Requests != 0 || r.Failed != 0 {
		t.Errorf("%d requests, %d failed; want none counted: all were cut short by ctx", r.Requests, r.Failed)
	}
}

func TestExpectAndErrorCap(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "hello from app 3 on x\n")
	}))
	defer srv.Close()
	var n atomic.Int64
	expect := func(status int, body []byte) error {
		if i := n.Add(1); i%2 == 0 {
			return fmt.Errorf("kind %d", i)
		}
		return nil
	}
	r := runUntil(t, Config{URL: srv.URL, Concurrency: 2, Expect: expect}, 100)
	if len(r.Errors) != maxErrorKinds+1 || r.Errors[otherErrors] == 0 {
		t.Errorf("%d kinds of errors, want %d and %q: %v", len(r.Errors), maxErrorKinds+1, otherErrors, r.Errors)
	}
	var sum int64
	for _, c := range r.Errors {
		sum += c
	}
	if sum != r.Failed || r.Failed != r.Requests/2 {
		t.Errorf("errors sum to %d, %d failed of %d; want half failed and all counted", sum, r.Failed, r.Requests)
	}
	if r.Versions["3"] != r.Requests-r.Failed {
		t.Errorf("versions %v, want only the successes counted", r.Versions)
	}
}

func TestAppVersion(t *testing.T) {
	for body, want := range map[string]string{
		"hello from app 1.2.3 on web-1\n":   "1.2.3",
		"hello from app 2 on h":             "2",
		"hello from app v on\nhello":        "v",
		"ok 1.2.3\n":                        "",
		"hello from app 1.2.3\n on web-1\n": "",
		"":                                  "",
	} {
		if got := appVersion([]byte(body)); got != want {
			t.Errorf("appVersion(%q) = %q, want %q", body, got, want)
		}
	}
}

func TestPercentileIndex(t *testing.T) {
	for _, tc := range []struct{ n, p, want int }{
		{1, 50, 0}, {1, 99, 0}, {2, 50, 0}, {100, 50, 49}, {100, 99, 98}, {1000, 99, 989}, {10, 99, 9},
	} {
		if got := percentileIndex(tc.n, tc.p); got != tc.want {
			t.Errorf("percentileIndex(%d, %d) = %d, want %d", tc.n, tc.p, got, tc.want)
		}
	}
}

func TestReason(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	for err, want := range map[error]string{
		context.DeadlineExceeded:              "timeout",
		expectError{errors.New("status 500")}: "status 500",
		refused:                               "dial: connection refused",
		errors.New("strange"):                 "strange",
	} {
		if got := Reason(err); got != want {
			t.Errorf("Reason(%v) = %q, want %q", err, got, want)
		}
	}
}
