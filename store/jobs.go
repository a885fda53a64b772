package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

const jobColumns = "id, kind, request_id, workspace, payload, state, attempts, max_attempts, run_at, lease_owner, lease_until, last_error, result, created_at, updated_at"

func scanJob(row scanner) (Job, error) {
	var j Job
	err := row.Scan(&j.ID, &j.Kind, &j.RequestID, &j.Workspace, &j.Payload, &j.State, &j.Attempts, &j.MaxAttempts,
		tsCol{&j.RunAt}, &j.LeaseOwner, tsCol{&j.LeaseUntil}, &j.LastError, &j.Result, tsCol{&j.CreatedAt}, tsCol{&j.UpdatedAt})
	return j, err
}

func (s *sqlStore) getJob(ctx context.Context, q querier, id string) (Job, error) {
	j, err := scanJob(q.QueryRowContext(ctx, s.q("SELECT "+jobColumns+" FROM jobs WHERE id = ?"), id))
	if errors.Is(err, sql.ErrNoRows) {
		return Job{}, ErrNotFound
	}
	return j, err
}

func (s *sqlStore) Enqueue(ctx context.Context, nj NewJob) (Job, bool, error) {
	var (
		job     Job
		created bool
	)
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		job, created, err = s.enqueue(ctx, tx, nj, s.now())
		return err
	})
	if err != nil {
		return Job{}, false, fmt.Errorf("store: enqueue %s job: %w", nj.Kind, err)
	}
	return job, created, nil
}

// enqueue adds a job inside tx, or returns the first job of its key.
func (s *sqlStore) enqueue(ctx context.Context, tx *sql.Tx, nj NewJob, now time.Time) (Job, bool, error) {
	if nj.Kind == "" {
		return Job{}, false, errors.New("a job needs a kind")
	}
	id := newID(now)
	if !nj.Key.IsZero() {
		first, m, err := s.putKey(ctx, tx, nj.Key, keyMarker{Job: id}, now)
		if err != nil {
			return Job{}, false, err
		}
		if !first {
			if m.Job == "" {
				return Job{}, false, fmt.Errorf("%w: idempotency key %s was used for another operation", ErrConflict, nj.Key)
			}
			j, err := s.getJob(ctx, tx, m.Job)
			if err != nil {
				return Job{}, false, fmt.Errorf("job %s of idempotency key %s: %w", m.Job, nj.Key, err)
			}
			return j, false, nil
		}
	}
	j := Job{
		ID:          id,
		Kind:        nj.Kind,
		RequestID:   nj.RequestID,
		Workspace:   nj.Workspace,
		Payload:     nj.Payload,
		State:       JobQueued,
		MaxAttempts: nj.MaxAttempts,
		RunAt:       nj.RunAt.UTC().Truncate(time.Microsecond),
		CreatedAt:   now,
		UpdatedAt:   now,
	}
	if j.MaxAttempts <= 0 {
		j.MaxAttempts = s.cfg.maxAttempts
	}
	if nj.RunAt.IsZero() {
		j.RunAt = now
	}
	_, err := tx.ExecContext(ctx, s.q(`INSERT INTO jobs
		(id, kind, request_id, workspace, payload, state, attempts, max_attempts, run_at, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?)`),
		j.ID, j.Kind, j.RequestID, j.Workspace, j.Payload, string(j.State), j.MaxAttempts, s.ts(j.RunAt), s.ts(now), s.ts(now))
	if err != nil {
		return Job{}, false, fmt.Errorf("insert job: %w", err)
	}
	return j, true, nil
}

// enqueueFor enqueues the jobs of a request write (AndEnqueue).
func (s *sqlStore) enqueueFor(ctx context.Context, tx *sql.Tx, requestID string, jobs []NewJob, now time.Time) error {
	for _, j := range jobs {
		if j.RequestID == "" {
			j.RequestID = requestID
		}
		if _, _, err := s.enqueue(ctx, tx, j, now); err != nil {
			return fmt.Errorf("enqueue %s job: %w", j.Kind, err)
		}
	}
	return nil
}

