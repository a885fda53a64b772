package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/clustropg/clustro/request"
)

// Errors callers act on. The errors the store returns wrap them with what
// was being done: test with errors.Is.
var (
	// ErrNotFound means there is no such request, job or conversation (or
	// the conversation expired).
	ErrNotFound = errors.New("not found")
	// ErrConflict means the write was refused as it stood: the record
	// changed since the caller read it (IfVersion), the id is taken, or an
	// idempotency key was used for another kind of operation.
	ErrConflict = errors.New("conflict")
	// ErrLeaseLost means the worker no longer holds the job's lease
	// (another worker took it over, or the job is finished): it must stop
	// and change nothing.
	ErrLeaseLost = errors.New("job lease lost")
)

// IdentityError refuses a request whose qualified name (the Terraform state
// key and catalog entity name, request.QualifiedName) is already that of
// another database: the two would share one state, and applying one would
// replace the other's cluster.
type IdentityError struct {
	Database string // env/team/name of the refused request
	Other    string // env/team/name of the database that holds the name
	Identity string
}

func (e *IdentityError) Error() string {
	return fmt.Sprintf("%s would share its Terraform state and catalog name %q with %s; choose another name", e.Database, e.Identity, e.Other)
}

// Store is everything ClustroPG persists. Open returns one; callers declare
// the smaller interface they use (for example Requests, Queue).
type Store interface {
	Requests
	Idempotent
	Queue
	Conversations
	Watches

	// LockWorkspace blocks until it holds the lock on workspace, or ctx is
	// done. The lock is held across replicas on PostgreSQL (a session-level
	// advisory lock on a dedicated connection) and within the process on
	// SQLite. unlock releases it; calling it again does nothing.
	LockWorkspace(ctx context.Context, workspace string) (unlock func() error, err error)

	// Backend names the backend: "sqlite" or "postgres".
	Backend() string
	// Ping checks that the database answers (for readiness probes).
	Ping(ctx context.Context) error
	// Close releases the database. Unlock held workspace locks first: on
	// PostgreSQL their connections outlive Close until unlocked.
	Close() error
}

// Requests stores database requests and their audit trail.
type Requests interface {
	// CreateRequest stores a new request, with its first audit event and
	// the jobs to start it, in one transaction. With an idempotency key
	// that was already used it stores nothing and returns the record the
	// first call created, with created false.
	CreateRequest(ctx context.Context, in NewRequest) (rec Record, created bool, err error)
	// GetRequest returns the record of a request, or ErrNotFound.
	GetRequest(ctx context.Context, id string) (Record, error)
	// ListRequests returns the records that match f, newest first.
	ListRequests(ctx context.Context, f Filter) ([]Record, error)
	// CountRequests counts the requests in each state, for metrics.
	CountRequests(ctx context.Context) (map[request.State]int, error)
	// RequestByPR returns the request whose pull request is number (the
	// latest, if several), or ErrNotFound.
	RequestByPR(ctx context.Context, number int) (Record, error)
	// LatestRequest returns the newest request for the database env/team/name
	// (its latest change), or ErrNotFound.
	LatestRequest(ctx context.Context, env, team, name string) (Record, error)
	// UpdateRequest changes a request's non-state fields and appends ev
	// (From and To set to the current state) to its audit trail.
	UpdateRequest(ctx context.Context, id string, ch Change, ev request.Event, opts ...UpdateOption) (Record, error)
	// Transition moves a request to state to, if request.CheckTransition
	// allows it from the current state (checked inside the transaction: an
	// illegal move returns the *request.IllegalTransitionError and writes
	// nothing), and appends ev to the audit trail with From and To set.
	// Moving to request.Failed needs WithFailure; leaving it clears the
	// failure.
	Transition(ctx context.Context, id string, to request.State, ev request.Event, opts ...TransitionOption) (Record, error)
	// Events returns a request's audit trail, oldest first.
	Events(ctx context.Context, id string) ([]request.Event, error)
	// ListEvents returns up to limit events of a request's audit trail,
	// oldest first, after the event numbered after (0: from the first).
	// A page past the end is empty; a request that does not exist is
	// ErrNotFound.
	ListEvents(ctx context.Context, id string, after int64, limit int) ([]EventEntry, error)
	// ListDatabases returns up to limit databases that match f, in key
	// order (DatabaseKey), starting after the key after (the zero key: from
	// the first): one page of a list of databases. Each comes with its
	// newest request and its Summarize reading. The filter is applied by
	// the database, so a page holds limit databases whenever that many
	// match, and the work is that of the page, not of every database
	// stored. The next page starts after the last entry's Key.
	ListDatabases(ctx context.Context, f DatabaseFilter, after DatabaseKey, limit int) ([]DatabaseEntry, error)
}

