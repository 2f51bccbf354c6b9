package selector

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// Parse reads a selector (see the package documentation for the syntax).
// The error, when there is one, is a *SyntaxError.
func Parse(s string) (Selector, error) {
	if t := strings.Trim(s, " \t"); t == "" || t == "*" {
		return nil, nil
	}
	p := &parser{s: s}
	var sel Selector
	for {
		p.space()
		r, err := p.requirement()
		if err != nil {
			return nil, err
		}
		sel = append(sel, r)
		p.space()
		if p.eof() {
			break
		}
		if p.s[p.i] != ',' {
			return nil, p.errorf(p.i, `expected "," or end of selector`)
		}
		comma := p.i
		p.i++
		p.space()
		if p.eof() {
			return nil, p.errorf(comma, "trailing comma")
		}
	}
	slices.SortFunc(sel, compare)
	return slices.CompactFunc(sel, func(a, b Requirement) bool { return compare(a, b) == 0 }), nil
}

// compare orders requirements by key, operator and values.
func compare(a, b Requirement) int {
	return cmp.Or(
		strings.Compare(a.Key, b.Key),
		strings.Compare(string(a.Op), string(b.Op)),
		slices.Compare(a.Values, b.Values),
	)
}

type parser struct {
	s string
	i int // byte offset of the next character
}

func (p *parser) eof() bool { return p.i >= len(p.s) }

func (p *parser) peek() byte {
	if p.eof() {
		return 0
	}
	return p.s[p.i]
}

