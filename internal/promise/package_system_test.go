package promise_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/phenixhq/phenix/internal/containertest"
	"github.com/phenixhq/phenix/internal/engine"
	"github.com/phenixhq/phenix/internal/promise"
)

// debPkg is a tiny package whose files tell its version.
func debPkg(name, version string) containertest.DebPackage {
	return containertest.DebPackage{
		Name:    name,
		Version: version,
		Files: map[string]string{
			"/usr/share/" + name + "/VERSION": version + "\n",
			"/usr/bin/" + name:                "#!/bin/sh\necho " + name + " " + version + "\n",
		},
	}
}

// installedVersion returns the version dpkg has installed of name, or ""
// when it is not installed.
func installedVersion(t *testing.T, c *containertest.Container, name string) string {
	t.Helper()
	code, out := exitCode(t, c, "dpkg-query", "-W", "-f=${Status} ${Version}", name)
	if code != 0 || !strings.HasPrefix(out, "install ok installed ") {
		return ""
	}
	return strings.TrimPrefix(out, "install ok installed ")
}

// aptCalls counts the apt-get runs that changed packages, from apt's
// history log.
func aptCalls(t *testing.T, c *containertest.Container) int {
	t.Helper()
	_, out := exitCode(t, c, "cat", "/var/log/apt/history.log")
	return strings.Count(out, "Start-Date:")
}

// publishWithoutUpdate adds the repository in dir as a second package
// source, leaving apt's index as it was: the packages and versions only
// dir has are unknown to apt-cache until something runs apt-get update.
// (Replacing the first repository in place would not do: apt reads the
// index of a file: source where it lies.)
func publishWithoutUpdate(t *testing.T, c *containertest.Container, dir string) {
	t.Helper()
	const second = containertest.RepoDir + "-2"
	c.MustExec(t, "rm", "-rf", second)
	c.CopyTo(t, dir, second)
	c.MustExec(t, "chmod", "-R", "a+rX", second)
	c.WriteFile(t, "/etc/apt/sources.list.d/phenix-test-2.list", []byte("deb [trusted=yes] file:"+second+" ./\n"), 0o644)
}

