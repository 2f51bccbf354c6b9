// Package server is the phenix server: the HTTP JSON API (package api), the
// fleet's certificate authority and enrolment, the embedded NATS server the
// agents connect to (package bus), the job dispatcher, policy distribution,
// drift reports and the journal, over one store (package sqlstore).
//
// # Data directory
//
// Everything the server keeps outside its database is in Config.DataDir:
//
//	ca.pem, ca.key      the fleet CA (created on first start; the key is 0600)
//	admin.token         the admin API token (0600), printed once on first start
//	secrets.key         the key that seals secrets at rest (0600, package secret)
//	phenix.db           the SQLite database, unless Config.DB names another
//	server.json         the URLs the server listens on, for the CLI on this machine
//	pending/<id>.csr    the request of each host waiting to be accepted
//
// # Presence
//
// Agents send a heartbeat every Config.Heartbeat. A host is online while its
// last heartbeat is younger than three heartbeats: presence comes from the
// agent speaking, not from a TCP connection that may linger. Heartbeats are
// kept in memory and written to the store in batches (TouchHosts).
//
// # Jobs
//
// A job (a command, an operation, an apply) is stored with one pending
// result per targeted host before anything is sent, then published to each
// host on its own subject (a rolling window of Batch hosts at a time when
// Batch is set). Hosts offline when the job starts are unreachable at once;
// hosts that have not answered Timeout plus a grace period after the job
// reached them are marked unreachable, and the job ends when no host is
// pending. Results are stored in batches and acknowledged to the agents only
// once stored; a (job, host) result is stored once, and a late result
// replaces unreachable. When the server starts, it publishes the jobs that
// had not ended again to their pending hosts: agents answer a job they
// already ran with the result they kept.
//
// The in-memory host table (hosts) is a cache of the store for the one
// server that runs: several servers against one PostgreSQL database would
// need to share presence and jobs over the bus, which is not built yet.
package server
