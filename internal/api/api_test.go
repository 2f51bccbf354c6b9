package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/phenixhq/phenix/internal/api"
)

func TestDuration(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{`"90s"`, 90 * time.Second, true},
		{`"1h30m"`, 90 * time.Minute, true},
		{`1000000000`, time.Second, true},
		{`"soon"`, 0, false},
		{`true`, 0, false},
	} {
		var d api.Duration
		err := json.Unmarshal([]byte(tc.in), &d)
		if (err == nil) != tc.ok || (tc.ok && time.Duration(d) != tc.want) {
			t.Errorf("%s: %v, %v", tc.in, time.Duration(d), err)
		}
	}
	b, _ := json.Marshal(api.Duration(90 * time.Second))
	if string(b) != `"1m30s"` {
		t.Errorf("marshal: %s", b)
	}
}

func newClient(t *testing.T, h http.Handler) *api.Client {
	srv := httptest.NewTLSServer(h)
	t.Cleanup(srv.Close)
	c := api.NewClient(srv.URL, "tok", nil)
	c.HTTP = srv.Client()
	return c
}

func TestErrors(t *testing.T) {
	c := newClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" {
			t.Errorf("no token sent")
		}
		switch r.URL.Path {
		case "/api/v1/bad":
			w.WriteHeader(400)
			fmt.Fprint(w, `{"error":"col 3: expected a key","field":"selector"}`)
		case "/api/v1/gone":
			w.WriteHeader(404)
			fmt.Fprint(w, `{"error":"no job x"}`)
		default:
			w.WriteHeader(502)
			fmt.Fprint(w, `upstream down`)
		}
	}))
	ctx := context.Background()
	err := c.Do(ctx, "GET", "/api/v1/bad", nil, nil)
	if !api.IsBadInput(err) || err.Error() != "selector: col 3: expected a key" {
		t.Errorf("400: %v", err)
	}
	if err := c.Do(ctx, "GET", "/api/v1/gone", nil, nil); !api.IsBadInput(err) || err.Error() != "no job x" {
		t.Errorf("404: %v", err)
	}
	if err := c.Do(ctx, "GET", "/api/v1/other", nil, nil); api.IsBadInput(err) || err == nil {
		t.Errorf("502: %v", err)
	}
}

// TestEventsResume cuts the stream once: Events reconnects, and the
// results sent again are passed on once.
func TestEventsResume(t *testing.T) {
	var calls atomic.Int32
	c := newClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		enc := json.NewEncoder(w)
		_ = enc.Encode(api.Event{Type: "result", Host: "a", Result: &api.JobResult{Host: "a", Status: "ok"}})
		if calls.Add(1) == 1 {
			return // cut before the end
		}
		_ = enc.Encode(api.Event{Type: "result", Host: "b", Result: &api.JobResult{Host: "b", Status: "failed"}})
		_ = enc.Encode(api.Event{Type: "end", Job: &api.Job{ID: "j", Result: "failed"}})
	}))
	var got []string
	err := c.Events(context.Background(), "j", func(ev api.Event) {
		got = append(got, ev.Type+":"+ev.Host)
	})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != "[result:a result:b end:]" || calls.Load() != 2 {
		t.Errorf("events %v after %d calls", got, calls.Load())
	}
}
