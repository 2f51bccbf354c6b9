package policy

import (
	"errors"
	"path"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"text/template"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/phenixhq/phenix/internal/bundle"
	"github.com/phenixhq/phenix/internal/check"
	"github.com/phenixhq/phenix/internal/promise"
)

// Defaults and limits of app files.
const (
	DefaultAppsDir     = "/opt/phenix/apps" // an app's dir is DefaultAppsDir/<name> unless it says
	DefaultKeep        = 5                  // releases kept on each host, current included
	MinKeep            = 2                  // current and the one a rollback switches back to
	DefaultCheckEvery  = 5 * time.Minute
	MinCheckEvery      = 10 * time.Second
	DefaultHookTimeout = 5 * time.Minute
	DefaultFileMode    = 0o644
)

// App is an app: something released, version by version, to environments.
type App struct {
	Name         string
	Description  string
	Dir          string // absolute; default /opt/phenix/apps/<name>; releases/<version>/ and current in it
	Strip        int    // artifact.strip: leading path components dropped from archive entries (default 0)
	Owner, Group string // optional owner/group of extracted entries and rendered files (user/group names)
	Keep         int    // releases kept on each host, current included: default 5, at least 2
	Vars         map[string]any
	Files        []AppFile      // config:, in order
	Service      map[string]any // service: a service promise mapping, decoded as plain YAML values; nil when absent
	Restart      string         // restart (default), reload or none: what activating a release does to the service
	Hooks        Hooks
	Checks       []check.Check // positions name the app file
	ChecksYAML   string        // the checks: node re-encoded as YAML, for check.Parse on agents; "" when none
	CheckEvery   time.Duration // how often checks run after a deploy; 0 never
	Envs         []*Env        // environments:, in file order: the lifecycle
	Pos          promise.Pos
}

// AppFile is a config file rendered into each release before it is switched.
type AppFile struct {
	Path     string // relative to the release directory (cleaned, never leaving it), or absolute
	Template string // the template's text, from template: FILE (under apps/<name>/) or content: TEXT
	Mode     uint32 // default 0644
	Pos      promise.Pos
}

// Hooks are commands run around the switch of each batch, and once per deployment.
type Hooks struct {
	Migrate []Hook // run once per deployment, after delivery and before the first batch — only if declared
	Pre     []Hook // before each batch is switched (e.g. take the batch out of the load balancer)
	Post    []Hook // after each batch passed its checks (back into the load balancer)
}

// Hook is one command.
type Hook struct {
	Name    string        // required
	On      string        // each (default): every host of the batch; one: one host of the batch; server: the phenix server, once per batch
	Argv    []string      // command: [..], each element a template
	Script  string        // script: a template run with /bin/sh -c; exactly one of command and script
	Timeout time.Duration // default 5m
	Pos     promise.Pos
}

// Env is an environment of an app.
type Env struct {
	Name      string         // the mapping key: lower-case letters, digits, -
	Select    string         // a selector (package selector), as written
	Vars      map[string]any // over the app's vars
	Batch     string         // N or N% (N ≥ 1, N% in 1..100); default "1"
	MaxFail   string         // N or N% (N ≥ 0, N% in 0..100) of the environment's hosts that may fail; default "0"
	Approval  bool           // a version needs `phenix approve` before deploys start
	Deployers []string       // who may deliver, deploy and roll back; empty: any user (admins always may)
	Approvers []string       // who may approve; empty: admins only
	Pos       promise.Pos
}

// Env returns the environment called name and its index in the
// lifecycle, or nil and -1.
func (a *App) Env(name string) (*Env, int) {
	for i, e := range a.Envs {
		if e.Name == name {
			return e, i
		}
	}
	return nil, -1
}

// EnvNames returns the names of the environments, in lifecycle order.
func (a *App) EnvNames() []string {
	out := make([]string, len(a.Envs))
	for i, e := range a.Envs {
		out[i] = e.Name
	}
	return out
}

