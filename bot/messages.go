package bot

import (
	"fmt"
	"strings"

	"github.com/slack-go/slack"

	"github.com/clustropg/clustro/request"
	"github.com/clustropg/clustro/store"
)

// reply is the JSON body that acknowledges a slash command (or answers on
// its response_url): an ephemeral message, seen only by who typed it.
type reply struct {
	ResponseType string        `json:"response_type"`
	Text         string        `json:"text"`
	Blocks       []slack.Block `json:"blocks,omitempty"`
}

func ephemeralReply(m message) reply {
	return reply{ResponseType: slack.ResponseTypeEphemeral, Text: m.Text, Blocks: m.Blocks}
}

// usage is the help of every command.
const usage = "*Usage*\n" +
	"`/pg new` opens the request form\n" +
	"`/pg new <name> [size=M] [env=dev] [team=<team>] [backups=daily] [instances=3] [client=sme] [load=medium] [version=17] [storage=100Gi] [databases=a,b] [logical=yes]` asks in one line\n" +
	"`/pg list [mine | team <team>]` lists databases\n" +
	"`/pg status <name> [env=<env>] [team=<team>]` shows where a database stands\n" +
	"`/pg resize <name> size=L [instances=3] [storage=100Gi]` changes its size\n" +
	"`/pg backups <name>` shows its base backups, recovery window and WAL archiving\n" +
	"`/pg backups <name> none|hourly|daily|weekly [hour=3] [retention=14d]` changes its backups\n" +
	"`/pg backup <name>` takes a base backup now; progress follows in its thread\n" +
	"`/pg restore <name> [--at latest|2026-12-02T10:00:00Z] [--as <new name>]` makes a new database from its backups (alone: I ask in a thread); the source is not touched\n" +
	"`/pg delete <name>` deletes it (you confirm by typing its name)\n" +
	"`/pg retry <name>` retries a failed request\n" +
	"`/pg drift [team <team>] [env <env>]` lists the databases that drifted from their reviewed code\n" +
	"`/pg reconcile <name> [env=<env>] [team=<team>]` plans applying its reviewed code again; the plan is posted in its thread to confirm\n" +
	"`/pg sizes` shows the sizing presets\n" +
	"Or mention me in a channel, or write to me: _@clustro I need a postgres for billing in prod_."

const newUsage = "`/pg new <name> [size=M] [env=dev] [team=<team>] [backups=daily] ...` (keys: " + settingKeys + "), or `/pg new` alone for the form."

func helpMessage() message {
	return message{Text: usage, Blocks: []slack.Block{
		section("*ClustroPG* asks for PostgreSQL databases on Kubernetes: each request becomes a reviewed pull request, then a CloudNativePG cluster."),
		section(usage),
	}}
}

// problemsMessage lists what is wrong with a request, field by field, with
// what is allowed, and how to ask.
func problemsMessage(intro string, pr request.Problems, how string) message {
	var b strings.Builder
	b.WriteString(intro + "\n")
	for _, p := range pr {
		fmt.Fprintf(&b, "• *%s*: %s\n", p.Field, p.Message)
	}
	if how != "" {
		b.WriteString(how)
	}
	return text(strings.TrimSpace(b.String()))
}

// sizesMessage is the presets table from the policy.
func sizesMessage(p *request.Policy) message {
	var b strings.Builder
	b.WriteString("*Sizing presets* (per instance)\n```")
	fmt.Fprintf(&b, "%-4s %-11s %-13s %-8s %-7s %-6s\n", "size", "cpu", "memory", "storage", "wal", "conns")
	for _, s := range request.Sizes() {
		sp, ok := p.Preset(s)
		if !ok {
			continue
		}
		fmt.Fprintf(&b, "%-4s %-11s %-13s %-8s %-7s %-6d\n", s, sp.CPU.Request+"-"+sp.CPU.Limit,
			sp.Memory.Request+"-"+sp.Memory.Limit, sp.Storage, sp.WALStorage, sp.MaxConnections)
	}
	b.WriteString("```\n")
	for _, s := range request.Sizes() {
		if sp, ok := p.Preset(s); ok {
			fmt.Fprintf(&b, "*%s*: %s\n", s, sp.Description)
		}
	}
	var loads []string
	for _, l := range request.Loads() {
		loads = append(loads, fmt.Sprintf("%s → %s", l, p.LoadSize(l)))
	}
	b.WriteString("Expected load picks the size: " + strings.Join(loads, ", ") + ".\n")
	for _, env := range p.EnvironmentNames() {
		o, _ := p.Offer(env)
		fmt.Fprintf(&b, "*%s*: sizes %s, %d-%d instances%s\n", env, joinSizes(o.Sizes), o.MinInstances, o.MaxInstances,
			map[bool]string{true: ", backups required", false: ""}[o.BackupsRequired])
	}
	return text(strings.TrimSpace(b.String()))
}

func joinSizes(ss []request.Size) string {
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = string(s)
	}
	return strings.Join(parts, ", ")
}

