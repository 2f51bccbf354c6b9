package containertest

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// defaultMirror is used when the host's apt sources name no archive for the
// suite.
const defaultMirror = "http://deb.debian.org/debian"

// hostMirror returns the archive URI that the host's apt uses for suite,
// read from its sources: debian.sources first, then sources.list, then any
// other file in sources.list.d. It returns defaultMirror when none matches.
func hostMirror(suite string) string {
	files := []string{"/etc/apt/sources.list.d/debian.sources", "/etc/apt/sources.list"}
	for _, pattern := range []string{"/etc/apt/sources.list.d/*.sources", "/etc/apt/sources.list.d/*.list"} {
		m, _ := filepath.Glob(pattern)
		files = append(files, m...)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		parse := mirrorFromList
		if strings.HasSuffix(f, ".sources") {
			parse = mirrorFromDeb822
		}
		if uri := parse(string(data), suite); uri != "" {
			return uri
		}
	}
	return defaultMirror
}

// mirrorFromDeb822 returns the first URI of the first enabled "deb" stanza
// of a deb822 .sources file that lists suite, or "".
func mirrorFromDeb822(data, suite string) string {
	for _, stanza := range deb822Stanzas(data) {
		if stanza["enabled"] == "no" ||
			!slices.Contains(strings.Fields(stanza["types"]), "deb") ||
			!slices.Contains(strings.Fields(stanza["suites"]), suite) {
			continue
		}
		for _, uri := range strings.Fields(stanza["uris"]) {
			if usableMirror(uri) {
				return uri
			}
		}
	}
	return ""
}

// deb822Stanzas splits a deb822 file into stanzas of fields, keyed by the
// lower-cased field name. Continuation lines are joined with a space.
func deb822Stanzas(data string) []map[string]string {
	var stanzas []map[string]string
	cur, last := map[string]string{}, ""
	for line := range strings.Lines(data + "\n") {
		line = strings.TrimRight(line, "\r\n")
		switch {
		case strings.HasPrefix(line, "#"):
		case strings.TrimSpace(line) == "":
			if len(cur) > 0 {
				stanzas = append(stanzas, cur)
			}
			cur, last = map[string]string{}, ""
		case line[0] == ' ' || line[0] == '\t':
			if last != "" {
				cur[last] += " " + strings.TrimSpace(line)
			}
		default:
			k, v, ok := strings.Cut(line, ":")
			if !ok {
				continue
			}
			last = strings.ToLower(strings.TrimSpace(k))
			cur[last] = strings.TrimSpace(v)
		}
	}
	return stanzas
}

// mirrorFromList returns the URI of the first "deb" line of a one-line-style
// sources.list that names suite, or "".
func mirrorFromList(data, suite string) string {
	for line := range strings.Lines(data) {
		line, _, _ = strings.Cut(line, "#")
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != "deb" {
			continue
		}
		f = f[1:]
		if len(f) > 0 && strings.HasPrefix(f[0], "[") { // [ options ]
			end := slices.IndexFunc(f, func(s string) bool { return strings.HasSuffix(s, "]") })
			if end < 0 {
				continue
			}
			f = f[end+1:]
		}
		if len(f) >= 2 && f[1] == suite && usableMirror(f[0]) {
			return f[0]
		}
	}
	return ""
}

// usableMirror reports whether debootstrap can fetch from uri.
func usableMirror(uri string) bool {
	for _, scheme := range []string{"http://", "https://", "file:/"} {
		if strings.HasPrefix(uri, scheme) {
			return true
		}
	}
	return false
}
