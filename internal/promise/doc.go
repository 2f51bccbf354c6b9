// Package promise holds the promise types of phenix and the contract the
// engine drives them through.
//
// A promise declares the final state of one thing on a host: a file, a
// package, a service, a user. Each promise type is a Go struct decoded from
// a bundle (see package bundle) that implements Resource: Check compares the
// host with the promise and returns a Diff, and Apply, called only when the
// Diff is not empty, makes the host match. Running the same promises twice
// changes nothing the second time.
//
// Optional interfaces refine the contract:
//   - Validator reports bad attributes before anything runs;
//   - Resolver reads files beside the bundle (sources, templates);
//   - Refresher reacts to a notification (a service restarts, a
//     refresh-only exec runs);
//   - AutoRequirer names promises this one implicitly depends on (the
//     directory that holds a file);
//   - PathClaimer names the host paths a promise manages, so that a
//     directory promise with purge keeps them;
//   - Serializer names a lock shared with promises that must not run
//     concurrently (dpkg, the user database).
//
// Adding a promise type: write the struct with yaml tags (the field tagged
// with the type's own name holds the subject), implement Resource and the
// optional interfaces it needs, register it in types.go, document it in the
// README and examples/, and add a test that applies it twice and expects no
// change the second time.
package promise
