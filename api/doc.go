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
// from the request model and the platform policy. The OpenAPI document
// (GET /api/v1/openapi.json) and the Backstage Software Template
// (catalog/backstage) are built from it, so the three cannot drift apart.
package api
