// Package loadgen sends HTTP requests continuously to one URL and counts
// what failed, for tests that must prove a change of the servers behind it
// (a rolling deploy, a restart) drops no request.
//
//	g := loadgen.Start(ctx, loadgen.Config{URL: "http://" + lb.Addr + "/"})
//	... deploy ...
//	r := g.Stop()
//	t.Log(r)
//	if r.Failed > 0 { t.Errorf(...) }
//
// Workers reuse keep-alive connections, as browsers and API clients do. Go's
// HTTP client, like them, resends an idempotent request once when a reused
// connection turns out to have been closed by the server before it answered;
// any other error, and any answer Expect rejects, is a failure.
package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Config says what to send.
type Config struct {
	// URL receives GET requests.
	URL string
	// Concurrency is the number of workers, each sending one request at a
	// time (default 4).
	Concurrency int
	// Interval is the pause of each worker between two requests; 0 sends
	// them back to back.
	Interval time.Duration
	// Timeout limits each request, from sending it to reading the whole
	// body (default 5s).
	Timeout time.Duration
	// Expect judges an answer: a non-nil error makes the request a
	// failure, counted under the error's text. The default accepts status
	// 200 only.
	Expect func(status int, body []byte) error
}

// maxErrorKinds caps the number of distinct reasons in Report.Errors;
// further ones are counted under otherErrors.
const maxErrorKinds = 20

const otherErrors = "other errors"

// maxBody is how much of an answer's body is kept for Expect and Versions;
// the rest is read and discarded so that the connection can be reused.
const maxBody = 1 << 20

// A Report says what happened to the requests of a run.
type Report struct {
	// Requests counts the requests that completed or failed; requests cut
	// short because the context of Start ended are not counted.
	Requests int64
	// Failed counts the requests that got no answer or an answer Expect
	// rejected.
	Failed int64
	// Errors counts failures by reason, such as "status 503" or
	// "read: connection reset by peer", with at most 20 reasons; the
	// others are counted under "other errors".
	Errors map[string]int64
	// P50, P99 and Max are latency percentiles over all counted requests.
	P50, P99, Max time.Duration
	// Versions counts the answers by the version they name: the first line
	// of a body "hello from app VERSION on HOST", as the example app
	// answers /, is counted under VERSION. Other bodies are not counted.
	Versions map[string]int64
	// Duration is the time from Start to Stop.
	Duration time.Duration
}

// String summarises r on one line, for t.Log.
func (r *Report) String() string {
	var b strings.Builder
	rate := 0.0
	if r.Duration > 0 {
		rate = float64(r.Requests) / r.Duration.Seconds()
	}
	pct := 0.0
	if r.Requests > 0 {
		pct = 100 * float64(r.Failed) / float64(r.Requests)
	}
	fmt.Fprintf(&b, "%d requests in %s (%.0f/s), %d failed (%.2f%%); latency p50 %s p99 %s max %s",
		r.Requests, r.Duration.Round(time.Millisecond), rate, r.Failed, pct,
		r.P50.Round(time.Microsecond), r.P99.Round(time.Microsecond), r.Max.Round(time.Microsecond))
	if len(r.Versions) > 0 {
		b.WriteString("; versions:")
		for _, v := range slices.Sorted(maps.Keys(r.Versions)) {
			fmt.Fprintf(&b, " %s=%d", v, r.Versions[v])
		}
	}
	if len(r.Errors) > 0 {
		b.WriteString("; errors:")
		keys := slices.Sorted(maps.Keys(r.Errors))
		slices.SortStableFunc(keys, func(a, b string) int { return int(r.Errors[b] - r.Errors[a]) })
		for _, k := range keys {
			fmt.Fprintf(&b, " %q=%d", k, r.Errors[k])
		}
	}
	return b.String()
}

// A Gen is a running load generator.
type Gen struct {
	cfg     Config
	client  *http.Client
	stop    chan struct{}
	stopped sync.Once
	wg      sync.WaitGroup
	start   time.Time
	report  *Report

	requests, failed atomic.Int64

	mu        sync.Mutex
	latencies []time.Duration
	errs      map[string]int64
	versions  map[string]int64
}

