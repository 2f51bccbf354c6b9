// Package supervisor keeps a service's process running on hosts that have
// no init system to do it, such as containers. It is what the service
// promise's "supervisor" provider starts, through the hidden command
// `phenix supervise`.
//
// Each service has three files, named after the service (see Dirs):
//
//   - a state file, /var/lib/phenix/services/NAME.json, written atomically
//     by phenix apply: the Spec to run, its Hash, and whether the service
//     is enabled (started by `phenix supervise --boot`);
//   - the supervisor's pid file, /run/phenix/NAME.supervisor.pid, which the
//     supervisor holds locked for its whole life, so that two supervisors
//     never keep the same service;
//   - the child's pid file, /run/phenix/NAME.pid by default, present while
//     the child runs.
//
// A Supervisor starts the child in its own process group, with a clean
// environment (PATH, HOME, USER, LOGNAME and the Spec's Env), optionally as
// another user, with its stdout and stderr appended to the Spec's log file,
// where the supervisor's own log lines also go. When the child exits it is
// started again after a delay that doubles from one second up to thirty,
// and falls back to one second once a child has run for ten seconds. The
// child must stay in the foreground: a command that forks into the
// background and exits looks like a crash.
//
// The supervisor process is driven by signals:
//
//	SIGHUP   restart the child (stop it, start it again at once)
//	SIGUSR1  send the Spec's reload signal to the child
//	SIGTERM  stop the child (stop signal to its process group, then
//	         SIGKILL after the stop timeout) and exit
//
// Start, Signal and Stop are the other side: they run in phenix apply and
// drive a supervisor by its files. Start launches `phenix supervise` in a
// new session, detached from the caller, and returns once the child has
// started (or failed to), which the supervisor reports on an inherited
// pipe. Pid tells whether a supervisor keeps a service: its pid file names
// a live process whose command line is `phenix supervise --state FILE`
// for that service's state file. Boot, behind `phenix supervise --boot`,
// starts every enabled service; a container's entrypoint (or, later, the
// agent) runs it when the host starts.
package supervisor
