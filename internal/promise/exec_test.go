package promise

import (
	"context"
	"errors"
	"github.com/phenixhq/phenix/internal/testenv"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// checkApply runs Check and, when the Diff is not empty, Apply, as the
// engine does. It returns the Diff.
func checkApply(t *testing.T, r Resource) *Diff {
	t.Helper()
	ctx := t.Context()
	d, err := r.Check(ctx, &Env{})
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	if !d.Empty() {
		if err := r.Apply(ctx, &Env{}, d); err != nil {
			t.Fatalf("Apply: %v", err)
		}
	}
	return d
}

func readString(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestExecGuards(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	for _, tt := range []struct {
		name    string
		e       Exec
		wantRun bool
	}{
		{name: "plain", e: Exec{}, wantRun: true},
		{name: "creates missing", e: Exec{Creates: filepath.Join(dir, "missing")}, wantRun: true},
		{name: "creates present", e: Exec{Creates: dir}, wantRun: false},
		{name: "unless true", e: Exec{Unless: "true"}, wantRun: false},
		{name: "unless false", e: Exec{Unless: "exit 3"}, wantRun: true},
		{name: "onlyif true", e: Exec{OnlyIf: "test -d " + dir}, wantRun: true},
		{name: "onlyif false", e: Exec{OnlyIf: "false"}, wantRun: false},
		{name: "unless wins over onlyif", e: Exec{Unless: "true", OnlyIf: "true"}, wantRun: false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			os.Remove(out)
			e := tt.e
			e.Command = "echo ran >> " + out
			d := checkApply(t, &e)
			if got := !d.Empty(); got != tt.wantRun {
				t.Fatalf("Check diff = %+v, want run %v", d, tt.wantRun)
			}
			_, err := os.Stat(out)
			if ran := err == nil; ran != tt.wantRun {
				t.Errorf("command ran = %v, want %v", ran, tt.wantRun)
			}
			if tt.wantRun && d.Command != e.Command {
				t.Errorf("Diff.Command = %q, want %q", d.Command, e.Command)
			}
		})
	}
}

func TestExecEnvCwdArgs(t *testing.T) {
	dir := t.TempDir()
	t.Run("shell", func(t *testing.T) {
		e := &Exec{
			Command: `printf '%s|%s|%s' "$GREETING" "$(pwd)" "$PATH" > out`,
			Cwd:     dir,
			Env:     map[string]string{"GREETING": "hello world"},
		}
		checkApply(t, e)
		parts := strings.Split(readString(t, filepath.Join(dir, "out")), "|")
		if parts[0] != "hello world" || parts[1] != dir || parts[2] == "" {
			t.Errorf("env, cwd, PATH = %q, want %q, %q and a PATH", parts[0], parts[1], dir)
		}
	})
	t.Run("args", func(t *testing.T) {
		out := filepath.Join(dir, "args")
		e := &Exec{Command: "write args", Args: []string{"/bin/sh", "-c", `printf '%s' "$1" > "$2"`, "sh", "$HOME; rm -rf /", out}}
		d := checkApply(t, e)
		if got := readString(t, out); got != "$HOME; rm -rf /" {
			t.Errorf("argument = %q, want it passed without a shell", got)
		}
		if want := `/bin/sh -c 'printf '\''%s'\'' "$1" > "$2"' sh '$HOME; rm -rf /' ` + out; d.Command != want {
			t.Errorf("Diff.Command = %s\nwant           %s", d.Command, want)
		}
	})
}

func TestExecReturns(t *testing.T) {
	ctx := t.Context()
	t.Run("accepted", func(t *testing.T) {
		e := &Exec{Command: "exit 3", Returns: []int{0, 3}}
		if err := e.Apply(ctx, &Env{}, nil); err != nil {
			t.Fatalf("Apply: %v", err)
		}
	})
	t.Run("refused", func(t *testing.T) {
		e := &Exec{Command: "echo to stdout; echo first >&2; echo 'the reason' >&2; exit 4"}
		err := e.Apply(ctx, &Env{}, nil)
		if err == nil || err.Error() != "exit status 4: first\nthe reason" {
			t.Fatalf("Apply error = %v, want exit status 4 and stderr", err)
		}
	})
	t.Run("refused with returns", func(t *testing.T) {
		e := &Exec{Command: "echo only stdout; exit 0", Returns: []int{2}}
		err := e.Apply(ctx, &Env{}, nil)
		if err == nil || err.Error() != "exit status 0: only stdout (expected 2)" {
			t.Fatalf("Apply error = %v, want exit status 0, stdout and the accepted codes", err)
		}
	})
	t.Run("output is bounded", func(t *testing.T) {
		e := &Exec{Command: `i=0; while [ $i -lt 3000 ]; do echo "line $i of noise" >&2; i=$((i+1)); done; echo LAST >&2; exit 1`}
		err := e.Apply(ctx, &Env{}, nil)
		if err == nil || !strings.HasSuffix(err.Error(), "line 2999 of noise\nLAST") {
			t.Fatalf("Apply error = %v, want the last lines", err)
		}
		if n := strings.Count(err.Error(), "\n"); n >= maxTailLines {
			t.Errorf("error has %d lines, want fewer than %d", n+1, maxTailLines+1)
		}
		res, err := runCommand(ctx, cmdSpec{Shell: `head -c 100000 /dev/zero | tr '\0' x; echo; echo END`})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Stdout) > maxCmdOutput || !strings.HasSuffix(string(res.Stdout), "END\n") {
			t.Errorf("kept %d bytes of stdout ending %q, want at most %d ending with END", len(res.Stdout), res.Stdout[max(0, len(res.Stdout)-10):], maxCmdOutput)
		}
	})
}

