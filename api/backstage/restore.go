package backstage

import (
	"fmt"

	"github.com/clustropg/clustro/api"
	"github.com/clustropg/clustro/request"
)

// RestoreStepID is the id of the restore template's step; its output
// refers to the reply as steps['<RestoreStepID>'].output.body.
const RestoreStepID = "restore-database"

// The restore form's choice of point.
const (
	// PointLatest recovers to the latest archived point.
	PointLatest = "latest"
	// PointTime recovers to the form's targetTime.
	PointTime = "time"
)

// RestoreParameters is the restore template's form (one page): the
// environment and team (the team as the owner picker's group, as in
// Parameters), the database to restore from, the point (the latest, or a
// time: targetTime, an RFC 3339 date-time, then required, and only then
// given), and the new database's name with the rules of the first
// template's name (api.CreateSchema's name, and api.NameRules: the room
// the team and environment leave).
//
// The form cannot know which databases exist, have backups, and what
// their recovery window is: ClustroPG checks those (and that the new name
// is not the source's nor taken), and the form's description says so.
func RestoreParameters(p *request.Policy) *api.Schema {
	create := api.CreateSchema(p)
	name := *create.Property("name")
	name.Title = "New database's name"
	name.Description = "The restored database is a new database next to the source, which is left as it is. " + name.Description
	name.Extensions = nil
	source := &api.Schema{Type: "string", Title: "Database to restore from",
		Description: "The name of a database of the environment and team above that has backups (GET .../backups shows what it can be restored to).",
		Pattern:     name.Pattern, MinLength: name.MinLength, MaxLength: name.MaxLength,
		Extensions: []api.Keyword{{Key: "ui:autofocus", Value: true}}}
	point := &api.Schema{Type: "string", Title: "Restore to", Default: PointLatest,
		Description: "The latest point the backups hold (the end of the archived WAL), or a point in time.",
		OneOf: []*api.Schema{
			{Const: PointLatest, Title: "The latest point"},
			{Const: PointTime, Title: "A point in time"},
		}}
	at := api.TargetTimeSchema()
	at.Description = "With \"a point in time\": the time to recover to, within the source's recovery window. Ignored for the latest point."
	isPoint := func(v string) *api.Schema {
		return &api.Schema{Properties: []api.Property{{Name: "point", Schema: &api.Schema{Const: v}}}, Required: []string{"point"}}
	}
	s := &api.Schema{
		Type:  "object",
		Title: "Restore a PostgreSQL database",
		Description: "ClustroPG makes a NEW database from the backups of an existing one of the same environment and team, " +
			"with its size, instances, storage, version, backups and extra databases, and opens a pull request for it; the source is left as it is. " +
			"The form checks the names and the time's format; ClustroPG checks that the source exists, has backups, " +
			"that the time is within its recovery window and that the new name is free. " +
			"If ClustroPG refuses the request, the step fails and its log shows ClustroPG's answer, naming each field and what is allowed.",
		Required: []string{"environment", "team", "source", "point", "name"},
		Closed:   true,
		Properties: []api.Property{
			{Name: "environment", Schema: create.Property("environment")},
			{Name: "team", Schema: teamPicker()},
			{Name: "source", Schema: source},
			{Name: "point", Schema: point},
			{Name: "targetTime", Schema: at},
			{Name: "name", Schema: &name},
		},
		AllOf: append([]*api.Schema{
			{If: isPoint(PointTime), Then: &api.Schema{Required: []string{"targetTime"}}},
		}, api.NameRules(p)...),
	}
	return s
}

// restoreBody is what the restore step sends: the new name, the target
// time for a point in time (left out for the latest), the picked group
// as owner and the signed-in user.
func restoreBody() api.Object {
	return api.Object{
		{Key: "name", Value: "${{ parameters.name }}"},
		// Only for a point in time: else the expression is undefined (an
		// unset variable) and Backstage leaves the field out, as it does
		// for a field the form leaves empty.
		{Key: "targetTime", Value: `${{ parameters.targetTime if parameters.point == "` + PointTime + `" else undefined }}`},
		{Key: "owner", Value: "${{ parameters.team }}"},
		{Key: "requester", Value: api.Object{
			{Key: "id", Value: "${{ user.ref }}"},
			{Key: "name", Value: "${{ user.entity.spec.profile.displayName }}"},
		}},
	}
}

