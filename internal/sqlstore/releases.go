package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// ErrConflict is returned, wrapped, by methods refused because what they
// would store contradicts what is stored (a version uploaded again with
// other content, a user name taken); the server answers 409.
var ErrConflict = errors.New("conflict")

// Version is an immutable uploaded artifact of an app.
type Version struct {
	App, Version string
	SHA256       string // 64 lower-case hexadecimal digits: the artifact's name in package artifact
	Size         int64  // bytes
	Format       string // tar, tar.gz, zip
	Note         string // what the uploader said of it
	Actor        string // who uploaded it
	CreatedAt    time.Time
}

// PutVersion stores v and returns it as stored (CreatedAt in UTC, truncated
// to the microsecond). Uploading the same (app, version) again with the same
// SHA256 is not an error: created is false and the stored Version, with its
// first Note, Actor and CreatedAt, is returned. With another SHA256 it fails
// with an error wrapping ErrConflict that names both checksums.
func (db *DB) PutVersion(ctx context.Context, v Version) (stored Version, created bool, err error) {
	if err := validateVersion(v); err != nil {
		return Version{}, false, fmt.Errorf("store version %s of app %s: %w", v.Version, v.App, err)
	}
	v.CreatedAt = v.CreatedAt.UTC().Truncate(time.Microsecond)
	fail := func(err error) (Version, bool, error) {
		return Version{}, false, fmt.Errorf("store version %s of app %s: %w", v.Version, v.App, err)
	}
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fail(err)
	}
	defer tx.Rollback()
	const q = `INSERT INTO versions (app, version, sha256, size, format, note, actor, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (app, version) DO NOTHING`
	res, err := tx.ExecContext(ctx, db.dialect.rebind(q), v.App, v.Version, v.SHA256, v.Size, v.Format, safeText(v.Note), v.Actor, formatTime(v.CreatedAt))
	if err != nil {
		return fail(err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fail(err)
	}
	if n == 1 {
		if err := tx.Commit(); err != nil {
			return fail(err)
		}
		v.Note = safeText(v.Note)
		return v, true, nil
	}
	// The conflicting row is committed (PostgreSQL waits for the inserting
	// transaction before it reports the conflict), so this sees it.
	old, err := scanVersion(tx.QueryRowContext(ctx, db.dialect.rebind(selectVersions+" WHERE app = ? AND version = ?"), v.App, v.Version))
	if err != nil {
		return fail(err)
	}
	if err := tx.Commit(); err != nil {
		return fail(err)
	}
	if old.SHA256 != v.SHA256 {
		return Version{}, false, fmt.Errorf("version %s of app %s exists with sha256:%s, not sha256:%s: %w", v.Version, v.App, old.SHA256, v.SHA256, ErrConflict)
	}
	return old, false, nil
}

// Version returns version of app, or an error wrapping ErrNotFound.
func (db *DB) Version(ctx context.Context, app, version string) (Version, error) {
	v, err := queryOne(ctx, db, selectVersions+" WHERE app = ? AND version = ?", scanVersion, app, version)
	if errors.Is(err, sql.ErrNoRows) {
		return Version{}, fmt.Errorf("version %s of app %s: %w", version, app, ErrNotFound)
	}
	if err != nil {
		return Version{}, fmt.Errorf("read version %s of app %s: %w", version, app, err)
	}
	return v, nil
}

// Versions returns the limit newest versions of app (by CreatedAt, then
// Version, descending), newest first; all of them when limit <= 0.
func (db *DB) Versions(ctx context.Context, app string, limit int) ([]Version, error) {
	q := selectVersions + " WHERE app = ? ORDER BY created_at DESC, version DESC"
	args := []any{app}
	if limit > 0 {
		q += " LIMIT ?"
		args = append(args, limit)
	}
	vs, err := queryAll(ctx, db, q, scanVersion, args...)
	if err != nil {
		return nil, fmt.Errorf("read versions of app %s: %w", app, err)
	}
	return vs, nil
}

