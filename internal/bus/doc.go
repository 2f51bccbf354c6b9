// Package bus is the message bus between the phenix server and its agents:
// a NATS server embedded in `phenix server` (or the auth callout of
// external NATS servers), the subjects the fleet uses, and the client
// connection both sides open to it.
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
// # External NATS servers
//
// Instead of the embedded server, the fleet may use NATS servers of its
// own (nats-server 2.10 or later) that delegate authentication to the
// phenix server: StartCallout connects to them as the auth user of their
// auth_callout block and answers each request on $SYS.REQ.USER.AUTH.
// The servers verify the client certificate (tls { verify: true }) and
// pass its chain in the request; the callout verifies it again against
// the fleet CA (pki.VerifyClient), asks Authorize about the host, and
// answers with a user JWT, signed by the issuer account key (LoadIssuer),
// holding the same permissions as the embedded server gives
// (hostPermissions), placed in the account CalloutConfig.Account, and
// expiring with the certificate. A refused host gets an error answer.
// CalloutSnippet is the configuration the servers need.
//
// Callout.Kick closes a host's connections at once with the system
// account's kick request ($SYS.REQ.SERVER.<id>.KICK, for each connection
// the callout admitted), given a system user (CalloutConfig.SystemCreds).
// Without one, the callout cannot close a connection: it gives hosts
// users that expire after ShortUserLifetime, so that a revoked host is cut
// off within that time, when its reconnection is refused.
//
// # Logs
//
// The NATS server logs through Config.Log (see natsLogger for the levels);
// the bus adds its own lines with component=bus.
package bus
