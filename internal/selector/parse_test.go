package selector

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestParse(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want Selector
	}{
		{in: "", want: nil},
		{in: "*", want: nil},
		{in: "  *\t", want: nil},
		{in: "   ", want: nil},
		{in: "role=web", want: Selector{{Key: "role", Op: Eq, Values: []string{"web"}}}},
		{in: "role==web", want: Selector{{Key: "role", Op: Eq, Values: []string{"web"}}}},
		{in: "role!=web", want: Selector{{Key: "role", Op: NotEq, Values: []string{"web"}}}},
		{in: "env in (prod,preprod)", want: Selector{{Key: "env", Op: In, Values: []string{"preprod", "prod"}}}},
		{in: "env notin (dev)", want: Selector{{Key: "env", Op: NotIn, Values: []string{"dev"}}}},
		{in: "env in(b,a,b)", want: Selector{{Key: "env", Op: In, Values: []string{"a", "b"}}}},
		{in: "gpu", want: Selector{{Key: "gpu", Op: Exists}}},
		{in: "!gpu", want: Selector{{Key: "gpu", Op: NotExists}}},
		{in: "! gpu", want: Selector{{Key: "gpu", Op: NotExists}}},
		{in: "cpu_count>2", want: Selector{{Key: "cpu_count", Op: Gt, Values: []string{"2"}}}},
		{in: "memory_mb<4096.50", want: Selector{{Key: "memory_mb", Op: Lt, Values: []string{"4096.5"}}}},
		{in: "t > -0.5", want: Selector{{Key: "t", Op: Gt, Values: []string{"-0.5"}}}},
		{in: "t<+007.", want: Selector{{Key: "t", Op: Lt, Values: []string{"7"}}}},
		{in: "id=web-1", want: Selector{{Key: "id", Op: Eq, Values: []string{"web-1"}}}},
		{in: "labels.role=web,facts.os=linux", want: Selector{
			{Key: "facts.os", Op: Eq, Values: []string{"linux"}},
			{Key: "labels.role", Op: Eq, Values: []string{"web"}},
		}},
		{in: "example.com/team-a_b=x", want: Selector{{Key: "example.com/team-a_b", Op: Eq, Values: []string{"x"}}}},
		{in: "v=Az09_.:/@+-", want: Selector{{Key: "v", Op: Eq, Values: []string{"Az09_.:/@+-"}}}},
		{in: "listen=:8080", want: Selector{{Key: "listen", Op: Eq, Values: []string{":8080"}}}},
		// Numbers are values like any other for = and in.
		{in: "v=-1", want: Selector{{Key: "v", Op: Eq, Values: []string{"-1"}}}},
		// in and notin are operators only after a key.
		{in: "in in (in)", want: Selector{{Key: "in", Op: In, Values: []string{"in"}}}},
		{in: "notin", want: Selector{{Key: "notin", Op: Exists}}},
		// Quoting.
		{in: `owner="Jane Doe"`, want: Selector{{Key: "owner", Op: Eq, Values: []string{"Jane Doe"}}}},
		{in: `motd=""`, want: Selector{{Key: "motd", Op: Eq, Values: []string{""}}}},
		{in: `q="a\"b\\c"`, want: Selector{{Key: "q", Op: Eq, Values: []string{`a"b\c`}}}},
		{in: `q="a,b (c)"`, want: Selector{{Key: "q", Op: Eq, Values: []string{"a,b (c)"}}}},
		{in: `q="été"`, want: Selector{{Key: "q", Op: Eq, Values: []string{"été"}}}},
		{in: `env in ("a b", c,"")`, want: Selector{{Key: "env", Op: In, Values: []string{"", "a b", "c"}}}},
		{in: `role="web"`, want: Selector{{Key: "role", Op: Eq, Values: []string{"web"}}}},
		// Spacing, sorting and duplicates.
		{in: " role = web ,\tenv in ( prod , preprod ) , os != windows ", want: Selector{
			{Key: "env", Op: In, Values: []string{"preprod", "prod"}},
			{Key: "os", Op: NotEq, Values: []string{"windows"}},
			{Key: "role", Op: Eq, Values: []string{"web"}},
		}},
		{in: "role=web,role==web,b,!b,b", want: Selector{
			{Key: "b", Op: NotExists},
			{Key: "b", Op: Exists},
			{Key: "role", Op: Eq, Values: []string{"web"}},
		}},
		{in: "r=b,r=a", want: Selector{
			{Key: "r", Op: Eq, Values: []string{"a"}},
			{Key: "r", Op: Eq, Values: []string{"b"}},
		}},
	} {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse(%q) error = %v", tt.in, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Parse(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		// Missing values.
		{"role==", `col 7: expected a value after "=="`},
		{"role=", `col 6: expected a value after "="`},
		{"role!= ", `col 8: expected a value after "!="`},
		{"role=,env=prod", `col 6: expected a value after "="`},
		{"env in (prod", `col 13: expected "," or ")"`},
		{"env in (prod preprod)", `col 14: expected "," or ")"`},
		{"env in ()", `col 9: expected a value`},
		{"env in (a,)", `col 11: expected a value`},
		{"env in (a,", `col 11: expected a value`},
		{"env in prod", `col 8: expected "(" after "in"`},
		{"env notin", `col 10: expected "(" after "notin"`},
		// Operators.
		{"role~web", `col 5: unknown operator "~"`},
		{"role=~web", `col 5: unknown operator "=~"`},
		{"role===web", `col 5: unknown operator "==="`},
		{"role=!web", `col 5: unknown operator "=!"`},
		{"role!web", `col 5: unknown operator "!"`},
		{"cpu>=2", `col 4: unknown operator ">="`},
		{"cpu <= 2", `col 5: unknown operator "<="`},
		{"role web", `col 6: unknown operator "web"`},
		{"env IN (a)", `col 5: unknown operator "IN"`},
		{"role:web", `col 5: unexpected ":" after key "role"`},
		{"role(web)", `col 5: unexpected "(" after key "role"`},
		{`role"web"`, `col 5: unexpected "\"" after key "role"`},
		{"!role=web", `col 6: expected "," or end of selector`},
		// Numbers.
		{"cpu>", `col 5: expected a number after ">"`},
		{"cpu<two", `col 5: expected a number after "<"`},
		{"cpu>1e3", `col 5: expected a number after ">"`},
		{"cpu>0x10", `col 5: expected a number after ">"`},
		{`cpu>"2"`, `col 5: expected a number after ">"`},
		{"cpu>.", `col 5: expected a number after ">"`},
		{"cpu>" + strings.Repeat("9", 400), `col 5: number "` + strings.Repeat("9", 400) + `" is out of range`},
		{"cpu>2 3", `col 7: expected "," or end of selector`},
		// Keys.
		{"=web", `col 1: expected a key`},
		{",role=web", `col 1: expected a key`},
		{"role=web,,env", `col 10: expected a key`},
		{"role=web, ,env", `col 11: expected a key`},
		{"!", `col 2: expected a key after "!"`},
		{"!!role", `col 2: expected a key after "!"`},
		{"*,role=web", `col 1: "*" must be the whole selector`},
		{"role=web,*", `col 10: "*" must be the whole selector`},
		{"labels.=web", `col 8: expected a name after "labels."`},
		{"!facts.", `col 8: expected a name after "facts."`},
		{"été=1", `col 1: expected a key`},
		// Trailing comma.
		{"role=web,", `col 9: trailing comma`},
		{"role=web , ", `col 10: trailing comma`},
		{"env in (a),", `col 11: trailing comma`},
		// Values and quotes.
		{`owner="Jane`, `col 7: unterminated quoted value`},
		{`owner="Jane\"`, `col 7: unterminated quoted value`},
		{`owner="Jane\`, `col 7: unterminated quoted value`},
		{`env in ("a,b)`, `col 9: unterminated quoted value`},
		{`q="été`, `col 3: unterminated quoted value`},
		{`q="été\n"`, `col 7: unknown escape "\n" in quoted value (only \" and \\ are escapes)`},
		{`role=web"`, `col 9: "\"" is not allowed in an unquoted value (quote the value with "...")`},
		{`role=we$b`, `col 8: "$" is not allowed in an unquoted value (quote the value with "...")`},
		{`role=$`, `col 6: "$" is not allowed in an unquoted value (quote the value with "...")`},
		{`role=é`, `col 6: "é" is not allowed in an unquoted value (quote the value with "...")`},
		{`env in (a*)`, `col 10: "*" is not allowed in an unquoted value (quote the value with "...")`},
		{`role=(a,b)`, `col 6: "(" is not allowed in an unquoted value (quote the value with "...")`},
		{`role="a"b`, `col 9: expected "," or end of selector`},
		{`role=a b`, `col 8: expected "," or end of selector`},
		{`role=a)`, `col 7: expected "," or end of selector`},
		{`env in (a) b`, `col 12: expected "," or end of selector`},
		{`é=1`, `col 1: expected a key`},
		{`x="é",y~1`, `col 8: unknown operator "~"`},
	} {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Parse(tt.in)
			if e := errString(err); e != tt.want {
				t.Fatalf("Parse(%q) error = %q, want %q", tt.in, e, tt.want)
			}
			if got != nil {
				t.Errorf("Parse(%q) = %v along with an error", tt.in, got)
			}
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Errorf("Parse(%q) error is %T, want *SyntaxError", tt.in, err)
			}
		})
	}
}
