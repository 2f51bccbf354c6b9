// Package testenv lets tests state what they need from the machine they run
// on, and builds the phenix binary for tests that run it as a program.
//
// Require checks a requirement ("docker", "debootstrap", "root",
// "dpkg-deb") and skips the test with the reason when it is missing:
//
//	func TestInstall(t *testing.T) {
//		testenv.Require(t, "docker", "debootstrap")
//		...
//	}
//
// A skipped test is easy to miss, so a machine that is meant to run
// everything (CI) sets PHENIX_TEST_REQUIRE=all, or a comma-separated list of
// requirement names such as PHENIX_TEST_REQUIRE=docker,root, and a missing
// requirement named there fails the test instead of skipping it.
//
// Each requirement is probed at most once per test process; the result is
// cached.
//
// PhenixBinary builds cmd/phenix once per test process, statically
// (CGO_ENABLED=0) so that it also runs inside minimal containers. The
// binary lives in a temporary directory that is not removed unless the
// package's TestMain calls Cleanup after m.Run:
//
//	func TestMain(m *testing.M) {
//		code := m.Run()
//		testenv.Cleanup()
//		os.Exit(code)
//	}
package testenv