// Start starts cfg.Concurrency workers sending requests until Stop is
// called or ctx ends. Requests that ctx's end cuts short are not counted.
func Start(ctx context.Context, cfg Config) *Gen {
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 4
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.Expect == nil {
		cfg.Expect = Status200
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil // the test's servers, never a proxy from the environment
	tr.MaxIdleConnsPerHost = cfg.Concurrency
	g := &Gen{
		cfg:      cfg,
		client:   &http.Client{Transport: tr},
		stop:     make(chan struct{}),
		start:    time.Now(),
		errs:     map[string]int64{},
		versions: map[string]int64{},
	}
	for range cfg.Concurrency {
		g.wg.Go(func() { g.work(ctx) })
	}
	return g
}

// Run sends requests as Start does until ctx ends, and returns the report.
func Run(ctx context.Context, cfg Config) *Report {
	g := Start(ctx, cfg)
	<-ctx.Done()
	return g.Stop()
}

// Status200 is the default Config.Expect: it accepts status 200 only.
func Status200(status int, body []byte) error {
	if status != http.StatusOK {
		return fmt.Errorf("status %d", status)
	}
	return nil
}

// Live returns the number of requests counted so far and how many failed.
func (g *Gen) Live() (requests, failed int64) {
	return g.requests.Load(), g.failed.Load()
}

// Stop stops sending, waits for the requests in flight to complete (each
// within Config.Timeout) and returns the report. Later calls return the
// same report.
func (g *Gen) Stop() *Report {
	g.stopped.Do(func() {
		close(g.stop)
		g.wg.Wait()
		g.client.CloseIdleConnections()
		g.report = g.makeReport(time.Since(g.start))
	})
	return g.report
}

func (g *Gen) work(ctx context.Context) {
	var latencies []time.Duration
	defer func() {
		g.mu.Lock()
		g.latencies = append(g.latencies, latencies...)
		g.mu.Unlock()
	}()
	var pause *time.Timer
	for {
		select {
		case <-g.stop:
			return
		case <-ctx.Done():
			return
		default:
		}
		start := time.Now()
		version, err := g.request(ctx)
		took := time.Since(start)
		if ctx.Err() != nil {
			return // cut short by the end of ctx: not counted
		}
		latencies = append(latencies, took)
		g.record(version, err)
		if g.cfg.Interval > 0 {
			if pause == nil {
				pause = time.NewTimer(g.cfg.Interval)
			} else {
				pause.Reset(g.cfg.Interval)
			}
			select {
			case <-g.stop:
				return
			case <-ctx.Done():
				return
			case <-pause.C:
			}
		}
	}
}

// request sends one request and returns the version its answer names.
func (g *Gen) request(ctx context.Context) (version string, err error) {
	ctx, cancel := context.WithTimeout(ctx, g.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, g.cfg.URL, nil)
	if err != nil {
		return "", err
	}
	resp, err := g.client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err == nil {
		_, err = io.Copy(io.Discard, resp.Body)
	}
	if err != nil {
		return "", fmt.Errorf("read body: %w", err)
	}
	if err := g.cfg.Expect(resp.StatusCode, body); err != nil {
		return "", expectError{err}
	}
	return appVersion(body), nil
}

// expectError marks an error of Config.Expect, counted under its text.
type expectError struct{ error }

func (g *Gen) record(version string, err error) {
	g.requests.Add(1)
	if err != nil {
		g.failed.Add(1)
	}
	if err == nil && version == "" {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if err != nil {
		reason := Reason(err)
		if _, ok := g.errs[reason]; !ok && len(g.errs) >= maxErrorKinds {
			reason = otherErrors
		}
		g.errs[reason]++
		return
	}
	g.versions[version]++
}

// appVersion returns VERSION from a body whose first line is "hello from
// app VERSION on HOST", or "".
func appVersion(body []byte) string {
	line, _, _ := strings.Cut(string(body), "\n")
	rest, ok := strings.CutPrefix(line, "hello from app ")
	if !ok {
		return ""
	}
	v, _, ok := strings.Cut(rest, " on")
	if !ok {
		return ""
	}
	return v
}

// Reason names the cause of a failed request without what differs from one
// request to the next (addresses, ports), so that failures group by cause:
// "timeout", "read: connection reset by peer", "status 503", "EOF".
func Reason(err error) string {
	var ee expectError
	if errors.As(err, &ee) {
		return ee.Error()
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) {
		return "timeout"
	}
	var op *net.OpError
	if errors.As(err, &op) {
		inner := op.Err
		var sc *os.SyscallError
		if errors.As(inner, &sc) {
			inner = sc.Err
		}
		return op.Op + ": " + inner.Error()
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return "unexpected EOF"
	}
	if errors.Is(err, io.EOF) {
		return "EOF"
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}

func (g *Gen) makeReport(d time.Duration) *Report {
	g.mu.Lock()
	defer g.mu.Unlock()
	r := &Report{
		Requests: g.requests.Load(),
		Failed:   g.failed.Load(),
		Errors:   maps.Clone(g.errs),
		Versions: maps.Clone(g.versions),
		Duration: d,
	}
	if n := len(g.latencies); n > 0 {
		slices.Sort(g.latencies)
		r.P50 = g.latencies[percentileIndex(n, 50)]
		r.P99 = g.latencies[percentileIndex(n, 99)]
		r.Max = g.latencies[n-1]
	}
	return r
}

// percentileIndex returns the index of the p-th percentile in n sorted
// values (nearest rank).
func percentileIndex(n, p int) int {
	i := (n*p + 99) / 100 // ceil(n*p/100)
	return max(i-1, 0)
}
