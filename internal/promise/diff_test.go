package promise

import (
	"testing"

	"github.com/aymanbagabas/go-udiff"
)

// TestCreationDiffMatchesUdiff checks the direct creation diff against the
// general one, byte for byte.
func TestCreationDiffMatchesUdiff(t *testing.T) {
	for _, s := range []string{"x", "x\n", "a\nb", "a\nb\n", "\n", "a\n\nb\n", "\n\n", "tail\nno newline"} {
		want := udiff.Unified("/dev/null", "b/etc/f", "", s)
		if got := creationDiff("/etc/f", []byte(s)); got != want {
			t.Errorf("creationDiff(%q) =\n%q\nwant\n%q", s, got, want)
		}
	}
}
