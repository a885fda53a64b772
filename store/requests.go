package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/clustropg/clustro/request"
)

const recordColumns = "id, state, request, failure, pr_number, pr_url, plan_summary, slack_channel, slack_ts, version, created_at, updated_at"

type scanner interface{ Scan(dest ...any) error }

func scanRecord(row scanner) (Record, error) {
	var (
		rec          Record
		id           string
		doc, failure []byte
	)
	err := row.Scan(&id, &rec.State, &doc, &failure, &rec.PR.Number, &rec.PR.URL, &rec.PlanSummary,
		&rec.Progress.Channel, &rec.Progress.TS, &rec.Version, tsCol{&rec.CreatedAt}, tsCol{&rec.UpdatedAt})
	if err != nil {
		return Record{}, err
	}
	if err := json.Unmarshal(doc, &rec.Request); err != nil {
		return Record{}, fmt.Errorf("decode request %s: %w", id, err)
	}
	rec.Request.ID = id
	if failure != nil {
		rec.Failure = new(request.Failure)
		if err := json.Unmarshal(failure, rec.Failure); err != nil {
			return Record{}, fmt.Errorf("decode failure of request %s: %w", id, err)
		}
	}
	return rec, nil
}

// getRecord reads one record; locked takes its row lock (PostgreSQL) so
// that concurrent writers of the same request queue behind each other.
func (s *sqlStore) getRecord(ctx context.Context, q querier, id string, locked bool) (Record, error) {
	query := "SELECT " + recordColumns + " FROM requests WHERE id = ?"
	if locked {
		query += s.forUpdate("FOR UPDATE")
	}
	rec, err := scanRecord(q.QueryRowContext(ctx, s.q(query), id))
	if errors.Is(err, sql.ErrNoRows) {
		return Record{}, ErrNotFound
	}
	return rec, err
}

func (s *sqlStore) CreateRequest(ctx context.Context, in NewRequest) (Record, bool, error) {
	now := s.now()
	r := in.Request
	if r.ID == "" {
		r.ID = newID(now)
	}
	if r.CreatedAt.IsZero() {
		r.CreatedAt = now
	}
	state := in.State
	if state == "" {
		state = request.Submitted
	}
	if state != request.Draft && state != request.Submitted {
		return Record{}, false, fmt.Errorf("store: create request: a request starts as %s or %s, not %q", request.Draft, request.Submitted, state)
	}
	doc, err := json.Marshal(r)
	if err != nil {
		return Record{}, false, fmt.Errorf("store: create request: encode: %w", err)
	}
	var (
		rec     Record
		created bool
	)
	err = s.tx(ctx, func(tx *sql.Tx) error {
		if !in.Key.IsZero() {
			first, m, err := s.putKey(ctx, tx, in.Key, keyMarker{Request: r.ID}, now)
			if err != nil {
				return err
			}
			if !first {
				if m.Request == "" {
					return fmt.Errorf("%w: idempotency key %s was used for another operation", ErrConflict, in.Key)
				}
				rec, err = s.getRecord(ctx, tx, m.Request, false)
				return err
			}
		}
		if in.OneAtATime {
			if err := s.checkNoneInFlight(ctx, tx, r); err != nil {
				return err
			}
		}
		identity := request.NamesOf(r.Spec).Qualified
		if err := s.checkIdentity(ctx, tx, r.Spec, identity); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, s.q(`INSERT INTO requests
			(id, env, team, name, identity, kind, state, requester_id, request, version, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?) ON CONFLICT (id) DO NOTHING`),
			r.ID, r.Environment, r.Team, r.Name, identity, string(r.Kind), string(state), r.Requester.ID, string(doc), s.ts(now), s.ts(now))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return fmt.Errorf("%w: request id %s is taken", ErrConflict, r.ID)
		}
		ev := in.Event
		ev.From, ev.To = "", state
		if err := s.insertEvent(ctx, tx, r.ID, now, ev); err != nil {
			return err
		}
		if err := s.refreshDatabase(ctx, tx, keyOf(Record{Request: r})); err != nil {
			return err
		}
		for _, j := range in.Jobs {
			if j.RequestID == "" {
				j.RequestID = r.ID
			}
			if _, _, err := s.enqueue(ctx, tx, j, now); err != nil {
				return err
			}
		}
		created = true
		rec, err = s.getRecord(ctx, tx, r.ID, false)
		return err
	})
	if err != nil {
		return Record{}, false, fmt.Errorf("store: create request %s: %w", r.ID, err)
	}
	return rec, created, nil
}

