// Package deptest holds tests about the shape of the code base itself:
// every package has a package comment, and the domain packages import no
// adapter (no cobra, no terminal, no database, no message bus).
package deptest
