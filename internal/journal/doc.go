// Package journal holds the journal of phenix: the append-only record of
// every action — enrolments, commands, policy pushes, applies, deploys —
// saying who did what, where, when and with what result.
//
// An Entry is one action. Entries are numbered from 1 by Seq, with no gap,
// and chained by hash: each entry's Hash is the SHA-256 of all its other
// fields, PrevHash included, and PrevHash is the Hash of the entry before
// ("" for the first). Editing, removing or reordering a stored entry
// therefore breaks the chain, and Verify names the first entry where it
// breaks and why (see ChainError). The chain shows tampering; it does not
// prevent it: whoever can rewrite the whole store can rewrite the chain too,
// which is why a store also keeps its head (see VerifyHead) and why the head
// hash is worth copying somewhere else.
//
// # Hash encoding
//
// ComputeHash hashes this byte string, version 1, made of netstrings
// (each item is its length in bytes in decimal, ':', the bytes, ','):
//
//	"phenix-journal-v1"
//	Seq in decimal
//	Time in UTC as TimeFormat ("2006-01-02T15:04:05.000000Z"), so
//	    truncated to the microsecond
//	Actor, Action, Selector
//	the number of Hosts in decimal, then each host in order
//	the number of Params in decimal, then each key and its value,
//	    keys in increasing byte order
//	Result, Summary, PrevHash
//
// and Hash is the lower-case hexadecimal SHA-256 of it. An empty and a nil
// Hosts or Params encode the same. Changing this encoding invalidates every
// stored chain: a new encoding needs a new version string and a way to tell
// old entries from new.
//
// # Secrets
//
// An entry is never changed once written, so a secret stored in clear could
// not be removed without breaking the chain. Callers replace the values of
// secret parameters with Masked, using Mask, before the entry reaches a
// store.
//
// This package holds the types and the rules only; the stores live in
// adapters such as package sqlstore.
package journal
