package selector

import (
	"fmt"
	"strconv"
	"strings"
)

// FlattenFacts turns facts as gathered (package facts, Facts.Map, or facts
// decoded from JSON) into the flat strings a Host holds:
//
//   - strings are kept, booleans become "true" or "false", and numbers
//     their shortest decimal form ("2", "0.5");
//   - lists become their elements joined by "," with no space
//     ("10.0.0.5,fe80::1"), which selectors match element by element;
//   - nested maps become one fact per leaf, named parent.child;
//   - nil values are left out: the fact does not exist.
func FlattenFacts(facts map[string]any) map[string]string {
	out := make(map[string]string, len(facts))
	flatten(out, "", facts)
	return out
}

func flatten(out map[string]string, prefix string, m map[string]any) {
	for k, v := range m {
		switch v := v.(type) {
		case nil:
		case map[string]any:
			flatten(out, prefix+k+".", v)
		case []any:
			elems := make([]string, 0, len(v))
			for _, e := range v {
				if e != nil {
					elems = append(elems, scalar(e))
				}
			}
			out[prefix+k] = strings.Join(elems, ",")
		case []string:
			out[prefix+k] = strings.Join(v, ",")
		default:
			out[prefix+k] = scalar(v)
		}
	}
}

func scalar(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case float64:
		return formatNumber(v)
	case float32:
		return formatNumber(float64(v))
	case bool:
		return strconv.FormatBool(v)
	}
	return fmt.Sprint(v)
}
