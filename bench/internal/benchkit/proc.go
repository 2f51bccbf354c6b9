package benchkit

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Child is a process the benchmark started. Each runs in a process group
// of its own, so that a Ctrl-C on the terminal reaches the benchmark only
// and the benchmark stops its children in order; and each dies with the
// benchmark (Pdeathsig) if the benchmark is killed.
type Child struct {
	Name string
	Cmd  *exec.Cmd
	Done chan struct{} // closed when the process has exited
	Err  error         // of Wait, once done
	log  *os.File      // its stdout and stderr, or nil
}

// Children are the processes of one benchmark; StopAll ends those left.
type Children struct {
	mu   sync.Mutex
	list []*Child
}

// Start starts cmd as a child named name. Its output goes to logPath
// (appended) unless cmd already sends it somewhere.
func (cs *Children) Start(name string, cmd *exec.Cmd, logPath string) (*Child, error) {
	c := &Child{Name: name, Cmd: cmd, Done: make(chan struct{})}
	if logPath != "" {
		f, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return nil, fmt.Errorf("start %s: %w", name, err)
		}
		fmt.Fprintf(f, "\n==== %s: %s\n", time.Now().Format(time.RFC3339Nano), strings.Join(cmd.Args, " "))
		c.log = f
		cmd.Stdout, cmd.Stderr = f, f
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		if c.log != nil {
			c.log.Close()
		}
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		c.Err = cmd.Wait()
		if c.log != nil {
			c.log.Close()
		}
		close(c.Done)
	}()
	cs.mu.Lock()
	cs.list = append(cs.list, c)
	cs.mu.Unlock()
	return c, nil
}

func (c *Child) Pid() int { return c.Cmd.Process.Pid }

func (c *Child) Exited() bool {
	select {
	case <-c.Done:
		return true
	default:
		return false
	}
}

// Stop sends SIGTERM and waits for the process to exit, killing its whole
// process group after grace. It returns how long the process took to exit.
func (c *Child) Stop(grace time.Duration) time.Duration {
	t0 := time.Now()
	if c.Exited() {
		return 0
	}
	_ = c.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.Done:
	case <-time.After(grace):
		_ = syscall.Kill(-c.Pid(), syscall.SIGKILL)
		<-c.Done
	}
	return time.Since(t0)
}

// StopAll stops every child still running, the last started first.
func (cs *Children) StopAll() {
	cs.mu.Lock()
	list := cs.list
	cs.list = nil
	cs.mu.Unlock()
	for i := len(list) - 1; i >= 0; i-- {
		list[i].Stop(10 * time.Second)
	}
}

// Mem is what /proc/PID/status says of a process's memory, in KiB.
type Mem struct {
	RSS  int64 `json:"rss_kib"`      // VmRSS: resident now
	HWM  int64 `json:"peak_rss_kib"` // VmHWM: the most ever resident
	Anon int64 `json:"anon_kib"`     // RssAnon: heap, stacks
	File int64 `json:"file_kib"`     // RssFile: the pages of the executable (and files) mapped in
}

// ProcStatus reads the memory of process pid.
func ProcStatus(pid int) (Mem, error) {
	var m Mem
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return m, fmt.Errorf("memory of process %d: %w", pid, err)
	}
	defer f.Close()
	fields := map[string]*int64{"VmRSS": &m.RSS, "VmHWM": &m.HWM, "RssAnon": &m.Anon, "RssFile": &m.File}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ":")
		p := fields[k]
		if p == nil {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			return m, fmt.Errorf("memory of process %d: %s: %w", pid, k, err)
		}
		*p = n
	}
	if err := sc.Err(); err != nil {
		return m, fmt.Errorf("memory of process %d: %w", pid, err)
	}
	if m.RSS == 0 || m.HWM == 0 {
		return m, fmt.Errorf("memory of process %d: no VmRSS or VmHWM in /proc/%d/status", pid, pid)
	}
	return m, nil
}

// clockTicks is USER_HZ, the unit of the times in /proc/PID/stat; it is
// 100 on every Linux architecture Go supports.
const clockTicks = 100

// ProcCPU returns the user plus system CPU time process pid has used.
func ProcCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("CPU time of process %d: %w", pid, err)
	}
	// The command name (field 2) is in parentheses and may hold spaces.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, fmt.Errorf("CPU time of process %d: unexpected /proc/%d/stat", pid, pid)
	}
	f := strings.Fields(string(b[i+1:]))
	// After the name: state is field 3, utime 14 and stime 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("CPU time of process %d: unexpected /proc/%d/stat", pid, pid)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("CPU time of process %d: %w", pid, err)
	}
	return time.Duration(ut+st) * time.Second / clockTicks, nil
}

// LogTail returns the last lines of the file at path, indented.
func LogTail(path string, lines int) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return ""
	}
	const tailBytes = 16 << 10
	off := max(0, st.Size()-tailBytes)
	b := make([]byte, st.Size()-off)
	if _, err := f.ReadAt(b, off); err != nil && !errors.Is(err, io.EOF) {
		return ""
	}
	ls := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return "  " + strings.Join(ls[max(0, len(ls)-lines):], "\n  ")
}
