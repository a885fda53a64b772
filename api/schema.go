package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/clustropg/clustro/request"
)

// Schema is the part of JSON Schema the API's documents use. It reads the
// same as draft-07 (Backstage's forms) and draft 2020-12 (OpenAPI 3.1), and
// encodes its keywords, and its properties, in a fixed order, so that the
// generated documents are stable and a form shows the fields in order.
type Schema struct {
	Ref         string
	Type        string
	Title       string
	Description string
	Const       any
	Enum        []any
	Default     any
	Pattern     string
	MinLength   *int
	MaxLength   *int
	Minimum     *int
	Maximum     *int
	Items       *Schema
	MinItems    *int
	MaxItems    *int
	UniqueItems bool
	Properties  []Property
	Required    []string
	// AdditionalProperties constrains the properties not listed (a map's
	// values); nil allows any.
	AdditionalProperties *Schema
	// Closed refuses properties not listed (additionalProperties: false).
	Closed bool
	OneOf  []*Schema
	AnyOf  []*Schema
	AllOf  []*Schema
	Not    *Schema
	If     *Schema
	Then   *Schema
	// Extensions are more keywords, written last in their order (a
	// Backstage form's ui:field and ui:options); validators ignore them.
	Extensions []Keyword
}

// Property is a named property of an object schema.
type Property struct {
	Name   string
	Schema *Schema
}

// Keyword is an extra keyword of a schema, or a key of an ordered object.
type Keyword struct {
	Key   string
	Value any
}

// Object is a JSON object whose keys keep their order.
type Object []Keyword

// MarshalJSON writes the object with its keys in order.
func (o Object) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, kv := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := json.Marshal(kv.Key)
		if err != nil {
			return nil, err
		}
		v, err := json.Marshal(kv.Value)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", kv.Key, err)
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// Property returns the schema of the property name, or nil.
func (s *Schema) Property(name string) *Schema {
	for _, p := range s.Properties {
		if p.Name == name {
			return p.Schema
		}
	}
	return nil
}

// RemoveProperty removes the property name and its mention in Required.
func (s *Schema) RemoveProperty(name string) {
	s.Properties = slices.DeleteFunc(s.Properties, func(p Property) bool { return p.Name == name })
	s.Required = slices.DeleteFunc(s.Required, func(r string) bool { return r == name })
}

// MarshalJSON writes the schema's keywords in a fixed order.
func (s *Schema) MarshalJSON() ([]byte, error) {
	var o Object
	add := func(k string, v any) { o = append(o, Keyword{k, v}) }
	if s.Ref != "" {
		add("$ref", s.Ref)
	}
	if s.Type != "" {
		add("type", s.Type)
	}
	if s.Const != nil {
		add("const", s.Const)
	}
	if s.Title != "" {
		add("title", s.Title)
	}
	if s.Description != "" {
		add("description", s.Description)
	}
	if s.Enum != nil {
		add("enum", s.Enum)
	}
	if s.Default != nil {
		add("default", s.Default)
	}
	if s.Pattern != "" {
		add("pattern", s.Pattern)
	}
	for _, n := range []struct {
		k string
		v *int
	}{{"minLength", s.MinLength}, {"maxLength", s.MaxLength}, {"minimum", s.Minimum}, {"maximum", s.Maximum}} {
		if n.v != nil {
			add(n.k, *n.v)
		}
	}
	if s.Items != nil {
		add("items", s.Items)
	}
	if s.MinItems != nil {
		add("minItems", *s.MinItems)
	}
	if s.MaxItems != nil {
		add("maxItems", *s.MaxItems)
	}
	if s.UniqueItems {
		add("uniqueItems", true)
	}
	if s.Properties != nil {
		props := make(Object, len(s.Properties))
		for i, p := range s.Properties {
			props[i] = Keyword{p.Name, p.Schema}
		}
		add("properties", props)
	}
	if len(s.Required) > 0 {
		add("required", s.Required)
	}
	switch {
	case s.Closed:
		add("additionalProperties", false)
	case s.AdditionalProperties != nil:
		add("additionalProperties", s.AdditionalProperties)
	}
	for _, l := range []struct {
		k string
		v []*Schema
	}{{"oneOf", s.OneOf}, {"anyOf", s.AnyOf}, {"allOf", s.AllOf}} {
		if len(l.v) > 0 {
			add(l.k, l.v)
		}
	}
	if s.Not != nil {
		add("not", s.Not)
	}
	if s.If != nil {
		add("if", s.If)
	}
	if s.Then != nil {
		add("then", s.Then)
	}
	o = append(o, s.Extensions...)
	return o.MarshalJSON()
}