func (s *sqlStore) GetRequest(ctx context.Context, id string) (Record, error) {
	rec, err := s.getRecord(ctx, s.r, id, false)
	if err != nil {
		return Record{}, fmt.Errorf("store: get request %s: %w", id, err)
	}
	return rec, nil
}

func (s *sqlStore) ListRequests(ctx context.Context, f Filter) ([]Record, error) {
	var (
		where []string
		args  []any
	)
	for _, c := range []struct{ column, value string }{
		{"env", f.Environment}, {"team", f.Team}, {"name", f.Name}, {"requester_id", f.RequesterID},
	} {
		if c.value != "" {
			where = append(where, c.column+" = ?")
			args = append(args, c.value)
		}
	}
	if len(f.States) > 0 {
		where = append(where, "state IN ("+placeholders(len(f.States))+")")
		for _, st := range f.States {
			args = append(args, string(st))
		}
	}
	recs, err := s.queryRecords(ctx, s.r, where, args, f.Limit)
	if err != nil {
		return nil, fmt.Errorf("store: list requests: %w", err)
	}
	return recs, nil
}

func (s *sqlStore) CountRequests(ctx context.Context) (map[request.State]int, error) {
	rows, err := s.r.QueryContext(ctx, "SELECT state, COUNT(*) FROM requests GROUP BY state")
	if err != nil {
		return nil, fmt.Errorf("store: count requests: %w", err)
	}
	defer rows.Close()
	counts := map[request.State]int{}
	for rows.Next() {
		var st string
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			return nil, fmt.Errorf("store: count requests: %w", err)
		}
		counts[request.State(st)] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: count requests: %w", err)
	}
	return counts, nil
}

func (s *sqlStore) RequestByPR(ctx context.Context, number int) (Record, error) {
	recs, err := s.queryRecords(ctx, s.r, []string{"pr_number = ?"}, []any{number}, 1)
	if err == nil && len(recs) == 0 {
		err = ErrNotFound
	}
	if err != nil {
		return Record{}, fmt.Errorf("store: find request of PR #%d: %w", number, err)
	}
	return recs[0], nil
}

func (s *sqlStore) LatestRequest(ctx context.Context, env, team, name string) (Record, error) {
	recs, err := s.queryRecords(ctx, s.r, []string{"env = ?", "team = ?", "name = ?"}, []any{env, team, name}, 1)
	if err == nil && len(recs) == 0 {
		err = ErrNotFound
	}
	if err != nil {
		return Record{}, fmt.Errorf("store: latest request for %s/%s/%s: %w", env, team, name, err)
	}
	return recs[0], nil
}

// queryRecords returns the records matching every condition, newest first.
func (s *sqlStore) queryRecords(ctx context.Context, q querier, where []string, args []any, limit int) ([]Record, error) {
	query := "SELECT " + recordColumns + " FROM requests"
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY created_at DESC, id DESC"
	if limit > 0 {
		query += " LIMIT ?"
		args = append(args, limit)
	}
	rows, err := q.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var recs []Record
	for rows.Next() {
		rec, err := scanRecord(rows)
		if err != nil {
			return nil, err
		}
		recs = append(recs, rec)
	}
	return recs, rows.Err()
}

func (s *sqlStore) UpdateRequest(ctx context.Context, id string, ch Change, ev request.Event, opts ...UpdateOption) (Record, error) {
	var c writeConfig
	for _, o := range opts {
		o.configureUpdate(&c)
	}
	var rec Record
	err := s.tx(ctx, func(tx *sql.Tx) error {
		cur, err := s.getRecord(ctx, tx, id, true)
		if err != nil {
			return err
		}
		if err := checkVersion(cur, c.version); err != nil {
			return err
		}
		if ch.Spec != nil && (ch.Spec.Environment != cur.Request.Environment || ch.Spec.Team != cur.Request.Team || ch.Spec.Name != cur.Request.Name) {
			// Its state key, entity and row in databases follow from the
			// identity: a request never moves to another database.
			return fmt.Errorf("%w: request %s is for %s; an edit cannot make it %s", ErrConflict, id, cur.Request.Key(), ch.Spec.Key())
		}
		if ch.PR != nil {
			cur.PR = *ch.PR
		}
		if ch.PlanSummary != nil {
			cur.PlanSummary = *ch.PlanSummary
		}
		if ch.Progress != nil {
			cur.Progress = *ch.Progress
		}
		if ch.Spec != nil {
			cur.Request.Spec = *ch.Spec
		}
		doc, err := json.Marshal(cur.Request)
		if err != nil {
			return fmt.Errorf("encode: %w", err)
		}
		now := s.now()
		res, err := tx.ExecContext(ctx, s.q(`UPDATE requests SET request = ?,
			pr_number = ?, pr_url = ?, plan_summary = ?, slack_channel = ?, slack_ts = ?,
			version = version + 1, updated_at = ? WHERE id = ? AND version = ?`),
			string(doc),
			cur.PR.Number, cur.PR.URL, cur.PlanSummary, cur.Progress.Channel, cur.Progress.TS,
			s.ts(now), id, cur.Version)
		if err := expectOneRow(res, err); err != nil {
			return err
		}
		ev.From, ev.To = cur.State, cur.State
		if ev.Detail == "" {
			ev.Detail = ch.describe()
		}
		// Nothing UpdateRequest sets changes the database's row (states
		// do): no refresh.
		rec, err = s.record(ctx, tx, id, now, ev, c.jobs)
		return err
	})
	if err != nil {
		return Record{}, fmt.Errorf("store: update request %s: %w", id, err)
	}
	return rec, nil
}

