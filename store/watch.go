package store

import (
	"context"
	"time"

	"github.com/clustropg/clustro/request"
)

// Watch is what ClustroPG keeps of a database once it is ready: the
// health of its cluster last seen, its drift from the reviewed code and
// the reconcile asked for. There is at most one per database.
type Watch struct {
	Key DatabaseKey
	// RequestID is the live request the record speaks of; when a newer
	// request of the database becomes ready (a resize), its first
	// observation starts again from it.
	RequestID string
	Health    *request.Health
	Drift     *request.Drift
	Reconcile *request.Reconcile
	// UpdatedAt is when it was last written; zero when it never was.
	UpdatedAt time.Time
}

// WatchFilter selects watch records for ListWatches; zero fields match
// everything, and a record must match every field that is set.
type WatchFilter struct {
	Environment string
	Team        string
	// Drifted matches a record with a drift.
	Drifted bool
	// Unhealthy matches a record whose health is recorded and not healthy
	// (or gone).
	Unhealthy bool
}

// WatchCounts counts watch records, for metrics.
type WatchCounts struct {
	Watched   int
	Unhealthy int
	Drifted   int
}

// WatchUpdate is called by UpdateWatch with a database's record as it is
// in the store (only its Key set when there is none yet). It changes w and
// reports whether to write it, with the jobs to enqueue in the same
// transaction (notices, say; an empty RequestID is filled with the
// record's). The jobs are enqueued only with a write: when write is false
// nothing is stored or enqueued. An error rolls everything back and is
// returned by UpdateWatch, wrapped.
type WatchUpdate func(w *Watch) (write bool, jobs []NewJob, err error)

// Watches keeps the watch records. Several replicas watching the same
// cluster agree through UpdateWatch: each reads the record under a row
// lock in one transaction, so the first to record a change enqueues its
// notices and the others find the change already recorded.
type Watches interface {
	// GetWatch returns a database's watch record, or an error wrapping
	// ErrNotFound when there is none.
	GetWatch(ctx context.Context, key DatabaseKey) (Watch, error)
	// UpdateWatch reads, changes with fn and writes a database's record
	// in one transaction, and returns the record as it is afterwards.
	UpdateWatch(ctx context.Context, key DatabaseKey, fn WatchUpdate) (Watch, error)
	// ListWatches returns a page of records in key order, after the key
	// given (the zero key: from the start), at most limit.
	ListWatches(ctx context.Context, f WatchFilter, after DatabaseKey, limit int) ([]Watch, error)
	// CountWatches counts the records.
	CountWatches(ctx context.Context) (WatchCounts, error)
}