// maxClaimScan bounds the candidates one Claim looks at; past it the
// worker polls again.
const maxClaimScan = 32

// claimSalt is the first key of the transaction-level advisory locks that
// serialise claims on one workspace; LockWorkspace's session locks use the
// single 64-bit key space, which PostgreSQL keeps apart from this one.
const claimSalt = 0x636c7573 // "clus"

// candidate is a job Claim may take.
type candidate struct {
	id, workspace, state, leaseOwner string
	attempts, maxAttempts            int
	runAt                            time.Time
}

func (s *sqlStore) Claim(ctx context.Context, worker string, lease time.Duration, kinds ...string) (Job, bool, error) {
	if worker == "" || lease <= 0 {
		return Job{}, false, fmt.Errorf("store: claim job: need a worker id and a positive lease, got %q and %v", worker, lease)
	}
	var (
		job Job
		ok  bool
	)
	err := s.tx(ctx, func(tx *sql.Tx) error {
		now := s.now()
		var busy []string // workspaces another claimer holds (PostgreSQL)
		for range maxClaimScan {
			c, found, err := s.nextCandidate(ctx, tx, now, kinds, busy)
			if err != nil || !found {
				return err
			}
			if c.state == string(JobRunning) && c.attempts >= c.maxAttempts {
				// Its worker died on the last attempt: no more takeovers.
				msg := fmt.Sprintf("lease of %s expired on attempt %d of %d", c.leaseOwner, c.attempts, c.maxAttempts)
				if _, err := tx.ExecContext(ctx, s.q(`UPDATE jobs SET state = ?, last_error = ?, lease_until = NULL, updated_at = ? WHERE id = ?`),
					string(JobDead), msg, s.ts(now), c.id); err != nil {
					return fmt.Errorf("bury job %s: %w", c.id, err)
				}
				continue
			}
			if c.workspace != "" && s.dialect == postgresDialect {
				free, err := s.workspaceFree(ctx, tx, c, now)
				if err != nil {
					return err
				}
				if !free {
					busy = append(busy, c.workspace)
					continue
				}
			}
			_, err = tx.ExecContext(ctx, s.q(`UPDATE jobs SET state = ?, lease_owner = ?, lease_until = ?,
				attempts = attempts + 1, updated_at = ? WHERE id = ?`),
				string(JobRunning), worker, s.ts(now.Add(lease)), s.ts(now), c.id)
			if err != nil {
				return fmt.Errorf("lease job %s: %w", c.id, err)
			}
			job, err = s.getJob(ctx, tx, c.id)
			ok = err == nil
			return err
		}
		return nil
	})
	if err != nil {
		return Job{}, false, fmt.Errorf("store: claim job: %w", err)
	}
	return job, ok, nil
}

// nextCandidate returns the oldest runnable job: queued and due, or running
// with an expired lease, whose workspace has no job running with a live
// lease. On PostgreSQL the row is locked, and rows other claimers hold are
// skipped.
//
// The two kinds of runnable job are looked up apart (claimQueries), each
// through its own partial index in the order Claim takes them: one query
// with an OR of both would read every due job to sort them. Expired
// leases come first when they are as old: they are rare and were taken
// once already.
func (s *sqlStore) nextCandidate(ctx context.Context, tx *sql.Tx, now time.Time, kinds, busy []string) (candidate, bool, error) {
	var (
		best  candidate
		found bool
	)
	for _, cq := range s.claimQueries(now, kinds, busy) {
		var c candidate
		err := tx.QueryRowContext(ctx, cq.query, cq.args...).Scan(&c.id, &c.workspace, &c.state, &c.leaseOwner, &c.attempts, &c.maxAttempts, tsCol{&c.runAt})
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return candidate{}, false, fmt.Errorf("find runnable job: %w", err)
		}
		if !found || c.runAt.Before(best.runAt) || (c.runAt.Equal(best.runAt) && c.id < best.id) {
			best, found = c, true
		}
	}
	return best, found, nil
}

