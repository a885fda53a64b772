package main

import (
	"context"
	"fmt"
	"time"

	"github.com/clustropg/clustro/config"
	"github.com/clustropg/clustro/pipeline"
	"github.com/clustropg/clustro/request"
	"github.com/clustropg/clustro/store"
)

// The stores are seeded through package store on the file, before serve
// opens it, as the requests a living service would have made.

var seedEvent = request.Event{Actor: "clustro-load", Origin: "seed"}

// seedRequest is the i-th request of a seeded store, resolved by the
// default policy: spread over its environments and 20 teams.
func seedRequest(policy *request.Policy, i int) (request.DatabaseRequest, error) {
	envs := policy.EnvironmentNames()
	return policy.Resolve(request.DatabaseRequest{
		Spec:      request.Spec{Name: fmt.Sprintf("db%05d", i), Team: fmt.Sprintf("team%02d", i%20), Environment: envs[i%len(envs)]},
		Requester: request.Requester{ID: fmt.Sprintf("ULOAD%05d", i%1000), Name: "load"},
		Origin:    request.Origin{Kind: request.OriginAPI}})
}

// seedStore opens the store at path with the default policy for fill.
func seedStore(ctx context.Context, path string, fill func(store.Store, *request.Policy) error) error {
	cfg, err := config.Load("", nil)
	if err != nil {
		return err
	}
	st, err := store.Open(ctx, path)
	if err != nil {
		return err
	}
	defer st.Close()
	return fill(st, &cfg.Policy)
}

// seedReady stores n databases, each created and taken to ready.
func seedReady(ctx context.Context, path string, n int) error {
	return seedStore(ctx, path, func(st store.Store, policy *request.Policy) error {
		for i := range n {
			r, err := seedRequest(policy, i)
			if err != nil {
				return fmt.Errorf("seed database %d: %w", i, err)
			}
			rec, _, err := st.CreateRequest(ctx, store.NewRequest{Request: r, Event: seedEvent})
			if err != nil {
				return fmt.Errorf("seed database %d: %w", i, err)
			}
			for _, s := range []request.State{request.PROpen, request.Planned, request.Merged, request.Applying, request.Provisioning, request.Ready} {
				if _, err := st.Transition(ctx, rec.ID(), s, seedEvent); err != nil {
					return fmt.Errorf("seed database %d: %w", i, err)
				}
			}
		}
		return nil
	})
}

// seedOpen stores a request in pr_open for each pull request.
func seedOpen(ctx context.Context, path string, prs []store.PullRequest) error {
	return seedStore(ctx, path, func(st store.Store, policy *request.Policy) error {
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
	return seedStore(ctx, path, func(st store.Store, _ *request.Policy) error {
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
