package main

import (
	"context"
	"fmt"
	"time"

	"github.com/clustropg/clustro/internal/loadrun"
	"github.com/clustropg/clustro/pipeline"
	"github.com/clustropg/clustro/request"
	"github.com/clustropg/clustro/store"
)

// The stores are seeded with package loadrun, before serve opens them.

var seedEvent = request.Event{Actor: "clustro-load", Origin: "seed"}

// seedRequest is the i-th request of a seeded store, from the API.
func seedRequest(policy *request.Policy, i int) (request.DatabaseRequest, error) {
	return loadrun.Database(policy, fmt.Sprintf("db%05d", i), i, request.Origin{Kind: request.OriginAPI})
}

// seedReady stores n databases, each created and taken to ready.
func seedReady(ctx context.Context, path string, n int) error {
	return loadrun.Seed(ctx, path, func(st store.Store, policy *request.Policy) error {
		for i := range n {
			r, err := seedRequest(policy, i)
			if err == nil {
				err = loadrun.CreateReady(ctx, st, r, seedEvent)
			}
			if err != nil {
				return fmt.Errorf("seed database %d: %w", i, err)
			}
		}
		return nil
	})
}

// seedOpen stores a request in pr_open for each pull request.
func seedOpen(ctx context.Context, path string, prs []store.PullRequest) error {
	return loadrun.Seed(ctx, path, func(st store.Store, policy *request.Policy) error {
		for i, pr := range prs {
			r, err := seedRequest(policy, i)
			if err != nil {
				return fmt.Errorf("seed request %d: %w", i, err)
			}
			rec, _, err := st.CreateRequest(ctx, store.NewRequest{Request: r, Event: seedEvent})
			if err != nil {
				return fmt.Errorf("seed request %d: %w", i, err)
			}
			if _, err := st.Transition(ctx, rec.ID(), request.PROpen, seedEvent); err != nil {
				return fmt.Errorf("seed request %d: %w", i, err)
			}
			if _, err := st.UpdateRequest(ctx, rec.ID(), store.Change{PR: &pr}, seedEvent); err != nil {
				return fmt.Errorf("seed request %d: %w", i, err)
			}
		}
		return nil
	})
}

// seedQueued enqueues n github_event jobs due in a day: the workers'
// claim query passes over them, and none runs during the measurement.
func seedQueued(ctx context.Context, path string, n int) error {
	return loadrun.Seed(ctx, path, func(st store.Store, _ *request.Policy) error {
		due := time.Now().Add(24 * time.Hour)
		for i := range n {
			_, _, err := st.Enqueue(ctx, store.NewJob{Kind: pipeline.JobGitHubEvent, Workspace: fmt.Sprintf("github/pr/%d", 900000+i),
				Payload: []byte(`{"Type":"pull_request","Action":"synchronize","PR":1}`), RunAt: due})
			if err != nil {
				return fmt.Errorf("queue job %d: %w", i, err)
			}
		}
		return nil
	})
}
