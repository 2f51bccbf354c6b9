package selector

import "strings"

// Op is the operator of a Requirement. Its value is the operator as the
// canonical form writes it, except for Exists, which is written as the bare
// key.
type Op string

const (
	Eq        Op = "="      // key=v or key==v: the key is present and has value v
	NotEq     Op = "!="     // key!=v: the key is absent, or its value is not v
	In        Op = "in"     // key in (a,b): the key is present with one of the values
	NotIn     Op = "notin"  // key notin (a,b): the key is absent or has none of the values
	Exists    Op = "exists" // key: the key is present, whatever its value
	NotExists Op = "!"      // !key: the key is absent
	Gt        Op = ">"      // key>N: the value is a number greater than N
	Lt        Op = "<"      // key<N: the value is a number less than N
)

// Requirement is one condition of a Selector.
type Requirement struct {
	// Key is the key as written: "role", "labels.role", "facts.os" or "id".
	Key string
	Op  Op
	// Values holds one value for Eq, NotEq, Gt and Lt (a number for the
	// last two), one or more sorted distinct values for In and NotIn, and
	// none for Exists and NotExists. A Requirement built by hand that
	// breaks this never matches.
	Values []string
}

// Selector picks hosts: a host matches when it meets every Requirement.
// The empty Selector matches every host. Parse returns requirements sorted
// and without duplicates, so that equal selectors compare equal.
type Selector []Requirement

// Host is what a Selector looks at: a host's id, labels and facts. Facts
// are flat strings; FlattenFacts turns gathered facts into them. A nil map
// holds nothing.
type Host struct {
	ID     string
	Labels map[string]string
	Facts  map[string]string
}

// Match reports whether h meets every requirement of s.
func (s Selector) Match(h Host) bool {
	for i := range s {
		if !s[i].Match(h) {
			return false
		}
	}
	return true
}

// Match reports whether h meets r.
func (r Requirement) Match(h Host) bool {
	v, ok := h.lookup(r.Key)
	switch r.Op {
	case Exists:
		return ok && len(r.Values) == 0
	case NotExists:
		return !ok && len(r.Values) == 0
	case In, NotIn:
		if len(r.Values) == 0 {
			return false
		}
		has := false
		if ok {
			for _, want := range r.Values {
				if hasValue(v, want) {
					has = true
					break
				}
			}
		}
		return has == (r.Op == In)
	}
	if len(r.Values) != 1 {
		return false
	}
	switch r.Op {
	case Eq:
		return ok && hasValue(v, r.Values[0])
	case NotEq:
		return !ok || !hasValue(v, r.Values[0])
	case Gt, Lt:
		if !ok {
			return false
		}
		n, isNum := number(v)
		bound, boundOK := number(r.Values[0])
		if !isNum || !boundOK {
			return false
		}
		if r.Op == Gt {
			return n > bound
		}
		return n < bound
	}
	return false
}

// lookup finds the value key stands for on h: the id, a label or a fact.
func (h Host) lookup(key string) (string, bool) {
	if key == "id" {
		return h.ID, h.ID != ""
	}
	if name, ok := strings.CutPrefix(key, "labels."); ok {
		v, ok := h.Labels[name]
		return v, ok
	}
	if name, ok := strings.CutPrefix(key, "facts."); ok {
		v, ok := h.Facts[name]
		return v, ok
	}
	if v, ok := h.Labels[key]; ok {
		return v, true
	}
	v, ok := h.Facts[key]
	return v, ok
}

// hasValue reports whether have is want, or is a comma-separated list with
// an element that is want.
func hasValue(have, want string) bool {
	if have == want {
		return true
	}
	if !strings.Contains(have, ",") {
		return false
	}
	for elem := range strings.SplitSeq(have, ",") {
		if elem == want {
			return true
		}
	}
	return false
}
