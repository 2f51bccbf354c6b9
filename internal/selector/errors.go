package selector

import "fmt"

// SyntaxError is a selector that Parse cannot read. Col is the 1-based
// column, counted in characters, of the first character at fault; it is one
// past the last character when the selector ends too early.
type SyntaxError struct {
	Col int
	Msg string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("col %d: %s", e.Col, e.Msg) }
