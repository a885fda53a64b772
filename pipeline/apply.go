package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/clustropg/clustro/engine"
	"github.com/clustropg/clustro/gitops"
	"github.com/clustropg/clustro/request"
	"github.com/clustropg/clustro/store"
	"github.com/clustropg/clustro/templates"
	"github.com/clustropg/clustro/terraform"
)

// plan verifies the workspace at the pushed commit again (the trust gate
// right before terraform runs) and plans it in the base branch's tree, so
// nothing but the workspace comes from the pull request: one comment per
// workspace, edited in place, and the clustro/plan status.
func (p *Pipeline) plan(ctx context.Context, job store.Job) ([]byte, error) {
	pl, err := decode(job)
	if err != nil {
		return nil, err
	}
	rec, err := p.store.GetRequest(ctx, pl.Request)
	if err != nil {
		return nil, fmt.Errorf("plan: %w", err)
	}
	if rec.State != request.PROpen && rec.State != request.Planned {
		return nil, nil // merged, cancelled or failed since: nothing to review any more
	}
	if pr, err := p.github.GetPR(ctx, pl.PR); err != nil {
		return nil, err
	} else if pr.GetHead().GetSHA() != pl.SHA {
		return nil, nil // a newer push is verified and planned on its own
	}
	var (
		result *terraform.Plan
		root   string
		clean  func()
	)
	start := time.Now()
	pushed := request.Event{Actor: pl.Actor, Origin: "github", Ref: pl.Ref}
	if rec.Request.Kind == request.Destroy {
		// The PR removes the workspace: check it is gone from the pushed
		// commit, then plan its destruction from the base branch.
		head, cleanHead, err := p.checkout(ctx, pl.SHA)
		if err != nil {
			return nil, err
		}
		_, statErr := os.Stat(filepath.Join(head, filepath.FromSlash(pl.Dir), templates.MainFile))
		cleanHead()
		if statErr == nil {
			return nil, p.refuse(ctx, rec, pl.SHA, pushed, []string{"`" + pl.Dir + "`: a deletion must remove the workspace"})
		}
		base, err := p.github.BaseHead(ctx)
		if err != nil {
			return nil, err
		}
		if root, clean, err = p.checkout(ctx, base); err != nil {
			return nil, err
		}
		defer clean()
		if _, err := p.verifyIn(root, pl.Dir); err != nil {
			return nil, engine.Permanent(fmt.Errorf("the workspace to delete failed verification on the base branch: %w", err))
		}
		result, err = p.runner.PlanDestroy(ctx, terraform.Workspace{Root: root, Dir: pl.Dir})
		if err != nil {
			return nil, p.planFailed(ctx, rec, pl, err)
		}
	} else {
		var (
			spec request.Spec
			verr error
		)
		root, spec, clean, verr = p.planTree(ctx, pl.SHA, pl.Dir)
		if verr != nil {
			var vs templates.Violations
			if errors.As(verr, &vs) {
				refused := make([]string, len(vs))
				for i, v := range vs {
					refused[i] = "`" + v.String() + "`"
				}
				return nil, p.refuse(ctx, rec, pl.SHA, pushed, refused)
			}
			return nil, verr
		}
		defer clean()
		if err := p.recordEdit(ctx, rec, spec, pushed); err != nil {
			return nil, err
		}
		result, err = p.runner.Plan(ctx, terraform.Workspace{Root: root, Dir: pl.Dir})
		if err != nil {
			return nil, p.planFailed(ctx, rec, pl, err)
		}
	}
	p.observe("plan", time.Since(start))
	summary := result.Summary.String()
	body := fmt.Sprintf("### Plan for `%s`\n\n**%s**\n\n<details><summary>Show plan</summary>\n\n```diff\n%s\n```\n\n</details>\n\nCommit %s. Merging applies exactly this workspace.",
		pl.Dir, summary, p.redact(strings.TrimSpace(result.Text)), shortSHA(pl.SHA))
	if err := p.github.UpsertComment(ctx, pl.PR, "plan:"+pl.Dir, body); err != nil {
		return nil, err
	}
	if err := p.github.SetStatus(ctx, pl.SHA, gitops.StatusSuccess, summary, rec.PR.URL); err != nil {
		return nil, err
	}
	ev := event(job, summary)
	if _, err := p.store.UpdateRequest(ctx, rec.ID(), store.Change{PlanSummary: &summary}, ev); err != nil {
		return nil, err
	}
	_, err = p.transition(ctx, rec.ID(), request.Planned, ev,
		&Notice{Kind: NoticePlanned, PRURL: rec.PR.URL, Plan: summary, Text: fmt.Sprintf("Planned %s: %s Waiting for a reviewer to merge pull request #%d.", rec.Request.Key(), summary, rec.PR.Number)})
	return nil, ignoreIllegal(err) // merged meanwhile: the plan comment is all that is left to do
}

