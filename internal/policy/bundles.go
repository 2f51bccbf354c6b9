package policy

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"path"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/phenixhq/phenix/internal/bundle"
)

// bundleName is what a bundle directory may be called.
var bundleName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// isPromiseFile reports whether name is a promise file of a bundle, as
// bundle.Load reads them from a directory.
func isPromiseFile(name string) bool {
	return strings.HasSuffix(name, ".yml") || strings.HasSuffix(name, ".yaml")
}

// promiseFiles returns the promise files of bundle directory dir, in the
// order bundle.Load applies them.
func (t *tree) promiseFiles(dir string) []string {
	var out []string
	for _, n := range t.children(dir, false) {
		if isPromiseFile(n) {
			out = append(out, dir+"/"+n)
		}
	}
	return out
}

// sentinel is the directory bundle files seem to be in when bundle.Parse
// reads them. It holds a NUL byte, so that no path below it can be opened:
// a source or template beside the bundle is never read from the disk of
// the machine checking the policy (the server has no such disk, and the
// client's could hold anything), only from the policy's own files, here.
const sentinel = "/\x00policy"

// Validating a bundle at push time.
//
// Every promise file goes through bundle.Parse with zero Options:
//   - no Vars: the policy's vars are layered per host, so no single set is
//     right; templates see the bundle's own vars (its defaults) only;
//   - no Facts and no FactsFunc: the facts are the host's, and the machine
//     pushing or storing the policy is not that host (gathering its facts
//     would also make the check depend on where it runs);
//   - no CacheDir: checking writes nothing.
//
// So a template that reads a policy var, a secret or a fact fails to
// execute ("map has no entry for key"). Such execution errors depend on the
// host and are dropped; template syntax errors, YAML syntax errors and
// schema errors (unknown keys, bad values, missing attributes) are kept.
// bundle.Parse also reads the sources and templates of file, archive and
// package promises; they are resolved under sentinel, where every read
// fails, and those failures are dropped too: scanRefs checks them against
// the policy's files instead. A promise whose attribute failed to execute
// is not validated further; the agent reports what remains.
func (l *loader) bundles() {
	for _, n := range l.t.children("bundles", false) {
		if isPromiseFile(n) {
			stem := strings.TrimSuffix(strings.TrimSuffix(n, ".yml"), ".yaml")
			l.problem("bundles/"+n, "a bundle is a directory: move this file to bundles/%s/%s", stem, n)
		}
	}
	for _, name := range l.t.children("bundles", true) {
		for _, f := range l.t.promiseFiles("bundles/" + name) {
			l.bundleFile(name, f)
		}
	}
	for p, f := range l.t.files {
		if strings.HasPrefix(p, "bundles/") && strings.Count(p, "/") >= 2 {
			l.p.files[p] = f.data
		}
	}
}

// bundleFile checks promise file rel of bundle name.
func (l *loader) bundleFile(name, rel string) {
	f := l.file(rel)
	work, ok := l.scanRefs(f, name)
	if !ok {
		return
	}
	as := sentinel + "/" + rel
	_, errs := bundle.Parse(as, work, bundle.Options{})
	for _, e := range errs {
		if hostDependent(e.Msg) {
			continue
		}
		pos := e.Pos
		if pos.File == as {
			pos.File = f.name
		}
		l.errs = append(l.errs, &bundle.Error{Pos: pos, Msg: e.Msg})
	}
}

// execError matches what bundle reports for a template that failed to
// execute: "content: at <.vars.port>: map has no entry for key ...".
var execError = regexp.MustCompile(`^[^:]*: at <`)

// hostDependent reports whether a bundle.Parse error may not happen on a
// host, with its vars and facts and its copy of the bundle's files.
func hostDependent(msg string) bool {
	return strings.Contains(msg, "\x00") || execError.MatchString(msg)
}

// refKeys are the promise attributes that name a file beside the bundle.
var refKeys = []string{"source", "template"}

