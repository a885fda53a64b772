// Package api is ClustroPG's REST API for Backstage and other internal
// developer portals, mounted at /api/v1/. routes.go lists the whole surface.
//
// Clients authenticate with a bearer token from the configuration
// (api.tokens or CLUSTRO_API_TOKENS); each token has a name, recorded as
// the audit actor and the request's origin, and scopes: read, request and
// admin (every scope). Databases are asked for, resized, have their
// backups changed and are deleted through the pipeline (each change is a
// request with its own pull request); reads come from the store.
//
// Errors are RFC 9457 problem details (application/problem+json) whose
// errors member names each invalid field as the request's JSON names it
// ("backups.hour"), straight from the domain's request.Problems.
//
// The body of POST /api/v1/databases is described by CreateSchema, generated
// from the request model and the platform policy, rules across fields
// included (what each environment allows, the storage bounds, the names a
// database derives within Kubernetes' and Backstage's limits). The OpenAPI
// document (GET /api/v1/openapi.json) and the Backstage Software Template
// (api/backstage) are built from it, so the three cannot drift apart;
// the agreement tests check the schema and the API on samples generated
// from the policy (apitest.Boundary).
//
// A body may carry the owner as a Backstage group entity ref (the owner
// picker's); it must be the team's group in OwnerNamespace, since the
// catalog entity is owned by group:<team>: a group of another namespace is
// refused, never read as the same name in OwnerNamespace.
//
// Every list (databases, a request's events, catalog entities) answers a
// page (pages.go): ?limit= items, 100 unless given and at most 1,000, in a
// stable order (databases and entities by environment, team and name;
// events oldest first), with filters applied by the store before paging.
// A page that is not the last names the next one in its next field and a
// Link header (rel="next"): the same URL with an opaque ?cursor=. A bad
// limit or cursor answers 400 naming the parameter.
//
// Day two (watch.go): a database's view carries what ClustroPG watches of
// it, from its watch record: the health of its cluster and its drift from
// the reviewed code while it runs, and its latest reconcile. The list
// filters on them (?drifted=true, ?health=unhealthy: the watch records
// drive the page). POST .../reconcile asks the pipeline to apply the
// reviewed code again: without confirm it starts a reconcile, whose plan
// is shown; with confirm, the planned reconcile's id, it applies it. The
// pipeline decides; its refusals answer 422 naming the field.
//
// Backups (backups.go): GET .../backups lists a ready database's base
// backups, newest first, and its recovery window, read from its cluster
// through the pipeline; POST .../backups takes an on-demand base backup
// (an action on the cluster, no pull request). POST .../restore asks for
// a NEW database restored from the database of the path, its source: the
// source's live spec with the new name and spec.restore (source, target
// time), a create request with its own pull request as POST
// /api/v1/databases makes. An unknown source answers 404 (errors naming
// restore.source); the pipeline's and the policy's refusals 422, naming
// name, restore.source or restore.targetTime as the new request's spec
// names them. The source is never overwritten.
//
// POST /api/v1/databases, PATCH, DELETE, POST .../backups and POST
// .../restore take an Idempotency-Key (see idempotency.go): the
// same key with the same call replays the first answer, marked
// Idempotent-Replayed; with another method, path or body it is refused
// with 422.
package api
