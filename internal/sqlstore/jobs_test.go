package sqlstore_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sync/errgroup"

	"github.com/phenixhq/phenix/internal/sqlstore"
	"github.com/phenixhq/phenix/internal/sqlstoretest"
)

// newJob returns a job with every field set, created at created, on
// hosts.
func newJob(id string, created time.Time, hosts ...string) sqlstore.Job {
	return sqlstore.Job{
		ID: id, Kind: "run", Actor: "alice", Selector: "role=web",
		Spec:    `{"command":"echo \"é ☃\"","dry_run":false}`,
		Hosts:   hosts,
		Timeout: 90*time.Second + 123*time.Microsecond, Batch: "25%",
		CreatedAt: created, Deadline: created.Add(2 * time.Minute),
	}
}

// storedJob returns j as the store gives it back.
func storedJob(j sqlstore.Job, hosts ...string) sqlstore.Job {
	j.Hosts = hosts
	j.Timeout = j.Timeout.Truncate(time.Millisecond)
	j.CreatedAt, j.Deadline = stored(j.CreatedAt), stored(j.Deadline)
	if !j.EndedAt.IsZero() {
		j.EndedAt = stored(j.EndedAt)
	}
	return j
}

// pending returns the results CreateJob makes for hosts.
func pending(job string, hosts ...string) []sqlstore.JobResult {
	var out []sqlstore.JobResult
	for _, h := range hosts {
		out = append(out, sqlstore.JobResult{JobID: job, HostID: h, Status: "pending"})
	}
	return out
}

func createJobs(t *testing.T, db *sqlstore.DB, js ...sqlstore.Job) {
	t.Helper()
	for _, j := range js {
		if err := db.CreateJob(t.Context(), j); err != nil {
			t.Fatal(err)
		}
	}
}

func TestJobsRoundTrip(t *testing.T) {
	db := sqlstoretest.Open(t)
	if js, err := db.Jobs(t.Context(), 0); err != nil || len(js) != 0 {
		t.Errorf("Jobs of a new database = %v, %v; want none", js, err)
	}
	a := newJob("j-a", hostTime, "web-2", "web-1", "web-2")
	b := newJob("j-b", hostTime.Add(time.Second), "db-1")
	c := newJob("j-c", hostTime.Add(time.Second)) // no host, same time as b
	createJobs(t, db, a, b, c)
	wantA, wantB, wantC := storedJob(a, "web-1", "web-2"), storedJob(b, "db-1"), storedJob(c)

	got, rs, err := db.Job(t.Context(), "j-a")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantA, got); diff != "" {
		t.Errorf("Job (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(pending("j-a", "web-1", "web-2"), rs); diff != "" {
		t.Errorf("Job results (-want +got):\n%s", diff)
	}
	if _, rs, err := db.Job(t.Context(), "j-c"); err != nil || len(rs) != 0 {
		t.Errorf("Job(j-c) results = %v, %v; want none", rs, err)
	}

	for _, tt := range []struct {
		limit int
		want  []sqlstore.Job
	}{
		{0, []sqlstore.Job{wantC, wantB, wantA}},
		{-1, []sqlstore.Job{wantC, wantB, wantA}},
		{2, []sqlstore.Job{wantC, wantB}},
		{10, []sqlstore.Job{wantC, wantB, wantA}},
	} {
		got, err := db.Jobs(t.Context(), tt.limit)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("Jobs(%d) (-want +got):\n%s", tt.limit, diff)
		}
	}

	open, err := db.OpenJobs(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]sqlstore.Job{wantA, wantB, wantC}, open); diff != "" {
		t.Errorf("OpenJobs (-want +got):\n%s", diff)
	}
	end := hostTime.Add(time.Minute)
	if err := db.EndJob(t.Context(), "j-b", "failed", "1 failed", end); err != nil {
		t.Fatal(err)
	}
	wantB.EndedAt, wantB.Result, wantB.Summary = stored(end), "failed", "1 failed"
	open, err = db.OpenJobs(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]sqlstore.Job{wantA, wantC}, open); diff != "" {
		t.Errorf("OpenJobs after EndJob (-want +got):\n%s", diff)
	}
	if got, _, err := db.Job(t.Context(), "j-b"); err != nil || !cmp.Equal(wantB, got) {
		t.Errorf("Job(j-b) after EndJob = %+v, %v; want %+v", got, err, wantB)
	}
	// Ending again replaces the outcome.
	if err := db.EndJob(t.Context(), "j-b", "ok", "1 ok", end); err != nil {
		t.Fatal(err)
	}
	if got, _, err := db.Job(t.Context(), "j-b"); err != nil || got.Result != "ok" || got.Summary != "1 ok" {
		t.Errorf("Job(j-b) after a second EndJob = %+v, %v", got, err)
	}
}

