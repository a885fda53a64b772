// Package server is ClustroPG's HTTP surface: routes.go lists every route
// in one place. It serves the health, readiness and metrics endpoints
// itself and mounts the integrations (Slack, the GitHub webhook, the REST
// API); an integration that is not configured answers 503 with a body that
// names the missing setting.
package server
