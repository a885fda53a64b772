package store

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/clustropg/clustro/request"
)

// pageBatch bounds the databases whose requests one query reads, well
// under either backend's limit on bound parameters (three per database).
const pageBatch = 500

func (s *sqlStore) ListDatabases(ctx context.Context, f DatabaseFilter, after DatabaseKey, limit int) ([]DatabaseEntry, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("store: list databases: limit must be positive, got %d", limit)
	}
	keys, err := s.databaseKeys(ctx, f, after, limit)
	if err != nil {
		return nil, fmt.Errorf("store: list databases: %w", err)
	}
	byKey := make(map[DatabaseKey][]Record, len(keys))
	for start := 0; start < len(keys); start += pageBatch {
		if err := s.recordsOf(ctx, keys[start:min(start+pageBatch, len(keys))], byKey); err != nil {
			return nil, fmt.Errorf("store: list databases: %w", err)
		}
	}
	out := make([]DatabaseEntry, 0, len(keys))
	for _, k := range keys {
		recs := byKey[k]
		if len(recs) == 0 {
			continue // cannot happen: requests are never removed
		}
		out = append(out, DatabaseEntry{Key: k, Newest: recs[0], Database: Summarize(recs)})
	}
	return out, nil
}

// databaseKeys selects the page of database keys: each database is
// represented by its newest request (r), read along requests_database in
// key order from after, and the filter is a condition on that row, so
// the database stops reading once it has limit keys.
func (s *sqlStore) databaseKeys(ctx context.Context, f DatabaseFilter, after DatabaseKey, limit int) ([]DatabaseKey, error) {
	query, args := s.databaseKeysQuery(f, after, limit)
	rows, err := s.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var keys []DatabaseKey
	for rows.Next() {
		var k DatabaseKey
		if err := rows.Scan(&k.Environment, &k.Team, &k.Name); err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return keys, rows.Err()
}

// databaseKeysQuery is databaseKeys' query and its arguments.
func (s *sqlStore) databaseKeysQuery(f DatabaseFilter, after DatabaseKey, limit int) (string, []any) {
	same := func(a, b string) string {
		return a + ".env = " + b + ".env AND " + a + ".team = " + b + ".team AND " + a + ".name = " + b + ".name"
	}
	newer := func(n, r string) string {
		return "(" + n + ".created_at > " + r + ".created_at OR (" + n + ".created_at = " + r + ".created_at AND " + n + ".id > " + r + ".id))"
	}
	where := []string{
		"(r.env, r.team, r.name) > (?, ?, ?)",
		"NOT EXISTS (SELECT 1 FROM requests n WHERE " + same("n", "r") + " AND " + newer("n", "r") + ")",
	}
	args := []any{after.Environment, after.Team, after.Name}
	if f.Environment != "" {
		where = append(where, "r.env = ?")
		args = append(args, f.Environment)
	}
	if f.Team != "" {
		where = append(where, "r.team = ?")
		args = append(args, f.Team)
	}
	if len(f.States) > 0 {
		where = append(where, "r.state IN ("+placeholders(len(f.States))+")")
		for _, st := range f.States {
			args = append(args, string(st))
		}
	}
	if f.Existing {
		// The newest request that counts (Summarize's Latest) is not a
		// deletion.
		where = append(where, "EXISTS (SELECT 1 FROM requests c WHERE "+same("c", "r")+" AND "+s.counts("c")+" AND c.state <> 'deleted'"+
			" AND NOT EXISTS (SELECT 1 FROM requests n WHERE "+same("n", "c")+" AND "+s.counts("n")+" AND "+newer("n", "c")+"))")
	}
	if f.Live {
		// The newest request that reached ready or deleted it reached
		// ready (Summarize's Live): both states always count.
		where = append(where, "EXISTS (SELECT 1 FROM requests c WHERE "+same("c", "r")+" AND c.state = 'ready'"+
			" AND NOT EXISTS (SELECT 1 FROM requests n WHERE "+same("n", "c")+" AND n.state IN ('ready', 'deleted') AND "+newer("n", "c")+"))")
	}
	query := "SELECT r.env, r.team, r.name FROM requests r WHERE " + strings.Join(where, " AND ") +
		" ORDER BY r.env, r.team, r.name LIMIT ?"
	return s.q(query), append(args, limit)
}

// counts is the SQL condition that the request of alias counts for
// Summarize: not cancelled, not a draft, not failed in a way retrying
// cannot fix.
func (s *sqlStore) counts(alias string) string {
	final := "COALESCE(json_extract(" + alias + ".failure, '$.retryable'), 0) = 0"
	if s.dialect == postgresDialect {
		final = "NOT COALESCE((" + alias + ".failure ->> 'retryable')::boolean, false)"
	}
	return alias + ".state NOT IN ('cancelled', 'draft') AND NOT (" + alias + ".state = 'failed' AND " +
		alias + ".failure IS NOT NULL AND " + final + ")"
}

// recordsOf adds the requests of the databases keys to byKey, newest first.
func (s *sqlStore) recordsOf(ctx context.Context, keys []DatabaseKey, byKey map[DatabaseKey][]Record) error {
	if len(keys) == 0 {
		return nil
	}
	values := make([]string, len(keys))
	args := make([]any, 0, 3*len(keys))
	for i, k := range keys {
		values[i] = "(?, ?, ?)"
		args = append(args, k.Environment, k.Team, k.Name)
	}
	query := "SELECT " + recordColumns + ", env, team, name FROM requests WHERE (env, team, name) IN (VALUES " +
		strings.Join(values, ", ") + ") ORDER BY env, team, name, created_at DESC, id DESC"
	rows, err := s.r.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var k DatabaseKey
		rec, err := scanRecord(withColumns{rows, []any{&k.Environment, &k.Team, &k.Name}})
		if err != nil {
			return err
		}
		byKey[k] = append(byKey[k], rec)
	}
	return rows.Err()
}

// withColumns scans a row whose columns after a record's are extra.
type withColumns struct {
	row   scanner
	extra []any
}

func (w withColumns) Scan(dest ...any) error { return w.row.Scan(append(dest, w.extra...)...) }

func (s *sqlStore) ListEvents(ctx context.Context, id string, after int64, limit int) ([]EventEntry, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("store: events of request %s: limit must be positive, got %d", id, limit)
	}
	rows, err := s.r.QueryContext(ctx, s.q(`SELECT seq, at, from_state, to_state, actor, origin, ref, detail
		FROM request_events WHERE request_id = ? AND seq > ? ORDER BY seq LIMIT ?`), id, after, limit)
	if err != nil {
		return nil, fmt.Errorf("store: events of request %s: %w", id, err)
	}
	defer rows.Close()
	var evs []EventEntry
	for rows.Next() {
		e := EventEntry{Event: request.Event{RequestID: id}}
		if err := rows.Scan(&e.Seq, tsCol{&e.At}, &e.From, &e.To, &e.Actor, &e.Origin, &e.Ref, &e.Detail); err != nil {
			return nil, fmt.Errorf("store: events of request %s: %w", id, err)
		}
		evs = append(evs, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: events of request %s: %w", id, err)
	}
	if len(evs) == 0 {
		// An empty page past the end, or no such request.
		if _, err := s.getRecord(ctx, s.r, id, false); err != nil {
			if errors.Is(err, ErrNotFound) {
				return nil, fmt.Errorf("store: events of request %s: %w", id, ErrNotFound)
			}
			return nil, fmt.Errorf("store: events of request %s: %w", id, err)
		}
	}
	return evs, nil
}
