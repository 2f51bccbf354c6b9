package selector

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// roundTripCases are selectors with their canonical form; fuzz_test seeds
// its corpus with them too.
var roundTripCases = []struct{ in, want string }{
	{"", "*"},
	{" * ", "*"},
	{"role=web", "role=web"},
	{"role == web", "role=web"},
	{"role!=web", "role!=web"},
	{"env in ( prod , preprod,prod )", "env in (preprod,prod)"},
	{"env notin(dev)", "env notin (dev)"},
	{"gpu", "gpu"},
	{"! gpu", "!gpu"},
	{"cpu_count > 2.50", "cpu_count>2.5"},
	{"t<-0", "t<-0"},
	{"t<+.5", "t<0.5"},
	{"t>" + "123456789012345678901234567890", "t>123456789012345680000000000000"},
	{"v=+1.0", "v=+1.0"},
	{"os != windows , env in (prod, preprod,prod),role==web", "env in (preprod,prod),os!=windows,role=web"},
	{"labels.role=web,facts.os=linux,id=web-1", "facts.os=linux,id=web-1,labels.role=web"},
	{`owner="Jane Doe"`, `owner="Jane Doe"`},
	{`role="web"`, `role=web`},
	{`motd=""`, `motd=""`},
	{`q="a\"b\\c"`, `q="a\"b\\c"`},
	{`q="été"`, `q="été"`},
	{`env in ("",b,"a b")`, `env in ("","a b",b)`},
	{`listen=:8080,mail=ops@example.com,v=1.2+b/c_d`, `listen=:8080,mail=ops@example.com,v=1.2+b/c_d`},
	{"in in (in),notin", "in in (in),notin"},
	{"b,a,b,!a", "!a,a,b"},
}

func TestString(t *testing.T) {
	for _, tt := range roundTripCases {
		t.Run(tt.in, func(t *testing.T) {
			s, err := Parse(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			got := s.String()
			if got != tt.want {
				t.Errorf("Parse(%q).String() = %q, want %q", tt.in, got, tt.want)
			}
			again, err := Parse(got)
			if err != nil {
				t.Fatalf("Parse(%q) (the canonical form) error = %v", got, err)
			}
			if diff := cmp.Diff(s, again); diff != "" {
				t.Errorf("Parse(%q) differs from Parse(%q) (-want +got):\n%s", got, tt.in, diff)
			}
		})
	}
}

func TestRequirementString(t *testing.T) {
	for _, tt := range []struct {
		r    Requirement
		want string
	}{
		{Requirement{Key: "a", Op: Eq, Values: []string{"b"}}, "a=b"},
		{Requirement{Key: "a", Op: NotEq, Values: []string{"b c"}}, `a!="b c"`},
		{Requirement{Key: "a", Op: In, Values: []string{"x", "y"}}, "a in (x,y)"},
		{Requirement{Key: "a", Op: NotIn, Values: []string{"x"}}, "a notin (x)"},
		{Requirement{Key: "a", Op: Exists}, "a"},
		{Requirement{Key: "a", Op: NotExists}, "!a"},
		{Requirement{Key: "a", Op: Gt, Values: []string{"1"}}, "a>1"},
		{Requirement{Key: "a", Op: Lt, Values: []string{"-1"}}, "a<-1"},
	} {
		if got := tt.r.String(); got != tt.want {
			t.Errorf("%#v.String() = %q, want %q", tt.r, got, tt.want)
		}
	}
}

func TestJSON(t *testing.T) {
	type policy struct {
		Hosts  Selector `json:"hosts"`
		Bundle string   `json:"bundle"`
	}
	in := `{"hosts":"role == web, env in (prod,preprod)","bundle":"web.yaml"}`
	var p policy
	if err := json.Unmarshal([]byte(in), &p); err != nil {
		t.Fatal(err)
	}
	want := Selector{
		{Key: "env", Op: In, Values: []string{"preprod", "prod"}},
		{Key: "role", Op: Eq, Values: []string{"web"}},
	}
	if diff := cmp.Diff(want, p.Hosts); diff != "" {
		t.Errorf("decoded selector (-want +got):\n%s", diff)
	}
	out, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(out), `{"hosts":"env in (preprod,prod),role=web","bundle":"web.yaml"}`; got != want {
		t.Errorf("json.Marshal = %s, want %s", got, want)
	}
	err = json.Unmarshal([]byte(`{"hosts":"role=="}`), &p)
	if got, want := errString(err), `col 7: expected a value after "=="`; got != want {
		t.Errorf("json.Unmarshal error = %q, want %q", got, want)
	}
}
