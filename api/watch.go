package api

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/clustropg/clustro/request"
	"github.com/clustropg/clustro/store"
)

// Day two: what ClustroPG watches of a ready database (the health of its
// cluster, its drift from the reviewed code, the latest reconcile) is read
// from its watch record (store.Watch), and a reconcile is asked for
// through the pipeline (POST .../reconcile).

// healthView is the health of a database's CloudNativePG Cluster, as last
// seen.
type healthView struct {
	// State is healthy, unhealthy or gone (request.Health.State).
	State          string     `json:"state"`
	Phase          string     `json:"phase,omitempty"`
	Reason         string     `json:"reason,omitempty"`
	Ready          bool       `json:"ready"`
	ReadyReason    string     `json:"readyReason,omitempty"`
	Instances      int64      `json:"instances"`
	ReadyInstances int64      `json:"readyInstances"`
	Primary        string     `json:"primary,omitempty"`
	Since          *time.Time `json:"since,omitempty"`
}

// driftView is a difference between the live objects and the reviewed code.
type driftView struct {
	Detected  time.Time `json:"detected"`
	Checked   time.Time `json:"checked"`
	Commit    string    `json:"commit"`
	Summary   string    `json:"summary"`
	Resources []string  `json:"resources"`
}

// reconcileView is a reconcile: a request to apply the reviewed code again.
type reconcileView struct {
	ID        string             `json:"id"`
	State     string             `json:"state"`
	Requester request.Requester  `json:"requester"`
	Confirmer *request.Requester `json:"confirmer,omitempty"`
	Commit    string             `json:"commit,omitempty"`
	Summary   string             `json:"summary,omitempty"`
	Resources []string           `json:"resources,omitempty"`
	Error     string             `json:"error,omitempty"`
	Requested time.Time          `json:"requested"`
	Updated   time.Time          `json:"updated"`
}

func healthOf(h *request.Health) *healthView {
	if h == nil {
		return nil
	}
	v := &healthView{
		State: h.State(), Phase: h.Phase, Reason: h.Reason, Ready: h.Ready, ReadyReason: h.ReadyReason,
		Instances: h.Instances, ReadyInstances: h.ReadyInstances, Primary: h.Primary,
	}
	if !h.Since.IsZero() {
		since := h.Since
		v.Since = &since
	}
	return v
}

func driftOf(d *request.Drift) *driftView {
	if d == nil {
		return nil
	}
	resources := append([]string{}, d.Resources...)
	return &driftView{Detected: d.Detected, Checked: d.Checked, Commit: d.Commit, Summary: d.Summary, Resources: resources}
}

func reconcileOf(r *request.Reconcile) *reconcileView {
	if r == nil {
		return nil
	}
	v := &reconcileView{
		ID: r.ID, State: r.State, Requester: r.Requester, Commit: r.Commit, Summary: r.Summary,
		Resources: append([]string(nil), r.Resources...), Error: r.Error, Requested: r.Requested, Updated: r.Updated,
	}
	if r.Confirmer != nil {
		c := *r.Confirmer
		v.Confirmer = &c
	}
	return v
}

// withWatch adds what the watch record says to a database's view. Health
// and drift are shown only while the database runs (a deleted database's
// record speaks of a cluster that is gone by design); the latest reconcile
// always.
func withWatch(v databaseView, db database, w *store.Watch) databaseView {
	if w == nil {
		return v
	}
	if db.live != nil {
		v.Health, v.Drift = healthOf(w.Health), driftOf(w.Drift)
	}
	v.Reconcile = reconcileOf(w.Reconcile)
	return v
}

// watchOf reads a database's watch record; nil when it has none.
func (a *handlers) watchOf(ctx context.Context, key store.DatabaseKey) (*store.Watch, error) {
	w, err := a.deps.Store.GetWatch(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the watch record of %s: %w", keyName(key), err)
	}
	return &w, nil
}

// keyName is a database's key as env/team/name, for errors and logs.
func keyName(k store.DatabaseKey) string { return k.Environment + "/" + k.Team + "/" + k.Name }

// compareKeys orders database keys as the store pages them (environment,
// team, name).
func compareKeys(x, y store.DatabaseKey) int {
	return cmp.Or(cmp.Compare(x.Environment, y.Environment), cmp.Compare(x.Team, y.Team), cmp.Compare(x.Name, y.Name))
}

