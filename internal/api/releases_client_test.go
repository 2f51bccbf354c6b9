package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/phenixhq/phenix/internal/api"
)

// TestUploadVersion streams an artifact: its length is sent when known,
// the note goes in X-Phenix-Note, and 201 and 200 tell a new version from
// the same one again.
func TestUploadVersion(t *testing.T) {
	type seen struct {
		path, ctype, note, body string
		length                  int64
		chunked                 bool
	}
	var (
		mu   sync.Mutex
		reqs []seen
	)
	c := newClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		reqs = append(reqs, seen{r.URL.EscapedPath(), r.Header.Get("Content-Type"), r.Header.Get("X-Phenix-Note"), string(b),
			r.ContentLength, len(r.TransferEncoding) > 0 && r.TransferEncoding[0] == "chunked"})
		n := len(reqs)
		mu.Unlock()
		if r.Method != "PUT" {
			t.Errorf("method %s", r.Method)
		}
		switch n {
		case 1:
			w.WriteHeader(http.StatusCreated)
		case 3:
			w.WriteHeader(http.StatusConflict)
			fmt.Fprint(w, `{"error":"web 1.4.2 is already uploaded with other content (sha256:abc)"}`)
			return
		}
		_ = json.NewEncoder(w).Encode(api.Version{App: "web", Version: "1.4.2", SHA256: "abc", Size: int64(len(b)), Format: "tar.gz"})
	}))
	ctx := context.Background()
	body := "artifact bytes"
	// A reader net/http cannot size by itself: the length comes from size.
	v, created, err := c.UploadVersion(ctx, "web", "1.4.2", io.MultiReader(strings.NewReader(body)), int64(len(body)), "hotfix #42")
	if err != nil || !created || v.Version != "1.4.2" || v.Size != int64(len(body)) {
		t.Fatalf("first upload: %+v, created %v, %v", v, created, err)
	}
	v, created, err = c.UploadVersion(ctx, "web", "1.4.2", io.MultiReader(strings.NewReader(body)), -1, "")
	if err != nil || created || v.SHA256 != "abc" {
		t.Fatalf("second upload: %+v, created %v, %v", v, created, err)
	}
	_, created, err = c.UploadVersion(ctx, "web", "1.4.2", strings.NewReader("other"), 5, "")
	var se *api.StatusError
	if !errors.As(err, &se) || se.Code != http.StatusConflict || created || api.IsBadInput(err) {
		t.Fatalf("conflict: created %v, %v", created, err)
	}
	want := []seen{
		{"/api/v1/apps/web/versions/1.4.2", "application/octet-stream", "hotfix #42", body, int64(len(body)), false},
		{"/api/v1/apps/web/versions/1.4.2", "application/octet-stream", "", body, -1, true},
		{"/api/v1/apps/web/versions/1.4.2", "application/octet-stream", "", "other", 5, false},
	}
	if fmt.Sprint(reqs) != fmt.Sprint(want) {
		t.Errorf("requests:\n%+v\nwant\n%+v", reqs, want)
	}
}

