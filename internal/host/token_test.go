package host

import (
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var now = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func TestNewJoinToken(t *testing.T) {
	labels := map[string]string{"role": "web"}
	expires := now.Add(time.Hour)
	tok, s, err := NewJoinToken("alice", labels, 3, expires, now)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^phx_[0-9a-f]{16}_[A-Z2-7]{52}$`).MatchString(s) {
		t.Errorf("secret %q has not the form phx_<id>_<base32>", s)
	}
	id, secret, err := ParseSecret(s)
	if err != nil {
		t.Fatalf("ParseSecret(%q): %v", s, err)
	}
	want := JoinToken{ID: id, Hash: HashSecret(secret), Labels: labels, MaxUses: 3, ExpiresAt: expires, CreatedBy: "alice", CreatedAt: now}
	if diff := cmp.Diff(want, tok); diff != "" {
		t.Errorf("NewJoinToken (-want +got):\n%s", diff)
	}
	if strings.Contains(tok.Hash, secret) {
		t.Errorf("Hash holds the secret")
	}
	if err := tok.Check(secret, now); err != nil {
		t.Errorf("Check of its own secret: %v", err)
	}
	other, s2, _ := NewJoinToken("alice", nil, 0, time.Time{}, now)
	if other.ID == tok.ID || s2 == s {
		t.Errorf("two tokens share an id or secret")
	}

	if _, _, err := NewJoinToken("alice", nil, -1, time.Time{}, now); errString(err) != "new join token: max uses is -1, want 0 (no limit) or more" {
		t.Errorf("NewJoinToken(max uses -1) error = %v", err)
	}
	if _, _, err := NewJoinToken("alice", map[string]string{"A": ""}, 0, time.Time{}, now); err == nil || !strings.Contains(err.Error(), `label key "A"`) {
		t.Errorf("NewJoinToken(bad label) error = %v", err)
	}
}

func TestCheck(t *testing.T) {
	_, good, err := ParseSecret("phx_0123456789abcdef_" + strings.Repeat("A", 52))
	if err != nil {
		t.Fatal(err)
	}
	base := JoinToken{ID: "0123456789abcdef", Hash: HashSecret(good)}
	with := func(f func(*JoinToken)) JoinToken { tok := base; f(&tok); return tok }
	for _, tt := range []struct {
		name    string
		tok     JoinToken
		secret  string
		want    error
		wantErr string
	}{
		{name: "good, unlimited, never expires", tok: with(func(t *JoinToken) { t.Uses = 1000 })},
		{name: "good, uses left", tok: with(func(t *JoinToken) { t.MaxUses, t.Uses = 2, 1 })},
		{name: "good, before expiry", tok: with(func(t *JoinToken) { t.ExpiresAt = now.Add(time.Nanosecond) })},
		{name: "wrong secret", tok: base, secret: strings.Repeat("B", 52), want: ErrTokenInvalid, wantErr: "join token invalid"},
		{name: "empty secret", tok: base, secret: "-", want: ErrTokenInvalid, wantErr: "join token invalid"},
		{name: "token without hash", tok: JoinToken{}, secret: "-", want: ErrTokenInvalid, wantErr: "join token invalid"},
		{name: "expired", tok: with(func(t *JoinToken) { t.ExpiresAt = now }), want: ErrTokenExpired, wantErr: "join token expired at 2026-01-01T12:00:00Z"},
		{name: "exhausted", tok: with(func(t *JoinToken) { t.MaxUses, t.Uses = 1, 1 }), want: ErrTokenExhausted, wantErr: "join token used up: 1 of 1 uses"},
		{name: "wrong secret of an expired token", tok: with(func(t *JoinToken) { t.ExpiresAt = now.Add(-time.Hour) }), secret: strings.Repeat("B", 52), want: ErrTokenInvalid, wantErr: "join token invalid"},
		{name: "expired and exhausted", tok: with(func(t *JoinToken) { t.ExpiresAt, t.MaxUses, t.Uses = now, 1, 1 }), want: ErrTokenExpired, wantErr: "join token expired at 2026-01-01T12:00:00Z"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			secret := tt.secret
			if secret == "" {
				secret = good
			} else if secret == "-" {
				secret = ""
			}
			err := tt.tok.Check(secret, now)
			if e := errString(err); e != tt.wantErr {
				t.Errorf("Check error = %q, want %q", e, tt.wantErr)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("Check error %v is not %v", err, tt.want)
			}
		})
	}
}

func TestParseSecret(t *testing.T) {
	secret := strings.Repeat("A", 52)
	for _, tt := range []struct {
		in, wantID, wantSecret, wantErr string
	}{
		{in: "phx_0123456789abcdef_" + secret, wantID: "0123456789abcdef", wantSecret: secret},
		{in: " phx_0123456789abcdef_" + secret + "\n", wantID: "0123456789abcdef", wantSecret: secret},
		{in: "", wantErr: "join token invalid: want phx_<id>_<secret>"},
		{in: "0123456789abcdef_" + secret, wantErr: "join token invalid: want phx_<id>_<secret>"},
		{in: "phx_0123456789abcdef", wantErr: "join token invalid: want phx_<id>_<secret>"},
		{in: "phx_0123456789ABCDEF_" + secret, wantErr: "join token invalid: id: want 16 lower-case hexadecimal digits"},
		{in: "phx_0123_" + secret, wantErr: "join token invalid: id: want 16 lower-case hexadecimal digits"},
		{in: "phx_0123456789abcdef_" + secret[1:], wantErr: "join token invalid: secret: want 32 bytes in base32"},
		{in: "phx_0123456789abcdef_" + strings.ToLower(secret), wantErr: "join token invalid: secret: want 32 bytes in base32"},
		{in: "phx_0123456789abcdef_" + secret + "_x", wantErr: "join token invalid: secret: want 32 bytes in base32"},
	} {
		t.Run(tt.in, func(t *testing.T) {
			id, secret, err := ParseSecret(tt.in)
			if e := errString(err); e != tt.wantErr {
				t.Fatalf("ParseSecret error = %q, want %q", e, tt.wantErr)
			}
			if err != nil && !errors.Is(err, ErrTokenInvalid) {
				t.Errorf("ParseSecret error %v is not ErrTokenInvalid", err)
			}
			if id != tt.wantID || secret != tt.wantSecret {
				t.Errorf("ParseSecret = %q, %q; want %q, %q", id, secret, tt.wantID, tt.wantSecret)
			}
		})
	}
}
