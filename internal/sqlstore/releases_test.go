package sqlstore_test

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sync/errgroup"

	"github.com/phenixhq/phenix/internal/sqlstore"
	"github.com/phenixhq/phenix/internal/sqlstoretest"
)

// sha returns a sha256-shaped string made of c.
func sha(c byte) string { return strings.Repeat(string(c), 64) }

func TestPutVersion(t *testing.T) {
	db := sqlstoretest.Open(t)
	v1 := sqlstore.Version{App: "web", Version: "1.0.0", SHA256: sha('a'), Size: 1234, Format: "tar.gz", Note: "first", Actor: "alice", CreatedAt: hostTime}
	wantV1 := v1
	wantV1.CreatedAt = stored(v1.CreatedAt)

	for _, tt := range []struct {
		name        string
		in          sqlstore.Version
		want        sqlstore.Version
		wantCreated bool
		wantErr     string // a part of the message
		conflict    bool
	}{
		{name: "new", in: v1, want: wantV1, wantCreated: true},
		{name: "same content again", in: sqlstore.Version{App: "web", Version: "1.0.0", SHA256: sha('a'), Size: 1234, Format: "tar.gz", Note: "again", Actor: "bob", CreatedAt: hostTime.Add(time.Hour)},
			want: wantV1},
		{name: "other content", in: sqlstore.Version{App: "web", Version: "1.0.0", SHA256: sha('b'), Size: 1, Format: "tar", Actor: "bob"},
			wantErr: "version 1.0.0 of app web exists with sha256:" + sha('a') + ", not sha256:" + sha('b'), conflict: true},
		{name: "same version of another app", in: sqlstore.Version{App: "api", Version: "1.0.0", SHA256: sha('b'), Size: 1, Format: "zip", Actor: "bob", CreatedAt: hostTime},
			want: sqlstore.Version{App: "api", Version: "1.0.0", SHA256: sha('b'), Size: 1, Format: "zip", Actor: "bob", CreatedAt: stored(hostTime)}, wantCreated: true},
		{name: "no app", in: sqlstore.Version{Version: "1", SHA256: sha('a'), Format: "tar"}, wantErr: "want an app and a version"},
		{name: "no version", in: sqlstore.Version{App: "web", SHA256: sha('a'), Format: "tar"}, wantErr: "want an app and a version"},
		{name: "upper-case sha", in: sqlstore.Version{App: "web", Version: "2", SHA256: sha('A'), Format: "tar"}, wantErr: "lower-case"},
		{name: "short sha", in: sqlstore.Version{App: "web", Version: "2", SHA256: "abc", Format: "tar"}, wantErr: "64"},
		{name: "unknown format", in: sqlstore.Version{App: "web", Version: "2", SHA256: sha('a'), Format: "rar"}, wantErr: `format "rar"`},
		{name: "negative size", in: sqlstore.Version{App: "web", Version: "2", SHA256: sha('a'), Format: "tar", Size: -1}, wantErr: "size"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, created, err := db.PutVersion(t.Context(), tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("PutVersion: error = %v, want one saying %q", err, tt.wantErr)
				}
				if errors.Is(err, sqlstore.ErrConflict) != tt.conflict {
					t.Errorf("PutVersion: errors.Is(%v, ErrConflict) = %v, want %v", err, !tt.conflict, tt.conflict)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if created != tt.wantCreated {
				t.Errorf("created = %v, want %v", created, tt.wantCreated)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("PutVersion (-want +got):\n%s", diff)
			}
			if got, err := db.Version(t.Context(), tt.want.App, tt.want.Version); err != nil || !cmp.Equal(tt.want, got) {
				t.Errorf("Version = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
	if _, err := db.Version(t.Context(), "web", "9.9"); !errors.Is(err, sqlstore.ErrNotFound) || !strings.Contains(err.Error(), "9.9") {
		t.Errorf("Version of a missing version: error = %v, want ErrNotFound naming it", err)
	}
}

func TestVersionsAndArtifactUsed(t *testing.T) {
	db := sqlstoretest.Open(t)
	put := func(app, version string, c byte, at time.Time) sqlstore.Version {
		t.Helper()
		v, _, err := db.PutVersion(t.Context(), sqlstore.Version{App: app, Version: version, SHA256: sha(c), Format: "tar", Actor: "ci", CreatedAt: at})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	a := put("web", "1.0", 'a', hostTime)
	b := put("web", "1.1", 'b', hostTime.Add(time.Minute))
	c := put("web", "1.2", 'c', hostTime.Add(time.Minute)) // same time as b: version breaks the tie
	put("api", "7", 'd', hostTime)
	for _, tt := range []struct {
		app   string
		limit int
		want  []sqlstore.Version
	}{
		{"web", 0, []sqlstore.Version{c, b, a}},
		{"web", 2, []sqlstore.Version{c, b}},
		{"web", 9, []sqlstore.Version{c, b, a}},
		{"nope", 0, nil},
	} {
		got, err := db.Versions(t.Context(), tt.app, tt.limit)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("Versions(%s, %d) (-want +got):\n%s", tt.app, tt.limit, diff)
		}
	}
	for _, tt := range []struct {
		sha  string
		want bool
	}{{sha('a'), true}, {sha('d'), true}, {sha('e'), false}} {
		if got, err := db.ArtifactUsed(t.Context(), tt.sha); err != nil || got != tt.want {
			t.Errorf("ArtifactUsed(%.8s…) = %v, %v; want %v", tt.sha, got, err, tt.want)
		}
	}
}

// deployment returns a deployment of app web to env, created at
// hostTime+minutes, and its lock, expiring an hour later.
func deployment(id, env, kind, version string, minutes int) (sqlstore.Deployment, sqlstore.Lock) {
	at := hostTime.Add(time.Duration(minutes) * time.Minute)
	d := sqlstore.Deployment{ID: id, App: "web", Env: env, Kind: kind, Version: version, Actor: "alice",
		Hosts: []string{"h1", "h2"}, Detail: `{"steps":[]}`, CreatedAt: at}
	return d, sqlstore.Lock{Actor: "alice", Reason: kind + " " + version, Since: at, Expires: at.Add(time.Hour)}
}

// storedDeployment is d as Deployment returns it while it runs.
func storedDeployment(d sqlstore.Deployment) sqlstore.Deployment {
	d.State = "running"
	d.CreatedAt = stored(d.CreatedAt)
	return d
}

// storedLock is l, taken by d, as Lock returns it.
func storedLock(l sqlstore.Lock, d sqlstore.Deployment) sqlstore.Lock {
	l.App, l.Env, l.Deployment = d.App, d.Env, d.ID
	l.Since, l.Expires = stored(l.Since), stored(l.Expires)
	return l
}

func TestCreateDeploymentLock(t *testing.T) {
	db := sqlstoretest.Open(t)
	d1, l1 := deployment("d1", "prod", "deploy", "1.4.2", 0)
	d2, l2 := deployment("d2", "prod", "deploy", "1.4.3", 10)
	d3, l3 := deployment("d3", "prod", "deploy", "1.4.4", 20)
	other, lother := deployment("d4", "alpha", "deliver", "1.4.3", 10)
	expiry := l1.Expires

	for _, tt := range []struct {
		name   string
		d      sqlstore.Deployment
		lock   sqlstore.Lock
		now    time.Time
		heldBy string // the deployment whose LockedError is expected, "" for success
		err    bool   // another error is expected
	}{
		{name: "free", d: d1, lock: l1, now: d1.CreatedAt},
		{name: "locked", d: d2, lock: l2, now: d2.CreatedAt, heldBy: "d1"},
		{name: "locked until the last microsecond", d: d2, lock: l2, now: expiry.Add(-time.Microsecond), heldBy: "d1"},
		{name: "another env is free", d: other, lock: lother, now: other.CreatedAt},
		{name: "the same id again", d: d1, lock: lother, now: d1.CreatedAt.Add(2 * time.Hour), err: true},
		{name: "expired lock replaced", d: d2, lock: l2, now: expiry},
		{name: "replacing lock held", d: d3, lock: l3, now: expiry, heldBy: "d2"},
		{name: "no expiry", d: d3, lock: sqlstore.Lock{}, now: expiry, err: true},
		{name: "bad kind", d: sqlstore.Deployment{ID: "x", App: "web", Env: "dev", Kind: "restart"}, lock: l3, now: expiry, err: true},
		{name: "no env", d: sqlstore.Deployment{ID: "x", App: "web", Kind: "deploy"}, lock: l3, now: expiry, err: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before, _ := db.Lock(t.Context(), tt.d.App, tt.d.Env)
			err := db.CreateDeployment(t.Context(), tt.d, tt.lock, tt.now)
			var locked *sqlstore.LockedError
			switch {
			case tt.heldBy != "":
				if !errors.As(err, &locked) {
					t.Fatalf("CreateDeployment: error = %v, want a LockedError", err)
				}
				if locked.Lock.Deployment != tt.heldBy || !cmp.Equal(before, locked.Lock) {
					t.Errorf("LockedError.Lock = %+v, want %+v", locked.Lock, before)
				}
			case tt.err:
				if err == nil || errors.As(err, &locked) {
					t.Fatalf("CreateDeployment: error = %v, want another error than LockedError", err)
				}
			case err != nil:
				t.Fatalf("CreateDeployment: %v", err)
			}
			if tt.heldBy != "" || tt.err {
				if after, _ := db.Lock(t.Context(), tt.d.App, tt.d.Env); !cmp.Equal(before, after) {
					t.Errorf("a refused CreateDeployment changed the lock from %+v to %+v", before, after)
				}
				if tt.d.ID != "d1" {
					if _, err := db.Deployment(t.Context(), tt.d.ID); !errors.Is(err, sqlstore.ErrNotFound) {
						t.Errorf("a refused CreateDeployment stored the deployment: %v", err)
					}
				}
				return
			}
			if got, err := db.Lock(t.Context(), tt.d.App, tt.d.Env); err != nil || !cmp.Equal(storedLock(tt.lock, tt.d), got) {
				t.Errorf("Lock = %+v, %v; want %+v", got, err, storedLock(tt.lock, tt.d))
			}
			if got, err := db.Deployment(t.Context(), tt.d.ID); err != nil || !cmp.Equal(storedDeployment(tt.d), got) {
				t.Errorf("Deployment = %+v, %v; want %+v", got, err, storedDeployment(tt.d))
			}
		})
	}

	// d1 was stored once, by the first case.
	if got, err := db.Deployment(t.Context(), "d1"); err != nil || got.Version != "1.4.2" {
		t.Errorf("Deployment(d1) = %+v, %v", got, err)
	}
	locks, err := db.Locks(t.Context(), "web")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]sqlstore.Lock{storedLock(lother, other), storedLock(l2, d2)}, locks); diff != "" {
		t.Errorf("Locks (-want +got):\n%s", diff)
	}
}

func TestLockedErrorMessage(t *testing.T) {
	since := time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)
	for _, tt := range []struct {
		lock sqlstore.Lock
		want string
	}{
		{sqlstore.Lock{App: "web", Env: "prod", Deployment: "d-1", Actor: "alice", Reason: "deploy 1.4.2", Since: since, Expires: since.Add(time.Hour)},
			"app web env prod is locked by deployment d-1 of alice since 2026-03-01T09:30:00Z (deploy 1.4.2); it expires at 2026-03-01T10:30:00Z"},
		{sqlstore.Lock{App: "web", Env: "prod", Deployment: "d-1", Since: since, Expires: since.Add(time.Hour)},
			"app web env prod is locked by deployment d-1 since 2026-03-01T09:30:00Z; it expires at 2026-03-01T10:30:00Z"},
	} {
		if got := (&sqlstore.LockedError{Lock: tt.lock}).Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

// TestCreateDeploymentConcurrently starts deployments of one app and env
// from many goroutines and two handles on the database, as two servers
// would: exactly one takes the lock, the others are told who holds it.
func TestCreateDeploymentConcurrently(t *testing.T) {
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
	const n = 16
	var won atomic.Int32
	winner := make([]bool, n)
	var g errgroup.Group
	for i := range n {
		g.Go(func() error {
			d, l := deployment(fmt.Sprintf("d%02d", i), "prod", "deploy", "1.0", 0)
			err := dbs[i%2].CreateDeployment(t.Context(), d, l, d.CreatedAt)
			var locked *sqlstore.LockedError
			switch {
			case err == nil:
				won.Add(1)
				winner[i] = true
			case !errors.As(err, &locked):
				return err
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	if won.Load() != 1 {
		t.Fatalf("%d deployments took the lock, want 1", won.Load())
	}
	open, err := dbs[0].OpenDeployments(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	lock, err := dbs[1].Lock(t.Context(), "web", "prod")
	if err != nil {
		t.Fatal(err)
	}
	var want string
	for i, w := range winner {
		if w {
			want = fmt.Sprintf("d%02d", i)
		}
	}
	if len(open) != 1 || open[0].ID != want || lock.Deployment != want {
		t.Errorf("running deployments %+v, lock %+v: want the one winner holding the lock", open, lock)
	}
}

func TestUpdateDeployment(t *testing.T) {
	db := sqlstoretest.Open(t)
	d, l := deployment("d1", "prod", "deploy", "1.0", 0)
	if err := db.CreateDeployment(t.Context(), d, l, d.CreatedAt); err != nil {
		t.Fatal(err)
	}
	later := l.Expires.Add(time.Hour)
	if err := db.UpdateDeployment(t.Context(), "d1", `{"steps":[1]}`, later); err != nil {
		t.Fatal(err)
	}
	if got, err := db.Deployment(t.Context(), "d1"); err != nil || got.Detail != `{"steps":[1]}` {
		t.Errorf("Deployment after UpdateDeployment = %+v, %v; want the new detail", got, err)
	}
	if got, err := db.Lock(t.Context(), "web", "prod"); err != nil || !got.Expires.Equal(stored(later)) {
		t.Errorf("Lock after UpdateDeployment = %+v, %v; want it to expire at %v", got, err, stored(later))
	}
	// Unlocked by hand: the detail is still stored, no lock comes back.
	if _, err := db.Unlock(t.Context(), "web", "prod"); err != nil {
		t.Fatal(err)
	}
	if err := db.UpdateDeployment(t.Context(), "d1", `{"steps":[2]}`, later.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Lock(t.Context(), "web", "prod"); !errors.Is(err, sqlstore.ErrNotFound) {
		t.Errorf("UpdateDeployment brought back a removed lock: %v", err)
	}
	if err := db.EndDeployment(t.Context(), "d1", "ok", "", `{}`, hostTime, nil); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"d1", "d9"} {
		if err := db.UpdateDeployment(t.Context(), id, `{}`, later); !errors.Is(err, sqlstore.ErrNotFound) || !strings.Contains(err.Error(), id) {
			t.Errorf("UpdateDeployment(%s) of a deployment not running: error = %v, want ErrNotFound naming it", id, err)
		}
	}
}

// ptr returns a pointer to s.
func ptr(s string) *string { return &s }

// TestEndDeploymentEnvState runs deployments on one environment in turn and
// checks its state, lock and deployments after each.
func TestEndDeploymentEnvState(t *testing.T) {
	db := sqlstoretest.Open(t)
	checked := hostTime.Add(-time.Hour)
	if err := db.SetEnvCheck(t.Context(), "web", "prod", checked, true, "3 checks ok"); err != nil {
		t.Fatal(err)
	}
	state := func(current, previous, delivered, last string) sqlstore.EnvState {
		return sqlstore.EnvState{App: "web", Env: "prod", Current: current, Previous: previous, Delivered: delivered, LastDeployment: last,
			CheckedAt: stored(checked), CheckOK: true, CheckSummary: "3 checks ok"}
	}
	for i, tt := range []struct {
		kind, version string
		result        string
		change        *sqlstore.EnvChange
		want          sqlstore.EnvState
	}{
		{"deliver", "1.0", "ok", &sqlstore.EnvChange{Delivered: ptr("1.0")}, state("", "", "1.0", "d0")},
		{"deploy", "1.0", "ok", &sqlstore.EnvChange{Current: ptr("1.0")}, state("1.0", "", "1.0", "d1")},
		{"deploy", "1.1", "ok", &sqlstore.EnvChange{Current: ptr("1.1"), Delivered: ptr("1.1")}, state("1.1", "1.0", "1.1", "d2")},
		{"deploy", "1.1", "ok", &sqlstore.EnvChange{Current: ptr("1.1"), LastDeployment: "by-hand"}, state("1.1", "1.0", "1.1", "by-hand")},
		{"deploy", "1.2", "failed", nil, state("1.1", "1.0", "1.1", "by-hand")},
		{"deploy", "1.2", "failed", &sqlstore.EnvChange{}, state("1.1", "1.0", "1.1", "d5")},
		{"rollback", "1.0", "ok", &sqlstore.EnvChange{Current: ptr("1.0")}, state("1.0", "1.1", "1.1", "d6")},
	} {
		id := fmt.Sprintf("d%d", i)
		d, l := deployment(id, "prod", tt.kind, tt.version, i)
		if err := db.CreateDeployment(t.Context(), d, l, d.CreatedAt); err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		ended := d.CreatedAt.Add(30 * time.Second)
		if err := db.EndDeployment(t.Context(), id, tt.result, tt.result+" summary", `{"steps":["done"]}`, ended, tt.change); err != nil {
			t.Fatalf("%s: EndDeployment: %v", id, err)
		}
		states, err := db.EnvStates(t.Context(), "web")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]sqlstore.EnvState{tt.want}, states); diff != "" {
			t.Errorf("%s (%s %s %s): EnvStates (-want +got):\n%s", id, tt.kind, tt.version, tt.result, diff)
		}
		if _, err := db.Lock(t.Context(), "web", "prod"); !errors.Is(err, sqlstore.ErrNotFound) {
			t.Errorf("%s: lock after EndDeployment: %v, want none", id, err)
		}
		want := storedDeployment(d)
		want.State, want.Summary, want.Detail, want.EndedAt = tt.result, tt.result+" summary", `{"steps":["done"]}`, stored(ended)
		if got, err := db.Deployment(t.Context(), id); err != nil || !cmp.Equal(want, got) {
			t.Errorf("%s: Deployment = %+v, %v; want %+v", id, got, err, want)
		}
	}

	// A check leaves the versions alone.
	if err := db.SetEnvCheck(t.Context(), "web", "prod", hostTime.Add(time.Hour), false, "1 of 3 checks failed"); err != nil {
		t.Fatal(err)
	}
	if err := db.SetEnvCheck(t.Context(), "web", "alpha", hostTime, true, "ok"); err != nil {
		t.Fatal(err)
	}
	states, err := db.EnvStates(t.Context(), "web")
	if err != nil {
		t.Fatal(err)
	}
	want := []sqlstore.EnvState{
		{App: "web", Env: "alpha", CheckedAt: stored(hostTime), CheckOK: true, CheckSummary: "ok"},
		{App: "web", Env: "prod", Current: "1.0", Previous: "1.1", Delivered: "1.1", LastDeployment: "d6",
			CheckedAt: stored(hostTime.Add(time.Hour)), CheckSummary: "1 of 3 checks failed"},
	}
	if diff := cmp.Diff(want, states); diff != "" {
		t.Errorf("EnvStates after checks (-want +got):\n%s", diff)
	}
	if states, err := db.EnvStates(t.Context(), "api"); err != nil || len(states) != 0 {
		t.Errorf("EnvStates of an app never deployed = %v, %v; want none", states, err)
	}
}

func TestEndDeploymentRefused(t *testing.T) {
	db := sqlstoretest.Open(t)
	d, l := deployment("d1", "prod", "deploy", "1.0", 0)
	if err := db.CreateDeployment(t.Context(), d, l, d.CreatedAt); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, id, state string
		at              time.Time
		notFound        bool
		wantErr         string
	}{
		{name: "unknown", id: "d9", state: "ok", at: hostTime, notFound: true, wantErr: "deployment d9"},
		{name: "bad state", id: "d1", state: "running", at: hostTime, wantErr: `state "running"`},
		{name: "no time", id: "d1", state: "ok", wantErr: "no end time"},
		{name: "first end", id: "d1", state: "failed", at: hostTime},
		{name: "ended twice", id: "d1", state: "ok", at: hostTime, notFound: true, wantErr: "deployment d1 is not running (it ended failed)"},
	} {
		err := db.EndDeployment(t.Context(), tt.id, tt.state, "", "{}", tt.at, &sqlstore.EnvChange{Current: ptr("1.0")})
		if tt.wantErr == "" {
			if err != nil {
				t.Errorf("%s: %v", tt.name, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) || errors.Is(err, sqlstore.ErrNotFound) != tt.notFound {
			t.Errorf("%s: error = %v, want one saying %q (ErrNotFound: %v)", tt.name, err, tt.wantErr, tt.notFound)
		}
	}
	// The failed deployment was not given env state: EndDeployment applies
	// what it is told; the refused ones applied nothing.
	if states, err := db.EnvStates(t.Context(), "web"); err != nil || len(states) != 1 || states[0].Current != "1.0" || states[0].LastDeployment != "d1" {
		t.Errorf("EnvStates = %+v, %v", states, err)
	}
}

// TestEndDeploymentKeepsAnotherLock ends a deployment whose expired lock was
// taken over: the new holder keeps it.
func TestEndDeploymentKeepsAnotherLock(t *testing.T) {
	db := sqlstoretest.Open(t)
	d1, l1 := deployment("d1", "prod", "deploy", "1.0", 0)
	d2, l2 := deployment("d2", "prod", "deploy", "1.1", 90)
	if err := db.CreateDeployment(t.Context(), d1, l1, d1.CreatedAt); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateDeployment(t.Context(), d2, l2, d2.CreatedAt); err != nil {
		t.Fatal(err)
	}
	if err := db.EndDeployment(t.Context(), "d1", "failed", "lost its lock", "{}", d2.CreatedAt, nil); err != nil {
		t.Fatal(err)
	}
	if got, err := db.Lock(t.Context(), "web", "prod"); err != nil || got.Deployment != "d2" {
		t.Errorf("Lock = %+v, %v; want d2's", got, err)
	}
	open, err := db.OpenDeployments(t.Context())
	if err != nil || len(open) != 1 || open[0].ID != "d2" {
		t.Errorf("OpenDeployments = %+v, %v; want d2", open, err)
	}
}

func TestDeploymentsAndPassed(t *testing.T) {
	db := sqlstoretest.Open(t)
	type run struct {
		id, env, kind, version, result string // result "" leaves it running
	}
	runs := []run{
		{"d1", "alpha", "deliver", "1.0", "ok"},
		{"d2", "alpha", "deploy", "1.0", "ok"},
		{"d3", "preprod", "deploy", "1.0", "failed"},
		{"d4", "preprod", "deliver", "1.0", "ok"},
		{"d5", "alpha", "deploy", "1.1", "ok"},
		{"d6", "preprod", "rollback", "1.0", "ok"},
		{"d7", "alpha", "deploy", "1.2", ""},
		{"d8", "prod", "deliver", "1.1", ""},
	}
	want := map[string]sqlstore.Deployment{}
	for i, r := range runs {
		d, l := deployment(r.id, r.env, r.kind, r.version, i)
		d.Hosts = nil
		if i%2 == 0 {
			d.Hosts = []string{"web-" + r.env}
		}
		if err := db.CreateDeployment(t.Context(), d, l, d.CreatedAt); err != nil {
			t.Fatal(err)
		}
		d = storedDeployment(d)
		if r.result != "" {
			end := d.CreatedAt.Add(time.Second)
			if err := db.EndDeployment(t.Context(), r.id, r.result, "", d.Detail, end, nil); err != nil {
				t.Fatal(err)
			}
			d.State, d.EndedAt = r.result, end
		}
		want[r.id] = d
	}
	list := func(ids ...string) []sqlstore.Deployment {
		var out []sqlstore.Deployment
		for _, id := range ids {
			out = append(out, want[id])
		}
		return out
	}
	for _, tt := range []struct {
		app, env string
		limit    int
		want     []sqlstore.Deployment
	}{
		{"web", "", 0, list("d8", "d7", "d6", "d5", "d4", "d3", "d2", "d1")},
		{"web", "", 3, list("d8", "d7", "d6")},
		{"web", "alpha", 0, list("d7", "d5", "d2", "d1")},
		{"web", "preprod", 1, list("d6")},
		{"web", "demo", 0, nil},
		{"api", "", 0, nil},
	} {
		got, err := db.Deployments(t.Context(), tt.app, tt.env, tt.limit)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("Deployments(%s, %q, %d) (-want +got):\n%s", tt.app, tt.env, tt.limit, diff)
		}
	}
	if got, err := db.OpenDeployments(t.Context()); err != nil || !cmp.Equal(list("d7", "d8"), got) {
		t.Errorf("OpenDeployments = %+v, %v; want d7, d8", got, err)
	}
	if _, err := db.Deployment(t.Context(), "d9"); !errors.Is(err, sqlstore.ErrNotFound) {
		t.Errorf("Deployment of a missing id: error = %v, want ErrNotFound", err)
	}

	for _, tt := range []struct {
		env, version string
		want         bool
	}{
		{"alpha", "1.0", true},     // deploy ok
		{"alpha", "1.1", true},     // deploy ok
		{"alpha", "1.2", false},    // running
		{"preprod", "1.0", true},   // rollback ok after a failed deploy
		{"prod", "1.1", false},     // a deliver does not pass
		{"preprod", "1.1", false},  // never there
		{"alpha", "1.0-rc", false}, // no such version
	} {
		if got, err := db.Passed(t.Context(), "web", tt.env, tt.version); err != nil || got != tt.want {
			t.Errorf("Passed(web, %s, %s) = %v, %v; want %v", tt.env, tt.version, got, err, tt.want)
		}
	}
	passed, err := db.PassedEnvs(t.Context(), "web")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string][]string{"1.0": {"alpha", "preprod"}, "1.1": {"alpha"}}, passed); diff != "" {
		t.Errorf("PassedEnvs (-want +got):\n%s", diff)
	}
	if passed, err := db.PassedEnvs(t.Context(), "api"); err != nil || len(passed) != 0 {
		t.Errorf("PassedEnvs of an app never deployed = %v, %v; want none", passed, err)
	}
}

func TestUnlock(t *testing.T) {
	db := sqlstoretest.Open(t)
	d, l := deployment("d1", "prod", "deploy", "1.0", 0)
	if err := db.CreateDeployment(t.Context(), d, l, d.CreatedAt); err != nil {
		t.Fatal(err)
	}
	if got, err := db.Unlock(t.Context(), "web", "prod"); err != nil || !cmp.Equal(storedLock(l, d), got) {
		t.Errorf("Unlock = %+v, %v; want %+v", got, err, storedLock(l, d))
	}
	for name, f := range map[string]func() error{
		"Unlock": func() error { _, err := db.Unlock(t.Context(), "web", "prod"); return err },
		"Lock":   func() error { _, err := db.Lock(t.Context(), "web", "prod"); return err },
	} {
		if err := f(); !errors.Is(err, sqlstore.ErrNotFound) || !strings.Contains(err.Error(), "app web env prod") {
			t.Errorf("%s of a missing lock: error = %v, want ErrNotFound naming it", name, err)
		}
	}
	if locks, err := db.Locks(t.Context(), "web"); err != nil || len(locks) != 0 {
		t.Errorf("Locks after Unlock = %+v, %v; want none", locks, err)
	}
	// The environment is free again at once, though the lock had not
	// expired, and the first deployment goes on running.
	d2, l2 := deployment("d2", "prod", "deploy", "1.1", 1)
	if err := db.CreateDeployment(t.Context(), d2, l2, d2.CreatedAt); err != nil {
		t.Fatal(err)
	}
	if open, err := db.OpenDeployments(t.Context()); err != nil || len(open) != 2 {
		t.Errorf("OpenDeployments = %+v, %v; want d1 and d2", open, err)
	}
}

func TestApprovals(t *testing.T) {
	db := sqlstoretest.Open(t)
	first := sqlstore.Approval{App: "web", Env: "prod", Version: "1.0", Actor: "alice", Note: "ship it", CreatedAt: hostTime}
	wantFirst := first
	wantFirst.CreatedAt = stored(first.CreatedAt)
	other := sqlstore.Approval{App: "web", Env: "demo", Version: "1.0", Actor: "bob", CreatedAt: hostTime.Add(time.Minute)}
	wantOther := other
	wantOther.CreatedAt = stored(other.CreatedAt)
	for _, tt := range []struct {
		name        string
		in          sqlstore.Approval
		want        sqlstore.Approval
		wantCreated bool
		err         bool
	}{
		{name: "first", in: first, want: wantFirst, wantCreated: true},
		{name: "again", in: sqlstore.Approval{App: "web", Env: "prod", Version: "1.0", Actor: "bob", Note: "me too", CreatedAt: hostTime.Add(time.Hour)}, want: wantFirst},
		{name: "another env", in: other, want: wantOther, wantCreated: true},
		{name: "no version", in: sqlstore.Approval{App: "web", Env: "prod"}, err: true},
	} {
		got, created, err := db.Approve(t.Context(), tt.in)
		if tt.err {
			if err == nil {
				t.Errorf("%s: Approve succeeded", tt.name)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if created != tt.wantCreated || !cmp.Equal(tt.want, got) {
			t.Errorf("%s: Approve = %+v, %v; want %+v, %v", tt.name, got, created, tt.want, tt.wantCreated)
		}
	}
	if got, err := db.Approval(t.Context(), "web", "prod", "1.0"); err != nil || !cmp.Equal(wantFirst, got) {
		t.Errorf("Approval = %+v, %v; want %+v", got, err, wantFirst)
	}
	if _, err := db.Approval(t.Context(), "web", "prod", "1.1"); !errors.Is(err, sqlstore.ErrNotFound) {
		t.Errorf("Approval of a version not approved: error = %v, want ErrNotFound", err)
	}
	if got, err := db.Approvals(t.Context(), "web"); err != nil || !cmp.Equal([]sqlstore.Approval{wantFirst, wantOther}, got) {
		t.Errorf("Approvals = %+v, %v", got, err)
	}
	if got, err := db.Approvals(t.Context(), "api"); err != nil || len(got) != 0 {
		t.Errorf("Approvals of another app = %+v, %v; want none", got, err)
	}
}