// ArtifactUsed reports whether a version of some app has the artifact
// sha256, so that it must be kept.
func (db *DB) ArtifactUsed(ctx context.Context, sha256 string) (bool, error) {
	one := func(row scanner) (int, error) {
		var n int
		return n, row.Scan(&n)
	}
	_, err := queryOne(ctx, db, "SELECT 1 FROM versions WHERE sha256 = ? LIMIT 1", one, sha256)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("look for versions of artifact %s: %w", sha256, err)
	}
	return true, nil
}

// Deployment is one deliver, deploy or rollback of an app on an
// environment.
type Deployment struct {
	ID       string // chosen by the caller, unique
	App, Env string
	Kind     string // deliver, deploy, rollback
	Version  string // the version delivered, deployed or rolled back to
	Previous string // the environment's version before, "" for none
	Actor    string
	Override string // the reason given to skip the lifecycle, "" when not overridden
	State    string // running, ok, failed
	Summary  string // one line; the reason when it failed
	Hosts    []string
	Detail   string // JSON, opaque to the store (the steps)

	CreatedAt time.Time
	EndedAt   time.Time // zero while it runs
}

// Lock is held on (app, env) by a running deployment.
type Lock struct {
	App, Env   string
	Deployment string // the id of the deployment holding it
	Actor      string // who started that deployment
	Reason     string // e.g. "deploy 1.4.2"
	Since      time.Time
	Expires    time.Time // renewed while the deployment runs; after it, the lock may be taken over
}

// LockedError says who holds a lock: CreateDeployment returns it (find it
// with errors.As) when (app, env) is locked by a lock that has not expired.
type LockedError struct{ Lock Lock }

// Error says which deployment holds the lock, since when, why and until
// when.
func (e *LockedError) Error() string {
	l := e.Lock
	var b strings.Builder
	fmt.Fprintf(&b, "app %s env %s is locked by deployment %s", l.App, l.Env, l.Deployment)
	if l.Actor != "" {
		fmt.Fprintf(&b, " of %s", l.Actor)
	}
	fmt.Fprintf(&b, " since %s", messageTime(l.Since))
	if l.Reason != "" {
		fmt.Fprintf(&b, " (%s)", l.Reason)
	}
	fmt.Fprintf(&b, "; it expires at %s", messageTime(l.Expires))
	return b.String()
}

// messageTime is t in error messages: UTC, to the second.
func messageTime(t time.Time) string {
	return t.UTC().Format(time.RFC3339)
}

