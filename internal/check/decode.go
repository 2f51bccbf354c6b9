package check

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/phenixhq/phenix/internal/bundle"
	"github.com/phenixhq/phenix/internal/promise"
)

var (
	checkKeys   = []string{"name", TypeHTTP, TypeTCP, TypeCommand, TypeScenario, "retry"}
	httpKeys    = []string{"url", "method", "headers", "body", "form", "status", "contains", "matches", "response_headers", "timeout", "insecure", "follow_redirects"}
	stepKeys    = append([]string{"name", "capture"}, httpKeys...)
	tcpKeys     = []string{"address", "timeout"}
	commandKeys = []string{"argv", "script", "status", "timeout"}
	retryKeys   = []string{"interval", "deadline"}
	captureKeys = []string{"regex", "json", "header"}
	methods     = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
)

// Decode reads a YAML sequence of checks from node (the caller's node,
// such as the value of an app file's checks key; a document node is
// unwrapped) and returns every error at once, as a bundle.ErrorList sorted
// by position. A null node holds no check. Defaults are filled in.
func Decode(file string, node *yaml.Node) ([]Check, error) {
	d := &decoder{file: file}
	checks := d.checks(node)
	if err := d.errs.Err(); err != nil {
		return nil, err
	}
	return checks, nil
}

// Parse is Decode on a whole YAML document whose root is a sequence of
// checks.
func Parse(file string, src []byte) ([]Check, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, bundle.ErrorList{bundle.SyntaxError(file, err)}
	}
	if len(doc.Content) == 0 {
		return nil, bundle.ErrorList{{Pos: promise.Pos{File: file, Line: 1, Col: 1}, Msg: "no checks: expected a list of checks"}}
	}
	return Decode(file, &doc)
}

type decoder struct {
	file string
	errs bundle.ErrorList
}

func (d *decoder) errorf(n *yaml.Node, format string, args ...any) {
	d.errs = append(d.errs, &bundle.Error{Pos: d.pos(n), Msg: fmt.Sprintf(format, args...)})
}

func (d *decoder) pos(n *yaml.Node) promise.Pos {
	line, col := n.Line, n.Column
	if line < 1 {
		line, col = 1, 1
	}
	return promise.Pos{File: d.file, Line: line, Col: col}
}

// resolve follows an alias to the node it names.
func resolve(n *yaml.Node) *yaml.Node {
	if n != nil && n.Kind == yaml.AliasNode && n.Alias != nil {
		return n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n == nil || n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

func (d *decoder) checks(n *yaml.Node) []Check {
	n = resolve(n)
	if n != nil && n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return nil
		}
		n = resolve(n.Content[0])
	}
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, "expected a list of checks, got %s", bundle.Describe(n))
		return nil
	}
	var out []Check
	first := map[string]promise.Pos{}
	for _, item := range n.Content {
		nerrs := len(d.errs)
		c, ok := d.check(item)
		if !ok {
			continue
		}
		if p, dup := first[c.Name]; dup {
			d.errorf(item, "duplicate check name %q (first at %s): give each check its own name", c.Name, p)
			continue
		}
		first[c.Name] = c.Pos
		if len(d.errs) == nerrs {
			out = append(out, c)
		}
	}
	return out
}

// fields is a mapping's keys, checked against the ones its type knows.
type fields struct {
	vals    map[string]*yaml.Node
	keys    map[string]*yaml.Node
	unknown []*yaml.Node // key nodes, in order
}

// mapping reads n, which must be a mapping, and reports duplicated keys;
// unknown keys are left to the caller.
func (d *decoder) mapping(n *yaml.Node, known []string) fields {
	f := fields{vals: map[string]*yaml.Node{}, keys: map[string]*yaml.Node{}}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], resolve(n.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			d.errorf(k, "expected a key such as %s, got %s", known[0], bundle.Describe(k))
			continue
		}
		if _, dup := f.keys[k.Value]; dup {
			d.errorf(k, "%s given twice", k.Value)
			continue
		}
		f.keys[k.Value] = k
		if !slices.Contains(known, k.Value) {
			f.unknown = append(f.unknown, k)
			continue
		}
		f.vals[k.Value] = v
	}
	return f
}