func TestPackageSystem(t *testing.T) {
	t.Parallel()
	c := startDebian(t)
	c.UseAptRepo(t, containertest.AptRepo(t, debPkg("phenix-hello", "1.0"), debPkg("phenix-a", "1.0"), debPkg("phenix-b", "1.0")))

	t.Run("install", func(t *testing.T) {
		const src = "promises:\n  - package: phenix-hello\n"
		_, _, code := apply(t, c, src, "--dry-run")
		if code != 2 || installedVersion(t, c, "phenix-hello") != "" {
			t.Fatalf("dry run: exit %d, want 2 and nothing installed", code)
		}
		got := mustChange(t, c, src)
		r := got["package:phenix-hello"]
		want := []promise.Change{{Field: "package phenix-hello", Before: "(absent)", After: "installed"}}
		if diff := cmp.Diff(want, r.Diff.Changes); diff != "" {
			t.Errorf("changes (-want +got):\n%s", diff)
		}
		if !strings.HasPrefix(r.Diff.Command, "apt-get install -y -q --no-install-recommends ") || !strings.HasSuffix(r.Diff.Command, " phenix-hello") {
			t.Errorf("command = %q, want apt-get install … phenix-hello", r.Diff.Command)
		}
		if v := installedVersion(t, c, "phenix-hello"); v != "1.0" {
			t.Errorf("installed version = %q, want 1.0", v)
		}
		mustConverged(t, c, src)
	})

	t.Run("two packages in one apt call", func(t *testing.T) {
		const src = "promises:\n  - package: [phenix-a, phenix-b]\n"
		before := aptCalls(t, c)
		got := mustChange(t, c, src)
		r := got["package:phenix-a,phenix-b"]
		if len(r.Diff.Changes) != 2 || !strings.HasSuffix(r.Diff.Command, " phenix-a phenix-b") {
			t.Errorf("diff = %+v, want both packages in one command", r.Diff)
		}
		if n := aptCalls(t, c) - before; n != 1 {
			t.Errorf("apt-get ran %d times, want once", n)
		}
		for _, n := range []string{"phenix-a", "phenix-b"} {
			if v := installedVersion(t, c, n); v != "1.0" {
				t.Errorf("%s version = %q, want 1.0", n, v)
			}
		}
		mustConverged(t, c, src)
	})

	t.Run("latest", func(t *testing.T) {
		c.UseAptRepo(t, containertest.AptRepo(t, debPkg("phenix-hello", "1.0"), debPkg("phenix-hello", "1.1"), debPkg("phenix-a", "1.0"), debPkg("phenix-b", "1.0")))
		const src = "promises:\n  - package: phenix-hello\n    state: latest\n"
		// installed is satisfied by any version.
		mustConverged(t, c, "promises:\n  - package: phenix-hello\n")
		got := mustChange(t, c, src)
		want := []promise.Change{{Field: "package phenix-hello", Before: "1.0", After: "1.1"}}
		if diff := cmp.Diff(want, got["package:phenix-hello"].Diff.Changes); diff != "" {
			t.Errorf("changes (-want +got):\n%s", diff)
		}
		if v := installedVersion(t, c, "phenix-hello"); v != "1.1" {
			t.Errorf("installed version = %q, want 1.1", v)
		}
		if out := string(c.ReadFile(t, "/usr/share/phenix-hello/VERSION")); out != "1.1\n" {
			t.Errorf("VERSION = %q, want 1.1", out)
		}
		mustConverged(t, c, src)
	})

	t.Run("pin downgrades", func(t *testing.T) {
		const src = "promises:\n  - package: phenix-hello\n    version: \"1.0\"\n"
		got := mustChange(t, c, src)
		r := got["package:phenix-hello"]
		want := []promise.Change{{Field: "package phenix-hello", Before: "1.1", After: "1.0"}}
		if diff := cmp.Diff(want, r.Diff.Changes); diff != "" {
			t.Errorf("changes (-want +got):\n%s", diff)
		}
		if !strings.Contains(r.Diff.Command, "--allow-downgrades phenix-hello=1.0") {
			t.Errorf("command = %q, want a pinned install", r.Diff.Command)
		}
		if v := installedVersion(t, c, "phenix-hello"); v != "1.0" {
			t.Errorf("installed version = %q, want 1.0", v)
		}
		mustConverged(t, c, src)
	})

	t.Run("apt-get update only for unknown versions", func(t *testing.T) {
		publishWithoutUpdate(t, c, containertest.AptRepo(t, debPkg("phenix-hello", "1.2"), debPkg("phenix-new", "3.0")))
		// Everything wanted is known: no update, so apt still does not
		// know 1.2.
		mustConverged(t, c, "promises:\n  - package: [phenix-hello, phenix-a]\n")
		mustConverged(t, c, "promises:\n  - package: phenix-hello\n    version: \"1.0\"\n")
		if out := c.MustExec(t, "apt-cache", "policy", "phenix-hello"); !strings.Contains(out, "Candidate: 1.1") {
			t.Fatalf("apt-get update ran although nothing was unknown:\n%s", out)
		}
		// A version and a package apt does not know yet: one update, then
		// both install.
		src := "promises:\n  - package: phenix-hello\n    version: \"1.2\"\n  - package: phenix-new\n"
		got := mustChange(t, c, src)
		if r := got["package:phenix-new"]; r.Status != engine.Changed {
			t.Errorf("phenix-new: %s %s", r.Status, r.Error)
		}
		if v := installedVersion(t, c, "phenix-hello"); v != "1.2" {
			t.Errorf("phenix-hello version = %q, want 1.2", v)
		}
		if v := installedVersion(t, c, "phenix-new"); v != "3.0" {
			t.Errorf("phenix-new version = %q, want 3.0", v)
		}
		mustConverged(t, c, src)
	})

	t.Run("unknown package fails with apt's message", func(t *testing.T) {
		got, _, code := apply(t, c, "promises:\n  - package: phenix-nowhere\n")
		r := got["package:phenix-nowhere"]
		if code != 1 || r.Status != engine.Failed || !strings.Contains(r.Error, "Unable to locate package phenix-nowhere") {
			t.Errorf("exit %d, %s: %q; want failed with apt's message", code, r.Status, r.Error)
		}
	})

	t.Run("dpkg source", func(t *testing.T) {
		repo := containertest.AptRepo(t, debPkg("phenix-local", "2.5-1"))
		c.MustExec(t, "mkdir", "-p", "/debs")
		c.CopyTo(t, filepath.Join(repo, "phenix-local_2.5-1_all.deb"), "/debs/phenix-local_2.5-1_all.deb")
		const src = "promises:\n  - package: phenix-local\n    source: debs/phenix-local_2.5-1_all.deb\n"
		got := mustChange(t, c, src)
		r := got["package:phenix-local"]
		if r.Diff.Command != "dpkg --force-confdef --force-confold -i /debs/phenix-local_2.5-1_all.deb" {
			t.Errorf("command = %q", r.Diff.Command)
		}
		if v := installedVersion(t, c, "phenix-local"); v != "2.5-1" {
			t.Errorf("phenix-local version = %q, want 2.5-1", v)
		}
		mustConverged(t, c, src)
		const gone = "promises:\n  - package: phenix-local\n    provider: dpkg\n    state: absent\n"
		mustChange(t, c, gone)
		if v := installedVersion(t, c, "phenix-local"); v != "" {
			t.Errorf("phenix-local still installed at %s", v)
		}
		mustConverged(t, c, gone)
	})

	t.Run("absent", func(t *testing.T) {
		const src = "promises:\n  - package: [phenix-hello, phenix-a, phenix-b, phenix-never]\n    state: absent\n"
		before := aptCalls(t, c)
		got := mustChange(t, c, src)
		r := got["package:phenix-hello,phenix-a,phenix-b,phenix-never"]
		want := []promise.Change{
			{Field: "package phenix-hello", Before: "1.2", After: "(absent)"},
			{Field: "package phenix-a", Before: "1.0", After: "(absent)"},
			{Field: "package phenix-b", Before: "1.0", After: "(absent)"},
		}
		if diff := cmp.Diff(want, r.Diff.Changes); diff != "" {
			t.Errorf("changes (-want +got):\n%s", diff)
		}
		if n := aptCalls(t, c) - before; n != 1 {
			t.Errorf("apt-get ran %d times, want once", n)
		}
		for _, n := range []string{"phenix-hello", "phenix-a", "phenix-b"} {
			if v := installedVersion(t, c, n); v != "" {
				t.Errorf("%s still installed at %s", n, v)
			}
		}
		mustConverged(t, c, src)
	})

	t.Run("serialized", func(t *testing.T) {
		// Independent package promises would run in parallel without the
		// dpkg lock key; with it, none fails on apt's lock.
		var b strings.Builder
		b.WriteString("promises:\n")
		for _, n := range []string{"phenix-hello", "phenix-a", "phenix-b", "phenix-new"} {
			b.WriteString("  - package: " + n + "\n    state: latest\n")
		}
		mustChange(t, c, b.String())
		mustConverged(t, c, b.String())
	})
}
