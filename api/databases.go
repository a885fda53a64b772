package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/clustropg/clustro/request"
	"github.com/clustropg/clustro/store"
)

// createBody is the body of POST /api/v1/databases (CreateSchema describes
// it). Pointers tell a field left out (take the default) from one given
// empty (refused, as the schema refuses it).
type createBody struct {
	Name            string              `json:"name"`
	Team            string              `json:"team"`
	Owner           *string             `json:"owner"`
	Environment     string              `json:"environment"`
	ClientType      *request.ClientType `json:"clientType"`
	Load            *request.Load       `json:"load"`
	Size            *request.Size       `json:"size"`
	Instances       *int                `json:"instances"`
	PostgresVersion *int                `json:"postgresVersion"`
	Storage         *string             `json:"storage"`
	Backups         *backupsBody        `json:"backups"`
	LogicalBackup   *bool               `json:"logicalBackup"`
	Databases       []string            `json:"databases"`
	Requester       *requesterBody      `json:"requester"`
}

type backupsBody struct {
	Schedule  *request.Schedule `json:"schedule"`
	Hour      *int              `json:"hour"`
	Retention *string           `json:"retention"`
}

type requesterBody struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Valid reports what the domain cannot see once the body is a request: a
// field given but empty (the domain would take its default), and an owner
// that is not the team's group.
func (b createBody) Valid(context.Context) request.Problems {
	pr := checkOwner(b.Owner, b.Team)
	nonEmpty(&pr, "clientType", b.ClientType, allowedList(request.ClientTypes()))
	nonEmpty(&pr, "load", b.Load, allowedList(request.Loads()))
	nonEmpty(&pr, "size", b.Size, allowedList(request.Sizes()))
	if b.Instances != nil && *b.Instances < 1 {
		pr = append(pr, request.Problem{Field: "instances", Message: fmt.Sprintf("%d is not allowed; leave it out for the default", *b.Instances)})
	}
	if b.PostgresVersion != nil && *b.PostgresVersion < 1 {
		pr = append(pr, request.Problem{Field: "postgresVersion", Message: fmt.Sprintf("%d is not offered; leave it out for the default", *b.PostgresVersion)})
	}
	nonEmpty(&pr, "storage", b.Storage, "a size like 100Gi")
	pr = append(pr, b.Backups.valid()...)
	pr = append(pr, b.Requester.valid()...)
	return pr
}

func (b *backupsBody) valid() request.Problems {
	var pr request.Problems
	if b == nil {
		return pr
	}
	nonEmpty(&pr, "backups.schedule", b.Schedule, allowedList(request.Schedules()))
	nonEmpty(&pr, "backups.retention", b.Retention, "a number and d, w or m, like 14d")
	return pr
}

func (r *requesterBody) valid() request.Problems {
	if r != nil && r.ID == "" {
		return request.Problems{{Field: "requester.id", Message: "required when requester is given: the user's id, like user:default/jane"}}
	}
	return nil
}

func (r *requesterBody) requester() request.Requester {
	if r == nil {
		return request.Requester{}
	}
	return request.Requester{ID: r.ID, Name: r.Name}
}

// nonEmpty reports a string field given as "".
func nonEmpty[T ~string](pr *request.Problems, field string, v *T, allowed string) {
	if v != nil && *v == "" {
		*pr = append(*pr, request.Problem{Field: field, Message: "must not be empty; leave it out for the default, or give " + allowed})
	}
}

// request is the database request the body asks for, from client.
func (b createBody) request(client string) request.DatabaseRequest {
	r := request.DatabaseRequest{
		Kind: request.Create,
		Spec: request.Spec{Name: b.Name, Team: b.Team, Environment: b.Environment, Databases: b.Databases},
		// Without a requester the pipeline records the token's name.
		Requester: b.Requester.requester(),
		Origin:    request.Origin{Kind: request.OriginAPI, APIClient: client},
	}
	set(&r.ClientType, b.ClientType)
	set(&r.Load, b.Load)
	set(&r.Size, b.Size)
	set(&r.Instances, b.Instances)
	set(&r.PostgresVersion, b.PostgresVersion)
	set(&r.Storage, b.Storage)
	set(&r.LogicalBackup, b.LogicalBackup)
	if b.Backups != nil {
		set(&r.Backups.Schedule, b.Backups.Schedule)
		r.Backups.Hour = b.Backups.Hour
		set(&r.Backups.Retention, b.Backups.Retention)
	}
	return r
}