// reportUnknown reports f's unknown keys, with a suggestion from known.
func (d *decoder) reportUnknown(f fields, what string, known []string) {
	for _, k := range f.unknown {
		d.errorf(k, "%s", unknownKey(what, k.Value, known))
	}
}

func unknownKey(what, key string, known []string) string {
	msg := fmt.Sprintf("unknown %s %q", what, key)
	if s := suggest(key, known); s != "" {
		return msg + fmt.Sprintf(" (did you mean %q?)", s)
	}
	return msg + ": expected one of " + strings.Join(known, ", ")
}

// suggest returns the candidate closest to s, if it is close enough to be
// a typo of it: at most len(s)/2 edits away ("htp" is http, "grpc" is not
// tcp).
func suggest(s string, candidates []string) string {
	best, bestD := "", len(s)/2+1
	for _, c := range candidates {
		if d := promise.EditDistance(strings.ToLower(s), strings.ToLower(c)); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

const checkExample = `{name: home, http: {url: "http://{{ .host.address }}/"}}`

func (d *decoder) check(n *yaml.Node) (Check, bool) {
	n = resolve(n)
	c := Check{Pos: d.pos(n)}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "expected a check (a mapping such as %s), got %s", checkExample, bundle.Describe(n))
		return c, false
	}
	nerrs := len(d.errs)
	f := d.mapping(n, checkKeys)
	var typeKeys []*yaml.Node
	for i := 0; i < len(n.Content); i += 2 {
		if k := n.Content[i]; slices.Contains(Types, k.Value) && f.keys[k.Value] == k {
			typeKeys = append(typeKeys, k)
		}
	}
	switch {
	case len(typeKeys) == 0 && len(f.unknown) > 0:
		// The unknown keys are most likely a misspelled or unknown type.
		d.reportUnknown(f, "check type", Types)
		return c, false
	case len(typeKeys) == 0:
		d.errorf(n, "check has no type: expected one key among %s, as in %s", strings.Join(Types, ", "), checkExample)
		return c, false
	case len(typeKeys) > 1:
		d.errorf(typeKeys[1], "check has two types, %s and %s: split it into two checks", typeKeys[0].Value, typeKeys[1].Value)
		return c, false
	}
	d.reportUnknown(f, "check key", checkKeys)
	c.Type = typeKeys[0].Value
	c.Pos = d.pos(typeKeys[0])
	v := f.vals[c.Type]
	var subject string
	switch c.Type {
	case TypeHTTP:
		if h, ok := d.httpCheck(v); ok {
			c.HTTP, subject = h, h.URL
		}
	case TypeTCP:
		if t, ok := d.tcpCheck(v); ok {
			c.TCP, subject = t, t.Address
		}
	case TypeCommand:
		if cmd, ok := d.commandCheck(v); ok {
			c.Command, subject = cmd, cmd.Script
			if subject == "" {
				subject = strings.Join(cmd.Argv, " ")
			}
		}
	case TypeScenario:
		if steps, ok := d.scenario(v); ok {
			c.Scenario, subject = steps, steps[0].URL
		}
	}
	c.Name = c.Type + " " + subject
	if v := f.vals["name"]; v != nil {
		if s, ok := d.str(v, "name"); ok && s != "" {
			c.Name = s
		} else if ok {
			d.errorf(v, "name: expected a name, got an empty string")
		}
	}
	c.Retry = Retry{Interval: DefaultInterval, Deadline: DefaultDeadline}
	if v := f.vals["retry"]; v != nil {
		d.retry(v, &c.Retry)
	}
	return c, len(d.errs) == nerrs
}

