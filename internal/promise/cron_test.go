package promise

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCronFieldCheck(t *testing.T) {
	for _, tt := range []struct {
		field int // index in cronFields
		in    string
		want  string
	}{
		{0, "*", ""},
		{0, "*/15", ""},
		{0, "0,30", ""},
		{0, "5-55/10", ""},
		{1, "8-18", ""},
		{2, "1,15", ""},
		{3, "jan", ""},
		{3, "JAN-mar", ""},
		{4, "mon-fri", ""},
		{4, "7", ""},
		{0, "60", `60 in "60" is out of range 0-59`},
		{1, "24", `24 in "24" is out of range 0-23`},
		{2, "0", `0 in "0" is out of range 1-31`},
		{0, "*/0", `bad step "0" in "*/0": expected a number from 1 to 59`},
		{0, "5/10", `bad "5/10": a step goes after * or a range, for example 5-59/10`},
		{1, "18-8", `bad range "18-8": 18 comes after 8`},
		{4, "thr", `bad value "thr" in "thr": expected a number from 0 to 7 or a name such as mon (did you mean "thu"?)`},
		{0, "mon", `bad value "mon" in "mon": expected a number from 0 to 59`},
		{0, "1,,2", `bad value "" in "": expected a number from 0 to 59`},
		{0, "", "empty: expected * or a value from 0 to 59"},
	} {
		f := cronFields[tt.field]
		t.Run(f.name+"="+tt.in, func(t *testing.T) {
			err := f.check(tt.in)
			if got := errString(err); got != tt.want {
				t.Errorf("check(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestCronValidate(t *testing.T) {
	for _, tt := range []struct {
		name string
		c    Cron
		want string
	}{
		{name: "ok", c: Cron{Name: "a", Command: "true", Minute: StringList{"0", "30"}, Weekday: StringList{"mon-fri"}}},
		{name: "special", c: Cron{Name: "a", Command: "true", Special: "@reboot"}},
		{name: "absent needs no command", c: Cron{Name: "a", State: "absent"}},
		{name: "no command", c: Cron{Name: "a"}, want: "command: expected the command cron runs"},
		{name: "two lines", c: Cron{Name: "a", Command: "a\nb"}, want: "command: must be a single line"},
		{name: "special and time", c: Cron{Name: "a", Command: "x", Special: "@daily", Hour: StringList{"3"}}, want: "hour: special @daily replaces the time fields: remove hour"},
		{name: "bad special", c: Cron{Name: "a", Command: "x", Special: "@often"}, want: `special: unknown "@often": expected one of @reboot, @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly`},
		{name: "bad month", c: Cron{Name: "a", Command: "x", Month: StringList{"13"}}, want: `month: 13 in "13" is out of range 1-12`},
		{name: "bad env", c: Cron{Name: "a", Command: "x", Env: map[string]string{"1X": "y"}}, want: `env: bad variable name "1X": expected letters, digits and _`},
		{name: "bad user", c: Cron{Name: "a", Command: "x", User: "a b"}, want: `user: bad name "a b": expected letters, digits, _ . - (at most 32, not only digits)`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, fe := range tt.c.Validate() {
				got = append(got, fe.Error())
			}
			if strings.Join(got, "; ") != tt.want {
				t.Errorf("Validate() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestEditCrontab(t *testing.T) {
	entry := (&Cron{Name: "backup", Command: "/usr/local/bin/backup", Hour: StringList{"3"}, Minute: StringList{"0"}, Env: map[string]string{"MAILTO": "ops"}}).entry()
	const block = "# phenix: backup\nMAILTO=ops\n0 3 * * * /usr/local/bin/backup\n"
	for _, tt := range []struct {
		name      string
		old       string
		entry     []string
		want      string
		wantFound bool
	}{
		{name: "empty", old: "", entry: entry, want: block},
		{name: "append", old: "# mine\n*/5 * * * * mine", entry: entry, want: "# mine\n*/5 * * * * mine\n" + block},
		{name: "kept", old: "A=1\n" + block + "@reboot other\n", entry: entry, want: "A=1\n" + block + "@reboot other\n", wantFound: true},
		{
			name:  "replaced in place",
			old:   "top\n# phenix: backup\nMAILTO=old\nX=y\n0 4 * * * old\n# phenix: other\n1 * * * * x\n",
			entry: entry, wantFound: true,
			want: "top\n" + block + "# phenix: other\n1 * * * * x\n",
		},
		{name: "duplicates collapse", old: block + "mid\n" + block, entry: entry, want: block + "mid\n", wantFound: true},
		{name: "removed", old: "top\n" + block + "bottom\n", entry: nil, want: "top\nbottom\n", wantFound: true},
		{name: "removed last", old: block, entry: nil, want: "", wantFound: true},
		{name: "absent stays absent", old: "top\n", entry: nil, want: "top\n"},
		{name: "marker without entry", old: "# phenix: backup\n# phenix: other\n1 * * * * x\n", entry: entry, wantFound: true, want: block + "# phenix: other\n1 * * * * x\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, found := editCrontab([]byte(tt.old), "backup", tt.entry)
			if diff := cmp.Diff(tt.want, string(got)); diff != "" {
				t.Errorf("editCrontab (-want +got):\n%s", diff)
			}
			if found != tt.wantFound {
				t.Errorf("found = %v, want %v", found, tt.wantFound)
			}
		})
	}
	t.Run("special", func(t *testing.T) {
		got := (&Cron{Name: "boot", Special: "@reboot", Command: "x"}).entry()
		if diff := cmp.Diff([]string{"# phenix: boot", "@reboot x"}, got); diff != "" {
			t.Errorf("entry (-want +got):\n%s", diff)
		}
	})
}
