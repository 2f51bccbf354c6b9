// Package selector reads and matches host selectors: Kubernetes-style
// expressions over a host's labels and facts that pick the hosts a command,
// a job or a policy applies to.
//
//	phenix hosts 'role=web,env in (prod,preprod),os!=windows'
//	phenix run 'id=web-1' -- uptime
//
// # Syntax
//
// A selector is "*", or the empty string, which match every host, or a
// comma-separated list of requirements that must all hold:
//
//	role=web                  the key is present with value web ("==" is the same)
//	role!=web                 the key is absent, or its value is not web
//	env in (prod,preprod)     the key is present with one of the values
//	env notin (dev,test)      the key is absent, or has none of the values
//	gpu                       the key is present, whatever its value
//	!gpu                      the key is absent
//	cpu_count>2               the value is a number greater than 2
//	memory_mb<4096            the value is a number less than 4096
//
// There is no OR between requirements: "in" is the way to accept several
// values. Spaces and tabs are allowed around keys, operators, values,
// parentheses and commas; "in" and "notin" need a space after the key.
//
// Keys are made of letters, digits and _ . / - ("role", "example.com/team",
// "os_family"). Values without quotes are made of letters, digits and
// _ . : / @ + - ("prod", "10.0.0.5", "v1.2+build", "ops@example.com").
// Any other value, the empty value included, is written between double
// quotes, in which \" stands for " and \\ for \ (no other escape exists):
//
//	owner="Jane Doe",motd="",path="C:\\apps"
//
// The number after > or < is a decimal number, optionally signed, with an
// optional fraction ("2", "-1.5"); a host value is compared as a number
// when it has that form too, and otherwise never matches, nor does an
// absent key. Numbers are compared as float64.
//
// # Keys: labels, facts and the host id
//
// A plain key is looked up in the host's labels first, then in its facts:
// a label shadows a fact of the same name, so an operator can correct what
// an agent reports. A prefix forces one source:
//
//	labels.role=web          only the label role
//	facts.os=linux           only the fact os, even when a label os exists
//
// The key "id" is the host's id, never a label or fact ("labels.id" and
// "facts.id" reach those). A host is chosen by its id with id=web-1 or
// id in (web-1,web-2); a bare word such as web-1 is the exists operator
// on the key web-1, not a host id.
//
// A key that no host has is not an error: it matches nothing with =, in,
// > and < and the exists operator, and matches every host with !=, notin
// and !key. In general != is the opposite of =, notin of in, and !key of
// key.
//
// # Lists
//
// Facts are flat strings; a list, such as addresses, is held as its
// elements joined by "," (FlattenFacts does this). A value holding commas
// matches =, !=, in and notin when the whole value or any one of its
// elements matches, so addresses=10.0.0.5 picks the host whose addresses
// are "10.0.0.5,fe80::1", and addresses!=10.0.0.5 leaves it out. The rule
// is the same for labels. A list is not a number: > and < never match it.
//
// # Canonical form
//
// Parse sorts the values of a set and drops repeated ones, and sorts the
// requirements by key, operator and values, dropping repeated ones: the
// order of requirements does not matter, since all must hold. String
// writes the result with no space except around "in" and "notin", "="
// rather than "==", quotes only where needed, and numbers in their
// shortest form; "*" is the canonical form of the empty selector. Parse
// reads String's output back as an equal Selector:
//
//	os != windows , env in (prod, preprod,prod),role==web
//	env in (preprod,prod),os!=windows,role=web
//
// # Errors
//
// Parse reports the first problem as a *SyntaxError whose Col is the
// 1-based column, in characters, where it lies (one past the end when the
// selector stops too early):
//
//	role==          col 7: expected a value after "=="
//	env in (prod    col 13: expected "," or ")"
//	role~web        col 5: unknown operator "~"
//	role=web,       col 9: trailing comma
//	owner="Jane     col 7: unterminated quoted value
package selector
