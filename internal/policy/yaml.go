package policy

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/phenixhq/phenix/internal/bundle"
	"github.com/phenixhq/phenix/internal/promise"
	"github.com/phenixhq/phenix/internal/selector"
)

// yamlFile is one YAML file of a policy being decoded. It collects the
// problems it finds in errs, each with its position.
type yamlFile struct {
	name string // as errors show it
	src  []byte
	errs *bundle.ErrorList
}

func (f *yamlFile) pos(n *yaml.Node) promise.Pos {
	return promise.Pos{File: f.name, Line: n.Line, Col: n.Column}
}

func (f *yamlFile) errorAt(pos promise.Pos, format string, args ...any) {
	*f.errs = append(*f.errs, &bundle.Error{Pos: pos, Msg: fmt.Sprintf(format, args...)})
}

func (f *yamlFile) errorf(n *yaml.Node, format string, args ...any) {
	f.errorAt(f.pos(n), format, args...)
}

// root parses the file and returns its top-level node, or nil when the file
// is empty (only comments) or does not parse; the latter is recorded.
func (f *yamlFile) root() *yaml.Node {
	doc := new(yaml.Node)
	if err := yaml.Unmarshal(f.src, doc); err != nil {
		f.errorAt(syntaxPos(f.name, err))
		return nil
	}
	if len(doc.Content) == 0 {
		return nil
	}
	return doc.Content[0]
}

// syntaxPos is bundle.SyntaxError as a position and a message, with a hint
// for the bare * that YAML reads as an alias.
func syntaxPos(file string, err error) (promise.Pos, string, any) {
	e := bundle.SyntaxError(file, err)
	msg := e.Msg
	if strings.Contains(msg, "did not find expected alphabetic or numeric character") {
		msg += ` (a bare * starts a YAML alias: to select every host, write "*" in quotes)`
	}
	return e.Pos, "%s", msg
}

// pair is one key of a mapping with its value.
type pair struct{ key, val *yaml.Node }

// fields returns the pairs of mapping n whose keys are known, in file
// order. It records n not being a mapping, unknown keys (with a suggestion)
// and keys given twice. what names the mapping in messages ("policy key").
func (f *yamlFile) fields(n *yaml.Node, what string, known []string) []pair {
	n = deref(n)
	if n.Kind != yaml.MappingNode {
		f.errorf(n, "expected a mapping with keys %s, got %s", strings.Join(known, ", "), bundle.Describe(n))
		return nil
	}
	var out []pair
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if first, dup := seen[k.Value]; dup {
			f.errorf(k, "%s given twice (first at line %d)", k.Value, first.Line)
			continue
		}
		seen[k.Value] = k
		if !contains(known, k.Value) {
			f.errorf(k, "%s", unknownKey(what, k.Value, known))
			continue
		}
		out = append(out, pair{k, v})
	}
	return out
}