// Idempotent records that something was done once, for callers whose
// effect is not a request or a job (a Slack response, an API reply).
type Idempotent interface {
	// Remember records result under key unless a result is already
	// recorded there. It returns the recorded result, and first true if
	// this call recorded it.
	Remember(ctx context.Context, key Idempotency, result []byte) (stored []byte, first bool, err error)
	// Recall returns the result recorded under key, or ErrNotFound.
	Recall(ctx context.Context, key Idempotency) ([]byte, error)
	// Forget deletes the records of scope made before before, and says
	// how many: for records that only need to outlive a window (a Slack
	// payload's replays, a Sync pass).
	Forget(ctx context.Context, scope string, before time.Time) (int64, error)
}

// Queue is the durable job queue. A worker holds a job's lease from Claim
// until it completes, fails or releases it; a lease that ran out is still
// held until another worker takes the job over, so a slow worker that was
// not replaced may still finish.
type Queue interface {
	// Enqueue adds a job. With an idempotency key that was already used it
	// adds nothing and returns the job the first call added, with created
	// false: storing a delivery and queueing its job is one transaction.
	Enqueue(ctx context.Context, j NewJob) (job Job, created bool, err error)
	// Claim takes the oldest runnable job of one of kinds (any kind if none
	// is given) for worker, leased for lease, and counts an attempt.
	// Runnable: queued and due, or running with an expired lease (a dead
	// worker's job is taken over), and no other job on its workspace
	// running with a live lease. ok is false when there is nothing to do.
	Claim(ctx context.Context, worker string, lease time.Duration, kinds ...string) (job Job, ok bool, err error)
	// Heartbeat extends the worker's lease on a running job to lease from
	// now, or returns ErrLeaseLost if the worker no longer holds it.
	Heartbeat(ctx context.Context, id, worker string, lease time.Duration) error
	// Complete marks the job done with its result, or returns ErrLeaseLost
	// (and changes nothing) if worker does not hold the lease.
	Complete(ctx context.Context, id, worker string, result []byte) error
	// Fail records a failed attempt. A retryable failure is queued again
	// after an exponential backoff with jitter, or the job becomes dead
	// once it has used MaxAttempts; a non-retryable one becomes failed.
	// It returns the job as it now is, or ErrLeaseLost.
	Fail(ctx context.Context, id, worker string, cause error, retryable bool) (Job, error)
	// Release gives a job back to the queue without counting the attempt,
	// for a graceful shutdown. ErrLeaseLost if worker does not hold it.
	Release(ctx context.Context, id, worker string) error
	// Defer gives a job back to the queue to run again at until, without
	// counting the attempt: for work an outside limit holds up (GitHub's
	// rate limit). ErrLeaseLost if worker does not hold it.
	Defer(ctx context.Context, id, worker string, until time.Time) error
	// GetJob returns a job, or ErrNotFound.
	GetJob(ctx context.Context, id string) (Job, error)
	// ListJobs returns the jobs that match f, oldest first.
	ListJobs(ctx context.Context, f JobFilter) ([]Job, error)
	// Stats reports the queue's depth and lag, for metrics.
	Stats(ctx context.Context) (QueueStats, error)
}

// Conversations keeps the state of Slack conversations between events.
type Conversations interface {
	// SaveConversation creates or replaces the conversation c.ID.
	SaveConversation(ctx context.Context, c Conversation) error
	// GetConversation returns a conversation, or ErrNotFound if there is
	// none or it expired.
	GetConversation(ctx context.Context, id string) (Conversation, error)
	// FindConversation returns the latest unexpired conversation of user
	// in a channel's thread, or ErrNotFound.
	FindConversation(ctx context.Context, channel, thread, user string) (Conversation, error)
	// DeleteConversation removes a conversation; removing a missing one is
	// not an error.
	DeleteConversation(ctx context.Context, id string) error
}

// Record is a stored request: the request itself and where it stands.
type Record struct {
	// Request is the request as asked, with the Spec as last edited
	// (a reviewer may change it). Request.ID is the record's id.
	Request request.DatabaseRequest
	State   request.State
	// Failure says why, while State is request.Failed.
	Failure *request.Failure
	// PR is the pull request opened for it, once there is one.
	PR PullRequest
	// PlanSummary is the last plan's summary ("1 to add, 0 to change").
	PlanSummary string
	// Progress is the Slack message that shows its progress, updated in place.
	Progress  SlackMessage
	CreatedAt time.Time
	UpdatedAt time.Time
	// Version counts the record's changes, for IfVersion.
	Version int64
}

// ID returns the request's id.
func (r Record) ID() string { return r.Request.ID }

// PullRequest identifies a pull request on the infrastructure repository.
type PullRequest struct {
	Number int
	URL    string
}

