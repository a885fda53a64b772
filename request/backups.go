package request

import "time"

// Notice kinds of on-demand backups.
const (
	// NoticeBackupStarted: a backup asked for by a person was created.
	NoticeBackupStarted = "backup_started"
	// NoticeBackupDone: that backup completed.
	NoticeBackupDone = "backup_done"
)

// BaseBackup is one base backup of a database (a CloudNativePG Backup).
type BaseBackup struct {
	Name string `json:"name"`
	// Phase is CloudNativePG's: started, running, completed, failed...
	Phase   string    `json:"phase"`
	Started time.Time `json:"started,omitzero"`
	Stopped time.Time `json:"stopped,omitzero"`
	// ID is barman's backup id, Error why it failed.
	ID    string `json:"id,omitempty"`
	Error string `json:"error,omitempty"`
	// OnDemand is set for a backup a person asked for.
	OnDemand bool `json:"onDemand,omitempty"`
}

// Done reports whether the backup ended, and Failed whether it failed.
func (b BaseBackup) Done() bool { return b.Phase == "completed" || b.Failed() }

// Failed reports whether the backup failed.
func (b BaseBackup) Failed() bool {
	return b.Phase == "failed" || b.Phase == "walArchivingFailing" || b.Phase == "invalid backup definition"
}

// RecoveryWindow is what a database can be restored to: any time from
// First to Last. Zero First means no base backup completed yet.
type RecoveryWindow struct {
	First time.Time `json:"first,omitzero"`
	// Last is now while WAL archiving works, else the last point known
	// to be archived.
	Last time.Time `json:"last,omitzero"`
	// Archiving reports whether WAL archiving works, and ArchivingReason
	// why not.
	Archiving        bool      `json:"archiving"`
	ArchivingReason  string    `json:"archivingReason,omitempty"`
	LastBackup       time.Time `json:"lastBackup,omitzero"`
	LastFailedBackup time.Time `json:"lastFailedBackup,omitzero"`
}

// BackupSet is a database's backups as people see them.
type BackupSet struct {
	// Base are the base backups, newest first.
	Base   []BaseBackup   `json:"base"`
	Window RecoveryWindow `json:"window"`
}