// entries returns the pairs of mapping n, recording keys given twice.
func (f *yamlFile) entries(n *yaml.Node, what string) []pair {
	n = deref(n)
	if n.Kind != yaml.MappingNode {
		f.errorf(n, "%s: expected a mapping, got %s", what, bundle.Describe(n))
		return nil
	}
	var out []pair
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if first, dup := seen[k.Value]; dup {
			f.errorf(k, "%s: %s given twice (first at line %d)", what, k.Value, first.Line)
			continue
		}
		seen[k.Value] = k
		out = append(out, pair{k, v})
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func unknownKey(what, key string, known []string) string {
	msg := fmt.Sprintf("unknown %s %q", what, key)
	if s := promise.Suggest(key, known); s != "" {
		return msg + fmt.Sprintf(" (did you mean %q?)", s)
	}
	return msg + fmt.Sprintf(": expected one of %s", strings.Join(known, ", "))
}

// didYouMean returns " (did you mean "x"?)" when a candidate is close to s.
func didYouMean(s string, candidates []string) string {
	if c := promise.Suggest(s, candidates); c != "" {
		return fmt.Sprintf(" (did you mean %q?)", c)
	}
	return ""
}

func deref(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// isNull reports whether n is an empty or null scalar.
func isNull(n *yaml.Node) bool {
	n = deref(n)
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// str returns the string value of scalar n, recording an error naming
// field when n is not a string.
func (f *yamlFile) str(field string, n *yaml.Node) (string, bool) {
	n = deref(n)
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		f.errorf(n, "%s: expected a string, got %s", field, bundle.Describe(n))
		return "", false
	}
	return n.Value, true
}

// strList returns the items of a list of strings; a single scalar is a list of one.
func (f *yamlFile) strList(field string, n *yaml.Node) ([]*yaml.Node, bool) {
	n = deref(n)
	var items []*yaml.Node
	switch {
	case n.Kind == yaml.ScalarNode && n.Tag != "!!null":
		items = []*yaml.Node{n}
	case n.Kind == yaml.SequenceNode:
		items = n.Content
	default:
		f.errorf(n, "%s: expected a list of strings, got %s", field, bundle.Describe(n))
		return nil, false
	}
	ok := true
	for i, it := range items {
		it = deref(it)
		items[i] = it
		if it.Kind != yaml.ScalarNode || it.Tag == "!!null" {
			f.errorf(it, "%s: expected a string, got %s", field, bundle.Describe(it))
			ok = false
		}
	}
	return items, ok
}

// selector parses the selector in scalar n. A syntax error is reported at
// the column, inside the YAML scalar, of the character at fault.
func (f *yamlFile) selector(field string, n *yaml.Node) (selector.Selector, bool) {
	s, ok := f.str(field, n)
	if !ok {
		return nil, false
	}
	sel, err := selector.Parse(s)
	if err != nil {
		var se *selector.SyntaxError
		if errors.As(err, &se) {
			f.errorAt(f.charPos(deref(n), se.Col-1), "%s: bad selector: %s", field, se.Msg)
		} else {
			f.errorf(n, "%s: bad selector: %v", field, err)
		}
		return nil, false
	}
	return sel, true
}

// charPos returns the position of the character at index i (in runes) of
// the value of scalar n. It follows quotes and escapes on a single line and
// falls back to the position of n for block and multi-line scalars.
func (f *yamlFile) charPos(n *yaml.Node, i int) promise.Pos {
	pos := f.pos(n)
	if n.Style&(yaml.LiteralStyle|yaml.FoldedStyle|yaml.TaggedStyle) != 0 {
		return pos
	}
	line := []rune(lineOf(f.src, n.Line))
	start := n.Column - 1
	if start < 0 || start >= len(line) {
		return pos
	}
	col, ok := 0, false
	switch {
	case n.Style&yaml.DoubleQuotedStyle != 0:
		col, ok = walkQuoted(line, start, i, doubleQuotedWidth)
	case n.Style&yaml.SingleQuotedStyle != 0:
		col, ok = walkQuoted(line, start, i, func(r []rune, j int) int {
			if r[j] == '\'' && j+1 < len(r) && r[j+1] == '\'' {
				return 2
			}
			return 1
		})
	default:
		v := []rune(n.Value)
		if start+len(v) <= len(line) && string(line[start:start+len(v)]) == n.Value {
			col, ok = start+i, true
		}
	}
	if ok {
		pos.Col = col + 1
	}
	return pos
}

// walkQuoted returns the 0-based column of the i-th character of the
// quoted scalar opening at line[start]; width gives how many source
// characters the value character at line[j] takes.
func walkQuoted(line []rune, start, i int, width func(r []rune, j int) int) (int, bool) {
	j := start + 1
	for k := 0; k < i; k++ {
		if j >= len(line) {
			return 0, false
		}
		j += width(line, j)
	}
	return j, j <= len(line)
}

func doubleQuotedWidth(r []rune, j int) int {
	if r[j] != '\\' || j+1 >= len(r) {
		return 1
	}
	switch r[j+1] {
	case 'x':
		return 4
	case 'u':
		return 6
	case 'U':
		return 10
	}
	return 2
}

// lineOf returns line n (1-based) of src, without its newline.
func lineOf(src []byte, n int) string {
	for i := 1; i < n; i++ {
		j := bytes.IndexByte(src, '\n')
		if j < 0 {
			return ""
		}
		src = src[j+1:]
	}
	if j := bytes.IndexByte(src, '\n'); j >= 0 {
		src = src[:j]
	}
	return strings.TrimSuffix(string(src), "\r")
}

// vars decodes a mapping of vars. Values keep their YAML types (strings,
// numbers, booleans, lists, mappings); timestamps stay the text written,
// and the keys of nested mappings become strings, so that vars survive a
// trip through JSON to the agent unchanged.
func (f *yamlFile) vars(field string, n *yaml.Node) (map[string]any, bool) {
	n = deref(n)
	if isNull(n) {
		return map[string]any{}, true
	}
	if n.Kind != yaml.MappingNode {
		f.errorf(n, "%s: expected a mapping of names to values, got %s", field, bundle.Describe(n))
		return nil, false
	}
	timestampsAsText(n, 0)
	var m map[string]any
	if err := n.Decode(&m); err != nil {
		f.errorf(n, "%s: %s", field, yamlPrefix.ReplaceAllString(err.Error(), ""))
		return nil, false
	}
	v, err := normalize(m, 0)
	if err != nil {
		f.errorf(n, "%s: %v", field, err)
		return nil, false
	}
	return v.(map[string]any), true
}

var yamlPrefix = regexp.MustCompile(`^(yaml: )?(unmarshal errors:\s*)?(line \d+: )?`)

// timestampsAsText makes the decoder keep dates as the text written.
func timestampsAsText(n *yaml.Node, depth int) {
	if depth > 1000 {
		return
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!timestamp" && n.Style&yaml.TaggedStyle == 0 {
		n.Tag = "!!str"
	}
	for _, c := range n.Content {
		timestampsAsText(c, depth+1)
	}
}

// normalize turns what yaml.v3 decodes into values JSON encodes and
// decodes back the same way.
func normalize(v any, depth int) (any, error) {
	if depth > 100 {
		return nil, errors.New("values nested too deep")
	}
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			n, err := normalize(e, depth+1)
			if err != nil {
				return nil, err
			}
			out[k] = n
		}
		return out, nil
	case map[any]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			n, err := normalize(e, depth+1)
			if err != nil {
				return nil, err
			}
			out[fmt.Sprint(k)] = n
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			n, err := normalize(e, depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = n
		}
		return out, nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("%v is not a number JSON can carry", x)
		}
	case string:
		if !utf8.ValidString(x) {
			return nil, errors.New("a value is not valid UTF-8")
		}
	}
	return v, nil
}