// recordEdit stores a reviewer's edit of the workspace (size M to L, say)
// on the request and tells the requester.
func (p *Pipeline) recordEdit(ctx context.Context, rec store.Record, spec request.Spec, by request.Event) error {
	if sameSpec(spec, rec.Request.Spec) {
		return nil
	}
	change := diffSpec(rec.Request.Spec, spec)
	by.Detail = "reviewer edit: " + change
	_, err := p.store.UpdateRequest(ctx, rec.ID(), store.Change{Spec: &spec}, by,
		store.AndEnqueue(notifyJob(rec.ID(), Notice{Kind: NoticeEdited, Actor: by.Actor, PRURL: rec.PR.URL,
			Text: fmt.Sprintf("%s edited the pull request: %s.", by.Actor, change)})))
	if err != nil {
		return fmt.Errorf("record reviewer edit: %w", err)
	}
	p.wake()
	return nil
}

// planFailed reports a failed plan on the pull request. A plan error is
// the workspace's or the cluster's: it is not retried; a push or
// `/clustro plan` plans again.
func (p *Pipeline) planFailed(ctx context.Context, rec store.Record, pl jobPayload, err error) error {
	if ctx.Err() != nil {
		return err // shutting down: the job is given back
	}
	body := fmt.Sprintf("### Plan failed for `%s`\n\n```\n%s\n```\n\nPush a fix or comment `/clustro plan` to plan again.", pl.Dir, p.excerpt(err))
	if cerr := p.github.UpsertComment(ctx, pl.PR, "plan:"+pl.Dir, body); cerr != nil {
		return cerr
	}
	if serr := p.github.SetStatus(ctx, pl.SHA, gitops.StatusFailure, "terraform plan failed", rec.PR.URL); serr != nil {
		return serr
	}
	return engine.Permanent(err)
}

// merged queues the apply of a merged pull request.
func (p *Pipeline) merged(ctx context.Context, rec store.Record, ev gitops.Event, origin request.Event) error {
	if rec.State == request.Cancelled {
		// Reopened after the cancel and merged: the workspace is on the base
		// branch but nothing was verified for this merge. Say so rather than
		// apply it silently, or ignore it silently.
		return p.github.Comment(ctx, ev.PR, fmt.Sprintf("This pull request was merged after its request was cancelled: ClustroPG applied nothing. "+
			"Revert the merge, or ask for %s anew so that it is planned and applied.", rec.Request.Key()))
	}
	if rec.State != request.PROpen && rec.State != request.Planned {
		return nil // a redelivered merge
	}
	origin.Detail = fmt.Sprintf("PR #%d merged by %s at %s", ev.PR, ev.Sender, shortSHA(ev.MergeSHA))
	dir := templates.WorkspaceDir(rec.Request.Spec)
	_, err := p.transition(ctx, rec.ID(), request.Merged, origin,
		&Notice{Kind: NoticeMerged, Actor: ev.Sender, PRURL: rec.PR.URL, Text: fmt.Sprintf("%s merged pull request #%d: applying %s.", ev.Sender, ev.PR, rec.Request.Key())},
		store.AndEnqueue(newJob(JobApply, rec.ID(), dir, jobPayload{SHA: ev.MergeSHA, BaseSHA: ev.BaseSHA, PR: ev.PR, Dir: dir})))
	return ignoreIllegal(err)
}

