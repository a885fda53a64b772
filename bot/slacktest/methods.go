package slacktest

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"
)

// Slack's limits the fake enforces.
const (
	maxMessageBlocks = 50
	maxModalBlocks   = 100
	maxTitle         = 24
	maxMetadata      = 3000
	maxTextChars     = 40000
	maxBlockID       = 255
	maxButtonValue   = 2000
)

func (s *Server) authTest(url.Values, []byte) (any, string) {
	return map[string]any{
		"ok": true, "url": "https://fake.slack.com/", "team": "Fake", "user": "clustro",
		"team_id": TeamID, "user_id": BotUserID, "bot_id": BotID,
	}, ""
}

// checkMessage checks a message's text and blocks as chat.postMessage and
// chat.update do.
func checkMessage(args url.Values) string {
	text, blocks := args.Get("text"), args.Get("blocks")
	if text == "" && blocks == "" && args.Get("attachments") == "" {
		return "no_text"
	}
	if utf8.RuneCountInString(text) > maxTextChars {
		return "msg_too_long"
	}
	if blocks != "" {
		if e := checkBlocks(json.RawMessage(blocks), maxMessageBlocks, false); e != "" {
			return e
		}
	}
	return ""
}

// checkBlocks checks a blocks array: each block an object with a type, block
// ids unique and short, buttons' values short, at most max blocks; input
// blocks only in modals.
func checkBlocks(raw json.RawMessage, max int, modal bool) string {
	var blocks []map[string]json.RawMessage
	if err := json.Unmarshal(raw, &blocks); err != nil {
		return "invalid_blocks_format"
	}
	if len(blocks) > max {
		return "invalid_blocks"
	}
	ids := map[string]bool{}
	for _, b := range blocks {
		var typ, id string
		json.Unmarshal(b["type"], &typ)
		json.Unmarshal(b["block_id"], &id)
		if typ == "" || (typ == "input" && !modal) {
			return "invalid_blocks"
		}
		if id != "" {
			if ids[id] || len(id) > maxBlockID {
				return "invalid_blocks"
			}
			ids[id] = true
		}
		if typ == "input" && (b["label"] == nil || b["element"] == nil) {
			return "invalid_blocks"
		}
		if typ == "actions" {
			var els []struct {
				Type     string `json:"type"`
				ActionID string `json:"action_id"`
				Value    string `json:"value"`
			}
			json.Unmarshal(b["elements"], &els)
			actionIDs := map[string]bool{}
			for _, el := range els {
				if len(el.Value) > maxButtonValue || (el.ActionID != "" && actionIDs[el.ActionID]) {
					return "invalid_blocks"
				}
				actionIDs[el.ActionID] = true
			}
		}
	}
	return ""
}