func (d *decoder) retry(n *yaml.Node, r *Retry) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "retry: expected a mapping such as {interval: 1s, deadline: 30s}, got %s", bundle.Describe(n))
		return
	}
	f := d.mapping(n, retryKeys)
	d.reportUnknown(f, "retry key", retryKeys)
	if v := f.vals["interval"]; v != nil {
		if iv, ok := d.duration(v, "interval"); ok && iv == 0 {
			d.errorf(v, "interval: expected a duration above zero, such as 1s")
		} else if ok {
			r.Interval = iv
		}
	}
	if v := f.vals["deadline"]; v != nil {
		if dl, ok := d.duration(v, "deadline"); ok {
			r.Deadline = dl
		}
	}
}

// scope is what templates of a field may refer to: the captures made so
// far, in a scenario.
type scope struct {
	scenario bool
	captured []string
}

func (d *decoder) httpCheck(n *yaml.Node) (*HTTPCheck, bool) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, `http: expected a mapping such as {url: "http://{{ .host.address }}/", status: 200}, got %s`, bundle.Describe(n))
		return nil, false
	}
	nerrs := len(d.errs)
	f := d.mapping(n, httpKeys)
	d.reportUnknown(f, "http key", httpKeys)
	h := &HTTPCheck{Pos: d.pos(n)}
	d.httpFields(n, f, h, scope{})
	return h, len(d.errs) == nerrs
}

// httpFields fills h from the keys of an http check or a scenario step.
func (d *decoder) httpFields(n *yaml.Node, f fields, h *HTTPCheck, sc scope) {
	h.Method, h.Status, h.Timeout = "GET", []int{200}, DefaultHTTPTimeout
	if v := f.vals["url"]; v == nil {
		d.errorf(n, `missing url: expected an http:// or https:// URL such as "http://{{ .host.address }}:8080/health"`)
	} else if s, ok := d.tmpl(v, "url", sc); ok {
		d.checkURL(v, s)
		h.URL = s
	}
	if v := f.vals["method"]; v != nil {
		if s, ok := d.str(v, "method"); ok {
			h.Method = strings.ToUpper(s)
			if !slices.Contains(methods, h.Method) {
				d.errorf(v, "%s", unknownKey("method", s, methods))
			}
		}
	}
	if v := f.vals["headers"]; v != nil {
		h.Headers = d.templateMap(v, "headers", sc)
	}
	if v := f.vals["body"]; v != nil {
		h.Body, _ = d.tmpl(v, "body", sc)
	}
	if v := f.vals["form"]; v != nil {
		h.Form = d.templateMap(v, "form", sc)
		if f.vals["body"] != nil {
			d.errorf(f.keys["form"], "form and body both given: a form is the request body, give one of them")
		}
	}
	if v := f.vals["status"]; v != nil {
		if st, ok := d.statuses(v); ok {
			h.Status = st
		}
	}
	if v := f.vals["contains"]; v != nil {
		h.Contains, _ = d.tmpl(v, "contains", sc)
	}
	if v := f.vals["matches"]; v != nil {
		h.Matches, _ = d.regexp(v, "matches")
	}
	if v := f.vals["response_headers"]; v != nil {
		h.ResponseHeaders = d.headerMatches(v)
	}
	if v := f.vals["timeout"]; v != nil {
		if t, ok := d.timeout(v); ok {
			h.Timeout = t
		}
	}
	if v := f.vals["insecure"]; v != nil {
		h.Insecure, _ = d.boolean(v, "insecure")
	}
	if v := f.vals["follow_redirects"]; v != nil {
		h.FollowRedirects, _ = d.boolean(v, "follow_redirects")
	}
}

// checkURL checks the literal beginning of a URL template.
func (d *decoder) checkURL(n *yaml.Node, s string) {
	lit, _, _ := strings.Cut(s, "{{")
	lower := strings.ToLower(lit)
	switch {
	case lit == "" && s != "":
		return // all of it comes from a template
	case strings.HasPrefix(lower, "http://"), strings.HasPrefix(lower, "https://"):
		return
	case strings.HasPrefix("http://", lower), strings.HasPrefix("https://", lower):
		if lit != s {
			return // the scheme itself is templated
		}
	}
	d.errorf(n, "url: expected an http:// or https:// URL, got %q", s)
}