// SlackMessage identifies a Slack message by channel and ts.
type SlackMessage struct {
	Channel string
	TS      string
}

// NewRequest is what CreateRequest stores.
type NewRequest struct {
	// Request is stored as given; an empty ID is filled with a new one and
	// a zero CreatedAt with the time of creation.
	Request request.DatabaseRequest
	// State is request.Draft or request.Submitted (the default).
	State request.State
	// Event is the first audit event (who asked, through which origin);
	// RequestID, At, From and To are filled in.
	Event request.Event
	// Key, when set, makes the create idempotent.
	Key Idempotency
	// Jobs are enqueued in the same transaction; an empty RequestID is
	// filled with the new request's.
	Jobs []NewJob
	// OneAtATime refuses the request with ErrConflict when another request
	// for the same database is in flight (neither ready, cancelled, deleted
	// nor failed), checked in the same transaction, so two replicas or two
	// entry points never open two pull requests on one workspace.
	OneAtATime bool
}

// Filter selects requests for ListRequests; zero fields match everything.
type Filter struct {
	Environment string
	Team        string
	Name        string
	// States matches any of them.
	States      []request.State
	RequesterID string
	// Limit caps the number of records; 0 means no limit.
	Limit int
}

// EventEntry is an event of a request's audit trail and its number: Seq
// grows along the trail, and ListEvents pages after it.
type EventEntry struct {
	Seq int64
	request.Event
}

// Change lists the non-state fields UpdateRequest sets; nil fields are
// left as they are.
type Change struct {
	PR          *PullRequest
	PlanSummary *string
	Progress    *SlackMessage
	// Spec replaces the request's Spec (after a reviewer's edit, verified
	// by the caller).
	Spec *request.Spec
}

// Idempotency names an operation to do once: Scope says what kind of key
// it is ("github-delivery", "slack", "api") and Key is the key itself (the
// X-GitHub-Delivery plus action, the trigger id, the Idempotency-Key). A
// key belongs to one operation: the one creating a request, enqueueing a
// job or remembering a result. The zero value means "not idempotent".
type Idempotency struct {
	Scope string
	Key   string
}

// String returns "scope/key".
func (k Idempotency) String() string { return k.Scope + "/" + k.Key }

// IsZero reports whether k names no operation.
func (k Idempotency) IsZero() bool { return k == Idempotency{} }

// JobState is where a job is.
type JobState string

// The job states. Done, failed and dead are final.
const (
	// JobQueued waits for a worker (a retry waits until RunAt).
	JobQueued JobState = "queued"
	// JobRunning is leased to a worker until LeaseUntil.
	JobRunning JobState = "running"
	// JobDone completed.
	JobDone JobState = "done"
	// JobFailed failed in a way retrying cannot fix.
	JobFailed JobState = "failed"
	// JobDead used all its attempts.
	JobDead JobState = "dead"
)

// Job is a unit of work in the queue.
type Job struct {
	ID        string
	Kind      string
	RequestID string
	// Workspace, when set, is the Terraform workspace the job works on: two
	// jobs on one workspace never run at the same time.
	Workspace   string
	Payload     []byte
	State       JobState
	Attempts    int
	MaxAttempts int
	// RunAt is when the job is due (a retry's backoff pushes it later).
	RunAt      time.Time
	LeaseOwner string
	LeaseUntil time.Time
	LastError  string
	Result     []byte
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// NewJob is what Enqueue adds.
type NewJob struct {
	Kind      string
	RequestID string
	Workspace string
	// Payload is the job's input, JSON by convention.
	Payload []byte
	// MaxAttempts caps the attempts; 0 takes the store's default.
	MaxAttempts int
	// RunAt delays the job; zero means now.
	RunAt time.Time
	// Key, when set, makes the enqueue idempotent.
	Key Idempotency
}

// JobFilter selects jobs for ListJobs; zero fields match everything.
type JobFilter struct {
	RequestID string
	Kind      string
	// States matches any of them.
	States []JobState
	// Limit caps the number of jobs; 0 means no limit.
	Limit int
}

// QueueStats is the queue's state for metrics.
type QueueStats struct {
	// Depth counts jobs by kind and state.
	Depth []QueueDepth
	// OldestDue is how long the oldest due queued job has waited since its
	// RunAt; zero when none is waiting.
	OldestDue time.Duration
}

// QueueDepth is the number of jobs of one kind in one state.
type QueueDepth struct {
	Kind  string
	State JobState
	Jobs  int
}

// Conversation is the state of a Slack conversation with one user in one
// thread (a request being asked for, step by step).
type Conversation struct {
	ID      string
	UserID  string
	Channel string
	Thread  string
	// State is the bot's own encoding of where the conversation is.
	State     []byte
	ExpiresAt time.Time
	UpdatedAt time.Time
}
