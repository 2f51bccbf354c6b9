package bundle

import (
	"bytes"
	"runtime"
	"sync"

	"go.yaml.in/yaml/v3"
)

// YAML parsing is most of the cost of loading a large bundle, and a YAML
// parser runs on one CPU. parseYAML therefore cuts a large bundle written
// in block style at its top-level promise items and parses the pieces
// concurrently, then puts the items back in one document with their
// positions corrected. Whenever a piece does not parse on its own (an alias
// to an anchor in another piece, a construct cut in two, a key after the
// promises list, several documents) it falls back to parsing the whole
// file at once, which is also what gives the precise syntax errors. The
// fuzz test checks that both ways give the same tree.

// splitMinItems is the number of promise items from which a bundle is
// parsed in pieces.
const splitMinItems = 256

// parseYAML parses src into a document node.
func parseYAML(src []byte) (*yaml.Node, error) {
	if parts := min(runtime.GOMAXPROCS(0), 4); parts > 1 {
		if doc, ok := parseSplit(src, parts, splitMinItems); ok {
			return doc, nil
		}
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, err
	}
	return &doc, nil
}

// parseSplit parses src in parts pieces when it is a block mapping whose
// last key is promises, a block sequence of at least minItems items. ok is
// false when src does not have that shape or a piece fails to parse.
func parseSplit(src []byte, parts, minItems int) (doc *yaml.Node, ok bool) {
	// The YAML parser also breaks lines at CR, NEL, LS and PS: leave such
	// files to it.
	for _, br := range []string{"\r", "\u0085", "\u2028", "\u2029"} {
		if bytes.Contains(src, []byte(br)) {
			return nil, false
		}
	}
	lines := bytes.SplitAfter(src, []byte("\n"))
	// Find "promises:" at column 0 and the items' indentation.
	key := -1
	for i, l := range lines {
		if bytes.HasPrefix(l, []byte("promises:")) && isBlankOrComment(l[len("promises:"):]) {
			key = i
			break
		}
	}
	if key < 0 {
		return nil, false
	}
	indent := -1
	var items []int // line index where each item starts
	for i := key + 1; i < len(lines); i++ {
		l := lines[i]
		if isBlankOrComment(l) {
			continue
		}
		n := len(l) - len(bytes.TrimLeft(l, " "))
		if indent < 0 {
			indent = n
		}
		rest := l[n:]
		isItem := n == indent && (bytes.HasPrefix(rest, []byte("- ")) || bytes.Equal(bytes.TrimRight(rest, "\r\n"), []byte("-")))
		switch {
		case isItem:
			items = append(items, i)
		case n <= indent:
			return nil, false // something follows the promises list
		}
	}
	if len(items) < minItems || len(items) < parts {
		return nil, false
	}
	type piece struct {
		src    []byte
		next   int // line (1-based) of the item after the piece, 0 for the last
		offset int // added to the lines of the piece's nodes
		doc    yaml.Node
		err    error
	}
	pieces := make([]*piece, parts)
	for p := range parts {
		from, to := items[p*len(items)/parts], len(lines)
		if p+1 < parts {
			to = items[(p+1)*len(items)/parts]
		}
		pc := &piece{}
		if p+1 < parts {
			pc.next = to + 1
		}
		if p == 0 {
			pc.src = bytes.Join(lines[:to], nil) // the head (vars) comes along
		} else {
			pc.src = append([]byte("promises:\n"), bytes.Join(lines[from:to], nil)...)
			pc.offset = from - 1 // line 2 of the piece is line from+1 of src
		}
		pieces[p] = pc
	}
	var wg sync.WaitGroup
	for _, pc := range pieces {
		wg.Go(func() { pc.err = yaml.Unmarshal(pc.src, &pc.doc) })
	}
	wg.Wait()
	var seqs []*yaml.Node
	for _, pc := range pieces {
		if pc.err != nil {
			return nil, false
		}
		seq := promisesOf(&pc.doc)
		if seq == nil {
			return nil, false
		}
		if pc.offset != 0 {
			shiftLines(seq, pc.offset)
		}
		if pc.next != 0 {
			// An empty value at the very end of a piece is placed at the
			// end of the piece's text; in the whole file it is placed at
			// the next item's dash.
			moveEOF(seq, pc.next, indent+1)
		}
		seqs = append(seqs, seq)
	}
	for _, s := range seqs[1:] {
		seqs[0].Content = append(seqs[0].Content, s.Content...)
	}
	return &pieces[0].doc, true
}

// promisesOf returns the block sequence under the top-level promises key.
func promisesOf(doc *yaml.Node) *yaml.Node {
	if len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil
	}
	m := doc.Content[0]
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == "promises" && m.Content[i+1].Kind == yaml.SequenceNode && m.Content[i+1].Style&yaml.FlowStyle == 0 {
			return m.Content[i+1]
		}
	}
	return nil
}

// shiftLines adds off to the line of every node under n (n itself is the
// piece's own sequence, whose position is not used).
func shiftLines(n *yaml.Node, off int) {
	for _, c := range n.Content {
		c.Line += off
		shiftLines(c, off)
	}
}

// moveEOF moves the nodes placed at the start of line (where a piece's
// text ends) to column col of that line.
func moveEOF(n *yaml.Node, line, col int) {
	for _, c := range n.Content {
		if c.Line == line && c.Column == 1 {
			c.Column = col
		}
		moveEOF(c, line, col)
	}
}

func isBlankOrComment(l []byte) bool {
	t := bytes.TrimSpace(l)
	return len(t) == 0 || t[0] == '#'
}
