package api

import (
	"cmp"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/clustropg/clustro/request"
	"github.com/clustropg/clustro/store"
)

// Backups and restores. GET .../backups reads a ready database's base
// backups and recovery window from its cluster (through the pipeline);
// POST .../backups takes an on-demand base backup; POST .../restore asks
// for a NEW database made from the database's backups: a create request,
// the source's live spec with a new name and a restore point, that goes
// through the usual pull request, plan, merge, apply and ready. The source
// is never overwritten. The pipeline decides (it reads the recovery
// window); its refusals answer 422 naming the field.

// backupView is one base backup of a database.
type backupView struct {
	Name string `json:"name"`
	// Phase is CloudNativePG's: started, running, completed, failed...
	Phase   string     `json:"phase"`
	Started *time.Time `json:"started,omitempty"`
	Stopped *time.Time `json:"stopped,omitempty"`
	// ID is barman's backup id, Error why the backup failed.
	ID    string `json:"id,omitempty"`
	Error string `json:"error,omitempty"`
	// OnDemand is set for a backup a person asked for.
	OnDemand bool `json:"onDemand"`
}

// windowView is what a database can be restored to.
type windowView struct {
	// First and Last bound the points a restore can recover to; absent
	// until a base backup completed.
	First            *time.Time `json:"first,omitempty"`
	Last             *time.Time `json:"last,omitempty"`
	Archiving        bool       `json:"archiving"`
	ArchivingReason  string     `json:"archivingReason,omitempty"`
	LastBackup       *time.Time `json:"lastBackup,omitempty"`
	LastFailedBackup *time.Time `json:"lastFailedBackup,omitempty"`
}

// backupSetView is the reply of GET .../backups.
type backupSetView struct {
	// Database is the database's URL.
	Database string `json:"database"`
	// Base are the base backups, newest first.
	Base   []backupView `json:"base"`
	Window windowView   `json:"window"`
}

// timeOrNil is t in UTC, or nil when it is zero.
func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func backupOf(b request.BaseBackup) backupView {
	return backupView{Name: b.Name, Phase: b.Phase, Started: timeOrNil(b.Started), Stopped: timeOrNil(b.Stopped),
		ID: b.ID, Error: b.Error, OnDemand: b.OnDemand}
}

// backupSetOf is the view of a backup set, its base backups newest first
// (a backup not started yet first of all).
func backupSetOf(key store.DatabaseKey, s request.BackupSet) backupSetView {
	base := slices.Clone(s.Base)
	slices.SortStableFunc(base, func(x, y request.BaseBackup) int {
		switch {
		case x.Started.IsZero() && !y.Started.IsZero():
			return -1
		case !x.Started.IsZero() && y.Started.IsZero():
			return 1
		}
		return cmp.Compare(y.Started.UnixNano(), x.Started.UnixNano())
	})
	v := backupSetView{Database: databaseURL(specOf(key)), Base: make([]backupView, 0, len(base)), Window: windowView{
		First: timeOrNil(s.Window.First), Last: timeOrNil(s.Window.Last), Archiving: s.Window.Archiving,
		ArchivingReason: s.Window.ArchivingReason, LastBackup: timeOrNil(s.Window.LastBackup),
		LastFailedBackup: timeOrNil(s.Window.LastFailedBackup),
	}}
	for _, b := range base {
		v.Base = append(v.Base, backupOf(b))
	}
	return v
}

// specOf is the identity of a database key, as a Spec.
func specOf(k store.DatabaseKey) request.Spec {
	return request.Spec{Environment: k.Environment, Team: k.Team, Name: k.Name}
}

// pathKey is the database the path names.
func pathKey(r *http.Request) store.DatabaseKey {
	return store.DatabaseKey{Environment: r.PathValue("env"), Team: r.PathValue("team"), Name: r.PathValue("name")}
}

