package bot

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
	"github.com/slack-go/slack/socketmode"
)

// Socket Mode reconnection backoff: doubled after each failed connection,
// reset after one that worked.
const (
	socketBackoffMin = time.Second
	socketBackoffMax = 5 * time.Minute
)

// runSocketMode keeps a Socket Mode connection up until ctx is done.
// slack-go's RunContext reconnects by itself when Slack asks, but returns
// on auth errors (a revoked or rotated token): this loop reconnects after
// those too, with backoff, so that a fixed token is picked up without a
// restart.
func (b *Bot) runSocketMode(ctx context.Context) error {
	backoff := socketBackoffMin
	for {
		connected, err := b.socketModeOnce(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if connected {
			backoff = socketBackoffMin
		}
		ev := b.log.Warn()
		if isAuthError(err) {
			ev = b.log.Error()
		}
		ev.Err(err).Dur("retry_in", backoff).Msg("slack socket mode disconnected")
		if err := b.sleep(ctx, backoff); err != nil {
			return nil
		}
		backoff = min(backoff*2, socketBackoffMax)
	}
}

func isAuthError(err error) bool {
	return err != nil && slices.Contains([]string{"invalid_auth", "account_inactive", "not_authed", "token_revoked", "not_allowed_token_type"}, strings.TrimSpace(err.Error()))
}

// socketModeOnce runs one Socket Mode client until it returns. connected
// reports whether it got a connection.
func (b *Bot) socketModeOnce(ctx context.Context) (connected bool, err error) {
	opts := []slack.Option{slack.OptionAppLevelToken(b.cfg.AppToken.Value()), slack.OptionHTTPClient(b.httpClient)}
	if u := b.cfg.APIURL; u != "" {
		opts = append(opts, slack.OptionAPIURL(strings.TrimSuffix(u, "/")+"/"))
	}
	client := socketmode.New(slack.New(b.cfg.BotToken.Value(), opts...), socketmode.OptionLog(socketLog{b}))
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg  sync.WaitGroup
		mu  sync.Mutex
		got bool
	)
	wg.Go(func() {
		for {
			select {
			case <-runCtx.Done():
				return
			case evt := <-client.Events:
				if evt.Type == socketmode.EventTypeConnected {
					mu.Lock()
					got = true
					mu.Unlock()
					b.log.Info().Msg("slack socket mode connected")
				}
				wg.Go(func() { b.onSocketEvent(runCtx, client, evt) })
			}
		}
	})
	err = client.RunContext(runCtx)
	cancel()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if err == nil {
		err = errors.New("socket mode client stopped")
	}
	return got, err
}

// onSocketEvent acknowledges an envelope with what the HTTP handler would
// have answered: the same functions serve both transports, so a payload
// Slack redelivers in a second envelope is claimed, and acted on, once. An
// event that could not be claimed is left unacknowledged, for Slack to
// send again.
func (b *Bot) onSocketEvent(ctx context.Context, client *socketmode.Client, evt socketmode.Event) {
	if evt.Request == nil {
		return
	}
	var ack any
	switch evt.Type {
	case socketmode.EventTypeSlashCommand:
		cmd, ok := evt.Data.(slack.SlashCommand)
		if !ok {
			break
		}
		ack = b.command(ctx, cmd)
	case socketmode.EventTypeInteractive:
		cb, ok := evt.Data.(slack.InteractionCallback)
		if !ok {
			break
		}
		ack = b.interaction(ctx, cb)
	case socketmode.EventTypeEventsAPI:
		ev, ok := evt.Data.(slackevents.EventsAPIEvent)
		if !ok {
			break
		}
		if b.event(ctx, ev) {
			return
		}
	default:
		return
	}
	if err := client.AckCtx(ctx, evt.Request.EnvelopeID, ack); err != nil {
		b.log.Warn().Err(err).Str("type", string(evt.Type)).Msg("socket mode envelope not acknowledged")
	}
}

// socketLog sends slack-go's Socket Mode log lines to the bot's logger at
// debug level.
type socketLog struct{ b *Bot }

func (l socketLog) Output(_ int, s string) error {
	l.b.log.Debug().Str("from", "socketmode").Msg(strings.TrimSpace(s))
	return nil
}