// scanRefs checks the sources and templates of the promises of file f, of
// bundle name, against the policy's files: a relative path must name a file
// of the same bundle (a host receives only the files of its bundles), a
// template file must parse, an archive must have its checksum. Absolute
// paths name files of the host and are not checked. It rewrites a copy of
// f's source, so that bundle.Parse reads nothing outside sentinel
// (absolute or escaping paths) and runs no template for a path (which may
// render to anything); each rewrite keeps every line and column. It
// returns the rewritten source, or false when a path cannot be rewritten
// so: bundle.Parse must then not run.
func (l *loader) scanRefs(f *yamlFile, name string) ([]byte, bool) {
	doc := new(yaml.Node)
	if yaml.Unmarshal(f.src, doc) != nil || len(doc.Content) == 0 {
		return f.src, true // bundle.Parse reports it, and reads no file
	}
	root := deref(doc.Content[0])
	if root.Kind != yaml.MappingNode {
		return f.src, true
	}
	ok := true
	var edits []edit
	done := map[*yaml.Node]bool{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value != "promises" {
			continue
		}
		list := deref(root.Content[i+1])
		if list.Kind != yaml.SequenceNode {
			continue
		}
		for _, pn := range list.Content {
			pn = deref(pn)
			if pn.Kind != yaml.MappingNode {
				continue
			}
			var checksum *yaml.Node
			isArchive := false
			for j := 0; j+1 < len(pn.Content); j += 2 {
				switch pn.Content[j].Value {
				case "checksum":
					checksum = deref(pn.Content[j+1])
				case "archive":
					isArchive = true
				}
			}
			for j := 0; j+1 < len(pn.Content); j += 2 {
				key, v := pn.Content[j].Value, deref(pn.Content[j+1])
				if !contains(refKeys, key) || v.Kind != yaml.ScalarNode || v.Tag == "!!null" || v.Value == "" {
					continue
				}
				if !done[v] {
					done[v] = true
					e, fine := l.neutralize(f, key, v)
					ok = ok && fine
					if e.repl != "" {
						edits = append(edits, e)
					}
				}
				if strings.Contains(v.Value, "{{") {
					if msg := templateSyntax([]byte(v.Value)); msg != "" {
						f.errorf(v, "%s: %s", key, msg)
					}
				} else if !path.IsAbs(v.Value) {
					var sum *yaml.Node
					if isArchive && key == "source" {
						sum = checksum
					}
					l.checkRef(f, name, key, v, sum)
				}
			}
		}
	}
	if !ok {
		return nil, false
	}
	// Apply the edits from the last, so that offsets stay right.
	slices.SortFunc(edits, func(x, y edit) int { return y.a - x.a })
	work := f.src
	for _, e := range edits {
		work = slices.Concat(work[:e.a:e.a], []byte(e.repl), work[e.b:])
	}
	return work, true
}

// edit replaces src[a:b] with repl.
type edit struct {
	a, b int
	repl string
}

// checkRef checks the relative path in v, the value of key.
func (l *loader) checkRef(f *yamlFile, name, key string, v, checksum *yaml.Node) {
	rel := strings.TrimPrefix(f.name, l.prefix)
	dir := path.Dir(rel)
	target := path.Join(dir, v.Value)
	bdir := "bundles/" + name
	switch {
	case !strings.HasPrefix(target, bdir+"/"):
		f.errorf(v, "%s: %s is outside bundle %s: a host receives only the files of its bundles", key, v.Value, name)
		return
	case l.t.dirs[target]:
		f.errorf(v, "%s: %s is a directory, not a file", key, v.Value)
		return
	case l.t.files[target] == nil:
		var near []string
		for _, p := range l.t.under(bdir) {
			if r, ok := strings.CutPrefix(p, dir+"/"); ok {
				near = append(near, r)
			}
		}
		f.errorf(v, "%s: no file %s in bundle %s%s", key, v.Value, name, didYouMean(v.Value, near))
		return
	}
	data := l.t.files[target].data
	if key == "template" {
		if msg := templateSyntax(data); msg != "" {
			f.errorf(v, "template: %s: %s", v.Value, msg)
		}
	}
	if checksum != nil && checksum.Kind == yaml.ScalarNode && !strings.Contains(checksum.Value, "{{") {
		sum := sha256.Sum256(data)
		got := "sha256:" + hex.EncodeToString(sum[:])
		if want := checksum.Value; checksumRE.MatchString(want) && !strings.EqualFold(want, got) {
			f.errorf(checksum, "checksum: %s has %s, not the %s the promise expects", v.Value, got, want)
		}
	}
}

