package main

import (
	"context"
	"time"

	"github.com/clustropg/clustro/internal/loadrun"
)

// idleScenario reads the peak memory of a serve at rest on an empty store,
// with the webhook and the API on, a few seconds after it answered.
func (s *suite) idleScenario(ctx context.Context) []row {
	r := row{name: "idle serve (webhook and API on, empty store)"}
	dir, err := s.scratch("idle")
	if err != nil {
		return []row{failed(r.name, err)}
	}
	env, err := loadrun.GitHubEnv(dir, "http://127.0.0.1:9/", webhookRepo, "clustro-load-not-a-token", randomHex(16))
	if err != nil {
		return []row{failed(r.name, err)}
	}
	env = append(env, "CLUSTRO_API_TOKENS=load:read:"+randomHex(16))
	srv, err := loadrun.Start(ctx, s.o.clustro, dir, env...)
	if err != nil {
		return []row{failed(r.name, err)}
	}
	defer srv.Stop()
	select {
	case <-time.After(5 * time.Second):
	case <-ctx.Done():
	}
	r.rss = rss(srv)
	r.note = "5 s after /healthz answered"
	s.logf("idle: %s", r.rss)
	return []row{r}
}