func set[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

// updateBody is the body of PATCH /api/v1/databases/{env}/{team}/{name}
// (UpdateSchema describes it).
type updateBody struct {
	Size      *request.Size  `json:"size"`
	Instances *int           `json:"instances"`
	Storage   *string        `json:"storage"`
	Backups   *backupsBody   `json:"backups"`
	Requester *requesterBody `json:"requester"`
}

// empty reports a body that asks for no change.
func (b updateBody) empty() bool {
	return b.Size == nil && b.Instances == nil && b.Storage == nil && b.Backups == nil
}

// Valid reports fields given empty.
func (b updateBody) Valid(context.Context) request.Problems {
	var pr request.Problems
	nonEmpty(&pr, "size", b.Size, allowedList(request.Sizes()))
	if b.Instances != nil && *b.Instances < 1 {
		pr = append(pr, request.Problem{Field: "instances", Message: fmt.Sprintf("%d is not allowed", *b.Instances)})
	}
	nonEmpty(&pr, "storage", b.Storage, "a size like 100Gi")
	pr = append(pr, b.Backups.valid()...)
	pr = append(pr, b.Requester.valid()...)
	return pr
}

// kind is a resize when size, instances or storage change (backups may
// change with them), else a backup change.
func (b updateBody) kind() request.Kind {
	if b.Size != nil || b.Instances != nil || b.Storage != nil {
		return request.Resize
	}
	return request.Backup
}

// change is the change the body asks for, as the domain takes it: the
// policy applies it (backups merge field by field; turning them off drops
// the hour and retention, turning them on takes the defaults for what is
// not given, as a new request would).
func (b updateBody) change() request.Change {
	c := request.Change{Kind: b.kind(), Requester: b.Requester.requester()}
	if b.Size != nil {
		c.Size = *b.Size
	}
	if b.Instances != nil {
		c.Instances = *b.Instances
	}
	if b.Storage != nil {
		c.Storage = *b.Storage
	}
	if bb := b.Backups; bb != nil {
		c.Backups = &request.BackupsChange{Hour: bb.Hour}
		if bb.Schedule != nil {
			c.Backups.Schedule = *bb.Schedule
		}
		if bb.Retention != nil {
			c.Backups.Retention = *bb.Retention
		}
	}
	return c
}

func (a *handlers) handleCreateDatabase() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		client := clientFrom(ctx)
		key, p := idempotencyKey(r, client.Name)
		if p != nil {
			writeProblem(w, r, *p)
			return
		}
		var body createBody
		if p := decodeBody(r, &body); p != nil {
			writeProblem(w, r, *p)
			return
		}
		fp := fingerprint(r, body)
		if !a.keyFits(w, r, key, fp, false) {
			return
		}
		req := body.request(client.Name)
		if pr := a.createProblems(ctx, body, req); len(pr) > 0 {
			writeProblem(w, r, invalid(pr))
			return
		}
		// The pipeline refuses a database whose latest request is live;
		// one that runs while a later change of it was cancelled exists too.
		// A retry skips the check, as does a call whose key made the
		// database meanwhile (a concurrent call, with the same body or
		// not: keyFits tells).
		if !a.seen(ctx, key) {
			db, found, err := a.database(ctx, req.Environment, req.Team, req.Name)
			if err != nil {
				a.internal(w, r, err)
				return
			}
			if found && db.exists() && !a.seen(ctx, key) {
				writeProblem(w, r, exists(db, req.Spec, nil))
				return
			}
		}
		if !a.keyFits(w, r, key, fp, true) {
			return
		}
		rec, created, err := a.deps.Pipeline.Submit(ctx, req, key)
		if err != nil {
			a.changeFailed(w, r, err, req.Spec, true)
			return
		}
		a.accept(w, r, rec, created, key, request.Create, req.Spec)
	})
}

// createProblems are the body's own problems and the domain's, in one
// answer: the pipeline validates the request again, but a call refused
// here never binds its Idempotency-Key.
func (a *handlers) createProblems(ctx context.Context, body createBody, req request.DatabaseRequest) request.Problems {
	pr := body.Valid(ctx)
	var more request.Problems
	if _, err := a.deps.Policy.Resolve(req); errors.As(err, &more) {
		for _, p := range more {
			if !pr.Has(p.Field) {
				pr = append(pr, p)
			}
		}
	}
	return pr
}