// existing reads the database the path names and answers 404 (returning
// false) when there is none, or it was deleted.
func (a *handlers) existing(w http.ResponseWriter, r *http.Request, what string) (database, bool) {
	key := pathKey(r)
	db, found, err := a.database(r.Context(), key.Environment, key.Team, key.Name)
	if err != nil {
		a.internal(w, r, fmt.Errorf("%s of %s: %w", what, keyName(key), err))
		return database{}, false
	}
	if !found || !db.exists() {
		writeProblem(w, r, a.noDatabase(r))
		return database{}, false
	}
	return db, true
}

// refused answers an error of the pipeline: its problems as 422, a
// conflict as 409, anything else as 500.
func (a *handlers) refused(w http.ResponseWriter, r *http.Request, err error) {
	var pr request.Problems
	switch {
	case errors.As(err, &pr):
		writeProblem(w, r, invalid(pr))
	case errors.Is(err, store.ErrConflict):
		writeProblem(w, r, problem("conflict", "The database changed while this was asked; try again."))
	default:
		a.internal(w, r, err)
	}
}

// handleListBackups serves a ready database's base backups and recovery
// window, read from its cluster: 404 for no database, 422 (naming name)
// for one that is not ready.
func (a *handlers) handleListBackups() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := a.existing(w, r, "backups"); !ok {
			return
		}
		key := pathKey(r)
		set, err := a.deps.Pipeline.Backups(r.Context(), key)
		if err != nil {
			a.refused(w, r, fmt.Errorf("backups of %s: %w", keyName(key), err))
			return
		}
		writeJSON(w, r, http.StatusOK, backupSetOf(key, set))
	})
}

// takeBackupBody is the optional body of POST .../backups.
type takeBackupBody struct {
	Requester *requesterBody `json:"requester"`
}

// handleTakeBackup starts an on-demand base backup of a ready database
// with backups, answering 202 with the backup. An Idempotency-Key makes it
// safe to repeat: the same key and call answers the first reply (the same
// backup), marked Idempotent-Replayed, and starts nothing more.
func (a *handlers) handleTakeBackup() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		client := clientFrom(ctx)
		key, p := idempotencyKey(r, client.Name)
		if p != nil {
			writeProblem(w, r, *p)
			return
		}
		var body takeBackupBody
		if p := decodeOptionalBody(r, &body); p != nil {
			writeProblem(w, r, *p)
			return
		}
		if pr := body.Requester.valid(); len(pr) > 0 {
			writeProblem(w, r, invalid(pr))
			return
		}
		fp := fingerprint(r, body)
		if !a.keyFits(w, r, key, fp, false) {
			return
		}
		if a.replay(w, r, key) {
			return
		}
		db, ok := a.existing(w, r, "take a backup")
		if !ok {
			return
		}
		// Refused before the key binds, so that the call can be corrected
		// under the same key; the pipeline checks again.
		if pr := backupProblems(db); len(pr) > 0 {
			writeProblem(w, r, invalid(pr))
			return
		}
		if !a.keyFits(w, r, key, fp, true) {
			return
		}
		who := body.Requester.requester()
		origin := request.Origin{Kind: request.OriginAPI, APIClient: client.Name}
		dbKey := pathKey(r)
		b, err := a.deps.Pipeline.TakeBackup(ctx, dbKey, who, origin, key)
		if err != nil && b.Name == "" {
			a.refused(w, r, fmt.Errorf("take a backup of %s: %w", keyName(dbKey), err))
			return
		}
		if err != nil {
			// The backup is started; only its audit failed.
			a.logger(r).Warn().Err(err).Str("backup", b.Name).Msg("api: backup started, its audit failed")
		}
		reply, err := marshal(backupOf(b))
		if err != nil {
			a.internal(w, r, fmt.Errorf("encode backup %s: %w", b.Name, err))
			return
		}
		a.remember(r, key, reply)
		a.logger(r).Info().Str("backup", b.Name).Str("database", keyName(dbKey)).Str("client", client.Name).Msg("api: backup started")
		w.Header().Set("Location", databaseURL(specOf(dbKey))+"/backups")
		writeRawJSON(w, http.StatusAccepted, reply)
	})
}