// TestReleaseRoutes checks the method, path, query and body of every
// releases call against the routes of releases.go.
func TestReleaseRoutes(t *testing.T) {
	var got []string
	c := newClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		line := r.Method + " " + r.URL.RequestURI()
		if len(b) > 0 {
			line += " " + strings.TrimSpace(string(b))
		}
		got = append(got, line)
		switch {
		case r.Method == "DELETE" && strings.HasPrefix(r.URL.Path, "/api/v1/users/"):
			w.WriteHeader(http.StatusNoContent)
		case r.URL.Path == "/api/v1/apps":
			fmt.Fprint(w, `[{"name":"web","environments":["alpha","prod"]}]`)
		case strings.HasSuffix(r.URL.Path, "/versions"), strings.HasSuffix(r.URL.Path, "/deployments") && r.Method == "GET",
			r.URL.Path == "/api/v1/users" && r.Method == "GET":
			fmt.Fprint(w, `[]`)
		case strings.HasSuffix(r.URL.Path, "/status"):
			fmt.Fprint(w, `{"app":"web","envs":[{"env":"prod","selector":"role=web","hosts":3,"current":"1.4.2"}]}`)
		case r.URL.Path == "/api/v1/users":
			fmt.Fprint(w, `{"name":"alice","admin":true,"created_by":"admin","created_at":"2026-11-22T06:15:02Z","token":"phxu_secret"}`)
		default:
			fmt.Fprint(w, `{"id":"d-1","env":"prod","deployment":"d-1","version":"1.4.2"}`)
		}
	}))
	ctx := context.Background()
	check := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Errorf("%s: %v", what, err)
		}
	}
	apps, err := c.Apps(ctx)
	check("apps", err)
	if len(apps) != 1 || apps[0].Environments[1] != "prod" {
		t.Errorf("apps = %+v", apps)
	}
	_, err = c.Versions(ctx, "web", 5)
	check("versions", err)
	_, err = c.Versions(ctx, "web", 0)
	check("versions", err)
	st, err := c.Status(ctx, "web")
	check("status", err)
	if len(st.Envs) != 1 || st.Envs[0].Current != "1.4.2" {
		t.Errorf("status = %+v", st)
	}
	d, err := c.Deploy(ctx, "web", api.DeployRequest{Kind: api.KindDeploy, Env: "prod", Version: "1.4.2", Batch: "50%"})
	check("deploy", err)
	if d.ID != "d-1" {
		t.Errorf("deploy = %+v", d)
	}
	_, err = c.Deployment(ctx, "d-1")
	check("deployment", err)
	_, err = c.Deployments(ctx, "web", "prod", 10)
	check("deployments", err)
	_, err = c.Deployments(ctx, "web", "", 0)
	check("deployments", err)
	_, err = c.Approve(ctx, "web", api.ApproveRequest{Env: "prod", Version: "1.4.2", Note: "QA ok"})
	check("approve", err)
	l, err := c.Unlock(ctx, "web", "prod", "stuck after a crash & restart")
	check("unlock", err)
	if l.Deployment != "d-1" {
		t.Errorf("unlock = %+v", l)
	}
	u, err := c.CreateUser(ctx, api.UserRequest{Name: "alice", Admin: true})
	check("create user", err)
	if u.Token != "phxu_secret" || u.Name != "alice" || !u.Admin {
		t.Errorf("create user = %+v", u)
	}
	_, err = c.Users(ctx)
	check("users", err)
	check("delete user", c.DeleteUser(ctx, "alice"))
	want := []string{
		"GET /api/v1/apps",
		"GET /api/v1/apps/web/versions?limit=5",
		"GET /api/v1/apps/web/versions",
		"GET /api/v1/apps/web/status",
		`POST /api/v1/apps/web/deployments {"kind":"deploy","env":"prod","version":"1.4.2","batch":"50%"}`,
		"GET /api/v1/deployments/d-1",
		"GET /api/v1/apps/web/deployments?env=prod&limit=10",
		"GET /api/v1/apps/web/deployments",
		`POST /api/v1/apps/web/approvals {"env":"prod","version":"1.4.2","note":"QA ok"}`,
		"DELETE /api/v1/apps/web/locks/prod?reason=stuck+after+a+crash+%26+restart",
		`POST /api/v1/users {"name":"alice","admin":true}`,
		"GET /api/v1/users",
		"DELETE /api/v1/users/alice",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("requests:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestDeploymentEventsResume cuts the stream in the middle of a step: the
// events are read again from the start, and fn gets each step event once.
func TestDeploymentEventsResume(t *testing.T) {
	step := func(batch int, name, result string) api.DeploymentEvent {
		return api.DeploymentEvent{Type: "step", Step: &api.DeployStep{Batch: batch, Name: name, Where: "server", Result: result}}
	}
	all := []api.DeploymentEvent{
		step(0, "deliver", "running"),
		step(0, "deliver", "ok"),
		step(1, "activate", "running"),
		step(1, "activate", "ok"),
		step(2, "activate", "running"),
		step(2, "activate", "failed"),
		{Type: "end", Deployment: &api.Deployment{ID: "d-1", State: api.StateFailed}},
	}
	var calls atomic.Int32
	c := newClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/deployments/d-1/events" {
			t.Errorf("path %s", r.URL.Path)
		}
		evs := all
		if calls.Add(1) == 1 {
			evs = all[:3] // cut while batch 1 runs
		}
		enc := json.NewEncoder(w)
		for _, ev := range evs {
			_ = enc.Encode(ev)
		}
	}))
	var got []string
	err := c.DeploymentEvents(context.Background(), "d-1", func(ev api.DeploymentEvent) {
		s := ev.Type
		if ev.Step != nil {
			s += fmt.Sprintf(":%d/%s/%s", ev.Step.Batch, ev.Step.Name, ev.Step.Result)
		}
		if ev.Deployment != nil {
			s += ":" + ev.Deployment.State
		}
		got = append(got, s)
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "[step:0/deliver/running step:0/deliver/ok step:1/activate/running step:1/activate/ok step:2/activate/running step:2/activate/failed end:failed]"
	if fmt.Sprint(got) != want || calls.Load() != 2 {
		t.Errorf("events after %d calls:\n%v\nwant\n%v", calls.Load(), got, want)
	}
}

// TestDeploymentEventsRefused: an error response is not retried.
func TestDeploymentEventsRefused(t *testing.T) {
	var calls atomic.Int32
	c := newClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"error":"no deployment d-x"}`)
	}))
	err := c.DeploymentEvents(context.Background(), "d-x", func(api.DeploymentEvent) { t.Error("event") })
	if !api.IsBadInput(err) || err.Error() != "no deployment d-x" || calls.Load() != 1 {
		t.Errorf("%v after %d calls", err, calls.Load())
	}
}
