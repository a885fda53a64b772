package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/clustropg/clustro/engine"
	"github.com/clustropg/clustro/request"
	"github.com/clustropg/clustro/store"
)

// JobBackupWait follows an on-demand backup until it ends and tells the
// database's thread.
const JobBackupWait = "backup_wait"

// onDemandInfix is in the name of a backup a person asked for:
// <cluster>-ondemand-<key hash>.
const onDemandInfix = "-ondemand-"

// backupPoll is how often JobBackupWait reads the backup again.
const backupPoll = 5 * time.Second

// liveDatabase reads a database that must be ready (for reading or taking
// its backups): request.Problems name what is wrong.
func (p *Pipeline) liveDatabase(ctx context.Context, key store.DatabaseKey, what string) (store.Record, error) {
	db, err := p.history(ctx, key.Environment, key.Team, key.Name)
	if err != nil {
		return store.Record{}, fmt.Errorf("%s of %s: %w", what, keyString(key), err)
	}
	name := request.QualifiedName(key.Environment, key.Team, key.Name)
	switch {
	case !db.Exists():
		return store.Record{}, request.Problems{{Field: "name", Message: fmt.Sprintf("there is no database %s", name)}}
	case db.Live == nil:
		return store.Record{}, request.Problems{{Field: "name", Message: fmt.Sprintf("%s is not ready yet (%s)", name, db.Latest.State)}}
	}
	return *db.Live, nil
}

// Backups reads the base backups and the recovery window of a ready
// database from its cluster.
func (p *Pipeline) Backups(ctx context.Context, key store.DatabaseKey) (request.BackupSet, error) {
	live, err := p.liveDatabase(ctx, key, "backups")
	if err != nil {
		return request.BackupSet{}, err
	}
	if p.clusters == nil {
		return request.BackupSet{}, errors.New("backups: no Kubernetes access (kubernetes.clusters)")
	}
	s := live.Request.Spec
	set, err := p.clusters.Backups(ctx, s.Environment, p.policy.NamespaceFor(s), s.Name)
	if err != nil {
		return request.BackupSet{}, fmt.Errorf("backups of %s: %w", keyString(key), err)
	}
	return set, nil
}

// TakeBackup starts an on-demand base backup of a ready database with
// backups: an action, not desired state, so it goes straight to the
// cluster (a CloudNativePG Backup, method plugin), audited on the live
// request, its progress and result told in the database's thread. key
// makes it idempotent: the same key is the same backup.
func (p *Pipeline) TakeBackup(ctx context.Context, key store.DatabaseKey, who request.Requester, origin request.Origin, idem store.Idempotency) (request.BaseBackup, error) {
	live, err := p.liveDatabase(ctx, key, "take a backup")
	if err != nil {
		return request.BaseBackup{}, err
	}
	s := live.Request.Spec
	if s.Backups.Schedule == request.NoBackups || s.Backups.Schedule == "" {
		return request.BaseBackup{}, request.Problems{{Field: "name", Message: fmt.Sprintf(
			"%s has no backups configured (nowhere to write one); turn them on with a backups change first", request.QualifiedName(key.Environment, key.Team, key.Name))}}
	}
	if p.clusters == nil {
		return request.BaseBackup{}, errors.New("take a backup: no Kubernetes access (kubernetes.clusters)")
	}
	if idem.IsZero() {
		idem = store.Idempotency{Scope: "backup", Key: store.NewID()}
	}
	sum := sha256.Sum256([]byte(idem.String()))
	name := s.Name + onDemandInfix + hex.EncodeToString(sum[:])[:10]
	b, err := p.clusters.TakeBackup(ctx, s.Environment, p.policy.NamespaceFor(s), s.Name, name)
	if err != nil {
		return request.BaseBackup{}, fmt.Errorf("take a backup of %s: %w", keyString(key), err)
	}
	actor := who.ID
	if actor == "" {
		actor = origin.APIClient
	}
	n := request.Notice{Kind: request.NoticeBackupStarted, Actor: actor, PRURL: live.PR.URL,
		Text: fmt.Sprintf("%s asked for a backup of %s now: %s. I will say here when it is done.", orNone(actor), live.Request.Key(), b.Name)}
	wait := newJob(JobBackupWait, live.ID(), "", jobPayload{Backup: b.Name})
	wait.Key = store.Idempotency{Scope: "backup-wait", Key: b.Name}
	wait.MaxAttempts = 720 // an hour of polls, then it is told as not finished
	_, err = p.store.UpdateRequest(ctx, live.ID(), store.Change{},
		request.Event{Actor: actor, Origin: origin.Kind, Ref: idem.Key, Detail: "on-demand backup " + b.Name},
		store.AndEnqueue(notifyJob(live.ID(), n)), store.AndEnqueue(wait))
	if err != nil && !errors.Is(err, store.ErrConflict) {
		return b, fmt.Errorf("audit the backup of %s: %w", keyString(key), err)
	}
	p.wake()
	return b, nil
}

func orNone(s string) string {
	if s == "" {
		return "someone"
	}
	return s
}