// backupProblems are why a database cannot be backed up now: it is not
// ready, or has no backups configured (nowhere to write one).
func backupProblems(db database) request.Problems {
	name := db.latest.Request.Key()
	switch {
	case db.live == nil:
		return request.Problems{{Field: "name", Message: fmt.Sprintf("%s is not ready yet (%s)", name, db.latest.State)}}
	case !db.live.Request.Spec.Backups.Enabled():
		return request.Problems{{Field: "name", Message: fmt.Sprintf(
			"%s has no backups configured (nowhere to write one); turn them on first with PATCH %s and backups", name, databaseURL(db.live.Request.Spec))}}
	}
	return nil
}

// replay answers the recorded reply of an Idempotency-Key used before
// (its call's fingerprint already checked), marked Idempotent-Replayed,
// and returns true; false when there is none to answer.
func (a *handlers) replay(w http.ResponseWriter, r *http.Request, key store.Idempotency) bool {
	if key.IsZero() {
		return false
	}
	b, err := a.deps.Store.Recall(r.Context(), replyKey(key))
	if err != nil {
		return false
	}
	w.Header().Set(ReplayedHeader, "true")
	writeRawJSON(w, http.StatusAccepted, b)
	return true
}

// remember records the reply of an idempotent call; a failure is logged
// (a retry then does the call again, which the pipeline makes harmless).
func (a *handlers) remember(r *http.Request, key store.Idempotency, reply []byte) {
	if key.IsZero() {
		return
	}
	if _, _, err := a.deps.Store.Remember(r.Context(), replyKey(key), reply); err != nil {
		a.logger(r).Warn().Err(err).Msg("api: could not remember the reply")
	}
}

// restoreBody is the body of POST .../restore (RestoreSchema describes
// it): the new database's name, the point in time to recover to (none for
// the latest), and, as for a new database, the owner and the requester.
// Everything else is the source's.
type restoreBody struct {
	Name       string         `json:"name"`
	TargetTime *string        `json:"targetTime"`
	Owner      *string        `json:"owner"`
	Requester  *requesterBody `json:"requester"`
}

// restoreOf is the restore the body asks of source, with problems naming
// restore.targetTime for a time that is not RFC 3339.
func (b restoreBody) restoreOf(source string) (*request.Restore, request.Problems) {
	rs := &request.Restore{Source: source}
	if b.TargetTime == nil {
		return rs, nil
	}
	// RFC 3339 allows a lowercase t and z, which JSON Schema's date-time
	// (a form's) accepts and Go's parser does not.
	t, err := request.ParseTargetTime(strings.ToUpper(*b.TargetTime))
	if err != nil {
		_, err = request.ParseTargetTime(*b.TargetTime) // its problem quotes the time as given
	}
	var pr request.Problems
	if errors.As(err, &pr) {
		return rs, pr
	}
	rs.TargetTime = &t
	return rs, nil
}

// restoreRequest is the create request of a restore: the source's live
// spec (size, instances, storage, version, backups, logical backup, extra
// databases) and its client type and load, with the new name and the
// restore.
func restoreRequest(live store.Record, body restoreBody, rs *request.Restore, client string) request.DatabaseRequest {
	src := live.Request
	s := src.Spec
	spec := request.Spec{
		Name: body.Name, Team: s.Team, Environment: s.Environment,
		Size: s.Size, Instances: s.Instances, PostgresVersion: s.PostgresVersion, Storage: s.Storage,
		Backups:       request.Backups{Schedule: s.Backups.Schedule, Retention: s.Backups.Retention},
		LogicalBackup: s.LogicalBackup, Databases: slices.Clone(s.Databases), Restore: rs,
	}
	if s.Backups.Hour != nil {
		h := *s.Backups.Hour
		spec.Backups.Hour = &h
	}
	return request.DatabaseRequest{
		Kind: request.Create, ClientType: src.ClientType, Load: src.Load, Spec: spec,
		Requester: body.Requester.requester(),
		Origin:    request.Origin{Kind: request.OriginAPI, APIClient: client},
	}
}