// maxWatchBatches bounds the ListWatches calls that find the records of
// one page of databases.
const maxWatchBatches = 4

// watchesOf reads the watch records of a page of databases, listed after
// the key after: ListWatches from the same key, in batches of the page's
// size, until every database of the page is found or the records pass its
// last key (one call, unless records of databases the page leaves out,
// deleted ones say, sit between its own). Keys are compared bytewise, as
// SQLite orders them; should a PostgreSQL collation order them otherwise,
// at worst maxWatchBatches calls are made, or a record found late is left
// out of the page's view (never a wrong one shown).
func (a *handlers) watchesOf(ctx context.Context, f store.DatabaseFilter, after store.DatabaseKey, page []store.DatabaseEntry) (map[store.DatabaseKey]*store.Watch, error) {
	out := map[store.DatabaseKey]*store.Watch{}
	if len(page) == 0 {
		return out, nil
	}
	want := make(map[store.DatabaseKey]bool, len(page))
	for _, e := range page {
		want[e.Key] = true
	}
	last := page[len(page)-1].Key
	wf := store.WatchFilter{Environment: f.Environment, Team: f.Team}
	batch := len(page) + 1
	for range maxWatchBatches {
		ws, err := a.deps.Store.ListWatches(ctx, wf, after, batch)
		if err != nil {
			return nil, fmt.Errorf("list the watch records of a page of databases: %w", err)
		}
		for i := range ws {
			if want[ws[i].Key] {
				out[ws[i].Key] = &ws[i]
			}
		}
		if len(ws) < batch || len(out) == len(want) || compareKeys(ws[len(ws)-1].Key, last) >= 0 {
			break
		}
		after = ws[len(ws)-1].Key
	}
	return out, nil
}

// watchQuery is the day-two filter of GET /api/v1/databases: drifted=true
// and health=unhealthy.
type watchQuery struct {
	drifted, unhealthy bool
}

func (q watchQuery) any() bool { return q.drifted || q.unhealthy }

// readWatchQuery reads ?drifted and ?health, naming the parameter of each
// problem.
func readWatchQuery(drifted, health []string) (watchQuery, request.Problems) {
	var (
		q  watchQuery
		pr request.Problems
	)
	if len(drifted) > 0 {
		if len(drifted) > 1 || drifted[0] != "true" {
			pr = append(pr, request.Problem{Field: "drifted", Message: "only true is allowed (the databases that drifted from their reviewed code); leave it out for every database"})
		} else {
			q.drifted = true
		}
	}
	if len(health) > 0 {
		if len(health) > 1 || health[0] != "unhealthy" {
			pr = append(pr, request.Problem{Field: "health", Message: "only unhealthy is allowed (the databases whose cluster is unhealthy or gone); leave it out for every database"})
		} else {
			q.unhealthy = true
		}
	}
	return q, pr
}

// listWatched serves a page of GET /api/v1/databases with a day-two
// filter: the store selects the watch records (ListWatches, in key order,
// from its partial indexes), and each is read with its database's
// requests, kept if the database runs and matches the state filter. Few
// databases drift or are unhealthy at once: one read per item is cheap
// there, where the whole list could not afford it.
func (a *handlers) listWatched(ctx context.Context, f store.DatabaseFilter, wq watchQuery, pq pageQuery) ([]databaseView, *store.DatabaseKey, error) {
	wf := store.WatchFilter{Environment: f.Environment, Team: f.Team, Drifted: wq.drifted, Unhealthy: wq.unhealthy}
	after := pq.afterDatabase()
	var (
		items []databaseView
		keys  []store.DatabaseKey
	)
	batch := pq.limit + 1
	for len(items) <= pq.limit {
		ws, err := a.deps.Store.ListWatches(ctx, wf, after, batch)
		if err != nil {
			return nil, nil, fmt.Errorf("list the watch records of %+v: %w", wf, err)
		}
		for i := range ws {
			w := &ws[i]
			db, found, err := a.database(ctx, w.Key.Environment, w.Key.Team, w.Key.Name)
			if err != nil {
				return nil, nil, fmt.Errorf("read database %s: %w", keyName(w.Key), err)
			}
			if !found || db.live == nil || !matchesStates(f, db) {
				continue
			}
			items = append(items, withWatch(a.databaseOf(db), db, w))
			keys = append(keys, w.Key)
			if len(items) > pq.limit {
				break
			}
		}
		if len(ws) < batch {
			break
		}
		after = ws[len(ws)-1].Key
	}
	if len(items) > pq.limit {
		next := keys[pq.limit-1]
		return items[:pq.limit], &next, nil
	}
	return items, nil, nil
}

