package pipeline

import (
	"context"
	"errors"
	"fmt"

	"github.com/clustropg/clustro/request"
	"github.com/clustropg/clustro/store"
	"github.com/clustropg/clustro/templates"
)

// history reads what the store knows of one database.
func (p *Pipeline) history(ctx context.Context, env, team, name string) (store.Database, error) {
	recs, err := p.store.ListRequests(ctx, store.Filter{Environment: env, Team: team, Name: name})
	if err != nil {
		return store.Database{}, err
	}
	return store.Summarize(recs), nil
}

// Submit validates a new database request and stores it with the job that
// opens its pull request. Bad input returns request.Problems and stores
// nothing. With a key, a repeated submission returns the first record
// (created false).
func (p *Pipeline) Submit(ctx context.Context, r request.DatabaseRequest, key store.Idempotency) (store.Record, bool, error) {
	r.Kind = request.Create
	resolved, err := p.policy.Resolve(r)
	if err != nil {
		return store.Record{}, false, err
	}
	if p.seen(ctx, key) {
		return p.create(ctx, resolved, key) // a retry: the store returns the first record
	}
	h, err := p.history(ctx, resolved.Environment, resolved.Team, resolved.Name)
	if err != nil {
		return store.Record{}, false, fmt.Errorf("submit %s: %w", resolved.Key(), err)
	}
	if h.Exists() && p.seen(ctx, key) {
		// The same call, stored by a racing twin since seen was asked
		// above: the store answers with its record.
		return p.create(ctx, resolved, key)
	}
	if h.Exists() {
		return store.Record{}, false, request.Problems{{Field: "name", Message: fmt.Sprintf(
			"%s already exists (%s, request %s); change it with resize, backups or delete", resolved.Key(), h.Latest.State, h.Latest.ID())}}
	}
	if resolved.Spec.Restore != nil {
		if err := p.checkRestore(ctx, resolved.Spec); err != nil {
			return store.Record{}, false, err
		}
	}
	return p.create(ctx, resolved, key)
}

func (p *Pipeline) create(ctx context.Context, r request.DatabaseRequest, key store.Idempotency) (store.Record, bool, error) {
	if r.ID == "" {
		r.ID = store.NewID()
	}
	rec, created, err := p.store.CreateRequest(ctx, store.NewRequest{
		Request: r,
		Event: request.Event{Actor: actorOf(r), Origin: r.Origin.Kind, Ref: key.Key,
			Detail: fmt.Sprintf("%s %s: size %s, %d instance(s), backups %s", r.Kind, r.Key(), r.Size, r.Instances, r.Backups.Schedule)},
		Key:        key,
		OneAtATime: true,
		Jobs: []store.NewJob{
			newJob(JobOpenPR, r.ID, "", jobPayload{}),
			notifyJob(r.ID, request.Notice{Kind: request.NoticeReceived, Text: fmt.Sprintf("Request received: %s %s (%s, %d instance(s)). Opening a pull request.", r.Kind, r.Key(), r.Size, r.Instances)}),
		},
	})
	var taken *store.IdentityError
	if errors.As(err, &taken) {
		return store.Record{}, false, request.Problems{{Field: "name", Message: taken.Error()}}
	}
	if errors.Is(err, store.ErrConflict) {
		// Another entry point or replica got there first.
		return store.Record{}, false, request.Problems{{Field: "name", Message: fmt.Sprintf("%s has a change in progress; wait for it, or retry or cancel it", r.Key())}}
	}
	if err != nil {
		return store.Record{}, false, fmt.Errorf("store request for %s: %w", r.Key(), err)
	}
	if created {
		p.wake()
	}
	return rec, created, nil
}

// Change asks for a change of an existing database (a resize, a backup
// change or a deletion) as a new request with its own pull request. The
// policy applies it to the database's live request (request.Policy.
// ApplyChange): bad input returns request.Problems, a change that changes
// nothing request.ErrNoChange, and nothing is stored. With a key, a
// repeated call returns the first record (created false).
func (p *Pipeline) Change(ctx context.Context, c request.Change, key store.Idempotency) (store.Record, bool, error) {
	h, err := p.history(ctx, c.Environment, c.Team, c.Name)
	if err != nil {
		return store.Record{}, false, fmt.Errorf("change %s: %w", c.Key(), err)
	}
	if p.seen(ctx, key) && h.Latest != nil {
		// A retry: the store returns the first record for the key.
		return p.create(ctx, h.Latest.Request, key)
	}
	if h.Live == nil {
		return store.Record{}, false, request.Problems{{Field: "name", Message: fmt.Sprintf("no database %s", c.Key())}}
	}
	if h.Busy() {
		return store.Record{}, false, request.Problems{{Field: "name", Message: fmt.Sprintf(
			"%s has a change in progress (%s, request %s): wait for it, or retry or cancel it", h.Latest.Request.Key(), h.Latest.State, h.Latest.ID())}}
	}
	r, err := p.policy.ApplyChange(h.Live.Request, c)
	if err != nil {
		return store.Record{}, false, err
	}
	return p.create(ctx, r, key)
}

// Retry sends a failed request back to the step that failed.
func (p *Pipeline) Retry(ctx context.Context, id string, who request.Requester, origin string) (store.Record, error) {
	rec, err := p.store.GetRequest(ctx, id)
	if err != nil {
		return store.Record{}, fmt.Errorf("retry %s: %w", id, err)
	}
	if rec.State != request.Failed || rec.Failure == nil {
		return store.Record{}, fmt.Errorf("retry %s: it is %s, not failed", id, rec.State)
	}
	to := request.State(rec.Failure.Step)
	var job store.NewJob
	switch to {
	case request.Submitted:
		job = newJob(JobOpenPR, id, "", jobPayload{})
	case request.Applying, request.Deleting:
		if p.github == nil {
			return store.Record{}, fmt.Errorf("retry %s: GitHub is not configured (CLUSTRO_GITHUB_*)", id)
		}
		pr, err := p.github.GetPR(ctx, rec.PR.Number)
		if err != nil {
			return store.Record{}, fmt.Errorf("retry %s: %w", id, err)
		}
		job = newJob(JobApply, id, templates.WorkspaceDir(rec.Request.Spec), jobPayload{SHA: pr.GetMergeCommitSHA(), PR: rec.PR.Number, Dir: templates.WorkspaceDir(rec.Request.Spec)})
	case request.Provisioning:
		job = newJob(JobWaitReady, id, "", jobPayload{})
	default:
		return store.Record{}, &request.RetryError{Failure: rec.Failure, To: to}
	}
	rec, err = p.transition(ctx, id, to, request.Event{Actor: who.ID, Origin: origin, Detail: "retry " + string(to)},
		&request.Notice{Kind: request.NoticeApplying, Text: fmt.Sprintf("Retrying %s of %s, asked by %s.", to, rec.Request.Key(), nameOf(who))},
		store.AndEnqueue(job))
	if err != nil {
		return store.Record{}, fmt.Errorf("retry %s: %w", id, err)
	}
	return rec, nil
}

// seen reports whether an idempotency key was already used.
func (p *Pipeline) seen(ctx context.Context, key store.Idempotency) bool {
	if key.IsZero() {
		return false
	}
	_, err := p.store.Recall(ctx, key)
	return err == nil
}

func actorOf(r request.DatabaseRequest) string {
	if r.Requester.ID != "" {
		return r.Requester.ID
	}
	return r.Origin.APIClient
}

func nameOf(who request.Requester) string {
	if who.Name != "" {
		return who.Name
	}
	return who.ID
}