// handleRestore asks for a new database restored from the database the
// path names (the source), as POST /api/v1/databases asks for one: 202
// with the new request, whose Location it is. An unknown or deleted source
// answers 404 (its errors name restore.source); a source that is not
// ready, has no backups or whose recovery window misses the target time
// answers 422 naming restore.source or restore.targetTime; a new name
// that exists already 409.
func (a *handlers) handleRestore() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		client := clientFrom(ctx)
		key, p := idempotencyKey(r, client.Name)
		if p != nil {
			writeProblem(w, r, *p)
			return
		}
		var body restoreBody
		if p := decodeBody(r, &body); p != nil {
			writeProblem(w, r, *p)
			return
		}
		fp := fingerprint(r, body)
		if !a.keyFits(w, r, key, fp, false) {
			return
		}
		src := pathKey(r)
		db, found, err := a.database(ctx, src.Environment, src.Team, src.Name)
		if err != nil {
			a.internal(w, r, fmt.Errorf("restore from %s: %w", keyName(src), err))
			return
		}
		if !found || !db.exists() {
			if a.replay(w, r, key) {
				return // the source was deleted since the first call
			}
			p := a.noDatabase(r)
			p.Errors = request.Problems{{Field: "restore.source", Message: fmt.Sprintf("there is no database %s to restore from", keyName(src))}}
			writeProblem(w, r, p)
			return
		}
		if db.live == nil {
			if a.replay(w, r, key) {
				return
			}
			writeProblem(w, r, invalid(request.Problems{{Field: "restore.source", Message: fmt.Sprintf(
				"%s is not ready yet (%s): a restore reads the backups of a running database", keyName(src), db.latest.State)}}))
			return
		}
		rs, pr := body.restoreOf(src.Name)
		pr = append(checkOwner(body.Owner, src.Team), pr...)
		pr = append(pr, body.Requester.valid()...)
		req := restoreRequest(*db.live, body, rs, client.Name)
		if _, err := a.deps.Policy.Resolve(req); err != nil {
			var more request.Problems
			if !errors.As(err, &more) {
				a.internal(w, r, fmt.Errorf("restore from %s: %w", keyName(src), err))
				return
			}
			for _, p := range more {
				if !pr.Has(p.Field) {
					pr = append(pr, p)
				}
			}
		}
		if len(pr) == 0 && !a.seen(ctx, key) {
			pr = a.windowProblems(r, src, *rs)
		}
		if len(pr) > 0 {
			writeProblem(w, r, invalid(pr))
			return
		}
		if !a.seen(ctx, key) {
			target, found, err := a.database(ctx, req.Environment, req.Team, req.Name)
			if err != nil {
				a.internal(w, r, fmt.Errorf("restore to %s: %w", req.Key(), err))
				return
			}
			if found && target.exists() && !a.seen(ctx, key) {
				writeProblem(w, r, exists(target, req.Spec, nil))
				return
			}
		}
		if !a.keyFits(w, r, key, fp, true) {
			return
		}
		rec, created, err := a.deps.Pipeline.Submit(ctx, req, key)
		if err != nil {
			a.changeFailed(w, r, err, req.Spec, true)
			return
		}
		a.accept(w, r, rec, created, key, request.Create, req.Spec)
	})
}

// windowProblems checks a restore against its source's recovery window
// (request.Policy.CheckRestoreWindow) before the call binds its
// Idempotency-Key, so that a refused call can be corrected under the same
// key; the pipeline checks again when it submits. A window that cannot be
// read now is left to the pipeline.
func (a *handlers) windowProblems(r *http.Request, src store.DatabaseKey, rs request.Restore) request.Problems {
	set, err := a.deps.Pipeline.Backups(r.Context(), src)
	if err != nil {
		a.logger(r).Debug().Err(err).Str("database", keyName(src)).Msg("api: recovery window not read before the restore")
		return nil
	}
	return a.deps.Policy.CheckRestoreWindow(rs, set.Window.First, set.Window.Last)
}
