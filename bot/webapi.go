package bot

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/slack-go/slack"
)

// call runs one Web API call, waiting out rate limits (HTTP 429 and its
// Retry-After, *slack.RateLimitedError) and retrying Slack's 5xx answers
// with exponential backoff. It gives up after maxAttempts, or when Slack
// asks to wait longer than maxWait: the caller (a notify job) is retried
// later by the queue instead of holding a worker.
func (b *Bot) call(ctx context.Context, method string, fn func(ctx context.Context) error) error {
	backoff := time.Second
	for attempt := 1; ; attempt++ {
		err := fn(ctx)
		if err == nil {
			return nil
		}
		wait, retryable := retryDelay(err, backoff)
		if !retryable {
			return fmt.Errorf("slack %s: %w", method, err)
		}
		if attempt >= b.maxAttempts || wait > b.maxWait {
			return fmt.Errorf("slack %s: giving up after %d attempt(s): %w", method, attempt, err)
		}
		b.log.Warn().Str("method", method).Int("attempt", attempt).Dur("wait", wait).Err(err).Msg("slack call retried")
		if err := b.sleep(ctx, wait); err != nil {
			return fmt.Errorf("slack %s: %w", method, err)
		}
		if wait == backoff {
			backoff *= 2
		}
	}
}

// retryDelay says whether err is worth retrying and after how long.
func retryDelay(err error, backoff time.Duration) (time.Duration, bool) {
	var rl *slack.RateLimitedError
	if errors.As(err, &rl) {
		return max(rl.RetryAfter, time.Second), true
	}
	var sc slack.StatusCodeError
	if errors.As(err, &sc) && (sc.Code >= 500 || sc.Code == http.StatusTooManyRequests) {
		return backoff, true
	}
	return 0, false
}

// slackError returns the error code of a Slack answer ("not_in_channel"),
// or "".
func slackError(err error) string {
	var se slack.SlackErrorResponse
	if errors.As(err, &se) {
		return se.Err
	}
	return ""
}

// post sends a message to a channel (in a thread when thread is set) and
// returns its ts.
func (b *Bot) post(ctx context.Context, channel, thread string, m message) (string, error) {
	opts := b.options(m)
	if thread != "" {
		opts = append(opts, slack.MsgOptionTS(thread))
	}
	var ts string
	err := b.call(ctx, "chat.postMessage", func(ctx context.Context) error {
		var err error
		_, ts, err = b.api.PostMessageContext(ctx, channel, opts...)
		return err
	})
	return ts, err
}

// update replaces a message in place.
func (b *Bot) update(ctx context.Context, channel, ts string, m message) error {
	return b.call(ctx, "chat.update", func(ctx context.Context) error {
		_, _, _, err := b.api.UpdateMessageContext(ctx, channel, ts, b.options(m)...)
		return err
	})
}

// ephemeral shows a message to one user in a channel (or thread). Only for
// notes to that user, never for anything they must keep.
func (b *Bot) ephemeral(ctx context.Context, channel, thread, user string, m message) error {
	opts := b.options(m)
	if thread != "" {
		opts = append(opts, slack.MsgOptionTS(thread))
	}
	return b.call(ctx, "chat.postEphemeral", func(ctx context.Context) error {
		_, err := b.api.PostEphemeralContext(ctx, channel, user, opts...)
		return err
	})
}

// respond answers through a response_url (ephemeral to the user who acted).
func (b *Bot) respond(ctx context.Context, responseURL string, m message) error {
	if responseURL == "" {
		return errors.New("no response_url to answer on")
	}
	opts := append(b.options(m), slack.MsgOptionResponseURL(responseURL, slack.ResponseTypeEphemeral))
	return b.call(ctx, "response_url", func(ctx context.Context) error {
		_, _, err := b.api.PostMessageContext(ctx, "", opts...)
		return err
	})
}

// replace answers on an interaction's response_url by replacing the
// message that was clicked (ephemeral ones included).
func (b *Bot) replace(ctx context.Context, responseURL string, m message) error {
	if responseURL == "" {
		return errors.New("no response_url to answer on")
	}
	opts := append(b.options(m), slack.MsgOptionReplaceOriginal(responseURL))
	return b.call(ctx, "response_url", func(ctx context.Context) error {
		_, _, err := b.api.PostMessageContext(ctx, "", opts...)
		return err
	})
}

// openView opens a modal. It is called within the request that carries the
// trigger_id (valid 3 s, once), before anything slow, and not retried: a
// retry would come too late.
func (b *Bot) openView(ctx context.Context, triggerID string, v slack.ModalViewRequest) error {
	if err := checkView(v); err != nil {
		b.log.Error().Err(err).Msg("form not opened")
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 2500*time.Millisecond)
	defer cancel()
	if _, err := b.api.OpenViewContext(ctx, triggerID, v); err != nil {
		return fmt.Errorf("slack views.open: %w", err)
	}
	return nil
}

// updateView replaces an open modal (after the acknowledgement of the
// interaction that asked for it). Without a hash, the newest update wins.
func (b *Bot) updateView(ctx context.Context, viewID string, v slack.ModalViewRequest) error {
	if err := checkView(v); err != nil {
		return err
	}
	return b.call(ctx, "views.update", func(ctx context.Context) error {
		_, err := b.api.UpdateViewContext(ctx, v, "", "", viewID)
		return err
	})
}

// openDM opens (or finds) the direct message channel with a user.
func (b *Bot) openDM(ctx context.Context, user string) (string, error) {
	var id string
	err := b.call(ctx, "conversations.open", func(ctx context.Context) error {
		ch, _, _, err := b.api.OpenConversationContext(ctx, &slack.OpenConversationParameters{Users: []string{user}, ReturnIM: true})
		if err == nil {
			id = ch.ID
		}
		return err
	})
	return id, err
}

// groupMembers lists the members of a user group.
func (b *Bot) groupMembers(ctx context.Context, group string) ([]string, error) {
	var users []string
	err := b.call(ctx, "usergroups.users.list", func(ctx context.Context) error {
		var err error
		users, err = b.api.GetUserGroupMembersContext(ctx, group)
		return err
	})
	return users, err
}

// selfID is the bot's own user id (auth.test, asked once): mentions of it
// are not answers, and its own messages are not requests.
func (b *Bot) selfID(ctx context.Context) (string, error) {
	b.selfMu.Lock()
	defer b.selfMu.Unlock()
	if b.self != "" {
		return b.self, nil
	}
	err := b.call(ctx, "auth.test", func(ctx context.Context) error {
		r, err := b.api.AuthTestContext(ctx)
		if err == nil {
			b.self = r.UserID
		}
		return err
	})
	return b.self, err
}
