package bot

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/rs/zerolog"
	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
)

// MaxBody caps what Slack may post (the Slack routes refuse more unread). Commands and interactions are form
// posts of a few KB, a view submission tens of KB; the largest is a
// message event (40,000 characters, sent as text and as rich_text blocks),
// under 1 MiB. The server bounds the Slack routes the same way.
const MaxBody = 1 << 20

// verifySlack checks Slack's v0 signature (X-Slack-Signature over
// "v0:<timestamp>:<raw body>" with the signing secret, timestamp within 5
// minutes, constant-time compare) before the handler runs, then restores
// the body for it. A request without the headers or with a stale timestamp
// is refused before its body is read; the body is hashed as it is read,
// into one buffer of its Content-Length. A bad signature is a 401, a body
// over MaxBody a 413, one that does not arrive whole a 400, and nothing
// else happens.
func verifySlack(secret string, log zerolog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			refuse := func(err error) {
				log.Warn().Str("path", r.URL.Path).Str("reason", err.Error()).Msg("slack request refused: bad signature")
				http.Error(w, "invalid Slack signature", http.StatusUnauthorized)
			}
			sv, err := slack.NewSecretsVerifier(r.Header, secret)
			if err != nil {
				refuse(err)
				return
			}
			body, err := readHashed(http.MaxBytesReader(w, r.Body, MaxBody), r.ContentLength, &sv)
			if err != nil {
				var tooBig *http.MaxBytesError
				if errors.As(err, &tooBig) {
					http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
					return
				}
				http.Error(w, "unreadable body", http.StatusBadRequest)
				return
			}
			if err := sv.Ensure(); err != nil {
				refuse(err)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			next.ServeHTTP(w, r)
		})
	}
}

// readHashed reads body, writing it to hash as it goes. With a known length
// (Slack always sends one) the buffer is allocated once, at that size.
func readHashed(body io.Reader, length int64, hash io.Writer) ([]byte, error) {
	body = io.TeeReader(body, hash)
	if length < 0 || length > MaxBody {
		return io.ReadAll(body)
	}
	buf := make([]byte, length)
	if _, err := io.ReadFull(body, buf); err != nil {
		return nil, err
	}
	return buf, nil
}

// handleCommands serves /slack/commands: the answer is the acknowledgement
// (an ephemeral reply, or nothing).
func (b *Bot) handleCommands() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cmd, err := slack.SlashCommandParse(r)
		if err != nil {
			http.Error(w, "bad slash command form", http.StatusBadRequest)
			return
		}
		writeAck(w, b.command(r.Context(), cmd))
	})
}

// handleInteractions serves /slack/interactions: button clicks and modal
// submissions; a view submission may be answered with inline errors.
func (b *Bot) handleInteractions() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cb, err := slack.InteractionCallbackParse(r)
		if err != nil {
			http.Error(w, "bad interaction payload", http.StatusBadRequest)
			return
		}
		writeAck(w, b.interaction(r.Context(), cb))
	})
}

// handleEvents serves /slack/events: the URL verification challenge, and
// event callbacks acknowledged at once and handled afterwards.
func (b *Bot) handleEvents() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, "unreadable body", http.StatusBadRequest)
			return
		}
		ev, err := slackevents.ParseEvent(json.RawMessage(body), slackevents.OptionNoVerifyToken())
		if err != nil {
			// An event the bot does not subscribe to, or cannot read:
			// acknowledged so that Slack does not retry it.
			b.log.Debug().Err(err).Msg("slack event ignored")
			w.WriteHeader(http.StatusOK)
			return
		}
		if ev.Type == slackevents.URLVerification {
			v, ok := ev.Data.(*slackevents.EventsAPIURLVerificationEvent)
			if !ok {
				http.Error(w, "bad url_verification", http.StatusBadRequest)
				return
			}
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, v.Challenge)
			return
		}
		if b.event(r.Context(), ev) {
			// Not recorded, so not handled: Slack sends it again.
			http.Error(w, "event not recorded; send it again", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
}

// writeAck answers Slack: 200 with the JSON body, or an empty 200.
func writeAck(w http.ResponseWriter, body any) {
	if body == nil {
		w.WriteHeader(http.StatusOK)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(body)
}
