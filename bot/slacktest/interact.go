package slacktest

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/slack-go/slack"
)

// User is someone clicking or submitting in the fake workspace.
type User struct {
	ID   string
	Name string
}

// ClickButton builds the block_actions interaction Slack sends when user
// clicks the button actionID of a message the bot posted, with a fresh
// trigger_id and response_url. It fails if there is no such button.
func (s *Server) ClickButton(channel, ts, actionID string, user User) (slack.InteractionCallback, error) {
	m, ok := s.Message(channel, ts)
	if !ok {
		return slack.InteractionCallback{}, fmt.Errorf("no message %s in %s", ts, channel)
	}
	cb, err := s.click(m.Blocks, actionID, user)
	if err != nil {
		return cb, fmt.Errorf("message %s: %w", ts, err)
	}
	cb.Channel.ID = channel
	cb.Container = slack.Container{Type: "message", MessageTs: ts, ChannelID: channel, ThreadTs: m.ThreadTS}
	cb.Message.Msg.Text, cb.Message.Timestamp, cb.Message.ThreadTimestamp = m.Text, ts, m.ThreadTS
	return cb, nil
}

// ClickInResponse builds the block_actions interaction Slack sends when
// user clicks the button actionID of an ephemeral message the bot posted
// on a response_url (call is that post, from CallsTo("response_url")) in
// channel. The interaction carries a fresh response_url, on which the bot
// may replace that message (replace_original).
func (s *Server) ClickInResponse(call Call, channel, actionID string, user User) (slack.InteractionCallback, error) {
	if call.Method != "response_url" || !call.OK() {
		return slack.InteractionCallback{}, fmt.Errorf("not a response_url post that Slack took: %s %d %s", call.Method, call.Status, call.Error)
	}
	cb, err := s.click(json.RawMessage(call.Args.Get("blocks")), actionID, user)
	if err != nil {
		return cb, fmt.Errorf("response: %w", err)
	}
	cb.Channel.ID = channel
	cb.Container = slack.Container{Type: "message", ChannelID: channel, IsEphemeral: true}
	cb.Message.Msg.Text = call.Args.Get("text")
	return cb, nil
}

// click builds the block_actions for the button actionID among blocks.
func (s *Server) click(raw json.RawMessage, actionID string, user User) (slack.InteractionCallback, error) {
	var blocks slack.Blocks
	if err := json.Unmarshal(raw, &blocks); err != nil {
		return slack.InteractionCallback{}, fmt.Errorf("blocks: %w", err)
	}
	for _, b := range blocks.BlockSet {
		ab, ok := b.(*slack.ActionBlock)
		if !ok || ab.Elements == nil {
			continue
		}
		for _, el := range ab.Elements.ElementSet {
			btn, ok := el.(*slack.ButtonBlockElement)
			if !ok || btn.ActionID != actionID {
				continue
			}
			cb := s.interaction(slack.InteractionTypeBlockActions, user)
			cb.Message = slack.Message{Msg: slack.Msg{Type: "message", User: BotUserID, BotID: BotID, Blocks: blocks}}
			label := ""
			if btn.Text != nil {
				label = btn.Text.Text
			}
			cb.ActionCallback.BlockActions = []*slack.BlockAction{{
				ActionID: btn.ActionID, BlockID: ab.BlockID, Type: "button", Value: btn.Value,
				Text: slack.TextBlockObject{Type: slack.PlainTextType, Text: label}, ActionTs: s.NextTS(),
			}}
			return cb, nil
		}
	}
	return slack.InteractionCallback{}, fmt.Errorf("no button %q", actionID)
}

// Buttons lists the action ids of a message's buttons.
func (s *Server) Buttons(channel, ts string) []string {
	m, ok := s.Message(channel, ts)
	if !ok {
		return nil
	}
	var ids []string
	for _, btn := range buttons(m.Blocks) {
		ids = append(ids, btn.ActionID)
	}
	return ids
}

// ButtonLabels lists the labels of a message's buttons.
func (s *Server) ButtonLabels(channel, ts string) []string {
	m, ok := s.Message(channel, ts)
	if !ok {
		return nil
	}
	var labels []string
	for _, btn := range buttons(m.Blocks) {
		if btn.Text != nil {
			labels = append(labels, btn.Text.Text)
		}
	}
	return labels
}

// ButtonByLabel returns the action id of the button labelled label.
func (s *Server) ButtonByLabel(channel, ts, label string) (string, bool) {
	m, ok := s.Message(channel, ts)
	if !ok {
		return "", false
	}
	for _, btn := range buttons(m.Blocks) {
		if btn.Text != nil && strings.EqualFold(btn.Text.Text, label) {
			return btn.ActionID, true
		}
	}
	return "", false
}

func buttons(raw json.RawMessage) []*slack.ButtonBlockElement {
	var blocks slack.Blocks
	json.Unmarshal(raw, &blocks)
	var out []*slack.ButtonBlockElement
	for _, b := range blocks.BlockSet {
		if ab, ok := b.(*slack.ActionBlock); ok && ab.Elements != nil {
			for _, el := range ab.Elements.ElementSet {
				if btn, ok := el.(*slack.ButtonBlockElement); ok {
					out = append(out, btn)
				}
			}
		}
	}
	return out
}

