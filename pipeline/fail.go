package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/clustropg/clustro/engine"
	"github.com/clustropg/clustro/gitops"
	"github.com/clustropg/clustro/request"
	"github.com/clustropg/clustro/store"
	"github.com/clustropg/clustro/terraform"
)

// fail records a failed step, tells the pull request and the requester,
// and ends the job.
func (p *Pipeline) fail(ctx context.Context, job store.Job, rec store.Record, step request.State, retryable bool, cause error) error {
	reason := p.excerpt(cause)
	next := "Fix the cause, then retry with `/pg retry " + rec.Request.Name + "` in Slack or `/clustro apply` on the pull request."
	if step == request.Submitted {
		next = "Retry with `/pg retry " + rec.Request.Name + "`."
	}
	if !retryable {
		next = "This cannot be retried as is: the request is closed; ask again with a new request."
	}
	f := request.Failure{Step: string(step), Reason: reason, Retryable: retryable}
	_, err := p.transition(ctx, rec.ID(), request.Failed, event(job, string(step)+" failed: "+reason),
		&request.Notice{Kind: request.NoticeFailed, PRURL: rec.PR.URL, Next: next, Text: fmt.Sprintf("%s failed while %s: %s", rec.Request.Key(), step, reason)},
		store.WithFailure(f))
	if err != nil {
		return fmt.Errorf("record failure of %s (%v): %w", rec.ID(), cause, err)
	}
	if rec.PR.Number != 0 && step != request.Submitted {
		p.github.Comment(ctx, rec.PR.Number, fmt.Sprintf("### ClustroPG: %s failed\n\n```\n%s\n```\n\n%s", step, reason, next))
	}
	return engine.Permanent(cause)
}

// checkoutFailed fails the step at once when the tree is over the checkout
// limits (a retry fetches the same tree), and lets the engine retry any
// other checkout error.
func (p *Pipeline) checkoutFailed(ctx context.Context, job store.Job, rec store.Record, step request.State, err error) error {
	var le *gitops.CheckoutLimitError
	if errors.As(err, &le) {
		return p.fail(ctx, job, rec, step, false, fmt.Errorf("%w: nothing was applied", err))
	}
	return p.retryOrFail(ctx, job, rec, step, err)
}

// retryOrFail lets the engine retry a transient error, and records the
// failure on the last attempt.
func (p *Pipeline) retryOrFail(ctx context.Context, job store.Job, rec store.Record, step request.State, cause error) error {
	if _, limited := rateLimited(cause); limited || job.Attempts < job.MaxAttempts {
		return cause
	}
	return p.fail(ctx, job, rec, step, true, cause)
}

// excerpt is the end of an error's text, where terraform puts the cause,
// with the configured secrets removed.
func (p *Pipeline) excerpt(err error) string {
	s := err.Error()
	var te *terraform.Error
	if errors.As(err, &te) && te.Output != "" {
		s = te.Output
	}
	const max = 2000
	if len(s) > max {
		s = "..." + s[len(s)-max:]
	}
	return p.redact(strings.TrimSpace(s))
}

// redact removes the configured secrets from text bound for a comment, a
// notice or an audit event.
func (p *Pipeline) redact(s string) string {
	for _, secret := range p.cfg.Secrets {
		if secret != "" {
			s = strings.ReplaceAll(s, secret, "[redacted]")
		}
	}
	return s
}

// rateLimited reports whether err is GitHub's rate limit holding the work
// up, and until when.
func rateLimited(err error) (time.Time, bool) {
	var rl *gitops.RateLimitError
	if errors.As(err, &rl) {
		return rl.Until, true
	}
	return time.Time{}, false
}

// deferLimits turns GitHub's rate limit into a deferral: the job runs
// again when the limit lifts, without counting the attempt, so a spent
// budget (up to an hour) delays requests but never fails them.
func deferLimits(h engine.Handler) engine.Handler {
	return func(ctx context.Context, job store.Job) ([]byte, error) {
		out, err := h(ctx, job)
		if until, ok := rateLimited(err); ok {
			return out, engine.RetryAt(err, until)
		}
		return out, err
	}
}
