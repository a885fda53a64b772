// Package slacktest is a strict fake of the Slack Web API, for the methods
// ClustroPG's bot uses (auth.test, chat.postMessage, chat.update,
// chat.postEphemeral, views.open, views.update, conversations.open,
// usergroups.users.list, apps.connections.open and Socket Mode), plus the
// response_url of slash commands and interactions.
//
// It speaks Slack's JSON shapes, checks the token (Authorization: Bearer,
// or the token form field where Slack accepts one) and the arguments each
// method requires, records every call for assertions, can answer 429 with
// Retry-After or 5xx for the next calls, and fails the test on any method
// it does not know. Every message and view is checked against Block Kit's
// limits with the bot's own checker (package blockkit) and refused the
// way Slack refuses it: invalid_blocks, msg_too_long or
// msg_blocks_too_long for messages (a 400 on a response_url),
// invalid_arguments for views, with the problems and their JSON pointers
// in errors and response_metadata.messages. Its Signer builds requests
// signed the way Slack signs them (slash commands, interaction payloads,
// event callbacks), and ClickButton, ClickInResponse, SelectInView and
// SubmitView build the interactions Slack would send for the messages and
// views the bot made.
//
// slack-go's own slacktest lacks views.open, chat.update and
// conversations.open and does not expose what was posted.
//
// Outside tests (a demo), New(nil) works: Close it, and read Unknown.
package slacktest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clustropg/clustro/bot/blockkit"
)

// The fake workspace's identities.
const (
	DefaultBotToken = "xoxb-fake"
	DefaultAppToken = "xapp-fake"
	TeamID          = "T0000000001"
	AppID           = "A0000000001"
	BotUserID       = "U0000000BOT"
	BotID           = "B0000000001"
)

// Server is the fake Slack. Its Web API is at APIURL (what the bot's
// config.Slack.APIURL takes).
type Server struct {
	// URL is the server's base URL.
	URL string
	// BotToken and AppToken are the tokens it accepts.
	BotToken string
	AppToken string
	// TriggerTTL is how long a trigger_id is valid (Slack: 3 s).
	TriggerTTL time.Duration

	t   testing.TB
	srv *httptest.Server

	mu           sync.Mutex
	calls        []Call
	unknown      []string
	faults       []fault
	seq          int
	triggers     map[string]*trigger
	responseURLs map[string]int
	messages     []*Message
	views        []*View
	groups       map[string][]string
	away         map[string]string
	socket       *socketState
}

// Call is one request the fake received.
type Call struct {
	// Method is the Web API method ("chat.postMessage"), or "response_url".
	Method string
	// Args are the form fields, or for a JSON body its top-level fields
	// (strings as they are, anything else as JSON).
	Args url.Values
	// Body is the raw request body.
	Body []byte
	// Status is the HTTP status answered; Error the Slack error, if any.
	Status int
	Error  string
	At     time.Time
}

// OK reports whether the call succeeded.
func (c Call) OK() bool { return c.Status == http.StatusOK && c.Error == "" }

// Message is a message the bot posted, as it now stands.
type Message struct {
	Channel  string
	TS       string
	ThreadTS string
	Text     string
	// Blocks is the JSON array of blocks.
	Blocks json.RawMessage
	// Ephemeral messages are shown to User only.
	Ephemeral bool
	User      string
	// Updates counts the chat.update calls on it.
	Updates int
}

// View is a modal the bot opened, as it now stands.
type View struct {
	ID        string
	TriggerID string
	// JSON is the view as last sent (views.open, then views.update).
	JSON json.RawMessage
	// Hash changes with every update, as Slack's does.
	Hash string
	// Updates counts the views.update calls on it.
	Updates int
	// State holds what the user picked in the view's inputs so far (see
	// SelectInView), by block_id.
	State map[string]string
}

type trigger struct {
	issued time.Time
	used   bool
}

type fault struct {
	status     int
	retryAfter time.Duration
}

// New starts a fake Slack. With t it is closed at the end of the test,
// which fails if the bot called a method the fake does not know; t may be
// nil outside tests (then Close it and check Unknown).
func New(t testing.TB) *Server {
	s := &Server{
		BotToken:     DefaultBotToken,
		AppToken:     DefaultAppToken,
		TriggerTTL:   3 * time.Second,
		t:            t,
		triggers:     map[string]*trigger{},
		responseURLs: map[string]int{},
		groups:       map[string][]string{},
		away:         map[string]string{},
	}
	s.srv = httptest.NewServer(s.routes())
	s.URL = s.srv.URL
	if t != nil {
		t.Cleanup(func() {
			s.Close()
			for _, m := range s.Unknown() {
				t.Errorf("slacktest: the bot called %s, a method this fake does not know (add it to slacktest, after checking Slack's docs)", m)
			}
		})
	}
	return s
}

// APIURL is the base URL of the Web API, ending in "/".
func (s *Server) APIURL() string { return s.URL + "/api/" }