// backupWait reads an on-demand backup until it ends, then tells the thread.
func (p *Pipeline) backupWait(ctx context.Context, job store.Job) ([]byte, error) {
	pl, rec, err := p.load(ctx, job, "follow a backup")
	if err != nil {
		return nil, err
	}
	s := rec.Request.Spec
	set, err := p.clusters.Backups(ctx, s.Environment, p.policy.NamespaceFor(s), s.Name)
	if err != nil {
		return nil, engine.RetryAt(err, time.Now().Add(backupPoll))
	}
	var b *request.BaseBackup
	for i := range set.Base {
		if set.Base[i].Name == pl.Backup {
			b = &set.Base[i]
		}
	}
	switch {
	case b == nil:
		return nil, engine.Permanent(fmt.Errorf("backup %s of %s is gone", pl.Backup, rec.Request.Key()))
	case !b.Done():
		if job.Attempts >= job.MaxAttempts {
			return nil, p.enqueue(ctx, notifyJob(rec.ID(), request.Notice{Kind: request.NoticeBackupFailed, PRURL: rec.PR.URL,
				Text: fmt.Sprintf("Backup %s of %s has not finished after an hour (%s); `/pg backups` shows where it is.", b.Name, rec.Request.Key(), b.Phase)}))
		}
		return nil, engine.RetryAt(fmt.Errorf("backup %s is %s", b.Name, b.Phase), time.Now().Add(backupPoll))
	case b.Failed():
		return nil, p.enqueue(ctx, notifyJob(rec.ID(), request.Notice{Kind: request.NoticeBackupFailed, PRURL: rec.PR.URL,
			Text: fmt.Sprintf("Backup %s of %s failed: %s.", b.Name, rec.Request.Key(), orUnknown(b.Error))}))
	}
	return nil, p.enqueue(ctx, notifyJob(rec.ID(), request.Notice{Kind: request.NoticeBackupDone, PRURL: rec.PR.URL,
		Text: fmt.Sprintf("Backup %s of %s is done (%s to %s, barman id %s): it can be restored from with `/pg restore`.",
			b.Name, rec.Request.Key(), b.Started.UTC().Format(time.RFC3339), b.Stopped.UTC().Format(time.RFC3339), orUnknown(b.ID))}))
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// checkRestore checks a restore request against its source: a ready
// database of the same environment and team, with backups, whose recovery
// window covers the target time.
func (p *Pipeline) checkRestore(ctx context.Context, s request.Spec) error {
	r := s.Restore
	key := store.DatabaseKey{Environment: s.Environment, Team: s.Team, Name: r.Source}
	src, err := p.liveDatabase(ctx, key, "restore")
	var pr request.Problems
	if errors.As(err, &pr) {
		for i := range pr {
			pr[i].Field = "restore.source"
		}
		return pr
	}
	if err != nil {
		return err
	}
	if b := src.Request.Spec.Backups.Schedule; b == request.NoBackups || b == "" {
		return request.Problems{{Field: "restore.source", Message: fmt.Sprintf("%s has no backups configured: there is nothing to restore from", src.Request.Key())}}
	}
	if p.clusters == nil {
		return errors.New("restore: no Kubernetes access to read the recovery window (kubernetes.clusters)")
	}
	set, err := p.clusters.Backups(ctx, s.Environment, p.policy.NamespaceFor(src.Request.Spec), r.Source)
	if err != nil {
		return fmt.Errorf("restore: read the recovery window of %s: %w", src.Request.Key(), err)
	}
	if pr := p.policy.CheckRestoreWindow(*r, set.Window.First, set.Window.Last); len(pr) > 0 {
		return pr
	}
	return nil
}

// restoreEdits checks the restore of a verified workspace against its
// request: a reviewer may move the target time (checked against the
// source's recovery window again), not add, remove or redirect a restore.
// It returns what to refuse, or an error when the window could not be read.
func (p *Pipeline) restoreEdits(ctx context.Context, rec store.Record, spec request.Spec) ([]string, error) {
	was, is := rec.Request.Spec.Restore, spec.Restore
	switch {
	case was == nil && is == nil:
		return nil, nil
	case was == nil:
		return []string{"`restore_source`: a restore is asked for as one (`/pg restore`, `POST …/restore`), not added to a workspace in review"}, nil
	case is == nil:
		return []string{"`restore_source`: this request restores " + was.Source + "; a review cannot turn it into an empty database"}, nil
	case is.Source != was.Source:
		return []string{fmt.Sprintf("`restore_source`: this request restores %s; a review cannot point it at %s", was.Source, is.Source)}, nil
	case timeOf(is.TargetTime).Equal(timeOf(was.TargetTime)):
		return nil, nil
	}
	err := p.checkRestore(ctx, spec)
	var pr request.Problems
	if errors.As(err, &pr) {
		out := make([]string, len(pr))
		for i, x := range pr {
			out[i] = "`restore_target_time`: " + x.Message
		}
		return out, nil
	}
	return nil, err
}

func timeOf(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}
