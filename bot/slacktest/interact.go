package slacktest

import (
	"encoding/json"
	"fmt"
	"slices"
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
	var blocks slack.Blocks
	if err := json.Unmarshal(m.Blocks, &blocks); err != nil {
		return slack.InteractionCallback{}, fmt.Errorf("message %s: blocks: %w", ts, err)
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
			cb.Channel.ID = channel
			cb.Container = slack.Container{Type: "message", MessageTs: ts, ChannelID: channel, ThreadTs: m.ThreadTS}
			cb.Message = slack.Message{Msg: slack.Msg{Type: "message", Text: m.Text, Timestamp: ts, ThreadTimestamp: m.ThreadTS, User: BotUserID, BotID: BotID, Blocks: blocks}}
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
	return slack.InteractionCallback{}, fmt.Errorf("message %s has no button %q", ts, actionID)
}

// Buttons lists the action ids of a message's buttons.
func (s *Server) Buttons(channel, ts string) []string {
	m, ok := s.Message(channel, ts)
	if !ok {
		return nil
	}
	var blocks slack.Blocks
	json.Unmarshal(m.Blocks, &blocks)
	var ids []string
	for _, b := range blocks.BlockSet {
		if ab, ok := b.(*slack.ActionBlock); ok && ab.Elements != nil {
			for _, el := range ab.Elements.ElementSet {
				if btn, ok := el.(*slack.ButtonBlockElement); ok {
					ids = append(ids, btn.ActionID)
				}
			}
		}
	}
	return ids
}

// ButtonByLabel returns the action id of the button labelled label.
func (s *Server) ButtonByLabel(channel, ts, label string) (string, bool) {
	m, ok := s.Message(channel, ts)
	if !ok {
		return "", false
	}
	var blocks slack.Blocks
	json.Unmarshal(m.Blocks, &blocks)
	for _, b := range blocks.BlockSet {
		if ab, ok := b.(*slack.ActionBlock); ok && ab.Elements != nil {
			for _, el := range ab.Elements.ElementSet {
				if btn, ok := el.(*slack.ButtonBlockElement); ok && btn.Text != nil && strings.EqualFold(btn.Text.Text, label) {
					return btn.ActionID, true
				}
			}
		}
	}
	return "", false
}

// SubmitView builds the view_submission Slack sends when user submits a
// modal the bot opened: values maps block ids to what the user entered
// (the option's value for a select, "yes" to tick a checkbox); inputs not
// in values keep their initial value. Like Slack's client, it refuses a
// submission with a required input empty or a select value not offered.
func (s *Server) SubmitView(viewID string, user User, values map[string]string) (slack.InteractionCallback, error) {
	var v *View
	for _, vv := range s.Views() {
		if vv.ID == viewID {
			v = &vv
		}
	}
	if v == nil {
		return slack.InteractionCallback{}, fmt.Errorf("no view %s was opened", viewID)
	}
	var view struct {
		CallbackID      string `json:"callback_id"`
		PrivateMetadata string `json:"private_metadata"`
		Title           *slack.TextBlockObject
		Blocks          []struct {
			Type     string `json:"type"`
			BlockID  string `json:"block_id"`
			Optional bool   `json:"optional"`
			Element  struct {
				Type          string `json:"type"`
				ActionID      string `json:"action_id"`
				InitialValue  string `json:"initial_value"`
				InitialOption *struct {
					Value string `json:"value"`
				} `json:"initial_option"`
				InitialOptions []struct {
					Value string `json:"value"`
				} `json:"initial_options"`
				Options []struct {
					Value string `json:"value"`
				} `json:"options"`
			} `json:"element"`
		} `json:"blocks"`
	}
	if err := json.Unmarshal(v.JSON, &view); err != nil {
		return slack.InteractionCallback{}, fmt.Errorf("view %s: %w", viewID, err)
	}
	state := &slack.ViewState{Values: map[string]map[string]slack.BlockAction{}}
	for _, b := range view.Blocks {
		if b.Type != "input" {
			continue
		}
		el := b.Element
		value, given := values[b.BlockID]
		if !given {
			switch {
			case el.InitialOption != nil:
				value = el.InitialOption.Value
			case len(el.InitialOptions) > 0:
				value = el.InitialOptions[0].Value
			default:
				value = el.InitialValue
			}
		}
		if value == "" && !b.Optional {
			return slack.InteractionCallback{}, fmt.Errorf("view %s: the required input %s is empty (Slack would not send it)", viewID, b.BlockID)
		}
		act := slack.BlockAction{ActionID: el.ActionID, BlockID: b.BlockID, Type: slack.ActionType(el.Type)}
		switch el.Type {
		case "static_select", "checkboxes":
			if value != "" {
				offered := slices.ContainsFunc(el.Options, func(o struct {
					Value string `json:"value"`
				}) bool {
					return o.Value == value
				})
				if !offered {
					return slack.InteractionCallback{}, fmt.Errorf("view %s: %q is not an option of %s", viewID, value, b.BlockID)
				}
				opt := slack.OptionBlockObject{Value: value, Text: &slack.TextBlockObject{Type: slack.PlainTextType, Text: value}}
				if el.Type == "checkboxes" {
					act.SelectedOptions = []slack.OptionBlockObject{opt}
				} else {
					act.SelectedOption = opt
				}
			} else if el.Type == "checkboxes" {
				act.SelectedOptions = []slack.OptionBlockObject{}
			}
		default:
			act.Value = value
		}
		state.Values[b.BlockID] = map[string]slack.BlockAction{el.ActionID: act}
	}
	cb := s.interaction(slack.InteractionTypeViewSubmission, user)
	cb.View = slack.View{ID: v.ID, Type: slack.VTModal, TeamID: TeamID, CallbackID: view.CallbackID,
		PrivateMetadata: view.PrivateMetadata, State: state, Title: view.Title, AppID: AppID, BotID: BotID}
	return cb, nil
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
