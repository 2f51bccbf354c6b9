package check

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// parseOne parses YAML holding one check and makes it run once.
func parseOne(t *testing.T, src string) Check {
	t.Helper()
	cs, err := Parse("test.yaml", []byte(src))
	if err != nil {
		t.Fatalf("Parse:\n%s\n%v", src, err)
	}
	if len(cs) != 1 {
		t.Fatalf("Parse = %d checks, want 1", len(cs))
	}
	cs[0].Retry = Retry{Interval: time.Millisecond, Deadline: 0}
	return cs[0]
}

// closedPort returns a local address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func appServer(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, "Welcome, version 42\n")
	})
	mux.HandleFunc("/bad", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
		io.WriteString(w, "upstream   down\n")
	})
	mux.HandleFunc("/moved", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", "/ok")
		w.WriteHeader(http.StatusFound)
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s token=%s host=%s", r.Method, b, r.Header.Get("X-Token"), r.Host)
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, strings.Repeat("a", 2<<20)+"needle")
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestHTTP(t *testing.T) {
	srv := appServer(t)
	tls := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "secure") }))
	tls.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake
	tls.StartTLS()
	defer tls.Close()
	base := "http://{{ .host.address }}"
	closed := closedPort(t)
	tlsAddr := strings.TrimPrefix(tls.URL, "https://")
	tests := []struct {
		name, check, want string
	}{
		{"ok", `{url: "` + base + `/ok", contains: Welcome, matches: 'version \d+'}`, ""},
		{"status", `{url: "` + base + `/bad"}`, `status 502, want 200 (body "upstream down")`},
		{"status list", `{url: "` + base + `/bad", status: [200, 204]}`, `status 502, want 200 or 204 (body "upstream down")`},
		{"status expected", `{url: "` + base + `/bad", status: 502, contains: upstream}`, ""},
		{"contains", `{url: "` + base + `/ok", contains: Goodbye}`, `body does not contain "Goodbye" (body "Welcome, version 42")`},
		{"contains template", `{url: "` + base + `/ok", contains: "version {{ .vars.version }}"}`, ""},
		{"matches", `{url: "` + base + `/ok", matches: 'version \d+\.\d+'}`, `body does not match /version \d+\.\d+/ (body "Welcome, version 42")`},
		{"redirect not followed", `{url: "` + base + `/moved"}`, `status 302, want 200 (empty body)`},
		{"redirect expected", `{url: "` + base + `/moved", status: 302, response_headers: {Location: ^/ok$}}`, ""},
		{"redirect followed", `{url: "` + base + `/moved", follow_redirects: true, contains: Welcome}`, ""},
		{"response header", `{url: "` + base + `/ok", response_headers: {Content-Type: ^application/json}}`, `header Content-Type is "text/html; charset=utf-8", want a match for /^application/json/`},
		{"response header missing", `{url: "` + base + `/ok", response_headers: {X-Version: .}}`, `no X-Version header, want one matching /./`},
		{"timeout", `{url: "` + base + `/slow", timeout: 100ms}`, `GET ` + srv.URL + `/slow: no response within 100ms`},
		{"refused", `{url: "http://` + closed + `/"}`, `GET http://` + closed + `/: dial tcp ` + closed + `: connect: connection refused`},
		{"post", `{url: "` + base + `/echo", method: post, body: "{{ .vars.greeting }}", headers: {X-Token: "{{ .host.id }}", Host: app.example}, contains: "POST hello token=web-1 host=app.example"}`, ""},
		{"form", `{url: "` + base + `/echo", method: POST, form: {a: "1 2", b: "{{ .host.id }}"}, contains: "POST a=1+2&b=web-1"}`, ""},
		{"run-time template", `{url: "` + base + `/{{ .vars.missing }}"}`, `url: at <.vars.missing>: map has no entry for key "missing"`},
		{"first MiB only", `{url: "` + base + `/big", contains: needle}`, `body does not contain "needle" (body "` + strings.Repeat("a", maxExcerpt) + `…")`},
		{"tls unverified", `{url: "https://` + tlsAddr + `/"}`, `GET https://` + tlsAddr + `/: tls: failed to verify certificate: x509: certificate signed by unknown authority (insecure: true skips this verification)`},
		{"tls insecure", `{url: "https://` + tlsAddr + `/", insecure: true, contains: secure}`, ""},
	}
	v := Vars{Host: HostInfo{ID: "web-1", Address: strings.TrimPrefix(srv.URL, "http://")}, Vars: map[string]any{"greeting": "hello", "version": 42}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := parseOne(t, "- name: "+tt.name+"\n  http: "+tt.check+"\n")
			res := Run(context.Background(), c, v)
			if res.OK != (tt.want == "") || res.Error != tt.want {
				t.Errorf("Run = ok %v, error:\n%s\nwant error:\n%s", res.OK, res.Error, tt.want)
			}
			if res.Attempts != 1 || res.Name != tt.name {
				t.Errorf("Run = %d attempts, name %q; want 1, %q", res.Attempts, res.Name, tt.name)
			}
		})
	}
}

func TestTCP(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	host, port, _ := net.SplitHostPort(l.Addr().String())
	closed := closedPort(t)
	tests := []struct{ name, check, want string }{
		{"accepts", `{address: "{{ .host.address }}:{{ .vars.port }}", timeout: 1s}`, ""},
		{"refused", `{address: "` + closed + `"}`, "dial tcp " + closed + ": connect: connection refused"},
		{"bad address", `{address: "{{ .host.address }}"}`, "dial tcp: address 127.0.0.1: missing port in address"},
	}
	v := Vars{Host: HostInfo{Address: host}, Vars: map[string]any{"port": port}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := Run(context.Background(), parseOne(t, "- tcp: "+tt.check+"\n"), v)
			if res.OK != (tt.want == "") || res.Error != tt.want {
				t.Errorf("Run = ok %v, error:\n%s\nwant error:\n%s", res.OK, res.Error, tt.want)
			}
		})
	}
}

func TestCommand(t *testing.T) {
	tests := []struct{ name, check, want string }{
		{"argv", `{argv: ["true"]}`, ""},
		{"exit status", `{script: "echo not ready >&2; exit 3"}`, `exit status 3, want 0 (output "not ready")`},
		{"expected status", `{script: "exit 3", status: 3}`, ""},
		{"no output", `{argv: ["false"]}`, `exit status 1, want 0 (no output)`},
		{"signal", `{argv: [sh, -c, "kill -TERM $$"]}`, `killed by signal 15 (terminated), want exit status 0 (no output)`},
		{"timeout", `{script: "echo starting; sleep 30", timeout: 200ms}`, `timed out after 200ms: killed its process group (output "starting")`},
		{"not found", `{argv: [/nonexistent/prog]}`, `fork/exec /nonexistent/prog: no such file or directory`},
		{"template", `{argv: [test, "{{ .host.id }}", =, web-1]}`, ""},
		{"template script", `{script: 'test "{{ .vars.env }}" = prod || { echo "env is {{ .vars.env }}"; exit 1; }'}`, `exit status 1, want 0 (output "env is preprod")`},
	}
	v := Vars{Host: HostInfo{ID: "web-1"}, Vars: map[string]any{"env": "preprod"}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := Run(context.Background(), parseOne(t, "- command: "+tt.check+"\n"), v)
			if res.OK != (tt.want == "") || res.Error != tt.want {
				t.Errorf("Run = ok %v, error:\n%s\nwant error:\n%s", res.OK, res.Error, tt.want)
			}
		})
	}
}