// matchesStates applies the list's state filter to a database read
// outside ListDatabases.
func matchesStates(f store.DatabaseFilter, db database) bool {
	if len(f.States) == 0 {
		return true
	}
	for _, s := range f.States {
		if db.latest.State == s {
			return true
		}
	}
	return false
}

// reconcileBody is the body of POST .../reconcile: empty (or {}) starts a
// reconcile, confirm applies the planned one it names.
type reconcileBody struct {
	Confirm   *string        `json:"confirm"`
	Requester *requesterBody `json:"requester"`
}

// Valid reports a confirm given empty and a requester without an id.
func (b reconcileBody) Valid(context.Context) request.Problems {
	var pr request.Problems
	if b.Confirm != nil && *b.Confirm == "" {
		pr = append(pr, request.Problem{Field: "confirm", Message: "must not be empty: give the id of the planned reconcile to apply it, or leave it out to start one"})
	}
	return append(pr, b.Requester.valid()...)
}

// readReconcileBody reads the optional body of POST .../reconcile: none
// at all is {}.
func readReconcileBody(r *http.Request) (reconcileBody, *Problem) {
	var body reconcileBody
	if p := decodeOptionalBody(r, &body); p != nil {
		return body, p
	}
	if pr := body.Valid(r.Context()); len(pr) > 0 {
		p := invalid(pr)
		return body, &p
	}
	return body, nil
}

// handleReconcile asks the pipeline to reconcile a database: without
// confirm it starts one (its plan is shown in the database's thread and
// on the database), with confirm it applies the planned one. The pipeline
// decides; its refusals answer 422.
func (a *handlers) handleReconcile() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		client := clientFrom(ctx)
		body, p := readReconcileBody(r)
		if p != nil {
			writeProblem(w, r, *p)
			return
		}
		key := store.DatabaseKey{Environment: r.PathValue("env"), Team: r.PathValue("team"), Name: r.PathValue("name")}
		db, found, err := a.database(ctx, key.Environment, key.Team, key.Name)
		if err != nil {
			a.internal(w, r, fmt.Errorf("reconcile %s: %w", keyName(key), err))
			return
		}
		if !found || !db.exists() {
			writeProblem(w, r, a.noDatabase(r))
			return
		}
		who := body.Requester.requester()
		if who.ID == "" {
			who = request.Requester{ID: client.Name}
		}
		origin := request.Origin{Kind: request.OriginAPI, APIClient: client.Name}
		confirm := ""
		if body.Confirm != nil {
			confirm = *body.Confirm
		}
		rc, err := a.deps.Pipeline.Reconcile(ctx, key, who, origin, confirm)
		var pr request.Problems
		switch {
		case errors.As(err, &pr):
			writeProblem(w, r, invalid(pr))
			return
		case errors.Is(err, store.ErrConflict):
			writeProblem(w, r, problem("conflict", "The database changed while this was asked; try again."))
			return
		case err != nil && rc.ID == "":
			a.internal(w, r, err)
			return
		case err != nil:
			// The reconcile is recorded; only its audit event failed.
			a.logger(r).Warn().Err(err).Str("reconcile", rc.ID).Msg("api: reconcile recorded, its audit event failed")
		}
		a.logger(r).Info().Str("reconcile", rc.ID).Str("state", rc.State).Str("database", keyName(key)).
			Str("client", client.Name).Bool("confirm", confirm != "").Msg("api: reconcile accepted")
		w.Header().Set("Location", databaseURL(request.Spec{Environment: key.Environment, Team: key.Team, Name: key.Name}))
		writeJSON(w, r, http.StatusAccepted, reconcileOf(&rc))
	})
}
