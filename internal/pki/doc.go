// Package pki is the small certificate authority of a phenix fleet. The
// server holds one CA; it issues the server its TLS certificate and every
// agent, at enrolment, a client certificate that names the agent's host.
// The message bus (package bus) admits a connection on that certificate
// alone: no password or token travels on the wire.
//
// Only the standard library is used. Keys are ECDSA P-256.
//
// # Certificates
//
//	CA                NewCA, self-signed, may sign leaves only (path length 0)
//	server TLS        IssueServer: DNS names and IP addresses, ExtKeyUsageServerAuth
//	host identity     SignClient: CN "host:<id>", URI phenix://host/<id>, ExtKeyUsageClientAuth
//	server identity   ServerIdentity: CN "server", URI phenix://server, ExtKeyUsageClientAuth
//
// A leaf starts to be valid five minutes before it is issued (clockSkew),
// so that a host whose clock runs a little behind accepts it, and never
// outlives the CA that signed it: a longer validity is cut to the CA's end.
//
// # Enrolment
//
// The private key of an agent never leaves its host. The agent calls
// NewKey and sends the CSR; the server checks the enrolment by its own
// means and calls SignClient with the host id it decided. SignClient takes
// only the public key from the CSR, after checking the CSR's signature
// (proof that the sender holds the key): its subject, names and extensions
// are ignored, so an agent cannot ask for another identity.
//
// # Identities
//
// HostID reads the identity back from a certificate: the host id, or the
// server. The common name and the URI name must agree. HostID does not
// check the signature; VerifyClient checks the chain up to a pool of CAs
// and the client-auth usage first, as a TLS server does during the
// handshake.
//
// A host id is 1 to 63 characters: lower-case letters, digits, '.', '_'
// and '-', starting with a letter or digit (ValidateHostID), so that
// "web-1" and "web1.example.com" are ids and "Web", "-x" or "a b" are not.
package pki
