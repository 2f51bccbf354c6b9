package check

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// loginApp is a small web application: a login form protected by a CSRF
// token bound to a first cookie, a session cookie, a JSON API and an
// account page that need the session.
func loginApp(t *testing.T) *httptest.Server {
	t.Helper()
	const csrf, session = "tok-7f3a", "sess-19c2"
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "pre", Value: csrf, Path: "/"})
		io.WriteString(w, `<form method="post"><input type="hidden" name="csrf" value="`+csrf+`"></form>`)
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		pre, err := r.Cookie("pre")
		switch {
		case err != nil || pre.Value != r.PostFormValue("csrf"):
			http.Error(w, "bad csrf token", http.StatusForbidden)
		case r.PostFormValue("user") != "alice" || r.PostFormValue("password") != "s3cret&x":
			io.WriteString(w, "<p>bad password</p>")
		default:
			http.SetCookie(w, &http.Cookie{Name: "session", Value: session, Path: "/"})
			http.Redirect(w, r, "/api/me", http.StatusSeeOther)
		}
	})
	authed := func(h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if c, err := r.Cookie("session"); err != nil || c.Value != session {
				http.Redirect(w, r, "/login", http.StatusFound)
				return
			}
			h(w, r)
		}
	}
	mux.HandleFunc("GET /api/me", authed(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"user":{"id":4207,"name":"Alice Martin","roles":["admin"]}}`)
	}))
	mux.HandleFunc("GET /users/4207", authed(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "<h1>Welcome, Alice Martin</h1>")
	}))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

const loginScenario = `
- name: log in and see the account page
  scenario:
    - name: login page
      url: "http://{{ .host.address }}:{{ .vars.port }}/login"
      capture:
        csrf: {regex: 'name="csrf" value="([^"]+)"'}
    - name: log in
      method: POST
      url: "http://{{ .host.address }}:{{ .vars.port }}/login"
      form:
        user: alice
        password: "{{ .vars.password }}"
        csrf: "{{ .captures.csrf }}"
      status: 303
      capture:
        next: {header: Location}
    - name: who am I
      url: "http://{{ .host.address }}:{{ .vars.port }}{{ .captures.next }}"
      capture:
        uid: {json: user.id}
    - name: account
      url: "http://{{ .host.address }}:{{ .vars.port }}/users/{{ .captures.uid }}"
      contains: "Welcome, {{ .vars.name }}"
`

func TestScenario(t *testing.T) {
	srv := loginApp(t)
	host, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	vars := func(password string) Vars {
		return Vars{Host: HostInfo{ID: "web-1", Address: host}, Vars: map[string]any{"port": port, "password": password, "name": "Alice Martin"}}
	}
	c := parseOne(t, loginScenario)

	res := Run(context.Background(), c, vars("s3cret&x"))
	if !res.OK {
		t.Fatalf("Run: %s", res.Error)
	}
	var got []string
	for _, s := range res.Steps {
		got = append(got, fmt.Sprintf("%s %d %q", s.Name, s.Status, s.Error))
	}
	want := []string{`login page 200 ""`, `log in 303 ""`, `who am I 200 ""`, `account 200 ""`}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("steps (-want +got):\n%s", diff)
	}

	res = Run(context.Background(), c, vars("wrong"))
	if want := `step 2 (log in): status 200, want 303 (body "<p>bad password</p>")`; res.OK || res.Error != want {
		t.Errorf("with a wrong password, error = %q, want %q", res.Error, want)
	}
	if len(res.Steps) != 2 || res.Steps[1].Status != 200 || res.Steps[1].Error != `status 200, want 303 (body "<p>bad password</p>")` {
		t.Errorf("with a wrong password, steps = %+v, want two, the second failed", res.Steps)
	}
}

// TestScenarioFailures: each step's failure names the step and says what
// came back.
func TestScenarioFailures(t *testing.T) {
	srv := loginApp(t)
	v := Vars{Host: HostInfo{Address: srv.Listener.Addr().String()}}
	tests := []struct{ name, steps, want string }{
		{"regex", `
    - url: "http://{{ .host.address }}/login"
      capture: {csrf: {regex: 'name="token" value="([^"]+)"'}}`,
			`step 1: capture csrf: no match for /name="token" value="([^"]+)"/ (body "<form method=\"post\"><input type=\"hidden\" name=\"csrf\" value=\"tok-7f3a\"></form>")`},
		{"no cookie", `
    - name: account without logging in
      url: "http://{{ .host.address }}/users/4207"`,
			`step 1 (account without logging in): status 302, want 200 (body "<a href=\"/login\">Found</a>.")`},
		{"csrf", `
    - name: login page
      url: "http://{{ .host.address }}/login"
    - name: log in
      method: POST
      url: "http://{{ .host.address }}/login"
      form: {user: alice, csrf: forged}`,
			`step 2 (log in): status 403, want 200 (body "bad csrf token")`},
		{"json", `
    - url: "http://{{ .host.address }}/login"
      capture: {csrf: {regex: 'value="([^"]+)"'}}
    - {method: POST, url: "http://{{ .host.address }}/login", form: {user: alice, password: s3cret&x, csrf: "{{ .captures.csrf }}"}, follow_redirects: true, capture: {uid: {json: user.uid}}}`,
			`step 2: capture uid: no field user.uid in the JSON body (body "{\"user\":{\"id\":4207,\"name\":\"Alice Martin\",\"roles\":[\"admin\"]}}")`},
		{"not json", `
    - url: "http://{{ .host.address }}/login"
      capture: {uid: {json: user.id}}`,
			`step 1: capture uid: body is not JSON: invalid character '<' looking for beginning of value (body "<form method=\"post\"><input type=\"hidden\" name=\"csrf\" value=\"tok-7f3a\"></form>")`},
		{"header", `
    - url: "http://{{ .host.address }}/login"
      capture: {next: {header: Location}}`,
			`step 1: capture next: no Location header in the response`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := Run(context.Background(), parseOne(t, "- scenario:"+tt.steps+"\n"), v)
			if res.OK || res.Error != tt.want {
				t.Errorf("Run = ok %v, error:\n%s\nwant:\n%s", res.OK, res.Error, tt.want)
			}
		})
	}
}

func TestLookupJSON(t *testing.T) {
	body := []byte(`{"user": {"id": 12345678901, "name": "Al", "tags": ["a", {"k": null}], "ok": true}, "list": [[1, 2]]}`)
	tests := []struct{ path, want, err string }{
		{"user.id", "12345678901", ""},
		{"$.user.name", "Al", ""},
		{".user.tags[0]", "a", ""},
		{"user.tags[1]", `{"k":null}`, ""},
		{"user.ok", "true", ""},
		{"list[0][1]", "2", ""},
		{"user.tags[1].k", "", "field user.tags[1].k is null"},
		{"user.tags[5]", "", "no field user.tags[5]: $.user.tags has 2 items"},
		{"user.name.first", "", "no field user.name.first: $.user.name is a string, not an object"},
		{"user[0]", "", "no field user[0]: $.user is an object, not an array"},
		{"user..id", "", `bad JSON path "user..id": empty key`},
		{"user[x]", "", `bad JSON path "user[x]": expected an index such as [0], got [x]`},
		{"user[0", "", `bad JSON path "user[0": missing ]`},
		{"[0]x", "", `bad JSON path "[0]x": expected . or [ before "x"`},
		{"", "", "empty JSON path: expected a path such as user.id or items[0].name"},
	}
	for _, tt := range tests {
		got, err := lookupJSON(body, tt.path)
		errText := ""
		if err != nil {
			errText = err.Error()
		}
		if got != tt.want || errText != tt.err {
			t.Errorf("lookupJSON(%q) = %q, %q; want %q, %q", tt.path, got, errText, tt.want, tt.err)
		}
	}
	if v, err := lookupJSON([]byte(`[{"id": "x"}]`), "[0].id"); v != "x" || err != nil {
		t.Errorf("lookupJSON([0].id) = %q, %v", v, err)
	}
}
