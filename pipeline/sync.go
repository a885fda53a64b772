package pipeline

import (
	"context"
	"fmt"
	"time"

	"github.com/clustropg/clustro/gitops"
	"github.com/clustropg/clustro/request"
	"github.com/clustropg/clustro/store"
)

// Sync catches up with what GitHub knows and ClustroPG missed: GitHub does
// not redeliver a webhook that failed (during a restart, say), so a merge
// or a close could otherwise be lost and its request wait forever. For
// every request whose pull request is open on our side, it reads the pull
// request and queues the event a missed delivery would have queued; a
// duplicate of a delivery that did arrive is a no-op.
func (p *Pipeline) Sync(ctx context.Context) error {
	if p.github == nil {
		return nil
	}
	recs, err := p.store.ListRequests(ctx, store.Filter{States: []request.State{request.PROpen, request.Planned}})
	if err != nil {
		return fmt.Errorf("sync: %w", err)
	}
	for _, rec := range recs {
		if rec.PR.Number == 0 {
			continue
		}
		pr, err := p.github.GetPR(ctx, rec.PR.Number)
		if err != nil {
			return fmt.Errorf("sync PR #%d: %w", rec.PR.Number, err)
		}
		if pr.GetState() != "closed" {
			continue
		}
		ev := gitops.Event{Type: "pull_request", Action: "closed", PR: pr.GetNumber(), HeadSHA: pr.GetHead().GetSHA(),
			HeadRef: pr.GetHead().GetRef(), BaseSHA: pr.GetBase().GetSHA(), BaseRef: pr.GetBase().GetRef(),
			Merged: pr.GetMerged() || pr.MergedAt != nil, MergeSHA: pr.GetMergeCommitSHA(), Sender: pr.GetMergedBy().GetLogin(),
			Delivery: "sync"}
		if ev.Sender == "" {
			ev.Sender = "github"
		}
		if _, _, err := p.queueEvent(ctx, ev, rec.ID(), store.Idempotency{Scope: "pipeline", Key: fmt.Sprintf("sync/%d/closed", ev.PR)}); err != nil {
			return err
		}
		p.log.Info().Int("pr", ev.PR).Bool("merged", ev.Merged).Str("request", rec.ID()).Msg("sync: queued a missed pull request event")
	}
	return nil
}

// SyncEvery runs Sync every interval until ctx is done.
func (p *Pipeline) SyncEvery(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := p.Sync(ctx); err != nil && ctx.Err() == nil {
				p.log.Warn().Err(err).Msg("sync with GitHub")
			}
		}
	}
}
