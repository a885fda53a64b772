package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
)

const watchColumns = "env, team, name, request_id, health, drift, reconcile, updated_at"

// watchName is "env/team/name", for errors.
func watchName(k DatabaseKey) string { return k.Environment + "/" + k.Team + "/" + k.Name }

// checkWatchKey refuses a key with an empty part: it names no database.
func checkWatchKey(k DatabaseKey) error {
	var missing []string
	if k.Environment == "" {
		missing = append(missing, "environment")
	}
	if k.Team == "" {
		missing = append(missing, "team")
	}
	if k.Name == "" {
		missing = append(missing, "name")
	}
	if len(missing) > 0 {
		return fmt.Errorf("a watch key needs an environment, a team and a name; %s empty", strings.Join(missing, ", "))
	}
	return nil
}

// watchRow is a watches row as scanned, its JSON not yet decoded.
type watchRow struct {
	w                        Watch
	health, drift, reconcile []byte
}

func scanWatchRow(row scanner) (watchRow, error) {
	var r watchRow
	err := row.Scan(&r.w.Key.Environment, &r.w.Key.Team, &r.w.Key.Name, &r.w.RequestID,
		&r.health, &r.drift, &r.reconcile, tsCol{&r.w.UpdatedAt})
	return r, err
}

// watch decodes the row into a Watch of its own (no pointer shared with
// another call's).
func (r watchRow) watch() (Watch, error) {
	w := r.w
	for _, c := range []struct {
		what string
		doc  []byte
		dst  any
	}{
		{"health", r.health, &w.Health},
		{"drift", r.drift, &w.Drift},
		{"reconcile", r.reconcile, &w.Reconcile},
	} {
		if c.doc == nil {
			continue
		}
		if err := json.Unmarshal(c.doc, c.dst); err != nil {
			return Watch{}, fmt.Errorf("decode %s: %w", c.what, err)
		}
	}
	return w, nil
}

func scanWatch(row scanner) (Watch, error) {
	r, err := scanWatchRow(row)
	if err != nil {
		return Watch{}, err
	}
	return r.watch()
}

// getWatchRow reads a record; locked takes its row lock (PostgreSQL).
func (s *sqlStore) getWatchRow(ctx context.Context, q querier, k DatabaseKey, locked bool) (watchRow, error) {
	query := "SELECT " + watchColumns + " FROM watches WHERE env = ? AND team = ? AND name = ?"
	if locked {
		query += s.forUpdate("FOR UPDATE")
	}
	r, err := scanWatchRow(q.QueryRowContext(ctx, s.q(query), k.Environment, k.Team, k.Name))
	if errors.Is(err, sql.ErrNoRows) {
		return watchRow{}, ErrNotFound
	}
	return r, err
}

// GetWatch returns the watch record of key, or an error wrapping
// ErrNotFound when there is none.
func (s *sqlStore) GetWatch(ctx context.Context, key DatabaseKey) (Watch, error) {
	if err := checkWatchKey(key); err != nil {
		return Watch{}, fmt.Errorf("store: get watch %s: %w", watchName(key), err)
	}
	r, err := s.getWatchRow(ctx, s.r, key, false)
	if err != nil {
		return Watch{}, fmt.Errorf("store: get watch %s: %w", watchName(key), err)
	}
	w, err := r.watch()
	if err != nil {
		return Watch{}, fmt.Errorf("store: get watch %s: %w", watchName(key), err)
	}
	return w, nil
}

// watchLockKey maps a database key to the 64-bit key of the advisory lock
// UpdateWatch takes while the record does not exist yet (FNV-1a, stable
// across replicas; the prefix keeps it apart from workspace locks).
func watchLockKey(k DatabaseKey) int64 {
	h := fnv.New64a()
	h.Write([]byte("clustro/watch/" + k.Environment + "\x00" + k.Team + "\x00" + k.Name))
	return int64(h.Sum64())
}

