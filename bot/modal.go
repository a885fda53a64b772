package bot

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/slack-go/slack"

	"github.com/clustropg/clustro/request"
)

// Callback ids of the modals.
const (
	callbackNew    = "pg.new"
	callbackDelete = "pg.delete"
)

// Slack's limits on a modal.
const (
	maxTitle    = 24
	maxBlocks   = 100
	maxMetadata = 3000
)

// viewMeta is a modal's private_metadata: where it was opened from.
type viewMeta struct {
	// Conv is the conversation (draft) the form edits, if any.
	Conv    string `json:"conv,omitempty"`
	Channel string `json:"channel,omitempty"`
	// Name, Env and Team name the database a delete form is about.
	Name string `json:"name,omitempty"`
	Env  string `json:"env,omitempty"`
	Team string `json:"team,omitempty"`
}

func (m viewMeta) encode() string {
	b, _ := json.Marshal(m)
	return string(b)
}

func decodeMeta(s string) viewMeta {
	var m viewMeta
	json.Unmarshal([]byte(s), &m)
	return m
}

// modalFields are the request fields the form edits, in order. Each input
// block's block_id (and its element's action_id) is the field's name as
// request.Problems names it, so a problem lands on its block.
var modalFields = []string{
	"name", "team", "environment", "clientType", "load", "size", "instances", "postgresVersion",
	"storage", "backups.schedule", "backups.hour", "backups.retention", "logicalBackup", "databases",
}

// blockOf returns the block a problem is shown on.
func blockOf(field string) string {
	if slices.Contains(modalFields, field) {
		return field
	}
	return "name"
}

// requestView is the request form, prefilled from a draft and the
// defaults: what a draft leaves to the policy (size from the load,
// instances and backups from the client type) stays empty, its default
// named in the hint, so that changing the environment or load still
// changes them.
func (b *Bot) requestView(d request.DatabaseRequest, meta viewMeta) slack.ModalViewRequest {
	p := b.policy
	def := func(v, fallback string) string {
		if v != "" {
			return v
		}
		return fallback
	}
	envs := p.EnvironmentNames()
	env := def(d.Environment, envs[0])
	var envOpts []choice
	for _, e := range envs {
		label := e
		if desc := p.Environments[e].Description; desc != "" {
			label = e + ": " + desc
		}
		envOpts = append(envOpts, choice{label, e})
	}
	var loadOpts, sizeOpts, versionOpts []choice
	for _, l := range request.Loads() {
		loadOpts = append(loadOpts, choice{fmt.Sprintf("%s (%s)", l, p.Loads[l]), string(l)})
	}
	for _, s := range request.Sizes() {
		label := string(s)
		if sp, ok := p.Preset(s); ok {
			label = fmt.Sprintf("%s: %s CPU, %s memory, %s", s, sp.CPU.Request, sp.Memory.Request, sp.Storage)
		}
		sizeOpts = append(sizeOpts, choice{label, string(s)})
	}
	for _, v := range p.Versions() {
		versionOpts = append(versionOpts, choice{strconv.Itoa(v), strconv.Itoa(v)})
	}
	clientOpts := []choice{{"Startup", "startup"}, {"SME", "sme"}, {"Enterprise", "enterprise"}}
	schedOpts := []choice{{"No backups", "none"}, {"Hourly", "hourly"}, {"Daily", "daily"}, {"Weekly", "weekly"}}
	version := strconv.Itoa(p.Postgres.Default)
	if d.PostgresVersion != 0 {
		version = strconv.Itoa(d.PostgresVersion)
	}
	hour := ""
	if d.Backups.Hour != nil {
		hour = strconv.Itoa(*d.Backups.Hour)
	}
	instances := ""
	if d.Instances != 0 {
		instances = strconv.Itoa(d.Instances)
	}
	blocks := []slack.Block{
		textInput("name", "Name", fmt.Sprintf("Lowercase letters, digits and '-', at most %d characters.", request.MaxNameLength()), d.Name, "ledger", false),
		textInput("team", "Team", "The owning team; the namespace is derived from it.", d.Team, "billing", false),
		selectInput("environment", "Environment", "", envOpts, env, false),
		selectInput("clientType", "Client type", "Sets the default instances and backups.", clientOpts, def(string(d.ClientType), string(p.Defaults.ClientType)), false),
		selectInput("load", "Expected load", "Picks the size, unless you pick one below.", loadOpts, def(string(d.Load), string(p.Defaults.Load)), false),
		selectInput("size", "Size (optional)", "Overrides the load. /pg sizes shows the presets.", sizeOpts, string(d.Size), true),
		numberInput("instances", "Instances (optional)", "Empty: the client type's default for the environment.", instances, true),
		selectInput("postgresVersion", "PostgreSQL version", "", versionOpts, version, false),
		textInput("storage", "Storage (optional)", "Overrides the preset's volume, like 100Gi (max "+p.MaxStorage+").", d.Storage, "100Gi", true),
		selectInput("backups.schedule", "Backups (optional)", "Empty: the client type's default for the environment.", schedOpts, string(d.Backups.Schedule), true),
		numberInput("backups.hour", "Backup hour, UTC (optional)", fmt.Sprintf("Daily and weekly backups; default %d.", p.Defaults.BackupHour), hour, true),
		textInput("backups.retention", "Backup retention (optional)", "Like 14d, 4w or 3m; empty: the default for the client type.", d.Backups.Retention, "14d", true),
		checkboxInput("logicalBackup", "Logical backup", "Also take a nightly pg_dump.", d.LogicalBackup),
		textInput("databases", "Extra databases (optional)", fmt.Sprintf("Comma-separated, at most %d, like reports, audit.", p.MaxDatabases), strings.Join(d.Databases, ", "), "reports, audit", true),
	}
	return slack.ModalViewRequest{
		Type:            slack.VTModal,
		CallbackID:      callbackNew,
		Title:           plain("New PostgreSQL"),
		Submit:          plain("Request"),
		Close:           plain("Cancel"),
		Blocks:          slack.Blocks{BlockSet: blocks},
		PrivateMetadata: meta.encode(),
	}
}