// claimQuery is one of the lookups of nextCandidate, ready to run.
type claimQuery struct {
	name  string // what it finds, for tests
	query string
	args  []any
}

// claimQueries are nextCandidate's lookups: the oldest running job whose
// lease expired (jobs_running), and the oldest due queued job
// (jobs_queued, read in order from its start). Both skip a job whose
// workspace is busy (jobs_workspace_running) or in busy.
func (s *sqlStore) claimQueries(now time.Time, kinds, busy []string) []claimQuery {
	build := func(name, runnable string) claimQuery {
		query := `SELECT j.id, j.workspace, j.state, j.lease_owner, j.attempts, j.max_attempts, j.run_at FROM jobs j
		WHERE ` + runnable + `
		AND (j.workspace = '' OR NOT EXISTS (SELECT 1 FROM jobs o WHERE o.state = 'running' AND o.workspace = j.workspace
			AND o.lease_until >= ? AND o.id <> j.id))`
		args := []any{s.ts(now), s.ts(now)}
		if len(kinds) > 0 {
			query += " AND j.kind IN (" + placeholders(len(kinds)) + ")"
			for _, k := range kinds {
				args = append(args, k)
			}
		}
		if len(busy) > 0 {
			query += " AND j.workspace NOT IN (" + placeholders(len(busy)) + ")"
			for _, w := range busy {
				args = append(args, w)
			}
		}
		query += " ORDER BY j.run_at, j.id LIMIT 1" + s.forUpdate("FOR UPDATE OF j SKIP LOCKED")
		return claimQuery{name: name, query: s.q(query), args: args}
	}
	return []claimQuery{
		build("expired", "j.state = 'running' AND j.lease_until < ?"),
		build("queued", "j.state = 'queued' AND j.run_at <= ?"),
	}
}

// workspaceFree decides, on PostgreSQL, whether c may start on its
// workspace. The candidate query saw a snapshot: a concurrent claimer may
// be starting another job of that workspace right now. A transaction
// advisory lock per workspace orders such claimers; whoever gets it second
// re-reads, after the first has committed, and sees its running job.
func (s *sqlStore) workspaceFree(ctx context.Context, tx *sql.Tx, c candidate, now time.Time) (bool, error) {
	var locked bool
	if err := tx.QueryRowContext(ctx, "SELECT pg_try_advisory_xact_lock($1, hashtext($2))", claimSalt, c.workspace).Scan(&locked); err != nil {
		return false, fmt.Errorf("lock workspace %s for claim: %w", c.workspace, err)
	}
	if !locked {
		return false, nil
	}
	var taken bool
	err := tx.QueryRowContext(ctx, s.q(`SELECT EXISTS (SELECT 1 FROM jobs WHERE workspace = ? AND id <> ?
		AND state = 'running' AND lease_until >= ?)`), c.workspace, c.id, s.ts(now)).Scan(&taken)
	if err != nil {
		return false, fmt.Errorf("check workspace %s: %w", c.workspace, err)
	}
	return !taken, nil
}

func (s *sqlStore) Heartbeat(ctx context.Context, id, worker string, lease time.Duration) error {
	if lease <= 0 {
		return fmt.Errorf("store: heartbeat job %s: need a positive lease, got %v", id, lease)
	}
	now := s.now()
	res, err := s.w.ExecContext(ctx, s.q(`UPDATE jobs SET lease_until = ?, updated_at = ?
		WHERE id = ? AND lease_owner = ? AND state = 'running'`), s.ts(now.Add(lease)), s.ts(now), id, worker)
	if err := s.leaseHeld(ctx, s.w, id, res, err); err != nil {
		return fmt.Errorf("store: heartbeat job %s for %s: %w", id, worker, err)
	}
	return nil
}

