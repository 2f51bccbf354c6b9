package host

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Errors of JoinToken.Check, for errors.Is. ErrTokenInvalid is also what a
// store returns for a token it does not know, so that an agent cannot tell
// a wrong secret from a wrong id.
var (
	ErrTokenInvalid   = errors.New("join token invalid")
	ErrTokenExpired   = errors.New("join token expired")
	ErrTokenExhausted = errors.New("join token used up")
)

// secretPrefix starts the string of every join token secret.
const secretPrefix = "phx_"

// secretEncoding writes secrets in base32 without padding: upper-case
// letters and digits 2 to 7, safe in a shell and a URL.
var secretEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

const (
	secretBytes = 32
	idBytes     = 8
)

// JoinToken lets agents enrol; see the package documentation.
type JoinToken struct {
	ID        string            // 16 lower-case hexadecimal digits
	Hash      string            // the lower-case hexadecimal SHA-256 of the secret
	Labels    map[string]string // given to the hosts that enrol with it
	MaxUses   int               // 0 for no limit
	Uses      int
	ExpiresAt time.Time // the zero time for never
	CreatedBy string
	CreatedAt time.Time
}

// NewJoinToken returns a new token created by createdBy at now, and its
// secret as the string an agent presents, "phx_<id>_<secret>", which is
// not kept anywhere. maxUses is 0 for no limit and expiresAt the zero time
// for never.
func NewJoinToken(createdBy string, labels map[string]string, maxUses int, expiresAt, now time.Time) (tok JoinToken, secret string, err error) {
	if maxUses < 0 {
		return JoinToken{}, "", fmt.Errorf("new join token: max uses is %d, want 0 (no limit) or more", maxUses)
	}
	if err := ValidateLabels(labels); err != nil {
		return JoinToken{}, "", fmt.Errorf("new join token: %w", err)
	}
	var id [idBytes]byte
	var s [secretBytes]byte
	rand.Read(id[:]) // never returns an error
	rand.Read(s[:])
	tok = JoinToken{
		ID:        hex.EncodeToString(id[:]),
		Labels:    labels,
		MaxUses:   maxUses,
		ExpiresAt: expiresAt,
		CreatedBy: createdBy,
		CreatedAt: now,
	}
	enc := secretEncoding.EncodeToString(s[:])
	tok.Hash = HashSecret(enc)
	return tok, secretPrefix + tok.ID + "_" + enc, nil
}

// HashSecret returns the Hash of a token whose secret, as ParseSecret
// returns it, is secret.
func HashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// ParseSecret splits the string NewJoinToken returns into the token's id
// and its secret. A string of another form gives an error wrapping
// ErrTokenInvalid, which does not repeat the string.
func ParseSecret(s string) (id, secret string, err error) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(s), secretPrefix)
	if !ok {
		return "", "", fmt.Errorf("%w: want phx_<id>_<secret>", ErrTokenInvalid)
	}
	id, secret, ok = strings.Cut(rest, "_")
	if !ok {
		return "", "", fmt.Errorf("%w: want phx_<id>_<secret>", ErrTokenInvalid)
	}
	if b, err := hex.DecodeString(id); err != nil || len(b) != idBytes || strings.ToLower(id) != id {
		return "", "", fmt.Errorf("%w: id: want %d lower-case hexadecimal digits", ErrTokenInvalid, 2*idBytes)
	}
	if b, err := secretEncoding.DecodeString(secret); err != nil || len(b) != secretBytes {
		return "", "", fmt.Errorf("%w: secret: want %d bytes in base32", ErrTokenInvalid, secretBytes)
	}
	return id, secret, nil
}

// Check reports whether secret, as ParseSecret returns it, may enrol a host
// with t at now: ErrTokenInvalid if it is not t's secret (compared in
// constant time, and checked first so that a wrong secret learns nothing
// of t), ErrTokenExpired from ExpiresAt on, and ErrTokenExhausted once
// Uses reaches a MaxUses other than 0.
func (t JoinToken) Check(secret string, now time.Time) error {
	if subtle.ConstantTimeCompare([]byte(HashSecret(secret)), []byte(t.Hash)) != 1 {
		return ErrTokenInvalid
	}
	if !t.ExpiresAt.IsZero() && !now.Before(t.ExpiresAt) {
		return fmt.Errorf("%w at %s", ErrTokenExpired, t.ExpiresAt.UTC().Format(time.RFC3339))
	}
	if t.MaxUses > 0 && t.Uses >= t.MaxUses {
		return fmt.Errorf("%w: %d of %d uses", ErrTokenExhausted, t.Uses, t.MaxUses)
	}
	return nil
}
