package agent

import (
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestCodeRegions drops the code pages of the running test binary, as an
// idle agent does, and goes on running: they come back from the page cache.
func TestCodeRegions(t *testing.T) {
	regions := codeRegions()
	if len(regions) == 0 {
		t.Fatal("no read-only mapping of the executable found in /proc/self/maps")
	}
	for _, r := range regions {
		if _, _, errno := unix.Syscall(unix.SYS_MADVISE, r[0], r[1]-r[0], unix.MADV_DONTNEED); errno != 0 {
			t.Fatalf("madvise %x-%x: %v", r[0], r[1], errno)
		}
	}
	// Code and read-only data still work after the drop.
	b, err := os.ReadFile("/proc/self/status")
	if err != nil || !strings.Contains(string(b), "VmRSS") {
		t.Fatalf("after the drop: %v", err)
	}
}
