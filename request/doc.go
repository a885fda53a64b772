// Package request owns ClustroPG's domain: what a database request is
// (DatabaseRequest and the Spec it resolves to), the platform policy that
// sizes and constrains it (sizing presets, client profiles, environments,
// PostgreSQL versions), its validation, the Kubernetes names it derives, and
// the lifecycle a request moves through.
//
// Adapters (Slack, the REST API, GitHub, Terraform, Kubernetes) translate
// to and from these types and never decide policy themselves: a request is
// accepted or refused here, with a Problem per field that names what is
// wrong and what is allowed.
package request
