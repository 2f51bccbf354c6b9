package supervisor

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Spec is what a supervisor runs. Every field is part of its Hash: a
// change to any of them needs the supervisor to be restarted.
type Spec struct {
	// Name names the service and its files.
	Name string `json:"name"`
	// Command is the program and its arguments; Command[0] is looked up in
	// the child's PATH when it has no slash.
	Command []string `json:"command"`
	// Env is added to the child's environment, over the defaults.
	Env map[string]string `json:"env,omitempty"`
	// User runs the child as this user (a name or a uid) with the groups
	// /etc/passwd and /etc/group give it; "" keeps the supervisor's user.
	User string `json:"user,omitempty"`
	// Cwd is the child's working directory; "" means "/".
	Cwd string `json:"cwd,omitempty"`
	// Log is the file the child's stdout and stderr, and the supervisor's
	// log lines, are appended to.
	Log string `json:"log"`
	// Pidfile is where the child's pid is written while it runs.
	Pidfile string `json:"pidfile"`
	// ReloadSignal is sent to the child on SIGUSR1 ("HUP").
	ReloadSignal string `json:"reload_signal"`
	// StopSignal is sent to the child's process group to stop it ("TERM").
	StopSignal string `json:"stop_signal"`
	// StopTimeout is how long a stopping child is given before SIGKILL.
	StopTimeout time.Duration `json:"stop_timeout_ns"`
}

// Hash identifies the Spec: the hex SHA-256 of its JSON form (in which
// encoding/json sorts the Env keys).
func (s Spec) Hash() string {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err) // a Spec always marshals
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Validate checks what Run needs.
func (s Spec) Validate() error {
	switch {
	case !ValidName(s.Name):
		return fmt.Errorf("bad service name %q", s.Name)
	case len(s.Command) == 0 || s.Command[0] == "":
		return fmt.Errorf("service %s: empty command", s.Name)
	case !filepath.IsAbs(s.Log) || !filepath.IsAbs(s.Pidfile):
		return fmt.Errorf("service %s: log and pidfile must be absolute paths", s.Name)
	}
	if _, err := ParseSignal(s.ReloadSignal); err != nil {
		return fmt.Errorf("service %s: reload signal: %w", s.Name, err)
	}
	if _, err := ParseSignal(s.StopSignal); err != nil {
		return fmt.Errorf("service %s: stop signal: %w", s.Name, err)
	}
	return nil
}

// ValidName reports whether name can name a service and its files:
// letters, digits and "_.@-", not starting with "." or "-".
func ValidName(name string) bool {
	if name == "" || name[0] == '.' || name[0] == '-' || len(name) > 200 {
		return false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_.@-", r)) {
			return false
		}
	}
	return true
}

// State is the content of a service's state file.
type State struct {
	Spec Spec `json:"spec"`
	// Hash is Spec.Hash() when the file was written.
	Hash string `json:"hash"`
	// Enabled services are started by `phenix supervise --boot`.
	Enabled bool `json:"enabled"`
	// SupervisorPidfile is where the supervisor of this service writes its
	// own pid.
	SupervisorPidfile string `json:"supervisor_pidfile"`
}

// ReadState reads a state file. A missing file is an error that wraps
// fs.ErrNotExist.
func ReadState(path string) (*State, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var st State
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return &st, nil
}

// WriteState writes st to path atomically, setting st.Hash, and creates
// the directory that holds it.
func WriteState(path string, st *State) error {
	st.Hash = st.Spec.Hash()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // keep a shell command's > and & readable
	enc.SetIndent("", "  ")
	if err := enc.Encode(st); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return writeFile(path, b.Bytes(), 0o600)
}

// Dirs are the directories that hold the files of services.
type Dirs struct {
	State string // state files, NAME.json
	Run   string // pid files
	Log   string // default log files, NAME.log
}

// DefaultDirs returns the directories a host uses.
func DefaultDirs() Dirs {
	return Dirs{State: "/var/lib/phenix/services", Run: "/run/phenix", Log: "/var/log/phenix"}
}

// StateFile is the path of the state file of service name.
func (d Dirs) StateFile(name string) string { return filepath.Join(d.State, name+".json") }

// SupervisorPidfile is the path of the pid file of the supervisor of name.
func (d Dirs) SupervisorPidfile(name string) string {
	return filepath.Join(d.Run, name+".supervisor.pid")
}

// Pidfile is the default path of the child's pid file.
func (d Dirs) Pidfile(name string) string { return filepath.Join(d.Run, name+".pid") }

// LogFile is the default path of the service's log file.
func (d Dirs) LogFile(name string) string { return filepath.Join(d.Log, name+".log") }

var signals = map[string]syscall.Signal{
	"HUP": syscall.SIGHUP, "INT": syscall.SIGINT, "QUIT": syscall.SIGQUIT,
	"KILL": syscall.SIGKILL, "USR1": syscall.SIGUSR1, "USR2": syscall.SIGUSR2,
	"TERM": syscall.SIGTERM, "WINCH": syscall.SIGWINCH, "CONT": syscall.SIGCONT,
	"STOP": syscall.SIGSTOP, "ALRM": syscall.SIGALRM, "PWR": syscall.SIGPWR,
}

// SignalNames lists the signal names ParseSignal accepts, without "SIG".
func SignalNames() []string {
	return []string{"HUP", "INT", "QUIT", "KILL", "USR1", "USR2", "TERM", "WINCH", "CONT", "STOP", "ALRM", "PWR"}
}

// ParseSignal reads a signal name such as "HUP" or "SIGHUP".
func ParseSignal(name string) (syscall.Signal, error) {
	s, ok := signals[strings.TrimPrefix(strings.ToUpper(name), "SIG")]
	if !ok {
		return 0, fmt.Errorf("unknown signal %q: expected one of %s", name, strings.Join(SignalNames(), ", "))
	}
	return s, nil
}

// writeFile writes data to path through a temporary file renamed into
// place.
func writeFile(path string, data []byte, perm os.FileMode) error {
	var b [6]byte
	_, _ = rand.Read(b[:])
	tmp := filepath.Join(filepath.Dir(path), ".phenix-"+filepath.Base(path)+"-"+hex.EncodeToString(b[:]))
	if err := os.WriteFile(tmp, data, perm); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}