func (d *decoder) scenario(n *yaml.Node) ([]Step, bool) {
	if n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
		got := bundle.Describe(n)
		if n.Kind == yaml.SequenceNode {
			got = "an empty list"
		}
		d.errorf(n, `scenario: expected a list of steps such as [{url: "http://{{ .host.address }}/login"}], got %s`, got)
		return nil, false
	}
	nerrs := len(d.errs)
	var steps []Step
	sc := scope{scenario: true}
	names := map[string]bool{}
	for i, item := range n.Content {
		item = resolve(item)
		if item.Kind != yaml.MappingNode {
			d.errorf(item, `scenario step: expected a mapping such as {url: "http://{{ .host.address }}/login"}, got %s`, bundle.Describe(item))
			continue
		}
		f := d.mapping(item, stepKeys)
		d.reportUnknown(f, "scenario step key", stepKeys)
		s := Step{HTTPCheck: HTTPCheck{Pos: d.pos(item)}}
		if v := f.vals["name"]; v != nil {
			s.Name, _ = d.str(v, "name")
			if names[s.Name] {
				d.errorf(v, "name: two steps are named %q", s.Name)
			}
			names[s.Name] = true
		}
		if s.Name == "" {
			s.Name = "step " + strconv.Itoa(i+1)
		}
		d.httpFields(item, f, &s.HTTPCheck, sc)
		if v := f.vals["capture"]; v != nil {
			s.Capture = d.captures(v)
			for _, c := range s.Capture {
				sc.captured = append(slices.Clip(sc.captured), c.Name)
			}
		}
		steps = append(steps, s)
	}
	return steps, len(d.errs) == nerrs
}

var captureName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func (d *decoder) captures(n *yaml.Node) []Capture {
	const example = `{token: {regex: 'name="csrf" value="([^"]+)"'}}`
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "capture: expected a mapping of names to captures such as %s, got %s", example, bundle.Describe(n))
		return nil
	}
	var out []Capture
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], resolve(n.Content[i+1])
		c := Capture{Name: k.Value, Pos: d.pos(k)}
		if !captureName.MatchString(c.Name) {
			d.errorf(k, "capture %q: expected a name of letters, digits and _, usable as .captures.NAME", c.Name)
			continue
		}
		if seen[c.Name] {
			d.errorf(k, "capture %s given twice", c.Name)
			continue
		}
		seen[c.Name] = true
		if v.Kind != yaml.MappingNode {
			d.errorf(v, "capture %s: expected one of {regex: ...}, {json: ...} or {header: ...}, got %s", c.Name, bundle.Describe(v))
			continue
		}
		f := d.mapping(v, captureKeys)
		d.reportUnknown(f, "capture key", captureKeys)
		var given []string
		for _, key := range captureKeys {
			if f.vals[key] != nil {
				given = append(given, key)
			}
		}
		switch len(given) {
		case 0:
			if len(f.unknown) == 0 {
				d.errorf(v, "capture %s: expected one of regex, json or header", c.Name)
			}
			continue
		case 1:
		default:
			d.errorf(f.keys[given[1]], "capture %s: both %s and %s given, expected one", c.Name, given[0], given[1])
			continue
		}
		switch val := f.vals[given[0]]; given[0] {
		case "regex":
			c.Regex, _ = d.regexp(val, "regex")
		case "json":
			if s, ok := d.str(val, "json"); ok {
				if _, err := parsePath(s); err != nil {
					d.errorf(val, "json: %v", err)
				}
				c.JSON = s
			}
		case "header":
			if s, ok := d.str(val, "header"); ok && s == "" {
				d.errorf(val, "header: expected a header name such as Location")
			} else {
				c.Header = s
			}
		}
		out = append(out, c)
	}
	return out
}