// Close stops the server.
func (s *Server) Close() {
	s.closeSocket()
	s.srv.Close()
}

// Unknown lists the unknown methods called.
func (s *Server) Unknown() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.unknown...)
}

// Calls returns every call so far, in order.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// CallsTo returns the calls of one method, in order.
func (s *Server) CallsTo(method string) []Call {
	var out []Call
	for _, c := range s.Calls() {
		if c.Method == method {
			out = append(out, c)
		}
	}
	return out
}

// FailNext makes the next n Web API calls answer HTTP status (429 with a
// Retry-After of retryAfter, rounded up to seconds, or a 5xx).
func (s *Server) FailNext(n, status int, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.faults = append(s.faults, fault{status: status, retryAfter: retryAfter})
	}
}

// AddUserGroup creates (or replaces) a user group with its members.
func (s *Server) AddUserGroup(id string, members ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.groups[id] = members
}

// FailChannel makes posts to channel fail with a Slack error such as
// not_in_channel or is_archived ("" restores it).
func (s *Server) FailChannel(channel, slackErr string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if slackErr == "" {
		delete(s.away, channel)
		return
	}
	s.away[channel] = slackErr
}

// TriggerID mints a trigger_id, valid once within TriggerTTL.
func (s *Server) TriggerID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	id := fmt.Sprintf("%d.%d.fake%06d", 1700000000+s.seq, s.seq, s.seq)
	s.triggers[id] = &trigger{issued: time.Now()}
	return id
}

// ResponseURL mints a response_url (5 uses).
func (s *Server) ResponseURL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	id := fmt.Sprintf("T%d/%d/fake%06d", s.seq, s.seq, s.seq)
	s.responseURLs[id] = 0
	return s.URL + "/commands/" + id
}

// NextTS mints a message ts, for messages users write (events).
func (s *Server) NextTS() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nextTS()
}

func (s *Server) nextTS() string {
	s.seq++
	return fmt.Sprintf("%d.%06d", 1700000000+s.seq, s.seq*100)
}

// Messages returns the messages posted in a channel (ephemeral ones
// included), oldest first, as they now stand.
func (s *Server) Messages(channel string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Message
	for _, m := range s.messages {
		if m.Channel == channel {
			out = append(out, *m)
		}
	}
	return out
}

// Message returns one message by channel and ts.
func (s *Server) Message(channel, ts string) (Message, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m := s.findMessage(channel, ts); m != nil {
		return *m, true
	}
	return Message{}, false
}

func (s *Server) findMessage(channel, ts string) *Message {
	for _, m := range s.messages {
		if m.Channel == channel && m.TS == ts && !m.Ephemeral {
			return m
		}
	}
	return nil
}

// Views returns the modals opened, oldest first.
func (s *Server) Views() []View {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []View
	for _, v := range s.views {
		c := *v
		c.State = maps.Clone(v.State)
		out = append(out, c)
	}
	return out
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/{method}", s.serveAPI)
	mux.HandleFunc("GET /api/{method}", s.serveAPI)
	mux.HandleFunc("POST /commands/{t}/{n}/{id}", s.serveResponseURL)
	mux.HandleFunc("GET /socket/{id}", s.serveSocket)
	return mux
}

// method is one Web API method: whether it takes form or JSON bodies
// (Slack accepts JSON only with the token in the Authorization header),
// which token, and its handler.
type method struct {
	json    bool
	app     bool
	handler func(s *Server, args url.Values, body []byte) (any, string)
}

var methods = map[string]method{
	"auth.test":             {handler: (*Server).authTest},
	"chat.postMessage":      {handler: (*Server).chatPostMessage},
	"chat.update":           {handler: (*Server).chatUpdate},
	"chat.postEphemeral":    {handler: (*Server).chatPostEphemeral},
	"conversations.open":    {handler: (*Server).conversationsOpen},
	"usergroups.users.list": {handler: (*Server).usergroupsUsersList},
	"views.open":            {json: true, handler: (*Server).viewsOpen},
	"views.update":          {json: true, handler: (*Server).viewsUpdate},
	"apps.connections.open": {json: true, app: true, handler: (*Server).appsConnectionsOpen},
}

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("method")
	body, _ := io.ReadAll(r.Body)
	call := Call{Method: name, Body: body, Status: http.StatusOK, At: time.Now()}
	answer := func(v any, slackErr string) {
		call.Error = slackErr
		s.record(call)
		if slackErr != "" {
			v = errorBody(slackErr, v)
		}
		writeJSON(w, http.StatusOK, v)
	}
	m, known := methods[name]
	if !known {
		s.mu.Lock()
		s.unknown = append(s.unknown, name)
		s.mu.Unlock()
		answer(nil, "unknown_method")
		return
	}
	if f, ok := s.takeFault(); ok {
		call.Status = f.status
		s.record(call)
		if f.status == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", strconv.Itoa(int((f.retryAfter+time.Second-1)/time.Second)))
		}
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(f.status)
		io.WriteString(w, "<html><body>fake failure</body></html>")
		return
	}
	args, slackErr := parseBody(r, body, m.json)
	call.Args = args
	if slackErr != "" {
		answer(nil, slackErr)
		return
	}
	want := s.BotToken
	if m.app {
		want = s.AppToken
	}
	if slackErr := checkToken(r, args, m.json, want); slackErr != "" {
		answer(nil, slackErr)
		return
	}
	v, slackErr := m.handler(s, args, body)
	answer(v, slackErr)
}

