package bundle

import (
	"bytes"
	"fmt"
	"maps"
	"regexp"
	"strings"
	"sync"
	"text/template"

	"go.yaml.in/yaml/v3"
)

// templater evaluates Go templates with a bundle's vars and the facts. It
// is safe for concurrent use.
type templater struct {
	vars  map[string]any
	facts func() map[string]any // gathers once, on first use
	once  sync.Once
	data  map[string]any
}

func newTemplater(vars map[string]any, facts func() map[string]any) *templater {
	return &templater{vars: vars, facts: facts}
}

// dataFor returns the template data; the facts are gathered only for a
// template that mentions them.
func (t *templater) dataFor(text string) map[string]any {
	if !strings.Contains(text, "facts") {
		return map[string]any{"vars": t.vars, "facts": map[string]any{}}
	}
	t.once.Do(func() { t.data = map[string]any{"vars": t.vars, "facts": t.facts()} })
	return t.data
}

// funcs are the functions templates may call besides the built-in ones.
var funcs = template.FuncMap{
	"default": func(def, v any) any {
		if v == nil || v == "" {
			return def
		}
		return v
	},
	"upper":   strings.ToUpper,
	"lower":   strings.ToLower,
	"trim":    strings.TrimSpace,
	"join":    func(sep string, v []any) string { return joinAny(sep, v) },
	"quote":   func(v any) string { return fmt.Sprintf("%q", fmt.Sprint(v)) },
	"replace": func(old, new, s string) string { return strings.ReplaceAll(s, old, new) },
	"indent": func(n int, s string) string {
		pad := strings.Repeat(" ", n)
		return pad + strings.ReplaceAll(s, "\n", "\n"+pad)
	},
}

// TemplateFuncs returns a copy of the functions bundle templates may call
// besides the built-in ones, so that other templates (the config files and
// hooks of apps) offer the same.
func TemplateFuncs() template.FuncMap {
	return maps.Clone(funcs)
}

func joinAny(sep string, v []any) string {
	parts := make([]string, len(v))
	for i, x := range v {
		parts[i] = fmt.Sprint(x)
	}
	return strings.Join(parts, sep)
}

// render executes text as a template; name is used in errors.
func (t *templater) render(name, text string) (string, error) {
	tp, err := template.New(name).Funcs(funcs).Option("missingkey=error").Parse(text)
	if err != nil {
		return "", cleanTemplateError(name, err)
	}
	var b bytes.Buffer
	if err := tp.Execute(&b, t.dataFor(text)); err != nil {
		return "", cleanTemplateError(name, err)
	}
	return b.String(), nil
}

// cleanTemplateError drops text/template's "template: NAME:" prefix and its
// "executing" phrase for inline values, whose position the caller gives.
func cleanTemplateError(name string, err error) error {
	msg := strings.TrimPrefix(err.Error(), "template: ")
	if name == "value" {
		msg = inlinePrefix.ReplaceAllString(msg, "")
	} else {
		msg = strings.Replace(msg, fmt.Sprintf("executing %q ", name), "", 1)
	}
	return fmt.Errorf("%s", msg)
}

var inlinePrefix = regexp.MustCompile(`^value:\d+(:\d+)?: (executing "value" )?`)

// expand evaluates, in place, every scalar under n that holds "{{". It
// reports each failure through fail and returns false if any failed.
func (t *templater) expand(n *yaml.Node, fail func(error)) bool {
	ok := true
	switch n.Kind {
	case yaml.ScalarNode:
		if strings.Contains(n.Value, "{{") {
			v, err := t.render("value", n.Value)
			if err != nil {
				fail(err)
				return false
			}
			n.Value = v
			if n.Tag != "!!str" {
				n.Tag = "" // let the decoder read "8080" as a number again
			}
		}
	case yaml.SequenceNode, yaml.MappingNode:
		for i, c := range n.Content {
			if n.Kind == yaml.MappingNode && i%2 == 0 {
				continue
			}
			ok = t.expand(c, fail) && ok
		}
	}
	return ok
}
