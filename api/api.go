package api

import (
	"context"
	"net/http"
	"strings"

	"github.com/rs/zerolog"

	"github.com/clustropg/clustro/catalog"
	"github.com/clustropg/clustro/config"
	"github.com/clustropg/clustro/request"
	"github.com/clustropg/clustro/store"
)

// Store is what the API reads from the store, and where it keeps the
// replies of idempotent requests.
type Store interface {
	// GetRequest returns a request's record, or an error wrapping store.ErrNotFound.
	GetRequest(ctx context.Context, id string) (store.Record, error)
	// ListRequests returns the records matching f, newest first.
	ListRequests(ctx context.Context, f store.Filter) ([]store.Record, error)
	// ListDatabases returns a page of databases in key order, with the
	// filter applied by the store.
	ListDatabases(ctx context.Context, f store.DatabaseFilter, after store.DatabaseKey, limit int) ([]store.DatabaseEntry, error)
	// ListEvents returns a page of a request's audit trail, or an error
	// wrapping store.ErrNotFound.
	ListEvents(ctx context.Context, id string, after int64, limit int) ([]store.EventEntry, error)
	// Remember records a reply under key unless one is recorded there.
	Remember(ctx context.Context, key store.Idempotency, result []byte) (stored []byte, first bool, err error)
	// Recall returns the reply recorded under key, or store.ErrNotFound.
	Recall(ctx context.Context, key store.Idempotency) ([]byte, error)
	// GetWatch returns a database's watch record (its health, drift and
	// latest reconcile), or an error wrapping store.ErrNotFound.
	GetWatch(ctx context.Context, key store.DatabaseKey) (store.Watch, error)
	// ListWatches returns a page of watch records in key order, with the
	// filter applied by the store.
	ListWatches(ctx context.Context, f store.WatchFilter, after store.DatabaseKey, limit int) ([]store.Watch, error)
}

// Pipeline is the only way the API creates or changes requests; package
// pipeline implements it.
type Pipeline interface {
	// Submit validates and stores a new database request. Bad input
	// returns request.Problems; a repeated key returns the first record
	// with created false.
	Submit(ctx context.Context, r request.DatabaseRequest, key store.Idempotency) (rec store.Record, created bool, err error)
	// Change asks for a resize, a backup change or a deletion of an
	// existing, ready database.
	Change(ctx context.Context, c request.Change, key store.Idempotency) (rec store.Record, created bool, err error)
	// Retry sends a failed request back to the step that failed.
	Retry(ctx context.Context, id string, who request.Requester, origin string) (store.Record, error)
	// Reconcile asks to apply a ready database's reviewed code again:
	// without confirm it starts a reconcile (planned, then shown), with
	// confirm, that reconcile's id, it applies the plan. Refusals are
	// request.Problems.
	Reconcile(ctx context.Context, key store.DatabaseKey, who request.Requester, origin request.Origin, confirm string) (request.Reconcile, error)
	// Backups reads a ready database's base backups and recovery window
	// from its cluster; a database that is not ready is request.Problems.
	Backups(ctx context.Context, key store.DatabaseKey) (request.BackupSet, error)
	// TakeBackup starts an on-demand base backup of a ready database with
	// backups; the same idempotency key is the same backup. Refusals are
	// request.Problems.
	TakeBackup(ctx context.Context, key store.DatabaseKey, who request.Requester, origin request.Origin, idem store.Idempotency) (request.BaseBackup, error)
}

// Deps are the API's collaborators.
type Deps struct {
	Store    Store
	Pipeline Pipeline
	// Policy validates and describes requests (the schemas are generated
	// from it).
	Policy *request.Policy
	// Catalog builds the Backstage entities.
	Catalog catalog.Settings
	// Grafana makes the dashboard links; its zero value makes none.
	Grafana request.Grafana
	// Namespace is the namespace of a database (Policy.NamespaceFor when nil).
	Namespace func(request.Spec) string
	// Log receives auth refusals, accepted requests and internal errors;
	// never a token.
	Log zerolog.Logger
	// Tokens are the clients allowed in. With none, every route but the
	// OpenAPI document answers 401.
	Tokens []config.APIToken
}

// maxBody caps a request body; larger ones answer 413.
const maxBody = 64 << 10

// New returns the API's handler, to be mounted at /api/v1/ with the path
// kept whole. Deps missing the store, the pipeline or the policy make
// every route answer 503 with a problem naming what is missing.
func New(d Deps) http.Handler {
	if missing := d.missing(); missing != "" {
		d.Log.Error().Str("missing", missing).Msg("api: not configured")
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			writeProblem(w, r, newProblem(http.StatusServiceUnavailable, "unavailable", "The API is not configured",
				"clustro serve was started without "+missing+"."))
		})
	}
	if d.Namespace == nil {
		d.Namespace = d.Policy.NamespaceFor
	}
	a := &handlers{deps: d, auth: newAuthenticator(d.Tokens), log: d.Log}
	mux := http.NewServeMux()
	a.addRoutes(mux)
	return limitBody(problemsForUnmatched(mux))
}

// missing names the dependencies New cannot do without.
func (d Deps) missing() string {
	var m []string
	if d.Store == nil {
		m = append(m, "a store")
	}
	if d.Pipeline == nil {
		m = append(m, "a pipeline")
	}
	if d.Policy == nil {
		m = append(m, "a policy")
	}
	return strings.Join(m, ", ")
}

// handlers holds what the API's handlers close over (not to be confused with
// package server, which mounts the API beside the other routes).
type handlers struct {
	deps Deps
	auth *authenticator
	log  zerolog.Logger
}

// logger is the request's logger (server.logRequests puts one carrying the
// request id in the context), else the API's.
func (a *handlers) logger(r *http.Request) *zerolog.Logger {
	if l := zerolog.Ctx(r.Context()); l.GetLevel() != zerolog.Disabled {
		return l
	}
	return &a.log
}
