package api

import (
	"net/http"

	"github.com/clustropg/clustro/catalog"
	"github.com/clustropg/clustro/store"
	"github.com/clustropg/clustro/templates"
)

// handleEntities serves every live database as the Backstage Resource
// entity its workspace's catalog-info.yaml holds (catalog.Settings.For),
// for a Backstage entity provider: {"items": [entity, ...], "next": url}
// a page at a time, in the order of the databases' keys (environment,
// team, name). A database is live from the first change of it that
// reached ready until it is deleted; the entity describes the newest
// ready change.
func (a *handlers) handleEntities() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pq, pr := readPage(r.URL.Query(), entitiesList)
		if len(pr) > 0 {
			writeProblem(w, r, pageProblem(pr))
			return
		}
		dbs, err := a.deps.Store.ListDatabases(r.Context(), store.DatabaseFilter{Live: true}, pq.afterDatabase(), pq.limit+1)
		if err != nil {
			a.internal(w, r, err)
			return
		}
		var next string
		if len(dbs) > pq.limit {
			dbs = dbs[:pq.limit]
			next = nextURL(r, cursor{Route: entitiesList, Database: &dbs[len(dbs)-1].Key})
		}
		items := []catalog.Entity{}
		for _, db := range dbs {
			e, err := a.entity(*db.Live)
			if err != nil {
				// One database the catalog cannot name must not hide the others.
				a.logger(r).Error().Err(err).Str("request", db.Live.ID()).Msg("api: no catalog entity for a database")
				continue
			}
			items = append(items, e)
		}
		writePage(w, r, items, next)
	})
}

// entity is the catalog entity of a ready request's database.
func (a *handlers) entity(rec store.Record) (catalog.Entity, error) {
	s := rec.Request.Spec
	ns := a.deps.Namespace(s)
	return a.deps.Catalog.For(catalog.Database{
		Spec: s, RequestID: rec.ID(), Namespace: ns, Dir: templates.WorkspaceDir(s),
		Dashboard: a.deps.Grafana.Dashboard(a.deps.Policy, s),
	})
}
