package selector

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// fleet is a small set of hosts for match tests.
var fleet = []Host{
	{
		ID:     "web-1",
		Labels: map[string]string{"role": "web", "env": "prod"},
		Facts:  map[string]string{"os": "linux", "cpu_count": "4", "memory_mb": "8192", "addresses": "10.0.0.1,fe80::1"},
	},
	{
		ID:     "web-2",
		Labels: map[string]string{"role": "web", "env": "preprod", "os": "debian"},
		Facts:  map[string]string{"os": "linux", "cpu_count": "2", "memory_mb": "2048.5", "addresses": "10.0.0.2"},
	},
	{
		ID:     "db-1",
		Labels: map[string]string{"role": "db", "env": "prod", "gpu": "", "id": "label-id", "owner": "Jane Doe"},
		Facts:  map[string]string{"os": "linux", "cpu_count": "many", "id": "fact-id"},
	},
	{
		ID:     "win-1",
		Labels: map[string]string{"env": "dev"},
		Facts:  map[string]string{"os": "windows", "cpu_count": "-1"},
	},
	{ID: "bare"},
}

// matching returns the ids of the hosts of fleet that s matches.
func matching(t *testing.T, s string) []string {
	t.Helper()
	sel, err := Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{}
	for _, h := range fleet {
		if sel.Match(h) {
			ids = append(ids, h.ID)
		}
	}
	return ids
}

func TestMatch(t *testing.T) {
	all := []string{"web-1", "web-2", "db-1", "win-1", "bare"}
	for _, tt := range []struct {
		in   string
		want []string
	}{
		{"*", all},
		{"", all},
		// Every operator.
		{"role=web", []string{"web-1", "web-2"}},
		{"role==web", []string{"web-1", "web-2"}},
		{"role!=web", []string{"db-1", "win-1", "bare"}},
		{"env in (prod,preprod)", []string{"web-1", "web-2", "db-1"}},
		{"env notin (prod,preprod)", []string{"win-1", "bare"}},
		{"role", []string{"web-1", "web-2", "db-1"}},
		{"!role", []string{"win-1", "bare"}},
		{"cpu_count>2", []string{"web-1"}},
		{"cpu_count>-2", []string{"web-1", "web-2", "win-1"}},
		{"cpu_count<3", []string{"web-2", "win-1"}},
		{"memory_mb>2048", []string{"web-1", "web-2"}},
		{"memory_mb<2048.5", []string{}},
		{"memory_mb<2048.51", []string{"web-2"}},
		// AND.
		{"role=web,env in (prod,preprod),os!=windows", []string{"web-1", "web-2"}},
		{"role=web,env in (prod,preprod),os=linux", []string{"web-1"}},
		{"role=web,env=dev", []string{}},
		// An empty value exists.
		{"gpu", []string{"db-1"}},
		{`gpu=""`, []string{"db-1"}},
		{`gpu!=""`, []string{"web-1", "web-2", "win-1", "bare"}},
		// Labels shadow facts; prefixes force a source.
		{"os=linux", []string{"web-1", "db-1"}},
		{"os=debian", []string{"web-2"}},
		{"facts.os=linux", []string{"web-1", "web-2", "db-1"}},
		{"labels.os=linux", []string{}},
		{"labels.os", []string{"web-2"}},
		{"!facts.os", []string{"bare"}},
		{"labels.cpu_count", []string{}},
		{"facts.cpu_count>1", []string{"web-1", "web-2"}},
		// The id.
		{"id=web-1", []string{"web-1"}},
		{"id in (web-2,db-1,nope)", []string{"web-2", "db-1"}},
		{"id!=web-1", []string{"web-2", "db-1", "win-1", "bare"}},
		{"id", all},
		{"labels.id=label-id", []string{"db-1"}},
		{"facts.id=fact-id", []string{"db-1"}},
		{"id=label-id", []string{}},
		// A bare word is the exists operator, not an id.
		{"web-1", []string{}},
		// Unknown keys.
		{"nope=x", []string{}},
		{"nope in (x)", []string{}},
		{"nope>1", []string{}},
		{"nope<1", []string{}},
		{"nope", []string{}},
		{"nope!=x", all},
		{"nope notin (x)", all},
		{"!nope", all},
		// Lists match element by element.
		{"addresses=10.0.0.1", []string{"web-1"}},
		{"addresses=fe80::1", []string{"web-1"}},
		{`addresses="10.0.0.1,fe80::1"`, []string{"web-1"}},
		{"addresses=10.0.0", []string{}},
		{"addresses in (10.0.0.2,fe80::1)", []string{"web-1", "web-2"}},
		{"addresses!=10.0.0.1", []string{"web-2", "db-1", "win-1", "bare"}},
		{"addresses notin (fe80::1)", []string{"web-2", "db-1", "win-1", "bare"}},
		// Quoted values.
		{`owner="Jane Doe"`, []string{"db-1"}},
		{`owner in ("Jane Doe",x)`, []string{"db-1"}},
	} {
		t.Run(tt.in, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, matching(t, tt.in)); diff != "" {
				t.Errorf("hosts matching %q (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

// TestMatchNegations checks that !=, notin and !key pick exactly the
// hosts that =, in and key leave out.
func TestMatchNegations(t *testing.T) {
	for _, pair := range [][2]string{
		{"role=web", "role!=web"},
		{"env in (prod,dev)", "env notin (prod,dev)"},
		{"gpu", "!gpu"},
		{"addresses=10.0.0.1", "addresses!=10.0.0.1"},
		{"labels.os=debian", "labels.os!=debian"},
	} {
		yes, no := matching(t, pair[0]), matching(t, pair[1])
		for _, h := range fleet {
			if slices.Contains(yes, h.ID) == slices.Contains(no, h.ID) {
				t.Errorf("host %s: %q and %q agree", h.ID, pair[0], pair[1])
			}
		}
	}
}

func TestMatchNumbers(t *testing.T) {
	for _, tt := range []struct {
		value string
		gt1   bool
	}{
		{"2", true},
		{"+2", true},
		{"1.5", true},
		{"2.", true},
		{"1", false},
		{".5", false},
		{"-3", false},
		{"", false},
		{"2 ", false},
		{"2e3", false},
		{"0x10", false},
		{"Inf", false},
		{"NaN", false},
		{"1_000", false},
		{"2,3", false},
		{"1.0000001", true},
	} {
		h := Host{Facts: map[string]string{"n": tt.value}}
		if got := (Requirement{Key: "n", Op: Gt, Values: []string{"1"}}).Match(h); got != tt.gt1 {
			t.Errorf("n=%q: n>1 = %v, want %v", tt.value, got, tt.gt1)
		}
		if got := (Requirement{Key: "n", Op: Lt, Values: []string{"1e9"}}).Match(h); got {
			t.Errorf("n=%q: n<1e9 with a bound that is not a number matched", tt.value)
		}
	}
}

// TestMatchMalformed checks that requirements built by hand with the wrong
// number of values match nothing rather than panic.
func TestMatchMalformed(t *testing.T) {
	h := fleet[0]
	for _, r := range []Requirement{
		{Key: "role", Op: Eq},
		{Key: "role", Op: NotEq, Values: []string{"a", "b"}},
		{Key: "role", Op: In},
		{Key: "nope", Op: NotIn},
		{Key: "role", Op: Exists, Values: []string{"web"}},
		{Key: "nope", Op: NotExists, Values: []string{"web"}},
		{Key: "cpu_count", Op: Gt},
		{Key: "role", Op: "~"},
	} {
		if r.Match(h) {
			t.Errorf("%#v matched", r)
		}
	}
}
