package policy

import (
	"fmt"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/phenixhq/phenix/internal/bundle"
	"github.com/phenixhq/phenix/internal/promise"
)

var (
	policyKeys = []string{"bundles", "vars", "hosts", "interval"}
	ruleKeys   = []string{"select", "apply"}
	layerKeys  = []string{"select", "vars"}
	hostKeys   = []string{"vars"}
)

// policyFile reads policy.yml.
func (l *loader) policyFile() {
	const name = "policy.yml"
	if l.t.files[name] == nil {
		if l.t.files["policy.yaml"] != nil {
			l.problem("policy.yaml", "rename this file policy.yml")
		} else {
			l.problem(name, "missing: a policy is a directory with a policy.yml at its root")
		}
		return
	}
	f := l.file(name)
	root := f.root()
	if root == nil || isNull(root) {
		return // an empty policy: no bundles, only ops perhaps
	}
	for _, kv := range f.fields(root, "policy key", policyKeys) {
		switch kv.key.Value {
		case "bundles":
			l.rules(f, kv.val)
		case "vars":
			l.layers(f, kv.val)
		case "hosts":
			l.hosts(f, kv.val)
		case "interval":
			l.interval(f, kv.val)
		}
	}
}

// list returns the items of the list n, recording n not being one.
func (f *yamlFile) list(field, example string, n *yaml.Node) []*yaml.Node {
	n = deref(n)
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		f.errorf(n, "%s: expected a list of rules such as %s, got %s", field, example, bundle.Describe(n))
		return nil
	}
	out := make([]*yaml.Node, len(n.Content))
	for i, c := range n.Content {
		out[i] = deref(c)
	}
	return out
}

func (l *loader) rules(f *yamlFile, n *yaml.Node) {
	for _, item := range f.list("bundles", `{select: "role=web", apply: [web]}`, n) {
		var r rule
		ok, hasSel, hasApply := true, false, false
		for _, kv := range f.fields(item, "rule key", ruleKeys) {
			switch kv.key.Value {
			case "select":
				sel, good := f.selector("select", kv.val)
				r.sel, ok, hasSel = sel, ok && good, true
			case "apply":
				hasApply = true
				names, good := f.strList("apply", kv.val)
				ok = ok && good && len(names) > 0
				if good && len(names) == 0 {
					f.errorf(kv.val, "apply: expected a list of bundle names, got an empty list")
				}
				for _, nn := range names {
					if !l.bundleRef(f, nn) {
						ok = false
					}
					r.apply = append(r.apply, nn.Value)
				}
			}
		}
		if item.Kind == yaml.MappingNode {
			if !hasSel {
				ok = false
				if !misspelt(item, ruleKeys, "select") {
					f.errorf(item, `rule without select: expected a selector such as role=web, or "*" for every host`)
				}
			}
			if !hasApply {
				ok = false
				if !misspelt(item, ruleKeys, "apply") {
					f.errorf(item, "rule without apply: expected the bundles it applies, such as apply: [web]")
				}
			}
		}
		if ok && item.Kind == yaml.MappingNode {
			l.p.rules = append(l.p.rules, r)
		}
	}
}

// bundleRef checks that the bundle named by scalar n exists.
func (l *loader) bundleRef(f *yamlFile, n *yaml.Node) bool {
	name := n.Value
	if !bundleName.MatchString(name) {
		f.errorf(n, "bad bundle name %q: expected the name of a directory under bundles/ (letters, digits, ., _ and -)", name)
		return false
	}
	dir := "bundles/" + name
	switch {
	case !l.t.dirs[dir]:
		f.errorf(n, "no bundle %s: expected a directory bundles/%s/ with its promise files%s", name, name, didYouMean(name, l.t.children("bundles", true)))
		return false
	case len(l.t.promiseFiles(dir)) == 0:
		f.errorf(n, "bundle %s has no promise file: expected bundles/%s/*.yml", name, name)
		return false
	}
	return true
}

func (l *loader) layers(f *yamlFile, n *yaml.Node) {
	for _, item := range f.list("vars", `{select: "env=prod", vars: {port: 80}}`, n) {
		var v varLayer
		ok, hasSel, hasVars := true, false, false
		for _, kv := range f.fields(item, "vars rule key", layerKeys) {
			switch kv.key.Value {
			case "select":
				sel, good := f.selector("select", kv.val)
				v.sel, ok, hasSel = sel, ok && good, true
			case "vars":
				vars, good := f.vars("vars", kv.val)
				v.vars, ok, hasVars = vars, ok && good, true
			}
		}
		if item.Kind != yaml.MappingNode {
			continue
		}
		if !hasSel {
			ok = false
			if !misspelt(item, layerKeys, "select") {
				f.errorf(item, `vars rule without select: expected a selector such as env=prod, or "*" for every host`)
			}
		}
		if !hasVars {
			ok = false
			if !misspelt(item, layerKeys, "vars") {
				f.errorf(item, "vars rule without vars: expected a mapping such as vars: {port: 80}")
			}
		}
		if ok {
			l.p.vars = append(l.p.vars, v)
		}
	}
}

// misspelt reports whether mapping n has an unknown key that fields
// suggested replacing with key: its absence is then already reported.
func misspelt(n *yaml.Node, known []string, key string) bool {
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i].Value
		if !contains(known, k) && promise.Suggest(k, known) == key {
			return true
		}
	}
	return false
}

func (l *loader) hosts(f *yamlFile, n *yaml.Node) {
	if isNull(n) {
		return
	}
	for _, kv := range f.entries(n, "hosts") {
		id := kv.key.Value
		if id == "" {
			f.errorf(kv.key, "hosts: expected a host id, got an empty one")
			continue
		}
		if isNull(kv.val) {
			continue
		}
		for _, hv := range f.fields(kv.val, "host key", hostKeys) {
			if vars, ok := f.vars("vars", hv.val); ok {
				l.p.hosts[id] = vars
			}
		}
	}
}

func (l *loader) interval(f *yamlFile, n *yaml.Node) {
	s, ok := f.str("interval", n)
	if !ok {
		return
	}
	d, err := time.ParseDuration(s)
	switch {
	case err != nil:
		f.errorf(n, "interval: expected a duration such as 5m or 30s, got %q", s)
	case d < MinInterval:
		f.errorf(n, "interval: %v is too short: expected at least %v", d, MinInterval)
	default:
		l.p.Interval = d
	}
}

// duration reads a positive duration.
func (f *yamlFile) duration(field string, n *yaml.Node) (time.Duration, bool) {
	s, ok := f.str(field, n)
	if !ok {
		return 0, false
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		f.errorf(n, "%s: expected a positive duration such as 60s or 5m, got %s", field, fmt.Sprintf("%q", s))
		return 0, false
	}
	return d, true
}
