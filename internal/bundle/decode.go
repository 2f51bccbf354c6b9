package bundle

import (
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"

	"github.com/phenixhq/phenix/internal/promise"
)

// fieldIndex maps the YAML keys of a promise struct to its fields.
type fieldIndex struct {
	byKey map[string]int
	keys  []string
}

var fieldIndexes sync.Map // reflect.Type → *fieldIndex

func indexOf(t reflect.Type) *fieldIndex {
	if v, ok := fieldIndexes.Load(t); ok {
		return v.(*fieldIndex)
	}
	idx := &fieldIndex{byKey: map[string]int{}}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if tag == "" || tag == "-" || !f.IsExported() {
			continue
		}
		idx.byKey[tag] = i
		idx.keys = append(idx.keys, tag)
	}
	v, _ := fieldIndexes.LoadOrStore(t, idx)
	return v.(*fieldIndex)
}

var unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()

// decodeValue decodes n into the value dst points to and returns an error
// message that speaks of YAML, not of Go types.
func decodeValue(n *yaml.Node, dst reflect.Value) error {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if dst.Addr().Type().Implements(unmarshalerType) {
		err := dst.Addr().Interface().(yaml.Unmarshaler).UnmarshalYAML(n)
		return cleanYAMLError(err)
	}
	switch dst.Kind() {
	case reflect.Pointer:
		v := reflect.New(dst.Type().Elem())
		if err := decodeValue(n, v.Elem()); err != nil {
			return err
		}
		dst.Set(v)
		return nil
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			return fmt.Errorf("expected a string, got %s", Describe(n))
		}
		dst.SetString(n.Value)
		return nil
	case reflect.Bool:
		if n.Kind != yaml.ScalarNode {
			return fmt.Errorf("expected true or false, got %s", Describe(n))
		}
		switch strings.ToLower(n.Value) {
		case "true", "yes", "on":
			dst.SetBool(true)
		case "false", "no", "off":
			dst.SetBool(false)
		default:
			return fmt.Errorf("expected true or false, got %q", n.Value)
		}
		return nil
	case reflect.Int, reflect.Int64, reflect.Int32:
		if n.Kind != yaml.ScalarNode {
			return fmt.Errorf("expected a number, got %s", Describe(n))
		}
		v, err := strconv.ParseInt(n.Value, 0, 64)
		if err != nil {
			return fmt.Errorf("expected a whole number, got %q", n.Value)
		}
		dst.SetInt(v)
		return nil
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return fmt.Errorf("expected a list, got %s", Describe(n))
		}
		s := reflect.MakeSlice(dst.Type(), len(n.Content), len(n.Content))
		for i, c := range n.Content {
			if err := decodeValue(c, s.Index(i)); err != nil {
				return fmt.Errorf("item %d: %w", i+1, err)
			}
		}
		dst.Set(s)
		return nil
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return fmt.Errorf("expected a mapping, got %s", Describe(n))
		}
		m := reflect.MakeMapWithSize(dst.Type(), len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := reflect.New(dst.Type().Key()).Elem()
			if err := decodeValue(n.Content[i], k); err != nil {
				return err
			}
			v := reflect.New(dst.Type().Elem()).Elem()
			if err := decodeValue(n.Content[i+1], v); err != nil {
				return fmt.Errorf("%s: %w", n.Content[i].Value, err)
			}
			m.SetMapIndex(k, v)
		}
		dst.Set(m)
		return nil
	}
	var v any
	if err := n.Decode(&v); err != nil {
		return cleanYAMLError(err)
	}
	rv := reflect.ValueOf(v)
	if !rv.IsValid() || !rv.Type().AssignableTo(dst.Type()) {
		return fmt.Errorf("unexpected %s", Describe(n))
	}
	dst.Set(rv)
	return nil
}

// Describe names what a YAML node holds, for messages such as "expected a
// list, got a mapping": "a list", "a mapping", "nothing (null)" or the
// quoted scalar. An alias is described by what it points to.
func Describe(n *yaml.Node) string {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "nothing (null)"
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "an unexpected value"
}

var yamlLinePrefix = regexp.MustCompile(`^(yaml: )?(unmarshal errors:\s*)?(line \d+: )?`)

func cleanYAMLError(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s", yamlLinePrefix.ReplaceAllString(strings.TrimSpace(err.Error()), ""))
}

func posOf(file string, n *yaml.Node) promise.Pos {
	return promise.Pos{File: file, Line: n.Line, Col: n.Column}
}
