package testenv

import (
	"os"
	"strings"
	"testing"
)

// EnvRequire names the environment variable that turns missing requirements
// from skips into failures: "all", or a comma-separated list of names.
const EnvRequire = "PHENIX_TEST_REQUIRE"

// Require skips t, or fails it when PHENIX_TEST_REQUIRE asks for it, unless
// every requirement in what is met. The known requirements are:
//
//   - "docker": the docker CLI is on PATH and the engine answers
//     `docker version`;
//   - "debootstrap": debootstrap is on PATH and the process runs as root;
//   - "dpkg-deb": dpkg-deb is on PATH;
//   - "root": the effective user id is 0.
//
// An unknown name fails the test: it is a mistake in the test itself.
func Require(t testing.TB, what ...string) {
	t.Helper()
	env := os.Getenv(EnvRequire)
	for _, name := range what {
		p, ok := probes[name]
		if !ok {
			t.Fatalf("testenv: unknown requirement %q", name)
		}
		err := p.result()
		if err == nil {
			continue
		}
		if required(env, name) {
			t.Fatalf("%v (required by %s=%s)", err, EnvRequire, env)
		}
		t.Skipf("%v; set %s=all to make this a failure", err, EnvRequire)
	}
}

// required reports whether env, the value of PHENIX_TEST_REQUIRE, makes the
// requirement name mandatory.
func required(env, name string) bool {
	for _, f := range strings.Split(env, ",") {
		f = strings.TrimSpace(f)
		if f == "all" || f == name {
			return true
		}
	}
	return false
}
