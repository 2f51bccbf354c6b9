package promise

import (
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseAptPolicy(t *testing.T) {
	out := `phenix-hello:
  Installed: 1.0
  Candidate: 1.1
  Version table:
     1.1 500
        500 file:/srv/repo ./ Packages
 *** 1.0 100
        100 /var/lib/dpkg/status
phenix-other:
  Installed: (none)
  Candidate: (none)
  Version table:
libc6:amd64:
  Installed: 2.36-9
  Candidate: 2.36-9
  Version table:
 *** 2.36-9 500
        500 http://deb.debian.org/debian bookworm/main amd64 Packages
        100 /var/lib/dpkg/status
`
	want := map[string]aptPolicy{
		"phenix-hello": {installed: "1.0", candidate: "1.1", versions: []string{"1.1", "1.0"}},
		"phenix-other": {},
		"libc6":        {installed: "2.36-9", candidate: "2.36-9", versions: []string{"2.36-9"}},
	}
	if diff := cmp.Diff(want, parseAptPolicy(out), cmp.AllowUnexported(aptPolicy{})); diff != "" {
		t.Errorf("parseAptPolicy (-want +got):\n%s", diff)
	}
}

func TestParseDpkgQuery(t *testing.T) {
	out := "bash\tinstall ok installed\t5.2.15-2+b8\n" +
		"gone\tdeinstall ok config-files\t1.0\n" +
		"held\thold ok installed\t2.0\n" +
		"half\tinstall ok half-configured\t3.0\n"
	want := map[string]string{"bash": "5.2.15-2+b8", "held": "2.0"}
	if diff := cmp.Diff(want, parseDpkgQuery(out)); diff != "" {
		t.Errorf("parseDpkgQuery (-want +got):\n%s", diff)
	}
}

func TestPackageValidate(t *testing.T) {
	for _, tt := range []struct {
		name string
		p    Package
		want string
	}{
		{name: "list", p: Package{Names: StringList{"curl", "jq"}}},
		{name: "pin", p: Package{Names: StringList{"nginx"}, Version: "1:1.22.1-9+deb12u1"}},
		{name: "dpkg", p: Package{Names: StringList{"xy"}, Source: "xy.deb"}},
		{name: "dpkg absent", p: Package{Names: StringList{"xy", "yz"}, Provider: "dpkg", State: "absent"}},
		{name: "bad name", p: Package{Names: StringList{"-o"}}, want: `package: bad package name "-o": expected lower-case letters, digits and + . -`},
		{name: "pin two", p: Package{Names: StringList{"a1", "b1"}, Version: "1.0"}, want: "version: a version pins a single package: split the list into one promise per pinned package"},
		{name: "pin latest", p: Package{Names: StringList{"a1"}, Version: "1.0", State: "latest"}, want: "version: a version only goes with state installed, not latest"},
		{name: "bad version", p: Package{Names: StringList{"a1"}, Version: "latest"}, want: `version: bad version "latest": expected a Debian version such as 1.2-3`},
		{name: "state", p: Package{Names: StringList{"a1"}, State: "instaled"}, want: `state: unknown state "instaled": expected one of [installed absent latest] (did you mean "installed"?)`},
		{name: "provider", p: Package{Names: StringList{"a1"}, Provider: "yum"}, want: `provider: unknown provider "yum": expected apt or dpkg`},
		{name: "apt source", p: Package{Names: StringList{"a1"}, Provider: "apt", Source: "x.deb"}, want: "source: source installs a .deb file: it needs provider dpkg"},
		{name: "dpkg no source", p: Package{Names: StringList{"a1"}, Provider: "dpkg"}, want: "source: provider dpkg installs a .deb file: expected source: path/to/package.deb"},
		{name: "dpkg latest", p: Package{Names: StringList{"a1"}, Provider: "dpkg", State: "latest"}, want: "state: provider dpkg cannot find the latest version: use apt, or install a .deb with state installed"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, fe := range tt.p.Validate() {
				got = append(got, fe.Error())
			}
			if strings.Join(got, "; ") != tt.want {
				t.Errorf("Validate() = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestPackageCheckHost checks, read-only, the host's own package database.
func TestPackageCheckHost(t *testing.T) {
	if _, err := os.Stat(aptGet); err != nil {
		t.Skip("no apt on this host")
	}
	p := &Package{Names: StringList{"dpkg", "phenix-no-such-package"}}
	d, err := p.Check(t.Context(), &Env{})
	if err != nil {
		t.Fatal(err)
	}
	want := []Change{{Field: "package phenix-no-such-package", Before: "(absent)", After: "installed"}}
	if diff := cmp.Diff(want, d.Changes); diff != "" {
		t.Errorf("Check changes (-want +got):\n%s", diff)
	}
	wantCmd := "apt-get install -y -q --no-install-recommends -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold -o DPkg::Lock::Timeout=120 phenix-no-such-package"
	if d.Command != wantCmd {
		t.Errorf("Command = %s\nwant      %s", d.Command, wantCmd)
	}
	p = &Package{Names: StringList{"dpkg"}, State: "absent"}
	if d, err = p.Check(t.Context(), &Env{}); err != nil || len(d.Changes) != 1 || d.Changes[0].After != "(absent)" {
		t.Errorf("Check absent dpkg = %+v, %v; want one change to (absent)", d, err)
	}
}
