package sqlstore_test

import (
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sync/errgroup"

	"github.com/phenixhq/phenix/internal/host"
	"github.com/phenixhq/phenix/internal/sqlstore"
	"github.com/phenixhq/phenix/internal/sqlstoretest"
)

// newToken creates a token in db and returns it as stored, with its id and
// secret.
func newToken(t *testing.T, db *sqlstore.DB, labels map[string]string, maxUses int, expires, created time.Time) (tok host.JoinToken, id, secret string) {
	t.Helper()
	tok, s, err := host.NewJoinToken("alice", labels, maxUses, expires, created)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateToken(t.Context(), tok); err != nil {
		t.Fatal(err)
	}
	id, secret, err = host.ParseSecret(s)
	if err != nil {
		t.Fatal(err)
	}
	tok.ExpiresAt, tok.CreatedAt = stored(tok.ExpiresAt), stored(tok.CreatedAt)
	if len(tok.Labels) == 0 {
		tok.Labels = nil
	}
	return tok, id, secret
}

func TestTokensRoundTrip(t *testing.T) {
	db := sqlstoretest.Open(t)
	if toks, err := db.Tokens(t.Context()); err != nil || len(toks) != 0 {
		t.Errorf("Tokens of a new database = %v, %v; want none", toks, err)
	}
	a, _, _ := newToken(t, db, map[string]string{"role": "web", "env": "prod"}, 5, hostTime.Add(24*time.Hour), hostTime.Add(time.Second))
	b, _, _ := newToken(t, db, map[string]string{}, 0, time.Time{}, hostTime)
	got, err := db.Tokens(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]host.JoinToken{b, a}, got); diff != "" {
		t.Errorf("Tokens (-want +got):\n%s", diff)
	}
	if !got[0].ExpiresAt.IsZero() {
		t.Errorf("ExpiresAt of a token that never expires = %v", got[0].ExpiresAt)
	}
	if err := db.CreateToken(t.Context(), a); err == nil {
		t.Errorf("CreateToken of an existing id succeeded")
	}
	for _, bad := range []host.JoinToken{{Hash: a.Hash}, {ID: "x", Hash: "short"}, {ID: "x", Hash: a.Hash, MaxUses: -1}} {
		if err := db.CreateToken(t.Context(), bad); err == nil {
			t.Errorf("CreateToken(%+v) succeeded", bad)
		}
	}
}

func TestRedeemToken(t *testing.T) {
	db := sqlstoretest.Open(t)
	now := hostTime
	tok, id, secret := newToken(t, db, map[string]string{"role": "web"}, 2, now.Add(time.Hour), now)

	for i := 1; i <= 2; i++ {
		got, err := db.RedeemToken(t.Context(), id, secret, now)
		if err != nil {
			t.Fatalf("redeem %d: %v", i, err)
		}
		want := tok
		want.Uses = i
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("redeem %d (-want +got):\n%s", i, diff)
		}
	}
	for _, tt := range []struct {
		name, id, secret string
		now              time.Time
		want             error
	}{
		{"exhausted", id, secret, now, host.ErrTokenExhausted},
		{"wrong secret", id, strings.Repeat("A", 52), now, host.ErrTokenInvalid},
		{"unknown id", "0000000000000000", secret, now, host.ErrTokenInvalid},
	} {
		if _, err := db.RedeemToken(t.Context(), tt.id, tt.secret, tt.now); !errors.Is(err, tt.want) {
			t.Errorf("%s: RedeemToken error = %v, want %v", tt.name, err, tt.want)
		}
	}

	_, id2, secret2 := newToken(t, db, nil, 0, now.Add(time.Hour), now)
	if _, err := db.RedeemToken(t.Context(), id2, secret2, now.Add(time.Hour)); !errors.Is(err, host.ErrTokenExpired) {
		t.Errorf("RedeemToken of an expired token: error = %v, want ErrTokenExpired", err)
	}
	// Failed redeems count no use.
	toks, err := db.Tokens(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	uses := map[string]int{}
	for _, tok := range toks {
		uses[tok.ID] = tok.Uses
	}
	if diff := cmp.Diff(map[string]int{id: 2, id2: 0}, uses); diff != "" {
		t.Errorf("uses (-want +got):\n%s", diff)
	}
}

// TestRedeemConcurrently redeems a single-use token from many goroutines at
// once: exactly one succeeds.
func TestRedeemConcurrently(t *testing.T) {
	db := sqlstoretest.Open(t)
	_, id, secret := newToken(t, db, nil, 1, time.Time{}, hostTime)
	var ok, exhausted atomic.Int32
	var g errgroup.Group
	for range 16 {
		g.Go(func() error {
			_, err := db.RedeemToken(t.Context(), id, secret, hostTime)
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, host.ErrTokenExhausted):
				exhausted.Add(1)
			default:
				return err
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	if ok.Load() != 1 || exhausted.Load() != 15 {
		t.Errorf("%d redeems succeeded and %d found the token used up, want 1 and 15", ok.Load(), exhausted.Load())
	}
	toks, err := db.Tokens(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if toks[0].Uses != 1 {
		t.Errorf("Uses = %d, want 1", toks[0].Uses)
	}
}

// TestRedeemFromTwoHandles redeems a single-use token through two handles
// on the same database, as two server processes would.
func TestRedeemFromTwoHandles(t *testing.T) {
	dsn := sqlstoretest.DSN(t)
	var dbs [2]*sqlstore.DB
	for i := range dbs {
		db, err := sqlstore.Open(t.Context(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		dbs[i] = db
	}
	_, id, secret := newToken(t, dbs[0], nil, 1, time.Time{}, hostTime)
	var ok atomic.Int32
	var g errgroup.Group
	for i := range 8 {
		g.Go(func() error {
			_, err := dbs[i%2].RedeemToken(t.Context(), id, secret, hostTime)
			if err == nil {
				ok.Add(1)
			} else if !errors.Is(err, host.ErrTokenExhausted) {
				return err
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	if ok.Load() != 1 {
		t.Errorf("%d redeems succeeded, want 1", ok.Load())
	}
}