// lockWatch reads the record of k inside tx so that no other transaction
// can change it before tx ends, and says whether there is one. A record
// that exists is locked with FOR UPDATE. One that does not has no row to
// lock: on PostgreSQL the transaction then takes an advisory lock on the
// key and reads again, so that of two transactions that found none, the
// second waits for the first to commit (and to insert it, or not) and
// reads what the first left. On SQLite the transaction began IMMEDIATE
// and holds the database's write lock already.
func (s *sqlStore) lockWatch(ctx context.Context, tx *sql.Tx, k DatabaseKey) (watchRow, bool, error) {
	r, err := s.getWatchRow(ctx, tx, k, true)
	if err == nil {
		return r, true, nil
	}
	if !errors.Is(err, ErrNotFound) {
		return watchRow{}, false, fmt.Errorf("read: %w", err)
	}
	if s.dialect != postgresDialect {
		return watchRow{}, false, nil
	}
	if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", watchLockKey(k)); err != nil {
		return watchRow{}, false, fmt.Errorf("lock: %w", err)
	}
	// Read Committed: this statement sees whatever committed while the
	// lock was awaited.
	r, err = s.getWatchRow(ctx, tx, k, true)
	switch {
	case err == nil:
		return r, true, nil
	case errors.Is(err, ErrNotFound):
		return watchRow{}, false, nil
	default:
		return watchRow{}, false, fmt.Errorf("read: %w", err)
	}
}

// UpdateWatch reads the record of key under a lock, lets fn change it,
// and writes it with fn's jobs when fn says to, all in one transaction.
// It returns the record as stored afterwards: when fn writes nothing, the
// record as it was read (only Key set if there is none, and nothing is
// stored).
func (s *sqlStore) UpdateWatch(ctx context.Context, key DatabaseKey, fn WatchUpdate) (Watch, error) {
	if err := checkWatchKey(key); err != nil {
		return Watch{}, fmt.Errorf("store: update watch %s: %w", watchName(key), err)
	}
	if fn == nil {
		return Watch{}, fmt.Errorf("store: update watch %s: no update function", watchName(key))
	}
	var out Watch
	err := s.tx(ctx, func(tx *sql.Tx) error {
		r, found, err := s.lockWatch(ctx, tx, key)
		if err != nil {
			return err
		}
		cur := Watch{Key: key}
		if found {
			if cur, err = r.watch(); err != nil {
				return err
			}
		}
		write, jobs, err := fn(&cur)
		if err != nil {
			return err
		}
		if !write {
			// fn may have changed cur: return the record as stored.
			out = Watch{Key: key}
			if found {
				out, err = r.watch()
			}
			return err
		}
		if cur.Key != key {
			return fmt.Errorf("the update changed the record's key to %s", watchName(cur.Key))
		}
		now := s.now()
		cur.UpdatedAt = now
		if err := s.putWatch(ctx, tx, cur); err != nil {
			return err
		}
		for _, j := range jobs {
			if j.RequestID == "" {
				j.RequestID = cur.RequestID
			}
			if _, _, err := s.enqueue(ctx, tx, j, now); err != nil {
				return fmt.Errorf("enqueue %s job: %w", j.Kind, err)
			}
		}
		// Read back, so that the record returned is the one stored (the
		// JSON round trip included: what GetWatch would return).
		r, err = s.getWatchRow(ctx, tx, key, false)
		if err != nil {
			return fmt.Errorf("read back: %w", err)
		}
		out, err = r.watch()
		return err
	})
	if err != nil {
		return Watch{}, fmt.Errorf("store: update watch %s: %w", watchName(key), err)
	}
	return out, nil
}

