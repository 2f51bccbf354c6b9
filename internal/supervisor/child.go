package supervisor

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// defaultPath is the PATH of a child whose Spec sets none.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// The account databases the child's user is looked up in.
const (
	passwdFile = "/etc/passwd"
	groupFile  = "/etc/group"
)

// child is one run of the service's command.
type child struct {
	pid     int
	started time.Time
	done    chan struct{} // closed once the process has been waited for
	err     error         // what Wait returned; read after done
	logf    *os.File
}

// start starts the child as the Spec says and writes its pid file.
func (s *Supervisor) start() (*child, error) {
	spec := s.Spec
	env, cred, err := childEnv(spec)
	if err != nil {
		return nil, err
	}
	path, err := lookPath(spec.Command[0], envValue(env, "PATH"))
	if err != nil {
		return nil, err
	}
	logf, err := openLog(spec.Log)
	if err != nil {
		return nil, err
	}
	dir := spec.Cwd
	if dir == "" {
		dir = "/"
	}
	cmd := &exec.Cmd{
		Path:   path,
		Args:   spec.Command,
		Env:    env,
		Dir:    dir,
		Stdout: logf,
		Stderr: logf,
		SysProcAttr: &syscall.SysProcAttr{
			Setpgid: true, // its own group, so that stopping it reaches its children
			// Should the supervisor be killed, the child dies with it rather
			// than outlive it unsupervised beside the next supervisor's child.
			Pdeathsig:  syscall.SIGKILL,
			Credential: cred,
		},
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	c := &child{pid: cmd.Process.Pid, started: time.Now(), done: make(chan struct{}), logf: logf}
	go func() {
		c.err = cmd.Wait()
		close(c.done)
	}()
	if err := os.MkdirAll(filepath.Dir(spec.Pidfile), 0o755); err == nil {
		err = writeFile(spec.Pidfile, []byte(strconv.Itoa(c.pid)+"\n"), 0o644)
	}
	if err != nil {
		s.stop(c, slog.New(slog.DiscardHandler))
		return nil, fmt.Errorf("write pid file: %w", err)
	}
	return c, nil
}

// stop sends the stop signal to the child's process group, waits for the
// child until the stop timeout, then kills the group, and reaps the child.
func (s *Supervisor) stop(c *child, log *slog.Logger) {
	sig, _ := ParseSignal(s.Spec.StopSignal)
	log.Info("stopping", "pid", c.pid, "signal", sig.String())
	signalGroup(c.pid, sig)
	t := time.NewTimer(s.Spec.StopTimeout)
	defer t.Stop()
	select {
	case <-c.done:
	case <-t.C:
		log.Warn("not stopped in time: killing its process group", "pid", c.pid, "timeout", s.Spec.StopTimeout)
		signalGroup(c.pid, syscall.SIGKILL)
		<-c.done
	}
	log.Info("stopped", "pid", c.pid, "status", exitStatus(c.err))
	s.reap(c)
}

// reap cleans up after a child that was waited for: it kills what is left
// of its process group (a pgid is not reused while a member lives), and
// removes its pid file.
func (s *Supervisor) reap(c *child) {
	_ = syscall.Kill(-c.pid, syscall.SIGKILL)
	if b, err := os.ReadFile(s.Spec.Pidfile); err == nil && strings.TrimSpace(string(b)) == strconv.Itoa(c.pid) {
		os.Remove(s.Spec.Pidfile)
	}
	c.logf.Close()
}

// signalGroup sends sig to the process group led by pid, or to pid alone
// when it left that group.
func signalGroup(pid int, sig syscall.Signal) {
	if err := syscall.Kill(-pid, sig); errors.Is(err, syscall.ESRCH) {
		_ = syscall.Kill(pid, sig)
	}
}

// exitStatus describes how a child ended, from what Wait returned.
func exitStatus(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

// childEnv builds the child's environment, sorted: PATH, HOME, USER and
// LOGNAME, then the Spec's Env over them. It also returns the credential
// to run as, nil to keep the supervisor's own.
func childEnv(spec Spec) ([]string, *syscall.Credential, error) {
	m := map[string]string{"PATH": defaultPath}
	var cred *syscall.Credential
	who := spec.User
	if who == "" {
		who = strconv.Itoa(os.Getuid())
	}
	acct, err := lookupAccount(passwdFile, groupFile, who)
	switch {
	case err == nil:
		m["HOME"], m["USER"], m["LOGNAME"] = acct.home, acct.name, acct.name
		if spec.User != "" {
			cred = &syscall.Credential{Uid: acct.uid, Gid: acct.gid, Groups: acct.groups}
		}
	case spec.User != "":
		return nil, nil, err
	}
	for k, v := range spec.Env {
		m[k] = v
	}
	env := make([]string, 0, len(m))
	for k, v := range m {
		env = append(env, k+"="+v)
	}
	sort.Strings(env)
	return env, cred, nil
}

func envValue(env []string, key string) string {
	for _, kv := range env {
		if k, v, _ := strings.Cut(kv, "="); k == key {
			return v
		}
	}
	return ""
}

// lookPath finds file in the directories of path, the child's PATH (not
// the supervisor's, which exec.LookPath would use).
func lookPath(file, path string) (string, error) {
	if strings.Contains(file, "/") {
		return file, nil
	}
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, file)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: not found in PATH %s", file, path)
}

// openLog opens the log file for appending, creating it and its directory.
func openLog(path string) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	return os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
}
