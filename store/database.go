package store

import "github.com/clustropg/clustro/request"

// Database is what the requests of one database say about it, the one
// reading every entry point shares (the pipeline decides with it, Slack
// and the API describe with it).
type Database struct {
	// Latest is the newest change that counts: one closed without
	// effect (cancelled, a draft, failed in a way retrying cannot fix) is
	// as if never asked. Nil when none counts.
	Latest *Record
	// Live is the newest change that reached ready since the database was
	// last deleted: its Spec is what runs. Nil when nothing runs.
	Live *Record
}

// Summarize reads the requests of one database, newest first (as
// ListRequests returns them).
func Summarize(recs []Record) Database {
	var db Database
	for i := range recs {
		r := &recs[i]
		if r.State == request.Cancelled || r.State == request.Draft {
			continue
		}
		if r.State == request.Failed && r.Failure != nil && !r.Failure.Retryable {
			continue // nothing was applied
		}
		if db.Latest == nil {
			db.Latest = r
		}
		if r.State == request.Deleted {
			break
		}
		if r.State == request.Ready {
			db.Live = r
			break
		}
	}
	return db
}

// Exists reports whether the database exists or is on its way: a new
// database of that name would be refused.
func (d Database) Exists() bool { return d.Latest != nil && d.Latest.State != request.Deleted }

// Busy reports whether the database has a change other than the live one
// in flight or failed (and may be retried): a further change must wait.
func (d Database) Busy() bool { return d.Exists() && d.Latest != d.Live }

// DatabaseKey names a database: (environment, team, name) identifies it,
// and ListDatabases returns databases in this order (the database's
// collation on PostgreSQL). The zero key comes before every database.
type DatabaseKey struct {
	Environment string
	Team        string
	Name        string
}

// DatabaseFilter selects databases for ListDatabases by what their
// requests say; zero fields match everything, and a database must match
// every field that is set.
type DatabaseFilter struct {
	Environment string
	Team        string
	// States matches a database whose newest request, whatever its
	// state, is in one of them.
	States []request.State
	// Existing matches a database that exists or is on its way
	// (Database.Exists).
	Existing bool
	// Live matches a database that runs: a change of it reached ready
	// since it was last deleted (Database.Live is set).
	Live bool
}

// DatabaseEntry is one database of ListDatabases.
type DatabaseEntry struct {
	Key DatabaseKey
	// Newest is its newest request, whatever its state.
	Newest Record
	// Database is what its requests say (Summarize).
	Database
}

// keyOf is the key of the database a record is for.
func keyOf(rec Record) DatabaseKey {
	s := rec.Request.Spec
	return DatabaseKey{Environment: s.Environment, Team: s.Team, Name: s.Name}
}
