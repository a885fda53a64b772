// Package backstage generates ClustroPG's Backstage Software Templates
// from the request model and the policy: template.yaml, a form that asks
// for a database and a step that sends it to the REST API through the
// Backstage proxy, and restore.yaml (RestoreTemplate), "Restore a
// PostgreSQL database", which asks for a new database restored from
// another one's backups (POST .../restore). The forms' schemas are the
// API's own (api.CreateSchema, with the team as an owner picker's group
// and the storage in GiB; RestoreParameters reuses its name and name
// rules), so a form refuses what the API refuses; the golden tests keep
// template.yaml and restore.yaml equal to what Template and
// RestoreTemplate generate from the embedded default policy (go test
// -update rewrites them).
package backstage

import (
	"bytes"
	"encoding/json"
	"fmt"

	"go.yaml.in/yaml/v3"

	"github.com/clustropg/clustro/api"
	"github.com/clustropg/clustro/request"
)

// Options name the template and say where it reaches ClustroPG; the zero
// value takes the defaults.
type Options struct {
	// Name is the template's metadata.name (default clustropg-database;
	// clustropg-restore for RestoreTemplate).
	Name string
	// Owner is the template's spec.owner (default group:platform).
	Owner string
	// ProxyPath is the path the http:backstage:request action calls: the
	// proxy plugin's id and the proxy.endpoints entry in front of the API
	// (default /proxy/clustro).
	ProxyPath string
}

func (o Options) withDefaults() Options {
	if o.Name == "" {
		o.Name = "clustropg-database"
	}
	return o.common()
}

// common fills the defaults every template shares.
func (o Options) common() Options {
	if o.Owner == "" {
		o.Owner = "group:platform"
	}
	if o.ProxyPath == "" {
		o.ProxyPath = "/proxy/clustro"
	}
	return o
}

// StepID is the id of the step that calls the API; the output refers to
// its reply as steps['<StepID>'].output.body.
const StepID = "request-database"

// Parameters is the template's form (one page of spec.parameters): the
// body of POST /api/v1/databases (api.CreateSchema, its rules across
// fields included), without the requester (the step sends the signed-in
// user), with the team picked from the catalog's groups as an entity ref
// (the step sends it as owner, and its name as team), and the storage as
// a whole number of GiB, bounded by the policy (the step adds the unit).
// The form then refuses what the API refuses, but for a database that
// already exists; the form's description says so.
//
// One page only: Backstage validates the whole form against each page's
// schema, so only a single page can refuse fields it does not list, as the
// API does.
func Parameters(p *request.Policy) *api.Schema {
	s := api.CreateSchema(p)
	s.Title = "PostgreSQL database"
	s.Description = "ClustroPG opens a pull request on the infrastructure repository; once it is merged the database is created, " +
		"and its credentials reach you privately. Only name, team and environment are required. " +
		"The form checks every rule ClustroPG applies but one: that no such database exists already. " +
		"If ClustroPG refuses the request, the step fails and its log shows ClustroPG's answer, naming each field and what is allowed."
	s.RemoveProperty("requester")
	s.RemoveProperty("owner")
	name := s.Property("name")
	name.Extensions = append(name.Extensions, api.Keyword{Key: "ui:autofocus", Value: true})
	team := s.Property("team")
	*team = *teamPicker()
	for i, prop := range s.Properties {
		if prop.Name == "storage" {
			s.Properties[i] = api.Property{Name: storageField, Schema: storageGi(p)}
		}
	}
	s.AllOf = append(s.AllOf, backupsOffered(p)...)
	return s
}

