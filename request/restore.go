package request

import (
	"fmt"
	"time"
)

// Restore makes a new database from the backups of another one, its
// source, in the same environment and team: the new database is created
// next to the source (CloudNativePG's bootstrap.recovery from the source's
// Barman Cloud ObjectStore) and the source is left as it is. A restore
// never overwrites a live database.
//
// Which sources exist, have backups and cover TargetTime is not known
// here: the pipeline checks it against the store and the cluster (see
// Policy.CheckRestoreWindow).
type Restore struct {
	// Source is the name of the database restored from, in the same
	// environment and team as the new one.
	Source string `json:"source"`
	// TargetTime is the point in time to recover to, in UTC; nil recovers
	// up to the latest archived WAL.
	TargetTime *time.Time `json:"targetTime,omitempty"`
}

// BarmanOrigin names where a restore reads from: the source's Barman Cloud
// ObjectStore and the serverName its base backups and WAL are kept under.
type BarmanOrigin struct {
	ObjectStore string
	ServerName  string
}

// Origin is the source's ObjectStore and serverName, named by NamesFor as
// they are for the source database itself: the ObjectStore <source>-backups
// and, as the plugin defaults it, the serverName of the source's Cluster.
// The module derives the same names (local.barman in main.tf).
func (r Restore) Origin() BarmanOrigin {
	n := NamesFor(r.Source, NoBackups)
	return BarmanOrigin{ObjectStore: n.ObjectStore, ServerName: n.Cluster}
}

// clone returns a copy of r that shares nothing with it, its target time
// normalised to UTC (which also drops a monotonic clock reading).
func (r *Restore) clone() *Restore {
	if r == nil {
		return nil
	}
	out := &Restore{Source: r.Source}
	if r.TargetTime != nil {
		t := r.TargetTime.UTC()
		out.TargetTime = &t
	}
	return out
}

// ParseTargetTime reads a restore target time as a requester writes it:
// RFC 3339 ("2026-03-01T10:00:00Z", or with an offset), returned in UTC.
// The error names the field and the format allowed.
func ParseTargetTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, Problems{{Field: "restore.targetTime", Message: fmt.Sprintf("%q is not an RFC 3339 time; allowed: a time like 2026-03-01T10:00:00Z or 2026-03-01T11:00:00+01:00", s)}}
	}
	return t.UTC(), nil
}

// formatTime writes a target time as Problems and the module call show it:
// RFC 3339 in UTC.
func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// earliestTarget is the earliest target time accepted: before it no backup
// can exist.
var earliestTarget = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// validateRestore checks a Spec's restore: a source that is a valid
// database name other than the new database's, a target time in UTC and
// not in the future. A restore takes the environment's rules like any new
// database (backups on when the environment requires them, and only then).
func validateRestore(s Spec, now time.Time) Problems {
	var pr Problems
	r := s.Restore
	if r == nil {
		return pr
	}
	switch {
	case r.Source == "":
		pr.add("restore.source", "required: the name of the database to restore from, in %s of team %s", s.Environment, s.Team)
	case !dns1035.MatchString(r.Source) || len(r.Source) > MaxNameLength():
		pr.add("restore.source", "%q is not a database name: at most %d lowercase letters, digits and '-', starting with a letter and ending with a letter or digit", r.Source, MaxNameLength())
	case r.Source == s.Name:
		pr.add("restore.source", "%q is the database being created: a restore makes a new database next to its source and never overwrites one; choose another name for the new database", r.Source)
	}
	if t := r.TargetTime; t != nil {
		switch {
		case t.Location() != time.UTC:
			pr.add("restore.targetTime", "%s must be in UTC, written with Z like %s", t.Format(time.RFC3339Nano), formatTime(*t))
		case t.Before(earliestTarget):
			pr.add("restore.targetTime", "%s is before %s: no backup can cover it; allowed: a past time in RFC 3339, or none for the latest", formatTime(*t), formatTime(earliestTarget))
		case t.After(now):
			pr.add("restore.targetTime", "%s is in the future; allowed: a past time in RFC 3339, or none for the latest", formatTime(*t))
		}
	}
	return pr
}

// CheckRestoreWindow checks a restore against the recovery window of its
// source, as the pipeline reads it from the store and the cluster: first
// is the earliest point a backup can recover to, last the latest archived
// one; zero times mean the source has no backup. A nil target time (the
// latest) needs only a backup. It returns nil when the restore can proceed.
func (p *Policy) CheckRestoreWindow(r Restore, first, last time.Time) Problems {
	var pr Problems
	switch {
	case first.IsZero() || last.IsZero():
		pr.add("restore.source", "%s has no backup to restore from; allowed: a database with continuous backups that has completed a base backup", r.Source)
	case r.TargetTime == nil:
	case r.TargetTime.Before(first) || r.TargetTime.After(last):
		pr.add("restore.targetTime", "%s is outside the recovery window of %s (from %s to %s)", formatTime(*r.TargetTime), r.Source, formatTime(first), formatTime(last))
	}
	return pr
}