func TestExecTimeoutKillsProcessGroup(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pid")
	e := &Exec{
		// The background sleep is a grandchild: only a process-group kill
		// reaches it.
		Command: "sleep 60 & echo $! > " + pidFile + "; wait",
		Timeout: Duration{300 * time.Millisecond},
	}
	t0 := time.Now()
	err := e.Apply(t.Context(), &Env{}, nil)
	if !errors.Is(err, errTimeout) {
		t.Fatalf("Apply error = %v, want a timeout", err)
	}
	if took := time.Since(t0); took > cmdWaitDelay+2*time.Second {
		t.Errorf("Apply took %v after a 300ms timeout", took)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(readString(t, pidFile)))
	if err != nil {
		t.Fatal(err)
	}
	// The killed sleep may linger as a zombie until something reaps it.
	deadline := time.Now().Add(5 * time.Second)
	for {
		stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil || processState(string(stat)) == "Z" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("background child %d still alive after the timeout: %s", pid, stat)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// processState returns the state letter of a /proc/PID/stat line.
func processState(stat string) string {
	if i := strings.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) {
		return stat[i+2 : i+3]
	}
	return ""
}

func TestExecBackgroundChildDoesNotBlock(t *testing.T) {
	// A daemon started by the command keeps stdout open; the command's own
	// exit must still be seen after cmdWaitDelay at most.
	e := &Exec{Command: "sleep 30 & echo started", Timeout: Duration{20 * time.Second}}
	t0 := time.Now()
	if err := e.Apply(t.Context(), &Env{}, nil); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if took := time.Since(t0); took > cmdWaitDelay+time.Second {
		t.Errorf("Apply took %v, want at most about %v", took, cmdWaitDelay)
	}
}

func TestExecCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(200*time.Millisecond, cancel)
	e := &Exec{Command: "sleep 60"}
	if err := e.Apply(ctx, &Env{}, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("Apply error = %v, want context.Canceled", err)
	}
}

