package slacktest

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/clustropg/clustro/bot/blockkit"
)

func (s *Server) authTest(url.Values, []byte) (any, string) {
	return map[string]any{
		"ok": true, "url": "https://fake.slack.com/", "team": "Fake", "user": "clustro",
		"team_id": TeamID, "user_id": BotUserID, "bot_id": BotID,
	}, ""
}

// checkMessage checks a message's text and blocks as chat.postMessage,
// chat.update, chat.postEphemeral and a response_url do: with
// blockkit's checker, the one the bot runs before sending. A refusal
// carries Slack's details (see refusal).
func checkMessage(args url.Values) (any, string) {
	text, blocks := args.Get("text"), args.Get("blocks")
	if text == "" && blocks == "" && args.Get("attachments") == "" {
		return nil, "no_text"
	}
	if ps := blockkit.CheckMessage(text, rawOrNil(blocks)); len(ps) > 0 {
		return refusal(ps), ps.Code()
	}
	return nil, ""
}

// refusal is what Slack adds to an error for a payload it refuses: each
// problem with its JSON pointer in errors, and again, prefixed with
// [ERROR], in response_metadata.messages (slack-go reads both into its
// SlackErrorResponse).
func refusal(ps blockkit.Problems) map[string]any {
	errs := make([]string, len(ps))
	msgs := make([]string, len(ps))
	for i, p := range ps {
		errs[i] = p.String()
		msgs[i] = "[ERROR] " + p.String()
	}
	return map[string]any{"errors": errs, "response_metadata": map[string]any{"messages": msgs}}
}

func (s *Server) chatPostMessage(args url.Values, _ []byte) (any, string) {
	channel := args.Get("channel")
	if channel == "" {
		return nil, "channel_not_found"
	}
	if detail, e := checkMessage(args); e != "" {
		return detail, e
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
	if detail, e := checkMessage(args); e != "" {
		return detail, e
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
	if detail, e := checkMessage(args); e != "" {
		return detail, e
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
	if ps := blockkit.CheckView(req.View); len(ps) > 0 {
		return viewRefusal(ps), ps.Code()
	}
	s.seq++
	v := &View{ID: fmt.Sprintf("V%010d", s.seq), TriggerID: req.TriggerID, JSON: req.View, Hash: s.hash(), State: map[string]string{}}
	s.views = append(s.views, v)
	return map[string]any{"ok": true, "view": viewJSON(v)}, ""
}

// viewsUpdate replaces an open modal, by view_id (or external_id, which
// the fake does not hand out), checking the hash when one is given as
// Slack does. What the user entered in an input whose block_id and
// action_id the new view keeps stays entered; a selection the new view
// no longer offers is dropped (Slack's client cannot show it).
func (s *Server) viewsUpdate(args url.Values, body []byte) (any, string) {
	var req struct {
		View       json.RawMessage `json:"view"`
		ViewID     string          `json:"view_id"`
		ExternalID string          `json:"external_id"`
		Hash       string          `json:"hash"`
	}
	if err := json.Unmarshal(body, &req); err != nil || len(req.View) == 0 || (req.ViewID == "" && req.ExternalID == "") {
		return nil, "invalid_arguments"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var v *View
	for _, vv := range s.views {
		if vv.ID == req.ViewID {
			v = vv
		}
	}
	switch {
	case v == nil:
		return nil, "not_found"
	case req.Hash != "" && req.Hash != v.Hash:
		return nil, "hash_conflict"
	}
	if ps := blockkit.CheckView(req.View); len(ps) > 0 {
		return viewRefusal(ps), ps.Code()
	}
	v.JSON, v.Hash = req.View, s.hash()
	v.Updates++
	_, inputs, _ := readView(v.JSON)
	for block, value := range v.State {
		in, ok := inputByID(inputs, block)
		if !ok || (in.offers() && !in.offered(value)) {
			delete(v.State, block)
		}
	}
	return map[string]any{"ok": true, "view": viewJSON(v)}, ""
}

// viewRefusal is what views.open and views.update add to an
// invalid_arguments error: the problems in response_metadata.messages.
func viewRefusal(ps blockkit.Problems) map[string]any {
	msgs := make([]string, len(ps))
	for i, p := range ps {
		msgs[i] = "[ERROR] " + p.String()
	}
	return map[string]any{"response_metadata": map[string]any{"messages": msgs}}
}

func (s *Server) hash() string {
	s.seq++
	return fmt.Sprintf("%d.fakehash%06d", 1700000000+s.seq, s.seq)
}

// viewJSON is a view as Slack returns it.
func viewJSON(v *View) map[string]any {
	var view map[string]any
	json.Unmarshal(v.JSON, &view)
	view["id"], view["hash"], view["team_id"], view["app_id"], view["bot_id"] = v.ID, v.Hash, TeamID, AppID, BotID
	return view
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