func intp(n int) *int { return &n }

// Patterns and limits the domain checks (request's validation), written as
// JSON Schema patterns. The agreement tests (here and in api/backstage)
// keep them equal to the domain's.
const (
	namePattern      = `^[a-z]([-a-z0-9]*[a-z0-9])?$`
	teamPattern      = `^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	minStorageMi     = 1024 // 1Gi
	retentionPattern = `^[1-9][0-9]{0,3}[dwm]$`
	databasePattern  = `^[a-z][a-z0-9_]*$`
)

// reservedDatabases cannot be extra databases (the domain refuses them
// too: app is the default database, the others belong to PostgreSQL).
var reservedDatabases = []any{"app", "postgres", "template0", "template1"}

// CreateSchema is the JSON Schema of the body of POST /api/v1/databases,
// generated from the request model (the sizes, loads, client types and
// backup schedules it defines) and the policy (environments, what each
// allows, the size presets' descriptions, PostgreSQL versions, the storage
// bounds). The OpenAPI document and the Backstage template are built from
// it.
//
// It refuses what the API refuses, including the rules across fields: what
// each environment allows, <name>.<team>.<env> within 63 characters, each
// extra database's object name within 63, the namespace within 63, an
// hour or retention where the client type's default is no backups. Only
// the server can refuse a database that already exists (409), and an
// owner naming another team than team.
func CreateSchema(p *request.Policy) *Schema {
	s := &Schema{
		Type:        "object",
		Title:       "New database",
		Description: "A PostgreSQL database on CloudNativePG. Only name, team and environment are required: the rest is filled from the client type, the expected load and the environment's defaults.",
		Required:    []string{"name", "team", "environment"},
		Closed:      true,
		Properties: []Property{
			{"name", &Schema{Type: "string", Title: "Name",
				Description: fmt.Sprintf("The database cluster's name: lowercase letters, digits and '-', starting with a letter, at most %d characters. "+
					"<name>.<team>.<environment> names its catalog entity and must fit in %d characters, so a long team name leaves less room.",
					request.MaxNameLength(), maxQualifiedName()),
				Pattern: namePattern, MinLength: intp(1), MaxLength: intp(request.MaxNameLength())}},
			{"team", &Schema{Type: "string", Title: "Team",
				Description: fmt.Sprintf("The owning team (the Backstage group): lowercase letters, digits and '-', at most %d characters.", request.MaxTeamLength),
				Pattern:     teamPattern, MinLength: intp(1), MaxLength: intp(request.MaxTeamLength)}},
			{"owner", OwnerSchema()},
			{"environment", environmentSchema(p)},
			{"clientType", clientTypeSchema(p)},
			{"load", loadSchema(p)},
			{"size", sizeSchema(p)},
			{"instances", instancesSchema(p)},
			{"postgresVersion", postgresSchema(p)},
			{"storage", storageSchema(p)},
			{"backups", backupsSchema()},
			{"logicalBackup", &Schema{Type: "boolean", Title: "Logical backups",
				Description: "Also dump the databases with pg_dump to the object store every night."}},
			{"databases", databasesSchema(p)},
			{"requester", requesterSchema()},
		},
		AllOf: slices.Concat(environmentRules(p), backupDefaultRules(p), nameLengthRules(p), databaseNameRules()),
	}
	return s
}

// UpdateSchema is the JSON Schema of the body of PATCH
// /api/v1/databases/{env}/{team}/{name}: a size, instances or storage
// change is a resize, a backups-only change is a backup change.
func UpdateSchema(p *request.Policy) *Schema {
	return &Schema{
		Type:        "object",
		Title:       "Database change",
		Description: "What to change. A change of size, instances or storage is a resize; a change of backups alone is a backup change. Either opens a pull request. The environment's rules apply as for a new database.",
		Closed:      true,
		AnyOf: []*Schema{
			{Required: []string{"size"}}, {Required: []string{"instances"}},
			{Required: []string{"storage"}}, {Required: []string{"backups"}},
		},
		Properties: []Property{
			{"size", sizeSchema(p)},
			{"instances", instancesSchema(p)},
			{"storage", storageSchema(p)},
			{"backups", backupsSchema()},
			{"requester", requesterSchema()},
		},
	}
}

func environmentSchema(p *request.Policy) *Schema {
	s := &Schema{Type: "string", Title: "Environment", Description: "Where the database runs; each environment has its own rules."}
	for _, env := range p.EnvironmentNames() {
		title := env
		if o, _ := p.Offer(env); o.Description != "" {
			title = o.Description + " (" + env + ")"
		}
		s.OneOf = append(s.OneOf, &Schema{Const: env, Title: title})
	}
	return s
}

func clientTypeSchema(p *request.Policy) *Schema {
	titles := map[request.ClientType]string{request.Startup: "Startup", request.SME: "SME", request.Enterprise: "Enterprise"}
	s := &Schema{Type: "string", Title: "Client type",
		Description: "Who the database is for; with the environment it sets the default instances and backups."}
	if p.Defaults.ClientType != "" {
		s.Default = string(p.Defaults.ClientType)
	}
	for _, ct := range request.ClientTypes() {
		title := titles[ct]
		if title == "" {
			title = string(ct)
		}
		s.OneOf = append(s.OneOf, &Schema{Const: string(ct), Title: title})
	}
	return s
}

func loadSchema(p *request.Policy) *Schema {
	s := &Schema{Type: "string", Title: "Expected load", Description: "Picks the size when no size is given."}
	if p.Defaults.Load != "" {
		s.Default = string(p.Defaults.Load)
	}
	for _, l := range request.Loads() {
		s.OneOf = append(s.OneOf, &Schema{Const: string(l), Title: fmt.Sprintf("%s (size %s)", l, p.LoadSize(l))})
	}
	return s
}

func sizeSchema(p *request.Policy) *Schema {
	s := &Schema{Type: "string", Title: "Size",
		Description: "A sizing preset: CPU, memory and storage per instance. Overrides the expected load."}
	for _, size := range request.Sizes() {
		preset, _ := p.Preset(size)
		title := string(size)
		if preset.Description != "" {
			title += ": " + preset.Description
		}
		s.OneOf = append(s.OneOf, &Schema{Const: string(size), Title: title,
			Description: fmt.Sprintf("%s-%s CPU, %s memory, %s storage per instance", preset.CPU.Request, preset.CPU.Limit, preset.Memory.Limit, preset.Storage)})
	}
	return s
}

func instancesSchema(p *request.Policy) *Schema {
	lo, hi := 0, 0
	for _, env := range p.EnvironmentNames() {
		o, _ := p.Offer(env)
		if lo == 0 || o.MinInstances < lo {
			lo = o.MinInstances
		}
		hi = max(hi, o.MaxInstances)
	}
	return &Schema{Type: "integer", Title: "Instances",
		Description: "PostgreSQL instances (one primary, the rest replicas). Default: from the client type and environment.",
		Minimum:     intp(lo), Maximum: intp(hi)}
}

func postgresSchema(p *request.Policy) *Schema {
	s := &Schema{Type: "integer", Title: "PostgreSQL version", Description: "The PostgreSQL major version."}
	for _, v := range p.Versions() {
		s.Enum = append(s.Enum, v)
	}
	if p.Postgres.Default != 0 {
		s.Default = p.Postgres.Default
	}
	return s
}

func storageSchema(p *request.Policy) *Schema {
	s := &Schema{Type: "string", Title: "Storage",
		Description: fmt.Sprintf("The data volume per instance, overriding the size's: a whole number of Mi, Gi or Ti, like 100Gi, at least 1Gi and at most %s.", p.MaxStorage)}
	lo, hi, bounded := StorageLimits(p)
	switch {
	case !bounded:
		// Policy.Check refuses a maxStorage that does not parse.
		s.Pattern = `^[1-9][0-9]*(Mi|Gi|Ti)$`
	case hi < lo:
		s.Description = fmt.Sprintf("Storage overrides are off: the platform's maximum, %s, is below 1Gi.", p.MaxStorage)
		s.Not = &Schema{}
	default:
		s.Pattern = storagePattern(lo, hi)
	}
	return s
}

// StorageLimits are the smallest and the largest storage override the
// policy allows, in Mi: 1Gi, and the policy's maxStorage rounded down to a
// whole Mi (an override is a whole number of Mi, Gi or Ti). bounded is
// false when maxStorage does not parse; Policy.Check refuses that.
func StorageLimits(p *request.Policy) (minMi, maxMi int64, bounded bool) {
	q, err := resource.ParseQuantity(p.MaxStorage)
	if err != nil {
		return minStorageMi, 0, false
	}
	return minStorageMi, q.Value() / mi, true
}

const mi = 1 << 20

// storagePattern matches exactly the storage values from loMi to hiMi: in
// Mi, in the whole Gi and in the whole Ti between them.
func storagePattern(loMi, hiMi int64) string {
	var alts []string
	for _, u := range []struct {
		unit string
		mi   int64
	}{{"Mi", 1}, {"Gi", 1 << 10}, {"Ti", 1 << 20}} {
		lo, hi := (loMi+u.mi-1)/u.mi, hiMi/u.mi
		if lo <= hi {
			alts = append(alts, "("+rangePattern(lo, hi)+")"+u.unit)
		}
	}
	return "^(" + strings.Join(alts, "|") + ")$"
}

func backupsSchema() *Schema {
	sched := &Schema{Type: "string", Title: "Schedule",
		Description: "How often a base backup is taken; WAL is archived continuously while backups are on. Default: from the client type and environment."}
	titles := map[request.Schedule]string{request.NoBackups: "No backups", request.Hourly: "Hourly", request.Daily: "Daily", request.Weekly: "Weekly"}
	for _, sc := range request.Schedules() {
		title := titles[sc]
		if title == "" {
			title = string(sc)
		}
		sched.OneOf = append(sched.OneOf, &Schema{Const: string(sc), Title: title})
	}
	return &Schema{
		Type: "object", Title: "Backups", Closed: true,
		Description: "Continuous backups to the object store (Barman Cloud plugin).",
		Properties: []Property{
			{"schedule", sched},
			{"hour", &Schema{Type: "integer", Title: "Hour (UTC)", Description: "The hour of daily and weekly backups.", Minimum: intp(0), Maximum: intp(23)}},
			{"retention", &Schema{Type: "string", Title: "Retention", Description: "How long backups are kept: a number and d, w or m, like 14d.", Pattern: retentionPattern}},
		},
		// No hour or retention without backups.
		AllOf: []*Schema{{
			If:   &Schema{Properties: []Property{{"schedule", &Schema{Const: string(request.NoBackups)}}}, Required: []string{"schedule"}},
			Then: &Schema{Not: &Schema{AnyOf: []*Schema{{Required: []string{"hour"}}, {Required: []string{"retention"}}}}},
		}},
	}
}

func databasesSchema(p *request.Policy) *Schema {
	return &Schema{Type: "array", Title: "Extra databases",
		Description: "Databases to create besides app, each owned by the app user.",
		Items: &Schema{Type: "string", Pattern: databasePattern, MaxLength: intp(request.MaxDatabaseNameLength),
			Not: &Schema{AnyOf: []*Schema{{Enum: reservedDatabases}, {Pattern: "_db_", Description: "No _db_: the Database object could share another database's name."}}}},
		MaxItems: intp(p.MaxDatabases), UniqueItems: true}
}

func requesterSchema() *Schema {
	return &Schema{Type: "object", Title: "Requester", Closed: true,
		Description: "Who asks, for the audit trail and the pull request (a Backstage user ref). Without it the token's name is recorded.",
		Required:    []string{"id"},
		Properties: []Property{
			{"id", &Schema{Type: "string", MinLength: intp(1), Description: "The user's id, like user:default/jane."}},
			{"name", &Schema{Type: "string", Description: "The user's display name."}},
		}}
}

// environmentRules are what each environment allows: sizes (given, or
// picked from the load), instances, and backups when they are required.
func environmentRules(p *request.Policy) []*Schema {
	var rules []*Schema
	for _, env := range p.EnvironmentNames() {
		o, _ := p.Offer(env)
		then := &Schema{}
		allowed := make([]any, 0, len(o.Sizes))
		for _, s := range o.Sizes {
			allowed = append(allowed, string(s))
		}
		then.Properties = append(then.Properties,
			Property{"size", &Schema{Enum: allowed}},
			Property{"instances", &Schema{Minimum: intp(o.MinInstances), Maximum: intp(o.MaxInstances)}})
		if o.BackupsRequired {
			then.Properties = append(then.Properties, Property{"backups", &Schema{
				Properties: []Property{{"schedule", &Schema{Not: &Schema{Const: string(request.NoBackups)}}}}}})
		}
		// Without a size, the load (or the default load) picks one that
		// must be allowed here too.
		var okLoads []any
		for _, l := range o.Loads {
			okLoads = append(okLoads, string(l))
		}
		if len(okLoads) < len(request.Loads()) {
			then.AnyOf = []*Schema{
				{Required: []string{"size"}},
				{Required: []string{"load"}, Properties: []Property{{"load", &Schema{Enum: okLoads}}}},
			}
			if slices.Contains(okLoads, any(string(p.Defaults.Load))) {
				then.AnyOf = append(then.AnyOf, &Schema{Not: &Schema{Required: []string{"load"}}})
			}
		}
		rules = append(rules, &Schema{
			If:   &Schema{Properties: []Property{{"environment", &Schema{Const: env}}}, Required: []string{"environment"}},
			Then: then,
		})
	}
	return rules
}

// The names a database derives from its identity must fit Kubernetes'
// and Backstage's limits (request.Policy checks each): the rules below
// write the ones that depend on two fields. Their numbers come from the
// request package's exported names and limits.

// maxQualifiedName is the longest <name>.<team>.<env>: it is the catalog
// entity's name and the Terraform state secret's label.
func maxQualifiedName() int {
	return min(request.EntityNameMaxLength, validation.LabelValueMaxLength)
}

// teamAtLeast holds when the team's name has at least n characters,
// whether the team is given as its name (billing) or as a group entity ref
// (group:default/billing, in the Backstage form): the name is the run of
// name characters that ends the string.
func teamAtLeast(n int) *Schema {
	return &Schema{Pattern: fmt.Sprintf("[-a-z0-9]{%d}$", max(n, 0)),
		Description: fmt.Sprintf("The team's name has at least %d characters.", n)}
}

// nameLengthRules keep <name>.<team>.<env> within maxQualifiedName, and
// the namespace (policy.namespace with the team and environment) within
// a DNS label: for each environment, the longest name each length of team
// leaves, where it is shorter than the longest name; and the longest team
// where the namespace pattern leaves less than request.MaxTeamLength.
func nameLengthRules(p *request.Policy) []*Schema {
	var rules []*Schema
	for _, env := range p.EnvironmentNames() {
		isEnv := Property{"environment", &Schema{Const: env}}
		room := maxQualifiedName() - len(request.QualifiedName(env, "", "")) // name + team
		for t := max(1, room-request.MaxNameLength()+1); t <= request.MaxTeamLength; t++ {
			rules = append(rules, &Schema{
				If:   &Schema{Properties: []Property{isEnv, {"team", teamAtLeast(t)}}, Required: []string{"environment", "team"}},
				Then: &Schema{Properties: []Property{{"name", &Schema{MaxLength: intp(max(room-t, 0))}}}},
			})
		}
		nsRoom := validation.DNS1123LabelMaxLength - len(p.NamespaceFor(request.Spec{Environment: env}))
		if nsRoom < request.MaxTeamLength {
			rules = append(rules, &Schema{
				If: &Schema{Properties: []Property{isEnv}, Required: []string{"environment"}},
				Then: &Schema{Properties: []Property{{"team", &Schema{Not: teamAtLeast(nsRoom + 1),
					Description: fmt.Sprintf("The namespace %s leaves room for %d characters of team.", p.Namespace, nsRoom)}}}},
			})
		}
	}
	return rules
}

// databaseNameRules keep each extra database's object name
// (<name>-db-<database>) within a DNS label: the longest database name
// each length of name leaves, where it is shorter than request.MaxDatabaseNameLength.
func databaseNameRules() []*Schema {
	var rules []*Schema
	room := validation.DNS1123LabelMaxLength - len(request.DatabaseObjectName("", "")) // name + database
	for n := max(1, room-request.MaxDatabaseNameLength+1); n <= request.MaxNameLength(); n++ {
		rules = append(rules, &Schema{
			If: &Schema{Properties: []Property{{"name", &Schema{MinLength: intp(n)}}}, Required: []string{"name", "databases"}},
			Then: &Schema{Properties: []Property{{"databases", &Schema{
				Items: &Schema{MaxLength: intp(max(room-n, 0))}}}}},
		})
	}
	return rules
}

// backupDefaultRules refuse a backup hour or retention, without a
// schedule, where the client type's default for the environment is no
// backups: the request would have backups off, which take neither. A
// missing client type is the policy's default one.
func backupDefaultRules(p *request.Policy) []*Schema {
	var rules []*Schema
	for _, env := range p.EnvironmentNames() {
		for _, ct := range request.ClientTypes() {
			if prof, ok := p.Profile(ct, env); !ok || prof.Backups != request.NoBackups {
				continue
			}
			cond := &Schema{Properties: []Property{{"environment", &Schema{Const: env}}, {"clientType", &Schema{Const: string(ct)}}},
				Required: []string{"environment"}}
			if ct != p.Defaults.ClientType {
				cond.Required = append(cond.Required, "clientType")
			}
			rules = append(rules, &Schema{
				If: cond,
				Then: &Schema{Properties: []Property{{"backups", &Schema{
					If:   &Schema{Not: &Schema{Required: []string{"schedule"}}},
					Then: &Schema{Not: &Schema{AnyOf: []*Schema{{Required: []string{"hour"}}, {Required: []string{"retention"}}}}},
				}}}},
			})
		}
	}
	return rules
}

// allowedList joins values for a message.
func allowedList[T ~string](vs []T) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = string(v)
	}
	return strings.Join(parts, ", ")
}

// RestoreSchema is the JSON Schema of the body of POST
// /api/v1/databases/{env}/{team}/{name}/restore: the new database's name
// (CreateSchema's), the point in time to recover to (none for the latest),
// the owner and the requester. The rest is the source's. The name's
// length rules that depend on the team and environment (NameRules) are
// the path's, so only the server checks them here.
func RestoreSchema(p *request.Policy) *Schema {
	return &Schema{
		Type:  "object",
		Title: "Restored database",
		Description: "A new database made from the backups of the database of the path, in its environment and team, with its size, instances, storage, " +
			"version, backups, logical backup and extra databases. The source is left as it is.",
		Required: []string{"name"},
		Closed:   true,
		Properties: []Property{
			{"name", CreateSchema(p).Property("name")},
			{"targetTime", TargetTimeSchema()},
			{"owner", OwnerSchema()},
			{"requester", requesterSchema()},
		},
	}
}

// TargetTimeSchema is the schema of a restore's point in time: an RFC
// 3339 date-time (request.ParseTargetTime reads it), in the past and
// within the source's recovery window, which only the server knows.
func TargetTimeSchema() *Schema {
	return &Schema{Type: "string", Title: "Point in time",
		Description: "The point in time to recover to, in RFC 3339 (2026-03-01T10:00:00Z, or with an offset), within the source's recovery window " +
			"(GET .../backups shows it). Leave it out to recover to the latest archived point.",
		Extensions: []Keyword{{"format", "date-time"}}}
}

// NameRules are the rules of CreateSchema that keep a database's name
// within the room its team and environment leave (<name>.<team>.<env>
// within 63 characters, the namespace within a DNS label), for a form that
// asks for a name, a team and an environment.
func NameRules(p *request.Policy) []*Schema { return nameLengthRules(p) }
