// Package host holds the hosts of the fleet and the join tokens they enrol
// with, as salt-key does for Salt minions.
//
// A Host is a machine running phenix agent, identified by a stable ID. It
// enrols by presenting a join token's secret; it is then pending until an
// operator accepts it, or accepted at once when the token says so, and may
// later be revoked. Whether an accepted host is online or offline is not
// stored: Presence derives it from LastSeen, the time of its last
// heartbeat.
//
// # Labels
//
// Labels are key=value pairs given to a host (role=web, env=prod) that
// selectors match (see package selector). A key is 1 to 63 characters of
// [a-z0-9._/-] starting with a letter or digit; a value is 0 to 63
// characters of [A-Za-z0-9._:/@+-]. ParseLabels reads them as written on a
// command line: "role=web,env=prod".
//
// # Join tokens
//
// A JoinToken lets agents enrol. NewJoinToken draws a 32-byte random
// secret and returns it once, as
//
//	phx_<id>_<secret in base32>
//
// the string an operator hands to an agent; only the SHA-256 of the secret
// is kept (Hash). ParseSecret splits that string again, and Check compares
// a secret with the hash in constant time and tells an expired token
// (ErrTokenExpired) from a used-up one (ErrTokenExhausted) and a wrong
// secret (ErrTokenInvalid). A token may be used MaxUses times (0 for no
// limit) until ExpiresAt (the zero time for never); its Labels are given to
// the hosts that enrol with it.
//
// This package imports no database or network code: the store is in
// package sqlstore.
package host
