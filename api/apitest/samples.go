package apitest

import "strings"

// Sample is a body for POST /api/v1/databases and what should become of
// it under the embedded default policy (config/default.yaml).
type Sample struct {
	Name string
	Body map[string]any
	// Valid: the API accepts it (202) and so does the schema.
	Valid bool
	// ServerOnly: the schema accepts it but the API refuses it, for a rule
	// only the server checks (see api.CreateSchema).
	ServerOnly bool
	// Field, for a sample the API refuses, is a field its problem names;
	// "" leaves it unchecked.
	Field string
}

// Samples are the bodies the schema and the API must agree on: the API
// tests run them against api.CreateSchema, the Backstage template's test
// against the template's form (team as the owner picker's group ref).
// Each valid sample names its own database, so that they can all be sent
// to one store.
func Samples() []Sample {
	db := func(name, env string, more map[string]any) map[string]any {
		b := map[string]any{"name": name, "team": "billing", "environment": env}
		for k, v := range more {
			b[k] = v
		}
		return b
	}
	var tooMany []any
	for i := range 11 {
		tooMany = append(tooMany, "db"+strings.Repeat("x", i))
	}
	return []Sample{
		{Name: "minimal", Body: db("ledger", "dev", nil), Valid: true},
		{Name: "everything", Valid: true, Body: db("payments", "prod", map[string]any{
			"clientType": "enterprise", "load": "big", "size": "L", "instances": 3, "postgresVersion": 17, "storage": "100Gi",
			"backups":       map[string]any{"schedule": "daily", "hour": 2, "retention": "30d"},
			"logicalBackup": true, "databases": []any{"reports", "audit_log"}})},
		{Name: "load picks an allowed size", Body: db("events", "staging", map[string]any{"load": "very-big"}), Valid: true},
		{Name: "size wins over the load", Body: db("invoices", "dev", map[string]any{"load": "very-big", "size": "M"}), Valid: true},
		{Name: "no backups in dev", Body: db("scratch", "dev", map[string]any{"backups": map[string]any{"schedule": "none"}}), Valid: true},
		{Name: "backups at midnight", Body: db("midnight", "staging", map[string]any{"backups": map[string]any{"schedule": "weekly", "hour": 0}}), Valid: true},
		{Name: "backups at 23h", Body: db("late", "prod", map[string]any{"backups": map[string]any{"schedule": "hourly", "hour": 23, "retention": "4w"}}), Valid: true},
		{Name: "one instance in staging", Body: db("solo", "staging", map[string]any{"instances": 1, "size": "XL"}), Valid: true},
		{Name: "extra databases", Body: db("multi", "dev", map[string]any{"databases": []any{"a", "b_2"}}), Valid: true},

		{Name: "size XXL", Body: db("x1", "dev", map[string]any{"size": "XXL"})},
		{Name: "size XL not allowed in dev", Body: db("x2", "dev", map[string]any{"size": "XL"})},
		{Name: "load very-big picks XL in dev", Body: db("x3", "dev", map[string]any{"load": "very-big"})},
		{Name: "unknown environment", Body: db("x4", "qa", nil)},
		{Name: "no environment", Body: map[string]any{"name": "x5", "team": "billing"}},
		{Name: "no name", Body: map[string]any{"team": "billing", "environment": "dev"}},
		{Name: "no team", Body: map[string]any{"name": "x6", "environment": "dev"}},
		{Name: "uppercase name", Body: db("Ledger", "dev", nil)},
		{Name: "name starting with a digit", Body: db("1ledger", "dev", nil)},
		{Name: "name too long", Body: db("a"+strings.Repeat("b", 49), "dev", nil)},
		{Name: "team with an underscore", Body: map[string]any{"name": "x7", "team": "bill_ing", "environment": "dev"}},
		{Name: "hour 24", Body: db("x8", "prod", map[string]any{"backups": map[string]any{"schedule": "daily", "hour": 24}})},
		{Name: "hour -1", Body: db("x9", "prod", map[string]any{"backups": map[string]any{"schedule": "daily", "hour": -1}})},
		{Name: "retention in years", Body: db("x10", "prod", map[string]any{"backups": map[string]any{"schedule": "daily", "retention": "2y"}})},
		{Name: "no backups in prod", Body: db("x11", "prod", map[string]any{"backups": map[string]any{"schedule": "none"}})},
		{Name: "no backups but an hour", Body: db("x12", "dev", map[string]any{"backups": map[string]any{"schedule": "none", "hour": 3}})},
		{Name: "unknown schedule", Body: db("x13", "dev", map[string]any{"backups": map[string]any{"schedule": "monthly"}})},
		{Name: "instances 0", Body: db("x14", "dev", map[string]any{"instances": 0})},
		{Name: "one instance in prod", Body: db("x15", "prod", map[string]any{"instances": 1})},
		{Name: "four instances in dev", Body: db("x16", "dev", map[string]any{"instances": 4})},
		{Name: "ten instances", Body: db("x17", "prod", map[string]any{"instances": 10})},
		{Name: "PostgreSQL 14", Body: db("x18", "dev", map[string]any{"postgresVersion": 14})},
		{Name: "storage in GB", Body: db("x19", "dev", map[string]any{"storage": "100GB"})},
		{Name: "reserved database", Body: db("x20", "dev", map[string]any{"databases": []any{"postgres"}})},
		{Name: "uppercase database", Body: db("x21", "dev", map[string]any{"databases": []any{"Reports"}})},
		{Name: "database named like another cluster's", Body: db("x21b", "dev", map[string]any{"databases": []any{"b_db_c"}})},
		{Name: "database listed twice", Body: db("x22", "dev", map[string]any{"databases": []any{"a", "a"}})},
		{Name: "eleven databases", Body: db("x23", "dev", map[string]any{"databases": tooMany})},
		{Name: "unknown client type", Body: db("x24", "dev", map[string]any{"clientType": "corporation"})},
		{Name: "unknown load", Body: db("x25", "dev", map[string]any{"load": "huge"})},
		{Name: "extra unknown field", Body: db("x26", "dev", map[string]any{"region": "eu"})},
		{Name: "unknown field in backups", Body: db("x27", "dev", map[string]any{"backups": map[string]any{"frequency": "daily"}})},
		{Name: "null size", Body: db("x28", "dev", map[string]any{"size": nil})},
		{Name: "instances as a string", Body: db("x29", "dev", map[string]any{"instances": "3"})},
		{Name: "empty size", Body: db("x30", "dev", map[string]any{"size": ""})},
		{Name: "logical backup as a string", Body: db("x31", "dev", map[string]any{"logicalBackup": "yes"})},

		{Name: "storage below 1Gi", Body: db("s1", "dev", map[string]any{"storage": "512Mi"}), Field: "storage"},
		{Name: "storage above the maximum", Body: db("s2", "dev", map[string]any{"storage": "3Ti"}), Field: "storage"},
		{Name: "name.team.env longer than 63", Field: "name", Body: map[string]any{
			"name": strings.Repeat("n", 30), "team": strings.Repeat("t", 30), "environment": "staging"}},
		{Name: "an hour where the default is no backups", Body: db("s3", "dev", map[string]any{"backups": map[string]any{"hour": 3}}), Field: "backups.schedule"},

		// The owner, as Backstage's owner picker gives it: the team's group
		// in namespace default, never one of another namespace.
		{Name: "owner as a group ref", Body: db("o1", "dev", map[string]any{"owner": "group:billing"}), Valid: true},
		{Name: "owner with its namespace", Body: db("o2", "dev", map[string]any{"owner": "group:default/billing"}), Valid: true},
		{Name: "owner without its kind", Body: db("o3", "dev", map[string]any{"owner": "default/billing"}), Valid: true},
		{Name: "owner as a name", Body: db("o4", "dev", map[string]any{"owner": "billing"}), Valid: true},
		{Name: "owner of another namespace", Body: db("o5", "dev", map[string]any{"owner": "group:ops/billing"}), Field: "owner"},
		{Name: "owner of another namespace without its kind", Body: db("o6", "dev", map[string]any{"owner": "ops/billing"}), Field: "owner"},
		{Name: "owner that is a user", Body: db("o7", "dev", map[string]any{"owner": "user:default/billing"}), Field: "owner"},
		{Name: "owner with a capital kind", Body: db("o8", "dev", map[string]any{"owner": "Group:default/billing"}), Field: "owner"},
		{Name: "owner with an empty name", Body: db("o9", "dev", map[string]any{"owner": "group:default/"}), Field: "owner"},
		{Name: "owner of another team", Body: db("o10", "dev", map[string]any{"owner": "group:default/payments"}), ServerOnly: true, Field: "owner"},
	}
}
