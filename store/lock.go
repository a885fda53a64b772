package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"hash/fnv"
	"sync"
)

func (s *sqlStore) LockWorkspace(ctx context.Context, workspace string) (func() error, error) {
	if s.dialect == postgresDialect {
		return s.lockPostgres(ctx, workspace)
	}
	unlock, err := s.locks.lock(ctx, workspace)
	if err != nil {
		return nil, fmt.Errorf("store: lock workspace %s: %w", workspace, err)
	}
	return func() error { unlock(); return nil }, nil
}

// lockKey maps a workspace to the 64-bit key of its advisory lock (FNV-1a:
// stable across replicas and versions, unlike Go's map hash).
func lockKey(workspace string) int64 {
	h := fnv.New64a()
	h.Write([]byte("clustro/workspace/" + workspace))
	return int64(h.Sum64())
}

// lockPostgres holds a session-level advisory lock on a connection of its
// own: the lock lives as long as that session, so a replica that dies
// releases it with its connection.
func (s *sqlStore) lockPostgres(ctx context.Context, workspace string) (func() error, error) {
	key := lockKey(workspace)
	conn, err := s.w.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("store: lock workspace %s: get connection: %w", workspace, err)
	}
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", key); err != nil {
		// The cancelled wait may still have been granted the lock: close the
		// session rather than return it, lock and all, to the pool.
		discard(conn)
		return nil, fmt.Errorf("store: lock workspace %s: %w", workspace, err)
	}
	var once sync.Once
	var unlockErr error
	return func() error {
		once.Do(func() {
			var released bool
			err := conn.QueryRowContext(context.Background(), "SELECT pg_advisory_unlock($1)", key).Scan(&released)
			if err != nil || !released {
				// Closing the session releases whatever it holds.
				discard(conn)
				if err != nil {
					unlockErr = fmt.Errorf("store: unlock workspace %s: %w", workspace, err)
				}
				return
			}
			conn.Close()
		})
		return unlockErr
	}, nil
}

// discard closes conn's session instead of returning it to the pool.
func discard(conn *sql.Conn) {
	conn.Raw(func(any) error { return driver.ErrBadConn })
	conn.Close()
}

// keyedMutex is a set of mutexes by name whose Lock waits on a context.
type keyedMutex struct {
	mu   sync.Mutex
	held map[string]chan struct{} // closed when the holder unlocks
}

func newKeyedMutex() *keyedMutex { return &keyedMutex{held: map[string]chan struct{}{}} }

func (k *keyedMutex) lock(ctx context.Context, key string) (unlock func(), err error) {
	for {
		k.mu.Lock()
		wait, busy := k.held[key]
		if !busy {
			done := make(chan struct{})
			k.held[key] = done
			k.mu.Unlock()
			var once sync.Once
			return func() {
				once.Do(func() {
					k.mu.Lock()
					delete(k.held, key)
					k.mu.Unlock()
					close(done)
				})
			}, nil
		}
		k.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}