func (s *Server) chatPostMessage(args url.Values, _ []byte) (any, string) {
	channel := args.Get("channel")
	if channel == "" {
		return nil, "channel_not_found"
	}
	if e := checkMessage(args); e != "" {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.away[channel]; e != "" {
		return nil, e
	}
	m := &Message{Channel: channel, TS: s.nextTS(), ThreadTS: args.Get("thread_ts"), Text: args.Get("text"), Blocks: rawOrNil(args.Get("blocks"))}
	s.messages = append(s.messages, m)
	return map[string]any{"ok": true, "channel": channel, "ts": m.TS, "message": messageJSON(m)}, ""
}

func (s *Server) chatUpdate(args url.Values, _ []byte) (any, string) {
	channel, ts := args.Get("channel"), args.Get("ts")
	if channel == "" {
		return nil, "channel_not_found"
	}
	if ts == "" {
		return nil, "message_not_found"
	}
	if e := checkMessage(args); e != "" {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.findMessage(channel, ts)
	if m == nil {
		return nil, "message_not_found"
	}
	m.Text, m.Blocks = args.Get("text"), rawOrNil(args.Get("blocks"))
	m.Updates++
	return map[string]any{"ok": true, "channel": channel, "ts": ts, "text": m.Text, "message": messageJSON(m)}, ""
}

func (s *Server) chatPostEphemeral(args url.Values, _ []byte) (any, string) {
	channel, user := args.Get("channel"), args.Get("user")
	if channel == "" {
		return nil, "channel_not_found"
	}
	if user == "" {
		return nil, "user_not_found"
	}
	if e := checkMessage(args); e != "" {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.away[channel]; e != "" {
		return nil, e
	}
	m := &Message{Channel: channel, TS: s.nextTS(), ThreadTS: args.Get("thread_ts"), Text: args.Get("text"),
		Blocks: rawOrNil(args.Get("blocks")), Ephemeral: true, User: user}
	s.messages = append(s.messages, m)
	return map[string]any{"ok": true, "message_ts": m.TS}, ""
}

func (s *Server) conversationsOpen(args url.Values, _ []byte) (any, string) {
	users := args.Get("users")
	if users == "" && args.Get("channel") == "" {
		return nil, "users_list_not_supplied"
	}
	if strings.Contains(users, ",") {
		return nil, "not_supported_in_test" // the bot opens one-to-one DMs only
	}
	if users == BotUserID {
		return nil, "cannot_dm_bot"
	}
	return map[string]any{"ok": true, "channel": map[string]any{"id": DMChannel(users), "is_im": true, "user": users}}, ""
}

// DMChannel is the id of the direct message channel with a user.
func DMChannel(user string) string { return "D" + strings.TrimPrefix(user, "U") }

func (s *Server) usergroupsUsersList(args url.Values, _ []byte) (any, string) {
	g := args.Get("usergroup")
	if g == "" {
		return nil, "invalid_arguments"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	members, ok := s.groups[g]
	if !ok {
		return nil, "no_such_subteam"
	}
	return map[string]any{"ok": true, "users": append([]string{}, members...)}, ""
}

func (s *Server) viewsOpen(args url.Values, body []byte) (any, string) {
	var req struct {
		TriggerID string          `json:"trigger_id"`
		View      json.RawMessage `json:"view"`
	}
	if err := json.Unmarshal(body, &req); err != nil || req.TriggerID == "" || len(req.View) == 0 {
		return nil, "invalid_arguments"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	tr, ok := s.triggers[req.TriggerID]
	switch {
	case !ok:
		return nil, "invalid_trigger_id"
	case tr.used:
		return nil, "exchanged_trigger_id"
	case time.Since(tr.issued) > s.TriggerTTL:
		return nil, "expired_trigger_id"
	}
	tr.used = true
	if e := checkModal(req.View); e != "" {
		return nil, e
	}
	s.seq++
	v := &View{ID: fmt.Sprintf("V%010d", s.seq), TriggerID: req.TriggerID, JSON: req.View}
	s.views = append(s.views, v)
	var view map[string]any
	json.Unmarshal(req.View, &view)
	view["id"], view["team_id"], view["app_id"], view["bot_id"] = v.ID, TeamID, AppID, BotID
	return map[string]any{"ok": true, "view": view}, ""
}

// checkModal checks a modal as views.open does.
func checkModal(raw json.RawMessage) string {
	var v struct {
		Type  string `json:"type"`
		Title *struct {
			Type string `json:"type"`
			Text string `json:"text"`
		} `json:"title"`
		Submit *struct {
			Type string `json:"type"`
		} `json:"submit"`
		Blocks          json.RawMessage `json:"blocks"`
		PrivateMetadata string          `json:"private_metadata"`
		CallbackID      string          `json:"callback_id"`
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return "invalid_arguments"
	}
	switch {
	case v.Type != "modal":
		return "invalid_arguments"
	case v.Title == nil || v.Title.Type != "plain_text" || v.Title.Text == "" || utf8.RuneCountInString(v.Title.Text) > maxTitle:
		return "invalid_arguments"
	case len(v.PrivateMetadata) > maxMetadata, len(v.CallbackID) > 255:
		return "invalid_arguments"
	}
	if e := checkBlocks(v.Blocks, maxModalBlocks, true); e != "" {
		return e
	}
	if strings.Contains(string(v.Blocks), `"type":"input"`) && v.Submit == nil {
		return "invalid_arguments" // a modal with inputs needs a submit button
	}
	return ""
}

func rawOrNil(s string) json.RawMessage {
	if s == "" {
		return nil
	}
	return json.RawMessage(s)
}

func messageJSON(m *Message) map[string]any {
	out := map[string]any{"type": "message", "user": BotUserID, "bot_id": BotID, "text": m.Text, "ts": m.TS}
	if m.ThreadTS != "" {
		out["thread_ts"] = m.ThreadTS
	}
	if m.Blocks != nil {
		out["blocks"] = m.Blocks
	}
	return out
}