func (d *decoder) tcpCheck(n *yaml.Node) (*TCPCheck, bool) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, `tcp: expected a mapping such as {address: "{{ .host.address }}:5432"}, got %s`, bundle.Describe(n))
		return nil, false
	}
	nerrs := len(d.errs)
	f := d.mapping(n, tcpKeys)
	d.reportUnknown(f, "tcp key", tcpKeys)
	t := &TCPCheck{Timeout: DefaultTCPTimeout, Pos: d.pos(n)}
	if v := f.vals["address"]; v == nil {
		d.errorf(n, `missing address: expected host:port such as "{{ .host.address }}:5432"`)
	} else if s, ok := d.tmpl(v, "address", scope{}); ok {
		if !isTemplate(s) && !strings.Contains(s, ":") {
			d.errorf(v, "address: expected host:port, got %q", s)
		}
		t.Address = s
	}
	if v := f.vals["timeout"]; v != nil {
		if to, ok := d.timeout(v); ok {
			t.Timeout = to
		}
	}
	return t, len(d.errs) == nerrs
}

func (d *decoder) commandCheck(n *yaml.Node) (*CommandCheck, bool) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "command: expected a mapping such as {argv: [systemctl, is-active, app]} or {script: ...}, got %s", bundle.Describe(n))
		return nil, false
	}
	nerrs := len(d.errs)
	f := d.mapping(n, commandKeys)
	d.reportUnknown(f, "command key", commandKeys)
	c := &CommandCheck{Timeout: DefaultCommandTimeout, Pos: d.pos(n)}
	argv, script := f.vals["argv"], f.vals["script"]
	switch {
	case argv != nil && script != nil:
		d.errorf(f.keys["script"], "argv and script both given: give argv to run a program, or script to run it with sh -c")
	case argv == nil && script == nil:
		d.errorf(n, "command: expected argv (a list: [program, arg, ...]) or script (run with sh -c)")
	case argv != nil:
		if argv.Kind != yaml.SequenceNode || len(argv.Content) == 0 {
			d.errorf(argv, "argv: expected a list such as [systemctl, is-active, app], got %s", bundle.Describe(argv))
			break
		}
		for i, a := range argv.Content {
			if s, ok := d.tmpl(resolve(a), "argv item "+strconv.Itoa(i+1), scope{}); ok {
				c.Argv = append(c.Argv, s)
			}
		}
		if len(c.Argv) > 0 && c.Argv[0] == "" {
			d.errorf(argv.Content[0], "argv: expected a program, got an empty string")
		}
	default:
		if s, ok := d.tmpl(script, "script", scope{}); ok {
			if strings.TrimSpace(s) == "" {
				d.errorf(script, "script: expected shell commands, got an empty string")
			}
			c.Script = s
		}
	}
	if v := f.vals["status"]; v != nil {
		if s, ok := d.integer(v, "status"); ok {
			if s < 0 || s > 255 {
				d.errorf(v, "status: expected an exit status from 0 to 255, got %d", s)
			}
			c.Status = s
		}
	}
	if v := f.vals["timeout"]; v != nil {
		if to, ok := d.timeout(v); ok {
			c.Timeout = to
		}
	}
	return c, len(d.errs) == nerrs
}

// Values.

func (d *decoder) str(n *yaml.Node, key string) (string, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		d.errorf(n, "%s: expected a string, got %s", key, bundle.Describe(n))
		return "", false
	}
	return n.Value, true
}

// tmpl reads a string that is a template evaluated at run time, and
// checks its syntax and the fields it refers to.
func (d *decoder) tmpl(n *yaml.Node, key string, sc scope) (string, bool) {
	s, ok := d.str(n, key)
	if !ok || !isTemplate(s) {
		return s, ok
	}
	t, err := parseTemplate(key, s)
	if err == nil {
		err = checkFields(t, sc.captured, sc.scenario)
	}
	if err != nil {
		d.errorf(n, "%s: %v", key, err)
		return "", false
	}
	return s, true
}

