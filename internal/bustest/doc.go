// Package bustest runs a real phenix bus for tests, as net/http/httptest
// runs an HTTP server: an embedded NATS server on 127.0.0.1 and a random
// port, with a fresh CA held in memory, stopped when the test ends.
//
//	env := bustest.NewServer(t)
//	srv := env.ConnectServer(t)          // the server identity: every subject
//	web := env.Connect(t, "web-1")       // host web-1: its own subjects only
//	env.Revoke("web-1")                  // refuse its next connections
//	env.Server.Kick("web-1")             // and close the open ones
//
// NewExternal runs instead an external nats-server, built from the module
// cache and run as a separate process (StartNATS), whose auth callout is
// bus.Callout; Env.Callout kicks hosts.
//
// The bus and its connections log to t.Log. Connections reconnect within
// tens of milliseconds (Env.Client), so that tests about reconnection are
// fast.
package bustest