// specLines describes a resolved request, one fact a line.
func specLines(p *request.Policy, r request.DatabaseRequest) string {
	var b strings.Builder
	fmt.Fprintf(&b, "*Database*: `%s` (team *%s*, environment *%s*)\n", r.Name, r.Team, r.Environment)
	size := string(r.Size)
	if sp, ok := p.Preset(r.Size); ok {
		storage := sp.Storage
		if r.Storage != "" {
			storage = r.Storage
		}
		size = fmt.Sprintf("%s: %s CPU, %s memory, %s storage per instance", r.Size, sp.CPU.Request, sp.Memory.Request, storage)
	}
	fmt.Fprintf(&b, "*Size*: %s\n", size)
	fmt.Fprintf(&b, "*Instances*: %d · *PostgreSQL* %d · *Client*: %s", r.Instances, r.PostgresVersion, r.ClientType)
	if r.Load != "" {
		fmt.Fprintf(&b, " · *Load*: %s", r.Load)
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "*Backups*: %s", backupsText(r.Backups))
	if r.LogicalBackup {
		b.WriteString(" · nightly pg_dump")
	}
	b.WriteString("\n")
	if len(r.Databases) > 0 {
		fmt.Fprintf(&b, "*Extra databases*: %s\n", strings.Join(r.Databases, ", "))
	}
	return strings.TrimSpace(b.String())
}

func backupsText(bk request.Backups) string {
	if !bk.Enabled() {
		return "none"
	}
	s := string(bk.Schedule)
	if bk.Hour != nil && bk.Schedule != request.Hourly {
		s += fmt.Sprintf(" at %02d:00 UTC", *bk.Hour)
	}
	if bk.Retention != "" {
		s += ", kept " + bk.Retention
	}
	return s
}

// Action ids of the draft card's buttons; their value is the conversation id.
const (
	actionConfirm = "draft.confirm"
	actionEdit    = "draft.edit"
	actionCancel  = "draft.cancel"
	// actionAnswer prefixes the buttons of a question in a thread.
	actionAnswer = "answer."
)

// draftCard is the summary of a request with Confirm, Edit and Cancel.
func draftCard(p *request.Policy, convID, user string, r request.DatabaseRequest) message {
	head := fmt.Sprintf("<@%s> asks for a PostgreSQL database:", user)
	confirm := button(actionConfirm, convID, "Confirm")
	confirm.Style = slack.StylePrimary
	edit := button(actionEdit, convID, "Edit")
	cancel := button(actionCancel, convID, "Cancel")
	cancel.Style = slack.StyleDanger
	return message{
		Text: fmt.Sprintf("%s %s", head, r.Key()),
		Blocks: []slack.Block{
			section(head),
			section(specLines(p, r)),
			slack.NewActionBlock("draft."+convID, confirm, edit, cancel),
			contextText("Confirming opens a pull request on the infrastructure repository; it is applied when a reviewer merges it."),
		},
	}
}

// closedCard replaces a draft card once it is submitted or cancelled.
func closedCard(p *request.Policy, r request.DatabaseRequest, outcome string) message {
	return message{Text: outcome, Blocks: []slack.Block{section(specLines(p, r)), contextText(outcome)}}
}

// maxDetail bounds what a message quotes from elsewhere (a failure's
// reason, a plan summary): the rest is in the pull request and the logs.
const maxDetail = 1500

// stateEmoji marks a state in messages.
func stateEmoji(s request.State) string {
	switch s {
	case request.Ready:
		return ":white_check_mark:"
	case request.Failed:
		return ":x:"
	case request.Cancelled, request.Deleted:
		return ":no_entry_sign:"
	case request.Merged, request.Applying, request.Provisioning, request.Deleting:
		return ":gear:"
	default:
		return ":hourglass_flowing_sand:"
	}
}

// statusMessage describes where a database's latest request stands, with
// day2 (watchLines: its health, drift and open reconcile) when not empty.
func statusMessage(p *request.Policy, rec store.Record, day2 string) message {
	r := rec.Request
	var b strings.Builder
	fmt.Fprintf(&b, "%s *%s* is *%s* (%s request %s", stateEmoji(rec.State), r.Key(), rec.State, r.Kind, rec.ID())
	if r.Requester.ID != "" {
		fmt.Fprintf(&b, " by %s", who(r.Requester, r.Origin))
	}
	b.WriteString(")")
	if rec.PR.URL != "" {
		fmt.Fprintf(&b, " · <%s|pull request #%d>", rec.PR.URL, rec.PR.Number)
	}
	if rec.PlanSummary != "" {
		fmt.Fprintf(&b, "\nPlan: %s", clip(rec.PlanSummary, maxDetail))
	}
	if rec.Failure != nil {
		fmt.Fprintf(&b, "\nFailed while %s: %s", rec.Failure.Step, clip(rec.Failure.Reason, maxDetail))
		if rec.Failure.Retryable {
			fmt.Fprintf(&b, "\nNext: `/pg retry %s env=%s team=%s`", r.Name, r.Environment, r.Team)
		}
	}
	if day2 != "" {
		b.WriteString("\n" + day2)
	}
	spec := specLines(p, r)
	return message{Text: b.String() + "\n" + spec, Blocks: append(sections(b.String()), sections(spec)...)}
}

// who names a requester: a Slack mention for Slack users.
func who(r request.Requester, o request.Origin) string {
	if o.Kind == request.OriginSlack && r.ID != "" {
		return "<@" + r.ID + ">"
	}
	if r.Name != "" {
		return r.Name
	}
	return r.ID
}
