package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Job is one unit of fleet work fanned out to hosts.
type Job struct {
	ID        string        // chosen by the caller (e.g. "j-<time>-<rand>"), unique
	Kind      string        // "run", "op", "apply"
	Actor     string        // who started it
	Selector  string        // the selector the hosts were chosen by
	Spec      string        // JSON of what runs (the command, op name and masked params, dry-run flag); opaque to the store
	Hosts     []string      // the hosts targeted, sorted; stored in job_results rows, returned by Job()
	Timeout   time.Duration // stored as milliseconds BIGINT
	Batch     string        // "" or "N" or "N%"
	CreatedAt time.Time     // when the job was created
	Deadline  time.Time     // when hosts still pending become unreachable
	EndedAt   time.Time     // zero while the job runs
	Result    string        // "" while running; then ok | failed (any host not ok/changed) ...
	Summary   string        // one line, e.g. "3 ok, 1 failed"
}

// JobResult is what one host returned for a job.
type JobResult struct {
	JobID     string
	HostID    string
	Status    string    // pending, ok, changed, failed, timeout, unreachable
	ExitCode  int       // the exit code of the command, 0 when none
	Output    string    // combined output, already capped by the caller
	Detail    string    // JSON, opaque (an apply report, an error message)
	StartedAt time.Time // zero if unknown
	EndedAt   time.Time // zero while pending
}

// CreateJob stores the new job j and one pending JobResult for each of its
// Hosts (duplicates counted once), in one transaction. Times are stored in
// UTC, truncated to the microsecond, and Timeout to the millisecond. A job
// with the same ID is an error.
func (db *DB) CreateJob(ctx context.Context, j Job) error {
	if j.ID == "" {
		return errors.New("create job: job has no id")
	}
	hosts := slices.Clone(j.Hosts)
	slices.Sort(hosts)
	hosts = slices.Compact(hosts)
	if len(hosts) > 0 && hosts[0] == "" {
		return fmt.Errorf("create job %s: a host has an empty id", j.ID)
	}
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("create job %s: %w", j.ID, err)
	}
	defer tx.Rollback()
	const q = `INSERT INTO jobs (id, kind, actor, selector, spec, timeout_ms, batch, created_at, deadline, ended_at, result, summary)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	_, err = tx.ExecContext(ctx, db.dialect.rebind(q), j.ID, j.Kind, j.Actor, j.Selector, j.Spec, j.Timeout.Milliseconds(), j.Batch,
		formatTime(j.CreatedAt), formatTime(j.Deadline), formatTime(j.EndedAt), j.Result, j.Summary)
	if err != nil {
		return fmt.Errorf("create job %s: %w", j.ID, err)
	}
	for chunk := range slices.Chunk(hosts, hostRowsPerInsert) {
		const row = "(?, ?, 'pending', 0, '', '', '', '')"
		q := "INSERT INTO job_results (job_id, host_id, status, exit_code, output, detail, started_at, ended_at) VALUES " +
			strings.Repeat(row+", ", len(chunk)-1) + row
		args := make([]any, 0, 2*len(chunk))
		for _, h := range chunk {
			args = append(args, j.ID, h)
		}
		if _, err := tx.ExecContext(ctx, db.dialect.rebind(q), args...); err != nil {
			return fmt.Errorf("create job %s: results: %w", j.ID, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("create job %s: %w", j.ID, err)
	}
	return nil
}

// Job returns the job with id and its results, sorted by host id, or an
// error wrapping ErrNotFound.
func (db *DB) Job(ctx context.Context, id string) (Job, []JobResult, error) {
	tx, err := db.read.BeginTx(ctx, readOnly)
	if err != nil {
		return Job{}, nil, fmt.Errorf("read job %s: %w", id, err)
	}
	defer tx.Rollback()
	j, err := scanJob(tx.QueryRowContext(ctx, db.dialect.rebind(selectJobs+" WHERE id = ?"), id))
	if errors.Is(err, sql.ErrNoRows) {
		return Job{}, nil, fmt.Errorf("job %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Job{}, nil, fmt.Errorf("read job %s: %w", id, err)
	}
	const q = `SELECT job_id, host_id, status, exit_code, output, detail, started_at, ended_at FROM job_results
