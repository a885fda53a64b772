package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/go-github/v62/github"

	"github.com/clustropg/clustro/gitops"
	"github.com/clustropg/clustro/request"
	"github.com/clustropg/clustro/store"
)

// syncOverlap is how far before a pass's start the next pass looks again:
// more than the clock difference with GitHub and the time GitHub takes to
// list a change. Queued events are idempotent, so looking twice is free.
const syncOverlap = 10 * time.Minute

// syncScope is the idempotency scope of the passes Sync completed, keyed
// by the ETag of the first page they read.
const syncScope = "github-sync"

// syncPass is what a completed pass records.
type syncPass struct {
	// Watermark: every pull request closed before it has been seen.
	Watermark time.Time `json:"watermark"`
}

// Sync catches up with what GitHub knows and ClustroPG missed: GitHub does
// not redeliver a webhook that failed (during a restart, say), so a merge
// or a close could otherwise be lost and its request wait forever. It
// queues the event a missed delivery would have queued for every pull
// request that is closed on GitHub and open on our side; a duplicate of a
// delivery that did arrive is a no-op.
//
// Its GitHub calls do not depend on the number of open requests. It reads
// the closed pull requests most recently updated first, page by page, down
// to the watermark of the last pass (its start, less syncOverlap), and
// records each completed pass in the store under the ETag of the first
// page. The next pass asks for that page with If-None-Match: an unchanged
// repository answers 304, which GitHub does not count against the rate
// limit, and the pass ends there, since a pull request closed or updated
// since would head the first page. After a restart (or on another replica)
// the first read is a full one, and ends there too if a completed pass saw
// the same page. Without a recorded watermark, it reads down to the
// creation of the oldest open request, before which none of their pull
// requests can have been closed.
func (p *Pipeline) Sync(ctx context.Context) error {
	if p.github == nil {
		return nil
	}
	start := time.Now()
	page, err := p.github.RecentlyClosed(ctx, 1, true)
	if err != nil {
		return fmt.Errorf("sync: %w", err)
	}
	if _, done, err := p.syncPass(ctx, page.ETag); err != nil || done {
		return err
	}
	if page.NotModified {
		// Unchanged since the last read, whose pass did not finish.
		if page, err = p.github.RecentlyClosed(ctx, 1, false); err != nil {
			return fmt.Errorf("sync: %w", err)
		}
	}
	first := page.ETag
	recs, err := p.store.ListRequests(ctx, store.Filter{States: []request.State{request.PROpen, request.Planned}})
	if err != nil {
		return fmt.Errorf("sync: %w", err)
	}
	open := make(map[int]store.Record, len(recs))
	floor := start
	for _, rec := range recs {
		if rec.PR.Number != 0 {
			open[rec.PR.Number] = rec
			floor = minTime(floor, rec.CreatedAt.Add(-syncOverlap))
		}
	}
	watermark := floor
	if last, ok, err := p.syncPass(ctx, page.Previous); err != nil {
		return err
	} else if ok && last.Watermark.After(watermark) {
		watermark = last.Watermark
	}
	for {
		older := false
		for _, pr := range page.Pulls {
			if pr.GetUpdatedAt().Before(watermark) {
				older = true // and so are the ones after it
				break
			}
			if rec, ok := open[pr.GetNumber()]; ok && pr.GetState() == "closed" {
				if err := p.queueMissed(ctx, rec, pr); err != nil {
					return err
				}
			}
		}
		if older || page.NextPage == 0 || len(open) == 0 {
			break
		}
		if page, err = p.github.RecentlyClosed(ctx, page.NextPage, false); err != nil {
			return fmt.Errorf("sync: %w", err)
		}
	}
	return p.recordSyncPass(ctx, first, syncPass{Watermark: start.Add(-syncOverlap)})
}

// syncPass returns the pass recorded under etag, if one completed.
func (p *Pipeline) syncPass(ctx context.Context, etag string) (syncPass, bool, error) {
	if etag == "" {
		return syncPass{}, false, nil
	}
	b, err := p.store.Recall(ctx, store.Idempotency{Scope: syncScope, Key: etag})
	if errors.Is(err, store.ErrNotFound) {
		return syncPass{}, false, nil
	}
	if err != nil {
		return syncPass{}, false, fmt.Errorf("sync: %w", err)
	}
	var pass syncPass
	if err := json.Unmarshal(b, &pass); err != nil {
		return syncPass{}, false, nil // not ours: read as if no pass was recorded
	}
	return pass, true, nil
}

// recordSyncPass records a completed pass. The first pass to see a page
// keeps its record: an older watermark only makes later passes look
// further back.
func (p *Pipeline) recordSyncPass(ctx context.Context, etag string, pass syncPass) error {
	if etag == "" {
		return nil
	}
	b, err := json.Marshal(pass)
	if err != nil {
		return fmt.Errorf("sync: %w", err)
	}
	if _, _, err := p.store.Remember(ctx, store.Idempotency{Scope: syncScope, Key: etag}, b); err != nil {
		return fmt.Errorf("sync: %w", err)
	}
	return nil
}

// queueMissed queues the closed event of rec's pull request pr, once. A
// listed pull request does not say who merged it: a merged one is read
// in full for that.
func (p *Pipeline) queueMissed(ctx context.Context, rec store.Record, pr *github.PullRequest) error {
	if pr.MergedAt != nil {
		full, err := p.github.GetPR(ctx, pr.GetNumber())
		if err != nil {
			return fmt.Errorf("sync PR #%d: %w", pr.GetNumber(), err)
		}
		pr = full
	}
	ev := gitops.Event{Type: "pull_request", Action: "closed", PR: pr.GetNumber(), HeadSHA: pr.GetHead().GetSHA(),
		HeadRef: pr.GetHead().GetRef(), BaseSHA: pr.GetBase().GetSHA(), BaseRef: pr.GetBase().GetRef(),
		Merged: pr.GetMerged() || pr.MergedAt != nil, MergeSHA: pr.GetMergeCommitSHA(), Sender: pr.GetMergedBy().GetLogin(),
		Delivery: "sync"}
	if ev.Sender == "" {
		ev.Sender = "github"
	}
	_, created, err := p.queueEvent(ctx, ev, rec.ID(), store.Idempotency{Scope: "pipeline", Key: fmt.Sprintf("sync/%d/closed", ev.PR)})
	if err != nil {
		return err
	}
	if created {
		p.log.Info().Int("pr", ev.PR).Bool("merged", ev.Merged).Str("request", rec.ID()).Msg("sync: queued a missed pull request event")
	}
	return nil
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// SyncEvery runs Sync every interval until ctx is done.
func (p *Pipeline) SyncEvery(ctx context.Context, interval time.Duration) {
	p.every(ctx, interval, "sync with GitHub", p.Sync)
}

// every runs fn each interval until ctx is done, logging its errors as
// what failed.
func (p *Pipeline) every(ctx context.Context, interval time.Duration, what string, fn func(context.Context) error) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := fn(ctx); err != nil && ctx.Err() == nil {
				p.log.Warn().Err(err).Msg(what)
			}
		}
	}
}