// viewHead is what the fake reads of a view besides its inputs.
type viewHead struct {
	CallbackID      string                 `json:"callback_id"`
	PrivateMetadata string                 `json:"private_metadata"`
	Title           *slack.TextBlockObject `json:"title"`
}

// viewInput is an input block of a view.
type viewInput struct {
	Type           string `json:"type"`
	BlockID        string `json:"block_id"`
	Optional       bool   `json:"optional"`
	DispatchAction bool   `json:"dispatch_action"`
	Element        struct {
		Type          string `json:"type"`
		ActionID      string `json:"action_id"`
		InitialValue  string `json:"initial_value"`
		MinValue      string `json:"min_value"`
		MaxValue      string `json:"max_value"`
		InitialOption *struct {
			Value string `json:"value"`
		} `json:"initial_option"`
		InitialOptions []struct {
			Value string `json:"value"`
		} `json:"initial_options"`
		Options []struct {
			Value string                 `json:"value"`
			Text  *slack.TextBlockObject `json:"text"`
		} `json:"options"`
	} `json:"element"`
}

// offers reports whether the input's values are options.
func (in viewInput) offers() bool {
	return in.Element.Type == "static_select" || in.Element.Type == "checkboxes" || in.Element.Type == "radio_buttons"
}

// offered reports whether value is one of the input's options.
func (in viewInput) offered(value string) bool {
	return slices.ContainsFunc(in.Element.Options, func(o struct {
		Value string                 `json:"value"`
		Text  *slack.TextBlockObject `json:"text"`
	}) bool {
		return o.Value == value
	})
}

// initial is the input's initial value (an option's value for a select).
func (in viewInput) initial() string {
	el := in.Element
	switch {
	case el.InitialOption != nil:
		return el.InitialOption.Value
	case len(el.InitialOptions) > 0:
		return el.InitialOptions[0].Value
	}
	return el.InitialValue
}

// readView reads a view's head and its input blocks, in order.
func readView(raw json.RawMessage) (viewHead, []viewInput, error) {
	var v struct {
		viewHead
		Blocks []viewInput `json:"blocks"`
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return viewHead{}, nil, err
	}
	var inputs []viewInput
	for _, b := range v.Blocks {
		if b.Type == "input" {
			inputs = append(inputs, b)
		}
	}
	return v.viewHead, inputs, nil
}

func inputByID(inputs []viewInput, blockID string) (viewInput, bool) {
	for _, in := range inputs {
		if in.BlockID == blockID {
			return in, true
		}
	}
	return viewInput{}, false
}

func (s *Server) view(viewID string) (*View, error) {
	for _, v := range s.Views() {
		if v.ID == viewID {
			return &v, nil
		}
	}
	return nil, fmt.Errorf("no view %s was opened", viewID)
}

// SelectInView builds the block_actions interaction Slack sends when user
// picks value in the select of block blockID of an open view: Slack sends
// one only for an input block with dispatch_action, and only for a value
// the select offers. The pick is kept in the view's state (a later
// SubmitView sends it, and views.update keeps it while the view offers it).
func (s *Server) SelectInView(viewID, blockID, value string, user User) (slack.InteractionCallback, error) {
	v, err := s.view(viewID)
	if err != nil {
		return slack.InteractionCallback{}, err
	}
	head, inputs, err := readView(v.JSON)
	if err != nil {
		return slack.InteractionCallback{}, fmt.Errorf("view %s: %w", viewID, err)
	}
	in, ok := inputByID(inputs, blockID)
	switch {
	case !ok:
		return slack.InteractionCallback{}, fmt.Errorf("view %s has no input %s", viewID, blockID)
	case in.Element.Type != "static_select":
		return slack.InteractionCallback{}, fmt.Errorf("view %s: input %s is a %s, not a select", viewID, blockID, in.Element.Type)
	case !in.offered(value):
		return slack.InteractionCallback{}, fmt.Errorf("view %s: %q is not an option of %s", viewID, value, blockID)
	}
	s.mu.Lock()
	for _, vv := range s.views {
		if vv.ID == viewID {
			vv.State[blockID] = value
			v.State = maps.Clone(vv.State)
		}
	}
	s.mu.Unlock()
	if !in.DispatchAction {
		return slack.InteractionCallback{}, fmt.Errorf("view %s: input %s has no dispatch_action, so Slack sends nothing when it changes", viewID, blockID)
	}
	state, err := viewState(viewID, inputs, v.State, nil, false)
	if err != nil {
		return slack.InteractionCallback{}, err
	}
	cb := s.interaction(slack.InteractionTypeBlockActions, user)
	cb.ResponseURL = "" // block_actions from a modal carry none
	cb.Container = slack.Container{Type: "view", ViewID: viewID}
	cb.View = slack.View{ID: viewID, Hash: v.Hash, Type: slack.VTModal, TeamID: TeamID, CallbackID: head.CallbackID,
		PrivateMetadata: head.PrivateMetadata, State: state, Title: head.Title, AppID: AppID, BotID: BotID}
	cb.ActionCallback.BlockActions = []*slack.BlockAction{{
		ActionID: in.Element.ActionID, BlockID: blockID, Type: slack.ActionType(in.Element.Type),
		SelectedOption: option(in, value), ActionTs: s.NextTS(),
	}}
	return cb, nil
}

