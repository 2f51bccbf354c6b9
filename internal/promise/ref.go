package promise

import (
	"fmt"
	"strconv"
	"strings"
)

// Pos is a position in a source file, 1-based.
type Pos struct {
	File string `json:"file,omitempty"`
	Line int    `json:"line,omitempty"`
	Col  int    `json:"column,omitempty"`
}

func (p Pos) String() string {
	if p.File != "" && p.Line == 0 {
		return p.File
	}
	b := make([]byte, 0, len(p.File)+12)
	if p.File != "" {
		b = append(append(b, p.File...), ':')
	}
	b = strconv.AppendInt(b, int64(p.Line), 10)
	b = strconv.AppendInt(append(b, ':'), int64(p.Col), 10)
	return string(b)
}

// Ref names a promise as "type:subject", for example "service:nginx".
type Ref struct {
	Type    string
	Subject string
	Pos     Pos // where the reference was written, if it was
}

func (r Ref) String() string { return r.Type + ":" + r.Subject }

// ParseRef parses "type:subject". The type must be a registered promise type.
func ParseRef(s string) (Ref, error) {
	t, subj, ok := strings.Cut(s, ":")
	if !ok || t == "" || subj == "" {
		return Ref{}, fmt.Errorf("reference %q: expected type:subject, for example service:nginx", s)
	}
	if _, ok := Lookup(t); !ok {
		msg := fmt.Sprintf("reference %q: unknown promise type %q", s, t)
		if m := Suggest(t, TypeNames()); m != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", m)
		}
		return Ref{}, fmt.Errorf("%s", msg)
	}
	return Ref{Type: t, Subject: subj}, nil
}

// FieldError is a problem with one attribute of a promise. Field is the
// attribute's YAML key; "" means the promise as a whole.
type FieldError struct {
	Field string
	Msg   string
}

func (e FieldError) Error() string {
	if e.Field == "" {
		return e.Msg
	}
	return e.Field + ": " + e.Msg
}

// Errf builds a FieldError.
func Errf(field, format string, args ...any) FieldError {
	return FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// ResolveContext gives a Resolver access to the bundle it came from.
type ResolveContext struct {
	// Dir is the directory of the bundle file; relative paths resolve
	// against it.
	Dir string
	// Render executes a Go text/template with the bundle's vars and the
	// host's facts. name is used in error messages.
	Render func(name, text string) (string, error)
}

// Suggest returns the candidate closest to s, or "" when none is close
// enough to be a likely typo.
func Suggest(s string, candidates []string) string {
	best, bestD := "", len(s)/2+2
	for _, c := range candidates {
		if d := EditDistance(s, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// EditDistance returns the Levenshtein distance between a and b: how many
// single-byte insertions, deletions and substitutions turn one into the
// other.
func EditDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
