package containertest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestPackagesIndex(t *testing.T) {
	entries := []indexEntry{
		{
			pkg:    DebPackage{Name: "phenix-hello", Version: "1.0", Files: map[string]string{"/usr/share/phenix-hello/VERSION": "1.0\n"}},
			size:   700,
			md5:    "0123456789abcdef0123456789abcdef",
			sha256: "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
		},
		{
			pkg:    DebPackage{Name: "phenix-dep", Version: "2:1.1-3", Depends: "phenix-hello (>= 1.0)"},
			size:   650,
			md5:    "fedcba9876543210fedcba9876543210",
			sha256: "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100",
		},
	}
	want := `Package: phenix-hello
Version: 1.0
Architecture: all
Maintainer: phenix tests <tests@phenix.invalid>
Installed-Size: 1
Filename: ./phenix-hello_1.0_all.deb
Size: 700
MD5sum: 0123456789abcdef0123456789abcdef
SHA256: 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff
Description: phenix test package phenix-hello 1.0

Package: phenix-dep
Version: 2:1.1-3
Architecture: all
Maintainer: phenix tests <tests@phenix.invalid>
Installed-Size: 1
Depends: phenix-hello (>= 1.0)
Filename: ./phenix-dep_1.1-3_all.deb
Size: 650
MD5sum: fedcba9876543210fedcba9876543210
SHA256: ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100
Description: phenix test package phenix-dep 2:1.1-3
`
	if diff := cmp.Diff(want, string(packagesIndex(entries))); diff != "" {
		t.Errorf("packagesIndex (-want +got):\n%s", diff)
	}
}

func TestReleaseFile(t *testing.T) {
	date := time.Date(2025, 5, 20, 12, 0, 0, 0, time.UTC)
	want := `Origin: phenix-test
Label: phenix-test
Date: Tue, 20 May 2025 12:00:00 UTC
SHA256:
 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 0 Packages
`
	if diff := cmp.Diff(want, string(releaseFile(nil, date))); diff != "" {
		t.Errorf("releaseFile (-want +got):\n%s", diff)
	}
}

func TestInstalledSize(t *testing.T) {
	for _, tt := range []struct {
		files map[string]string
		want  int64
	}{
		{files: nil, want: 1},
		{files: map[string]string{"/a": "x"}, want: 1},
		{files: map[string]string{"/a": string(make([]byte, 1024)), "/b": string(make([]byte, 1025))}, want: 3},
	} {
		if got := (DebPackage{Files: tt.files}).installedSize(); got != tt.want {
			t.Errorf("installedSize of %d files = %d, want %d", len(tt.files), got, tt.want)
		}
	}
}

func TestContainerName(t *testing.T) {
	got := containerName("TestApt/install 1.0#01")
	const prefix = "phenix-test-testapt_install_1.0_01-"
	if len(got) != len(prefix)+8 || got[:len(prefix)] != prefix {
		t.Errorf("containerName = %q, want %q and 8 hex digits", got, prefix)
	}
	if long := containerName(string(make([]byte, 300))); len(long) > 80 {
		t.Errorf("containerName of a long name has %d bytes, want at most 80", len(long))
	}
	if a, b := containerName("T"), containerName("T"); a == b {
		t.Errorf("containerName twice = %q both times, want unique names", a)
	}
}
