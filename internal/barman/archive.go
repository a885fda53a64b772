package barman

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// ArchiveStatus is what pg_stat_archiver reports of a server's WAL
// archiving, with the last archiver error from the server's log.
type ArchiveStatus struct {
	ArchivedCount    int64
	LastArchivedWAL  string
	LastArchivedTime time.Time // zero when nothing was archived yet
	FailedCount      int64
	LastFailedWAL    string
	LastFailedTime   time.Time // zero when archiving never failed
	// LastError is the last line the server logged about a failed
	// archive_command (barman-cloud-wal-archive's own message comes
	// before it), credentials removed; empty when none is found.
	LastError string
}

// Failing reports whether the last archiving attempt failed: it failed
// after the last success.
func (s ArchiveStatus) Failing() bool {
	return !s.LastFailedTime.IsZero() && s.LastFailedTime.After(s.LastArchivedTime)
}

// ArchiveStatus reads pg_stat_archiver and, when archiving failed, the
// reason the server logged.
func (i *Instance) ArchiveStatus(ctx context.Context) (ArchiveStatus, error) {
	db, err := sql.Open("pgx", i.DSN())
	if err != nil {
		return ArchiveStatus{}, fmt.Errorf("read archive status: %w", err)
	}
	defer db.Close()
	var s ArchiveStatus
	var archived, failed sql.NullString
	var archivedAt, failedAt sql.NullTime
	err = db.QueryRowContext(ctx, "SELECT archived_count, last_archived_wal, last_archived_time, failed_count, last_failed_wal, last_failed_time FROM pg_stat_archiver").
		Scan(&s.ArchivedCount, &archived, &archivedAt, &s.FailedCount, &failed, &failedAt)
	if err != nil {
		return ArchiveStatus{}, fmt.Errorf("read archive status: %w", err)
	}
	s.LastArchivedWAL, s.LastFailedWAL = archived.String, failed.String
	if archivedAt.Valid {
		s.LastArchivedTime = archivedAt.Time
	}
	if failedAt.Valid {
		s.LastFailedTime = failedAt.Time
	}
	if s.FailedCount > 0 {
		s.LastError = i.redact(lastArchiveError(i.LogTail(200)))
	}
	return s, nil
}

var (
	// pgLogPrefix is PostgreSQL's default log_line_prefix and level:
	// "2026-12-02 18:07:58.363 UTC [21660] LOG:  ".
	pgLogPrefix = regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)? \S+ \[\d+\] [A-Z]+:\s+`)
	// pythonLogPrefix is barman's: "2026-12-02 18:07:57,326 [21665] ".
	pythonLogPrefix = regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(,\d+)? \[\d+\] `)
)

// lastArchiveError finds the archiver's last complaint in a server log:
// the line before PostgreSQL's "archive command failed" (the tool's own
// error) joined with it.
func lastArchiveError(log string) string {
	lines := strings.Split(strings.TrimRight(log, "\n"), "\n")
	for n := len(lines) - 1; n >= 0; n-- {
		if !strings.Contains(lines[n], "archive command failed") {
			continue
		}
		// Without timestamps and process ids, so that the message of one
		// cause stays the same from one attempt to the next.
		msg := strings.TrimSpace(pgLogPrefix.ReplaceAllString(lines[n], ""))
		if n > 0 && !strings.Contains(lines[n-1], "LOG:") && !strings.Contains(lines[n-1], "DETAIL:") {
			msg = strings.TrimSpace(pythonLogPrefix.ReplaceAllString(lines[n-1], "")) + " (" + msg + ")"
		}
		return msg
	}
	return ""
}

// redact removes the secret access key of the instance's environment.
func (i *Instance) redact(s string) string {
	for _, kv := range i.env {
		if v, ok := strings.CutPrefix(kv, "AWS_SECRET_ACCESS_KEY="); ok && v != "" {
			s = strings.ReplaceAll(s, v, "[secret]")
		}
	}
	return s
}