func (s *sqlStore) Complete(ctx context.Context, id, worker string, result []byte) error {
	now := s.now()
	res, err := s.w.ExecContext(ctx, s.q(`UPDATE jobs SET state = 'done', result = ?, lease_until = NULL, updated_at = ?
		WHERE id = ? AND lease_owner = ? AND state = 'running'`), result, s.ts(now), id, worker)
	if err := s.leaseHeld(ctx, s.w, id, res, err); err != nil {
		return fmt.Errorf("store: complete job %s for %s: %w", id, worker, err)
	}
	return nil
}

func (s *sqlStore) Release(ctx context.Context, id, worker string) error {
	if err := s.requeue(ctx, id, worker, nil); err != nil {
		return fmt.Errorf("store: release job %s for %s: %w", id, worker, err)
	}
	return nil
}

// maxDefer bounds a deferral: the time comes from outside (GitHub's
// rate-limit reset), and a bad one must not park a job for good.
const maxDefer = 2 * time.Hour

func (s *sqlStore) Defer(ctx context.Context, id, worker string, until time.Time) error {
	now := s.now()
	if until.Before(now) {
		until = now
	}
	if limit := now.Add(maxDefer); until.After(limit) {
		until = limit
	}
	at := s.ts(until)
	if err := s.requeue(ctx, id, worker, at); err != nil {
		return fmt.Errorf("store: defer job %s for %s: %w", id, worker, err)
	}
	return nil
}

// requeue gives a running job back to the queue without counting its
// attempt, due at runAt (a stored timestamp), or when it was due if nil.
func (s *sqlStore) requeue(ctx context.Context, id, worker string, runAt any) error {
	res, err := s.w.ExecContext(ctx, s.q(`UPDATE jobs SET state = 'queued', lease_until = NULL, run_at = COALESCE(?, run_at), updated_at = ?,
		attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END
		WHERE id = ? AND lease_owner = ? AND state = 'running'`), runAt, s.ts(s.now()), id, worker)
	return s.leaseHeld(ctx, s.w, id, res, err)
}

// leaseHeld turns a lease-guarded update that matched no row into
// ErrLeaseLost, or ErrNotFound if there is no such job.
func (s *sqlStore) leaseHeld(ctx context.Context, q querier, id string, res sql.Result, err error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 1 {
		return nil
	}
	j, err := s.getJob(ctx, q, id)
	if err != nil {
		return err
	}
	return fmt.Errorf("%w (job is %s, leased to %q)", ErrLeaseLost, j.State, j.LeaseOwner)
}

// maxErrorLen keeps a job's last error to a size worth showing.
const maxErrorLen = 4096

func (s *sqlStore) Fail(ctx context.Context, id, worker string, cause error, retryable bool) (Job, error) {
	msg := "unknown error"
	if cause != nil {
		msg = cause.Error()
	}
	if len(msg) > maxErrorLen {
		msg = msg[:maxErrorLen] + "..."
	}
	// PostgreSQL text takes neither NUL nor broken UTF-8 (the cut above,
	// or a tool's raw output).
	msg = strings.ToValidUTF8(strings.ReplaceAll(msg, "\x00", ""), "\uFFFD")
	var job Job
	err := s.tx(ctx, func(tx *sql.Tx) error {
		j, err := s.getJob(ctx, tx, id)
		if err != nil {
			return err
		}
		if j.State != JobRunning || j.LeaseOwner != worker {
			return fmt.Errorf("%w (job is %s, leased to %q)", ErrLeaseLost, j.State, j.LeaseOwner)
		}
		now := s.now()
		switch {
		case !retryable:
			j.State = JobFailed
		case j.Attempts >= j.MaxAttempts:
			j.State = JobDead
		default:
			j.State = JobQueued
			j.RunAt = now.Add(s.backoff(j.Attempts)).Truncate(time.Microsecond)
		}
		j.LastError, j.LeaseUntil, j.UpdatedAt = msg, time.Time{}, now
		// The guard repeats the check above: SQLite's transaction excludes
		// other writers, PostgreSQL's row is not locked by the read.
		res, err := tx.ExecContext(ctx, s.q(`UPDATE jobs SET state = ?, run_at = ?, last_error = ?, lease_until = NULL, updated_at = ?
			WHERE id = ? AND lease_owner = ? AND state = 'running'`),
			string(j.State), s.ts(j.RunAt), msg, s.ts(now), id, worker)
		if err := s.leaseHeld(ctx, tx, id, res, err); err != nil {
			return err
		}
		job = j
		return nil
	})
	if err != nil {
		return Job{}, fmt.Errorf("store: fail job %s for %s: %w", id, worker, err)
	}
	return job, nil
}