func option(in viewInput, value string) slack.OptionBlockObject {
	for _, o := range in.Element.Options {
		if o.Value == value {
			text := slack.TextBlockObject{Type: slack.PlainTextType, Text: value}
			if o.Text != nil {
				text = *o.Text
			}
			return slack.OptionBlockObject{Value: value, Text: &text}
		}
	}
	return slack.OptionBlockObject{Value: value, Text: &slack.TextBlockObject{Type: slack.PlainTextType, Text: value}}
}

// SubmitView builds the view_submission Slack sends when user submits a
// modal the bot opened: values maps block ids to what the user entered
// (the option's value for a select, "yes" to tick a checkbox); inputs not
// in values keep what was picked with SelectInView, else their initial
// value. Like Slack's client, it refuses a submission with a required
// input empty, a select value not offered, or a number outside its
// input's bounds.
func (s *Server) SubmitView(viewID string, user User, values map[string]string) (slack.InteractionCallback, error) {
	v, err := s.view(viewID)
	if err != nil {
		return slack.InteractionCallback{}, err
	}
	head, inputs, err := readView(v.JSON)
	if err != nil {
		return slack.InteractionCallback{}, fmt.Errorf("view %s: %w", viewID, err)
	}
	state, err := viewState(viewID, inputs, v.State, values, true)
	if err != nil {
		return slack.InteractionCallback{}, err
	}
	cb := s.interaction(slack.InteractionTypeViewSubmission, user)
	cb.View = slack.View{ID: v.ID, Hash: v.Hash, Type: slack.VTModal, TeamID: TeamID, CallbackID: head.CallbackID,
		PrivateMetadata: head.PrivateMetadata, State: state, Title: head.Title, AppID: AppID, BotID: BotID}
	return cb, nil
}

// viewState is a view's state as Slack sends it: for each input, what
// values gives, else what was picked, else the initial value. A
// submission needs every required input filled.
func viewState(viewID string, inputs []viewInput, picked, values map[string]string, submit bool) (*slack.ViewState, error) {
	state := &slack.ViewState{Values: map[string]map[string]slack.BlockAction{}}
	for _, in := range inputs {
		el := in.Element
		value, given := values[in.BlockID]
		if !given {
			value, given = picked[in.BlockID]
		}
		if !given {
			value = in.initial()
		}
		if value == "" && !in.Optional && submit {
			return nil, fmt.Errorf("view %s: the required input %s is empty (Slack would not send it)", viewID, in.BlockID)
		}
		act := slack.BlockAction{ActionID: el.ActionID, BlockID: in.BlockID, Type: slack.ActionType(el.Type)}
		switch {
		case in.offers() && value != "":
			if !in.offered(value) {
				return nil, fmt.Errorf("view %s: %q is not an option of %s", viewID, value, in.BlockID)
			}
			if el.Type == "checkboxes" {
				act.SelectedOptions = []slack.OptionBlockObject{option(in, value)}
			} else {
				act.SelectedOption = option(in, value)
			}
		case el.Type == "checkboxes":
			act.SelectedOptions = []slack.OptionBlockObject{}
		case !in.offers():
			if el.Type == "number_input" && value != "" && !inRange(value, el.MinValue, el.MaxValue) {
				return nil, fmt.Errorf("view %s: %s is outside %s's %s to %s (Slack's client refuses it)", viewID, value, in.BlockID, el.MinValue, el.MaxValue)
			}
			act.Value = value
		}
		state.Values[in.BlockID] = map[string]slack.BlockAction{el.ActionID: act}
	}
	return state, nil
}

// inRange reports whether a number input's value is a number within its
// bounds (each optional).
func inRange(value, lo, hi string) bool {
	v, err := strconv.ParseFloat(value, 64)
	if err != nil {
		return false
	}
	if l, err := strconv.ParseFloat(lo, 64); err == nil && v < l {
		return false
	}
	if h, err := strconv.ParseFloat(hi, 64); err == nil && v > h {
		return false
	}
	return true
}

// interaction is what every interaction payload carries.
func (s *Server) interaction(typ slack.InteractionType, user User) slack.InteractionCallback {
	cb := slack.InteractionCallback{
		Type:        typ,
		Token:       "deprecated-verification-token",
		TriggerID:   s.TriggerID(),
		ResponseURL: s.ResponseURL(),
		APIAppID:    AppID,
		Team:        slack.Team{ID: TeamID, Domain: "fake"},
		User:        slack.User{ID: user.ID, Name: user.Name, TeamID: TeamID},
	}
	return cb
}
