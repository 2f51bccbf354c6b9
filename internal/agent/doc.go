// Package agent is `phenix agent`: the part of phenix that runs on every
// managed host. It enrols the host with the server, keeps a connection to
// the bus (package bus, messages of package wire), runs the jobs it is
// sent, and keeps the host's promises — the policy payload the server
// gives it (package policy) — with the same engine as `phenix apply`.
//
//	err := agent.Run(ctx, agent.Config{Server: "https://phenix:8443", JoinToken: tok, CAHash: hash, StateDir: "/var/lib/phenix/agent"})
//
// Run returns nil when ctx ends. Convergence never depends on the server:
// an agent that cannot reach it goes on keeping the last policy it
// received.
//
// # State directory
//
//	key.pem       the host's private key, 0600; it never leaves the host
//	cert.pem      the host's certificate; its presence means enrolled
//	ca.pem        the CA the agent pins, for HTTPS and the bus
//	agent.json    host id, server, bus URLs
//	payload.json  the kept payload: digest, revision, bundle directories, vars (secrets included, 0600), interval
//	policy/       the payload's files (policy.Payload.Write)
//	converged     the digest of the payload last converged
//	outbox/       results and drift reports not yet acknowledged
//	jobs/         the jobs seen in the last 24 hours, with their results
//	cache/        decoded bundles (bundle.Options.CacheDir)
//
// # Enrolment
//
// A state directory without cert.pem is enrolled first. The CA is pinned
// before anything is sent: from Config.CAFile, or fetched with GET
// /api/v1/ca without verification and kept only if the SHA-256 of its DER
// is Config.CAHash (else ErrCAMismatch), or from a ca.pem kept earlier.
// Every later connection, HTTPS and bus, trusts that CA alone. The agent
// makes its key once (pki.NewKey; kept in key.pem before the first
// request) and POSTs /api/v1/enrol with a certificate request for it, the
// join token, the labels asked for and the facts. "accepted" gives the
// certificate, the CA and the bus URLs, written to the state directory
// (cert.pem last). "pending" (no token, or one that needs approval) is
// asked again every few seconds with the same key, with a log line every
// minute; a refusal (a 4xx answer that is not pending) ends Run with the
// server's reason; a server that cannot be reached or answers 5xx, for the
// CA or the enrolment, is asked again.
//
// # Bus
//
// The agent connects with its certificate (bus.ClientConfig: a 20 s
// connect timeout, which survives a connection storm, reconnection
// forever, and nats.RetryOnFailedConnect, so that an agent started while
// the server is down keeps trying). Before each reconnection it waits 2 s
// plus a random part of a jitter that grows with the fleet:
// max(1 s, HelloReply.FleetSize/1000 s), at most 30 s. nats.go reads its
// ReconnectJitter once, at connect, and the fleet size is known only
// after, so the delay comes from nats.CustomReconnectDelay, which nats.go
// asks before every round of reconnections.
//
// nats.go closes a connection the bus refuses twice for authorisation: the
// host was revoked, or is unknown. The agent then logs, at Error, "host X
// was revoked or is unknown to the server", and connects again every
// minute; convergence goes on meanwhile.
//
// On every (re)connection, once subscribed to its down subjects (job,
// policy), the agent sends Hello (flattened facts, hostname, version,
// revision kept) until the server answers. The HelloReply sets the
// heartbeat interval and the reconnect jitter, and a revision other than
// the one kept makes the agent fetch the policy. Hello is sent again when
// the facts change (checked after each convergence). A Heartbeat, with
// the revision kept and the result of the last convergence, is published
// every HelloReply.Heartbeat ± 10 %.
//
// # Jobs
//
// A Job is recorded in jobs/ before it runs, and a job whose id was seen
// is not run again: if it is done, its result is put in the outbox again
// (the server stores a result once); if it is queued or running, the
// repeat is ignored. Records are forgotten after 24 hours. Jobs run
// concurrently, four at a time; the others queue. A job that was running
// when the agent stopped is reported failed at the next start, not run
// again.
//
// Run and op jobs execute Argv with Env added to the agent's environment,
// from /, in a process group of their own. Their output is published as
// wire.Output as it comes, coalesced (every 50 ms, or 32 KiB), and kept
// for the Result up to wire.MaxOutput: the first and the last
// halves around a "[… N bytes cut …]" line. At Timeout the whole group is
// killed (SIGKILL) and the status is timeout. Exit 0 is ok, another exit
// is failed with its code, and a command that cannot start is failed with
// exit code 127 and the error as output. A background process that keeps
// the output open does not hold the job: the output is closed a moment
// after the command ends.
//
// An apply job fetches the latest policy first (going on with the one kept
// if the server does not answer), converges, dry-run if asked, and returns
// ok, changed or failed (timeout past its Timeout), with the
// engine.Report as JSON in Detail.
//
// Release and check jobs are described under Releases.
//
// # Secrets
//
// The payload names the vars that are secrets. Every occurrence of their
// values (each scalar of a list or mapping, when a secret is one) is
// replaced by journal.Masked in whatever the agent sends: job output,
// streamed and kept, apply reports, drift reports, errors. Streamed output
// holds back the last bytes of each piece until the next, so that a value
// written in two pieces is masked too.
//
// # Outbox
//
// Results and drift reports are written to outbox/ first (atomically),
// then sent as requests (wire.KindResult, wire.KindDrift) and removed only
// when an Ack{OK: true} comes back. What is not acknowledged is sent again
// with a backoff from 1 s to 30 s, and at every connection: a result made
// while the server is away, even across a restart of the agent, is
// delivered when the server is back. A message bigger than the bus takes
// (nats.Conn.MaxPayload; wire.MaxOutput of output escaped as JSON can be)
// is cut to fit first, in the middle of its output or of its biggest
// diffs, saying so: otherwise it would be refused forever.
//
// # Policy
//
// A PolicyNotice (even of the revision kept: setting a secret changes a
// payload, not the revision), a HelloReply with another revision, an
// apply job and each interval make the agent request its payload with the
// digest it keeps (PolicyRequest); the server answers Unchanged when the
// digest is the same.
// A new payload is written under policy/ (Payload.Write), described in
// payload.json, and converged. A reply that is unchanged but names a new
// revision only updates the revision kept. At start, the kept payload is
// converged at once, whether the server answers or not.
//
// # Convergence
//
// The agent converges the kept payload as `phenix apply` does (bundle.Load
// with the payload's vars and lazily gathered facts, engine.NewPlan,
// Plan.Run, backups under promise.DefaultBackupDir below Root), one
// convergence at a time:
//
//   - at start, and then every interval (the payload's, else 5 minutes)
//     at the multiples of the interval plus a splay, a stable offset in
//     [0, interval) derived from the host id, so that a fleet spreads its
//     runs and a host keeps its place across restarts;
//   - when a new payload arrives;
//   - when a managed file changes (trigger "watch");
//   - for an apply job.
//
// # Drift
//
// After each convergence the agent watches the paths the plan's promises
// claim (promise.PathClaimer) under Root. It watches their parent
// directories with fsnotify, because editors and atomic writes replace a
// file's inode, and ignores events on other names. Events are gathered for
// 100 ms, then converged, so an edit is repaired well within a second.
//
// The agent's own writes cause events too. To settle at once, it keeps a
// fingerprint of each managed path (inode, mode, owner, size, times) as
// the convergence left it: taken before the run, so that an edit made
// during a run that changes nothing still shows, and again after a run
// that changed or failed something (an exec may have written a path that
// another promise keeps). Events whose paths still have their fingerprint
// cause no convergence. An edit made during a run that changes something
// is seen at the next interval.
//
// A convergence triggered by the watch or the schedule that changed or
// failed something, for a payload converged before, is drift: a wire.Drift
// (trigger, result changed or failed, the engine results that changed or
// failed, with their diffs, secrets masked) goes to the outbox. The first
// convergence of a new payload, and apply jobs, are not drift.
//
// # Releases
//
// A release job (wire.JobRelease, its wire.ReleaseTask in Job.Release)
// delivers, activates, checks or runs a hook of a version of an app; a
// check job (wire.JobCheck) runs an app's checks. Everything happens under
// the task's Dir (below Root when the agent has one):
//
//	Dir/releases/<version>/                 one directory per version
//	Dir/releases/<version>/.phenix-release  the marker: app, version, sha256, delivered_at
//	Dir/current -> releases/<version>       relative symlink
//	Dir/.download/<sha256>.part             a download under way
//
// A version must be usable as a directory name: not empty, at most 128
// bytes, no slash or control character, not . or .., no leading dot; any
// other is refused before anything is done. Tasks of one Dir run one at a
// time on a host, in the order they wait.
//
// deliver: a release whose marker has the artifact's sha256 is on disk,
// and nothing is downloaded (result ok). Otherwise the artifact is fetched
// with GET <server><Artifact.Path> from the server the agent enrolled with
// (agent.json), over HTTPS with the host's certificate and the fleet's CA,
// streamed to the .part file and hashed in the same pass; a size or
// checksum other than the task's removes it and fails, saying expected and
// got. The archive (format sniffed from its content, which must match
// Artifact.Format when given) is checked as a whole, with Strip leading
// components dropped, as the archive promise checks (promise.InspectArchive),
// extracted into a hidden directory beside the release that is renamed
// into place whole (promise.ExtractArchive; Owner and Group apply to the
// entries), with the marker written into it first: a release directory
// without a matching marker is incomplete, and is replaced whole by the
// next delivery. Result changed.
//
// activate: deliver if needed; render Files (text/template with the bundle
// template functions, missing keys are errors) into the release directory,
// or at their absolute path, each written atomically (mode 0644 unless
// given, Owner and Group); switch current atomically (a new symlink renamed
// over it), recording the version it pointed to as previous; keep Service,
// a service promise mapping whose strings are templates, with the engine,
// then restart it (or reload it, per Restart; none leaves it) unless the
// engine has just started it; run Checks; and only if everything passed,
// prune: keep the Keep newest releases by delivered_at, always the current
// and previous ones, and remove incomplete directories older than an hour.
// A failing step stops the task: current is not switched back (the server
// decides a rollback, which is an activate of the previous version, on
// disk). Result changed.
//
// check: run Checks against the current release; a Version that is not
// the current one fails. Result ok.
//
// hook: run Hook (Argv, each element a template, or Script with /bin/sh
// -c) in the release directory (Dir when the release is not on disk), as
// run jobs run (own process group, output streamed, killed at the job's
// timeout), with PHENIX_APP, PHENIX_ENV, PHENIX_VERSION, PHENIX_RELEASE and
// PHENIX_PREVIOUS set. A non-zero exit fails. Result ok.
//
// Templates see .app, .env, .version, .dir, .release, .current,
// .previous, .host.id, .host.address (the first non-loopback IPv4 address,
// else the hostname) and .vars: the host's payload vars without its
// secrets, overlaid with the task's Vars, overlaid with the host's secrets
// (top-level keys replace). Checks (package check) run all at once, each
// retrying until its own deadline, with .host and .vars.
//
// The result's Output has one line per step ("download 104857600 bytes in
// 1.2s, sha256 ok", "switch current: 1.0 → 1.1", "service web restarted",
// "check health: ok (1 attempt, 12ms)"), its Detail a wire.ReleaseReport:
// each step timed, the check results, the versions on disk newest first.
// Secrets are masked in both. A task that outlives Job.Timeout ends with
// status timeout; one that fails, failed.
package agent
