package bundle

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"

	"github.com/phenixhq/phenix/internal/promise"
)

// Options are the inputs of Load besides the bundle files.
type Options struct {
	// Vars override the vars of every bundle (from --var and --vars-file).
	Vars map[string]any
	// Facts are the host's facts, available to templates as .facts.
	Facts map[string]any
	// FactsFunc, when Facts is nil, gathers the facts the first time a
	// template refers to them, so that bundles without facts do not wait.
	FactsFunc func() map[string]any
	// CacheDir, when set, is where Load keeps decoded bundles between runs
	// (see cache.go). "" disables the cache.
	CacheDir string
}

// facts returns the function templates get the facts from.
func (o Options) facts() func() map[string]any {
	switch {
	case o.Facts != nil:
		return func() map[string]any { return o.Facts }
	case o.FactsFunc != nil:
		return sync.OnceValue(o.FactsFunc)
	}
	return func() map[string]any { return map[string]any{} }
}

// Load reads the bundles at paths (files, or directories whose *.yaml and
// *.yml files are read in name order) and returns their promises in
// declaration order. Any problem makes it return an ErrorList and no
// promise.
func Load(paths []string, opts Options) ([]*promise.Promise, error) {
	files, err := expand(paths)
	if err != nil {
		return nil, err
	}
	srcs := make([][]byte, len(files))
	for i, f := range files {
		if srcs[i], err = os.ReadFile(f); err != nil {
			return nil, fmt.Errorf("read bundle: %w", err)
		}
	}
	// Facts are gathered once for all files, and only if a template asks.
	gather := opts.facts()
	factsUsed := false
	opts.Facts, opts.FactsFunc = nil, func() map[string]any {
		factsUsed = true
		return gather()
	}
	var key string
	if opts.CacheDir != "" {
		key = cacheKey(files, srcs, opts.Vars)
		if ps, ok := loadCached(opts, key); ok {
			return ps, nil
		}
	}
	var (
		all  []*promise.Promise
		errs ErrorList
		seen = map[string]*promise.Promise{}
	)
	fileVars := map[string]map[string]any{}
	for i, f := range files {
		ps, vars, perrs := parse(f, srcs[i], opts)
		fileVars[f] = vars
		errs = append(errs, perrs...)
		for _, e := range ps {
			p, dup := e.p, false
			for _, r := range p.Refs() {
				key := r.String()
				if _, ok := p.Resource.(promise.Keyed); ok {
					key = p.ID()
				}
				if first, ok := seen[key]; ok {
					errs.add(p.Pos, "duplicate promise %s (first declared at %s)", key, first.Pos)
					dup = true
					break
				}
				seen[key] = p
			}
			if !dup && e.ok {
				all = append(all, p)
			}
		}
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	if opts.CacheDir != "" {
		var facts map[string]any
		if factsUsed {
			facts = gather()
		}
		storeCached(opts.CacheDir, key, all, fileVars, facts)
	}
	return all, nil
}

// expand turns the command-line paths into the list of bundle files.
func expand(paths []string) ([]string, error) {
	if len(paths) == 0 {
		return nil, errors.New("no bundle given: expected a YAML file or a directory of them")
	}
	var files []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("bundle: %w", err)
		}
		if !st.IsDir() {
			files = append(files, p)
			continue
		}
		entries, err := os.ReadDir(p)
		if err != nil {
			return nil, fmt.Errorf("bundle directory: %w", err)
		}
		var found []string
		for _, e := range entries {
			if e.Type()&fs.ModeType == 0 && (strings.HasSuffix(e.Name(), ".yaml") || strings.HasSuffix(e.Name(), ".yml")) {
				found = append(found, filepath.Join(p, e.Name()))
			}
		}
		if len(found) == 0 {
			return nil, fmt.Errorf("bundle directory %s: no .yaml or .yml file in it", p)
		}
		sort.Strings(found)
		files = append(files, found...)
	}
	return files, nil
}

var bundleKeys = []string{"vars", "promises"}

// Parse reads one bundle from src; name is used in positions and to resolve
// relative paths. It returns the promises that decoded cleanly and every
// problem found. Unlike Load, it does not look for duplicates.
func Parse(name string, src []byte, opts Options) ([]*promise.Promise, ErrorList) {
	entries, _, errs := parse(name, src, opts)
	var out []*promise.Promise
	for _, e := range entries {
		if e.ok {
			out = append(out, e.p)
		}
	}
	return out, errs
}

// entry is a promise as far as it could be read; ok is false when it has
// errors, and it is then only used to find duplicates.
type entry struct {
	p  *promise.Promise
	ok bool
}