// templateMap reads a mapping of names to template strings.
func (d *decoder) templateMap(n *yaml.Node, key string, sc scope) map[string]string {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "%s: expected a mapping of names to values, got %s", key, bundle.Describe(n))
		return nil
	}
	m := map[string]string{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], resolve(n.Content[i+1])
		name, ok := d.str(k, key)
		if !ok {
			continue
		}
		if _, dup := m[name]; dup {
			d.errorf(k, "%s: %s given twice", key, name)
			continue
		}
		if s, ok := d.tmpl(v, key+" "+name, sc); ok {
			m[name] = s
		}
	}
	return m
}

func (d *decoder) headerMatches(n *yaml.Node) []HeaderMatch {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "response_headers: expected a mapping of header names to regexps, such as {Content-Type: ^text/html}, got %s", bundle.Describe(n))
		return nil
	}
	var out []HeaderMatch
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], resolve(n.Content[i+1])
		name, ok := d.str(k, "response_headers")
		if !ok {
			continue
		}
		if re, ok := d.regexp(v, "response_headers "+name); ok {
			out = append(out, HeaderMatch{Name: name, Regexp: re})
		}
	}
	slices.SortStableFunc(out, func(a, b HeaderMatch) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func (d *decoder) regexp(n *yaml.Node, key string) (*regexp.Regexp, bool) {
	s, ok := d.str(n, key)
	if !ok {
		return nil, false
	}
	re, err := regexp.Compile(s)
	if err != nil {
		d.errorf(n, "%s: bad regexp: %s", key, strings.TrimPrefix(err.Error(), "error parsing regexp: "))
		return nil, false
	}
	return re, true
}

func (d *decoder) duration(n *yaml.Node, key string) (time.Duration, bool) {
	s, ok := d.str(n, key)
	if !ok {
		return 0, false
	}
	v, err := time.ParseDuration(s)
	if secs, ferr := strconv.ParseFloat(s, 64); ferr == nil {
		v, err = time.Duration(secs*float64(time.Second)), nil
	}
	if err != nil {
		d.errorf(n, "%s: bad duration %q: expected a duration such as 5s or 1m30s", key, s)
		return 0, false
	}
	if v < 0 {
		d.errorf(n, "%s: expected a duration of zero or more, got %s", key, s)
		return 0, false
	}
	return v, true
}

func (d *decoder) timeout(n *yaml.Node) (time.Duration, bool) {
	v, ok := d.duration(n, "timeout")
	if ok && v == 0 {
		d.errorf(n, "timeout: expected a duration above zero, such as 5s")
		return 0, false
	}
	return v, ok
}

func (d *decoder) boolean(n *yaml.Node, key string) (bool, bool) {
	if n.Kind == yaml.ScalarNode {
		switch strings.ToLower(n.Value) {
		case "true", "yes", "on":
			return true, true
		case "false", "no", "off":
			return false, true
		}
	}
	d.errorf(n, "%s: expected true or false, got %s", key, bundle.Describe(n))
	return false, false
}

func (d *decoder) integer(n *yaml.Node, key string) (int, bool) {
	if n.Kind == yaml.ScalarNode {
		if v, err := strconv.Atoi(n.Value); err == nil {
			return v, true
		}
	}
	d.errorf(n, "%s: expected a whole number, got %s", key, bundle.Describe(n))
	return 0, false
}

// statuses reads an HTTP status or a list of them.
func (d *decoder) statuses(n *yaml.Node) ([]int, bool) {
	items := []*yaml.Node{n}
	if n.Kind == yaml.SequenceNode {
		if len(n.Content) == 0 {
			d.errorf(n, "status: expected a status such as 200, or a list of them, got an empty list")
			return nil, false
		}
		items = n.Content
	}
	var out []int
	for _, it := range items {
		v, ok := d.integer(resolve(it), "status")
		if !ok {
			return nil, false
		}
		if v < 100 || v > 599 {
			d.errorf(it, "status: expected an HTTP status from 100 to 599, got %d", v)
			return nil, false
		}
		out = append(out, v)
	}
	return out, true
}