WHERE job_id = ? ORDER BY host_id`
	rows, err := tx.QueryContext(ctx, db.dialect.rebind(q), id)
	if err != nil {
		return Job{}, nil, fmt.Errorf("read job %s: results: %w", id, err)
	}
	defer rows.Close()
	var rs []JobResult
	for rows.Next() {
		r, err := scanResult(rows)
		if err != nil {
			return Job{}, nil, fmt.Errorf("read job %s: results: %w", id, err)
		}
		rs = append(rs, r)
		j.Hosts = append(j.Hosts, r.HostID)
	}
	if err := rows.Err(); err != nil {
		return Job{}, nil, fmt.Errorf("read job %s: results: %w", id, err)
	}
	if err := tx.Commit(); err != nil {
		return Job{}, nil, fmt.Errorf("read job %s: %w", id, err)
	}
	return j, rs, nil
}

// Jobs returns the limit newest jobs (by CreatedAt, then ID), newest
// first, with their Hosts; all of them when limit <= 0.
func (db *DB) Jobs(ctx context.Context, limit int) ([]Job, error) {
	tail := " ORDER BY created_at DESC, id DESC"
	var args []any
	if limit > 0 {
		tail += " LIMIT ?"
		args = append(args, limit)
	}
	js, err := db.readJobs(ctx, tail, args...)
	if err != nil {
		return nil, fmt.Errorf("read jobs: %w", err)
	}
	return js, nil
}

// OpenJobs returns the jobs not yet ended (EndedAt zero), oldest first (by
// CreatedAt, then ID), with their Hosts.
func (db *DB) OpenJobs(ctx context.Context) ([]Job, error) {
	js, err := db.readJobs(ctx, " WHERE ended_at = '' ORDER BY created_at, id")
	if err != nil {
		return nil, fmt.Errorf("read open jobs: %w", err)
	}
	return js, nil
}

// SetResults stores the final results rs in one transaction. A result is
// stored only when the row's current status is pending or unreachable (a
// late delivery replaces unreachable); a row already final (ok, changed,
// failed, timeout) is left alone, so a retried delivery never counts twice.
// It returns, for each of rs, whether it was stored. A result for an
// unknown job and host pair is not stored, and is not an error. A result
// whose Status is not final (pending, or not a status) is an error, and
// nothing is stored.
//
// Output and Detail are stored as valid UTF-8 without NUL (which
// PostgreSQL's TEXT cannot hold): such bytes are read back as U+FFFD.
func (db *DB) SetResults(ctx context.Context, rs []JobResult) ([]bool, error) {
	for _, r := range rs {
		if !finalStatus(r.Status) {
			return nil, fmt.Errorf("set result of job %s on %s: status %q: want ok, changed, failed, timeout or unreachable", r.JobID, r.HostID, r.Status)
		}
	}
	stored := make([]bool, len(rs))
	if len(rs) == 0 {
		return stored, nil
	}
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("set %d job results: %w", len(rs), err)
	}
	defer tx.Rollback()
	// Results go in job and host order, so that concurrent calls on
	// PostgreSQL lock rows in the same order, and a result for a pair is
	// stored after the earlier ones for that pair. Each statement updates
	// a batch of distinct pairs: a pair seen again starts a new batch, so
	// results are stored as if one by one.
	order := make([]int, len(rs))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		return cmp.Or(strings.Compare(rs[a].JobID, rs[b].JobID), strings.Compare(rs[a].HostID, rs[b].HostID))
	})
	var full *sql.Stmt // the statement of a batch of resultRowsPerUpdate
	for start := 0; start < len(order); {
		batch := map[[2]string]int{} // job and host id: index in rs
		end := start
		for ; end < len(order) && end-start < resultRowsPerUpdate; end++ {
			r := rs[order[end]]
			k := [2]string{r.JobID, r.HostID}
			if _, ok := batch[k]; ok {
				break
			}
			batch[k] = order[end]
		}
		args := make([]any, 0, 8*(end-start))
		for _, i := range order[start:end] {
			r := rs[i]
			args = append(args, r.JobID, r.HostID, r.Status, r.ExitCode, safeText(r.Output), safeText(r.Detail),
				formatTime(r.StartedAt), formatTime(r.EndedAt))
		}
		var rows *sql.Rows
		if end-start == resultRowsPerUpdate {
			if full == nil {
				if full, err = tx.PrepareContext(ctx, db.dialect.rebind(setResults(resultRowsPerUpdate))); err != nil {
					return nil, fmt.Errorf("set %d job results: %w", len(rs), err)
				}
				defer full.Close()
			}
			rows, err = full.QueryContext(ctx, args...)
		} else {
			rows, err = tx.QueryContext(ctx, db.dialect.rebind(setResults(end-start)), args...)
		}
		if err != nil {
			return nil, fmt.Errorf("set %d job results: %w", len(rs), err)
		}
		for rows.Next() {
			var k [2]string
			if err := rows.Scan(&k[0], &k[1]); err != nil {
				rows.Close()
				return nil, fmt.Errorf("set %d job results: %w", len(rs), err)
			}
			stored[batch[k]] = true
		}
		if err := rows.Close(); err != nil {
			return nil, fmt.Errorf("set %d job results: %w", len(rs), err)
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("set %d job results: %w", len(rs), err)
		}
		start = end
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("set %d job results: %w", len(rs), err)
	}
	return stored, nil
}

// MarkUnreachable sets the results of job jobID that are still pending to
// unreachable, ended at at, and returns the ids of their hosts, sorted. It
// looks at the given hosts only, or at every host of the job when hosts is
// nil. An unknown job gives an error wrapping ErrNotFound.
func (db *DB) MarkUnreachable(ctx context.Context, jobID string, hosts []string, at time.Time) ([]string, error) {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("mark hosts of job %s unreachable: %w", jobID, err)
	}
	defer tx.Rollback()
	var one int
	err = tx.QueryRowContext(ctx, db.dialect.rebind(`SELECT 1 FROM jobs WHERE id = ?`), jobID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("job %s: %w", jobID, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("mark hosts of job %s unreachable: %w", jobID, err)
	}
	const q = `UPDATE job_results SET status = 'unreachable', ended_at = ? WHERE job_id = ? AND status = 'pending'`
	var out []string
	mark := func(q string, args ...any) error {
		rows, err := tx.QueryContext(ctx, db.dialect.rebind(q+" RETURNING host_id"), args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var h string
			if err := rows.Scan(&h); err != nil {
				return err
			}
			out = append(out, h)
		}
		return rows.Err()
	}
	end := formatTime(at)
	if hosts == nil {
		err = mark(q, end, jobID)
	}
	for chunk := range slices.Chunk(hosts, hostRowsPerInsert) {
		args := []any{end, jobID}
		for _, h := range chunk {
			args = append(args, h)
		}
		if err = mark(q+" AND host_id IN ("+placeholders(len(chunk))+")", args...); err != nil {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("mark hosts of job %s unreachable: %w", jobID, err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("mark hosts of job %s unreachable: %w", jobID, err)
	}
	slices.Sort(out)
	return out, nil
}

// EndJob records that the job jobID ended at at with result and summary,
// replacing what an earlier EndJob recorded. An unknown job gives an error
// wrapping ErrNotFound.
func (db *DB) EndJob(ctx context.Context, jobID, result, summary string, at time.Time) error {
	if at.IsZero() || result == "" {
		return fmt.Errorf("end job %s: want a result and a time", jobID)
	}
	const q = `UPDATE jobs SET ended_at = ?, result = ?, summary = ? WHERE id = ?`
	res, err := db.write.ExecContext(ctx, db.dialect.rebind(q), formatTime(at), result, summary, jobID)
	if err != nil {
		return fmt.Errorf("end job %s: %w", jobID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("end job %s: %w", jobID, err)
	}
	if n == 0 {
		return fmt.Errorf("job %s: %w", jobID, ErrNotFound)
	}
	return nil
}

// resultRowsPerUpdate bounds the results stored by one statement of
// SetResults, to stay below the placeholder limits of both databases.
const resultRowsPerUpdate = 500

// setResults returns the statement of SetResults for n results, of eight
// arguments each: job id, host id, status, exit code, output, detail,
// started and ended at. It returns the job and host ids of the rows it
// changed.
func setResults(n int) string {
	return `UPDATE job_results SET status = v.column3, exit_code = v.column4, output = v.column5, detail = v.column6,
	started_at = v.column7, ended_at = v.column8
