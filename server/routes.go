package server

import (
	"cmp"
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// addRoutes is the whole HTTP surface of clustro serve. Slack and GitHub
// prove who they are only with a signature over the whole body, so their
// routes are unauthenticated until it is read: their bodies are bounded
// per route and, together, by the process-wide budget (limits.go).
func addRoutes(mux *http.ServeMux, d Deps) {
	unauthenticated := newBudget(d.Limits.bodyBudget())
	signed := func(i Integration) http.Handler {
		return limitBody(unauthenticated, cmp.Or(i.MaxBody, d.Limits.bodyBudget()))(integration(i))
	}

	mux.Handle("GET /healthz", handleHealthz())
	mux.Handle("GET /readyz", handleReadyz(d.Store, d.Slack, d.GitHub, d.API))
	mux.Handle("GET /metrics", promhttp.HandlerFor(d.Registry, promhttp.HandlerOpts{}))

	mux.Handle("POST /slack/commands", signed(d.Slack))
	mux.Handle("POST /slack/interactions", signed(d.Slack))
	mux.Handle("POST /slack/events", signed(d.Slack))

	mux.Handle("POST /webhooks/github", signed(d.GitHub))

	mux.Handle("/api/v1/", integration(d.API))
}
