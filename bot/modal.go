package bot

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/slack-go/slack"

	"github.com/clustropg/clustro/bot/blockkit"
	"github.com/clustropg/clustro/request"
)

// Callback ids of the modals.
const (
	callbackNew    = "pg.new"
	callbackDelete = "pg.delete"
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
// element's action_id is the field's name as request.Problems names it,
// and so is its block's block_id, but for envFields.
var modalFields = []string{
	"name", "team", "environment", "clientType", "load", "size", "instances", "postgresVersion",
	"storage", "backups.schedule", "backups.hour", "backups.retention", "logicalBackup", "databases",
}

// envFields are the inputs whose choices depend on the environment. Their
// block_id is "<field>@<environment>": Slack keeps what a user entered in
// an input across views.update only when its block_id stays the same, so
// when the environment changes these inputs start afresh, showing what the
// rebuilt form preselects (what was entered, if the new environment
// allows it) and never a choice it does not offer.
var envFields = []string{"load", "size", "instances", "backups.schedule"}

// fieldBlock is the block_id of a field's input in a form for env.
func fieldBlock(field, env string) string {
	if slices.Contains(envFields, field) {
		return field + "@" + env
	}
	return field
}

// blockOfField returns the block_id, among a submitted form's, of a
// field's input; "" if the form has none.
func blockOfField(state *slack.ViewState, field string) string {
	if state == nil {
		return ""
	}
	for id := range state.Values {
		if f, _, _ := strings.Cut(id, "@"); f == field {
			return id
		}
	}
	return ""
}

// requestView is the request form, prefilled from a draft and the
// defaults: what a draft leaves to the policy (size from the load,
// instances and backups from the client type) stays empty, its default
// named in the hint, so that changing the environment or load still
// changes them.
//
// Its choices are those of the environment it shows (the draft's, else
// the first): the sizes and loads it allows, its instance range (the
// number input's bounds) and backup schedules without "none" where
// backups are required. Changing the environment sends a block_actions
// (dispatch_action), and the form is rebuilt for the new one (see
// onFormEnvironment); a value the new environment does not allow is left
// empty rather than prefilled.
func (b *Bot) requestView(d request.DatabaseRequest, meta viewMeta) slack.ModalViewRequest {
	p := b.policy
	def := func(v, fallback string) string {
		if v != "" {
			return v
		}
		return fallback
	}
	env := def(d.Environment, p.EnvironmentNames()[0])
	o, _ := p.Offer(env)
	var versionOpts []choice
	for _, v := range p.Versions() {
		versionOpts = append(versionOpts, choice{strconv.Itoa(v), strconv.Itoa(v)})
	}
	version := strconv.Itoa(p.Postgres.Default)
	if d.PostgresVersion != 0 {
		version = strconv.Itoa(d.PostgresVersion)
	}
	hour := ""
	if d.Backups.Hour != nil {
		hour = strconv.Itoa(*d.Backups.Hour)
	}
	instances := ""
	if d.Instances >= o.MinInstances && d.Instances <= o.MaxInstances {
		instances = strconv.Itoa(d.Instances)
	}
	instancesHint := fmt.Sprintf("%d to %d in %s. Empty: the client type's default for the environment.", o.MinInstances, o.MaxInstances, env)
	backupsHint := "Empty: the client type's default for the environment."
	if o.BackupsRequired {
		backupsHint = env + " requires backups. " + backupsHint
	}
	envInput := selectInput("environment", "Environment", "The choices below are what it allows.", environmentChoices(p, "%s: %s"), env, false)
	envInput.DispatchAction = true
	blocks := []slack.Block{
		textInput("name", "Name", fmt.Sprintf("Lowercase letters, digits and '-', at most %d characters.", request.MaxNameLength()), d.Name, "ledger", false),
		textInput("team", "Team", "The owning team; the namespace is derived from it.", d.Team, "billing", false),
		envInput,
		selectInput("clientType", "Client type", "Sets the default instances and backups.", clientTypeChoices(), def(string(d.ClientType), string(p.Defaults.ClientType)), false),
		selectInput("load", "Expected load", "Picks the size, unless you pick one below.", loadChoices(p, o), def(string(d.Load), string(p.Defaults.Load)), false),
		selectInput("size", "Size (optional)", "Overrides the load. /pg sizes shows the presets.", sizeChoices(p, o), string(d.Size), true),
		numberInput("instances", "Instances (optional)", instancesHint, instances, o.MinInstances, o.MaxInstances, true),
		selectInput("postgresVersion", "PostgreSQL version", "", versionOpts, version, false),
		textInput("storage", "Storage (optional)", "Overrides the preset's volume, like 100Gi (max "+p.MaxStorage+").", d.Storage, "100Gi", true),
		selectInput("backups.schedule", "Backups (optional)", backupsHint, scheduleChoices(o), string(d.Backups.Schedule), true),
		numberInput("backups.hour", "Backup hour, UTC (optional)", fmt.Sprintf("Daily and weekly backups; default %d.", p.Defaults.BackupHour), hour, 0, 23, true),
		textInput("backups.retention", "Backup retention (optional)", "Like 14d, 4w or 3m; empty: the default for the client type.", d.Backups.Retention, "14d", true),
		checkboxInput("logicalBackup", "Logical backup", "Also take a nightly pg_dump.", d.LogicalBackup),
		textInput("databases", "Extra databases (optional)", fmt.Sprintf("Comma-separated, at most %d, like reports, audit.", p.MaxDatabases), strings.Join(d.Databases, ", "), "reports, audit", true),
	}
	for _, bl := range blocks {
		in := bl.(*slack.InputBlock)
		in.BlockID = fieldBlock(in.BlockID, env)
	}
	if len(o.Loads) == 0 {
		// No load picks a size allowed here: the size is asked instead.
		blocks = slices.DeleteFunc(blocks, func(b slack.Block) bool { return b.(*slack.InputBlock).BlockID == fieldBlock("load", env) })
		for _, bl := range blocks {
			if in := bl.(*slack.InputBlock); in.BlockID == fieldBlock("size", env) {
				in.Label, in.Hint, in.Optional = plain("Size"), plain("No expected load picks a size allowed in "+clip(env, 20)+": pick one. /pg sizes shows the presets."), false
			}
		}
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
	el := slack.NewPlainTextInputBlockElement(plainClipped(placeholder, blockkit.MaxPlaceholder), id).WithInitialValue(clip(initial, blockkit.MaxInputLength))
	return slack.NewInputBlock(id, plainClipped(label, blockkit.MaxLabel), hintText(hint), el).WithOptional(optional)
}

// numberInput is a whole number from min to max (Slack's client refuses
// others).
func numberInput(id, label, hint, initial string, min, max int, optional bool) *slack.InputBlock {
	el := slack.NewNumberInputBlockElement(nil, id, false).WithInitialValue(initial).
		WithMinValue(strconv.Itoa(min)).WithMaxValue(strconv.Itoa(max))
	return slack.NewInputBlock(id, plainClipped(label, blockkit.MaxLabel), hintText(hint), el).WithOptional(optional)
}

// selectInput is a static select of choices (at most
// blockkit.MaxSelectOptions), initial selected when it is one of them.
func selectInput(id, label, hint string, choices []choice, initial string, optional bool) *slack.InputBlock {
	choices = choices[:min(len(choices), blockkit.MaxSelectOptions)]
	opts := make([]*slack.OptionBlockObject, len(choices))
	var initialOpt *slack.OptionBlockObject
	for i, c := range choices {
		opts[i] = slack.NewOptionBlockObject(c.value, plainClipped(c.label, blockkit.MaxOptionText), nil)
		if c.value == initial {
			initialOpt = opts[i]
		}
	}
	el := slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, plain("Choose"), id, opts...)
	el.InitialOption = initialOpt
	return slack.NewInputBlock(id, plainClipped(label, blockkit.MaxLabel), hintText(hint), el).WithOptional(optional)
}

func checkboxInput(id, label, option string, checked bool) *slack.InputBlock {
	opt := slack.NewOptionBlockObject("yes", plainClipped(option, blockkit.MaxOptionText), nil)
	el := slack.NewCheckboxGroupsBlockElement(id, opt)
	if checked {
		el.InitialOptions = []*slack.OptionBlockObject{opt}
	}
	return slack.NewInputBlock(id, plainClipped(label, blockkit.MaxLabel), nil, el).WithOptional(true)
}

func hintText(s string) *slack.TextBlockObject {
	if s == "" {
		return nil
	}
	return plainClipped(s, blockkit.MaxHint)
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
		act, ok := state.Values[blockOfField(state, field)][field]
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

// onFormEnvironment rebuilds the request form for the environment just
// picked: its choices become that environment's, and what was entered
// stays (Slack keeps the inputs' state across views.update; the rebuilt
// form is also prefilled from it, without what the new environment does
// not allow). It runs after the acknowledgement; the newest pick wins.
func (b *Bot) onFormEnvironment(ctx context.Context, cb slack.InteractionCallback, act *slack.BlockAction) error {
	d, _ := b.readRequestView(cb.View.State)
	if env := act.SelectedOption.Value; env != "" {
		d.Environment = env
	}
	return b.updateView(ctx, cb.View.ID, b.requestView(d, decodeMeta(cb.View.PrivateMetadata)))
}

// viewErrors maps problems to the blocks of the submitted form (state),
// for Slack to show inline; a problem of a field the form has no input for
// goes on the name, saying which field.
func viewErrors(state *slack.ViewState, pr request.Problems) *slack.ViewSubmissionResponse {
	errs := map[string]string{}
	for _, p := range pr {
		id := blockOfField(state, p.Field)
		msg := p.Message
		if id == "" {
			id, msg = blockOfField(state, "name"), p.Field+": "+msg
		}
		if id == "" {
			id = "name"
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
	el := slack.NewPlainTextInputBlockElement(plainClipped(meta.Name, blockkit.MaxPlaceholder), "confirm")
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
