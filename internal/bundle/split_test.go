package bundle

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// sameTree reports where two node trees differ, or "".
func sameTree(a, b *yaml.Node, path string) string {
	switch {
	case a == nil && b == nil:
		return ""
	case a == nil || b == nil:
		return path + ": one side is nil"
	case a.Kind != b.Kind || a.Style != b.Style || a.Tag != b.Tag || a.Value != b.Value || a.Anchor != b.Anchor:
		return fmt.Sprintf("%s: %v %q %q != %v %q %q", path, a.Kind, a.Tag, a.Value, b.Kind, b.Tag, b.Value)
	case a.Line != b.Line || a.Column != b.Column:
		return fmt.Sprintf("%s (%q): position %d:%d != %d:%d", path, a.Value, a.Line, a.Column, b.Line, b.Column)
	case len(a.Content) != len(b.Content):
		return fmt.Sprintf("%s: %d children != %d", path, len(a.Content), len(b.Content))
	}
	if a.Kind == yaml.AliasNode {
		if a.Alias.Line != b.Alias.Line || a.Alias.Column != b.Alias.Column {
			return path + ": alias to another node"
		}
	}
	for i := range a.Content {
		if d := sameTree(a.Content[i], b.Content[i], fmt.Sprintf("%s/%d", path, i)); d != "" {
			return d
		}
	}
	return ""
}

func checkSplit(t *testing.T, src []byte, parts int) (split bool) {
	t.Helper()
	got, ok := parseSplit(src, parts, 1)
	if !ok {
		return false
	}
	var want yaml.Node
	if err := yaml.Unmarshal(src, &want); err != nil {
		t.Fatalf("pieces parsed but the whole does not: %v\n%s", err, src)
	}
	if d := sameTree(&want, got, ""); d != "" {
		t.Fatalf("split parse differs from the whole parse at %s\n%s", d, src)
	}
	return true
}

func TestSplitParseMatchesWholeParse(t *testing.T) {
	var b strings.Builder
	b.WriteString("# a large bundle\nvars:\n  port: 8080\n\npromises:\n")
	for i := range 600 {
		fmt.Fprintf(&b, "  - file: /srv/f%04d\n    content: |\n      line one\n      - not an item\n    mode: \"0644\"\n", i)
		if i%50 == 0 {
			b.WriteString("  # a comment between items\n\n")
		}
	}
	src := []byte(b.String())
	for _, parts := range []int{2, 3, 4} {
		if !checkSplit(t, src, parts) {
			t.Errorf("a block-style bundle of 600 items was not split in %d", parts)
		}
	}
	// Shapes that must fall back to one parse.
	for name, src := range map[string]string{
		"key after promises": "promises:\n  - file: /a\n  - file: /b\nvars: {}\n",
		"flow list":          "promises: [{file: /a}, {file: /b}]\n",
		"alias across":       "promises:\n  - &x {file: /a}\n  - *x\n",
		"cut scalar":         "promises:\n  - file: \"/a\n  - b\"\n  - file: /c\n",
		"two documents":      "promises:\n  - file: /a\n---\npromises:\n  - file: /b\n",
	} {
		if checkSplit(t, []byte(src), 2) && name != "cut scalar" {
			t.Errorf("%s: was split", name)
		}
	}
	// Items at column 0 and a final item without a newline.
	if !checkSplit(t, []byte("promises:\n- file: /a\n  content: x\n- file: /b\n- file: /c"), 2) {
		t.Error("column-0 items were not split")
	}
}

func FuzzSplitParse(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/errors/*.yaml")
	for _, s := range seeds {
		b, _ := os.ReadFile(s)
		f.Add(b)
	}
	f.Add([]byte("vars: {a: 1}\npromises:\n  - file: /a\n    content: |\n      x\n  - file: /b\n  - &y {file: /c}\n  - *y\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		for _, parts := range []int{2, 3} {
			checkSplit(t, src, parts)
		}
	})
}
