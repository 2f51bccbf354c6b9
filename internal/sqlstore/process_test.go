package sqlstore_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"testing"

	"golang.org/x/sync/errgroup"

	"github.com/phenixhq/phenix/internal/journal"
	"github.com/phenixhq/phenix/internal/sqlstore"
	"github.com/phenixhq/phenix/internal/sqlstoretest"
)

// helperEnv, when set to a DSN, makes the test binary an appending process
// for TestProcesses instead of running tests.
const helperEnv = "PHENIX_SQLSTORE_TEST_APPEND"

// perProcess is how many entries each process appends in TestProcesses.
const perProcess = 100

func TestMain(m *testing.M) {
	if dsn := os.Getenv(helperEnv); dsn != "" {
		if err := appendProcess(dsn, os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// appendProcess opens dsn, says "ready" on out, waits for a line on in,
// and appends perProcess entries.
func appendProcess(dsn string, in io.Reader, out io.Writer) error {
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	fmt.Fprintln(out, "ready")
	if _, err := bufio.NewReader(in).ReadString('\n'); err != nil {
		return fmt.Errorf("wait for go: %w", err)
	}
	actor := "pid" + strconv.Itoa(os.Getpid())
	for i := range perProcess {
		if _, err := db.AppendJournal(ctx, journal.Entry{Actor: actor, Action: "apply", Summary: strconv.Itoa(i)}); err != nil {
			return err
		}
	}
	return nil
}

// TestProcesses appends from three processes at once, this one and two
// copies of the test binary, all started before any appends.
func TestProcesses(t *testing.T) {
	dsn := sqlstoretest.DSN(t)
	type child struct {
		cmd   *exec.Cmd
		start io.WriteCloser
	}
	var children []child
	for range 2 {
		cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), helperEnv+"="+dsn)
		cmd.Stderr = &testWriter{t}
		stdin, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// On failure: t.Context() ends, which kills the child, then it is
		// reaped. On success, Wait has already been called.
		t.Cleanup(func() { stdin.Close(); cmd.Wait() })
		if line, err := bufio.NewReader(stdout).ReadString('\n'); line != "ready\n" {
			t.Fatalf("child said %q, %v; want ready", line, err)
		}
		children = append(children, child{cmd, stdin})
	}
	db, err := sqlstore.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })

	var g errgroup.Group
	for _, c := range children {
		if _, err := io.WriteString(c.start, "go\n"); err != nil {
			t.Fatal(err)
		}
		g.Go(c.cmd.Wait)
	}
	g.Go(func() error {
		return appendProcess(dsn, goReader{}, io.Discard)
	})
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	checkContiguous(t, db, 3*perProcess)
	all, _ := db.JournalAll(t.Context())
	switches := 0
	for i := 1; i < len(all); i++ {
		if all[i].Actor != all[i-1].Actor {
			switches++
		}
	}
	t.Logf("the writer changed %d times in %d entries", switches, len(all))
}

// goReader gives the appending goroutine of TestProcesses its "go" at once.
type goReader struct{}

func (goReader) Read(p []byte) (int, error) { p[0] = '\n'; return 1, nil }

// testWriter sends what a child writes to stderr to the test log.
type testWriter struct{ t *testing.T }

func (w *testWriter) Write(p []byte) (int, error) { w.t.Logf("child: %s", p); return len(p), nil }
