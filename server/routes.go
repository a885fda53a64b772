package server

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// addRoutes is the whole HTTP surface of clustro serve.
func addRoutes(mux *http.ServeMux, d Deps) {
	mux.Handle("GET /healthz", handleHealthz())
	mux.Handle("GET /readyz", handleReadyz(d.Store, d.Slack, d.GitHub, d.API))
	mux.Handle("GET /metrics", promhttp.HandlerFor(d.Registry, promhttp.HandlerOpts{}))

	mux.Handle("POST /slack/commands", integration(d.Slack))
	mux.Handle("POST /slack/interactions", integration(d.Slack))
	mux.Handle("POST /slack/events", integration(d.Slack))

	mux.Handle("POST /webhooks/github", integration(d.GitHub))

	mux.Handle("/api/v1/", integration(d.API))
}
