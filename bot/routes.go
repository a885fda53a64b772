package bot

import "net/http"

// The HTTP paths Slack posts to, and the slash command; the app manifest
// (deploy/slack-app-manifest.yaml) names the same.
const (
	PathCommands     = "/slack/commands"
	PathInteractions = "/slack/interactions"
	PathEvents       = "/slack/events"
	// Command is the slash command.
	Command = "/pg"
)

// Route is one endpoint of the Handler.
type Route struct {
	Method, Path string
}

// Routes lists the HTTP surface the Handler serves.
func Routes() []Route {
	return []Route{
		{http.MethodPost, PathCommands},
		{http.MethodPost, PathInteractions},
		{http.MethodPost, PathEvents},
	}
}

// Handler serves Slack's HTTP requests. Every request's signature is
// checked on its raw body before anything else; a request that fails
// (missing, stale, wrong or altered) is answered 401 and nothing is done.
func (b *Bot) Handler() http.Handler {
	mux := http.NewServeMux()
	verified := verifySlack(b.cfg.SigningSecret.Value(), b.log)
	mux.Handle("POST "+PathCommands, verified(b.handleCommands()))
	mux.Handle("POST "+PathInteractions, verified(b.handleInteractions()))
	mux.Handle("POST "+PathEvents, verified(b.handleEvents()))
	return mux
}
