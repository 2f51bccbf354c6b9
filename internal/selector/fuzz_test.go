package selector

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzParse checks that Parse never panics, that what it accepts prints to
// a canonical form it reads back as an equal selector, and that matching
// never panics.
func FuzzParse(f *testing.F) {
	for _, tt := range roundTripCases {
		f.Add(tt.in)
	}
	for _, s := range []string{
		"role==", "env in (prod", `q="a\`, "cpu>=2", "*,a", "labels.", `a=("x")`,
		"a\t in\t(\"\\\\\",\"\\\"\")", "x>99999999999999999999999999999999999999", "é=\"\xff\"",
	} {
		f.Add(s)
	}
	h := fleet[0]
	f.Fuzz(func(t *testing.T, in string) {
		s, err := Parse(in)
		if err != nil {
			if s != nil {
				t.Errorf("Parse(%q) = %v along with error %v", in, s, err)
			}
			se, ok := err.(*SyntaxError)
			if !ok || se.Col < 1 || se.Col > len([]rune(in))+1 {
				t.Errorf("Parse(%q) error = %#v, want a *SyntaxError within the input", in, err)
			}
			return
		}
		canon := s.String()
		again, err := Parse(canon)
		if err != nil {
			t.Fatalf("Parse(%q) ok, but Parse of its String %q: %v", in, canon, err)
		}
		if diff := cmp.Diff(s, again); diff != "" {
			t.Errorf("Parse(%q) and Parse(%q) differ (-first +second):\n%s", in, canon, diff)
		}
		if c2 := again.String(); c2 != canon {
			t.Errorf("String is not stable: %q then %q", canon, c2)
		}
		s.Match(h)
		s.Match(Host{})
	})
}
