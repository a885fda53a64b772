package api

import (
	"net/url"
	"time"

	"github.com/clustropg/clustro/request"
	"github.com/clustropg/clustro/store"
)

// PostgreSQL's port on every CloudNativePG service.
const postgresPort = 5432

// accepted is the 202 reply to a change: the request that carries it and
// where to follow it.
type accepted struct {
	ID    string        `json:"id"`
	Kind  request.Kind  `json:"kind"`
	State request.State `json:"state"`
	// URL is the request (GET it to follow the change).
	URL string `json:"url"`
	// Database is the database the change is for.
	Database string `json:"database"`
	// EntityRef is the database's Backstage entity, once it is ready.
	EntityRef string `json:"entityRef"`
	// PullRequest is the pull request, or until it is open a search of
	// the infra repository that finds it; empty without a repository URL.
	PullRequest string `json:"pullRequest,omitempty"`
}

// databaseView is a database as its latest request describes it.
type databaseView struct {
	Environment string `json:"environment"`
	Team        string `json:"team"`
	Name        string `json:"name"`
	URL         string `json:"url"`
	// State and Kind are those of the latest request for the database.
	State request.State `json:"state"`
	Kind  request.Kind  `json:"kind"`
	// Live reports whether the database exists: a change of it reached
	// ready since it was last deleted.
	Live       bool   `json:"live"`
	Request    string `json:"request"`
	RequestURL string `json:"requestUrl"`
	// Spec is the latest request's (what is applied once it is ready).
	Spec        request.Spec     `json:"spec"`
	PullRequest *pullRequestView `json:"pullRequest,omitempty"`
	PlanSummary string           `json:"planSummary,omitempty"`
	Failure     *request.Failure `json:"failure,omitempty"`
	Namespace   string           `json:"namespace"`
	Hosts       hostsView        `json:"hosts"`
	// Grafana is the dashboard of the cluster, when Grafana is configured.
	Grafana   string    `json:"grafana,omitempty"`
	EntityRef string    `json:"entityRef"`
	UpdatedAt time.Time `json:"updatedAt"`
	// Health is what was last seen of the cluster, Drift the difference
	// from the reviewed code when there is one, Reconcile the latest
	// reconcile: from the watch record, absent when there is none (health
	// and drift also when the database does not run).
	Health    *healthView    `json:"health,omitempty"`
	Drift     *driftView     `json:"drift,omitempty"`
	Reconcile *reconcileView `json:"reconcile,omitempty"`
}

// hostsView are the in-cluster DNS names of the database's services.
type hostsView struct {
	// ReadWrite reaches the primary, ReadOnly the replicas, Read any instance.
	ReadWrite string `json:"readWrite"`
	ReadOnly  string `json:"readOnly"`
	Read      string `json:"read"`
	Port      int    `json:"port"`
}

type pullRequestView struct {
	Number int    `json:"number"`
	URL    string `json:"url"`
}

// requestView is one request: a change asked for a database.
type requestView struct {
	ID          string             `json:"id"`
	Kind        request.Kind       `json:"kind"`
	State       request.State      `json:"state"`
	ClientType  request.ClientType `json:"clientType,omitempty"`
	Load        request.Load       `json:"load,omitempty"`
	Spec        request.Spec       `json:"spec"`
	Requester   request.Requester  `json:"requester"`
	Origin      request.Origin     `json:"origin"`
	Failure     *request.Failure   `json:"failure,omitempty"`
	PullRequest *pullRequestView   `json:"pullRequest,omitempty"`
	PlanSummary string             `json:"planSummary,omitempty"`
	Database    string             `json:"database"`
	Events      string             `json:"events"`
	CreatedAt   time.Time          `json:"createdAt"`
	UpdatedAt   time.Time          `json:"updatedAt"`
}

// list is the envelope of every collection: one page of it.
type list[T any] struct {
	Items []T `json:"items"`
	// Next is the URL of the next page; absent on the last.
	Next string `json:"next,omitempty"`
}

