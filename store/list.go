package store

import (
	"context"
	"database/sql"
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

// databaseKeys selects the page of database keys from the databases
// table (one row per database, kept by refreshDatabase), read in key
// order from after with the filter a condition on the row, so the
// backend stops reading once it has limit keys.
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

// databaseKeysQuery is databaseKeys' query and its arguments: a walk
// along the databases table's key from after, each filter a condition on
// the row.
func (s *sqlStore) databaseKeysQuery(f DatabaseFilter, after DatabaseKey, limit int) (string, []any) {
	where := []string{"(d.env, d.team, d.name) > (?, ?, ?)"}
	args := []any{after.Environment, after.Team, after.Name}
	if f.Environment != "" {
		where = append(where, "d.env = ?")
		args = append(args, f.Environment)
	}
	if f.Team != "" {
		where = append(where, "d.team = ?")
		args = append(args, f.Team)
	}
	if len(f.States) > 0 {
		where = append(where, "d.newest_state IN ("+placeholders(len(f.States))+")")
		for _, st := range f.States {
			args = append(args, string(st))
		}
	}
	if f.Existing {
		where = append(where, "d.existing = ?")
		args = append(args, true)
	}
	if f.Live {
		where = append(where, "d.live = ?")
		args = append(args, true)
	}
	query := "SELECT d.env, d.team, d.name FROM databases d WHERE " + strings.Join(where, " AND ") +
		" ORDER BY d.env, d.team, d.name LIMIT ?"
	return s.q(query), append(args, limit)
}

// refreshDatabase rewrites the databases row of k from its requests,
// inside the transaction that wrote one of them. On PostgreSQL the row is
// locked before the requests are read, so that two writers of one
// database's requests refresh it one after the other, the second seeing
// the first's write.
func (s *sqlStore) refreshDatabase(ctx context.Context, tx *sql.Tx, k DatabaseKey) error {
	if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO databases (env, team, name, newest_state, existing, live)
		VALUES (?, ?, ?, '', ?, ?) ON CONFLICT (env, team, name) DO UPDATE SET newest_state = databases.newest_state`),
		k.Environment, k.Team, k.Name, false, false); err != nil {
		return fmt.Errorf("lock database %s/%s/%s: %w", k.Environment, k.Team, k.Name, err)
	}
	recs, err := s.queryRecords(ctx, tx, []string{"env = ?", "team = ?", "name = ?"}, []any{k.Environment, k.Team, k.Name}, 0)
	if err != nil {
		return fmt.Errorf("read database %s/%s/%s: %w", k.Environment, k.Team, k.Name, err)
	}
	if len(recs) == 0 { // its only request moved to another database
		_, err = tx.ExecContext(ctx, s.q("DELETE FROM databases WHERE env = ? AND team = ? AND name = ?"), k.Environment, k.Team, k.Name)
	} else {
		db := Summarize(recs)
		_, err = tx.ExecContext(ctx, s.q("UPDATE databases SET newest_state = ?, existing = ?, live = ? WHERE env = ? AND team = ? AND name = ?"),
			string(recs[0].State), db.Exists(), db.Live != nil, k.Environment, k.Team, k.Name)
	}
	if err != nil {
		return fmt.Errorf("write database %s/%s/%s: %w", k.Environment, k.Team, k.Name, err)
	}
	return nil
}

// recordsOf adds the requests of the databases keys to byKey, newest first.
func (s *sqlStore) recordsOf(ctx context.Context, keys []DatabaseKey, byKey map[DatabaseKey][]Record) error {
	if len(keys) == 0 {
		return nil
	}
	query, args := s.recordsQuery(keys)
	rows, err := s.r.QueryContext(ctx, query, args...)
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

// recordsQuery is recordsOf's query and its arguments.
func (s *sqlStore) recordsQuery(keys []DatabaseKey) (string, []any) {
	values := make([]string, len(keys))
	args := make([]any, 0, 3*len(keys))
	for i, k := range keys {
		values[i] = "(?, ?, ?)"
		args = append(args, k.Environment, k.Team, k.Name)
	}
	query := "SELECT " + recordColumns + ", env, team, name FROM requests WHERE (env, team, name) IN (VALUES " +
		strings.Join(values, ", ") + ") ORDER BY env, team, name, created_at DESC, id DESC"
	return s.q(query), args
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
