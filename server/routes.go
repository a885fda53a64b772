package server

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// addRoutes is the whole HTTP surface of clustro serve. Slack and GitHub
// prove who they are only with a signature over the whole body, so their
// routes are unauthenticated until it is read: their bodies are bounded
// per route and, together, by the process-wide budget (limits.go).
func addRoutes(mux *http.ServeMux, d Deps) {
	unauthenticated := newBudget(d.Limits.bodyBudget())
	slackBody := limitBody(unauthenticated, slackBodyLimit)
	githubBody := limitBody(unauthenticated, githubBodyLimit)

	mux.Handle("GET /healthz", handleHealthz())
	mux.Handle("GET /readyz", handleReadyz(d.Store, d.Slack, d.GitHub, d.API))
	mux.Handle("GET /metrics", promhttp.HandlerFor(d.Registry, promhttp.HandlerOpts{}))

	mux.Handle("POST /slack/commands", slackBody(integration(d.Slack)))
	mux.Handle("POST /slack/interactions", slackBody(integration(d.Slack)))
	mux.Handle("POST /slack/events", slackBody(integration(d.Slack)))

	mux.Handle("POST /webhooks/github", githubBody(integration(d.GitHub)))

	mux.Handle("/api/v1/", integration(d.API))
}
