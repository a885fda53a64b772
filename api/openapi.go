package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/clustropg/clustro/config"
	"github.com/clustropg/clustro/request"
)

// OpenAPI returns the API's OpenAPI 3.1 document. The request bodies are
// CreateSchema and UpdateSchema of p; the enums come from the request
// model and the environments from p.
func OpenAPI(p *request.Policy) ([]byte, error) {
	b, err := json.MarshalIndent(openAPIDocument(p), "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode the OpenAPI document: %w", err)
	}
	return b, nil
}

func (a *handlers) handleOpenAPI() http.Handler {
	doc, err := OpenAPI(a.deps.Policy)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err != nil {
			a.internal(w, r, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=300")
		w.Write(doc)
		w.Write([]byte("\n"))
	})
}

func ref(name string) *Schema { return &Schema{Ref: "#/components/schemas/" + name} }

func enumOf[T ~string](vs []T) []any {
	out := make([]any, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	return out
}

func str(desc string) *Schema { return &Schema{Type: "string", Description: desc} }

func obj(required []string, props ...Property) *Schema {
	return &Schema{Type: "object", Required: required, Properties: props}
}

func arrayOf(items *Schema) *Schema { return &Schema{Type: "array", Items: items} }

var dateTime = []Keyword{{"format", "date-time"}}

// openAPIDocument is the document as data.
func openAPIDocument(p *request.Policy) Object {
	return Object{
		{"openapi", "3.1.0"},
		{"info", Object{
			{"title", "ClustroPG API"},
			{"version", "1.0.0"},
			{"description", "Ask for PostgreSQL databases on CloudNativePG, change and delete them, and follow each request " +
				"from pull request to ready. Every change is a request with its own pull request on the infrastructure repository. " +
				"Authenticate with a bearer token from api.tokens (CLUSTRO_API_TOKENS); each operation names the scope it needs. " +
				"Errors are RFC 9457 problem details; their errors member names each invalid field. " +
				"POST /api/v1/databases, PATCH, DELETE, POST .../backups and POST .../restore take an Idempotency-Key (a reconcile needs none: repeating it changes nothing more): a retry with the same key and the same call (method, path and body) answers what the first call answered, " +
				"with the header " + ReplayedHeader + ": true; the same key with another call is refused (422 idempotency-key-reused)."},
			{"license", Object{{"name", License}, {"identifier", License}}},
		}},
		{"servers", []Object{{
			{"url", "/"},
			{"description", "The clustro serve that serves this document (every path starts with /api/v1). Backstage reaches it through its proxy (proxy.endpoints)."},
		}}},
		{"paths", openAPIPaths()},
		{"components", Object{
			{"securitySchemes", Object{{"bearerAuth", Object{
				{"type", "http"}, {"scheme", "bearer"},
				{"description", "A token from api.tokens. Scopes: read, request, admin (every scope)."},
			}}}},
			{"parameters", Object{
				{"env", pathParam("env", "The environment.")},
				{"team", pathParam("team", "The owning team.")},
				{"name", pathParam("name", "The database's name.")},
				{"id", pathParam("id", "The request's id.")},
				{"limit", Object{
					{"name", "limit"}, {"in", "query"}, {"required", false},
					{"description", fmt.Sprintf("How many items a page holds: %d unless given, at most %d. Anything else is refused (400, errors names limit).", DefaultLimit, MaxLimit)},
					{"schema", &Schema{Type: "integer", Minimum: intp(1), Maximum: intp(MaxLimit), Default: DefaultLimit}},
				}},
				{"cursor", Object{
					{"name", "cursor"}, {"in", "query"}, {"required", false},
					{"description", "Where the page starts: an opaque token, given only by the next link of the page before (the next field, or the Link header with rel=\"next\"). " +
						"Leave it out for the first page. A cursor of another list, or not a cursor at all, is refused (400, errors names cursor)."},
					{"schema", &Schema{Type: "string"}},
				}},
				{"IdempotencyKey", Object{
					{"name", "Idempotency-Key"}, {"in", "header"}, {"required", false},
					{"description", "Makes the call safe to repeat (draft-ietf-httpapi-idempotency-key-header): a second call with the same key (per token), " +
						"the same method and path and the same body (compared as decoded JSON: key order and whitespace do not matter) answers what the first answered, " +
						"with " + ReplayedHeader + ": true, and changes nothing. The same key with another method, path or body is refused with 422 " +
						"idempotency-key-reused, naming the key. A call refused before it is processed (400, 409, 422) does not use up its key."},
					{"schema", &Schema{Type: "string", MinLength: intp(1), MaxLength: intp(255)}},
				}},
			}},
			{"schemas", openAPISchemas(p)},
		}},
	}
}

func pathParam(name, desc string) Object {
	return Object{{"name", name}, {"in", "path"}, {"required", true}, {"description", desc}, {"schema", &Schema{Type: "string"}}}
}

func param(name string) Object { return Object{{"$ref", "#/components/parameters/" + name}} }

// operation describes one route. scope "" means no authentication.
func operation(id, summary, desc, scope string, params []Object, body *Schema, responses Object) Object {
	o := Object{{"operationId", id}, {"summary", summary}}
	if desc != "" {
		o = append(o, Keyword{"description", desc})
	}
	if scope == "" {
		o = append(o, Keyword{"security", []any{}})
	} else {
		o = append(o, Keyword{"security", []Object{{{"bearerAuth", []string{scope}}}}})
	}
	if len(params) > 0 {
		o = append(o, Keyword{"parameters", params})
	}
	if body != nil {
		o = append(o, Keyword{"requestBody", Object{{"required", true}, {"content", Object{{"application/json", Object{{"schema", body}}}}}}})
	}
	if scope != "" {
		responses = append(responses,
			Keyword{"401", problemResponse("No token, or not one of api.tokens.")},
			Keyword{"403", problemResponse(fmt.Sprintf("The token lacks the %s scope.", scope))})
	}
	return append(o, Keyword{"responses", responses})
}

// optionalBody marks an operation's request body as optional.
func optionalBody(op Object) Object {
	for i, kw := range op {
		if kw.Key == "requestBody" {
			if body, ok := kw.Value.(Object); ok {
				out := append(Object{}, body...)
				for j := range out {
					if out[j].Key == "required" {
						out[j].Value = false
					}
				}
				op[i].Value = out
			}
		}
	}
	return op
}

// withDescription sets a schema's description.
func withDescription(desc string, s *Schema) *Schema {
	s.Description = desc
	return s
}

func jsonResponse(desc string, schema *Schema, headers ...Keyword) Object {
	o := Object{{"description", desc}}
	if len(headers) > 0 {
		o = append(o, Keyword{"headers", Object(headers)})
	}
	return append(o, Keyword{"content", Object{{"application/json", Object{{"schema", schema}}}}})
}

func problemResponse(desc string) Object {
	return Object{{"description", desc}, {"content", Object{{"application/problem+json", Object{{"schema", ref("Problem")}}}}}}
}

// paged are the parameters of every list.
var paged = []Object{param("limit"), param("cursor")}

var linkHeader = Keyword{"Link", Object{
	{"description", "The next page, as <url>; rel=\"next\" (RFC 8288): the same URL as next. Absent on the last page."},
	{"schema", &Schema{Type: "string"}},
}}

// pageProblems is the 400 of a list's bad limit or cursor.
var pageProblems = problemResponse("A limit that is not a whole number from 1 to 1000, or a cursor this list did not give (errors names the parameter).")

var locationHeader = Keyword{"Location", Object{{"description", "The request that carries the change."}, {"schema", &Schema{Type: "string"}}}}

var replayedHeader = Keyword{ReplayedHeader, Object{
	{"description", "true when the reply repeats the first answer to this Idempotency-Key (a retry); absent on a first answer."},
	{"schema", &Schema{Type: "string", Enum: []any{"true"}}},
}}

// License is the API's license, an SPDX identifier, as the OpenAPI
// document states it.
const License = "Apache-2.0"

func openAPIPaths() Object {
	db := []Object{param("env"), param("team"), param("name")}
	dbChange := append(append([]Object{}, db...), param("IdempotencyKey"))
	id := []Object{param("id")}
	accepted := jsonResponse("Accepted: the change is a request; follow it at url. A retry with the same Idempotency-Key and the same call answers the same, marked "+ReplayedHeader+".",
		ref("Accepted"), locationHeader, replayedHeader)
	retried := jsonResponse("Accepted: the request goes back to the step that failed; follow it at url.", ref("Accepted"), locationHeader)
	bodyProblems := Object{
		{"400", problemResponse("Malformed: not JSON, an unknown field, a null or a wrong type (errors names the field); or an invalid Idempotency-Key.")},
		{"413", problemResponse("The body is over 64 KiB.")},
		{"415", problemResponse("The body is not application/json.")},
		{"422", problemResponse("Invalid: errors names each field with what is allowed (type validation); " +
			"or the Idempotency-Key was first used with another method, path or body (type idempotency-key-reused, errors names Idempotency-Key).")},
	}
	with := func(parts ...Object) Object { return slices.Concat(parts...) }
	return Object{
		{"/api/v1/openapi.json", Object{{"get", operation("getOpenAPI", "This document", "", "", nil, nil,
			Object{{"200", Object{{"description", "The OpenAPI document."}, {"content", Object{{"application/json", Object{{"schema", &Schema{Type: "object"}}}}}}}}})}}},
		{"/api/v1/databases", Object{
			{"post", operation("createDatabase", "Ask for a database",
				"Validates the request against the platform policy and opens a pull request on the infrastructure repository. "+
					"The Backstage Software Template calls this through the Backstage proxy.",
				config.ScopeRequest, []Object{param("IdempotencyKey")}, ref("CreateDatabase"),
				with(Object{{"202", accepted}}, bodyProblems,
					Object{{"409", problemResponse("The database already exists (or is on its way): change it with PATCH or DELETE.")}}))},
			{"get", operation("listDatabases", "List databases",
				"One entry per database, described by its latest request and what is watched of it (health, drift, latest reconcile), a page at a time in the order of environment, team and name. "+
					"Without state, databases that exist or are on their way "+
					"(not deleted, not cancelled before they existed); with state, those whose latest request is in one of the states. "+
					"The filters apply before paging: a page holds limit databases whenever that many match; follow next until it is absent.",
				config.ScopeRead, append([]Object{
					{{"name", "team"}, {"in", "query"}, {"schema", &Schema{Type: "string"}}},
					{{"name", "environment"}, {"in", "query"}, {"schema", &Schema{Type: "string"}}},
					{{"name", "state"}, {"in", "query"}, {"description", "States, comma-separated or repeated."},
						{"schema", arrayOf(&Schema{Type: "string", Enum: enumOf(request.States())})}, {"style", "form"}, {"explode", false}},
					{{"name", "drifted"}, {"in", "query"}, {"description", "true: only the running databases that drifted from their reviewed code (they have a drift)."},
						{"schema", &Schema{Type: "string", Enum: []any{"true"}}}},
					{{"name", "health"}, {"in", "query"}, {"description", "unhealthy: only the running databases whose cluster was last seen unhealthy or gone."},
						{"schema", &Schema{Type: "string", Enum: []any{"unhealthy"}}}},
				}, paged...), nil,
				Object{{"200", jsonResponse("A page of the databases.", ref("DatabaseList"), linkHeader)},
					{"400", problemResponse("An unknown query parameter, environment, state, drifted or health; a limit that is not a whole number from 1 to 1000, or a cursor this list did not give (errors names it).")}})},
		}},
		{"/api/v1/databases/{env}/{team}/{name}", Object{
			{"get", operation("getDatabase", "Get a database",
				"Its latest request's state, spec, pull request, plan and failure; its in-cluster hosts, Grafana dashboard and catalog entity; "+
					"while it runs, the health of its cluster and its drift from the reviewed code; its latest reconcile. Never credentials: they reach the requester privately.",
				config.ScopeRead, db, nil,
				Object{{"200", jsonResponse("The database.", ref("Database"))}, {"404", problemResponse("No such database.")}})},
			{"patch", operation("updateDatabase", "Resize a database or change its backups",
				"A change of size, instances or storage is a resize; backups alone a backup change. Opens a pull request.",
				config.ScopeRequest, dbChange, ref("UpdateDatabase"),
				with(Object{{"202", accepted}}, bodyProblems, Object{
					{"404", problemResponse("No such database.")},
					{"409", problemResponse("The database is not ready: another change is in flight, or it failed.")}}))},
			{"delete", operation("deleteDatabase", "Delete a database",
				"Opens a pull request that removes the database's workspace; merging it destroys the database.",
				config.ScopeRequest, dbChange, nil,
				Object{{"202", accepted}, {"400", problemResponse("The Idempotency-Key header is invalid.")},
					{"404", problemResponse("No such database.")},
					{"409", problemResponse("The database is not ready.")},
					{"422", problemResponse("The Idempotency-Key was first used with another method, path or body (type idempotency-key-reused, errors names Idempotency-Key).")}})},
		}},
		{"/api/v1/databases/{env}/{team}/{name}/reconcile", Object{
			{"post", optionalBody(operation("reconcileDatabase", "Reconcile a database with its reviewed code",
				"Applies a ready database's reviewed code on the base branch again, to undo a drift, in two steps. "+
					"Without confirm (an empty body, or {}) it starts a reconcile: its plan is made and shown in the database's Slack thread and on the database (reconcile, state planned, with the plan's summary and resources); nothing is applied. "+
					"Asking again while a reconcile is open answers that one. "+
					"With confirm, the id of the planned reconcile, it applies that plan, only if planning again gives exactly the plan shown; confirming twice is harmless. "+
					"Follow it on the database (GET its Location). It takes no Idempotency-Key: repeating either call changes nothing more.",
				config.ScopeRequest, db, ref("ReconcileDatabase"),
				Object{
					{"202", jsonResponse("Accepted: the reconcile, as the database shows it.", ref("Reconcile"),
						Keyword{"Location", Object{{"description", "The database: GET it to follow the reconcile."}, {"schema", &Schema{Type: "string"}}}})},
					{"400", problemResponse("Malformed: not JSON, an unknown field, a null or a wrong type (errors names the field).")},
					{"404", problemResponse("No such database.")},
					{"409", problemResponse("The database changed while this was asked; try again.")},
					{"413", problemResponse("The body is over 64 KiB.")},
					{"415", problemResponse("The body is not application/json.")},
					{"422", problemResponse("Refused (type validation): the database is not ready or has a change in flight (errors names name), " +
						"or no reconcile of that id awaits confirmation (errors names confirm).")},
				}))},
		}},
		{"/api/v1/databases/{env}/{team}/{name}/backups", Object{
			{"get", operation("listBackups", "List a database's backups",
				"A ready database's base backups, newest first, and its recovery window (what a restore can recover to), read from its cluster.",
				config.ScopeRead, db, nil,
				Object{{"200", jsonResponse("The backups.", ref("BackupSet"))},
					{"404", problemResponse("No such database.")},
					{"422", problemResponse("The database is not ready yet (type validation, errors names name).")}})},
			{"post", optionalBody(operation("takeBackup", "Take a backup now",
				"Starts an on-demand base backup of a ready database with backups (a CloudNativePG Backup); its progress and result are told in the database's thread. "+
					"An action, not a change: no pull request. With an Idempotency-Key, a retry with the same key and call answers the first reply (the same backup) and starts nothing more. "+
					"An empty body, or {}, is enough.",
				config.ScopeRequest, dbChange, ref("TakeBackup"),
				Object{
					{"202", jsonResponse("Accepted: the backup, as the cluster shows it when created. A retry with the same Idempotency-Key and the same call answers the same, marked "+ReplayedHeader+".",
						ref("Backup"), Keyword{"Location", Object{{"description", "The database's backups: GET it to follow the backup."}, {"schema", &Schema{Type: "string"}}}}, replayedHeader)},
					{"400", problemResponse("Malformed: not JSON, an unknown field, a null or a wrong type (errors names the field); or an invalid Idempotency-Key.")},
					{"404", problemResponse("No such database.")},
					{"409", problemResponse("The database changed while this was asked; try again.")},
					{"413", problemResponse("The body is over 64 KiB.")},
					{"415", problemResponse("The body is not application/json.")},
					{"422", problemResponse("Refused (type validation): the database is not ready or has no backups configured (errors names name); " +
						"or the Idempotency-Key was first used with another method, path or body (type idempotency-key-reused, errors names Idempotency-Key).")},
				}))},
		}},
		{"/api/v1/databases/{env}/{team}/{name}/restore", Object{
			{"post", operation("restoreDatabase", "Restore a database into a new one",
				"Asks for a NEW database, named name, made from the backups of the database of the path (the source, left as it is), "+
					"in the same environment and team: the source's size, instances, storage, PostgreSQL version, backups, logical backup and extra databases, "+
					"recovered to targetTime (RFC 3339), or to the latest archived point without it. It is a request to create a database, "+
					"with its own pull request, as POST /api/v1/databases makes (its spec's restore names the source and the target time). "+
					"The errors of a refusal name the fields as the new request's spec names them: name, restore.source (the database of the path), restore.targetTime.",
				config.ScopeRequest, dbChange, ref("RestoreDatabase"),
				with(Object{{"202", accepted}}, bodyProblems, Object{
					{"404", problemResponse("No such source database (errors names restore.source).")},
					{"409", problemResponse("A database of the new name already exists (or is on its way).")},
				}))},
		}},
		{"/api/v1/requests/{id}", Object{{"get", operation("getRequest", "Get a request", "", config.ScopeRead, id, nil,
			Object{{"200", jsonResponse("The request.", ref("Request"))}, {"404", problemResponse("No such request.")}})}}},
		{"/api/v1/requests/{id}/events", Object{{"get", operation("getRequestEvents", "Get a request's audit trail",
			"Every transition: who, when, through which origin, oldest first, a page at a time.", config.ScopeRead, append(append([]Object{}, id...), paged...), nil,
			Object{{"200", jsonResponse("A page of the events.", ref("EventList"), linkHeader)}, {"400", pageProblems}, {"404", problemResponse("No such request.")}})}}},
		{"/api/v1/requests/{id}/retry", Object{{"post", operation("retryRequest", "Retry a failed request",
			"Sends the request back to the step that failed.", config.ScopeRequest, id, nil,
			Object{{"202", retried}, {"404", problemResponse("No such request.")},
				{"409", problemResponse("The request is not failed, or failed in a way retrying cannot fix.")}})}}},
		{"/api/v1/catalog/entities", Object{{"get", operation("listEntities", "Backstage entities",
			"Every live database as a Backstage Resource entity (the workspace's catalog-info.yaml), for an entity provider, "+
				"a page at a time in the order of the databases' environment, team and name: read pages, following next, until it is absent.",
			config.ScopeRead, paged, nil, Object{{"200", jsonResponse("A page of the entities.", ref("EntityList"), linkHeader)}, {"400", pageProblems}})}}},
	}
}

func openAPISchemas(p *request.Policy) Object {
	dt := func(desc string) *Schema { return &Schema{Type: "string", Description: desc, Extensions: dateTime} }
	state := &Schema{Type: "string", Enum: enumOf(request.States())}
	kind := &Schema{Type: "string", Enum: enumOf(request.Kinds())}
	pr := obj([]string{"number", "url"}, Property{"number", &Schema{Type: "integer"}}, Property{"url", str("")})
	failure := obj([]string{"step", "reason", "retryable"},
		Property{"step", str("The state a retry goes back to.")}, Property{"reason", str("")}, Property{"retryable", &Schema{Type: "boolean"}})
	problemTypeNames := make([]string, len(problemTypes))
	for i, t := range problemTypes {
		problemTypeNames[i] = fmt.Sprintf("%s (%d)", ProblemType(t.slug), t.status)
	}
	return Object{
		{"CreateDatabase", CreateSchema(p)},
		{"UpdateDatabase", UpdateSchema(p)},
		{"Accepted", obj([]string{"id", "kind", "state", "url", "database", "entityRef"},
			Property{"id", str("The request's id.")},
			Property{"kind", kind},
			Property{"state", state},
			Property{"url", str("The request: GET it to follow the change.")},
			Property{"database", str("The database.")},
			Property{"entityRef", str("The database's Backstage entity, once it is ready.")},
			Property{"pullRequest", str("The pull request, or until it is open a search that finds it.")})},
		{"Spec", obj([]string{"name", "team", "environment", "backups"},
			Property{"name", str("")}, Property{"team", str("")}, Property{"environment", str("")},
			Property{"size", &Schema{Type: "string", Enum: enumOf(request.Sizes())}},
			Property{"instances", &Schema{Type: "integer"}},
			Property{"postgresVersion", &Schema{Type: "integer"}},
			Property{"storage", str("")},
			Property{"backups", obj(nil,
				Property{"schedule", &Schema{Type: "string", Enum: enumOf(request.Schedules())}},
				Property{"hour", &Schema{Type: "integer"}},
				Property{"retention", str("")})},
			Property{"logicalBackup", &Schema{Type: "boolean"}},
			Property{"databases", arrayOf(str(""))},
			Property{"restore", withDescription("Set when the database is restored from another one of its environment and team.",
				obj([]string{"source"},
					Property{"source", str("The database restored from.")},
					Property{"targetTime", dt("The point in time recovered to, in UTC; absent for the latest.")}))})},
		{"Failure", failure},
		{"Database", obj([]string{"environment", "team", "name", "url", "state", "kind", "live", "request", "requestUrl", "spec", "namespace", "hosts", "entityRef", "updatedAt"},
			Property{"environment", str("")}, Property{"team", str("")}, Property{"name", str("")},
			Property{"url", str("")},
			Property{"state", &Schema{Type: "string", Enum: enumOf(request.States()), Description: "The latest request's state."}},
			Property{"kind", &Schema{Type: "string", Enum: enumOf(request.Kinds()), Description: "The latest request's kind."}},
			Property{"live", &Schema{Type: "boolean", Description: "The database exists: a change of it reached ready since it was last deleted."}},
			Property{"request", str("The latest request's id.")},
			Property{"requestUrl", str("")},
			Property{"spec", ref("Spec")},
			Property{"pullRequest", pr},
			Property{"planSummary", str("The last plan, like \"3 to add, 0 to change, 0 to destroy\".")},
			Property{"failure", ref("Failure")},
			Property{"namespace", str("")},
			Property{"hosts", obj([]string{"readWrite", "readOnly", "read", "port"},
				Property{"readWrite", str("The primary (the <name>-rw service).")},
				Property{"readOnly", str("The replicas (<name>-ro).")},
				Property{"read", str("Any instance (<name>-r).")},
				Property{"port", &Schema{Type: "integer"}})},
			Property{"grafana", str("The CloudNativePG dashboard, when Grafana is configured.")},
			Property{"entityRef", str("")},
			Property{"updatedAt", dt("")},
			Property{"health", ref("Health")},
			Property{"drift", ref("Drift")},
			Property{"reconcile", ref("Reconcile")})},
		{"Health", withDescription("The health of the database's CloudNativePG Cluster, as last seen; absent until it is first seen, and while the database does not run.",
			obj([]string{"state", "ready", "instances", "readyInstances"},
				Property{"state", &Schema{Type: "string", Enum: []any{"healthy", "unhealthy", "gone"},
					Description: "healthy: the cluster exists, is in the healthy phase with its Ready condition true and every instance ready; gone: the Cluster object does not exist."}},
				Property{"phase", str("status.phase, like \"Cluster in healthy state\".")},
				Property{"reason", str("status.phaseReason.")},
				Property{"ready", &Schema{Type: "boolean", Description: "The Ready condition is true."}},
				Property{"readyReason", str("Why the Ready condition is not true: its reason and message.")},
				Property{"instances", &Schema{Type: "integer", Description: "The instances asked for."}},
				Property{"readyInstances", &Schema{Type: "integer", Description: "The instances ready."}},
				Property{"primary", str("The instance serving writes (status.currentPrimary).")},
				Property{"since", dt("When the cluster entered this state (healthy, unhealthy or gone).")}))},
		{"Drift", withDescription("A difference between the database's live objects and its reviewed code on the base branch: a plan that is not empty. Absent when there is none.",
			obj([]string{"detected", "checked", "commit", "summary", "resources"},
				Property{"detected", dt("When this drift was first seen.")},
				Property{"checked", dt("When it was last confirmed.")},
				Property{"commit", str("The base branch commit planned.")},
				Property{"summary", str("The plan's summary, like \"0 to add, 1 to change, 0 to destroy\".")},
				Property{"resources", arrayOf(str("A resource change, like \"update module.database.kubectl_manifest.cluster\"."))}))},
		{"Reconcile", withDescription("A reconcile: applying the database's reviewed code again, planned first, applied once confirmed (POST .../reconcile).",
			obj([]string{"id", "state", "requester", "requested", "updated"},
				Property{"id", str("Confirm the reconcile by naming it: POST .../reconcile with {\"confirm\": id}.")},
				Property{"state", &Schema{Type: "string", Enum: []any{request.ReconcilePlanning, request.ReconcilePlanned, request.ReconcileApplying, request.ReconcileDone, request.ReconcileFailed},
					Description: "planning, then planned (the plan awaits confirmation), applying once confirmed, then done or failed."}},
				Property{"requester", ref("Requester")},
				Property{"confirmer", ref("Requester")},
				Property{"commit", str("The base branch commit planned (and applied); once planned.")},
				Property{"summary", str("The plan's summary; once planned.")},
				Property{"resources", arrayOf(str("A resource change the plan makes."))},
				Property{"error", str("Why it failed.")},
				Property{"requested", dt("")},
				Property{"updated", dt("")}))},
		{"Requester", obj([]string{"id"}, Property{"id", str("A Backstage user ref, a Slack user or an API token's name.")}, Property{"name", str("")})},
		{"ReconcileDatabase", &Schema{Type: "object", Closed: true,
			Description: "Empty, or {}, starts a reconcile; confirm applies the planned one it names.",
			Properties: []Property{
				{"confirm", &Schema{Type: "string", MinLength: intp(1), Description: "The id of the planned reconcile to apply (the id of the reply that started it, or of the database's reconcile)."}},
				{"requester", requesterSchema()},
			}}},
		{"TakeBackup", &Schema{Type: "object", Closed: true,
			Description: "Empty, or {}, is enough.",
			Properties:  []Property{{"requester", requesterSchema()}}}},
		{"RestoreDatabase", RestoreSchema(p)},
		{"Backup", withDescription("A base backup (a CloudNativePG Backup).", obj([]string{"name", "phase", "onDemand"},
			Property{"name", str("The Backup object's name.")},
			Property{"phase", str("CloudNativePG's phase: started, running, completed, failed...")},
			Property{"started", dt("When it started; absent until then.")},
			Property{"stopped", dt("When it ended; absent until then.")},
			Property{"id", str("Barman's backup id.")},
			Property{"error", str("Why it failed.")},
			Property{"onDemand", &Schema{Type: "boolean", Description: "A person asked for it (POST .../backups), rather than the schedule."}}))},
		{"RecoveryWindow", withDescription("What the database can be restored to: any point from first to last.", obj([]string{"archiving"},
			Property{"first", dt("The earliest point a restore can recover to; absent until a base backup completed.")},
			Property{"last", dt("The latest: now while WAL archiving works, else the last point known to be archived.")},
			Property{"archiving", &Schema{Type: "boolean", Description: "WAL archiving works."}},
			Property{"archivingReason", str("Why WAL archiving does not work.")},
			Property{"lastBackup", dt("When the last base backup succeeded.")},
			Property{"lastFailedBackup", dt("When a base backup last failed.")}))},
		{"BackupSet", obj([]string{"database", "base", "window"},
			Property{"database", str("The database.")},
			Property{"base", arrayOf(ref("Backup"))},
			Property{"window", ref("RecoveryWindow")})},
		{"DatabaseList", obj([]string{"items"}, Property{"items", arrayOf(ref("Database"))}, Property{"next", str("The next page: GET this URL (it carries the cursor, the limit and the filters). Absent on the last page.")})},
		{"Request", obj([]string{"id", "kind", "state", "spec", "requester", "origin", "database", "events", "createdAt", "updatedAt"},
			Property{"id", str("")}, Property{"kind", kind}, Property{"state", state},
			Property{"clientType", &Schema{Type: "string", Enum: enumOf(request.ClientTypes())}},
			Property{"load", &Schema{Type: "string", Enum: enumOf(request.Loads())}},
			Property{"spec", ref("Spec")},
			Property{"requester", obj([]string{"id"}, Property{"id", str("")}, Property{"name", str("")})},
			Property{"origin", obj([]string{"kind"},
				Property{"kind", &Schema{Type: "string", Enum: []any{request.OriginSlack, request.OriginAPI, request.OriginCLI, request.OriginGitHub}}},
				Property{"slackTeam", str("")}, Property{"slackChannel", str("")}, Property{"slackThread", str("")},
				Property{"apiClient", str("The API token's name.")})},
			Property{"failure", ref("Failure")},
			Property{"pullRequest", pr},
			Property{"planSummary", str("")},
			Property{"database", str("")},
			Property{"events", str("")},
			Property{"createdAt", dt("")}, Property{"updatedAt", dt("")})},
		{"Event", obj([]string{"requestId", "at", "from", "to", "actor", "origin"},
			Property{"requestId", str("")}, Property{"at", dt("")},
			Property{"from", str("The state before; empty for the first event.")}, Property{"to", state},
			Property{"actor", str("A Slack user, a GitHub login, an API token's name, or clustro.")},
			Property{"origin", str("slack, github, api, cli or engine.")},
			Property{"ref", str("The cause: a GitHub delivery, an Idempotency-Key, a job.")},
			Property{"detail", str("")})},
		{"EventList", obj([]string{"items"}, Property{"items", arrayOf(ref("Event"))}, Property{"next", str("The next page: GET this URL (it carries the cursor, the limit and the filters). Absent on the last page.")})},
		{"Entity", entitySchema()},
		{"EntityList", obj([]string{"items"}, Property{"items", arrayOf(ref("Entity"))}, Property{"next", str("The next page: GET this URL (it carries the cursor, the limit and the filters). Absent on the last page.")})},
		{"Problem", &Schema{Type: "object", Required: []string{"type", "title", "status"},
			Description: "An RFC 9457 problem detail. Types: " + strings.Join(problemTypeNames, ", ") + ".",
			Properties: []Property{
				{"type", str("")}, {"title", str("")}, {"status", &Schema{Type: "integer"}},
				{"detail", str("")}, {"instance", str("")},
				{"errors", arrayOf(obj([]string{"field", "message"},
					Property{"field", str("The field as the request's JSON names it, like backups.hour.")},
					Property{"message", str("What is wrong and what is allowed.")}))},
			}}},
	}
}

// entitySchema is what Backstage's catalog requires of a Resource entity.
func entitySchema() *Schema {
	return obj([]string{"apiVersion", "kind", "metadata", "spec"},
		Property{"apiVersion", &Schema{Type: "string", Const: "backstage.io/v1alpha1"}},
		Property{"kind", &Schema{Type: "string", Const: "Resource"}},
		Property{"metadata", obj([]string{"name"},
			Property{"name", &Schema{Type: "string", Pattern: `^[a-zA-Z0-9]+([-_.][a-zA-Z0-9]+)*$`, MinLength: intp(1), MaxLength: intp(63)}},
			Property{"title", str("")}, Property{"description", str("")},
			Property{"annotations", &Schema{Type: "object", AdditionalProperties: &Schema{Type: "string"}}},
			Property{"tags", arrayOf(str(""))},
			Property{"links", arrayOf(obj([]string{"url"}, Property{"url", str("")}, Property{"title", str("")}, Property{"icon", str("")}))})},
		Property{"spec", obj([]string{"type", "owner"},
			Property{"type", &Schema{Type: "string", Const: "database"}},
			Property{"owner", &Schema{Type: "string", MinLength: intp(1)}},
			Property{"system", str("")})})
}
