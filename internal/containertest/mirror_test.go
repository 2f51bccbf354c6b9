package containertest

import "testing"

func TestMirrorFromDeb822(t *testing.T) {
	for _, tt := range []struct {
		name, data, want string
	}{
		{name: "debian default", want: "http://deb.debian.org/debian", data: `Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
`},
		{name: "security only", want: "", data: `Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
`},
		{name: "disabled stanza skipped", want: "http://mirror.example/debian", data: `Types: deb
URIs: http://disabled.example/debian
Suites: bookworm
Enabled: no

Types: deb-src deb
URIs: cdrom:/media http://mirror.example/debian
Suites: bookworm
`},
		{name: "deb-src only", want: "", data: `Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
`},
		{name: "continuation lines", want: "https://a.example/debian", data: `Types: deb
URIs:
 https://a.example/debian
 https://b.example/debian
Suites: trixie
 bookworm
`},
		{name: "other distribution", want: "", data: `Types: deb
URIs: https://deb.nodesource.com/node_20.x
Suites: nodistro
`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := mirrorFromDeb822(tt.data, "bookworm"); got != tt.want {
				t.Errorf("mirrorFromDeb822 = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestMirrorFromList(t *testing.T) {
	for _, tt := range []struct {
		name, data, want string
	}{
		{name: "plain", data: "deb http://deb.debian.org/debian bookworm main\n", want: "http://deb.debian.org/debian"},
		{name: "options", data: "deb [arch=amd64 signed-by=/k.gpg] http://m.example/debian bookworm main contrib\n", want: "http://m.example/debian"},
		{name: "spaced options", data: "deb [ trusted=yes ] file:/srv/mirror bookworm main\n", want: "file:/srv/mirror"},
		{name: "comments and deb-src", data: "# deb http://old.example/debian bookworm main\ndeb-src http://src.example/debian bookworm main\ndeb http://new.example/debian bookworm main # note\n", want: "http://new.example/debian"},
		{name: "other suite", data: "deb http://deb.debian.org/debian-security bookworm-security main\n", want: ""},
		{name: "other repository", data: "deb https://packages.cloud.google.com/apt cloud-sdk-bookworm main\n", want: ""},
		{name: "cdrom", data: "deb cdrom:[Debian 12]/ bookworm main\n", want: ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := mirrorFromList(tt.data, "bookworm"); got != tt.want {
				t.Errorf("mirrorFromList = %q, want %q", got, tt.want)
			}
		})
	}
}