// teamPicker is the form's team: a group of OwnerNamespace picked from the
// catalog (an entity ref), whose name the step sends as team and which it
// sends whole as owner.
func teamPicker() *api.Schema {
	return &api.Schema{
		Type: "string", Title: "Team",
		Description: fmt.Sprintf("The owning team: a group of the catalog's namespace %s. It owns the database's catalog entity (group:%s/<team>), "+
			"so a group of another namespace is refused.", api.OwnerNamespace, api.OwnerNamespace),
		Pattern: api.OwnerSchema().Pattern,
		Extensions: []api.Keyword{
			{Key: "ui:field", Value: "OwnerPicker"},
			{Key: "ui:options", Value: api.Object{{Key: "catalogFilter", Value: api.Object{
				{Key: "kind", Value: "Group"},
				{Key: "metadata.namespace", Value: api.OwnerNamespace},
			}}}},
		},
	}
}

// backupsOffered are rules that list, for each environment that requires
// backups, the schedules it offers (request.Policy.Offer). The API's rule
// there refuses "none" (not: const none), which a form still offers; an
// enum is what the form's select shows instead of every schedule (as for
// the sizes, which the API's rules already give as an enum). They accept
// exactly what the API's rules accept.
func backupsOffered(p *request.Policy) []*api.Schema {
	var rules []*api.Schema
	for _, env := range p.EnvironmentNames() {
		o, _ := p.Offer(env)
		if !o.BackupsRequired {
			continue
		}
		var allowed []any
		for _, s := range o.Schedules {
			allowed = append(allowed, string(s))
		}
		rules = append(rules, &api.Schema{
			If: &api.Schema{Properties: []api.Property{{Name: "environment", Schema: &api.Schema{Const: env}}}, Required: []string{"environment"}},
			Then: &api.Schema{Properties: []api.Property{{Name: "backups", Schema: &api.Schema{
				Properties: []api.Property{{Name: "schedule", Schema: &api.Schema{Enum: allowed}}}}}}},
		})
	}
	return rules
}

// storageField is the form's storage, in GiB; the step sends "<n>Gi".
const storageField = "storageGi"

// storageGi is the storage override as a whole number of GiB, from 1Gi
// to the policy's maximum: a number field whose bounds the form states
// (a pattern over "100Gi" could not say why it refuses 3Ti).
func storageGi(p *request.Policy) *api.Schema {
	lo, hi, bounded := api.StorageLimits(p)
	s := &api.Schema{Type: "integer", Title: "Storage (GiB)",
		Description: "The data volume per instance in GiB, overriding the size's."}
	s.Minimum = intp(int((lo + 1023) / 1024))
	if bounded {
		s.Maximum = intp(int(hi / 1024))
		s.Description = fmt.Sprintf("The data volume per instance in GiB, overriding the size's: at least %d, at most %d (%s).", *s.Minimum, *s.Maximum, p.MaxStorage)
	}
	return s
}

func intp(n int) *int { return &n }

// body is the request the step sends: each field from the form (a field
// left empty is left out: Backstage drops an expression that renders
// nothing), the team's name and the picked group as owner (the API
// refuses a group of another namespace, never reads it as the same name in
// namespace default), the storage with its unit, and the signed-in user.
func body() api.Object {
	param := func(name string) string { return "${{ parameters." + name + " }}" }
	var b api.Object
	for _, f := range []string{"name", "team", "owner", "environment", "clientType", "load", "size", "instances", "postgresVersion", "storage", "backups", "logicalBackup", "databases"} {
		v := param(f)
		switch f {
		case "team":
			v = `${{ parameters.team | parseEntityRef({ defaultKind: "group", defaultNamespace: "` + api.OwnerNamespace + `" }) | pick("name") }}`
		case "owner":
			v = param("team")
		case "storage":
			// Left out when the field is: the else branch is undefined.
			g := "parameters." + storageField
			v = "${{ " + g + ` ~ "Gi" if ` + g + " else " + g + " }}"
		}
		b = append(b, api.Keyword{Key: f, Value: v})
	}
	return append(b, api.Keyword{Key: "requester", Value: api.Object{
		{Key: "id", Value: "${{ user.ref }}"},
		{Key: "name", Value: "${{ user.entity.spec.profile.displayName }}"},
	}})
}

