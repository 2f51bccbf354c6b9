package engine

import (
	"fmt"
	"strings"

	"github.com/phenixhq/phenix/internal/bundle"
	"github.com/phenixhq/phenix/internal/promise"
)

// node is one promise in the plan and its edges.
type node struct {
	p         *promise.Promise
	idx       int
	deps      []*node // must finish before this one
	dependers []*node // wait for this one
	notifiers []*node // this one is notified when one of them changed
	serial    string  // lock key, "" for none
}

// refKey is a reference without its position, as a map key.
type refKey struct{ typ, subject string }

// Plan is an ordered, checked set of promises, ready to run.
type Plan struct {
	nodes []*node
}

// Len is the number of promises in the plan.
func (pl *Plan) Len() int { return len(pl.nodes) }

// NewPlan checks the relations of ps and orders them. It refuses unknown
// references, cycles and, when env applies under a root, promise types that
// cannot honour it. The error is a bundle.ErrorList with every problem.
func NewPlan(ps []*promise.Promise, env *promise.Env) (*Plan, error) {
	var errs bundle.ErrorList
	pl := &Plan{nodes: make([]*node, len(ps))}
	backing := make([]node, len(ps)) // one allocation for all nodes
	// byRef finds the node of a reference; the rare subjects shared by
	// several Keyed promises keep the others in more.
	byRef := make(map[refKey]*node, len(ps))
	more := map[refKey][]*node{}
	for i, p := range ps {
		n := &backing[i]
		n.p, n.idx = p, i
		if s, ok := p.Resource.(promise.Serializer); ok {
			n.serial = s.SerialKey()
		}
		pl.nodes[i] = n
		for _, s := range p.Subjects {
			k := refKey{p.Type, s}
			if _, dup := byRef[k]; dup {
				more[k] = append(more[k], n)
			} else {
				byRef[k] = n
			}
		}
		if t, _ := promise.Lookup(p.Type); env.Rooted() && !t.Rooted {
			errs = append(errs, &bundle.Error{Pos: p.Pos, Msg: fmt.Sprintf("%s promises cannot honour --root (they act on the running system): apply them without --root", p.Type)})
		}
	}
	// named returns the promises a reference names: one, or several Keyed
	// promises sharing a subject, in declaration order.
	named := func(r promise.Ref) []*node {
		k := refKey{r.Type, r.Subject}
		n, ok := byRef[k]
		if !ok {
			return nil
		}
		if extra := more[k]; extra != nil {
			return append([]*node{n}, extra...)
		}
		return []*node{n}
	}
	find := func(from *node, r promise.Ref) []*node {
		ns := named(r)
		if ns == nil {
			errs = append(errs, &bundle.Error{Pos: r.Pos, Msg: fmt.Sprintf("%s refers to %s, which is not declared", from.p.ID(), promise.Ref{Type: r.Type, Subject: r.Subject})})
		}
		return ns
	}
	edge := func(from, to *node) { // to depends on from
		if from == to {
			return
		}
		for _, d := range to.deps {
			if d == from {
				return
			}
		}
		to.deps = append(to.deps, from)
		from.dependers = append(from.dependers, to)
	}
	// Keyed promises that share a subject (several line edits of one file)
	// run in the order they were written.
	for k, extra := range more {
		prev := byRef[k]
		for _, n := range extra {
			edge(prev, n)
			prev = n
		}
	}
	for _, n := range pl.nodes {
		for _, r := range n.p.Require {
			for _, d := range find(n, r) {
				edge(d, n)
			}
		}
		for _, r := range n.p.Before {
			for _, d := range find(n, r) {
				edge(n, d)
			}
		}
		for _, r := range n.p.Notify {
			for _, d := range find(n, r) {
				edge(n, d)
				d.notifiers = append(d.notifiers, n)
			}
		}
		if a, ok := n.p.Resource.(promise.AutoRequirer); ok {
			for _, r := range a.AutoRequire() {
				if d, ok := byRef[refKey{r.Type, r.Subject}]; ok {
					edge(d, n)
					for _, d := range more[refKey{r.Type, r.Subject}] {
						edge(d, n)
					}
				}
			}
		}
	}
	if cyc := pl.cycle(); cyc != nil {
		parts := make([]string, len(cyc))
		for i, n := range cyc {
			parts[i] = n.p.ID()
		}
		errs = append(errs, &bundle.Error{Pos: cyc[0].p.Pos, Msg: "dependency cycle: " + strings.Join(parts, " → ")})
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	return pl, nil
}

// cycle returns one dependency cycle, first node repeated at the end, or
// nil when there is none.
func (pl *Plan) cycle() []*node {
	const (
		white = iota
		grey
		black
	)
	color := make([]int, len(pl.nodes))
	var stack []*node
	var found []*node
	var visit func(n *node) bool
	visit = func(n *node) bool {
		color[n.idx] = grey
		stack = append(stack, n)
		for _, m := range n.dependers {
			switch color[m.idx] {
			case grey:
				for i, s := range stack {
					if s == m {
						found = append(append([]*node{}, stack[i:]...), m)
						return true
					}
				}
			case white:
				if visit(m) {
					return true
				}
			}
		}
		stack = stack[:len(stack)-1]
		color[n.idx] = black
		return false
	}
	for _, n := range pl.nodes {
		if color[n.idx] == white && visit(n) {
			return found
		}
	}
	return nil
}