func textInput(id, label, hint, initial, placeholder string, optional bool) *slack.InputBlock {
	el := slack.NewPlainTextInputBlockElement(plain(placeholder), id).WithInitialValue(initial)
	return slack.NewInputBlock(id, plain(label), hintText(hint), el).WithOptional(optional)
}

func numberInput(id, label, hint, initial string, optional bool) *slack.InputBlock {
	el := slack.NewNumberInputBlockElement(nil, id, false).WithInitialValue(initial)
	return slack.NewInputBlock(id, plain(label), hintText(hint), el).WithOptional(optional)
}

func selectInput(id, label, hint string, choices []choice, initial string, optional bool) *slack.InputBlock {
	opts := make([]*slack.OptionBlockObject, len(choices))
	var initialOpt *slack.OptionBlockObject
	for i, c := range choices {
		opts[i] = slack.NewOptionBlockObject(c.value, plain(c.label), nil)
		if c.value == initial {
			initialOpt = opts[i]
		}
	}
	el := slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, plain("Choose"), id, opts...)
	el.InitialOption = initialOpt
	return slack.NewInputBlock(id, plain(label), hintText(hint), el).WithOptional(optional)
}

func checkboxInput(id, label, option string, checked bool) *slack.InputBlock {
	opt := slack.NewOptionBlockObject("yes", plain(option), nil)
	el := slack.NewCheckboxGroupsBlockElement(id, opt)
	if checked {
		el.InitialOptions = []*slack.OptionBlockObject{opt}
	}
	return slack.NewInputBlock(id, plain(label), nil, el).WithOptional(true)
}

func hintText(s string) *slack.TextBlockObject {
	if s == "" {
		return nil
	}
	return plain(s)
}

// readRequestView reads a submitted request form into a request; values
// that cannot be read at all are problems on their block.
func (b *Bot) readRequestView(state *slack.ViewState) (request.DatabaseRequest, request.Problems) {
	var r request.DatabaseRequest
	var pr request.Problems
	if state == nil {
		return r, request.Problems{{Field: "name", Message: "the form came back empty"}}
	}
	for _, field := range modalFields {
		act, ok := state.Values[field][field]
		if !ok {
			continue
		}
		value := act.Value
		switch {
		case field == "logicalBackup":
			value = strconv.FormatBool(len(act.SelectedOptions) > 0)
		case act.SelectedOption.Value != "":
			value = act.SelectedOption.Value
		}
		if strings.TrimSpace(value) == "" {
			continue
		}
		if msg := setField(b.policy, &r, field, value); msg != "" {
			pr = append(pr, request.Problem{Field: field, Message: msg})
		}
	}
	return r, pr
}

// viewErrors maps problems to the form's blocks, for Slack to show inline.
func viewErrors(pr request.Problems) *slack.ViewSubmissionResponse {
	errs := map[string]string{}
	for _, p := range pr {
		id := blockOf(p.Field)
		msg := p.Message
		if id != p.Field {
			msg = p.Field + ": " + msg
		}
		if prev, ok := errs[id]; ok {
			msg = prev + "; " + msg
		}
		errs[id] = msg
	}
	return slack.NewErrorsViewSubmissionResponse(errs)
}

// deleteView asks to type the database's name to delete it.
func deleteView(meta viewMeta) slack.ModalViewRequest {
	el := slack.NewPlainTextInputBlockElement(plain(meta.Name), "confirm")
	return slack.ModalViewRequest{
		Type:       slack.VTModal,
		CallbackID: callbackDelete,
		Title:      plain("Delete database"),
		Submit:     plain("Delete"),
		Close:      plain("Keep it"),
		Blocks: slack.Blocks{BlockSet: []slack.Block{
			section(fmt.Sprintf(":warning: Deleting `%s`%s destroys its cluster, its volumes and its data once the pull request is merged. Backups in the object store are kept.", meta.Name, where(target{env: meta.Env, team: meta.Team}))),
			slack.NewInputBlock("confirm", plain("Type the name to confirm"), nil, el),
		}},
		PrivateMetadata: meta.encode(),
	}
}