// document is the template as data.
func document(p *request.Policy, o Options) api.Object {
	reply := func(field string) string { return "${{ steps['" + StepID + "'].output.body." + field + " }}" }
	return api.Object{
		{Key: "apiVersion", Value: "scaffolder.backstage.io/v1beta3"},
		{Key: "kind", Value: "Template"},
		{Key: "metadata", Value: api.Object{
			{Key: "name", Value: o.Name},
			{Key: "title", Value: "PostgreSQL database"},
			{Key: "description", Value: "Ask ClustroPG for a PostgreSQL database on CloudNativePG, sized by the platform's presets, with backups and monitoring, reviewed as a pull request."},
			{Key: "tags", Value: []string{"postgresql", "database", "cloudnativepg"}},
		}},
		{Key: "spec", Value: api.Object{
			{Key: "owner", Value: o.Owner},
			{Key: "type", Value: "database"},
			{Key: "parameters", Value: []*api.Schema{Parameters(p)}},
			{Key: "steps", Value: []api.Object{{
				{Key: "id", Value: StepID},
				{Key: "name", Value: "Ask ClustroPG for the database"},
				{Key: "action", Value: "http:backstage:request"},
				{Key: "input", Value: api.Object{
					{Key: "method", Value: "POST"},
					{Key: "path", Value: o.ProxyPath + "/api/v1/databases"},
					{Key: "headers", Value: api.Object{
						{Key: "Content-Type", Value: "application/json"},
						// The task's id: a retried or recovered task asks once.
						{Key: "Idempotency-Key", Value: "${{ context.task.id }}"},
					}},
					{Key: "body", Value: body()},
				}},
			}}},
			{Key: "output", Value: api.Object{
				{Key: "links", Value: []api.Object{
					{{Key: "title", Value: "Pull request"}, {Key: "icon", Value: "github"}, {Key: "url", Value: reply("pullRequest")}},
					{{Key: "title", Value: "Database in the catalog (once it is ready)"}, {Key: "icon", Value: "catalog"}, {Key: "entityRef", Value: reply("entityRef")}},
				}},
				{Key: "text", Value: []api.Object{{
					{Key: "title", Value: "What happens next"},
					{Key: "content", Value: "ClustroPG accepted request `" + reply("id") + "` (" + reply("state") + ") and opens a pull request " +
						"on the infrastructure repository. Once it is reviewed and merged, the database is created, its credentials reach you " +
						"privately, and it appears in the catalog as `" + reply("entityRef") + "`. Its progress: GET " + o.ProxyPath + reply("url") + "."},
				}}},
			}},
		}},
	}
}

// Template generates template.yaml from the request model and the policy.
func Template(p *request.Policy, o Options) ([]byte, error) {
	return encode(document(p, o.withDefaults()), "Template")
}

// encode writes a template as YAML, in block style, under a comment that
// says how it is generated: by the tests, or by the function fn for
// another policy.
func encode(d api.Object, fn string) ([]byte, error) {
	js, err := json.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("backstage template: %w", err)
	}
	// JSON is YAML: decoding it into a node keeps the order; the node is
	// then written in block style.
	var doc yaml.Node
	if err := yaml.Unmarshal(js, &doc); err != nil {
		return nil, fmt.Errorf("backstage template: %w", err)
	}
	blockStyle(&doc)
	doc.HeadComment = "Generated by `go test ./api/backstage -update` from the request model and the default policy\n" +
		"(config/default.yaml); do not edit. For another policy, generate it with backstage." + fn + "."
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, fmt.Errorf("backstage template: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("backstage template: %w", err)
	}
	return b.Bytes(), nil
}

// blockStyle clears the flow and quoting styles JSON gave every node, so
// the encoder writes block style and quotes only what needs it.
func blockStyle(n *yaml.Node) {
	n.Style = 0
	for _, c := range n.Content {
		blockStyle(c)
	}
}
