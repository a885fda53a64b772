package api

import (
	"net/http"

	"github.com/clustropg/clustro/config"
)

// route is one operation of the API: its method and path (a ServeMux
// pattern, also the OpenAPI path), the scope a token needs ("" for none)
// and its handler.
type route struct {
	method, path string
	scope        string
	handler      http.Handler
}

// routes is the whole HTTP surface of the API.
func (a *handlers) routes() []route {
	const db = "/api/v1/databases/{env}/{team}/{name}"
	return []route{
		{"GET", "/api/v1/openapi.json", "", a.handleOpenAPI()},

		{"POST", "/api/v1/databases", config.ScopeRequest, a.handleCreateDatabase()},
		{"GET", "/api/v1/databases", config.ScopeRead, a.handleListDatabases()},
		{"GET", db, config.ScopeRead, a.handleGetDatabase()},
		{"PATCH", db, config.ScopeRequest, a.handleUpdateDatabase()},
		{"DELETE", db, config.ScopeRequest, a.handleDeleteDatabase()},
		{"POST", db + "/reconcile", config.ScopeRequest, a.handleReconcile()},
		{"GET", db + "/backups", config.ScopeRead, a.handleListBackups()},
		{"POST", db + "/backups", config.ScopeRequest, a.handleTakeBackup()},
		{"POST", db + "/restore", config.ScopeRequest, a.handleRestore()},

		{"GET", "/api/v1/requests/{id}", config.ScopeRead, a.handleGetRequest()},
		{"GET", "/api/v1/requests/{id}/events", config.ScopeRead, a.handleRequestEvents()},
		{"POST", "/api/v1/requests/{id}/retry", config.ScopeRequest, a.handleRetryRequest()},

		{"GET", "/api/v1/catalog/entities", config.ScopeRead, a.handleEntities()},
	}
}

// addRoutes registers each route behind the check of its scope. Paths
// under /api/v1/ that match no route answer 404, and a known path asked
// with another method 405, both as problem details (problemsForUnmatched).
func (a *handlers) addRoutes(mux *http.ServeMux) {
	for _, rt := range a.routes() {
		h := rt.handler
		if rt.scope != "" {
			h = a.authorized(rt.scope, h)
		}
		mux.Handle(rt.method+" "+rt.path, h)
	}
}
