package selector

import "strings"

// String returns the canonical form of s: "*" when s is empty, otherwise
// its requirements joined by ",". Parse reads it back as s.
func (s Selector) String() string {
	if len(s) == 0 {
		return "*"
	}
	var b strings.Builder
	for i, r := range s {
		if i > 0 {
			b.WriteByte(',')
		}
		r.write(&b)
	}
	return b.String()
}

// String returns the canonical form of r: "key=value", "key!=value",
// "key in (a,b)", "key notin (a,b)", "key", "!key", "key>N" or "key<N".
func (r Requirement) String() string {
	var b strings.Builder
	r.write(&b)
	return b.String()
}

func (r Requirement) write(b *strings.Builder) {
	switch r.Op {
	case Exists:
		b.WriteString(r.Key)
		return
	case NotExists:
		b.WriteByte('!')
		b.WriteString(r.Key)
		return
	case In, NotIn:
		b.WriteString(r.Key)
		b.WriteByte(' ')
		b.WriteString(string(r.Op))
		b.WriteString(" (")
		for i, v := range r.Values {
			if i > 0 {
				b.WriteByte(',')
			}
			writeValue(b, v)
		}
		b.WriteByte(')')
		return
	}
	b.WriteString(r.Key)
	b.WriteString(string(r.Op))
	for _, v := range r.Values {
		writeValue(b, v)
	}
}

// writeValue writes v unquoted when it can be, otherwise between double
// quotes with " and \ escaped.
func writeValue(b *strings.Builder, v string) {
	bare := v != ""
	for i := 0; i < len(v) && bare; i++ {
		bare = isValueByte(v[i])
	}
	if bare {
		b.WriteString(v)
		return
	}
	b.WriteByte('"')
	for i := 0; i < len(v); i++ {
		if v[i] == '"' || v[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(v[i])
	}
	b.WriteByte('"')
}

// MarshalText returns the canonical form, so that a Selector is a string
// in JSON and YAML.
func (s Selector) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText parses text as a selector.
func (s *Selector) UnmarshalText(text []byte) error {
	sel, err := Parse(string(text))
	if err != nil {
		return err
	}
	*s = sel
	return nil
}
