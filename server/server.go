package server

import (
	"context"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// Pinger is the store's readiness check.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Integration is an optional part of the HTTP surface. When Handler is nil
// the integration is off and its routes answer 503, naming Missing.
type Integration struct {
	Name    string
	Handler http.Handler
	// MaxBody is the largest body its sender posts (its own cap): a route
	// of an unauthenticated sender refuses more unread. Zero leaves it to
	// the process-wide budget.
	MaxBody int64
	// Missing names the setting that would turn it on.
	Missing string
}

// On reports whether the integration is configured.
func (i Integration) On() bool { return i.Handler != nil }

// Deps are everything the HTTP surface needs.
type Deps struct {
	Log      zerolog.Logger
	Store    Pinger
	Registry *prometheus.Registry
	Metrics  *Metrics
	// Slack serves /slack/commands, /slack/interactions and /slack/events.
	Slack Integration
	// GitHub serves /webhooks/github.
	GitHub Integration
	// API serves /api/v1/.
	API Integration
	// Limits bound what unauthenticated clients may cost (zero: defaults).
	Limits Limits
}

// New returns the HTTP handler of `clustro serve`.
func New(d Deps) http.Handler {
	mux := http.NewServeMux()
	addRoutes(mux, d)
	var h http.Handler = mux
	h = recoverPanics(h)
	h = logRequests(d.Log, d.Metrics, h)
	return h
}