// CreateDeployment, in one transaction, takes the lock of (d.App, d.Env)
// and inserts d. The lock stored is lock with the App, Env and Deployment
// of d; its Expires must be set. An existing lock is replaced when it has
// expired (now >= its Expires); otherwise CreateDeployment fails with a
// *LockedError and stores nothing. d is stored running (State and EndedAt
// are ignored), with its times in UTC truncated to the microsecond. A
// deployment with the same ID is an error, and takes no lock.
//
// Concurrent calls for the same (app, env) take turns: PostgreSQL makes
// the second insert of the lock wait for the first, SQLite serialises
// writers, so exactly one of them takes the lock.
func (db *DB) CreateDeployment(ctx context.Context, d Deployment, lock Lock, now time.Time) error {
	if err := validateDeployment(d); err != nil {
		return fmt.Errorf("create deployment %s: %w", d.ID, err)
	}
	if lock.Expires.IsZero() {
		return fmt.Errorf("create deployment %s: the lock has no expiry", d.ID)
	}
	lock.App, lock.Env, lock.Deployment = d.App, d.Env, d.ID
	hosts, err := encodeHosts(d.Hosts)
	if err != nil {
		return fmt.Errorf("create deployment %s: hosts: %w", d.ID, err)
	}
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("create deployment %s: %w", d.ID, err)
	}
	defer tx.Rollback()
	// One statement takes a free or expired lock, atomically on both
	// databases; RETURNING gives a row only when it did.
	const take = `INSERT INTO locks (app, env, deployment, actor, reason, since, expires) VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (app, env) DO UPDATE SET deployment = excluded.deployment, actor = excluded.actor, reason = excluded.reason,
	since = excluded.since, expires = excluded.expires
WHERE locks.expires <= ?
RETURNING deployment`
	var holder string
	err = tx.QueryRowContext(ctx, db.dialect.rebind(take), lock.App, lock.Env, lock.Deployment, lock.Actor, lock.Reason,
		formatTime(lock.Since), formatTime(lock.Expires), formatTime(now)).Scan(&holder)
	if errors.Is(err, sql.ErrNoRows) {
		held, err := scanLock(tx.QueryRowContext(ctx, db.dialect.rebind(selectLocks+" WHERE app = ? AND env = ?"), d.App, d.Env))
		if err != nil {
			return fmt.Errorf("create deployment %s: read lock: %w", d.ID, err)
		}
		return &LockedError{Lock: held}
	}
	if err != nil {
		return fmt.Errorf("create deployment %s: lock: %w", d.ID, err)
	}
	const q = `INSERT INTO deployments (id, app, env, kind, version, previous, actor, override, state, summary, hosts, detail, created_at, ended_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'running', ?, ?, ?, ?, '')`
	_, err = tx.ExecContext(ctx, db.dialect.rebind(q), d.ID, d.App, d.Env, d.Kind, d.Version, d.Previous, d.Actor, safeText(d.Override),
		safeText(d.Summary), hosts, safeText(d.Detail), formatTime(d.CreatedAt))
	if err != nil {
		return fmt.Errorf("create deployment %s: %w", d.ID, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("create deployment %s: %w", d.ID, err)
	}
	return nil
}

