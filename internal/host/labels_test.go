package host

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestValidateLabels(t *testing.T) {
	for _, tt := range []struct {
		name    string
		in      map[string]string
		wantErr string
	}{
		{name: "nil", in: nil},
		{name: "good", in: map[string]string{"role": "web", "env": "prod", "a.b/c_d-e": "", "9": "User@host:8080/x+y_z.1-2"}},
		{name: "longest", in: map[string]string{strings.Repeat("k", 63): strings.Repeat("v", 63)}},
		{name: "empty key", in: map[string]string{"": "x"}, wantErr: "label key is empty"},
		{name: "upper-case key", in: map[string]string{"Role": "web"}, wantErr: `label key "Role": want a lower-case letter or digit, then letters, digits or . _ / -`},
		{name: "key starts with dot", in: map[string]string{".role": "web"}, wantErr: `label key ".role": want a lower-case letter or digit, then letters, digits or . _ / -`},
		{name: "long key", in: map[string]string{strings.Repeat("k", 64): ""}, wantErr: `label key "` + strings.Repeat("k", 64) + `" is 64 characters long, want at most 63`},
		{name: "bad value", in: map[string]string{"role": "web server"}, wantErr: `label role: value "web server": want letters, digits or . _ : / @ + -`},
		{name: "comma in value", in: map[string]string{"role": "a,b"}, wantErr: `label role: value "a,b": want letters, digits or . _ : / @ + -`},
		{name: "long value", in: map[string]string{"role": strings.Repeat("v", 64)}, wantErr: "label role: value is 64 characters long, want at most 63"},
		{name: "first in key order", in: map[string]string{"b": " ", "a": " "}, wantErr: `label a: value " ": want letters, digits or . _ : / @ + -`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if e := errString(ValidateLabels(tt.in)); e != tt.wantErr {
				t.Errorf("ValidateLabels(%v) error = %q, want %q", tt.in, e, tt.wantErr)
			}
		})
	}
}

func TestParseLabels(t *testing.T) {
	for _, tt := range []struct {
		in, wantErr string
		want        map[string]string
	}{
		{in: "", want: nil},
		{in: "  ", want: nil},
		{in: "role=web", want: map[string]string{"role": "web"}},
		{in: "role=web,env=prod", want: map[string]string{"role": "web", "env": "prod"}},
		{in: " role=web , env=prod ", want: map[string]string{"role": "web", "env": "prod"}},
		{in: "empty=", want: map[string]string{"empty": ""}},
		{in: "role", wantErr: `col 1: expected key=value, found "role"`},
		{in: "role=web,env", wantErr: `col 10: expected key=value, found "env"`},
		{in: "role=web,", wantErr: "col 10: expected key=value, found nothing"},
		{in: "role=web,,env=prod", wantErr: "col 10: expected key=value, found nothing"},
		{in: "role=web, Env=prod", wantErr: `col 11: label key "Env": want a lower-case letter or digit, then letters, digits or . _ / -`},
		{in: "a=1,x=y z", wantErr: `col 5: label x: value "y z": want letters, digits or . _ : / @ + -`},
		{in: "=web", wantErr: "col 1: label key is empty"},
		{in: "a=b=c", wantErr: `col 1: label a: value "b=c": want letters, digits or . _ : / @ + -`},
		{in: "role=web,role=db", wantErr: "col 10: label role given twice"},
	} {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseLabels(tt.in)
			if e := errString(err); e != tt.wantErr {
				t.Fatalf("ParseLabels(%q) error = %q, want %q", tt.in, e, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseLabels(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestFormatLabelsRoundTrip(t *testing.T) {
	in := map[string]string{"role": "web", "env": "prod", "example.com/team": "ops"}
	s := FormatLabels(in)
	if s != "env=prod,example.com/team=ops,role=web" {
		t.Fatalf("FormatLabels = %q", s)
	}
	out, err := ParseLabels(s)
	if err != nil || len(out) != len(in) || out["example.com/team"] != "ops" {
		t.Errorf("ParseLabels(%q) = %v, %v", s, out, err)
	}
	if FormatLabels(nil) != "" {
		t.Errorf("FormatLabels(nil) = %q", FormatLabels(nil))
	}
}
