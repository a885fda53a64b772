package pipeline

import (
	"context"
	"fmt"

	"github.com/rs/zerolog"

	"github.com/clustropg/clustro/engine"
	"github.com/clustropg/clustro/request"
	"github.com/clustropg/clustro/store"
)

// Deliver tells people about a step of a request (the Slack bot's Notify,
// or LogNotices). An error makes the notify job try again later.
type Deliver func(ctx context.Context, rec store.Record, n request.Notice) error

// LogNotices writes notices to the log: what delivers them when Slack is off.
func LogNotices(log zerolog.Logger) Deliver {
	return func(_ context.Context, rec store.Record, n request.Notice) error {
		log.Info().Str("request", rec.ID()).Str("database", rec.Request.Key()).Str("notice", n.Kind).
			Str("pr", n.PRURL).Msg(n.Text)
		return nil
	}
}

// NotifyHandler is the handler of the notify jobs the pipeline queues: it
// reads the request as it is now and hands it with the notice to deliver.
// The wiring registers it (engine.Handle(JobNotify, ...)), so that the
// pipeline queues notices and never calls whoever delivers them.
func NotifyHandler(st interface {
	GetRequest(ctx context.Context, id string) (store.Record, error)
}, deliver Deliver) engine.Handler {
	return func(ctx context.Context, job store.Job) ([]byte, error) {
		pl, err := decode(job)
		if err != nil {
			return nil, err
		}
		if pl.Notice == nil {
			return nil, nil
		}
		rec, err := st.GetRequest(ctx, pl.Request)
		if err != nil {
			return nil, fmt.Errorf("notify: %w", err)
		}
		if err := deliver(ctx, rec, *pl.Notice); err != nil {
			return nil, fmt.Errorf("notify %s of %s: %w", pl.Notice.Kind, rec.ID(), err)
		}
		return nil, nil
	}
}