// UpdateDeployment replaces the Detail of the running deployment id (its
// progress) and moves the Expires of its lock to lockExpires. A deployment
// that is not running gives an error wrapping ErrNotFound. A lock no longer
// held by the deployment (removed by Unlock, or taken over after it
// expired) is left alone: the detail is stored all the same.
func (db *DB) UpdateDeployment(ctx context.Context, id, detail string, lockExpires time.Time) error {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("update deployment %s: %w", id, err)
	}
	defer tx.Rollback()
	const q = `UPDATE deployments SET detail = ? WHERE id = ? AND state = 'running' RETURNING app, env`
	var app, env string
	err = tx.QueryRowContext(ctx, db.dialect.rebind(q), safeText(detail), id).Scan(&app, &env)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("running deployment %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("update deployment %s: %w", id, err)
	}
	if !lockExpires.IsZero() {
		const renew = `UPDATE locks SET expires = ? WHERE app = ? AND env = ? AND deployment = ?`
		if _, err := tx.ExecContext(ctx, db.dialect.rebind(renew), formatTime(lockExpires), app, env, id); err != nil {
			return fmt.Errorf("update deployment %s: renew lock: %w", id, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("update deployment %s: %w", id, err)
	}
	return nil
}

// EnvChange is what a deployment changes in the state of its environment
// (EndDeployment).
type EnvChange struct {
	Current        *string // set current, and previous to the old current when it differs (and is not "")
	Delivered      *string // set delivered
	LastDeployment string  // always set when EnvChange is given; "" for the deployment ended
}

// EndDeployment, in one transaction: sets the state (ok or failed),
// summary, detail and ended_at of the deployment id, which must be running
// (else an error wrapping ErrNotFound that says so); removes its lock, if
// that lock is still this deployment's; and, when env is not nil, applies
// env to the state of the deployment's environment, creating it if need
// be. The columns env does not name are left as they are, so a concurrent
// SetEnvCheck is never undone.
func (db *DB) EndDeployment(ctx context.Context, id, state, summary, detail string, at time.Time, env *EnvChange) error {
	if state != "ok" && state != "failed" {
		return fmt.Errorf("end deployment %s: state %q: want ok or failed", id, state)
	}
	if at.IsZero() {
		return fmt.Errorf("end deployment %s: no end time", id)
	}
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("end deployment %s: %w", id, err)
	}
	defer tx.Rollback()
	const q = `UPDATE deployments SET state = ?, summary = ?, detail = ?, ended_at = ? WHERE id = ? AND state = 'running'
RETURNING app, env`
	var app, envName string
	err = tx.QueryRowContext(ctx, db.dialect.rebind(q), state, safeText(summary), safeText(detail), formatTime(at), id).Scan(&app, &envName)
	if errors.Is(err, sql.ErrNoRows) {
		var was string
		err := tx.QueryRowContext(ctx, db.dialect.rebind(`SELECT state FROM deployments WHERE id = ?`), id).Scan(&was)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("deployment %s: %w", id, ErrNotFound)
		case err != nil:
			return fmt.Errorf("end deployment %s: %w", id, err)
		}
		return fmt.Errorf("deployment %s is not running (it ended %s): %w", id, was, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("end deployment %s: %w", id, err)
	}
	const unlock = `DELETE FROM locks WHERE app = ? AND env = ? AND deployment = ?`
	if _, err := tx.ExecContext(ctx, db.dialect.rebind(unlock), app, envName, id); err != nil {
		return fmt.Errorf("end deployment %s: unlock: %w", id, err)
	}
	if env != nil {
		last := env.LastDeployment
		if last == "" {
			last = id
		}
		if err := db.changeEnv(ctx, tx, app, envName, env.Current, env.Delivered, last); err != nil {
			return fmt.Errorf("end deployment %s: state of env %s: %w", id, envName, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("end deployment %s: %w", id, err)
	}
	return nil
}

// changeEnv upserts the env_states row of (app, env) in one statement,
// setting only the columns given. Every expression of the UPDATE reads the
// row as it was, in both databases, so previous takes the old current.
func (db *DB) changeEnv(ctx context.Context, tx *sql.Tx, app, env string, current, delivered *string, last string) error {
	set := []string{"last_deployment = excluded.last_deployment"}
	var cur, del string
	if current != nil {
		cur = *current
		set = append(set,
			`previous_version = CASE WHEN env_states.current_version <> excluded.current_version AND env_states.current_version <> ''
	THEN env_states.current_version ELSE env_states.previous_version END`,
			"current_version = excluded.current_version")
	}
	if delivered != nil {
		del = *delivered
		set = append(set, "delivered_version = excluded.delivered_version")
	}
	q := `INSERT INTO env_states (app, env, current_version, previous_version, delivered_version, last_deployment, checked_at, check_ok, check_summary)
VALUES (?, ?, ?, '', ?, ?, '', ?, '')
ON CONFLICT (app, env) DO UPDATE SET ` + strings.Join(set, ", ")
	_, err := tx.ExecContext(ctx, db.dialect.rebind(q), app, env, cur, del, last, false)
	return err
}

// Deployment returns the deployment with id, or an error wrapping
// ErrNotFound.
func (db *DB) Deployment(ctx context.Context, id string) (Deployment, error) {
	d, err := queryOne(ctx, db, selectDeployments+" WHERE id = ?", scanDeployment, id)
	if errors.Is(err, sql.ErrNoRows) {
		return Deployment{}, fmt.Errorf("deployment %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Deployment{}, fmt.Errorf("read deployment %s: %w", id, err)
	}
	return d, nil
}

// Deployments returns the limit newest deployments of app on env (by
// CreatedAt, then ID), newest first; on every environment when env is "",
// all of them when limit <= 0.
func (db *DB) Deployments(ctx context.Context, app, env string, limit int) ([]Deployment, error) {
	q := selectDeployments + " WHERE app = ?"
	args := []any{app}
	if env != "" {
		q += " AND env = ?"
		args = append(args, env)
	}
	q += " ORDER BY created_at DESC, id DESC"
	if limit > 0 {
		q += " LIMIT ?"
		args = append(args, limit)
	}
	ds, err := queryAll(ctx, db, q, scanDeployment, args...)
	if err != nil {
		return nil, fmt.Errorf("read deployments of app %s: %w", app, err)
	}
	return ds, nil
}

// OpenDeployments returns the deployments still running, of every app,
// oldest first (by CreatedAt, then ID).
func (db *DB) OpenDeployments(ctx context.Context) ([]Deployment, error) {
	ds, err := queryAll(ctx, db, selectDeployments+" WHERE state = 'running' ORDER BY created_at, id", scanDeployment)
	if err != nil {
		return nil, fmt.Errorf("read running deployments: %w", err)
	}
	return ds, nil
}

// Passed reports whether a deploy or rollback of version to (app, env)
// ended ok.
func (db *DB) Passed(ctx context.Context, app, env, version string) (bool, error) {
	one := func(row scanner) (int, error) {
		var n int
		return n, row.Scan(&n)
	}
	const q = `SELECT 1 FROM deployments WHERE app = ? AND version = ? AND env = ? AND kind IN ('deploy', 'rollback') AND state = 'ok' LIMIT 1`
	_, err := queryOne(ctx, db, q, one, app, version, env)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read deployments of version %s of app %s on %s: %w", version, app, env, err)
	}
	return true, nil
}

// PassedEnvs returns, for each version of app, the environments where a
// deploy or rollback of it ended ok, sorted by name. Versions that passed
// nowhere are not in the map.
func (db *DB) PassedEnvs(ctx context.Context, app string) (map[string][]string, error) {
	pair := func(row scanner) ([2]string, error) {
		var p [2]string
		return p, row.Scan(&p[0], &p[1])
	}
	const q = `SELECT DISTINCT version, env FROM deployments WHERE app = ? AND kind IN ('deploy', 'rollback') AND state = 'ok'
ORDER BY version, env`
	ps, err := queryAll(ctx, db, q, pair, app)
	if err != nil {
		return nil, fmt.Errorf("read passed deployments of app %s: %w", app, err)
	}
	out := map[string][]string{}
	for _, p := range ps {
		out[p[0]] = append(out[p[0]], p[1])
	}
	return out, nil
}

// Lock returns the lock of (app, env), expired or not, or an error wrapping
// ErrNotFound.
func (db *DB) Lock(ctx context.Context, app, env string) (Lock, error) {
	l, err := queryOne(ctx, db, selectLocks+" WHERE app = ? AND env = ?", scanLock, app, env)
	if errors.Is(err, sql.ErrNoRows) {
		return Lock{}, fmt.Errorf("lock of app %s env %s: %w", app, env, ErrNotFound)
	}
	if err != nil {
		return Lock{}, fmt.Errorf("read lock of app %s env %s: %w", app, env, err)
	}
	return l, nil
}

// Locks returns the locks of app's environments, expired or not, by
// environment name.
func (db *DB) Locks(ctx context.Context, app string) ([]Lock, error) {
	ls, err := queryAll(ctx, db, selectLocks+" WHERE app = ? ORDER BY env", scanLock, app)
	if err != nil {
		return nil, fmt.Errorf("read locks of app %s: %w", app, err)
	}
	return ls, nil
}

// Unlock removes the lock of (app, env) and returns it; an error wrapping
// ErrNotFound when there is none. The deployment that held it goes on
// running: EndDeployment then finds no lock to remove.
func (db *DB) Unlock(ctx context.Context, app, env string) (Lock, error) {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return Lock{}, fmt.Errorf("unlock app %s env %s: %w", app, env, err)
	}
	defer tx.Rollback()
	const q = `DELETE FROM locks WHERE app = ? AND env = ? RETURNING ` + lockColumns
	l, err := scanLock(tx.QueryRowContext(ctx, db.dialect.rebind(q), app, env))
	if errors.Is(err, sql.ErrNoRows) {
		return Lock{}, fmt.Errorf("lock of app %s env %s: %w", app, env, ErrNotFound)
	}
	if err != nil {
		return Lock{}, fmt.Errorf("unlock app %s env %s: %w", app, env, err)
	}
	if err := tx.Commit(); err != nil {
		return Lock{}, fmt.Errorf("unlock app %s env %s: %w", app, env, err)
	}
	return l, nil
}

// EnvState is what an environment of an app runs.
type EnvState struct {
	App, Env       string
	Current        string // the version deployed, "" for none
	Previous       string // the one before it, where rollback goes
	Delivered      string // the version last staged
	LastDeployment string // the id of the last deployment that changed this state

	CheckedAt    time.Time // the latest scheduled check; zero when never checked
	CheckOK      bool
	CheckSummary string
}

// EnvStates returns the states of app's environments that have one,
// sorted by environment name; the caller orders them by lifecycle.
func (db *DB) EnvStates(ctx context.Context, app string) ([]EnvState, error) {
	const q = `SELECT app, env, current_version, previous_version, delivered_version, last_deployment, checked_at, check_ok, check_summary
FROM env_states WHERE app = ? ORDER BY env`
	es, err := queryAll(ctx, db, q, scanEnvState, app)
	if err != nil {
		return nil, fmt.Errorf("read environments of app %s: %w", app, err)
	}
	return es, nil
}

// SetEnvCheck records the latest scheduled check of (app, env), creating
// its state if need be, and leaves the versions alone.
func (db *DB) SetEnvCheck(ctx context.Context, app, env string, at time.Time, ok bool, summary string) error {
	const q = `INSERT INTO env_states (app, env, current_version, previous_version, delivered_version, last_deployment, checked_at, check_ok, check_summary)
VALUES (?, ?, '', '', '', '', ?, ?, ?)
ON CONFLICT (app, env) DO UPDATE SET checked_at = excluded.checked_at, check_ok = excluded.check_ok, check_summary = excluded.check_summary`
	if _, err := db.write.ExecContext(ctx, db.dialect.rebind(q), app, env, formatTime(at), ok, safeText(summary)); err != nil {
		return fmt.Errorf("record check of app %s env %s: %w", app, env, err)
	}
	return nil
}

// Approval lets a version of an app be deployed to an environment that
// requires one.
type Approval struct {
	App, Env, Version string
	Actor             string // who approved
	Note              string
	CreatedAt         time.Time
}

// Approve records a and returns it as stored (CreatedAt in UTC, truncated
// to the microsecond). Approving again is not an error: created is false,
// and the first approval is returned.
func (db *DB) Approve(ctx context.Context, a Approval) (stored Approval, created bool, err error) {
	if a.App == "" || a.Env == "" || a.Version == "" {
		return Approval{}, false, fmt.Errorf("approve version %q of app %q on env %q: want an app, an env and a version", a.Version, a.App, a.Env)
	}
	a.CreatedAt = a.CreatedAt.UTC().Truncate(time.Microsecond)
	a.Note = safeText(a.Note)
	fail := func(err error) (Approval, bool, error) {
		return Approval{}, false, fmt.Errorf("approve version %s of app %s on env %s: %w", a.Version, a.App, a.Env, err)
	}
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fail(err)
	}
	defer tx.Rollback()
	const q = `INSERT INTO approvals (app, env, version, actor, note, created_at) VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (app, env, version) DO NOTHING`
	res, err := tx.ExecContext(ctx, db.dialect.rebind(q), a.App, a.Env, a.Version, a.Actor, a.Note, formatTime(a.CreatedAt))
	if err != nil {
		return fail(err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fail(err)
	}
	if n == 0 {
		a, err = scanApproval(tx.QueryRowContext(ctx, db.dialect.rebind(selectApprovals+" WHERE app = ? AND env = ? AND version = ?"), a.App, a.Env, a.Version))
		if err != nil {
			return fail(err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fail(err)
	}
	return a, n == 1, nil
}

// Approval returns the approval of version of app on env, or an error
// wrapping ErrNotFound.
func (db *DB) Approval(ctx context.Context, app, env, version string) (Approval, error) {
	a, err := queryOne(ctx, db, selectApprovals+" WHERE app = ? AND env = ? AND version = ?", scanApproval, app, env, version)
	if errors.Is(err, sql.ErrNoRows) {
		return Approval{}, fmt.Errorf("approval of version %s of app %s on env %s: %w", version, app, env, ErrNotFound)
	}
	if err != nil {
		return Approval{}, fmt.Errorf("read approval of version %s of app %s on env %s: %w", version, app, env, err)
	}
	return a, nil
}

// Approvals returns the approvals of app, oldest first (by CreatedAt,
// then env and version).
func (db *DB) Approvals(ctx context.Context, app string) ([]Approval, error) {
	as, err := queryAll(ctx, db, selectApprovals+" WHERE app = ? ORDER BY created_at, env, version", scanApproval, app)
	if err != nil {
		return nil, fmt.Errorf("read approvals of app %s: %w", app, err)
	}
	return as, nil
}

// validateVersion checks what the store relies on.
func validateVersion(v Version) error {
	switch {
	case v.App == "" || v.Version == "":
		return errors.New("want an app and a version")
	case !isSHA256(v.SHA256):
		return fmt.Errorf("sha256 %q: want 64 lower-case hexadecimal digits", v.SHA256)
	case v.Size < 0:
		return fmt.Errorf("size is %d, want 0 or more", v.Size)
	case v.Format != "tar" && v.Format != "tar.gz" && v.Format != "zip":
		return fmt.Errorf("format %q: want tar, tar.gz or zip", v.Format)
	}
	return nil
}

// validateDeployment checks what the store relies on.
func validateDeployment(d Deployment) error {
	switch {
	case d.ID == "":
		return errors.New("deployment has no id")
	case d.App == "" || d.Env == "":
		return errors.New("want an app and an env")
	case d.Kind != "deliver" && d.Kind != "deploy" && d.Kind != "rollback":
		return fmt.Errorf("kind %q: want deliver, deploy or rollback", d.Kind)
	case slices.Contains(d.Hosts, ""):
		return errors.New("a host has an empty id")
	}
	return nil
}

// isSHA256 reports whether s is 64 lower-case hexadecimal digits.
func isSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := range len(s) {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// encodeHosts returns hosts as a JSON array, "[]" when empty.
func encodeHosts(hosts []string) (string, error) {
	if hosts == nil {
		hosts = []string{}
	}
	b, err := json.Marshal(hosts)
	return string(b), err
}

// queryOne runs q, with ? placeholders, in a read transaction, and reads
// its first row with scan; no row gives sql.ErrNoRows.
func queryOne[T any](ctx context.Context, db *DB, q string, scan func(scanner) (T, error), args ...any) (T, error) {
	var zero T
	tx, err := db.read.BeginTx(ctx, readOnly)
	if err != nil {
		return zero, err
	}
	defer tx.Rollback()
	v, err := scan(tx.QueryRowContext(ctx, db.dialect.rebind(q), args...))
	if err != nil {
		return zero, err
	}
	return v, tx.Commit()
}

// queryAll runs q, with ? placeholders, in a read transaction, and reads
// every row with scan.
func queryAll[T any](ctx context.Context, db *DB, q string, scan func(scanner) (T, error), args ...any) ([]T, error) {
	tx, err := db.read.BeginTx(ctx, readOnly)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, db.dialect.rebind(q), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, tx.Commit()
}

// The starts of queries of versions, deployments, locks and approvals;
// the scan functions below read their columns.
const (
	selectVersions    = `SELECT app, version, sha256, size, format, note, actor, created_at FROM versions`
	selectDeployments = `SELECT id, app, env, kind, version, previous, actor, override, state, summary, hosts, detail, created_at, ended_at FROM deployments`
	lockColumns       = `app, env, deployment, actor, reason, since, expires`
	selectLocks       = `SELECT ` + lockColumns + ` FROM locks`
	selectApprovals   = `SELECT app, env, version, actor, note, created_at FROM approvals`
)

func scanVersion(row scanner) (Version, error) {
	var v Version
	var created string
	if err := row.Scan(&v.App, &v.Version, &v.SHA256, &v.Size, &v.Format, &v.Note, &v.Actor, &created); err != nil {
		return Version{}, err
	}
	var err error
	if v.CreatedAt, err = parseTime(created); err != nil {
		return Version{}, fmt.Errorf("version %s of app %s: created_at: %w", v.Version, v.App, err)
	}
	return v, nil
}

func scanDeployment(row scanner) (Deployment, error) {
	var d Deployment
	var hosts, created, ended string
	err := row.Scan(&d.ID, &d.App, &d.Env, &d.Kind, &d.Version, &d.Previous, &d.Actor, &d.Override, &d.State, &d.Summary,
		&hosts, &d.Detail, &created, &ended)
	if err != nil {
		return Deployment{}, err
	}
	if err := json.Unmarshal([]byte(hosts), &d.Hosts); err != nil {
		return Deployment{}, fmt.Errorf("deployment %s: hosts: %w", d.ID, err)
	}
	if len(d.Hosts) == 0 {
		d.Hosts = nil
	}
	if d.CreatedAt, err = parseTime(created); err != nil {
		return Deployment{}, fmt.Errorf("deployment %s: created_at: %w", d.ID, err)
	}
	if d.EndedAt, err = parseTime(ended); err != nil {
		return Deployment{}, fmt.Errorf("deployment %s: ended_at: %w", d.ID, err)
	}
	return d, nil
}

func scanLock(row scanner) (Lock, error) {
	var l Lock
	var since, expires string
	if err := row.Scan(&l.App, &l.Env, &l.Deployment, &l.Actor, &l.Reason, &since, &expires); err != nil {
		return Lock{}, err
	}
	var err error
	if l.Since, err = parseTime(since); err != nil {
		return Lock{}, fmt.Errorf("lock of app %s env %s: since: %w", l.App, l.Env, err)
	}
	if l.Expires, err = parseTime(expires); err != nil {
		return Lock{}, fmt.Errorf("lock of app %s env %s: expires: %w", l.App, l.Env, err)
	}
	return l, nil
}

func scanEnvState(row scanner) (EnvState, error) {
	var e EnvState
	var checked string
	err := row.Scan(&e.App, &e.Env, &e.Current, &e.Previous, &e.Delivered, &e.LastDeployment, &checked, &e.CheckOK, &e.CheckSummary)
	if err != nil {
		return EnvState{}, err
	}
	if e.CheckedAt, err = parseTime(checked); err != nil {
		return EnvState{}, fmt.Errorf("env %s of app %s: checked_at: %w", e.Env, e.App, err)
	}
	return e, nil
}

func scanApproval(row scanner) (Approval, error) {
	var a Approval
	var created string
	if err := row.Scan(&a.App, &a.Env, &a.Version, &a.Actor, &a.Note, &created); err != nil {
		return Approval{}, err
	}
	var err error
	if a.CreatedAt, err = parseTime(created); err != nil {
		return Approval{}, fmt.Errorf("approval of version %s of app %s on env %s: created_at: %w", a.Version, a.App, a.Env, err)
	}
	return a, nil
}
