package journal

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestMask(t *testing.T) {
	secret := func(k string) bool { return k == "password" || strings.HasSuffix(k, "_token") }
	for _, tt := range []struct {
		name string
		in   map[string]string
		want map[string]string
	}{
		{name: "nil", in: nil, want: nil},
		{name: "empty", in: map[string]string{}, want: nil},
		{name: "no secret", in: map[string]string{"app": "shop", "version": "1.2"}, want: map[string]string{"app": "shop", "version": "1.2"}},
		{
			name: "secrets",
			in:   map[string]string{"app": "shop", "password": "hunter2", "api_token": "abc"},
			want: map[string]string{"app": "shop", "password": Masked, "api_token": Masked},
		},
		{name: "empty secret", in: map[string]string{"password": ""}, want: map[string]string{"password": Masked}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := cmp.Diff(nil, tt.in)
			got := Mask(tt.in, secret)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Mask(%v) (-want +got):\n%s", tt.in, diff)
			}
			if after := cmp.Diff(nil, tt.in); after != before {
				t.Errorf("Mask changed its input: %v", tt.in)
			}
		})
	}
}
