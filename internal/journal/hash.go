package journal

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strconv"
)

// hashVersion opens the hash encoding; see the package documentation.
const hashVersion = "phenix-journal-v1"

// ComputeHash returns the hash of e: the hexadecimal SHA-256 of the
// encoding of every field but Hash, described in the package
// documentation.
func (e *Entry) ComputeHash() string {
	sum := sha256.Sum256(e.encode())
	return hex.EncodeToString(sum[:])
}

// encode returns the canonical encoding of e that ComputeHash hashes.
func (e *Entry) encode() []byte {
	b := make([]byte, 0, 256)
	b = netstring(b, hashVersion)
	b = netstring(b, strconv.FormatInt(e.Seq, 10))
	b = netstring(b, FormatTime(e.Time))
	b = netstring(b, e.Actor)
	b = netstring(b, e.Action)
	b = netstring(b, e.Selector)
	b = netstring(b, strconv.Itoa(len(e.Hosts)))
	for _, h := range e.Hosts {
		b = netstring(b, h)
	}
	b = netstring(b, strconv.Itoa(len(e.Params)))
	keys := make([]string, 0, len(e.Params))
	for k := range e.Params {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		b = netstring(b, k)
		b = netstring(b, e.Params[k])
	}
	b = netstring(b, e.Result)
	b = netstring(b, e.Summary)
	b = netstring(b, e.PrevHash)
	return b
}

// netstring appends s to b as a netstring: its length, ':', s, ','.
func netstring(b []byte, s string) []byte {
	b = strconv.AppendInt(b, int64(len(s)), 10)
	b = append(b, ':')
	b = append(b, s...)
	return append(b, ',')
}
