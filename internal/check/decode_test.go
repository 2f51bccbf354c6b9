package check

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"

	"github.com/phenixhq/phenix/internal/bundle"
	"github.com/phenixhq/phenix/internal/promise"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestErrorsGolden parses each testdata/errors/*.yaml file and compares
// the whole error list with the .golden file beside it.
func TestErrorsGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/errors/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no test files: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			cs, err := Parse(f, src)
			if err == nil {
				t.Fatalf("Parse(%s) = %d checks, no error; want errors", f, len(cs))
			}
			if cs != nil {
				t.Errorf("Parse(%s) returned checks along with errors", f)
			}
			var el bundle.ErrorList
			if !errors.As(err, &el) {
				t.Fatalf("Parse(%s) error is %T, want bundle.ErrorList", f, err)
			}
			got := err.Error() + "\n"
			golden := strings.TrimSuffix(f, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("errors of %s (-want +got):\n%s", f, diff)
			}
		})
	}
}

func TestParseValid(t *testing.T) {
	src := `
- name: home
  http:
    url: "http://{{ .host.address }}:8080/"
    method: post
    status: [200, 204]
    contains: Welcome
    matches: 'version \d+'
    headers: {Accept: text/html}
    response_headers: {X-B: b, X-A: a}
    body: "{}"
    timeout: 2s
    insecure: yes
    follow_redirects: true
  retry: {interval: 500ms, deadline: 1m}
- tcp: {address: "{{ .host.address }}:5432"}
- name: service
  command: {argv: [systemctl, is-active, app], status: 3, timeout: 1.5}
- command: {script: "test -f /srv/ok"}
- name: login
  scenario:
    - url: "http://{{ .host.address }}/login"
      capture:
        b: {regex: 'b=(\w+)'}
        a: {header: Location}
    - name: api
      url: "http://{{ .host.address }}/api?a={{ .captures.a }}&b={{ .captures.b }}"
      capture: {c: {json: "items[0].id"}}
    - url: "http://{{ .host.address }}/{{ .captures.c }}"
      retry: 1s
`
	_, err := Parse("ok.yaml", []byte(src))
	if err == nil || !strings.Contains(err.Error(), `ok.yaml:30:7: unknown scenario step key "retry"`) {
		t.Fatalf("retry in a step: error = %v, want it refused", err)
	}
	src = strings.Replace(src, "      retry: 1s\n", "", 1)
	cs, err := Parse("ok.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range cs {
		names = append(names, c.Type+": "+c.Name)
	}
	want := []string{
		"http: home",
		"tcp: tcp {{ .host.address }}:5432",
		"command: service",
		"command: command test -f /srv/ok",
		"scenario: login",
	}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Fatalf("checks (-want +got):\n%s", diff)
	}
	h := cs[0].HTTP
	if h.Method != "POST" || !cmp.Equal(h.Status, []int{200, 204}) || h.Contains != "Welcome" || h.Matches.String() != `version \d+` ||
		h.Headers["Accept"] != "text/html" || h.Body != "{}" || h.Timeout != 2*time.Second || !h.Insecure || !h.FollowRedirects {
		t.Errorf("http check = %+v", h)
	}
	if len(h.ResponseHeaders) != 2 || h.ResponseHeaders[0].Name != "X-A" || h.ResponseHeaders[1].Regexp.String() != "b" {
		t.Errorf("response headers = %+v, want X-A then X-B", h.ResponseHeaders)
	}
	if cs[0].Retry != (Retry{Interval: 500 * time.Millisecond, Deadline: time.Minute}) {
		t.Errorf("retry = %+v", cs[0].Retry)
	}
	if cs[0].Pos != (promise.Pos{File: "ok.yaml", Line: 3, Col: 3}) {
		t.Errorf("pos = %v, want ok.yaml:3:3", cs[0].Pos)
	}
	if tc := cs[1].TCP; tc.Timeout != DefaultTCPTimeout || cs[1].Retry != (Retry{Interval: DefaultInterval, Deadline: DefaultDeadline}) {
		t.Errorf("defaults: tcp %+v, retry %+v", tc, cs[1].Retry)
	}
	if c := cs[2].Command; !cmp.Equal(c.Argv, []string{"systemctl", "is-active", "app"}) || c.Status != 3 || c.Timeout != 1500*time.Millisecond {
		t.Errorf("command = %+v", c)
	}
	if c := cs[3].Command; c.Script != "test -f /srv/ok" || c.Timeout != DefaultCommandTimeout {
		t.Errorf("script = %+v", c)
	}
	sc := cs[4].Scenario
	if len(sc) != 3 || sc[0].Name != "step 1" || sc[1].Name != "api" || sc[2].Name != "step 3" ||
		sc[0].Method != "GET" || !cmp.Equal(sc[0].Status, []int{200}) || sc[0].Timeout != DefaultHTTPTimeout {
		t.Fatalf("scenario = %+v", sc)
	}
	if cp := sc[0].Capture; len(cp) != 2 || cp[0].Name != "b" || cp[0].Regex.String() != `b=(\w+)` || cp[1].Header != "Location" || cp[1].Pos.Line != 25 {
		t.Errorf("captures = %+v", cp)
	}
	if cp := sc[1].Capture; len(cp) != 1 || cp[0].JSON != "items[0].id" {
		t.Errorf("captures = %+v", cp)
	}
}

// TestDecodeAppFile decodes the checks key of a larger file: positions are
// the file's own.
func TestDecodeAppFile(t *testing.T) {
	src := `app: shop
environments: [preprod, prod]
checks:
  - name: home
    http: {url: "http://{{ .host.address }}/", statsu: 200}
`
	var doc struct {
		Checks yaml.Node `yaml:"checks"`
	}
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatal(err)
	}
	_, err := Decode("shop.yaml", &doc.Checks)
	if want := `shop.yaml:5:48: unknown http key "statsu" (did you mean "status"?)`; err == nil || err.Error() != want {
		t.Errorf("Decode error = %v, want %s", err, want)
	}
	cs, err := Decode("shop.yaml", nil)
	if cs != nil || err != nil {
		t.Errorf("Decode(nil) = %v, %v; want no check, no error", cs, err)
	}
}

// FuzzParse checks that no input makes Parse panic, that every error has
// a position, and that checks come without errors or not at all.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/errors/*.yaml")
	for _, s := range seeds {
		b, _ := os.ReadFile(s)
		f.Add(b)
	}
	f.Add([]byte(loginScenario))
	f.Add([]byte("- http: {url: 'http://x/', status: [200, 204], matches: a+}\n  retry: {deadline: 0s}\n- tcp: {address: 'a:1'}\n"))
	f.Add([]byte("- &a {command: {argv: [*a]}}\n- *a\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		cs, err := Parse("fuzz.yaml", src)
		if err == nil {
			for _, c := range cs {
				if c.Name == "" || c.HTTP == nil && c.TCP == nil && c.Command == nil && len(c.Scenario) == 0 {
					t.Errorf("check without a name or settings: %+v", c)
				}
			}
			return
		}
		if cs != nil {
			t.Errorf("checks along with errors")
		}
		var el bundle.ErrorList
		if !errors.As(err, &el) || len(el) == 0 {
			t.Fatalf("error %T %v, want a non-empty bundle.ErrorList", err, err)
		}
		for _, e := range el {
			if e.Pos.Line < 1 || e.Pos.File != "fuzz.yaml" {
				t.Errorf("error without a position: %v", e)
			}
		}
	})
}
