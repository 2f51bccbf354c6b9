package host

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"
)

var (
	labelKey   = regexp.MustCompile(`^[a-z0-9][a-z0-9._/-]{0,62}$`)
	labelValue = regexp.MustCompile(`^[A-Za-z0-9._:/@+-]{0,63}$`)
)

// ValidateLabels checks every key and value of labels (see the package
// documentation) and reports the first bad one in key order.
func ValidateLabels(labels map[string]string) error {
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		if err := validateLabel(k, labels[k]); err != nil {
			return err
		}
	}
	return nil
}

func validateLabel(k, v string) error {
	switch {
	case k == "":
		return fmt.Errorf("label key is empty")
	case len(k) > 63:
		return fmt.Errorf("label key %q is %d characters long, want at most 63", k, len(k))
	case !labelKey.MatchString(k):
		return fmt.Errorf("label key %q: want a lower-case letter or digit, then letters, digits or . _ / -", k)
	case len(v) > 63:
		return fmt.Errorf("label %s: value is %d characters long, want at most 63", k, len(v))
	case !labelValue.MatchString(v):
		return fmt.Errorf("label %s: value %q: want letters, digits or . _ : / @ + -", k, v)
	}
	return nil
}

// ParseLabels reads comma-separated key=value pairs, such as
// "role=web,env=prod", with optional spaces around each pair. The empty
// string (or only spaces) gives a nil map. An error starts with the 1-based
// column, in characters, of the bad pair: "col 10: …".
func ParseLabels(s string) (map[string]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	out := map[string]string{}
	col := 1
	for pair := range strings.SplitSeq(s, ",") {
		trimmed := strings.TrimLeft(pair, " \t")
		at := col + utf8.RuneCountInString(pair) - utf8.RuneCountInString(trimmed)
		col += utf8.RuneCountInString(pair) + 1
		trimmed = strings.TrimRight(trimmed, " \t")
		if trimmed == "" {
			return nil, fmt.Errorf("col %d: expected key=value, found nothing", at)
		}
		k, v, ok := strings.Cut(trimmed, "=")
		if !ok {
			return nil, fmt.Errorf("col %d: expected key=value, found %q", at, trimmed)
		}
		if err := validateLabel(k, v); err != nil {
			return nil, fmt.Errorf("col %d: %w", at, err)
		}
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("col %d: label %s given twice", at, k)
		}
		out[k] = v
	}
	return out, nil
}

// FormatLabels writes labels the way ParseLabels reads them, keys sorted:
// "env=prod,role=web".
func FormatLabels(labels map[string]string) string {
	keys := slices.Sorted(maps.Keys(labels))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + labels[k]
	}
	return strings.Join(parts, ",")
}
