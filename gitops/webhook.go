package gitops

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/google/go-github/v62/github"
	"github.com/rs/zerolog"
)

// Event is what ClustroPG keeps of a webhook delivery: enough to act on
// it, nothing else (the payload's other fields are not stored).
type Event struct {
	Delivery string `json:"delivery"`
	// Type is the X-GitHub-Event: pull_request or issue_comment.
	Type     string `json:"type"`
	Action   string `json:"action"`
	PR       int    `json:"pr"`
	HeadSHA  string `json:"headSha,omitempty"`
	HeadRef  string `json:"headRef,omitempty"`
	BaseSHA  string `json:"baseSha,omitempty"`
	BaseRef  string `json:"baseRef,omitempty"`
	Merged   bool   `json:"merged,omitempty"`
	MergeSHA string `json:"mergeSha,omitempty"`
	// Sender is who caused it: the GitHub login that merged, pushed or commented.
	Sender  string `json:"sender"`
	Comment string `json:"comment,omitempty"`
	// Association is the commenter's author_association (OWNER, MEMBER,
	// COLLABORATOR, ...), for who may run /clustro commands.
	Association string `json:"association,omitempty"`
}

// Receiver keeps a verified delivery durably before the webhook answers:
// it returns the id of what it stored, and duplicate true when the
// delivery (X-GitHub-Delivery and action) was stored already. The pipeline
// implements it; the webhook decides nothing about what happens next.
type Receiver func(ctx context.Context, ev Event) (id string, duplicate bool, err error)

// MaxPayload is GitHub's own cap on a webhook payload (25 MB): GitHub
// delivers nothing larger, and the webhook's route refuses it unread.
const MaxPayload = 25 << 20

// signaturePrefix is the only hash X-Hub-Signature-256 may name: go-github
// would take the hash from the prefix, so "sha1=<hmac-sha1>" there would
// pass its check.
const signaturePrefix = "sha256="

// WebhookHandler receives GitHub's deliveries at POST /webhooks/github. A
// delivery must carry a valid "sha256=" X-Hub-Signature-256 for secret
// (sha1 in either header, unsigned and altered deliveries answer 401 and
// queue nothing; an empty secret refuses everything). Everything that can
// be checked without the body is checked before reading it: the signature
// header, Content-Length against GitHub's 25 MB cap (413) and the
// Content-Type (415). The body is then read into one buffer of its declared
// size, never more than the cap. Deliveries for repo that ClustroPG acts on
// are handed to receive before the 202 answer, which keeps them durably and
// idempotently by X-GitHub-Delivery and action, so a redelivery is a no-op
// and the work happens after GitHub's 10 s; anything else answers 200 with
// a log line. No payload, however malformed, makes it answer 5xx except an
// error of receive.
func WebhookHandler(secret []byte, repo string, receive Receiver) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		log := zerolog.Ctx(r.Context())
		if len(secret) == 0 {
			http.Error(w, "webhook secret not configured: every delivery is refused", http.StatusServiceUnavailable)
			return
		}
		signature := r.Header.Get(github.SHA256SignatureHeader)
		if !strings.HasPrefix(signature, signaturePrefix) {
			log.Warn().Str("delivery", github.DeliveryID(r)).Msg("webhook refused: no sha256= X-Hub-Signature-256")
			http.Error(w, "X-Hub-Signature-256 must be sha256=<hex HMAC>", http.StatusUnauthorized)
			return
		}
		if r.ContentLength > MaxPayload {
			http.Error(w, "payload too large: GitHub sends at most 25 MB", http.StatusRequestEntityTooLarge)
			return
		}
		form, ok := formEncoded(r.Header.Get("Content-Type"))
		if !ok {
			http.Error(w, "Content-Type must be application/json or application/x-www-form-urlencoded", http.StatusUnsupportedMediaType)
			return
		}
		body, err := readBody(w, r)
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				http.Error(w, "payload too large: GitHub sends at most 25 MB", http.StatusRequestEntityTooLarge)
				return
			}
			log.Warn().Err(err).Str("delivery", github.DeliveryID(r)).Msg("webhook refused: body not received")
			http.Error(w, "the body could not be read", http.StatusBadRequest)
			return
		}
		if err := github.ValidateSignature(signature, body, secret); err != nil {
			log.Warn().Str("delivery", github.DeliveryID(r)).Msg("webhook refused: bad signature")
			http.Error(w, "signature check failed", http.StatusUnauthorized)
			return
		}
		payload := body
		if form {
			// GitHub's "application/x-www-form-urlencoded" content type:
			// the JSON is the payload field of the signed form.
			values, err := url.ParseQuery(string(body))
			if err != nil {
				http.Error(w, "unreadable form body", http.StatusBadRequest)
				return
			}
			payload = []byte(values.Get("payload"))
		}
		ev, act, why := parseEvent(github.WebHookType(r), github.DeliveryID(r), payload, repo)
		if !act {
			log.Info().Str("event", github.WebHookType(r)).Str("delivery", github.DeliveryID(r)).Str("why", why).Msg("webhook ignored")
			writeJSON(w, http.StatusOK, map[string]string{"status": "ignored", "reason": why})
			return
		}
		if ev.Delivery == "" {
			http.Error(w, "missing X-GitHub-Delivery", http.StatusBadRequest)
			return
		}
		id, duplicate, err := receive(r.Context(), ev)
		if err != nil {
			log.Error().Err(err).Str("delivery", ev.Delivery).Msg("store webhook delivery")
			http.Error(w, "could not store the delivery; GitHub may redeliver it", http.StatusInternalServerError)
			return
		}
		log.Info().Str("event", ev.Type).Str("action", ev.Action).Int("pr", ev.PR).Str("delivery", ev.Delivery).
			Bool("duplicate", duplicate).Str("job", id).Msg("webhook queued")
		status := "queued"
		if duplicate {
			status = "duplicate"
		}
		writeJSON(w, http.StatusAccepted, map[string]string{"status": status, "job": id})
	})
}