var checksumRE = regexp.MustCompile(`^sha256:[0-9a-fA-F]{64}$`)

// templateSyntax returns the syntax error of a template file, or "". It
// asks bundle.Parse, so that the template functions are the bundle's own.
func templateSyntax(text []byte) string {
	if !bytes.Contains(text, []byte("{{")) || !utf8.Valid(text) {
		return ""
	}
	doc, err := yaml.Marshal(map[string]any{"promises": []any{map[string]any{"file": "/template", "content": string(text)}}})
	if err != nil {
		return ""
	}
	_, errs := bundle.Parse(sentinel+"/template.yml", doc, bundle.Options{})
	for _, e := range errs {
		if !hostDependent(e.Msg) {
			return strings.TrimPrefix(e.Msg, "content: ")
		}
	}
	return ""
}

// neutralize returns the edit that rewrites the path in scalar v (the value of key) so
// that bundle.Parse reads nothing outside sentinel. A relative path that
// stays below sentinel is left alone; an absolute one loses its leading
// "/" or, failing that, has every "/" replaced; a template is replaced by
// one that fails to execute, so that it is never rendered. Every rewrite
// keeps the number of characters. It reports a path it cannot rewrite.
func (l *loader) neutralize(f *yamlFile, key string, v *yaml.Node) (edit, bool) {
	rel := strings.TrimPrefix(f.name, l.prefix)
	dir := path.Dir(sentinel + "/" + rel)
	safe := func(p string) bool {
		return !path.IsAbs(p) && strings.HasPrefix(path.Join(dir, p), sentinel+"/")
	}
	templated := strings.Contains(v.Value, "{{")
	if !templated && safe(v.Value) {
		return edit{}, true
	}
	a, b, ok := rawExtent(f.src, v)
	if !ok {
		f.errorf(v, "%s: write this path on one line, as a plain or quoted string", key)
		return edit{}, false
	}
	raw := string(f.src[a:b])
	n := utf8.RuneCountInString(raw)
	var repl string
	switch {
	case templated && n >= len(failing):
		repl = failing + strings.Repeat(" ", n-len(failing))
	case templated:
		return edit{}, true // too short to render an absolute path
	case raw != v.Value:
		f.errorf(v, "%s: write this path without escapes", key)
		return edit{}, false
	case safe("." + raw[1:]):
		repl = "." + raw[1:]
	default:
		repl = strings.ReplaceAll(raw, "/", "_")
	}
	return edit{a, b, repl}, true
}

// failing is a template that always fails to execute (the data has no key
// Q). It starts with a letter, to stay a plain scalar where it replaces one.
const failing = "x{{.Q}}"

// rawExtent returns the byte range of the text of scalar v in src,
// quotes excluded, when it lies on a single line.
func rawExtent(src []byte, v *yaml.Node) (int, int, bool) {
	if v.Style&(yaml.LiteralStyle|yaml.FoldedStyle|yaml.TaggedStyle) != 0 {
		return 0, 0, false
	}
	start := 0
	for line := 1; line < v.Line; line++ {
		i := bytes.IndexByte(src[start:], '\n')
		if i < 0 {
			return 0, 0, false
		}
		start += i + 1
	}
	end := bytes.IndexByte(src[start:], '\n')
	if end < 0 {
		end = len(src)
	} else {
		end += start
	}
	line := src[start:end]
	off := 0
	for c := 1; c < v.Column; c++ {
		_, w := utf8.DecodeRune(line[off:])
		if w == 0 {
			return 0, 0, false
		}
		off += w
	}
	if off >= len(line) {
		return 0, 0, false
	}
	switch {
	case v.Style&yaml.DoubleQuotedStyle != 0, v.Style&yaml.SingleQuotedStyle != 0:
		q := line[off]
		for i := off + 1; i < len(line); i++ {
			switch {
			case q == '"' && line[i] == '\\':
				i++
			case q == '\'' && line[i] == '\'' && i+1 < len(line) && line[i+1] == '\'':
				i++
			case line[i] == q:
				return start + off + 1, start + i, true
			}
		}
		return 0, 0, false
	default:
		if bytes.HasPrefix(line[off:], []byte(v.Value)) {
			return start + off, start + off + len(v.Value), true
		}
		return 0, 0, false
	}
}
