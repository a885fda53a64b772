// Package store persists ClustroPG's requests and runs its durable job
// queue, on one of two backends behind one Store interface:
//
//   - SQLite (a file path, ./clustro.db by default): the embedded store of a
//     single replica. Pure Go (modernc.org/sqlite), WAL mode, one writing
//     connection so goroutines never see SQLITE_BUSY.
//   - PostgreSQL (a postgres:// or postgresql:// DSN): for several replicas.
//     Jobs are claimed with SELECT ... FOR UPDATE SKIP LOCKED and workspaces
//     are locked with session-level advisory locks.
//
// A request is stored as a Record: the request.DatabaseRequest, its
// lifecycle state (moved only by Transition, which checks
// request.CheckTransition inside the transaction), and the audit trail of
// request.Events written in the same transaction as each change.
//
// Every arrow of the design that crosses a process or network boundary goes
// through the job queue. A job is claimed with a lease; a worker that dies
// loses it when the lease runs out and another worker takes the job over.
// Only the holder of the lease may complete or fail a job, which is what
// makes a job's effect happen once. Jobs that name a workspace never run at
// the same time as another job on that workspace.
//
// Lists are paged where they can grow: ListDatabases reads one page of
// databases along the databases table (a row per database, rewritten from
// its requests in the transaction of each of their writes), ListEvents a
// page of an audit trail. The job queue's partial indexes let Claim take
// the next job without reading the jobs queued behind it.
//
// Idempotency keys ((scope, key) pairs: a GitHub delivery, a Slack trigger,
// an API Idempotency-Key) make creates and enqueues safe to repeat: the
// second call returns what the first one made.
//
// The schema is versioned; Open applies missing migrations and refuses a
// database written by a newer clustro.
package store