func requestURL(id string) string { return "/api/v1/requests/" + url.PathEscape(id) }

func databaseURL(s request.Spec) string {
	return "/api/v1/databases/" + url.PathEscape(s.Environment) + "/" + url.PathEscape(s.Team) + "/" + url.PathEscape(s.Name)
}

// entityRef is the Backstage reference of the database's Resource entity.
func entityRef(s request.Spec) string { return "resource:default/" + request.NamesOf(s).Qualified }

func prView(pr store.PullRequest) *pullRequestView {
	if pr.Number == 0 && pr.URL == "" {
		return nil
	}
	return &pullRequestView{Number: pr.Number, URL: pr.URL}
}

// pullRequestLink is the record's pull request, or a search for it: the
// pull request's body names the request id.
func (a *handlers) pullRequestLink(rec store.Record) string {
	if rec.PR.URL != "" {
		return rec.PR.URL
	}
	if a.deps.Catalog.RepoURL == "" {
		return ""
	}
	return a.deps.Catalog.RepoURL + "/pulls?q=" + url.QueryEscape("is:pr "+rec.ID())
}

func (a *handlers) acceptedOf(rec store.Record) accepted {
	return accepted{
		ID: rec.ID(), Kind: rec.Request.Kind, State: rec.State, URL: requestURL(rec.ID()),
		Database: databaseURL(rec.Request.Spec), EntityRef: entityRef(rec.Request.Spec),
		PullRequest: a.pullRequestLink(rec),
	}
}

func (a *handlers) requestOf(rec store.Record) requestView {
	return requestView{
		ID: rec.ID(), Kind: rec.Request.Kind, State: rec.State, ClientType: rec.Request.ClientType, Load: rec.Request.Load,
		Spec: rec.Request.Spec, Requester: rec.Request.Requester, Origin: rec.Request.Origin, Failure: rec.Failure,
		PullRequest: prView(rec.PR), PlanSummary: rec.PlanSummary, Database: databaseURL(rec.Request.Spec),
		Events: requestURL(rec.ID()) + "/events", CreatedAt: rec.CreatedAt, UpdatedAt: rec.UpdatedAt,
	}
}

func (a *handlers) databaseOf(db database) databaseView {
	rec := db.latest
	s := rec.Request.Spec
	ns := a.deps.Namespace(s)
	names := request.NamesOf(s)
	host := func(svc string) string { return svc + "." + ns + ".svc.cluster.local" }
	return databaseView{
		Environment: s.Environment, Team: s.Team, Name: s.Name, URL: databaseURL(s),
		State: rec.State, Kind: rec.Request.Kind, Live: db.live != nil,
		Request: rec.ID(), RequestURL: requestURL(rec.ID()), Spec: s,
		PullRequest: prView(rec.PR), PlanSummary: rec.PlanSummary, Failure: rec.Failure,
		Namespace: ns,
		Hosts:     hostsView{ReadWrite: host(names.RW), ReadOnly: host(names.RO), Read: host(names.R), Port: postgresPort},
		Grafana:   a.deps.Grafana.Dashboard(a.deps.Policy, s),
		EntityRef: entityRef(s), UpdatedAt: rec.UpdatedAt,
	}
}

// database is what the store knows of one database: its newest request
// (whatever its state, for display) and the reading every entry point
// shares (store.Summarize).
type database struct {
	latest store.Record
	// live is the newest request that reached ready since the database was
	// last deleted (its Spec is what runs), or nil.
	live    *store.Record
	current store.Database
}

// databaseOfRecords summarizes the requests of one database, newest first.
func databaseOfRecords(recs []store.Record) database {
	cur := store.Summarize(recs)
	return database{latest: recs[0], live: cur.Live, current: cur}
}

// exists reports whether the database exists or is on its way, as the
// pipeline sees it.
func (db database) exists() bool { return db.current.Exists() }

// databaseOfEntry is a database as ListDatabases reads it.
func databaseOfEntry(e store.DatabaseEntry) database {
	return database{latest: e.Newest, live: e.Live, current: e.Database}
}