func TestCreateJobInvalid(t *testing.T) {
	db := sqlstoretest.Open(t)
	createJobs(t, db, newJob("j-1", hostTime, "web-1"))
	for _, tt := range []struct {
		name    string
		j       sqlstore.Job
		wantErr string
	}{
		{"no id", newJob("", hostTime), "create job: job has no id"},
		{"empty host", newJob("j-2", hostTime, "web-1", ""), "create job j-2: a host has an empty id"},
		{"same id", newJob("j-1", hostTime, "web-2"), "create job j-1: "},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := db.CreateJob(t.Context(), tt.j); err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
				t.Errorf("CreateJob error = %v, want %q", err, tt.wantErr)
			}
		})
	}
	// The failed CreateJob of j-1 added no result.
	if _, rs, err := db.Job(t.Context(), "j-1"); err != nil || len(rs) != 1 {
		t.Errorf("Job(j-1) results = %v, %v; want web-1 only", rs, err)
	}
}

func TestJobNotFound(t *testing.T) {
	db := sqlstoretest.Open(t)
	_, _, err := db.Job(t.Context(), "j-x")
	_, merr := db.MarkUnreachable(t.Context(), "j-x", nil, hostTime)
	for name, err := range map[string]error{
		"Job":             err,
		"MarkUnreachable": merr,
		"EndJob":          db.EndJob(t.Context(), "j-x", "ok", "", hostTime),
	} {
		if !errors.Is(err, sqlstore.ErrNotFound) || !strings.Contains(err.Error(), "j-x") {
			t.Errorf("%s of a missing job: error = %v, want ErrNotFound naming it", name, err)
		}
	}
	if err := db.EndJob(t.Context(), "j-x", "", "", hostTime); err == nil || errors.Is(err, sqlstore.ErrNotFound) {
		t.Errorf("EndJob without a result: error = %v", err)
	}
}