// formEncoded reports whether a delivery's Content-Type is GitHub's form
// encoding rather than JSON; ok is false for anything else (a webhook can
// be set to one of these two).
func formEncoded(contentType string) (form, ok bool) {
	mediaType, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false, false
	}
	switch mediaType {
	case "application/json":
		return false, true
	case "application/x-www-form-urlencoded":
		return true, true
	}
	return false, false
}

// readBody reads a delivery's body, at most MaxPayload bytes. With a
// Content-Length (GitHub always sends one) the buffer is allocated once at
// that size, so holding a body never costs more than its declared length.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body := http.MaxBytesReader(w, r.Body, MaxPayload)
	if r.ContentLength < 0 {
		return io.ReadAll(body)
	}
	buf := make([]byte, r.ContentLength)
	if _, err := io.ReadFull(body, buf); err != nil {
		return nil, err
	}
	return buf, nil
}

// parseEvent keeps the deliveries ClustroPG acts on.
func parseEvent(kind, delivery string, payload []byte, repo string) (Event, bool, string) {
	ev := Event{Delivery: delivery, Type: kind}
	parsed, err := github.ParseWebHook(kind, payload)
	if err != nil {
		return ev, false, "not an event ClustroPG handles (" + kind + ")"
	}
	switch e := parsed.(type) {
	case *github.PingEvent:
		return ev, false, "ping"
	case *github.PullRequestEvent:
		if !strings.EqualFold(e.GetRepo().GetFullName(), repo) {
			return ev, false, "another repository: " + e.GetRepo().GetFullName()
		}
		switch e.GetAction() {
		case "opened", "synchronize", "reopened", "closed":
		default:
			return ev, false, "pull_request " + e.GetAction()
		}
		pr := e.GetPullRequest()
		if pr.GetNumber() == 0 {
			return ev, false, "pull_request without a pull request number"
		}
		if head := pr.GetHead().GetRepo().GetFullName(); head != "" && !strings.EqualFold(head, repo) {
			// Only branches of the repository itself: a fork could name its
			// branch clustro/<request id>.
			return ev, false, "a pull request from a fork (" + head + ")"
		}
		ev.Action, ev.PR, ev.Sender = e.GetAction(), pr.GetNumber(), e.GetSender().GetLogin()
		ev.HeadSHA, ev.HeadRef = pr.GetHead().GetSHA(), pr.GetHead().GetRef()
		ev.BaseSHA, ev.BaseRef = pr.GetBase().GetSHA(), pr.GetBase().GetRef()
		ev.Merged, ev.MergeSHA = pr.GetMerged(), pr.GetMergeCommitSHA()
		if ev.Action == "closed" && ev.Merged && pr.GetMergedBy().GetLogin() != "" {
			ev.Sender = pr.GetMergedBy().GetLogin()
		}
		return ev, true, ""
	case *github.IssueCommentEvent:
		if !strings.EqualFold(e.GetRepo().GetFullName(), repo) {
			return ev, false, "another repository: " + e.GetRepo().GetFullName()
		}
		body := strings.TrimSpace(e.GetComment().GetBody())
		// GetPullRequestLinks, not IsPullRequest: the issue may be absent.
		if e.GetAction() != "created" || e.GetIssue().GetPullRequestLinks() == nil || !strings.HasPrefix(body, "/clustro") {
			return ev, false, "not a /clustro command on a pull request"
		}
		if e.GetIssue().GetNumber() == 0 {
			return ev, false, "issue_comment without an issue number"
		}
		ev.Action, ev.PR, ev.Sender, ev.Comment = "comment", e.GetIssue().GetNumber(), e.GetComment().GetUser().GetLogin(), body
		ev.Association = e.GetComment().GetAuthorAssociation()
		ev.Delivery = delivery
		return ev, true, ""
	}
	return ev, false, "event " + kind + " is not used"
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}
