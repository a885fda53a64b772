package terraform

import (
	"context"
	"sync"
)

// Locker gives a job exclusive use of a workspace. The store implements it
// with locks that hold across replicas.
type Locker interface {
	// LockWorkspace blocks until it holds the lock of workspace (a
	// repository-relative directory like databases/prod/billing/ledger) or
	// ctx is done. The runner calls unlock exactly once.
	LockWorkspace(ctx context.Context, workspace string) (unlock func() error, err error)
}

// MemoryLocker is a Locker whose locks hold within one process. The zero
// value is ready to use. It keeps a small entry per workspace ever locked.
type MemoryLocker struct {
	mu    sync.Mutex
	locks map[string]chan struct{} // a token is in the channel while held
}

// LockWorkspace implements Locker.
func (l *MemoryLocker) LockWorkspace(ctx context.Context, workspace string) (func() error, error) {
	l.mu.Lock()
	if l.locks == nil {
		l.locks = map[string]chan struct{}{}
	}
	held, ok := l.locks[workspace]
	if !ok {
		held = make(chan struct{}, 1)
		l.locks[workspace] = held
	}
	l.mu.Unlock()

	select {
	case held <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	var once sync.Once
	return func() error {
		once.Do(func() { <-held })
		return nil
	}, nil
}