// TestSetResults delivers results in steps, on one job: each step says
// which were stored, and the end state is checked.
func TestSetResults(t *testing.T) {
	db := sqlstoretest.Open(t)
	createJobs(t, db, newJob("j-1", hostTime, "a", "b", "c", "d", "e", "f", "g"), newJob("j-2", hostTime, "a"))
	at := func(s int) time.Time { return hostTime.Add(time.Duration(s) * time.Second) }
	res := func(host, status string, s int) sqlstore.JobResult {
		return sqlstore.JobResult{
			JobID: "j-1", HostID: host, Status: status, ExitCode: s, Output: fmt.Sprintf("%s at %d\n", host, s),
			Detail: `{"n":1}`, StartedAt: at(s - 1), EndedAt: at(s),
		}
	}
	for _, tt := range []struct {
		name        string
		unreachable []string // hosts to MarkUnreachable before SetResults
		in          []sqlstore.JobResult
		want        []bool
		wantErr     string
	}{
		{name: "none", in: nil, want: []bool{}},
		{name: "first delivery", in: []sqlstore.JobResult{res("a", "ok", 1), res("c", "failed", 1)}, want: []bool{true, true}},
		{name: "retried delivery", in: []sqlstore.JobResult{res("a", "failed", 2), res("c", "failed", 2)}, want: []bool{false, false}},
		{
			name: "unknown job or host",
			in:   []sqlstore.JobResult{{JobID: "j-1", HostID: "z", Status: "ok"}, {JobID: "j-9", HostID: "a", Status: "ok"}},
			want: []bool{false, false},
		},
		{name: "late delivery", unreachable: []string{"b"}, in: []sqlstore.JobResult{res("b", "changed", 3)}, want: []bool{true}},
		{name: "twice in one call", in: []sqlstore.JobResult{res("d", "timeout", 4), res("d", "ok", 4)}, want: []bool{true, false}},
		{
			name: "unreachable then final in one call",
			in:   []sqlstore.JobResult{res("g", "unreachable", 6), res("f", "unreachable", 6), res("f", "changed", 7), res("g", "failed", 7)},
			want: []bool{true, true, true, true},
		},
		{
			name:    "pending is not final",
			in:      []sqlstore.JobResult{res("e", "ok", 5), res("e", "pending", 5)},
			wantErr: `set result of job j-1 on e: status "pending": want ok, changed, failed, timeout or unreachable`,
		},
		{name: "unknown status", in: []sqlstore.JobResult{res("e", "done", 5)}, wantErr: `status "done"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.unreachable != nil {
				got, err := db.MarkUnreachable(t.Context(), "j-1", tt.unreachable, at(0))
				if err != nil || !cmp.Equal(tt.unreachable, got) {
					t.Fatalf("MarkUnreachable = %v, %v; want %v", got, err, tt.unreachable)
				}
			}
			got, err := db.SetResults(t.Context(), tt.in)
			if e := errString(err); !strings.Contains(e, tt.wantErr) || (tt.wantErr == "") != (err == nil) {
				t.Fatalf("SetResults error = %q, want %q", e, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("SetResults (-want +got):\n%s", diff)
			}
		})
	}
	// e is still pending: MarkUnreachable of all marks it, and only it.
	got, err := db.MarkUnreachable(t.Context(), "j-1", nil, at(9))
	if err != nil || !cmp.Equal([]string{"e"}, got) {
		t.Errorf("MarkUnreachable(all) = %v, %v; want [e]", got, err)
	}
	e := sqlstore.JobResult{JobID: "j-1", HostID: "e", Status: "unreachable", EndedAt: stored(at(9))}
	want := []sqlstore.JobResult{res("a", "ok", 1), res("b", "changed", 3), res("c", "failed", 1), res("d", "timeout", 4), e,
		res("f", "changed", 7), res("g", "failed", 7)}
	for i := range want {
		if want[i].HostID == "e" {
			continue
		}
		want[i].StartedAt, want[i].EndedAt = stored(want[i].StartedAt), stored(want[i].EndedAt)
	}
	_, rs, err := db.Job(t.Context(), "j-1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, rs); diff != "" {
		t.Errorf("results (-want +got):\n%s", diff)
	}
	// The other job was not touched.
	if _, rs, err := db.Job(t.Context(), "j-2"); err != nil || !cmp.Equal(pending("j-2", "a"), rs) {
		t.Errorf("results of j-2 = %v, %v", rs, err)
	}
	if got, err := db.MarkUnreachable(t.Context(), "j-1", []string{}, at(10)); err != nil || got != nil {
		t.Errorf("MarkUnreachable(no host) = %v, %v; want none", got, err)
	}
}

// TestSetResultsText stores output that PostgreSQL's TEXT cannot hold.
func TestSetResultsText(t *testing.T) {
	db := sqlstoretest.Open(t)
	createJobs(t, db, newJob("j-1", hostTime, "a"))
	r := sqlstore.JobResult{JobID: "j-1", HostID: "a", Status: "failed", ExitCode: -1, Output: "nul\x00 bad\xff é", Detail: "bad\xc3"}
	if got, err := db.SetResults(t.Context(), []sqlstore.JobResult{r}); err != nil || !got[0] {
		t.Fatalf("SetResults = %v, %v", got, err)
	}
	_, rs, err := db.Job(t.Context(), "j-1")
	if err != nil {
		t.Fatal(err)
	}
	r.Output, r.Detail = "nul\uFFFD bad\uFFFD é", "bad\uFFFD"
	if diff := cmp.Diff([]sqlstore.JobResult{r}, rs); diff != "" {
		t.Errorf("results (-want +got):\n%s", diff)
	}
}

// TestSetResultsConcurrently delivers the same results from several
// goroutines at once, more than one statement takes and in different
// orders: each is stored once.
func TestSetResultsConcurrently(t *testing.T) {
	db := sqlstoretest.Open(t)
	var hosts []string
	for i := range 1200 {
		hosts = append(hosts, fmt.Sprintf("h%04d", i))
	}
	createJobs(t, db, newJob("j-1", hostTime, hosts...))
	var rs []sqlstore.JobResult
	for _, h := range hosts {
		rs = append(rs, sqlstore.JobResult{JobID: "j-1", HostID: h, Status: "ok", EndedAt: hostTime})
	}
	var n atomic.Int32
	var g errgroup.Group
	for i := range 4 {
		rs := slices.Clone(rs)
		if i%2 == 1 {
			slices.Reverse(rs)
		}
		g.Go(func() error {
			got, err := db.SetResults(t.Context(), rs)
			for _, ok := range got {
				if ok {
					n.Add(1)
				}
			}
			return err
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	if n.Load() != int32(len(hosts)) {
		t.Errorf("%d results stored, want %d", n.Load(), len(hosts))
	}
}

// BenchmarkSetResults10k delivers the results of a job on 10,000 hosts in
// one call.
func BenchmarkSetResults10k(b *testing.B) {
	db := sqlstoretest.Open(b)
	const n = 10000
	hosts := make([]string, n)
	for i := range hosts {
		hosts[i] = fmt.Sprintf("host-%05d", i)
	}
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		id := fmt.Sprintf("j-%d", i)
		if err := db.CreateJob(b.Context(), newJob(id, hostTime, hosts...)); err != nil {
			b.Fatal(err)
		}
		rs := make([]sqlstore.JobResult, n)
		for k, h := range hosts {
			rs[k] = sqlstore.JobResult{
				JobID: id, HostID: h, Status: "ok", Output: "done\n", Detail: "{}",
				StartedAt: hostTime, EndedAt: hostTime.Add(time.Second),
			}
		}
		b.StartTimer()
		got, err := db.SetResults(b.Context(), rs)
		if err != nil {
			b.Fatal(err)
		}
		if !got[0] || !got[n-1] {
			b.Fatalf("results not stored")
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
