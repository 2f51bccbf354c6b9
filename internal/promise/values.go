package promise

import (
	"fmt"
	"os"
	"strconv"
	"time"

	"go.yaml.in/yaml/v3"
)

// Mode is a file permission written in octal, as a string ("0644") or a
// number (0644 in YAML is read as octal). Zero means "leave as it is".
type Mode struct {
	Perm os.FileMode
	Set  bool
}

// UnmarshalYAML accepts "0644", "644", 0644 and "u=rw,go=r" is refused.
func (m *Mode) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("expected an octal mode such as \"0644\"")
	}
	v, err := strconv.ParseUint(n.Value, 8, 32)
	if err != nil || v > 07777 {
		return fmt.Errorf("bad mode %q: expected an octal mode such as \"0644\"", n.Value)
	}
	m.Perm, m.Set = os.FileMode(v), true
	return nil
}

func (m Mode) String() string {
	if !m.Set {
		return ""
	}
	return fmt.Sprintf("%04o", uint32(m.Perm))
}

// modeString formats the permission bits of a file mode, including setuid,
// setgid and sticky, as four octal digits.
func modeString(fm os.FileMode) string {
	return fmt.Sprintf("%04o", uint32(unixPerm(fm)))
}

// unixPerm converts Go's mode bits to the Unix 07777 form.
func unixPerm(fm os.FileMode) os.FileMode {
	p := fm.Perm()
	if fm&os.ModeSetuid != 0 {
		p |= 04000
	}
	if fm&os.ModeSetgid != 0 {
		p |= 02000
	}
	if fm&os.ModeSticky != 0 {
		p |= 01000
	}
	return p
}

// goMode converts Unix 07777 bits to Go's mode bits for os.Chmod.
func goMode(p os.FileMode) os.FileMode {
	m := p.Perm()
	if p&04000 != 0 {
		m |= os.ModeSetuid
	}
	if p&02000 != 0 {
		m |= os.ModeSetgid
	}
	if p&01000 != 0 {
		m |= os.ModeSticky
	}
	return m
}

// StringList is a list of strings that may be written as a single scalar.
type StringList []string

// UnmarshalYAML accepts "a" or [a, b].
func (l *StringList) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		*l = StringList{n.Value}
		return nil
	case yaml.SequenceNode:
		out := make(StringList, 0, len(n.Content))
		for _, c := range n.Content {
			if c.Kind != yaml.ScalarNode {
				return fmt.Errorf("line %d: expected a string", c.Line)
			}
			out = append(out, c.Value)
		}
		*l = out
		return nil
	}
	return fmt.Errorf("expected a string or a list of strings")
}

// Duration is a time.Duration written as "30s" or "5m".
type Duration struct{ time.Duration }

// UnmarshalYAML accepts Go duration strings; a bare number means seconds.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("expected a duration such as \"30s\"")
	}
	if secs, err := strconv.ParseFloat(n.Value, 64); err == nil {
		d.Duration = time.Duration(secs * float64(time.Second))
		return nil
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("bad duration %q: expected a duration such as \"30s\" or \"5m\"", n.Value)
	}
	d.Duration = v
	return nil
}

// State is a promise's "state" attribute, checked against the values its
// type accepts.
func checkState(got string, allowed ...string) []FieldError {
	if got == "" {
		return nil
	}
	for _, a := range allowed {
		if got == a {
			return nil
		}
	}
	msg := fmt.Sprintf("unknown state %q: expected one of %v", got, allowed)
	if s := Suggest(got, allowed); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	}
	return []FieldError{{Field: "state", Msg: msg}}
}
