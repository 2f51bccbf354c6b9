// Package bus is the message bus between the phenix server and its agents:
// a NATS server embedded in `phenix server`, the subjects the fleet uses,
// and the client connection both sides open to it.
//
//	srv, err := bus.Start(ctx, bus.Config{Listen: ":4222", CA: ca.Pool(), Cert: tlsCert, Log: log, Authorize: enrolled})
//	nc, err := bus.Connect(ctx, srv.ClientURL(), ca.Pool(), serverIdentity, "")
//	sub, err := nc.Subscribe(bus.UpAll("results"), handle)
//
// Agents connect outward to the server; no port is opened on managed
// hosts. The server runs in this process (no cluster, JetStream off) and
// stops with Shutdown.
//
// # Authentication
//
// Every connection is TLS 1.3, and every client presents a certificate of
// the fleet's CA (package pki): its own host's, issued at enrolment, or the
// server identity. The TLS handshake refuses a certificate that the CA did
// not issue, or that is not for client authentication, before NATS reads
// a byte. No user name, password or token is used: the verified
// certificate alone gives the identity (pki.HostID).
//
// The authentication callback (server.Options.CustomClientAuthentication)
// then asks Config.Authorize about the host: false, for a host revoked or
// unknown, refuses the connection with an authorisation error. A
// connection is closed when its certificate expires.
//
// # Authorisation
//
// The NATS server itself confines each host to its own subjects (see
// subjects.go for the scheme). Host web-1 may
//
//	publish    phenix.up.web-1.>
//	subscribe  phenix.down.web-1.>  and  _INBOX.web-1.>
//	reply      once, within a minute, to a request it received
//
// and nothing else: a publication or subscription outside these is refused
// with a permissions violation (nats.ErrPermissionViolation, delivered to
// the connection's error handler), and the message goes nowhere. The
// server identity may publish and subscribe everywhere. A host id holding
// '.' is written with '~' in subjects (Token).
//
// The server must not answer a host's request on a reply subject the host
// chose freely: it checks it with ReplyOf first, or a host could make the
// server publish where the host itself may not.
//
// # Revocation
//
// Kick closes every connection of a host at once. To revoke a host, make
// Authorize refuse it, then Kick it: its connections close and its
// reconnections are refused. The bus finds the connections of a host in a
// map filled by the authentication callback, not by searching the
// server's connection list (see Server.Kick).
//
// # Logs
//
// The NATS server logs through Config.Log (see natsLogger for the levels);
// the bus adds its own lines with component=bus.
package bus
