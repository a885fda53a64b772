package api

import (
	"net/http"
	"slices"
	"strings"

	"github.com/clustropg/clustro/catalog"
	"github.com/clustropg/clustro/store"
	"github.com/clustropg/clustro/templates"
)

// handleEntities serves every live database as the Backstage Resource
// entity its workspace's catalog-info.yaml holds (catalog.Settings.For),
// for a Backstage entity provider: {"items": [entity, ...]} sorted by name.
// A database is live from the first change of it that reached ready until
// it is deleted; the entity describes the newest ready change.
func (a *handlers) handleEntities() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		recs, err := a.deps.Store.ListRequests(r.Context(), store.Filter{})
		if err != nil {
			a.internal(w, r, err)
			return
		}
		items := []catalog.Entity{}
		for _, db := range databases(recs) {
			if db.live == nil {
				continue
			}
			e, err := a.entity(*db.live)
			if err != nil {
				// One database the catalog cannot name must not hide the others.
				a.logger(r).Error().Err(err).Str("request", db.live.ID()).Msg("api: no catalog entity for a database")
				continue
			}
			items = append(items, e)
		}
		slices.SortFunc(items, func(x, y catalog.Entity) int { return strings.Compare(x.Metadata.Name, y.Metadata.Name) })
		writeJSON(w, r, http.StatusOK, list[catalog.Entity]{Items: items})
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