// backoff is the delay before retrying after attempt n (1-based): base
// doubled n-1 times, capped, then jittered down by up to half so that jobs
// that failed together do not retry together.
func (s *sqlStore) backoff(n int) time.Duration {
	d := s.cfg.backoffBase
	for i := 1; i < n && d < s.cfg.backoffMax; i++ {
		d *= 2
	}
	d = min(d, s.cfg.backoffMax)
	half := d / 2
	return d - half + rand.N(half+1)
}

func (s *sqlStore) GetJob(ctx context.Context, id string) (Job, error) {
	j, err := s.getJob(ctx, s.r, id)
	if err != nil {
		return Job{}, fmt.Errorf("store: get job %s: %w", id, err)
	}
	return j, nil
}

func (s *sqlStore) ListJobs(ctx context.Context, f JobFilter) ([]Job, error) {
	var (
		where []string
		args  []any
	)
	if f.RequestID != "" {
		where = append(where, "request_id = ?")
		args = append(args, f.RequestID)
	}
	if f.Kind != "" {
		where = append(where, "kind = ?")
		args = append(args, f.Kind)
	}
	if len(f.States) > 0 {
		where = append(where, "state IN ("+placeholders(len(f.States))+")")
		for _, st := range f.States {
			args = append(args, string(st))
		}
	}
	query := "SELECT " + jobColumns + " FROM jobs"
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY created_at, id"
	if f.Limit > 0 {
		query += " LIMIT ?"
		args = append(args, f.Limit)
	}
	rows, err := s.r.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, fmt.Errorf("store: list jobs: %w", err)
	}
	defer rows.Close()
	var jobs []Job
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list jobs: %w", err)
		}
		jobs = append(jobs, j)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list jobs: %w", err)
	}
	return jobs, nil
}

func (s *sqlStore) Stats(ctx context.Context) (QueueStats, error) {
	var st QueueStats
	rows, err := s.r.QueryContext(ctx, "SELECT kind, state, COUNT(*) FROM jobs GROUP BY kind, state ORDER BY kind, state")
	if err != nil {
		return QueueStats{}, fmt.Errorf("store: queue stats: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var d QueueDepth
		if err := rows.Scan(&d.Kind, &d.State, &d.Jobs); err != nil {
			return QueueStats{}, fmt.Errorf("store: queue stats: %w", err)
		}
		st.Depth = append(st.Depth, d)
	}
	if err := rows.Err(); err != nil {
		return QueueStats{}, fmt.Errorf("store: queue stats: %w", err)
	}
	now := s.now()
	var oldest time.Time
	if err := s.r.QueryRowContext(ctx, s.q("SELECT MIN(run_at) FROM jobs WHERE state = 'queued' AND run_at <= ?"), s.ts(now)).Scan(tsCol{&oldest}); err != nil {
		return QueueStats{}, fmt.Errorf("store: queue stats: %w", err)
	}
	if !oldest.IsZero() {
		st.OldestDue = now.Sub(oldest)
	}
	return st, nil
}
