package promise

import "strings"

// Promise is one promise as declared in a bundle: its resource, its
// relations to other promises and where it was written.
type Promise struct {
	Type     string
	Subjects []string // one, or several for multi-subject types
	Resource Resource
	Require  []Ref
	Before   []Ref
	Notify   []Ref
	Comment  string
	Pos      Pos // position of the type key
}

// ID is the promise's reference, "type:subject"; a promise with several
// subjects joins them with commas ("package:curl,nginx"), and a Keyed
// promise adds its key in brackets ("line:/etc/hosts[127.0.0.1 db]").
func (p *Promise) ID() string {
	id := p.Type + ":" + strings.Join(p.Subjects, ",")
	if k, ok := p.Resource.(Keyed); ok {
		id += "[" + k.Key() + "]"
	}
	return id
}

// Refs lists every reference that names this promise: one per subject.
func (p *Promise) Refs() []Ref {
	out := make([]Ref, len(p.Subjects))
	for i, s := range p.Subjects {
		out[i] = Ref{Type: p.Type, Subject: s}
	}
	return out
}
