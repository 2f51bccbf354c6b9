package policy

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"text/template"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/phenixhq/phenix/internal/bundle"
	"github.com/phenixhq/phenix/internal/promise"
)

// DefaultTimeout is how long an operation may run when its file does not
// say.
const DefaultTimeout = 5 * time.Minute

// Op is an operation: a named, parameterised command that the hosts its
// selector matches run on request.
type Op struct {
	Name        string
	Description string
	Select      string // as written; "*" when the file gives none
	Timeout     time.Duration
	Params      []Param  // in file order
	Command     []string // argv, each element a template with .params; nil for a script
	Script      string   // sh -c text, reading params from the environment only
	Pos         promise.Pos
}

// Param is a parameter of an Op.
type Param struct {
	Name        string
	Type        string // string, int or enum
	Description string
	Default     string // "" when there is none
	Pattern     string // string only: a Go regexp the value must match, anchored as written
	Required    bool
	Values      []string // enum only: the values accepted
	Min, Max    *int64   // int only: the bounds, inclusive
}

var (
	opKeys     = []string{"description", "select", "timeout", "params", "command", "script"}
	paramKeys  = []string{"type", "description", "default", "required", "values", "min", "max", "pattern"}
	paramTypes = []string{"string", "int", "enum"}
	opName     = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)
	paramName  = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
)

// ops reads ops/*.yml.
func (l *loader) ops() {
	l.namedFiles("ops", "op", opName, func(name, rel string) string {
		if first, dup := l.p.Ops[name]; dup {
			return first.Pos.File
		}
		if op := l.op(name, rel); op != nil {
			l.p.Ops[name] = op
		}
		return ""
	})
}

// namedFiles calls read for every dir/<name>.yml (or .yaml), name being
// the file's name without its suffix, when name matches valid; read
// returns the file that defined name already, "" when it read it. Bad and
// duplicate names are problems of the file.
func (l *loader) namedFiles(dir, what string, valid *regexp.Regexp, read func(name, rel string) (defined string)) {
	for _, n := range l.t.children(dir, false) {
		if !isPromiseFile(n) {
			continue
		}
		rel := dir + "/" + n
		name := strings.TrimSuffix(strings.TrimSuffix(n, ".yml"), ".yaml")
		if !valid.MatchString(name) {
			l.problem(rel, "bad %s name %q (the file's name): expected lower-case letters, digits and -, starting with a letter or digit", what, name)
			continue
		}
		if first := read(name, rel); first != "" {
			l.problem(rel, "%s %s is already defined in %s", what, name, first)
		}
	}
}

// op reads one op file; it returns nil when the file has a problem.
func (l *loader) op(name, rel string) *Op {
	f := l.file(rel)
	nerrs := len(l.errs)
	root := f.root()
	if root == nil {
		if len(l.errs) == nerrs {
			f.errorAt(promise.Pos{File: f.name, Line: 1, Col: 1}, "empty op: expected a mapping with a description and a command or a script")
		}
		return nil
	}
	op := &Op{Name: name, Select: "*", Timeout: DefaultTimeout, Pos: f.pos(root)}
	var command, script *yaml.Node
	for _, kv := range f.fields(root, "op key", opKeys) {
		switch kv.key.Value {
		case "description":
			op.Description, _ = f.str("description", kv.val)
		case "select":
			if _, ok := f.selector("select", kv.val); ok {
				op.Select = deref(kv.val).Value
			}
		case "timeout":
			if d, ok := f.duration("timeout", kv.val); ok {
				op.Timeout = d
			}
		case "params":
			op.Params = f.params(kv.val)
		case "command":
			command = kv.val
			items, ok := f.strList("command", kv.val)
			if ok && len(items) == 0 {
				f.errorf(kv.val, "command: expected the program and its arguments, got an empty list")
			}
			for _, it := range items {
				op.Command = append(op.Command, it.Value)
			}
		case "script":
			script = kv.val
			op.Script, _ = f.str("script", kv.val)
			if strings.TrimSpace(op.Script) == "" && !isNull(kv.val) && deref(kv.val).Kind == yaml.ScalarNode {
				f.errorf(kv.val, "script: expected shell commands, got an empty script")
			}
		}
	}
	switch {
	case command != nil && script != nil:
		f.errorf(script, "give either command or script, not both")
	case command == nil && script == nil:
		f.errorf(root, "op without command or script: expected command: [program, args...] or script: shell text")
	case command != nil:
		f.checkCommand(op, command)
	default:
		f.checkScript(op, script)
	}
	if len(l.errs) > nerrs {
		return nil
	}
	return op
}

// params reads the params mapping, in file order.
func (f *yamlFile) params(n *yaml.Node) []Param {
	if isNull(n) {
		return nil
	}
	var out []Param
	for _, kv := range f.entries(n, "params") {
		if !paramName.MatchString(kv.key.Value) {
			f.errorf(kv.key, "bad param name %q: expected lower-case letters, digits and _, starting with a letter", kv.key.Value)
			continue
		}
		if p, ok := f.param(kv.key.Value, kv.val); ok {
			out = append(out, p)
		}
	}
	return out
}

