package check

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxExcerpt is how many bytes of a body or an output an error quotes.
const maxExcerpt = 120

// excerpt quotes the start of a body for an error, its runs of white
// space made one space: `body "Bad gateway"` or "empty body".
func excerpt(b []byte) string {
	s := squeeze(b[:min(len(b), 4*maxExcerpt)])
	if s == "" {
		return "empty body"
	}
	if len(s) > maxExcerpt {
		cut := maxExcerpt
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return "body " + strconv.Quote(s)
}

// excerptEnd quotes the end of b, where a command says why it failed; ""
// when b is only white space.
func excerptEnd(b []byte) string {
	s := squeeze(b[max(0, len(b)-4*maxExcerpt):])
	if s == "" {
		return ""
	}
	if len(s) > maxExcerpt {
		cut := len(s) - maxExcerpt
		for cut < len(s) && !utf8.RuneStart(s[cut]) {
			cut++
		}
		s = "…" + s[cut:]
	}
	return strconv.Quote(s)
}

func squeeze(b []byte) string { return strings.Join(strings.Fields(string(b)), " ") }