// describe says what a change sets, for the audit trail.
func (ch Change) describe() string {
	var parts []string
	if ch.PR != nil {
		parts = append(parts, fmt.Sprintf("pull request #%d", ch.PR.Number))
	}
	if ch.PlanSummary != nil {
		parts = append(parts, "plan summary")
	}
	if ch.Progress != nil {
		parts = append(parts, "slack progress message")
	}
	if ch.Spec != nil {
		parts = append(parts, "spec")
	}
	if len(parts) == 0 {
		return "no change"
	}
	return "set " + strings.Join(parts, ", ")
}

func (s *sqlStore) Transition(ctx context.Context, id string, to request.State, ev request.Event, opts ...TransitionOption) (Record, error) {
	var c writeConfig
	for _, o := range opts {
		o.configureTransition(&c)
	}
	var failure []byte
	switch {
	case to == request.Failed && c.failure == nil:
		return Record{}, fmt.Errorf("store: transition request %s to %s: say why WithFailure", id, to)
	case to != request.Failed && c.failure != nil:
		return Record{}, fmt.Errorf("store: transition request %s to %s: WithFailure is only for a transition to %s", id, to, request.Failed)
	case c.failure != nil:
		var err error
		if failure, err = json.Marshal(c.failure); err != nil {
			return Record{}, fmt.Errorf("store: transition request %s: encode failure: %w", id, err)
		}
	}
	var rec Record
	err := s.tx(ctx, func(tx *sql.Tx) error {
		cur, err := s.getRecord(ctx, tx, id, true)
		if err != nil {
			return err
		}
		if err := checkVersion(cur, c.version); err != nil {
			return err
		}
		if err := request.CheckTransition(cur.State, to); err != nil {
			return err
		}
		if cur.State == request.Failed {
			if err := request.CheckRetry(cur.Failure, to); err != nil {
				return err
			}
		}
		now := s.now()
		res, err := tx.ExecContext(ctx, s.q(`UPDATE requests SET state = ?, failure = ?, version = version + 1, updated_at = ?
			WHERE id = ? AND version = ?`),
			string(to), nullText(failure), s.ts(now), id, cur.Version)
		if err := expectOneRow(res, err); err != nil {
			return err
		}
		ev.From, ev.To = cur.State, to
		if ev.Detail == "" && c.failure != nil {
			ev.Detail = c.failure.Step + ": " + c.failure.Reason
		}
		if rec, err = s.record(ctx, tx, id, now, ev, c.jobs); err != nil {
			return err
		}
		return s.refreshDatabase(ctx, tx, keyOf(rec))
	})
	if err != nil {
		return Record{}, fmt.Errorf("store: transition request %s to %s: %w", id, to, err)
	}
	return rec, nil
}

// record ends a write of request id inside its transaction: the audit
// event, the jobs queued with it, and the record as it now is.
func (s *sqlStore) record(ctx context.Context, tx *sql.Tx, id string, now time.Time, ev request.Event, jobs []NewJob) (Record, error) {
	if err := s.insertEvent(ctx, tx, id, now, ev); err != nil {
		return Record{}, err
	}
	if err := s.enqueueFor(ctx, tx, id, jobs, now); err != nil {
		return Record{}, err
	}
	return s.getRecord(ctx, tx, id, false)
}

func checkVersion(cur Record, want *int64) error {
	if want != nil && cur.Version != *want {
		return fmt.Errorf("%w: request %s is at version %d, not %d", ErrConflict, cur.ID(), cur.Version, *want)
	}
	return nil
}

