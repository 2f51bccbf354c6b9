// Package engine converges a set of promises: it orders them by their
// relations (require, before, notify, and the implicit ones a promise type
// declares), refuses cycles and unknown references, runs independent
// promises in parallel with a bound, skips the dependents of a failed
// promise with the reason, delivers notifications, and reports each
// promise's status, diff and duration.
//
// The engine needs no server: phenix apply and the agent both use it.
package engine