// parseBody reads a form or (where the method takes it) JSON body into
// url.Values.
func parseBody(r *http.Request, body []byte, jsonOK bool) (url.Values, string) {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch {
	case r.Method == http.MethodGet:
		return r.URL.Query(), ""
	case ct == "application/x-www-form-urlencoded":
		v, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, "invalid_form_data"
		}
		return v, ""
	case ct == "application/json":
		if !jsonOK && len(body) == 0 {
			return url.Values{}, ""
		}
		v := url.Values{}
		if len(body) == 0 {
			return v, ""
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(body, &m); err != nil {
			return nil, "invalid_json"
		}
		for k, raw := range m {
			var str string
			if json.Unmarshal(raw, &str) == nil {
				v.Set(k, str)
			} else {
				v.Set(k, string(raw))
			}
		}
		return v, ""
	}
	return nil, "invalid_arg_name"
}

// checkToken checks the token: the Authorization header, or for form
// bodies the token field.
func checkToken(r *http.Request, args url.Values, isJSON bool, want string) string {
	token, hasBearer := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !hasBearer {
		if isJSON {
			return "not_authed"
		}
		token = args.Get("token")
	}
	switch {
	case token == "":
		return "not_authed"
	case strings.HasPrefix(want, "xapp-") && !strings.HasPrefix(token, "xapp-"):
		return "not_allowed_token_type"
	case token != want:
		return "invalid_auth"
	}
	return ""
}

func (s *Server) takeFault() (fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.faults) == 0 {
		return fault{}, false
	}
	f := s.faults[0]
	s.faults = s.faults[1:]
	return f, true
}

// record keeps a call, without the token.
func (s *Server) record(c Call) {
	if c.Args != nil {
		c.Args.Del("token")
	}
	for _, tok := range []string{s.BotToken, s.AppToken} {
		c.Body = bytes.ReplaceAll(c.Body, []byte(url.QueryEscape(tok)), []byte("[token]"))
		c.Body = bytes.ReplaceAll(c.Body, []byte(tok), []byte("[token]"))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, c)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

// serveResponseURL takes a response_url post: JSON, at most 5 per URL.
func (s *Server) serveResponseURL(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("t") + "/" + r.PathValue("n") + "/" + r.PathValue("id")
	body, _ := io.ReadAll(r.Body)
	call := Call{Method: "response_url", Body: body, Status: http.StatusOK, At: time.Now()}
	fail := func(code int, e string) {
		call.Status, call.Error = code, e
		s.record(call)
		writeJSON(w, code, map[string]any{"ok": false, "error": e})
	}
	args, slackErr := parseBody(r, body, true)
	call.Args = args
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if slackErr != "" || ct != "application/json" {
		fail(http.StatusBadRequest, "invalid_payload")
		return
	}
	s.mu.Lock()
	uses, ok := s.responseURLs[id]
	if ok && uses < 5 {
		s.responseURLs[id] = uses + 1
	}
	s.mu.Unlock()
	switch {
	case !ok:
		fail(http.StatusNotFound, "expired_url")
		return
	case uses >= 5:
		fail(http.StatusNotFound, "used_url")
		return
	}
	if args.Get("text") == "" && !isArray(args.Get("blocks")) && args.Get("delete_original") != "true" {
		fail(http.StatusBadRequest, "no_text")
		return
	}
	if rt := args.Get("response_type"); rt != "" && rt != "ephemeral" && rt != "in_channel" {
		fail(http.StatusBadRequest, "invalid_response_type")
		return
	}
	if ps := blockkit.CheckMessage(args.Get("text"), rawOrNil(args.Get("blocks"))); len(ps) > 0 {
		call.Status, call.Error = http.StatusBadRequest, ps.Code()
		s.record(call)
		writeJSON(w, http.StatusBadRequest, errorBody(ps.Code(), refusal(ps)))
		return
	}
	s.record(call)
	writeJSON(w, http.StatusOK, map[string]any{"ok": true})
}

// errorBody is Slack's answer for an error, with its details (a map of
// more fields, or nil).
func errorBody(slackErr string, detail any) map[string]any {
	body := map[string]any{"ok": false, "error": slackErr}
	if m, ok := detail.(map[string]any); ok {
		for k, v := range m {
			body[k] = v
		}
	}
	return body
}

func isArray(s string) bool {
	var a []json.RawMessage
	return s != "" && json.Unmarshal([]byte(s), &a) == nil
}