// expectOneRow turns an update that matched no row into ErrConflict: the
// row changed under us (SQLite's transactions make this unreachable, and
// PostgreSQL's row lock too, but the version check keeps it true without
// them).
func expectOneRow(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n != 1 {
		return fmt.Errorf("%w: the request changed while it was being written", ErrConflict)
	}
	return nil
}

func (s *sqlStore) insertEvent(ctx context.Context, tx *sql.Tx, id string, now time.Time, ev request.Event) error {
	_, err := tx.ExecContext(ctx, s.q(`INSERT INTO request_events
		(request_id, at, from_state, to_state, actor, origin, ref, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
		id, s.ts(now), string(ev.From), string(ev.To), ev.Actor, ev.Origin, ev.Ref, ev.Detail)
	if err != nil {
		return fmt.Errorf("write event: %w", err)
	}
	return nil
}

func (s *sqlStore) Events(ctx context.Context, id string) ([]request.Event, error) {
	rows, err := s.r.QueryContext(ctx, s.q(`SELECT at, from_state, to_state, actor, origin, ref, detail
		FROM request_events WHERE request_id = ? ORDER BY seq`), id)
	if err != nil {
		return nil, fmt.Errorf("store: events of request %s: %w", id, err)
	}
	defer rows.Close()
	var evs []request.Event
	for rows.Next() {
		ev := request.Event{RequestID: id}
		if err := rows.Scan(tsCol{&ev.At}, &ev.From, &ev.To, &ev.Actor, &ev.Origin, &ev.Ref, &ev.Detail); err != nil {
			return nil, fmt.Errorf("store: events of request %s: %w", id, err)
		}
		evs = append(evs, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: events of request %s: %w", id, err)
	}
	// Every request has its creation event: none means no request.
	if len(evs) == 0 {
		return nil, fmt.Errorf("store: events of request %s: %w", id, ErrNotFound)
	}
	return evs, nil
}

// nullText stores a JSON document as text, or NULL when there is none.
func nullText(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return string(b)
}

// inFlight are the states of a change that has not finished.
var inFlight = []request.State{request.Draft, request.Submitted, request.PROpen, request.Planned,
	request.Merged, request.Applying, request.Provisioning, request.Deleting}

// checkNoneInFlight refuses a request when another change of the same
// database is in flight. On PostgreSQL a transaction-scoped advisory lock
// on the database's key serialises concurrent checks; SQLite transactions
// are serialised already (one writer, BEGIN IMMEDIATE).
func (s *sqlStore) checkNoneInFlight(ctx context.Context, tx *sql.Tx, r request.DatabaseRequest) error {
	if s.dialect == postgresDialect {
		if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1, hashtext($2))", oneAtATimeSalt, r.Key()); err != nil {
			return err
		}
	}
	args := []any{r.Environment, r.Team, r.Name}
	for _, st := range inFlight {
		args = append(args, string(st))
	}
	var id string
	err := tx.QueryRowContext(ctx, s.q("SELECT id FROM requests WHERE env = ? AND team = ? AND name = ? AND state IN ("+placeholders(len(inFlight))+") LIMIT 1"), args...).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	return fmt.Errorf("%w: request %s for %s is in progress", ErrConflict, id, r.Key())
}

// checkIdentity refuses a database whose qualified name is another
// database's. The encoding makes this impossible by construction; this is
// the second line, in the transaction that stores the request, should a
// future encoding or a hand-edited row ever break the first.
func (s *sqlStore) checkIdentity(ctx context.Context, tx *sql.Tx, sp request.Spec, identity string) error {
	if s.dialect == postgresDialect {
		if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1, hashtext($2))", identitySalt, identity); err != nil {
			return err
		}
	}
	var env, team, name string
	err := tx.QueryRowContext(ctx, s.q("SELECT env, team, name FROM requests WHERE identity = ? AND NOT (env = ? AND team = ? AND name = ?) LIMIT 1"),
		identity, sp.Environment, sp.Team, sp.Name).Scan(&env, &team, &name)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("check identity: %w", err)
	}
	other := request.Spec{Environment: env, Team: team, Name: name}
	return &IdentityError{Database: sp.Key(), Other: other.Key(), Identity: identity}
}

// identitySalt separates the identity check's advisory locks from the others.
const identitySalt = 0x69643031 // "id01"

// oneAtATimeSalt separates these advisory locks from the workspace locks.
const oneAtATimeSalt = 0x6f6e6531 // "one1"
