package agent

import (
	"bufio"
	"context"
	"debug/elf"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// An agent gives back the pages it is not using trimFirst after it
// starts, then every trimEvery.
const (
	trimFirst = 10 * time.Second
	trimEvery = 30 * time.Second
)

// trimLoop keeps an idle agent small. One binary plays every part of
// phenix, and starting it touches the code and tables of all of them (the
// package initialisers of the NATS server, SQLite and PostgreSQL drivers
// run in the agent too), which an idle agent never touches again. Every
// trimEvery it drops its executable's read-only pages from its resident
// set (they stay in the page cache, and come back from it at the next
// access, so the working set of an idle agent — the heartbeat, the bus
// connection — returns at once and the rest stays out) and returns freed
// heap to the system.
func (a *agent) trimLoop(ctx context.Context) error {
	regions := codeRegions()
	t := time.NewTimer(trimFirst)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			t.Reset(trimEvery)
			a.convMu.Lock() // not in the middle of a convergence
			for _, r := range regions {
				_, _, _ = unix.Syscall(unix.SYS_MADVISE, r[0], r[1]-r[0], unix.MADV_DONTNEED)
			}
			a.convMu.Unlock()
			debug.FreeOSMemory()
		}
	}
}

// codeRegions returns the [start, end) of the mappings of this executable
// that are never written: its code, and its read-only data when the
// executable is not position-independent (a PIE's read-only data may have
// been written by relocation, and dropping it would undo that).
func codeRegions() [][2]uintptr {
	exe, err := os.Executable()
	if err != nil {
		return nil
	}
	f, err := elf.Open(exe)
	if err != nil {
		return nil
	}
	pie := f.Type != elf.ET_EXEC
	f.Close()
	maps, err := os.Open("/proc/self/maps")
	if err != nil {
		return nil
	}
	defer maps.Close()
	var out [][2]uintptr
	sc := bufio.NewScanner(maps)
	for sc.Scan() {
		// 00400000-00c2b000 r-xp 00000000 fd:01 1234   /usr/local/bin/phenix
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || fields[5] != exe {
			continue
		}
		perms := fields[1]
		if perms[1] == 'w' || (pie && perms[2] != 'x') {
			continue
		}
		lo, hi, ok := strings.Cut(fields[0], "-")
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if !ok || err1 != nil || err2 != nil {
			continue
		}
		out = append(out, [2]uintptr{uintptr(start), uintptr(end)})
	}
	return out
}
