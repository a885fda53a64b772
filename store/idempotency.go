package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// keyMarker is what CreateRequest and Enqueue record under their
// idempotency key: the id of what the first call made.
type keyMarker struct {
	Request string `json:"request,omitempty"`
	Job     string `json:"job,omitempty"`
}

func (s *sqlStore) Remember(ctx context.Context, key Idempotency, result []byte) ([]byte, bool, error) {
	if err := key.check(); err != nil {
		return nil, false, fmt.Errorf("store: remember: %w", err)
	}
	var (
		stored []byte
		first  bool
	)
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		stored, first, err = s.putResult(ctx, tx, key, result, s.now())
		return err
	})
	if err != nil {
		return nil, false, fmt.Errorf("store: remember %s: %w", key, err)
	}
	return stored, first, nil
}

func (s *sqlStore) Forget(ctx context.Context, scope string, before time.Time) (int64, error) {
	res, err := s.w.ExecContext(ctx, s.q("DELETE FROM idempotency WHERE scope = ? AND created_at < ?"), scope, s.ts(before))
	if err != nil {
		return 0, fmt.Errorf("store: forget %s before %s: %w", scope, before.Format(time.RFC3339), err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("store: forget %s: %w", scope, err)
	}
	return n, nil
}

func (s *sqlStore) Recall(ctx context.Context, key Idempotency) ([]byte, error) {
	var result []byte
	err := s.r.QueryRowContext(ctx, s.q("SELECT result FROM idempotency WHERE scope = ? AND key = ?"), key.Scope, key.Key).Scan(&result)
	if errors.Is(err, sql.ErrNoRows) {
		err = ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: recall %s: %w", key, err)
	}
	return result, nil
}

// putResult records result under key unless something is recorded there
// already, and returns what is recorded and whether it was this call. On
// PostgreSQL a concurrent insert of the same key waits for the first
// transaction, then sees its row.
func (s *sqlStore) putResult(ctx context.Context, tx *sql.Tx, key Idempotency, result []byte, now time.Time) ([]byte, bool, error) {
	res, err := tx.ExecContext(ctx, s.q(`INSERT INTO idempotency (scope, key, result, created_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (scope, key) DO NOTHING`), key.Scope, key.Key, result, s.ts(now))
	if err != nil {
		return nil, false, fmt.Errorf("record idempotency key: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return nil, false, fmt.Errorf("record idempotency key: %w", err)
	} else if n == 1 {
		return result, true, nil
	}
	var stored []byte
	if err := tx.QueryRowContext(ctx, s.q("SELECT result FROM idempotency WHERE scope = ? AND key = ?"), key.Scope, key.Key).Scan(&stored); err != nil {
		return nil, false, fmt.Errorf("read idempotency key: %w", err)
	}
	return stored, false, nil
}

// putKey is putResult for CreateRequest and Enqueue: it records m, or
// returns the marker of the first call.
func (s *sqlStore) putKey(ctx context.Context, tx *sql.Tx, key Idempotency, m keyMarker, now time.Time) (bool, keyMarker, error) {
	if err := key.check(); err != nil {
		return false, keyMarker{}, err
	}
	b, err := json.Marshal(m)
	if err != nil {
		return false, keyMarker{}, err
	}
	stored, first, err := s.putResult(ctx, tx, key, b, now)
	if err != nil || first {
		return first, m, err
	}
	var prev keyMarker
	if err := json.Unmarshal(stored, &prev); err != nil {
		return false, keyMarker{}, fmt.Errorf("%w: idempotency key %s was used for another operation", ErrConflict, key)
	}
	return false, prev, nil
}

// check refuses a half-empty key: a missing header must not make every
// request a duplicate of the first.
func (k Idempotency) check() error {
	if k.Scope == "" || k.Key == "" {
		return fmt.Errorf("idempotency key needs a scope and a key, got %q", k.String())
	}
	return nil
}