// parse also returns the bundle's vars, merged with opts.Vars.
func parse(name string, src []byte, opts Options) ([]entry, map[string]any, ErrorList) {
	var errs ErrorList
	doc := new(yaml.Node)
	if err := yaml.Unmarshal(src, doc); err != nil {
		errs = append(errs, SyntaxError(name, err))
		return nil, nil, errs
	}
	if len(doc.Content) == 0 {
		errs.add(promise.Pos{File: name, Line: 1, Col: 1}, "empty bundle: expected a mapping with a promises list")
		return nil, nil, errs
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		errs.add(posOf(name, root), "expected a mapping with keys vars and promises, got %s", Describe(root))
		return nil, nil, errs
	}
	var varsNode, promisesNode *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		switch k.Value {
		case "vars":
			varsNode = v
		case "promises":
			promisesNode = v
		default:
			errs.add(posOf(name, k), "%s", unknownKey("bundle key", k.Value, bundleKeys))
		}
	}
	vars := map[string]any{}
	if varsNode != nil {
		if varsNode.Kind != yaml.MappingNode {
			errs.add(posOf(name, varsNode), "vars: expected a mapping, got %s", Describe(varsNode))
		} else if err := varsNode.Decode(&vars); err != nil {
			errs.add(posOf(name, varsNode), "vars: %v", cleanYAMLError(err))
		}
	}
	for k, v := range opts.Vars {
		vars[k] = v
	}
	if promisesNode == nil {
		errs.add(posOf(name, root), "missing promises: expected a list of promises")
		return nil, nil, errs
	}
	if promisesNode.Kind != yaml.SequenceNode {
		errs.add(posOf(name, promisesNode), "promises: expected a list, got %s", Describe(promisesNode))
		return nil, nil, errs
	}
	tmpl := newTemplater(vars, opts.facts())
	d := &decoder{file: name, dir: filepath.Dir(name), tmpl: tmpl}
	var out []entry
	for _, n := range promisesNode.Content {
		if p, ok := d.promise(n); p != nil {
			out = append(out, entry{p, ok})
		}
	}
	errs = append(errs, d.errs...)
	return out, vars, errs
}

// SyntaxError turns a yaml.v3 parse error ("yaml: line 3: ...") into an
// Error with a position in file. yaml.v3 gives lines but not always
// columns. Every YAML reader of phenix (bundles, policies, checks) reports
// syntax errors with it.
func SyntaxError(file string, err error) *Error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	pos := promise.Pos{File: file, Line: 1, Col: 1}
	var line, col int
	if n, _ := fmt.Sscanf(msg, "line %d: column %d:", &line, &col); n == 2 {
		pos.Line, pos.Col = line, col
		_, msg, _ = strings.Cut(msg, ": ")
		_, msg, _ = strings.Cut(msg, ": ")
	} else if n, _ := fmt.Sscanf(msg, "line %d:", &line); n == 1 {
		pos.Line = line
		_, msg, _ = strings.Cut(msg, ": ")
	}
	if pos.Line < 1 {
		pos.Line = 1
	}
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msg = strings.Join(te.Errors, "; ")
	}
	return &Error{Pos: pos, Msg: "syntax error: " + msg}
}

func unknownKey(what, key string, known []string) string {
	msg := fmt.Sprintf("unknown %s %q", what, key)
	if s := promise.Suggest(key, known); s != "" {
		return msg + fmt.Sprintf(" (did you mean %q?)", s)
	}
	return msg + fmt.Sprintf(": expected one of %s", strings.Join(known, ", "))
}

// relationKeys are the keys every promise accepts besides its type's own.
var relationKeys = []string{"require", "before", "notify", "comment"}

type decoder struct {
	file string
	dir  string
	tmpl *templater
	errs ErrorList
}

func (d *decoder) errorf(n *yaml.Node, format string, args ...any) {
	d.errs.add(posOf(d.file, n), format, args...)
}

