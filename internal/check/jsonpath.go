package check

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// pathElem is one step of a JSON path: a key, or an index when key is "".
type pathElem struct {
	key   string
	index int
}

// parsePath reads a JSON path such as user.id, items[0].name or [2]; a
// leading "$" or "." is allowed, as in "$.user.id" and ".user.id".
func parsePath(p string) ([]pathElem, error) {
	s := strings.TrimPrefix(p, "$")
	if s == "" {
		return nil, fmt.Errorf("empty JSON path: expected a path such as user.id or items[0].name")
	}
	bad := func(why string) error { return fmt.Errorf("bad JSON path %q: %s", p, why) }
	var out []pathElem
	for i := 0; i < len(s); {
		switch {
		case s[i] == '[':
			j := strings.IndexByte(s[i:], ']')
			if j < 0 {
				return nil, bad("missing ]")
			}
			n, err := strconv.Atoi(s[i+1 : i+j])
			if err != nil || n < 0 {
				return nil, bad(fmt.Sprintf("expected an index such as [0], got [%s]", s[i+1:i+j]))
			}
			out = append(out, pathElem{index: n})
			i += j + 1
		case s[i] == '.' || i == 0:
			if s[i] == '.' {
				i++
			}
			j := i
			for j < len(s) && s[j] != '.' && s[j] != '[' {
				j++
			}
			key := s[i:j]
			if key == "" {
				return nil, bad("empty key")
			}
			if strings.ContainsRune(key, ']') {
				return nil, bad(fmt.Sprintf("unexpected ] in %q", key))
			}
			out = append(out, pathElem{key: key})
			i = j
		default:
			return nil, bad(fmt.Sprintf("expected . or [ before %q", s[i:]))
		}
	}
	return out, nil
}

var errNull = errors.New("is null")

// lookupJSON returns the value at path in body as text: a string as it
// is, a number as written, anything else as JSON.
func lookupJSON(body []byte, path string) (string, error) {
	elems, err := parsePath(path)
	if err != nil {
		return "", err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return "", fmt.Errorf("body is not JSON: %v", err)
	}
	at := "$"
	for _, e := range elems {
		if e.key != "" {
			m, ok := v.(map[string]any)
			if !ok {
				return "", fmt.Errorf("no field %s: %s is %s, not an object", path, at, jsonKind(v))
			}
			if v, ok = m[e.key]; !ok {
				return "", fmt.Errorf("no field %s in the JSON body", path)
			}
			at += "." + e.key
			continue
		}
		a, ok := v.([]any)
		if !ok {
			return "", fmt.Errorf("no field %s: %s is %s, not an array", path, at, jsonKind(v))
		}
		if e.index >= len(a) {
			return "", fmt.Errorf("no field %s: %s has %d items", path, at, len(a))
		}
		v = a[e.index]
		at += "[" + strconv.Itoa(e.index) + "]"
	}
	switch v := v.(type) {
	case nil:
		return "", fmt.Errorf("field %s %w", path, errNull)
	case string:
		return v, nil
	case json.Number:
		return v.String(), nil
	}
	b, _ := json.Marshal(v)
	return string(b), nil
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	}
	return "a value"
}