FROM (VALUES ` + rowList("(?, ?, ?, CAST(? AS BIGINT), ?, ?, ?, ?)", n) + `) AS v
WHERE job_results.job_id = v.column1 AND job_results.host_id = v.column2 AND job_results.status IN ('pending', 'unreachable')
RETURNING job_results.job_id, job_results.host_id`
}

// finalStatus says whether SetResults may store status.
func finalStatus(status string) bool {
	switch status {
	case "ok", "changed", "failed", "timeout", "unreachable":
		return true
	}
	return false
}

// safeText returns s as valid UTF-8 without NUL, replacing what is not
// with U+FFFD.
func safeText(s string) string {
	if utf8.ValidString(s) && !strings.ContainsRune(s, 0) {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// placeholders returns n comma-separated placeholders.
func placeholders(n int) string {
	return strings.Repeat("?, ", n-1) + "?"
}

// selectJobs is the start of every query of jobs; scanJob reads its
// columns.
const selectJobs = `SELECT id, kind, actor, selector, spec, timeout_ms, batch, created_at, deadline, ended_at, result, summary FROM jobs`

// readJobs returns, in one read transaction, the jobs of selectJobs+tail
// with their Hosts. tail filters, orders and limits jobs, with the
// placeholders of args.
func (db *DB) readJobs(ctx context.Context, tail string, args ...any) ([]Job, error) {
	tx, err := db.read.BeginTx(ctx, readOnly)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, db.dialect.rebind(selectJobs+tail), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Job
	index := map[string]int{}
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			return nil, err
		}
		index[j.ID] = len(out)
		out = append(out, j)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, tx.Commit()
	}
	q := `SELECT job_id, host_id FROM job_results WHERE job_id IN (SELECT id FROM jobs` + tail + `) ORDER BY job_id, host_id`
	hrows, err := tx.QueryContext(ctx, db.dialect.rebind(q), args...)
	if err != nil {
		return nil, fmt.Errorf("hosts: %w", err)
	}
	defer hrows.Close()
	for hrows.Next() {
		var job, h string
		if err := hrows.Scan(&job, &h); err != nil {
			return nil, fmt.Errorf("hosts: %w", err)
		}
		if i, ok := index[job]; ok {
			out[i].Hosts = append(out[i].Hosts, h)
		}
	}
	if err := hrows.Err(); err != nil {
		return nil, fmt.Errorf("hosts: %w", err)
	}
	return out, tx.Commit()
}

// scanJob reads the columns of selectJobs.
func scanJob(row scanner) (Job, error) {
	var j Job
	var timeout int64
	var created, deadline, ended string
	err := row.Scan(&j.ID, &j.Kind, &j.Actor, &j.Selector, &j.Spec, &timeout, &j.Batch, &created, &deadline, &ended, &j.Result, &j.Summary)
	if err != nil {
		return Job{}, err
	}
	j.Timeout = time.Duration(timeout) * time.Millisecond
	if j.CreatedAt, err = parseTime(created); err != nil {
		return Job{}, fmt.Errorf("job %s: created_at: %w", j.ID, err)
	}
	if j.Deadline, err = parseTime(deadline); err != nil {
		return Job{}, fmt.Errorf("job %s: deadline: %w", j.ID, err)
	}
	if j.EndedAt, err = parseTime(ended); err != nil {
		return Job{}, fmt.Errorf("job %s: ended_at: %w", j.ID, err)
	}
	return j, nil
}

// scanResult reads the columns of a job_results row: job_id, host_id,
// status, exit_code, output, detail, started_at, ended_at.
func scanResult(row scanner) (JobResult, error) {
	var r JobResult
	var started, ended string
	if err := row.Scan(&r.JobID, &r.HostID, &r.Status, &r.ExitCode, &r.Output, &r.Detail, &started, &ended); err != nil {
		return JobResult{}, err
	}
	var err error
	if r.StartedAt, err = parseTime(started); err != nil {
		return JobResult{}, fmt.Errorf("host %s: started_at: %w", r.HostID, err)
	}
	if r.EndedAt, err = parseTime(ended); err != nil {
		return JobResult{}, fmt.Errorf("host %s: ended_at: %w", r.HostID, err)
	}
	return r, nil
}

// rowList returns n copies of row, comma-separated, for a multi-row VALUES.
func rowList(row string, n int) string {
	return strings.Repeat(row+", ", n-1) + row
}