// putWatch inserts or replaces the record w inside tx.
func (s *sqlStore) putWatch(ctx context.Context, tx *sql.Tx, w Watch) error {
	var docs [3]any // NULL unless set
	for i, v := range []struct {
		what string
		set  bool
		val  any
	}{
		{"health", w.Health != nil, w.Health},
		{"drift", w.Drift != nil, w.Drift},
		{"reconcile", w.Reconcile != nil, w.Reconcile},
	} {
		if !v.set {
			continue
		}
		b, err := json.Marshal(v.val)
		if err != nil {
			return fmt.Errorf("encode %s: %w", v.what, err)
		}
		docs[i] = string(b)
	}
	unhealthy := w.Health != nil && !w.Health.Healthy()
	drifted := w.Drift != nil
	_, err := tx.ExecContext(ctx, s.q(`INSERT INTO watches
		(env, team, name, request_id, health, drift, reconcile, unhealthy, drifted, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (env, team, name) DO UPDATE SET request_id = excluded.request_id,
			health = excluded.health, drift = excluded.drift, reconcile = excluded.reconcile,
			unhealthy = excluded.unhealthy, drifted = excluded.drifted, updated_at = excluded.updated_at`),
		w.Key.Environment, w.Key.Team, w.Key.Name, w.RequestID, docs[0], docs[1], docs[2],
		unhealthy, drifted, s.ts(w.UpdatedAt))
	if err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}

// ListWatches returns up to limit records that match f, in key order,
// after the key after (the zero key: from the first).
func (s *sqlStore) ListWatches(ctx context.Context, f WatchFilter, after DatabaseKey, limit int) ([]Watch, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("store: list watches: limit must be positive, got %d", limit)
	}
	query, args := s.listWatchesQuery(f, after, limit)
	rows, err := s.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("store: list watches: %w", err)
	}
	defer rows.Close()
	var out []Watch
	for rows.Next() {
		w, err := scanWatch(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list watches: %w", err)
		}
		out = append(out, w)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list watches: %w", err)
	}
	return out, nil
}

// listWatchesQuery is ListWatches' query and its arguments: a walk along
// the key from after. The Unhealthy and Drifted conditions are written as
// the predicates of the partial indexes watches_unhealthy and
// watches_drifted, so that either backend can walk those instead.
func (s *sqlStore) listWatchesQuery(f WatchFilter, after DatabaseKey, limit int) (string, []any) {
	where := []string{"(env, team, name) > (?, ?, ?)"}
	args := []any{after.Environment, after.Team, after.Name}
	// SQLite, which has no statistics here (clustro runs no ANALYZE),
	// prefers the primary key for an equality on env or team over a
	// partial index, and then reads every record of the environment: a
	// unary + keeps those terms from choosing its index when a partial
	// index selects the few records wanted.
	col := func(c string) string { return c }
	if s.dialect == sqliteDialect && (f.Unhealthy || f.Drifted) {
		col = func(c string) string { return "+" + c }
	}
	if f.Environment != "" {
		where = append(where, col("env")+" = ?")
		args = append(args, f.Environment)
	}
	if f.Team != "" {
		where = append(where, col("team")+" = ?")
		args = append(args, f.Team)
	}
	if f.Unhealthy {
		where = append(where, "unhealthy")
	}
	if f.Drifted {
		where = append(where, "drifted")
	}
	query := "SELECT " + watchColumns + " FROM watches WHERE " + strings.Join(where, " AND ") +
		" ORDER BY env, team, name LIMIT ?"
	return s.q(query), append(args, limit)
}

// CountWatches counts the records, the unhealthy and the drifted ones, in
// one query.
func (s *sqlStore) CountWatches(ctx context.Context) (WatchCounts, error) {
	var c WatchCounts
	err := s.r.QueryRowContext(ctx, `SELECT COUNT(*),
		COALESCE(SUM(CASE WHEN unhealthy THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN drifted THEN 1 ELSE 0 END), 0) FROM watches`).Scan(&c.Watched, &c.Unhealthy, &c.Drifted)
	if err != nil {
		return WatchCounts{}, fmt.Errorf("store: count watches: %w", err)
	}
	return c, nil
}