func (f *yamlFile) param(name string, n *yaml.Node) (Param, bool) {
	p := Param{Name: name, Type: "string"}
	at := map[string]*yaml.Node{}
	ok := true
	fail := func(n *yaml.Node, format string, args ...any) {
		f.errorf(n, "param %s: "+format, append([]any{name}, args...)...)
		ok = false
	}
	for _, kv := range f.fields(n, "param key", paramKeys) {
		key, v := kv.key.Value, deref(kv.val)
		at[key] = kv.key
		switch key {
		case "type":
			if s, good := f.str("type", v); good {
				if !contains(paramTypes, s) {
					fail(v, "unknown type %q%s: expected string, int or enum", s, didYouMean(s, paramTypes))
				}
				p.Type = s
			}
		case "description":
			p.Description, _ = f.str("description", v)
		case "default":
			if v.Kind != yaml.ScalarNode {
				fail(v, "default: expected a value, got %s", bundle.Describe(v))
			} else {
				p.Default = v.Value
			}
		case "required":
			switch {
			case v.Kind == yaml.ScalarNode && v.ShortTag() == "!!bool":
				p.Required = v.Value == "true" || v.Value == "True" || v.Value == "TRUE"
			default:
				fail(v, "required: expected true or false, got %s", bundle.Describe(v))
			}
		case "values":
			items, good := f.strList("values", v)
			seen := map[string]bool{}
			for _, it := range items {
				if seen[it.Value] {
					fail(it, "values: %q given twice", it.Value)
				}
				seen[it.Value] = true
				p.Values = append(p.Values, it.Value)
			}
			if good && len(items) == 0 {
				fail(v, "values: expected the values accepted, got an empty list")
			}
		case "min", "max":
			x, err := strconv.ParseInt(v.Value, 10, 64)
			if v.Kind != yaml.ScalarNode || err != nil {
				fail(v, "%s: expected a whole number, got %s", key, bundle.Describe(v))
				continue
			}
			if key == "min" {
				p.Min = &x
			} else {
				p.Max = &x
			}
		case "pattern":
			if s, good := f.str("pattern", v); good {
				if _, err := regexp.Compile(s); err != nil {
					fail(v, "pattern: %v", strings.TrimPrefix(err.Error(), "error parsing regexp: "))
				}
				p.Pattern = s
			}
		}
	}
	if deref(n).Kind != yaml.MappingNode || !ok {
		return p, false
	}
	only := func(key, typ string) {
		if k := at[key]; k != nil && p.Type != typ {
			fail(k, "%s is for type %s only, and this param is a %s", key, typ, p.Type)
		}
	}
	only("values", "enum")
	only("min", "int")
	only("max", "int")
	only("pattern", "string")
	if p.Type == "enum" && at["values"] == nil {
		fail(n, "an enum needs its values, such as values: [app, worker]")
	}
	if p.Min != nil && p.Max != nil && *p.Min > *p.Max {
		fail(at["max"], "max %d is less than min %d", *p.Max, *p.Min)
	}
	if p.Required && p.Default != "" {
		fail(at["required"], "a required param has no default: remove one or the other")
	}
	if ok && p.Default != "" {
		if err := p.check(p.Default); err != nil {
			fail(at["default"], "default: %v", err)
		}
	}
	return p, ok
}

// missingKey finds the key in text/template's "map has no entry" error.
var missingKey = regexp.MustCompile(`map has no entry for key "([^"]*)"`)

// templatePrefix is text/template's "template: NAME:LINE:COL: executing "NAME" " prefix.
var templatePrefix = regexp.MustCompile(`^template: [^:]*:\d+(:\d+)?: (executing "[^"]*" )?`)

// checkCommand parses each element of the command and runs it with every
// param set, so that a misspelt param is found at push time.
func (f *yamlFile) checkCommand(op *Op, n *yaml.Node) {
	items, _ := f.strList("command", n)
	params := map[string]string{}
	var names []string
	for _, p := range op.Params {
		params[p.Name] = "x"
		names = append(names, p.Name)
	}
	for i, it := range items {
		_, err := renderArg(fmt.Sprintf("command[%d]", i), it.Value, params)
		if err == nil {
			continue
		}
		if m := missingKey.FindStringSubmatch(err.Error()); m != nil {
			f.errorf(it, "command: unknown param %q%s", m[1], didYouMean(m[1], names))
			continue
		}
		f.errorf(it, "command: %s", templatePrefix.ReplaceAllString(err.Error(), ""))
	}
}

// paramInScript finds a template action reading a param.
var paramInScript = regexp.MustCompile(`\{\{-?\s*\.params\.([A-Za-z0-9_]+)`)

// checkScript refuses a script that expects its params interpolated: they
// reach it only through the environment.
func (f *yamlFile) checkScript(op *Op, n *yaml.Node) {
	if m := paramInScript.FindStringSubmatch(op.Script); m != nil {
		f.errorf(n, `script: params are not interpolated into a script: read them from the environment, as "$%s"`, envName(m[1]))
	}
}

// renderArg executes one command element with the params.
func renderArg(name, text string, params map[string]string) (string, error) {
	t, err := template.New(name).Option("missingkey=error").Parse(text)
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	if err := t.Execute(&b, map[string]any{"params": params}); err != nil {
		return "", err
	}
	return b.String(), nil
}

// envName is the environment variable that carries param name.
func envName(name string) string {
	return "PHENIX_PARAM_" + strings.ToUpper(name)
}
