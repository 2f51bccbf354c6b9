package bus

import "strings"

// The subjects of the bus. Every subject that concerns one host carries the
// host's id as one token, written by Token:
//
//	phenix.down.<id>.<kind>   server → host: jobs, policy, commands
//	phenix.up.<id>.<kind>     host → server: results, heartbeats, facts
//	_INBOX.<id>.…             replies to the host's own requests
//
// A kind is one or more tokens ("results", "facts.full"), chosen by the
// code that uses the bus; functions here do not check it. The server
// listens to all hosts at once with UpAll.
//
// The bus enforces the scheme (see the package documentation): a host
// publishes under Up(id, …) only, receives under Down(id, …) and its inbox
// only, and may answer once a request it received.
const (
	downPrefix  = "phenix.down."
	upPrefix    = "phenix.up."
	inboxPrefix = "_INBOX."
)

// ServerInboxPrefix is the inbox prefix of connections of the server
// identity. It is upper case, so no host's inbox (InboxPrefix) can equal
// it or lie under it.
const ServerInboxPrefix = "_INBOX.SERVER"

// Token returns host id as a subject token. A host id may hold '.', which
// separates tokens in a subject; Token writes it '~', which no host id
// holds, so that different ids give different tokens and host "web"
// cannot reach the subjects of host "web.1" with phenix.up.web.>.
func Token(id string) string { return strings.ReplaceAll(id, ".", "~") }

// HostOfToken returns the host id written as tok by Token.
func HostOfToken(tok string) string { return strings.ReplaceAll(tok, "~", ".") }

// Down returns the subject on which the server sends messages of kind to
// host id, phenix.down.<id>.<kind>.
func Down(id, kind string) string { return downPrefix + Token(id) + "." + kind }

// Up returns the subject on which host id sends messages of kind to the
// server, phenix.up.<id>.<kind>.
func Up(id, kind string) string { return upPrefix + Token(id) + "." + kind }

// UpAll returns the subject of messages of kind from every host,
// phenix.up.*.<kind>, to which the server subscribes; ParseUp tells from
// which host a message came.
func UpAll(kind string) string { return upPrefix + "*." + kind }

// DownAll returns the subject of messages of kind to every host,
// phenix.down.*.<kind>, for the server's own tooling (a monitor); a host
// receives only its own share of it.
func DownAll(kind string) string { return downPrefix + "*." + kind }

// InboxPrefix returns the inbox prefix of host id, _INBOX.<id>: the host's
// connections make their reply subjects under it (nats.CustomInboxPrefix).
func InboxPrefix(id string) string { return inboxPrefix + Token(id) }

// ParseUp returns the host and kind of subject, an Up subject, and false
// when subject is not one.
func ParseUp(subject string) (id, kind string, ok bool) {
	rest, ok := strings.CutPrefix(subject, upPrefix)
	if !ok {
		return "", "", false
	}
	tok, kind, ok := strings.Cut(rest, ".")
	if !ok || tok == "" || kind == "" {
		return "", "", false
	}
	return HostOfToken(tok), kind, true
}

// ReplyOf reports whether reply is a reply subject of host id, under its
// inbox. The server checks the reply subject of a request from a host with
// it before answering, so that a host cannot make the server publish where
// the host itself may not, such as the down subjects of another host.
func ReplyOf(id, reply string) bool {
	return strings.HasPrefix(reply, InboxPrefix(id)+".")
}