// apply applies (or, for a deletion, destroys) the workspace at the merge
// commit, after verifying it once more.
func (p *Pipeline) apply(ctx context.Context, job store.Job) ([]byte, error) {
	pl, err := decode(job)
	if err != nil {
		return nil, err
	}
	rec, err := p.store.GetRequest(ctx, pl.Request)
	if err != nil {
		return nil, fmt.Errorf("apply: %w", err)
	}
	deletion := rec.Request.Kind == request.Destroy
	step := request.Applying
	if deletion {
		step = request.Deleting
	}
	switch rec.State {
	case request.Merged, request.Applying, request.Deleting: // first try, or taken over after a crash
	default:
		return nil, nil
	}
	if rec.State == request.Merged {
		if rec, err = p.transition(ctx, rec.ID(), step, event(job, string(step)+" "+shortSHA(pl.SHA)),
			&Notice{Kind: NoticeApplying, PRURL: rec.PR.URL, Text: fmt.Sprintf("%s %s (terraform).", titleCase(string(step)), rec.Request.Key())}); err != nil {
			return nil, err
		}
	}
	// The pull request may change nothing but its workspace: not in any of
	// its commits, whatever the merge method, nor in what the merge wrote.
	parents, err := p.github.Parents(ctx, pl.SHA)
	if err == nil && len(parents) == 0 {
		err = engine.Permanent(fmt.Errorf("merge commit %s has no parent: nothing was applied", shortSHA(pl.SHA)))
	}
	if engine.IsPermanent(err) {
		return nil, p.fail(ctx, job, rec, step, false, err)
	}
	if err != nil {
		return nil, p.retryOrFail(ctx, job, rec, step, err)
	}
	root, cleanup, err := p.checkout(ctx, pl.SHA)
	if err != nil {
		return nil, p.checkoutFailed(ctx, job, rec, step, err)
	}
	defer cleanup()
	prev, cleanPrev, err := p.checkout(ctx, parents[0])
	if err != nil {
		return nil, p.checkoutFailed(ctx, job, rec, step, err)
	}
	defer cleanPrev()
	outside, err := p.mergedOutside(ctx, pl, parents, prev, root)
	if engine.IsPermanent(err) {
		return nil, p.fail(ctx, job, rec, step, false, err)
	}
	if err != nil {
		return nil, p.retryOrFail(ctx, job, rec, step, err)
	}
	if len(outside) > 0 {
		return nil, p.fail(ctx, job, rec, step, false, fmt.Errorf("pull request #%d changed files outside %s (%s): nothing was applied", pl.PR, pl.Dir, strings.Join(outside, ", ")))
	}
	if deletion {
		root = prev // the merged tree no longer has the workspace
	}
	spec, err := p.verifyIn(root, pl.Dir)
	if err != nil {
		return nil, p.fail(ctx, job, rec, step, false, fmt.Errorf("the merged workspace failed verification, nothing was applied: %w", err))
	}
	ws := terraform.Workspace{Root: root, Dir: pl.Dir}
	start := time.Now()
	var res *terraform.ApplyResult
	if deletion {
		res, err = p.runner.Destroy(ctx, ws)
	} else {
		res, err = p.runner.Apply(ctx, ws)
	}
	p.observe(string(step), time.Since(start))
	if err != nil {
		if ctx.Err() != nil {
			return nil, err // shutting down: the job is given back and retried
		}
		return nil, p.fail(ctx, job, rec, step, true, err)
	}
	summary := ""
	if res.Plan != nil {
		summary = res.Plan.Summary.String()
	}
	if deletion {
		_, err = p.transition(ctx, rec.ID(), request.Deleted, event(job, "destroyed: "+summary),
			&Notice{Kind: NoticeDeleted, PRURL: rec.PR.URL, Text: fmt.Sprintf("%s is deleted (%s).", rec.Request.Key(), summary)})
		return nil, err
	}
	if !sameSpec(spec, rec.Request.Spec) {
		// Applied is what was verified: keep the record in step with it.
		if _, err := p.store.UpdateRequest(ctx, rec.ID(), store.Change{Spec: &spec}, event(job, "applied spec: "+diffSpec(rec.Request.Spec, spec))); err != nil {
			return nil, err
		}
	}
	_, err = p.transition(ctx, rec.ID(), request.Provisioning, event(job, "applied: "+summary),
		&Notice{Kind: NoticeProgress, PRURL: rec.PR.URL, Text: fmt.Sprintf("Applied (%s). Waiting for CloudNativePG to bring %s up.", summary, rec.Request.Key())},
		store.AndEnqueue(newJob(JobWaitReady, rec.ID(), "", jobPayload{})))
	return nil, err
}

