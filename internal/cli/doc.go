// Package cli holds phenix's command-line interface: one cobra command per
// file, each parsing its flags, calling the domain packages and printing
// the result. Run is the whole program; cmd/phenix only calls it.
package cli
