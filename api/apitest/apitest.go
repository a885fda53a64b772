// Package apitest helps test the REST API without GitHub: Pipeline stands
// in for package pipeline's Submit, Change and Retry on a real store, with
// the same validation and existence rules, and records every call.
package apitest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/clustropg/clustro/request"
	"github.com/clustropg/clustro/store"
)

// Call is one call the pipeline received.
type Call struct {
	// Method is Submit, Change or Retry.
	Method string
	Kind   request.Kind
	// Key is the database (env/team/name) or, for Retry, the request id.
	Key         string
	Requester   request.Requester
	Origin      request.Origin
	Idempotency store.Idempotency
}

// Pipeline creates and changes requests in a real store the way package
// pipeline does (policy.Resolve for a new database, policy.Validate for a
// change, request.Problems for a database that exists or is not ready),
// without the jobs that open pull requests.
type Pipeline struct {
	Store  store.Store
	Policy *request.Policy

	mu    sync.Mutex
	calls []Call
}

// Calls returns the calls received so far.
func (p *Pipeline) Calls() []Call {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.calls)
}

func (p *Pipeline) record(c Call) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = append(p.calls, c)
}

// database reads the requests of a database as package pipeline does.
func (p *Pipeline) database(ctx context.Context, env, team, name string) (store.Database, error) {
	recs, err := p.Store.ListRequests(ctx, store.Filter{Environment: env, Team: team, Name: name})
	return store.Summarize(recs), err
}

// Submit stores a new database request as package pipeline does.
func (p *Pipeline) Submit(ctx context.Context, r request.DatabaseRequest, key store.Idempotency) (store.Record, bool, error) {
	p.record(Call{Method: "Submit", Kind: request.Create, Key: r.Key(), Requester: r.Requester, Origin: r.Origin, Idempotency: key})
	r.Kind = request.Create
	resolved, err := p.Policy.Resolve(r)
	if err != nil {
		return store.Record{}, false, err
	}
	if !p.seen(ctx, key) {
		db, err := p.database(ctx, resolved.Environment, resolved.Team, resolved.Name)
		if err != nil {
			return store.Record{}, false, err
		}
		if db.Exists() {
			return store.Record{}, false, request.Problems{{Field: "name", Message: fmt.Sprintf(
				"%s already exists (%s, request %s); change it with resize, backups or delete", resolved.Key(), db.Latest.State, db.Latest.ID())}}
		}
	}
	return p.create(ctx, resolved, key)
}

// Change stores a change of an existing, ready database as package
// pipeline does.
func (p *Pipeline) Change(ctx context.Context, kind request.Kind, env, team, name string, edit func(*request.Spec), who request.Requester, origin request.Origin, key store.Idempotency) (store.Record, bool, error) {
	p.record(Call{Method: "Change", Kind: kind, Key: env + "/" + team + "/" + name, Requester: who, Origin: origin, Idempotency: key})
	if kind == request.Create {
		return store.Record{}, false, errors.New("change: use Submit to create a database")
	}
	db, err := p.database(ctx, env, team, name)
	if err != nil {
		return store.Record{}, false, err
	}
	prev := db.Live
	if p.seen(ctx, key) && db.Latest != nil {
		prev = db.Latest // a retry: the store returns the first record
	} else if prev == nil {
		return store.Record{}, false, request.Problems{{Field: "name", Message: fmt.Sprintf("no database %s/%s/%s", env, team, name)}}
	} else if db.Busy() {
		return store.Record{}, false, request.Problems{{Field: "name", Message: fmt.Sprintf(
			"%s has a change in progress (%s, request %s): wait for it, or retry or cancel it", db.Latest.Request.Key(), db.Latest.State, db.Latest.ID())}}
	}
	r := request.DatabaseRequest{Kind: kind, ClientType: prev.Request.ClientType, Load: prev.Request.Load,
		Spec: prev.Request.Spec, Requester: who, Origin: origin}
	r.Databases = slices.Clone(prev.Request.Databases)
	if edit != nil {
		edit(&r.Spec)
	}
	if err := p.Policy.Validate(r.Spec); err != nil {
		return store.Record{}, false, err
	}
	return p.create(ctx, r, key)
}

// Retry moves a failed request back to the step that failed.
func (p *Pipeline) Retry(ctx context.Context, id string, who request.Requester, origin string) (store.Record, error) {
	p.record(Call{Method: "Retry", Key: id, Requester: who, Origin: request.Origin{Kind: origin}})
	rec, err := p.Store.GetRequest(ctx, id)
	if err != nil {
		return store.Record{}, fmt.Errorf("retry %s: %w", id, err)
	}
	if rec.State != request.Failed || rec.Failure == nil {
		return store.Record{}, fmt.Errorf("retry %s: it is %s, not failed", id, rec.State)
	}
	to := request.State(rec.Failure.Step)
	rec, err = p.Store.Transition(ctx, id, to, request.Event{Actor: who.ID, Origin: origin, Detail: "retry " + string(to)})
	if err != nil {
		return store.Record{}, fmt.Errorf("retry %s: %w", id, err)
	}
	return rec, nil
}

func (p *Pipeline) create(ctx context.Context, r request.DatabaseRequest, key store.Idempotency) (store.Record, bool, error) {
	actor := r.Requester.ID
	if actor == "" {
		actor = r.Origin.APIClient
	}
	rec, created, err := p.Store.CreateRequest(ctx, store.NewRequest{
		Request: r,
		Event:   request.Event{Actor: actor, Origin: r.Origin.Kind, Ref: key.Key, Detail: fmt.Sprintf("%s %s", r.Kind, r.Key())},
		Key:     key,
	})
	if err != nil {
		return store.Record{}, false, fmt.Errorf("store request for %s: %w", r.Key(), err)
	}
	return rec, created, nil
}

func (p *Pipeline) seen(ctx context.Context, key store.Idempotency) bool {
	if key.IsZero() {
		return false
	}
	_, err := p.Store.Recall(ctx, key)
	return err == nil
}

// Advance moves a request through states, in order, as the engine would:
// a move to request.Failed records a retryable failure of the step that
// was running (the state before it).
func Advance(ctx context.Context, s store.Store, id string, states ...request.State) (store.Record, error) {
	var rec store.Record
	for _, to := range states {
		cur, err := s.GetRequest(ctx, id)
		if err != nil {
			return store.Record{}, err
		}
		var opts []store.TransitionOption
		if to == request.Failed {
			opts = append(opts, store.WithFailure(request.Failure{Step: string(cur.State), Reason: "test failure", Retryable: true}))
		}
		rec, err = s.Transition(ctx, id, to, request.Event{Actor: "clustro", Origin: "engine"}, opts...)
		if err != nil {
			return store.Record{}, fmt.Errorf("advance %s to %s: %w", id, to, err)
		}
	}
	return rec, nil
}

// ToReady lists the states a submitted request goes through to ready.
func ToReady() []request.State {
	return []request.State{request.PROpen, request.Planned, request.Merged, request.Applying, request.Provisioning, request.Ready}
}