// waitReady waits for the cluster, checks its credentials by connecting,
// and tells the requester where it is.
func (p *Pipeline) waitReady(ctx context.Context, job store.Job) ([]byte, error) {
	pl, err := decode(job)
	if err != nil {
		return nil, err
	}
	rec, err := p.store.GetRequest(ctx, pl.Request)
	if err != nil {
		return nil, fmt.Errorf("wait for ready: %w", err)
	}
	if rec.State != request.Provisioning {
		return nil, nil
	}
	ns, name := p.policy.NamespaceFor(rec.Request.Spec), rec.Request.Name
	start := time.Now()
	err = p.clusters.WaitReady(ctx, ns, name, func(phase string) {
		// Progress is best effort: a lost notice must not fail the wait.
		p.enqueue(context.WithoutCancel(ctx), notifyJob(rec.ID(), Notice{Kind: NoticeProgress, Text: fmt.Sprintf("%s: %s", rec.Request.Key(), phase)}))
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		return nil, p.fail(ctx, job, rec, request.Provisioning, true, err)
	}
	info, err := p.clusters.Check(ctx, ns, name)
	if err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		return nil, p.fail(ctx, job, rec, request.Provisioning, true, fmt.Errorf("connection check: %w", err))
	}
	p.observeReady(time.Since(start))
	_, err = p.transition(ctx, rec.ID(), request.Ready, event(job, "ready; connection checked"),
		&Notice{Kind: NoticeReady, PRURL: rec.PR.URL, Ready: &info,
			Text: fmt.Sprintf("%s is ready: %s (read-write), %s (read-only).", rec.Request.Key(), info.RWHost, info.ROHost)})
	return nil, err
}

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
		&Notice{Kind: NoticeFailed, PRURL: rec.PR.URL, Next: next, Text: fmt.Sprintf("%s failed while %s: %s", rec.Request.Key(), step, reason)},
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
	if job.Attempts < job.MaxAttempts {
		return cause
	}
	return p.fail(ctx, job, rec, step, true, cause)
}

func (p *Pipeline) observe(cmd string, d time.Duration) {
	if p.observer != nil {
		p.observer.ObserveTerraform(cmd, d)
	}
}

func (p *Pipeline) observeReady(d time.Duration) {
	if p.observer != nil {
		p.observer.ObserveReadiness(d)
	}
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

func shortSHA(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}

func titleCase(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func sameSpec(a, b request.Spec) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// diffSpec says in words what changed between two specs ("size M -> L").
func diffSpec(old, new request.Spec) string {
	var parts []string
	add := func(what string, a, b any) {
		if fmt.Sprint(a) != fmt.Sprint(b) {
			parts = append(parts, fmt.Sprintf("%s %v -> %v", what, a, b))
		}
	}
	add("size", old.Size, new.Size)
	add("instances", old.Instances, new.Instances)
	add("PostgreSQL", old.PostgresVersion, new.PostgresVersion)
	add("storage", orDefault(old.Storage), orDefault(new.Storage))
	add("backups", old.Backups.Schedule, new.Backups.Schedule)
	add("backup hour", hourOf(old.Backups), hourOf(new.Backups))
	add("retention", old.Backups.Retention, new.Backups.Retention)
	add("logical backup", old.LogicalBackup, new.LogicalBackup)
	add("databases", old.Databases, new.Databases)
	if len(parts) == 0 {
		return "no change"
	}
	return strings.Join(parts, ", ")
}

func orDefault(s string) string {
	if s == "" {
		return "preset"
	}
	return s
}

func hourOf(b request.Backups) string {
	if b.Hour == nil {
		return "-"
	}
	return fmt.Sprint(*b.Hour)
}