// keyFits answers the call itself, and returns false, when its
// Idempotency-Key was first used for another call (see checkKey).
func (a *handlers) keyFits(w http.ResponseWriter, r *http.Request, key store.Idempotency, fp []byte, bind bool) bool {
	p, err := a.checkKey(r.Context(), r, key, fp, bind)
	switch {
	case err != nil:
		a.internal(w, r, err)
		return false
	case p != nil:
		writeProblem(w, r, *p)
		return false
	}
	return true
}

// handleListDatabases serves one entry per database, described by its
// latest request and its watch record, a page at a time in key order
// (environment, team, name). The store applies the filter: a page holds
// limit databases whenever that many match. With drifted or health, the
// watch records drive the page (listWatched).
func (a *handlers) handleListDatabases() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		f, wq, pq, p := a.listQuery(r)
		if p != nil {
			writeProblem(w, r, *p)
			return
		}
		if wq.any() {
			items, last, err := a.listWatched(ctx, f, wq, pq)
			if err != nil {
				a.internal(w, r, err)
				return
			}
			var next string
			if last != nil {
				next = nextURL(r, cursor{Route: databasesList, Database: last})
			}
			writePage(w, r, items, next)
			return
		}
		dbs, err := a.deps.Store.ListDatabases(ctx, f, pq.afterDatabase(), pq.limit+1)
		if err != nil {
			a.internal(w, r, err)
			return
		}
		var next string
		if len(dbs) > pq.limit {
			dbs = dbs[:pq.limit]
			next = nextURL(r, cursor{Route: databasesList, Database: &dbs[len(dbs)-1].Key})
		}
		watches, err := a.watchesOf(ctx, f, pq.afterDatabase(), dbs)
		if err != nil {
			a.internal(w, r, err)
			return
		}
		items := make([]databaseView, 0, len(dbs))
		for _, e := range dbs {
			db := databaseOfEntry(e)
			items = append(items, withWatch(a.databaseOf(db), db, watches[e.Key]))
		}
		writePage(w, r, items, next)
	})
}

// listQuery reads the query of GET /api/v1/databases: team, environment
// and state (comma-separated or repeated), drifted and health, limit and
// cursor. Without states it selects the databases that exist or are on
// their way; with states, those whose latest request is in one of them.
// Unknown parameters are refused.
func (a *handlers) listQuery(r *http.Request) (store.DatabaseFilter, watchQuery, pageQuery, *Problem) {
	q := r.URL.Query()
	var f store.DatabaseFilter
	allowed := append([]string{"drifted", "environment", "health", "state", "team"}, pageParams...)
	slices.Sort(allowed)
	pq, pr := readPage(q, databasesList)
	wq, wpr := readWatchQuery(q["drifted"], q["health"])
	pr = append(pr, wpr...)
	for _, k := range sortedKeys(q) {
		if !slices.Contains(allowed, k) {
			pr = append(pr, request.Problem{Field: k, Message: "unknown query parameter; allowed: " + strings.Join(allowed, ", ")})
		}
	}
	if env := q.Get("environment"); env != "" {
		if !a.deps.Policy.HasEnvironment(env) {
			pr = append(pr, request.Problem{Field: "environment", Message: fmt.Sprintf("%q is not an environment; allowed: %s", env, strings.Join(a.deps.Policy.EnvironmentNames(), ", "))})
		}
		f.Environment = env
	}
	f.Team = q.Get("team")
	for _, v := range q["state"] {
		for _, s := range strings.Split(v, ",") {
			st := request.State(strings.TrimSpace(s))
			if !st.Valid() {
				pr = append(pr, request.Problem{Field: "state", Message: fmt.Sprintf("%q is not a state; allowed: %s", st, allowedList(request.States()))})
				continue
			}
			f.States = append(f.States, st)
		}
	}
	f.Existing = len(f.States) == 0
	if len(pr) > 0 {
		p := malformed("The query is invalid.", pr...)
		return f, wq, pq, &p
	}
	return f, wq, pq, nil
}