// promise decodes one promise mapping. When it records an error it returns
// ok false, and the promise as far as it could read it (nil when it has no
// type), for duplicate detection.
func (d *decoder) promise(n *yaml.Node) (_ *promise.Promise, ok bool) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "expected a promise (a mapping such as {file: /etc/motd, content: hello}), got %s", Describe(n))
		return nil, false
	}
	nerrs := len(d.errs)
	// Find the type key. A key that names a type is an attribute when
	// another type key of the promise has an attribute of that name
	// ("file: /x" with "group: adm").
	var typeKey, typeVal *yaml.Node
	var typ promise.Type
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if t, ok := promise.Lookup(k.Value); ok && !isAttrOfOtherType(n, k.Value) {
			if typeKey != nil {
				d.errorf(k, "promise has two types, %s and %s: split it into two promises", typeKey.Value, k.Value)
				return nil, false
			}
			typeKey, typeVal, typ = k, n.Content[i+1], t
		}
	}
	if typeKey == nil {
		msg := "promise has no type: expected one key among " + strings.Join(promise.TypeNames(), ", ")
		for i := 0; i < len(n.Content); i += 2 {
			if s := promise.Suggest(n.Content[i].Value, promise.TypeNames()); s != "" {
				d.errorf(n.Content[i], "unknown promise type %q (did you mean %q?)", n.Content[i].Value, s)
				return nil, false
			}
		}
		d.errorf(n, "%s", msg)
		return nil, false
	}
	p := &promise.Promise{Type: typ.Name, Pos: posOf(d.file, typeKey), Resource: typ.New()}
	rv := reflect.ValueOf(p.Resource).Elem()
	idx := indexOf(rv.Type())
	keyPos := map[string]*yaml.Node{}
	attrErrs := false // an attribute failed to decode: skip Validate
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if _, dup := keyPos[k.Value]; dup {
			d.errorf(k, "%s given twice", k.Value)
			continue
		}
		keyPos[k.Value] = k
		switch k.Value {
		case "require", "before", "notify":
			if !d.tmpl.expand(v, func(err error) { d.errorf(v, "%s: %v", k.Value, err) }) {
				continue
			}
		}
		switch k.Value {
		case "require":
			p.Require = d.refs(v)
			continue
		case "before":
			p.Before = d.refs(v)
			continue
		case "notify":
			p.Notify = d.refs(v)
			continue
		case "comment":
			if _, own := idx.byKey["comment"]; own {
				break // the type's own attribute (a user's GECOS comment)
			}
			if v.Kind == yaml.ScalarNode {
				p.Comment = v.Value
			} else {
				d.errorf(v, "comment: expected a string, got %s", Describe(v))
			}
			continue
		}
		fi, known := idx.byKey[k.Value]
		if !known {
			d.errorf(k, "%s", unknownKey(typ.Name+" attribute", k.Value, append(append([]string{}, idx.keys...), relationKeys...)))
			continue
		}
		if !d.tmpl.expand(v, func(err error) { d.errorf(v, "%s: %v", k.Value, err) }) {
			attrErrs = true
			continue
		}
		if err := decodeValue(v, rv.Field(fi)); err != nil {
			d.errorf(v, "%s: %v", k.Value, err)
			attrErrs = true
			if k == typeKey {
				return nil, false
			}
		}
	}
	// The subject.
	switch {
	case typeVal.Kind == yaml.ScalarNode && typeVal.Value != "" && typeVal.Tag != "!!null":
		p.Subjects = []string{typeVal.Value}
	case typeVal.Kind == yaml.SequenceNode && typ.Multi && len(typeVal.Content) > 0:
		for _, c := range typeVal.Content {
			p.Subjects = append(p.Subjects, c.Value)
		}
	case typ.Multi:
		d.errorf(typeVal, "%s: expected a name or a list of names", typ.Name)
	default:
		d.errorf(typeVal, "%s: expected what the promise is about, for example %s", typ.Name, example(typ.Name))
	}
	if len(p.Subjects) == 0 {
		return nil, false
	}
	if v, ok := p.Resource.(promise.Validator); ok && !attrErrs {
		for _, fe := range v.Validate() {
			at := typeKey
			if kn, ok := keyPos[fe.Field]; ok {
				at = kn
			}
			d.errorf(at, "%s", fe.Error())
		}
	}
	if len(d.errs) > nerrs {
		return p, false
	}
	if r, ok := p.Resource.(promise.Resolver); ok {
		rc := &promise.ResolveContext{Dir: d.dir, Render: d.tmpl.render}
		for _, fe := range r.Resolve(rc) {
			at := typeKey
			if kn, ok := keyPos[fe.Field]; ok {
				at = kn
			}
			d.errorf(at, "%s", fe.Error())
		}
	}
	return p, len(d.errs) == nerrs
}

// isAttrOfOtherType reports whether key, the name of a promise type, is an
// attribute of another type named by a key of the promise mapping n.
func isAttrOfOtherType(n *yaml.Node, key string) bool {
	for i := 0; i+1 < len(n.Content); i += 2 {
		other := n.Content[i].Value
		if t, ok := promise.Lookup(other); ok && other != key {
			if _, attr := indexOf(reflect.TypeOf(t.New()).Elem()).byKey[key]; attr {
				return true
			}
		}
	}
	return false
}

func example(typ string) string {
	switch typ {
	case "file", "directory", "symlink", "line", "archive":
		return typ + ": /etc/motd"
	case "exec":
		return "exec: /usr/bin/make install"
	}
	return typ + ": nginx"
}

// refs decodes a list of references, each with its own position.
func (d *decoder) refs(n *yaml.Node) []promise.Ref {
	var items []*yaml.Node
	switch n.Kind {
	case yaml.ScalarNode:
		items = []*yaml.Node{n}
	case yaml.SequenceNode:
		items = n.Content
	default:
		d.errorf(n, "expected a reference such as service:nginx, or a list of them, got %s", Describe(n))
		return nil
	}
	var out []promise.Ref
	for _, it := range items {
		if it.Kind != yaml.ScalarNode {
			d.errorf(it, "expected a reference such as service:nginx, got %s", Describe(it))
			continue
		}
		r, err := promise.ParseRef(it.Value)
		if err != nil {
			d.errorf(it, "%v", err)
			continue
		}
		r.Pos = posOf(d.file, it)
		out = append(out, r)
	}
	return out
}
