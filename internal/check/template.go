package check

import (
	"fmt"
	"regexp"
	"strings"
	"text/template"
	"text/template/parse"
)

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
	"replace": func(old, new, s string) string { return strings.ReplaceAll(s, old, new) },
}

// isTemplate reports whether s must be evaluated; other strings are used
// as they are.
func isTemplate(s string) bool { return strings.Contains(s, "{{") }

func parseTemplate(name, text string) (*template.Template, error) {
	t, err := template.New(name).Funcs(funcs).Option("missingkey=error").Parse(text)
	if err != nil {
		return nil, fmt.Errorf("bad template: %s", templatePrefix.ReplaceAllString(err.Error(), ""))
	}
	return t, nil
}

var (
	templatePrefix = regexp.MustCompile(`^template: [^:]*:\d+:(\d+:)? ?`)
	execPrefix     = regexp.MustCompile(`^template: [^:]*:\d+:\d+: executing "[^"]*" `)
)

// render evaluates text with data; name (the field) starts its errors.
func render(name, text string, data map[string]any) (string, error) {
	if !isTemplate(text) {
		return text, nil
	}
	t, err := parseTemplate(name, text)
	if err != nil {
		return "", fmt.Errorf("%s: %w", name, err)
	}
	var b strings.Builder
	if err := t.Execute(&b, data); err != nil {
		return "", fmt.Errorf("%s: %s", name, execPrefix.ReplaceAllString(err.Error(), ""))
	}
	return b.String(), nil
}

// templateData is what templates see: .host, .vars and .captures.
func templateData(v Vars, captures map[string]any) map[string]any {
	vars := v.Vars
	if vars == nil {
		vars = map[string]any{}
	}
	if captures == nil {
		captures = map[string]any{}
	}
	return map[string]any{
		"host":     map[string]any{"id": v.Host.ID, "address": v.Host.Address},
		"vars":     vars,
		"captures": captures,
	}
}

var (
	rootFields = []string{"host", "vars", "captures"}
	hostFields = []string{"id", "address"}
)

// checkFields reports the first field of t that cannot exist at run time:
// a root other than .host, .vars and .captures, a .host field other than
// id and address, and a capture that no earlier step makes (captured
// holds those; nil outside scenarios).
func checkFields(t *template.Template, captured []string, inScenario bool) error {
	var err error
	visit := func(idents []string) {
		if err != nil || len(idents) == 0 {
			return
		}
		field := "." + strings.Join(idents, ".")
		switch idents[0] {
		case "vars":
		case "host":
			if len(idents) > 1 && !contains(hostFields, idents[1]) {
				err = unknownField(field, ".host."+idents[1], prefixed(".host.", hostFields))
			}
		case "captures":
			switch {
			case !inScenario:
				err = fmt.Errorf("%s: only scenario steps have captures", field)
			case len(idents) > 1 && !contains(captured, idents[1]):
				msg := fmt.Sprintf("%s is not captured by an earlier step", field)
				if s := suggest(idents[1], captured); s != "" {
					msg += fmt.Sprintf(" (did you mean .captures.%s?)", s)
				}
				err = fmt.Errorf("%s", msg)
			}
		default:
			err = unknownField(field, "."+idents[0], prefixed(".", rootFields))
		}
	}
	if t.Tree != nil {
		walk(t.Root, true, visit)
	}
	return err
}

func unknownField(field, bad string, known []string) error {
	if s := suggest(bad, known); s != "" {
		return fmt.Errorf("unknown field %s (did you mean %s?)", field, s)
	}
	return fmt.Errorf("unknown field %s: expected %s", field, strings.Join(known, ", "))
}

func prefixed(p string, ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = p + s
	}
	return out
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// walk calls visit with the identifiers of every field of the root data
// under n. Inside range and with, dot is something else: only $.x is.
func walk(n parse.Node, rootDot bool, visit func([]string)) {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return
		}
		for _, c := range n.Nodes {
			walk(c, rootDot, visit)
		}
	case *parse.ActionNode:
		walk(n.Pipe, rootDot, visit)
	case *parse.PipeNode:
		if n == nil {
			return
		}
		for _, c := range n.Cmds {
			walk(c, rootDot, visit)
		}
	case *parse.CommandNode:
		for _, a := range n.Args {
			walk(a, rootDot, visit)
		}
	case *parse.FieldNode:
		if rootDot {
			visit(n.Ident)
		}
	case *parse.VariableNode:
		if len(n.Ident) > 1 && n.Ident[0] == "$" {
			visit(n.Ident[1:])
		}
	case *parse.ChainNode:
		walk(n.Node, rootDot, visit)
	case *parse.IfNode:
		walk(n.Pipe, rootDot, visit)
		walk(n.List, rootDot, visit)
		walk(n.ElseList, rootDot, visit)
	case *parse.RangeNode:
		walk(n.Pipe, rootDot, visit)
		walk(n.List, false, visit)
		walk(n.ElseList, rootDot, visit)
	case *parse.WithNode:
		walk(n.Pipe, rootDot, visit)
		walk(n.List, false, visit)
		walk(n.ElseList, rootDot, visit)
	case *parse.TemplateNode:
		walk(n.Pipe, rootDot, visit)
	}
}