var (
	appKeys      = []string{"description", "dir", "artifact", "owner", "group", "keep", "vars", "config", "service", "restart", "hooks", "checks", "check_every", "environments"}
	artifactKeys = []string{"strip"}
	configKeys   = []string{"path", "template", "content", "mode"}
	hooksKeys    = []string{"migrate", "pre", "post"}
	hookKeys     = []string{"name", "on", "command", "script", "timeout"}
	hookOn       = []string{"each", "one", "server"}
	envKeys      = []string{"select", "vars", "batch", "max_fail", "approval", "deployers", "approvers"}
	restarts     = []string{"restart", "reload", "none"}
	serviceKeys  = yamlTags(promise.Service{})
	appName      = opName // lower-case letters, digits and -, for apps and environments alike
	userName     = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]*\$?$`)
	countRe      = regexp.MustCompile(`^([0-9]+)(%?)$`)
	appFuncs     = bundle.TemplateFuncs()
)

// yamlTags returns the YAML keys of struct v's fields, in order.
func yamlTags(v any) []string {
	var out []string
	t := reflect.TypeOf(v)
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if name != "" && name != "-" && t.Field(i).IsExported() {
			out = append(out, name)
		}
	}
	return out
}

// apps reads apps/*.yml and the template directories beside them.
func (l *loader) apps() {
	l.namedFiles("apps", "app", appName, func(name, rel string) string {
		if first, dup := l.p.Apps[name]; dup {
			return first.Pos.File
		}
		if a := l.app(name, rel); a != nil {
			l.p.Apps[name] = a
		}
		return ""
	})
	for _, d := range l.t.children("apps", true) {
		if l.t.files["apps/"+d+".yml"] == nil && l.t.files["apps/"+d+".yaml"] == nil {
			l.problem("apps/"+d, "no app file for this directory: expected apps/%s.yml beside it", d)
		}
	}
}

// app reads one app file; it returns nil when the file has a problem.
func (l *loader) app(name, rel string) *App {
	f := l.file(rel)
	nerrs := len(l.errs)
	root := f.root()
	if root == nil {
		if len(l.errs) == nerrs {
			f.errorAt(promise.Pos{File: f.name, Line: 1, Col: 1}, "empty app: expected a mapping with at least environments")
		}
		return nil
	}
	a := &App{
		Name: name, Dir: DefaultAppsDir + "/" + name, Keep: DefaultKeep, Vars: map[string]any{},
		Restart: "restart", CheckEvery: DefaultCheckEvery, Pos: f.pos(root),
	}
	hasEnvs := false
	for _, kv := range f.fields(root, "app key", appKeys) {
		switch kv.key.Value {
		case "description":
			a.Description, _ = f.str("description", kv.val)
		case "dir":
			if s, ok := f.str("dir", kv.val); ok {
				switch {
				case !path.IsAbs(s):
					f.errorf(kv.val, "dir: expected an absolute path such as %s/%s, got %q", DefaultAppsDir, name, s)
				case path.Clean(s) == "/":
					f.errorf(kv.val, "dir: expected a directory of the app's own, got /")
				default:
					a.Dir = path.Clean(s)
				}
			}
		case "artifact":
			for _, akv := range f.fields(kv.val, "artifact key", artifactKeys) {
				if n, ok := f.integer("strip", akv.val, 0); ok {
					a.Strip = n
				}
			}
		case "owner", "group":
			if s, ok := f.str(kv.key.Value, kv.val); ok {
				if !userName.MatchString(s) {
					f.errorf(kv.val, "%s: expected a %s name, got %q", kv.key.Value, map[string]string{"owner": "user", "group": "group"}[kv.key.Value], s)
				} else if kv.key.Value == "owner" {
					a.Owner = s
				} else {
					a.Group = s
				}
			}
		case "keep":
			if n, ok := f.integer("keep", kv.val, MinKeep); ok {
				a.Keep = n
			}
		case "vars":
			if v, ok := f.vars("vars", kv.val); ok {
				a.Vars = v
			}
		case "config":
			a.Files = l.appFiles(f, name, kv.val)
		case "service":
			a.Service = f.service(name, kv.val)
		case "restart":
			if s, ok := f.str("restart", kv.val); ok {
				if !contains(restarts, s) {
					f.errorf(kv.val, "restart: unknown value %q%s: expected restart, reload or none", s, didYouMean(s, restarts))
				} else {
					a.Restart = s
				}
			}
		case "hooks":
			a.Hooks = f.hooks(kv.val)
		case "checks":
			a.Checks, a.ChecksYAML = f.checks(kv.val)
		case "check_every":
			if d, ok := f.checkEvery(kv.val); ok {
				a.CheckEvery = d
			}
		case "environments":
			hasEnvs = true
			a.Envs = f.envs(kv.val)
		}
	}
	if deref(root).Kind == yaml.MappingNode && !hasEnvs && !misspelt(deref(root), appKeys, "environments") {
		f.errorf(root, "app without environments: expected environments: {NAME: {select: SELECTOR}, ...}, in lifecycle order")
	}
	if len(l.errs) > nerrs {
		return nil
	}
	return a
}

// integer reads a whole number of at least min.
func (f *yamlFile) integer(field string, n *yaml.Node, min int) (int, bool) {
	n = deref(n)
	v, err := strconv.Atoi(n.Value)
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || err != nil {
		f.errorf(n, "%s: expected a whole number, got %s", field, bundle.Describe(n))
		return 0, false
	}
	if v < min {
		f.errorf(n, "%s: expected at least %d, got %d", field, min, v)
		return 0, false
	}
	return v, true
}

// boolean reads true or false.
func (f *yamlFile) boolean(field string, n *yaml.Node) (bool, bool) {
	n = deref(n)
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" {
		f.errorf(n, "%s: expected true or false, got %s", field, bundle.Describe(n))
		return false, false
	}
	var b bool
	if err := n.Decode(&b); err != nil {
		f.errorf(n, "%s: expected true or false, got %s", field, bundle.Describe(n))
		return false, false
	}
	return b, true
}

// count reads N or N%: at least min hosts, or a percentage from min to 100.
func (f *yamlFile) count(field string, n *yaml.Node, min int) (string, bool) {
	n = deref(n)
	fail := func() (string, bool) {
		f.errorf(n, "%s: expected a number of hosts (at least %d) or a percentage from %d%% to 100%%, such as 25%%, got %s", field, min, min, bundle.Describe(n))
		return "", false
	}
	if n.Kind != yaml.ScalarNode {
		return fail()
	}
	m := countRe.FindStringSubmatch(n.Value)
	if m == nil {
		return fail()
	}
	v, err := strconv.Atoi(m[1])
	if err != nil || v < min || (m[2] == "%" && v > 100) {
		return fail()
	}
	return strconv.Itoa(v) + m[2], true
}

// checkEvery reads check_every: 0s, or a duration of at least MinCheckEvery.
func (f *yamlFile) checkEvery(n *yaml.Node) (time.Duration, bool) {
	s, ok := f.str("check_every", n)
	if !ok {
		return 0, false
	}
	d, err := time.ParseDuration(s)
	switch {
	case err != nil || d < 0:
		f.errorf(n, "check_every: expected a duration such as 1m or 30s (0s: never), got %q", s)
	case d > 0 && d < MinCheckEvery:
		f.errorf(n, "check_every: %v is too short: expected at least %v, or 0s to run checks only after a deploy", d, MinCheckEvery)
	default:
		return d, true
	}
	return 0, false
}

// seq returns the items of the list n, recording n not being one.
func (f *yamlFile) seq(field, example string, n *yaml.Node) []*yaml.Node {
	n = deref(n)
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		f.errorf(n, "%s: expected a list such as %s, got %s", field, example, bundle.Describe(n))
		return nil
	}
	out := make([]*yaml.Node, len(n.Content))
	for i, c := range n.Content {
		out[i] = deref(c)
	}
	return out
}

// appFiles reads config:, the files rendered into each release.
func (l *loader) appFiles(f *yamlFile, name string, n *yaml.Node) []AppFile {
	var out []AppFile
	seen := map[string]int{}
	for _, item := range f.seq("config", `[{path: config/app.env, template: app.env.tmpl}]`, n) {
		af := AppFile{Mode: DefaultFileMode, Pos: f.pos(item)}
		var pathNode, tmpl, content *yaml.Node
		ok := true
		for _, kv := range f.fields(item, "config key", configKeys) {
			switch kv.key.Value {
			case "path":
				pathNode = kv.val
				p, good := f.str("path", kv.val)
				if good {
					p, good = f.configPath(kv.val, p)
				}
				af.Path, ok = p, ok && good
			case "template":
				tmpl = kv.val
				text, good := l.appTemplate(f, name, kv.val)
				af.Template, ok = text, ok && good
			case "content":
				content = kv.val
				text, good := f.str("content", kv.val)
				if good {
					good = f.template("content", kv.val, text)
				}
				af.Template, ok = text, ok && good
			case "mode":
				v := deref(kv.val)
				m, err := strconv.ParseUint(v.Value, 8, 32)
				if v.Kind != yaml.ScalarNode || err != nil || m > 0o7777 {
					f.errorf(v, "mode: expected an octal mode such as \"0640\", got %s", bundle.Describe(v))
					ok = false
				}
				af.Mode = uint32(m)
			}
		}
		if deref(item).Kind != yaml.MappingNode {
			continue
		}
		switch {
		case pathNode == nil:
			ok = false
			if !misspelt(item, configKeys, "path") {
				f.errorf(item, "config file without path: expected path: relative/to/the/release or /absolute/path")
			}
		case tmpl != nil && content != nil:
			ok = false
			f.errorf(content, "give either template or content, not both")
		case tmpl == nil && content == nil:
			ok = false
			if !misspelt(item, configKeys, "template") && !misspelt(item, configKeys, "content") {
				f.errorf(item, "config file without template or content: expected template: FILE (under apps/%s/) or content: TEXT", name)
			}
		}
		if !ok {
			continue
		}
		if first, dup := seen[af.Path]; dup {
			f.errorf(pathNode, "config: %s given twice (first at line %d)", af.Path, first)
			continue
		}
		seen[af.Path] = af.Pos.Line
		out = append(out, af)
	}
	return out
}

// configPath checks and cleans the path of a config file.
func (f *yamlFile) configPath(n *yaml.Node, p string) (string, bool) {
	c := path.Clean(p)
	switch {
	case p == "":
		f.errorf(n, "path: expected a file path, got an empty one")
	case path.IsAbs(p):
		if c == "/" {
			f.errorf(n, "path: expected a file path, got /")
			return "", false
		}
		return c, true
	case c == "." || c == ".." || strings.HasPrefix(c, "../"):
		f.errorf(n, "path: %q leaves the release directory: expected a path inside it, or an absolute path", p)
	default:
		return c, true
	}
	return "", false
}

// appTemplate reads the template file named by n from apps/<name>/.
func (l *loader) appTemplate(f *yamlFile, name string, n *yaml.Node) (string, bool) {
	s, ok := f.str("template", n)
	if !ok {
		return "", false
	}
	dir := "apps/" + name
	c := path.Clean(s)
	if s == "" || path.IsAbs(s) || c == "." || c == ".." || strings.HasPrefix(c, "../") {
		f.errorf(n, "template: expected the name of a file under %s/, got %q", dir, s)
		return "", false
	}
	rel := dir + "/" + c
	tf := l.t.files[rel]
	if tf == nil {
		var names []string
		for _, p := range l.t.under(dir) {
			names = append(names, strings.TrimPrefix(p, dir+"/"))
		}
		f.errorf(n, "template: no file %s%s", rel, didYouMean(c, names))
		return "", false
	}
	text := string(tf.data)
	if _, err := template.New("t").Funcs(appFuncs).Parse(text); err != nil {
		line, msg := templateError(err)
		f.errorAt(promise.Pos{File: l.prefix + rel, Line: max(line, 1), Col: 1}, "bad template: %s", msg)
		return "", false
	}
	return text, true
}

// templateLine reads the line and message of a text/template parse error.
var templateLine = regexp.MustCompile(`^template: [^:]*:(\d+):(?:\d+:)? ?`)

// templateError returns the line (0 when unknown) and the message of a
// template parse error.
func templateError(err error) (int, string) {
	msg := err.Error()
	m := templateLine.FindStringSubmatch(msg)
	if m == nil {
		return 0, msg
	}
	line, _ := strconv.Atoi(m[1])
	return line, msg[len(m[0]):]
}

// template parses text, the value of scalar n, as a template; a syntax
// error is reported on its line when n is a literal block.
func (f *yamlFile) template(field string, n *yaml.Node, text string) bool {
	_, err := template.New("t").Funcs(appFuncs).Parse(text)
	if err == nil {
		return true
	}
	n = deref(n)
	line, msg := templateError(err)
	switch {
	case !strings.Contains(text, "\n") || line == 0:
		f.errorf(n, "%s: bad template: %s", field, msg)
	case n.Style&yaml.LiteralStyle != 0:
		// An error at the end of the text names the line after it.
		line = min(line, strings.Count(strings.TrimRight(text, "\n"), "\n")+1)
		src := lineOf(f.src, n.Line+line)
		col := len(src) - len(strings.TrimLeft(src, " ")) + 1
		f.errorAt(promise.Pos{File: f.name, Line: n.Line + line, Col: col}, "%s: bad template: %s", field, msg)
	default:
		f.errorf(n, "%s: bad template: line %d: %s", field, line, msg)
	}
	return false
}

// templates parses every string under n that holds "{{".
func (f *yamlFile) templates(field string, n *yaml.Node, depth int) bool {
	n = deref(n)
	if depth > 100 {
		return true
	}
	switch n.Kind {
	case yaml.ScalarNode:
		if strings.Contains(n.Value, "{{") {
			return f.template(field, n, n.Value)
		}
	case yaml.SequenceNode, yaml.MappingNode:
		ok := true
		for i, c := range n.Content {
			if n.Kind == yaml.MappingNode && i%2 == 0 {
				continue
			}
			ok = f.templates(field, c, depth+1) && ok
		}
		return ok
	}
	return true
}

// service reads service:, a service promise whose values are templates.
func (f *yamlFile) service(name string, n *yaml.Node) map[string]any {
	if isNull(n) {
		return nil
	}
	kvs := f.fields(n, "service key", serviceKeys)
	if deref(n).Kind != yaml.MappingNode || len(kvs) != len(deref(n).Content)/2 {
		return nil
	}
	ok := true
	for _, kv := range kvs {
		if kv.key.Value == "service" && !isNull(kv.val) {
			_, good := f.str("service", kv.val)
			ok = good && ok
		}
		ok = f.templates(kv.key.Value, kv.val, 0) && ok
	}
	m, good := f.vars("service", n)
	if !ok || !good {
		return nil
	}
	if s, has := m["service"]; !has || s == nil || s == "" {
		m["service"] = name
	}
	return m
}

// hooks reads hooks: migrate, pre and post.
func (f *yamlFile) hooks(n *yaml.Node) Hooks {
	var h Hooks
	if isNull(n) {
		return h
	}
	for _, kv := range f.fields(n, "hooks key", hooksKeys) {
		list := f.hookList(kv.key.Value, kv.val)
		switch kv.key.Value {
		case "migrate":
			h.Migrate = list
		case "pre":
			h.Pre = list
		case "post":
			h.Post = list
		}
	}
	return h
}

func (f *yamlFile) hookList(field string, n *yaml.Node) []Hook {
	var out []Hook
	for _, item := range f.seq(field, `[{name: migrate, on: one, command: [./bin/migrate]}]`, n) {
		h := Hook{On: "each", Timeout: DefaultHookTimeout, Pos: f.pos(item)}
		ok, hasName := true, false
		var command, script *yaml.Node
		for _, kv := range f.fields(item, "hook key", hookKeys) {
			switch kv.key.Value {
			case "name":
				hasName = true
				s, good := f.str("name", kv.val)
				if good && strings.TrimSpace(s) == "" {
					f.errorf(kv.val, "name: expected what the hook does, got an empty name")
					good = false
				}
				h.Name, ok = s, ok && good
			case "on":
				s, good := f.str("on", kv.val)
				if good && !contains(hookOn, s) {
					f.errorf(kv.val, "on: unknown value %q%s: expected each, one or server", s, didYouMean(s, hookOn))
					good = false
				}
				if good {
					h.On = s
				}
				ok = ok && good
			case "command":
				command = kv.val
				items, good := f.strList("command", kv.val)
				if good && len(items) == 0 {
					f.errorf(kv.val, "command: expected the program and its arguments, got an empty list")
					good = false
				}
				for _, it := range items {
					good = f.template("command", it, it.Value) && good
					h.Argv = append(h.Argv, it.Value)
				}
				ok = ok && good
			case "script":
				script = kv.val
				s, good := f.str("script", kv.val)
				if good && strings.TrimSpace(s) == "" {
					f.errorf(kv.val, "script: expected shell commands, got an empty script")
					good = false
				}
				if good {
					good = f.template("script", kv.val, s)
				}
				h.Script, ok = s, ok && good
			case "timeout":
				d, good := f.duration("timeout", kv.val)
				if good {
					h.Timeout = d
				}
				ok = ok && good
			}
		}
		if deref(item).Kind != yaml.MappingNode {
			continue
		}
		if !hasName {
			ok = false
			if !misspelt(item, hookKeys, "name") {
				f.errorf(item, "hook without name: expected name: what it does, as the journal shows it")
			}
		}
		switch {
		case command != nil && script != nil:
			ok = false
			f.errorf(script, "give either command or script, not both")
		case command == nil && script == nil:
			ok = false
			if !misspelt(item, hookKeys, "command") && !misspelt(item, hookKeys, "script") {
				f.errorf(item, "hook without command or script: expected command: [program, args...] or script: shell text")
			}
		}
		if ok {
			out = append(out, h)
		}
	}
	return out
}

// checks decodes checks: with check.Decode and keeps the node as YAML.
func (f *yamlFile) checks(n *yaml.Node) ([]check.Check, string) {
	if isNull(n) {
		return nil, ""
	}
	cs, err := check.Decode(f.name, n)
	if err != nil {
		var el bundle.ErrorList
		if errors.As(err, &el) {
			*f.errs = append(*f.errs, el...)
		} else {
			f.errorf(n, "checks: %v", err)
		}
		return nil, ""
	}
	budget := maxChecksNodes
	c := unalias(n, &budget)
	if c == nil {
		f.errorf(n, "checks: more than %d YAML nodes once aliases are expanded", maxChecksNodes)
		return nil, ""
	}
	b, err := yaml.Marshal(c)
	if err != nil {
		f.errorf(n, "checks: %v", err)
		return nil, ""
	}
	return cs, string(b)
}

// maxChecksNodes bounds the checks of an app once YAML aliases are expanded.
const maxChecksNodes = 100000

// unalias returns a copy of n with every alias replaced by a copy of what
// it names, so that the copy is YAML of its own, without anchors elsewhere;
// nil when that takes more than *budget nodes.
func unalias(n *yaml.Node, budget *int) *yaml.Node {
	n = deref(n)
	if *budget--; *budget < 0 {
		return nil
	}
	c := *n
	c.Anchor = ""
	c.Content = make([]*yaml.Node, len(n.Content))
	for i, x := range n.Content {
		if c.Content[i] = unalias(x, budget); c.Content[i] == nil {
			return nil
		}
	}
	return &c
}

// envs reads environments:, in file order.
func (f *yamlFile) envs(n *yaml.Node) []*Env {
	if isNull(n) || (deref(n).Kind == yaml.MappingNode && len(deref(n).Content) == 0) {
		f.errorf(n, "environments: expected at least one environment, such as prod: {select: env=prod}")
		return nil
	}
	var out []*Env
	for _, kv := range f.entries(n, "environments") {
		name := kv.key.Value
		if !appName.MatchString(name) {
			f.errorf(kv.key, "bad environment name %q: expected lower-case letters, digits and -, starting with a letter or digit", name)
			continue
		}
		if e := f.env(name, kv.key, kv.val); e != nil {
			out = append(out, e)
		}
	}
	return out
}

func (f *yamlFile) env(name string, key, n *yaml.Node) *Env {
	e := &Env{Name: name, Vars: map[string]any{}, Batch: "1", MaxFail: "0", Pos: f.pos(key)}
	if isNull(n) {
		f.errorf(key, "environment %s without select: expected a selector such as env=%s", name, name)
		return nil
	}
	ok, hasSel := true, false
	for _, kv := range f.fields(n, "environment key", envKeys) {
		var good bool
		switch kv.key.Value {
		case "select":
			hasSel = true
			if _, good = f.selector("select", kv.val); good {
				e.Select = deref(kv.val).Value
			}
		case "vars":
			var v map[string]any
			if v, good = f.vars("vars", kv.val); good {
				e.Vars = v
			}
		case "batch":
			e.Batch, good = f.count("batch", kv.val, 1)
		case "max_fail":
			e.MaxFail, good = f.count("max_fail", kv.val, 0)
		case "approval":
			e.Approval, good = f.boolean("approval", kv.val)
		case "deployers", "approvers":
			var items []*yaml.Node
			items, good = f.strList(kv.key.Value, kv.val)
			var names []string
			for _, it := range items {
				if !userName.MatchString(it.Value) {
					f.errorf(it, "%s: expected a user name, got %q", kv.key.Value, it.Value)
					good = false
				}
				names = append(names, it.Value)
			}
			if kv.key.Value == "deployers" {
				e.Deployers = names
			} else {
				e.Approvers = names
			}
		}
		ok = ok && good
	}
	if deref(n).Kind != yaml.MappingNode {
		return nil
	}
	if !hasSel {
		ok = false
		if !misspelt(deref(n), envKeys, "select") {
			f.errorf(key, "environment %s without select: expected a selector such as env=%s", name, name)
		}
	}
	if !ok {
		return nil
	}
	return e
}
