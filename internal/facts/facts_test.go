package facts

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

func TestGatherHost(t *testing.T) {
	f := Gather("")
	host, _ := os.Hostname()
	if f.OS != runtime.GOOS || f.Arch != runtime.GOARCH || f.Hostname != host || f.CPUCount != runtime.NumCPU() {
		t.Errorf("facts = %+v, want os %s arch %s hostname %s cpus %d", f, runtime.GOOS, runtime.GOARCH, host, runtime.NumCPU())
	}
	if runtime.GOOS == "linux" && (f.MemoryMB <= 0 || f.Kernel == "" || f.Machine == "") {
		t.Errorf("facts = %+v, want memory, kernel and machine", f)
	}
	m := f.Map()
	if m["hostname"] != host || m["cpu_count"].(float64) != float64(runtime.NumCPU()) {
		t.Errorf("Map() = %v", m)
	}
}

func TestOSReleaseUnderRoot(t *testing.T) {
	for _, tt := range []struct {
		release                  string
		family, name, version, c string
	}{
		{"ID=ubuntu\nID_LIKE=debian\nVERSION_ID=\"22.04\"\nVERSION_CODENAME=jammy\n", "debian", "ubuntu", "22.04", "jammy"},
		{"ID=debian\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\n", "debian", "debian", "12", "bookworm"},
		{"ID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\nVERSION_ID=\"9.3\"\n", "rhel", "rocky", "9.3", ""},
		{"ID=fedora\nVERSION_ID=40\n", "rhel", "fedora", "40", ""},
		{"ID=alpine\nVERSION_ID=3.19.1\n", "alpine", "alpine", "3.19.1", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(root, "etc/os-release"), []byte(tt.release), 0o644); err != nil {
				t.Fatal(err)
			}
			f := Gather(root)
			if f.OSFamily != tt.family || f.OSName != tt.name || f.OSVersion != tt.version || f.OSCodename != tt.c {
				t.Errorf("family %q name %q version %q codename %q, want %q %q %q %q", f.OSFamily, f.OSName, f.OSVersion, f.OSCodename, tt.family, tt.name, tt.version, tt.c)
			}
		})
	}
}
