package loadrun

import (
	"context"
	"fmt"

	"github.com/clustropg/clustro/config"
	"github.com/clustropg/clustro/request"
	"github.com/clustropg/clustro/store"
)

// The stores are seeded through package store on the file, before serve
// opens it, as the requests a living service would have made.

// Seed opens (creating it) the store at path, with the default policy, for
// fill, and closes it.
func Seed(ctx context.Context, path string, fill func(store.Store, *request.Policy) error) error {
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

// Database is the i-th database of a seeded store, named name and
// resolved by policy: spread over its environments and 20 teams, asked by
// one of 1,000 users, from origin.
func Database(policy *request.Policy, name string, i int, origin request.Origin) (request.DatabaseRequest, error) {
	envs := policy.EnvironmentNames()
	return policy.Resolve(request.DatabaseRequest{
		Spec:      request.Spec{Name: name, Team: fmt.Sprintf("team%02d", i%20), Environment: envs[i%len(envs)]},
		Requester: request.Requester{ID: fmt.Sprintf("ULOAD%05d", i%1000), Name: "load"},
		Origin:    origin})
}

// CreateReady stores r and takes it through each state of its pull
// request to ready, every step recorded as ev.
func CreateReady(ctx context.Context, st store.Store, r request.DatabaseRequest, ev request.Event) error {
	rec, _, err := st.CreateRequest(ctx, store.NewRequest{Request: r, Event: ev})
	if err != nil {
		return err
	}
	for _, s := range []request.State{request.PROpen, request.Planned, request.Merged, request.Applying, request.Provisioning, request.Ready} {
		if _, err := st.Transition(ctx, rec.ID(), s, ev); err != nil {
			return err
		}
	}
	return nil
}
