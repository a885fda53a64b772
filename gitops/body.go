package gitops

import (
	"fmt"
	"strings"

	"github.com/clustropg/clustro/request"
)

// Labels every ClustroPG pull request carries, plus one per environment
// (env:<env>) and kind (clustro:<kind>).
const LabelClustro = "clustropg"

// Title is a change's pull request title:
// "clustro: create database billing/ledger (prod, M)".
func Title(r request.DatabaseRequest) string {
	verb := map[request.Kind]string{
		request.Create: "create database", request.Resize: "resize database",
		request.Backup: "change backups of database", request.Destroy: "delete database",
	}[r.Kind]
	if verb == "" {
		verb = "change database"
	}
	return fmt.Sprintf("clustro: %s %s/%s (%s, %s)", verb, r.Team, r.Name, r.Environment, r.Size)
}

// Labels are a change's pull request labels.
func Labels(r request.DatabaseRequest) []string {
	return []string{LabelClustro, "env:" + r.Environment, "clustro:" + string(r.Kind)}
}

// BodyInput is what a pull request body shows.
type BodyInput struct {
	Request   request.DatabaseRequest
	Namespace string
	Reserved  request.Reservation
	// Dir is the workspace directory in the infra repo.
	Dir string
	// SlackThread links back to the conversation, when it started in Slack.
	SlackThread string
}

// Body is a change's pull request body: the request as a table, who asked,
// what it reserves, and a checklist for the reviewer. It holds no secrets.
func Body(in BodyInput) string {
	r := in.Request
	var b strings.Builder
	fmt.Fprintf(&b, "ClustroPG opened this pull request for a database request. Merging it applies it; closing it cancels it.\n\n")
	fmt.Fprintf(&b, "| | |\n| --- | --- |\n")
	row := func(k, v string) { fmt.Fprintf(&b, "| %s | %s |\n", k, escapeCell(v)) }
	row("Change", string(r.Kind))
	row("Database", "`"+r.Name+"`")
	row("Team", r.Team)
	row("Environment", r.Environment)
	row("Namespace", "`"+in.Namespace+"`")
	if r.ClientType != "" || r.Load != "" {
		row("Asked as", fmt.Sprintf("client type %s, expected load %s", orDash(string(r.ClientType)), orDash(string(r.Load))))
	}
	row("Size", string(r.Size))
	row("Instances", fmt.Sprint(r.Instances))
	row("PostgreSQL", fmt.Sprint(r.PostgresVersion))
	if r.Backups.Enabled() {
		row("Backups", fmt.Sprintf("%s at %02d:00 UTC, kept %s (WAL archiving on)", r.Backups.Schedule, *r.Backups.Hour, r.Backups.Retention))
	} else {
		row("Backups", "none")
	}
	row("Logical backup (pg_dump)", map[bool]string{true: "nightly", false: "off"}[r.LogicalBackup])
	if len(r.Databases) > 0 {
		row("Extra databases", strings.Join(r.Databases, ", "))
	}
	row("Workspace", "`"+in.Dir+"`")
	row("Request", "`"+r.ID+"`")

	who := r.Requester.ID
	if r.Requester.Name != "" {
		who = r.Requester.Name + " (" + r.Requester.ID + ")"
	}
	fmt.Fprintf(&b, "\n**Asked by** %s through %s", escapeCell(who), r.Origin.Kind)
	if in.SlackThread != "" {
		fmt.Fprintf(&b, " ([Slack thread](%s))", in.SlackThread)
	} else if r.Origin.APIClient != "" {
		fmt.Fprintf(&b, " (API client %s)", escapeCell(r.Origin.APIClient))
	}
	b.WriteString(".\n")

	res := in.Reserved
	if r.Kind != request.Destroy {
		fmt.Fprintf(&b, "\n**Reserves** %s CPU and %s memory (requests; limits %s CPU and %s memory per instance) and %s of volumes: %d instance(s) x (%s data + %s WAL).\n",
			res.TotalCPU, res.TotalMemory, res.CPULimit, res.MemoryLimit, res.TotalStorage, res.Instances, res.Storage, res.WALStorage)
	} else {
		fmt.Fprintf(&b, "\n**Deletes** the cluster, its volumes, scheduled backups and PodMonitor. Backups already in the object store are kept per their retention.\n")
	}
	b.WriteString("\n### Reviewer checklist\n\n")
	b.WriteString("- [ ] The size and instances fit the load and the team's budget.\n")
	b.WriteString("- [ ] Backups and retention match the environment's needs.\n")
	b.WriteString("- [ ] The plan comment shows only the expected objects in the expected namespace.\n")
	b.WriteString("\nReviewers may edit the values of `size`, `instances`, `storage`, `postgres_version`, `backup_*`, `logical_backup` and `databases` in `main.tf`; anything else is refused before plan. Comment `/clustro plan` to plan again, `/clustro apply` to retry a failed apply.\n")
	return b.String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// escapeCell keeps user-supplied text from breaking the table or markup.
func escapeCell(s string) string {
	return strings.NewReplacer("|", "\\|", "\n", " ", "<", "&lt;", ">", "&gt;").Replace(s)
}