func TestExecUser(t *testing.T) {
	testenv.Require(t, "root") // running as another user needs root
	nobody, err := lookupAccount("nobody")
	if err != nil {
		t.Skipf("no nobody user: %v", err)
	}
	dir := t.TempDir()
	// t.TempDir's parent is private to root: open both to nobody.
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o777); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(dir, "id")
	e := &Exec{Command: `echo "$(id -u) $(id -g) $(id -G) $USER" > ` + out, User: "nobody", Unless: "test -e " + out}
	checkApply(t, e)
	fields := strings.Fields(readString(t, out))
	want := []string{strconv.Itoa(nobody.uid), strconv.Itoa(nobody.gid)}
	if len(fields) < 4 || fields[0] != want[0] || fields[1] != want[1] || fields[len(fields)-1] != "nobody" {
		t.Errorf("id = %q, want uid %s gid %s and USER=nobody", fields, want[0], want[1])
	}
	for _, g := range fields[2 : len(fields)-1] {
		if g == "0" {
			t.Errorf("supplementary groups %v keep root's group", fields[2:len(fields)-1])
		}
	}
	st, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	if uid := fileUID(st); uid != nobody.uid {
		t.Errorf("file owner = %d, want %d", uid, nobody.uid)
	}
	if d := checkApply(t, e); !d.Empty() {
		t.Errorf("second Check = %+v, want the unless guard to skip", d)
	}
	t.Run("unknown user", func(t *testing.T) {
		e := &Exec{Command: "true", User: "no-such-user-here"}
		if err := e.Apply(t.Context(), &Env{}, nil); err == nil || !strings.Contains(err.Error(), `no user "no-such-user-here"`) {
			t.Errorf("Apply error = %v, want no such user", err)
		}
	})
}

func TestExecRefreshOnce(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "log")
	ctx := t.Context()
	e := &Exec{Command: "echo x >> " + log}
	d := checkApply(t, e)
	if d.Empty() {
		t.Fatal("Check found nothing to run")
	}
	if what, err := e.Refresh(ctx, &Env{}); err != nil || what != "" {
		t.Errorf("Refresh after Apply = %q, %v; want nothing", what, err)
	}
	if got := readString(t, log); got != "x\n" {
		t.Errorf("command ran %d times, want once", strings.Count(got, "x"))
	}
	ro := &Exec{Command: "echo y >> " + log, RefreshOnly: true}
	if d := checkApply(t, ro); !d.Empty() {
		t.Errorf("refresh-only Check = %+v, want empty", d)
	}
	if what, err := ro.Refresh(ctx, &Env{}); err != nil || what != "ran" {
		t.Errorf("Refresh = %q, %v; want ran", what, err)
	}
	if got := ro.RefreshPlan(); got != "would run echo y >> "+log {
		t.Errorf("RefreshPlan = %q", got)
	}
}

func TestExecValidate(t *testing.T) {
	for _, tt := range []struct {
		name string
		e    Exec
		want string
	}{
		{name: "ok", e: Exec{Command: "true", Cwd: "/tmp", Env: map[string]string{"A_1": "x"}, Returns: []int{0, 2}}},
		{name: "relative cwd", e: Exec{Command: "true", Cwd: "tmp"}, want: `cwd: expected an absolute path, got "tmp"`},
		{name: "relative creates", e: Exec{Command: "true", Creates: "x"}, want: `creates: expected an absolute path, got "x"`},
		{name: "env name", e: Exec{Command: "true", Env: map[string]string{"A-B": "x"}}, want: `env: bad variable name "A-B": expected letters, digits and _`},
		{name: "empty args", e: Exec{Command: "x", Args: []string{}}, want: "args: expected the program and its arguments, for example [make, install]"},
		{name: "returns", e: Exec{Command: "x", Returns: []int{256}}, want: "returns: exit code 256 is out of range 0-255"},
		{name: "timeout", e: Exec{Command: "x", Timeout: Duration{-time.Second}}, want: "timeout: expected a positive duration, got -1s"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, fe := range tt.e.Validate() {
				got = append(got, fe.Error())
			}
			if strings.Join(got, "; ") != tt.want {
				t.Errorf("Validate() = %q, want %q", got, tt.want)
			}
		})
	}
}

func fileUID(st os.FileInfo) int {
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		return int(sys.Uid)
	}
	return -1
}
