package supervisor

import (
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestIsSupervise(t *testing.T) {
	const state = "/var/lib/phenix/services/web.json"
	for _, tt := range []struct {
		args []string
		want bool
	}{
		{args: []string{"/usr/local/bin/phenix", "supervise", "--state", state, "--ready-fd", "3"}, want: true},
		{args: []string{"phenix", "supervise", "--state=" + state}, want: true},
		{args: []string{"phenix", "supervise", "--state", "/var/lib/phenix/services/db.json"}},
		{args: []string{"phenix", "supervise", "--detach", "--state", state}},
		{args: []string{"phenix", "apply", "--state", state}},
		{args: []string{"phenix", "supervise", "--state"}},
		{args: []string{"sleep", "300"}},
		{args: nil},
	} {
		if got := isSupervise(tt.args, state); got != tt.want {
			t.Errorf("isSupervise(%q) = %v, want %v", tt.args, got, tt.want)
		}
	}
}

func TestParseSignal(t *testing.T) {
	for in, want := range map[string]syscall.Signal{"HUP": syscall.SIGHUP, "SIGTERM": syscall.SIGTERM, "usr1": syscall.SIGUSR1, "QUIT": syscall.SIGQUIT} {
		if got, err := ParseSignal(in); err != nil || got != want {
			t.Errorf("ParseSignal(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := ParseSignal("HUPP"); err == nil {
		t.Error("ParseSignal(HUPP) succeeded")
	}
}

func TestValidName(t *testing.T) {
	for name, want := range map[string]bool{
		"web": true, "getty@tty1": true, "my_app-2.service": true,
		"": false, ".hidden": false, "-x": false, "a/b": false, "a b": false, "../x": false,
	} {
		if got := ValidName(name); got != want {
			t.Errorf("ValidName(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestHashFollowsTheSpec(t *testing.T) {
	base := Spec{Name: "web", Command: []string{"web"}, Env: map[string]string{"A": "1", "B": "2"}, Log: "/l", Pidfile: "/p", StopTimeout: time.Second}
	same := base
	same.Env = map[string]string{"B": "2", "A": "1"}
	if base.Hash() != same.Hash() {
		t.Error("hash depends on the order of env")
	}
	for name, change := range map[string]func(*Spec){
		"command": func(s *Spec) { s.Command = []string{"web", "-v"} },
		"env":     func(s *Spec) { s.Env = map[string]string{"A": "1"} },
		"user":    func(s *Spec) { s.User = "www-data" },
		"timeout": func(s *Spec) { s.StopTimeout = 2 * time.Second },
	} {
		s := base
		change(&s)
		if s.Hash() == base.Hash() {
			t.Errorf("hash ignores a change of %s", name)
		}
	}
}

func TestStateRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "services", "web.json")
	st := &State{Spec: Spec{Name: "web", Command: []string{"web"}, Log: "/l", Pidfile: "/p"}, Enabled: true, SupervisorPidfile: "/run/phenix/web.supervisor.pid"}
	if err := WriteState(path, st); err != nil {
		t.Fatal(err)
	}
	got, err := ReadState(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(st, got); diff != "" {
		t.Errorf("ReadState (-wrote +read):\n%s", diff)
	}
	if got.Hash != st.Spec.Hash() {
		t.Errorf("stored hash %s, want %s", got.Hash, st.Spec.Hash())
	}
}

func TestLookPathUsesTheChildPath(t *testing.T) {
	if got, err := lookPath("sh", "/nonexistent:/bin"); err != nil || got != "/bin/sh" {
		t.Errorf("lookPath(sh) = %q, %v; want /bin/sh", got, err)
	}
	if _, err := lookPath("sh", "/nonexistent"); err == nil {
		t.Error("lookPath found sh outside the child's PATH")
	}
}
