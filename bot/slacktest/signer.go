package slacktest

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/slack-go/slack"
)

// Signer builds HTTP requests as Slack sends them to an app, signed with
// the app's signing secret: X-Slack-Request-Timestamp and
// X-Slack-Signature: v0=hex(HMAC-SHA256(secret, "v0:<ts>:<body>")).
type Signer struct {
	Secret string
	// Now is the signing time (default time.Now): set it in the past to
	// make a stale request.
	Now func() time.Time
	// Server, when set, mints the trigger_id and response_url of slash
	// commands that have none, so that views.open and response_url posts
	// reach it.
	Server *Server
}

// Signer returns a Signer for secret that mints through s.
func (s *Server) Signer(secret string) Signer { return Signer{Secret: secret, Server: s} }

// Sign sets Slack's signature headers of a request with body.
func Sign(h http.Header, secret string, at time.Time, body []byte) {
	ts := strconv.FormatInt(at.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "v0:%s:", ts)
	mac.Write(body)
	h.Set("X-Slack-Request-Timestamp", ts)
	h.Set("X-Slack-Signature", "v0="+hex.EncodeToString(mac.Sum(nil)))
}

func (s Signer) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Request builds a signed POST of body to target.
func (s Signer) Request(target, contentType string, body []byte) (*http.Request, error) {
	r, err := http.NewRequest(http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("slacktest: request to %q: %w", target, err)
	}
	r.Header.Set("Content-Type", contentType)
	r.Header.Set("User-Agent", "Slackbot 1.0 (+https://api.slack.com/robots)")
	Sign(r.Header, s.Secret, s.now(), body)
	return r, nil
}

// Command is a slash command as a user types it.
type Command struct {
	User    User
	Channel string
	// Text is what follows the command ("new ledger size=M").
	Text string
	// Command defaults to /pg.
	Command string
	// TriggerID and ResponseURL are minted by the Server when empty.
	TriggerID   string
	ResponseURL string
}

// Form is the slash command's form, as Slack posts it.
func (s Signer) Form(c Command) url.Values {
	if c.Command == "" {
		c.Command = "/pg"
	}
	if c.TriggerID == "" {
		if s.Server != nil {
			c.TriggerID = s.Server.TriggerID()
		} else {
			c.TriggerID = fmt.Sprintf("%d.0000.unminted", time.Now().UnixNano())
		}
	}
	if c.ResponseURL == "" && s.Server != nil {
		c.ResponseURL = s.Server.ResponseURL()
	}
	return url.Values{
		"token":                 {"deprecated-verification-token"},
		"team_id":               {TeamID},
		"team_domain":           {"fake"},
		"channel_id":            {c.Channel},
		"channel_name":          {"channel-" + c.Channel},
		"user_id":               {c.User.ID},
		"user_name":             {c.User.Name},
		"command":               {c.Command},
		"text":                  {c.Text},
		"api_app_id":            {AppID},
		"is_enterprise_install": {"false"},
		"response_url":          {c.ResponseURL},
		"trigger_id":            {c.TriggerID},
	}
}

// Command builds a signed slash command request to target (the app's
// /slack/commands URL).
func (s Signer) Command(target string, c Command) (*http.Request, error) {
	return s.Request(target, "application/x-www-form-urlencoded", []byte(s.Form(c).Encode()))
}

// Interaction builds a signed interaction request (payload=<json>) to
// target (the app's /slack/interactions URL).
func (s Signer) Interaction(target string, cb slack.InteractionCallback) (*http.Request, error) {
	payload, err := json.Marshal(&cb)
	if err != nil {
		return nil, fmt.Errorf("slacktest: encode interaction: %w", err)
	}
	form := url.Values{"payload": {string(payload)}}
	return s.Request(target, "application/x-www-form-urlencoded", []byte(form.Encode()))
}

// EventCallback wraps an inner event as Slack's Events API delivers it.
func EventCallback(eventID string, inner map[string]any) map[string]any {
	return map[string]any{
		"token": "deprecated-verification-token", "team_id": TeamID, "api_app_id": AppID,
		"event": inner, "type": "event_callback", "event_id": eventID, "event_time": time.Now().Unix(),
		"authorizations": []map[string]any{{"team_id": TeamID, "user_id": BotUserID, "is_bot": true}},
		"event_context":  "fake-context",
	}
}

// Event builds a signed event callback request to target (the app's
// /slack/events URL).
func (s Signer) Event(target, eventID string, inner map[string]any) (*http.Request, error) {
	body, err := json.Marshal(EventCallback(eventID, inner))
	if err != nil {
		return nil, fmt.Errorf("slacktest: encode event: %w", err)
	}
	return s.Request(target, "application/json", body)
}

// URLVerification builds the challenge Slack sends when the events URL is
// set.
func (s Signer) URLVerification(target, challenge string) (*http.Request, error) {
	body, _ := json.Marshal(map[string]string{"token": "deprecated-verification-token", "challenge": challenge, "type": "url_verification"})
	return s.Request(target, "application/json", body)
}

// AppMention is an app_mention event: user mentions the bot in a channel
// (threadTS set when in a thread).
func AppMention(user, channel, ts, threadTS, text string) map[string]any {
	ev := map[string]any{"type": "app_mention", "user": user, "text": "<@" + BotUserID + "> " + text,
		"ts": ts, "channel": channel, "event_ts": ts}
	if threadTS != "" {
		ev["thread_ts"] = threadTS
	}
	return ev
}

// ThreadReply is a message event: user writes in a channel's thread
// (channelType "channel" or "group").
func ThreadReply(user, channel, channelType, ts, threadTS, text string) map[string]any {
	return map[string]any{"type": "message", "user": user, "text": text, "ts": ts, "thread_ts": threadTS,
		"channel": channel, "channel_type": channelType, "event_ts": ts}
}

// DirectMessage is a message.im event: user writes to the bot (threadTS
// set when in a thread of the direct message).
func DirectMessage(user, ts, threadTS, text string) map[string]any {
	ev := map[string]any{"type": "message", "user": user, "text": text, "ts": ts,
		"channel": DMChannel(user), "channel_type": "im", "event_ts": ts}
	if threadTS != "" {
		ev["thread_ts"] = threadTS
	}
	return ev
}