// teamName is the expression of the picked group's name.
const teamName = `${{ parameters.team | parseEntityRef({ defaultKind: "group", defaultNamespace: "` + api.OwnerNamespace + `" }) | pick("name") }}`

// restoreDocument is the restore template as data.
func restoreDocument(p *request.Policy, o Options) api.Object {
	reply := func(field string) string { return "${{ steps['" + RestoreStepID + "'].output.body." + field + " }}" }
	path := o.ProxyPath + "/api/v1/databases/${{ parameters.environment }}/" + teamName + "/${{ parameters.source }}/restore"
	return api.Object{
		{Key: "apiVersion", Value: "scaffolder.backstage.io/v1beta3"},
		{Key: "kind", Value: "Template"},
		{Key: "metadata", Value: api.Object{
			{Key: "name", Value: o.Name},
			{Key: "title", Value: "Restore a PostgreSQL database"},
			{Key: "description", Value: "Ask ClustroPG for a new PostgreSQL database restored from the backups of another one, to the latest point or to a point in time, reviewed as a pull request. The source is left as it is."},
			{Key: "tags", Value: []string{"postgresql", "database", "cloudnativepg", "restore"}},
		}},
		{Key: "spec", Value: api.Object{
			{Key: "owner", Value: o.Owner},
			{Key: "type", Value: "database"},
			{Key: "parameters", Value: []*api.Schema{RestoreParameters(p)}},
			{Key: "steps", Value: []api.Object{{
				{Key: "id", Value: RestoreStepID},
				{Key: "name", Value: "Ask ClustroPG for the restored database"},
				{Key: "action", Value: "http:backstage:request"},
				{Key: "input", Value: api.Object{
					{Key: "method", Value: "POST"},
					{Key: "path", Value: path},
					{Key: "headers", Value: api.Object{
						{Key: "Content-Type", Value: "application/json"},
						// The task's id: a retried or recovered task asks once.
						{Key: "Idempotency-Key", Value: "${{ context.task.id }}"},
					}},
					{Key: "body", Value: restoreBody()},
				}},
			}}},
			{Key: "output", Value: api.Object{
				{Key: "links", Value: []api.Object{
					{{Key: "title", Value: "Pull request of the restore"}, {Key: "icon", Value: "github"}, {Key: "url", Value: reply("pullRequest")}},
					{{Key: "title", Value: "Restored database in the catalog (once it is ready)"}, {Key: "icon", Value: "catalog"}, {Key: "entityRef", Value: reply("entityRef")}},
				}},
				{Key: "text", Value: []api.Object{{
					{Key: "title", Value: "What happens next"},
					{Key: "content", Value: "ClustroPG accepted request `" + reply("id") + "` (" + reply("state") + ") to restore `${{ parameters.source }}` into the new database `${{ parameters.name }}`, " +
						"and opens a pull request on the infrastructure repository. Once it is reviewed and merged, the database is created from the backups, " +
						"its credentials reach you privately, and it appears in the catalog as `" + reply("entityRef") + "`. Its progress: GET " + o.ProxyPath + reply("url") + "."},
				}}},
			}},
		}},
	}
}

// RestoreTemplate generates restore.yaml, the Software Template "Restore a
// PostgreSQL database", from the request model and the policy.
func RestoreTemplate(p *request.Policy, o Options) ([]byte, error) {
	if o.Name == "" {
		o.Name = "clustropg-restore"
	}
	b, err := encode(restoreDocument(p, o.common()), "RestoreTemplate")
	if err != nil {
		return nil, fmt.Errorf("restore template: %w", err)
	}
	return b, nil
}