func (a *handlers) handleGetDatabase() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		db, found, err := a.database(r.Context(), r.PathValue("env"), r.PathValue("team"), r.PathValue("name"))
		if err != nil {
			a.internal(w, r, err)
			return
		}
		if !found {
			writeProblem(w, r, a.noDatabase(r))
			return
		}
		watch, err := a.watchOf(r.Context(), store.DatabaseKey{Environment: r.PathValue("env"), Team: r.PathValue("team"), Name: r.PathValue("name")})
		if err != nil {
			a.internal(w, r, err)
			return
		}
		writeJSON(w, r, http.StatusOK, withWatch(a.databaseOf(db), db, watch))
	})
}

func (a *handlers) handleUpdateDatabase() http.Handler {
	return a.changeHandler(func(r *http.Request) (request.Change, []byte, *Problem) {
		var body updateBody
		if p := decodeBody(r, &body); p != nil {
			return request.Change{}, nil, p
		}
		if body.empty() {
			p := problem("validation", "Nothing to change: give size, instances, storage or backups.")
			return request.Change{}, nil, &p
		}
		if pr := body.Valid(r.Context()); len(pr) > 0 {
			p := invalid(pr)
			return request.Change{}, nil, &p
		}
		return body.change(), fingerprint(r, body), nil
	})
}

func (a *handlers) handleDeleteDatabase() http.Handler {
	return a.changeHandler(func(r *http.Request) (request.Change, []byte, *Problem) {
		return request.Change{Kind: request.Destroy}, fingerprint(r, nil), nil
	})
}

// changeHandler serves a change of the database named by the path: read
// takes the change and its fingerprint from the request, or a problem.
func (a *handlers) changeHandler(read func(r *http.Request) (request.Change, []byte, *Problem)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		client := clientFrom(r.Context())
		key, p := idempotencyKey(r, client.Name)
		if p != nil {
			writeProblem(w, r, *p)
			return
		}
		c, fp, p := read(r)
		if p != nil {
			writeProblem(w, r, *p)
			return
		}
		c.Environment, c.Team, c.Name = r.PathValue("env"), r.PathValue("team"), r.PathValue("name")
		c.Origin = request.Origin{Kind: request.OriginAPI, APIClient: client.Name}
		a.change(w, r, c, key, fp)
	})
}

// change asks the pipeline for c, once the database is known to exist
// (else 404) and be ready (else 409) and the policy takes the change: a
// change refused here never binds its Idempotency-Key. A repeated key
// (replay) skips the checks: the pipeline returns the request the first
// call made, and accept the first reply; a key first used for another
// call (fp differs) is refused.
func (a *handlers) change(w http.ResponseWriter, r *http.Request, c request.Change, key store.Idempotency, fp []byte) {
	ctx := r.Context()
	if !a.keyFits(w, r, key, fp, false) {
		return
	}
	db, found, err := a.database(ctx, c.Environment, c.Team, c.Name)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	target := request.Spec{Environment: c.Environment, Team: c.Team, Name: c.Name}
	if !a.seen(ctx, key) {
		if !found || !db.exists() {
			writeProblem(w, r, a.noDatabase(r))
			return
		}
		if db.latest.State != request.Ready {
			writeProblem(w, r, a.notReady(db))
			return
		}
		if _, err := a.deps.Policy.ApplyChange(db.latest.Request, c); err != nil {
			a.changeFailed(w, r, err, target, false)
			return
		}
	}
	if !a.keyFits(w, r, key, fp, true) {
		return
	}
	rec, created, err := a.deps.Pipeline.Change(ctx, c, key)
	if err != nil {
		a.changeFailed(w, r, err, target, false)
		return
	}
	a.accept(w, r, rec, created, key, c.Kind, target)
}

// database reads the requests of one database.
func (a *handlers) database(ctx context.Context, env, team, name string) (database, bool, error) {
	if env == "" || team == "" || name == "" {
		return database{}, false, nil // an empty filter field would match every database
	}
	recs, err := a.deps.Store.ListRequests(ctx, store.Filter{Environment: env, Team: team, Name: name})
	if err != nil || len(recs) == 0 {
		return database{}, false, err
	}
	return databaseOfRecords(recs), true, nil
}

func (a *handlers) noDatabase(r *http.Request) Problem {
	return problem("not-found", fmt.Sprintf("There is no database %s/%s/%s.", r.PathValue("env"), r.PathValue("team"), r.PathValue("name")))
}

func (a *handlers) notReady(db database) Problem {
	return problem("conflict", fmt.Sprintf("%s is %s (request %s, %s): wait until it is ready, or retry or cancel that request.",
		db.latest.Request.Key(), db.latest.State, db.latest.ID(), db.latest.Request.Kind))
}

