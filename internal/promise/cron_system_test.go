package promise_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/phenixhq/phenix/internal/containertest"
	"github.com/phenixhq/phenix/internal/engine"
)

func crontab(t *testing.T, c *containertest.Container, user string) string {
	t.Helper()
	code, out := exitCode(t, c, "crontab", "-l", "-u", user)
	if code != 0 {
		if strings.Contains(out, "no crontab for") {
			return ""
		}
		t.Fatalf("crontab -l -u %s: exit %d: %s", user, code, out)
	}
	return out
}

func TestCronSystem(t *testing.T) {
	t.Parallel()
	c := startDebian(t)
	const mine = "# kept by hand\nMAILTO=\"\"\n*/5 * * * * /usr/local/bin/poll\n"
	c.WriteFile(t, "/tmp/crontab", []byte(mine), 0o644)
	c.MustExec(t, "crontab", "-u", "root", "/tmp/crontab")

	const backup = `promises:
  - cron: nightly backup
    command: /usr/local/bin/backup --all
    minute: 30
    hour: 2
    weekday: mon-fri
    env:
      PATH: /usr/local/bin:/usr/bin:/bin
      MAILTO: ops@example.com
`
	const block = "# phenix: nightly backup\nMAILTO=ops@example.com\nPATH=/usr/local/bin:/usr/bin:/bin\n30 2 * * mon-fri /usr/local/bin/backup --all\n"

	t.Run("add", func(t *testing.T) {
		got := mustChange(t, c, backup)
		r := got["cron:nightly backup"]
		if !strings.Contains(r.Diff.Content, "+# phenix: nightly backup\n") || !strings.Contains(r.Diff.Content, "+30 2 * * mon-fri /usr/local/bin/backup --all") {
			t.Errorf("diff content:\n%s\nwant the new lines", r.Diff.Content)
		}
		if diff := cmp.Diff(mine+block, crontab(t, c, "root")); diff != "" {
			t.Errorf("crontab (-want +got):\n%s", diff)
		}
		mustConverged(t, c, backup)
	})

	t.Run("change in place", func(t *testing.T) {
		src := strings.Replace(backup, "hour: 2", "hour: 3", 1) + `  - cron: at boot
    special: "@reboot"
    command: /usr/local/bin/warm-cache
`
		mustChange(t, c, src)
		want := mine + strings.Replace(block, "30 2 ", "30 3 ", 1) + "# phenix: at boot\n@reboot /usr/local/bin/warm-cache\n"
		if diff := cmp.Diff(want, crontab(t, c, "root")); diff != "" {
			t.Errorf("crontab (-want +got):\n%s", diff)
		}
		mustConverged(t, c, src)
	})

	t.Run("other user", func(t *testing.T) {
		const src = `promises:
  - user: alice
  - cron: report
    user: alice
    command: /usr/bin/true
    minute: "*/15"
    hour: 8-18
`
		got := mustChange(t, c, src)
		if r := got["cron:report"]; r.Status != engine.Changed {
			t.Errorf("cron:report %s %s", r.Status, r.Error)
		}
		if diff := cmp.Diff("# phenix: report\n*/15 8-18 * * * /usr/bin/true\n", crontab(t, c, "alice")); diff != "" {
			t.Errorf("alice's crontab (-want +got):\n%s", diff)
		}
		mustConverged(t, c, src)
		const gone = "promises:\n  - cron: report\n    user: alice\n    state: absent\n"
		mustChange(t, c, gone)
		if got := crontab(t, c, "alice"); got != "" {
			t.Errorf("alice's crontab = %q, want none", got)
		}
		mustConverged(t, c, gone)
	})

	t.Run("absent", func(t *testing.T) {
		const src = `promises:
  - cron: nightly backup
    state: absent
  - cron: at boot
    state: absent
`
		mustChange(t, c, src)
		if diff := cmp.Diff(mine, crontab(t, c, "root")); diff != "" {
			t.Errorf("crontab (-want +got):\n%s", diff)
		}
		mustConverged(t, c, src)
	})

	t.Run("bad time field", func(t *testing.T) {
		c.WriteFile(t, bundlePath, []byte("promises:\n  - cron: x\n    command: /bin/true\n    hour: 25\n"), 0o644)
		code, out := exitCode(t, c, "phenix", "apply", bundlePath)
		if code != 64 || !strings.Contains(out, `/bundle.yaml:4:5: hour: 25 in "25" is out of range 0-23`) {
			t.Errorf("exit %d: %s; want 64 and the position of hour", code, out)
		}
	})
}