func (p *parser) space() {
	for !p.eof() && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

// errorf returns a SyntaxError at byte offset off.
func (p *parser) errorf(off int, format string, args ...any) error {
	return &SyntaxError{Col: utf8.RuneCountInString(p.s[:off]) + 1, Msg: fmt.Sprintf(format, args...)}
}

// char is the character at byte offset off, for messages.
func (p *parser) char(off int) string {
	_, n := utf8.DecodeRuneInString(p.s[off:])
	return p.s[off : off+n]
}

func (p *parser) requirement() (Requirement, error) {
	if p.peek() == '!' {
		p.i++
		p.space()
		key, err := p.key(`expected a key after "!"`)
		return Requirement{Key: key, Op: NotExists}, err
	}
	key, err := p.key("expected a key")
	if err != nil {
		return Requirement{}, err
	}
	p.space()
	if p.eof() || p.peek() == ',' {
		return Requirement{Key: key, Op: Exists}, nil
	}
	start := p.i
	switch c := p.peek(); {
	case isKeyByte(c):
		for !p.eof() && isKeyByte(p.s[p.i]) {
			p.i++
		}
		word := p.s[start:p.i]
		var op Op
		switch word {
		case "in":
			op = In
		case "notin":
			op = NotIn
		default:
			return Requirement{}, p.errorf(start, "unknown operator %q", word)
		}
		p.space()
		if p.peek() != '(' {
			return Requirement{}, p.errorf(p.i, `expected "(" after %q`, word)
		}
		p.i++
		vs, err := p.set()
		if err != nil {
			return Requirement{}, err
		}
		slices.Sort(vs)
		return Requirement{Key: key, Op: op, Values: slices.Compact(vs)}, nil
	case isOpByte(c):
		for !p.eof() && isOpByte(p.s[p.i]) {
			p.i++
		}
		text := p.s[start:p.i]
		var op Op
		switch text {
		case "=", "==":
			op = Eq
		case "!=":
			op = NotEq
		case ">":
			op = Gt
		case "<":
			op = Lt
		default:
			return Requirement{}, p.errorf(start, "unknown operator %q", text)
		}
		p.space()
		if op == Gt || op == Lt {
			n, err := p.number(text)
			return Requirement{Key: key, Op: op, Values: []string{n}}, err
		}
		v, err := p.value(fmt.Sprintf("expected a value after %q", text))
		return Requirement{Key: key, Op: op, Values: []string{v}}, err
	default:
		return Requirement{}, p.errorf(start, "unexpected %q after key %q", p.char(start), key)
	}
}

// key reads a key; msg is the error when there is none.
func (p *parser) key(msg string) (string, error) {
	start := p.i
	for !p.eof() && isKeyByte(p.s[p.i]) {
		p.i++
	}
	if p.i == start {
		if p.peek() == '*' {
			return "", p.errorf(start, `"*" must be the whole selector`)
		}
		return "", p.errorf(start, "%s", msg)
	}
	key := p.s[start:p.i]
	if key == "labels." || key == "facts." {
		return "", p.errorf(p.i, "expected a name after %q", key)
	}
	return key, nil
}

// set reads the values of an in or notin set, after its "(".
func (p *parser) set() ([]string, error) {
	var vs []string
	for {
		p.space()
		v, err := p.value("expected a value")
		if err != nil {
			return nil, err
		}
		vs = append(vs, v)
		p.space()
		switch p.peek() {
		case ')':
			p.i++
			return vs, nil
		case ',':
			p.i++
		default:
			return nil, p.errorf(p.i, `expected "," or ")"`)
		}
	}
}

// value reads a quoted or unquoted value; msg is the error when there is
// none.
func (p *parser) value(msg string) (string, error) {
	if p.peek() == '"' {
		return p.quoted()
	}
	start := p.i
	for !p.eof() && isValueByte(p.s[p.i]) {
		p.i++
	}
	switch c := p.peek(); {
	case p.eof() || c == ',' || c == ')' || c == ' ' || c == '\t':
		if p.i == start {
			return "", p.errorf(start, "%s", msg)
		}
		return p.s[start:p.i], nil
	default:
		return "", p.errorf(p.i, `%q is not allowed in an unquoted value (quote the value with "...")`, p.char(p.i))
	}
}

// quoted reads a value between double quotes, in which \" stands for "
// and \\ for \.
func (p *parser) quoted() (string, error) {
	open := p.i
	p.i++
	var b strings.Builder
	for !p.eof() {
		switch c := p.s[p.i]; c {
		case '"':
			p.i++
			return b.String(), nil
		case '\\':
			if p.i+1 >= len(p.s) {
				return "", p.errorf(open, "unterminated quoted value")
			}
			if e := p.s[p.i+1]; e != '"' && e != '\\' {
				return "", p.errorf(p.i, `unknown escape "\%s" in quoted value (only \" and \\ are escapes)`, p.char(p.i+1))
			}
			b.WriteByte(p.s[p.i+1])
			p.i += 2
		default:
			b.WriteByte(c)
			p.i++
		}
	}
	return "", p.errorf(open, "unterminated quoted value")
}

// number reads the number after the operator op and returns it in
// canonical form.
func (p *parser) number(op string) (string, error) {
	start := p.i
	for !p.eof() && isValueByte(p.s[p.i]) {
		p.i++
	}
	text := p.s[start:p.i]
	if !isNumber(text) {
		return "", p.errorf(start, "expected a number after %q", op)
	}
	f, ok := number(text)
	if !ok {
		return "", p.errorf(start, "number %q is out of range", text)
	}
	return formatNumber(f), nil
}

// isKeyByte reports whether c may appear in a key: [A-Za-z0-9_./-].
func isKeyByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || isDigit(c) || c == '_' || c == '.' || c == '/' || c == '-'
}

// isValueByte reports whether c may appear in an unquoted value:
// [A-Za-z0-9_.:/@+-].
func isValueByte(c byte) bool {
	return isKeyByte(c) || c == ':' || c == '@' || c == '+'
}

// isOpByte reports whether c may start an operator; a run of them is read
// as one operator so that "==" is known and ">=" is reported whole.
func isOpByte(c byte) bool {
	return c == '=' || c == '!' || c == '<' || c == '>' || c == '~'
}