// accept answers 202 with the request that carries a change. A repeated
// Idempotency-Key answers what the first call answered, marked
// Idempotent-Replayed, or 422 if the key made another change (a key used
// before fingerprints were recorded).
func (a *handlers) accept(w http.ResponseWriter, r *http.Request, rec store.Record, created bool, key store.Idempotency, kind request.Kind, spec request.Spec) {
	ctx := r.Context()
	w.Header().Set("Location", requestURL(rec.ID()))
	if !created {
		if rec.Request.Kind != kind || rec.Request.Key() != spec.Key() {
			w.Header().Del("Location")
			writeProblem(w, r, a.keyReused(ctx, r, key, fmt.Sprintf("another change (request %s: %s %s)", rec.ID(), rec.Request.Kind, rec.Request.Key())))
			return
		}
		if b, err := a.deps.Store.Recall(ctx, replyKey(key)); err == nil {
			w.Header().Set(ReplayedHeader, "true")
			writeRawJSON(w, http.StatusAccepted, b)
			return
		}
	}
	b, err := marshal(a.acceptedOf(rec))
	if err != nil {
		a.internal(w, r, err)
		return
	}
	if created && !key.IsZero() {
		if _, _, err := a.deps.Store.Remember(ctx, replyKey(key), b); err != nil {
			// The request is stored; a retry answers from the record.
			a.logger(r).Warn().Err(err).Str("request", rec.ID()).Msg("api: could not remember the reply")
		}
	}
	a.logger(r).Info().Str("request", rec.ID()).Str("kind", string(rec.Request.Kind)).Str("database", rec.Request.Key()).
		Str("client", clientFrom(ctx).Name).Bool("replay", !created).Msg("api: change accepted")
	if !created {
		w.Header().Set(ReplayedHeader, "true")
	}
	writeRawJSON(w, http.StatusAccepted, b)
}

// changeFailed answers a refused Submit (creating) or Change: the
// domain's problems as 422, or 409 when the database exists (a create) or
// is not ready (a change), 404 when it is gone.
func (a *handlers) changeFailed(w http.ResponseWriter, r *http.Request, err error, spec request.Spec, creating bool) {
	var pr request.Problems
	if !errors.As(err, &pr) {
		if errors.Is(err, request.ErrNoChange) {
			writeProblem(w, r, problem("validation", "Nothing changes: the database already has these settings."))
			return
		}
		if errors.Is(err, store.ErrConflict) {
			writeProblem(w, r, problem("conflict", "The database changed while this was asked; try again."))
			return
		}
		a.internal(w, r, err)
		return
	}
	// The pipeline checks existence and readiness once the rest is valid:
	// the problem about the name is then the only one.
	if len(pr) == 1 && pr.Has("name") {
		db, found, lookupErr := a.database(r.Context(), spec.Environment, spec.Team, spec.Name)
		switch {
		case lookupErr != nil:
			a.internal(w, r, lookupErr)
			return
		case creating && found && db.exists():
			writeProblem(w, r, exists(db, spec, pr))
			return
		case !creating && (!found || !db.exists()):
			writeProblem(w, r, a.noDatabase(r))
			return
		case !creating && db.latest.State != request.Ready:
			p := a.notReady(db)
			p.Errors = pr
			writeProblem(w, r, p)
			return
		}
	}
	writeProblem(w, r, invalid(pr))
}

// exists is the 409 for a database that exists or is on its way.
func exists(db database, spec request.Spec, pr request.Problems) Problem {
	p := problem("conflict", fmt.Sprintf("%s already exists (its latest request %s is %s): change it with PATCH or DELETE %s.",
		spec.Key(), db.latest.ID(), db.latest.State, databaseURL(spec)))
	if len(pr) == 0 {
		pr = request.Problems{{Field: "name", Message: spec.Key() + " already exists"}}
	}
	p.Errors = pr
	return p
}

// internal answers 500 and logs the error; the reply says nothing of it.
func (a *handlers) internal(w http.ResponseWriter, r *http.Request, err error) {
	a.logger(r).Error().Err(err).Str("method", r.Method).Str("path", r.URL.Path).Msg("api: internal error")
	writeProblem(w, r, problem("internal", "The server failed to answer; the error is in its log."))
}
