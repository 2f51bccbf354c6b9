// Package containertest runs tests against a real Debian system in Docker
// containers: real apt and dpkg, real users and groups, real cron.
//
// DebianImage returns a Debian bookworm image, built on first use with
// debootstrap from the mirror the machine's apt is configured with and
// imported into Docker; no registry is needed. The image tag names a hash of
// the recipe, and the root file system tarball is kept in
// $XDG_CACHE_HOME/phenix-test (or ~/.cache/phenix-test), so the expensive
// debootstrap runs once per machine and recipe, and again only after the
// cache is removed. Start runs a container of it for one test and removes it
// when the test ends:
//
//	func TestUser(t *testing.T) {
//		c := containertest.Start(t, containertest.DebianImage(t),
//			containertest.WithPhenix(testenv.PhenixBinary(t)))
//		c.WriteFile(t, "/tmp/bundle.yaml", bundle, 0o644)
//		c.MustExec(t, "phenix", "apply", "/tmp/bundle.yaml")
//		c.MustExec(t, "getent", "passwd", "alice")
//	}
//
// Containers have no network unless WithNetwork asks for one. AptRepo builds
// real .deb packages into a flat apt repository, and UseAptRepo makes it the
// container's only package source, so package tests install, upgrade and
// remove packages offline.
//
// Everything goes through the docker CLI (exec.CommandContext) rather than a
// Docker SDK: the CLI is present wherever Docker is, speaks to any engine
// version, and keeps the Docker client's large dependency tree out of the
// module.
//
// Every entry point calls testenv.Require, so tests skip with a reason on
// machines without Docker (or fail under PHENIX_TEST_REQUIRE=all). Leaked
// containers, after a killed test process, carry the label phenix-test=1:
//
//	docker rm -f $(docker ps -aq --filter label=phenix-test=1)
package containertest
