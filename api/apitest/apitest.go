// Package apitest helps test the REST API and the Backstage template:
// shared request samples (hand-picked and generated from the policy's
// boundaries) and moving a stored request through its states as the
// engine would. The tests use the real pipeline, without GitHub.
package apitest

import (
	"context"
	"fmt"

	"github.com/clustropg/clustro/request"
	"github.com/clustropg/clustro/store"
)

// Requests is what Advance needs of the store.
type Requests interface {
	GetRequest(ctx context.Context, id string) (store.Record, error)
	Transition(ctx context.Context, id string, to request.State, ev request.Event, opts ...store.TransitionOption) (store.Record, error)
}

// Advance moves a request through states, in order, as the engine would:
// a move to request.Failed records a retryable failure of the step that
// was running (the state before it).
func Advance(ctx context.Context, s Requests, id string, states ...request.State) (store.Record, error) {
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
