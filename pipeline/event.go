package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/clustropg/clustro/engine"
	"github.com/clustropg/clustro/gitops"
	"github.com/clustropg/clustro/request"
	"github.com/clustropg/clustro/store"
	"github.com/clustropg/clustro/templates"
)

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
		&request.Notice{Kind: request.NoticeMerged, Actor: ev.Sender, PRURL: rec.PR.URL, Text: fmt.Sprintf("%s merged pull request #%d: applying %s.", ev.Sender, ev.PR, rec.Request.Key())},
		store.AndEnqueue(newJob(JobApply, rec.ID(), dir, jobPayload{SHA: ev.MergeSHA, PR: ev.PR, Dir: dir})))
	return ignoreIllegal(err)
}

// Receive stores a verified webhook delivery as a job, once per delivery
// and action (a redelivery returns duplicate true): gitops.WebhookHandler
// calls it before answering GitHub.
func (p *Pipeline) Receive(ctx context.Context, ev gitops.Event) (id string, duplicate bool, err error) {
	job, created, err := p.queueEvent(ctx, ev, "", store.Idempotency{Scope: "github-delivery", Key: ev.Delivery + "/" + ev.Action})
	return job.ID, !created, err
}

// queueEvent queues a pull request's event in its lane: the events of one
// pull request are handled one at a time, in the order they were stored.
func (p *Pipeline) queueEvent(ctx context.Context, ev gitops.Event, requestID string, key store.Idempotency) (store.Job, bool, error) {
	body, err := json.Marshal(ev)
	if err != nil {
		return store.Job{}, false, fmt.Errorf("queue the event of PR #%d: %w", ev.PR, err)
	}
	job, created, err := p.store.Enqueue(ctx, store.NewJob{Kind: JobGitHubEvent, RequestID: requestID, Payload: body,
		Workspace: fmt.Sprintf("github/pr/%d", ev.PR), Key: key})
	if err != nil {
		return store.Job{}, false, fmt.Errorf("queue the event of PR #%d: %w", ev.PR, err)
	}
	if created {
		p.wake()
	}
	return job, created, nil
}

// githubEvent acts on a stored webhook delivery.
func (p *Pipeline) githubEvent(ctx context.Context, job store.Job) ([]byte, error) {
	var ev gitops.Event
	if err := json.Unmarshal(job.Payload, &ev); err != nil {
		return nil, engine.Permanent(err)
	}
	rec, err := p.requestOf(ctx, ev)
	if errors.Is(err, store.ErrNotFound) {
		p.log.Info().Int("pr", ev.PR).Str("action", ev.Action).Msg("webhook for a pull request ClustroPG did not open: ignored")
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	origin := request.Event{Actor: ev.Sender, Origin: "github", Ref: ev.Delivery}
	switch {
	case ev.Action == "closed" && ev.Merged:
		return nil, p.merged(ctx, rec, ev, origin)
	case ev.Action == "closed":
		if rec.State.Terminal() || rec.State == request.Merged {
			return nil, nil
		}
		origin.Detail = "PR closed without merging"
		_, err := p.transition(ctx, rec.ID(), request.Cancelled, origin,
			&request.Notice{Kind: request.NoticeCancelled, Actor: ev.Sender, PRURL: rec.PR.URL, Text: fmt.Sprintf("%s closed pull request #%d without merging: the request for %s is cancelled.", ev.Sender, ev.PR, rec.Request.Key())})
		return nil, ignoreIllegal(err)
	case ev.Action == "comment":
		return nil, p.command(ctx, rec, ev, origin)
	case ev.Action == "opened":
		return nil, nil // open_pr queued the first plan itself
	default: // synchronize, reopened
		if rec.State == request.Cancelled && ev.Action == "reopened" {
			return nil, p.github.Comment(ctx, ev.PR, fmt.Sprintf("This request was cancelled when the pull request was closed, and ClustroPG will not plan or apply it. "+
				"Close it again and ask for %s anew (`/pg new` or the API).", rec.Request.Key()))
		}
		if rec.State != request.PROpen && rec.State != request.Planned {
			return nil, nil
		}
		return nil, p.verifyPush(ctx, rec, ev.HeadSHA, origin)
	}
}

// requestOf finds the request of a pull request: by its branch
// (clustro/<request id>) when the event names it, since GitHub may deliver
// "opened" before the open_pr job has recorded the PR number.
func (p *Pipeline) requestOf(ctx context.Context, ev gitops.Event) (store.Record, error) {
	if id, ok := strings.CutPrefix(ev.HeadRef, "clustro/"); ok {
		rec, err := p.store.GetRequest(ctx, id)
		if err != nil {
			return store.Record{}, err
		}
		if rec.PR.Number == 0 && rec.State == request.Submitted {
			// Retried with backoff until open_pr has recorded the PR.
			return store.Record{}, fmt.Errorf("PR #%d of request %s is not recorded yet", ev.PR, id)
		}
		if rec.PR.Number != ev.PR {
			// Another pull request from a branch of that name.
			return store.Record{}, store.ErrNotFound
		}
		return rec, nil
	}
	rec, err := p.store.RequestByPR(ctx, ev.PR)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return store.Record{}, fmt.Errorf("find the request of PR #%d: %w", ev.PR, err)
	}
	return rec, err
}

// verifyPush refuses a push that changes files outside the request's
// workspace, and queues the plan job, which verifies the workspace itself.
// Nothing from an unverified push runs.
func (p *Pipeline) verifyPush(ctx context.Context, rec store.Record, sha string, origin request.Event) error {
	dir := templates.WorkspaceDir(rec.Request.Spec)
	pr, err := p.github.GetPR(ctx, rec.PR.Number)
	if err != nil {
		return err
	}
	outside, err := p.prFilesOutside(ctx, rec.PR.Number, pr.GetChangedFiles(), dir)
	if engine.IsPermanent(err) {
		return p.refuse(ctx, rec, sha, origin, []string{strings.Replace(err.Error(), "nothing was applied", "nothing was planned", 1)})
	}
	if err != nil {
		return err
	}
	var refused []string
	for _, name := range outside {
		refused = append(refused, fmt.Sprintf("`%s`: this pull request may change only `%s/`; modules and other paths change through `clustro bootstrap` or a normal review", name, dir))
	}
	if len(refused) > 0 {
		return p.refuse(ctx, rec, sha, origin, refused)
	}
	if err := p.github.SetStatus(ctx, sha, gitops.StatusPending, "verifying and planning", ""); err != nil {
		return err
	}
	// The plan job verifies the workspace at sha and records a reviewer's
	// edit: one checkout per push, one place that decides.
	return p.enqueue(ctx, newJob(JobPlan, rec.ID(), dir, jobPayload{SHA: sha, PR: rec.PR.Number, Dir: dir, Actor: origin.Actor, Ref: origin.Ref}))
}

// refuse reports a push that failed verification on the pull request.
func (p *Pipeline) refuse(ctx context.Context, rec store.Record, sha string, origin request.Event, refused []string) error {
	for i := range refused {
		refused[i] = p.redact(refused[i])
	}
	body := "### ClustroPG refused this change\n\nNothing was planned: every file of a database pull request must be what `clustro render` writes, with only the values reviewers may change.\n\n- " +
		strings.Join(refused, "\n- ") + "\n\nPush a fix and it is verified again."
	if err := p.github.UpsertComment(ctx, rec.PR.Number, "verify", body); err != nil {
		return err
	}
	if err := p.github.SetStatus(ctx, sha, gitops.StatusFailure, "refused: the change failed verification", rec.PR.URL); err != nil {
		return err
	}
	ev := origin
	ev.Detail = "push refused: " + strings.Join(refused, "; ")
	_, err := p.store.UpdateRequest(ctx, rec.ID(), store.Change{}, ev,
		store.AndEnqueue(notifyJob(rec.ID(), request.Notice{Kind: request.NoticeRefused, PRURL: rec.PR.URL, Actor: origin.Actor,
			Text: fmt.Sprintf("A push to pull request #%d was refused and not planned: %s", rec.PR.Number, strings.Join(refused, "; "))})))
	p.wake()
	return err
}

// command runs a /clustro comment.
func (p *Pipeline) command(ctx context.Context, rec store.Record, ev gitops.Event, origin request.Event) error {
	allowed := slices.Contains(p.cfg.Commenters, ev.Sender)
	if len(p.cfg.Commenters) == 0 {
		allowed = slices.Contains([]string{"OWNER", "MEMBER", "COLLABORATOR"}, ev.Association)
	}
	if !allowed {
		who := "the repository's owners, members and collaborators"
		if len(p.cfg.Commenters) > 0 {
			who = strings.Join(p.cfg.Commenters, ", ")
		}
		return p.github.Comment(ctx, ev.PR, fmt.Sprintf("@%s is not allowed to run ClustroPG commands (allowed: %s).", ev.Sender, who))
	}
	words := strings.Fields(ev.Comment)
	verb := ""
	if len(words) > 1 {
		verb = words[1]
	}
	switch verb {
	case "plan":
		pr, err := p.github.GetPR(ctx, ev.PR)
		if err != nil {
			return err
		}
		if pr.GetState() != "open" {
			return p.github.Comment(ctx, ev.PR, "`/clustro plan` works on an open pull request.")
		}
		return p.verifyPush(ctx, rec, pr.GetHead().GetSHA(), origin)
	case "apply":
		if rec.State != request.Failed {
			return p.github.Comment(ctx, ev.PR, fmt.Sprintf("Nothing to retry: the request is %s. `/clustro apply` retries a failed apply after the merge.", rec.State))
		}
		if _, err := p.Retry(ctx, rec.ID(), request.Requester{ID: ev.Sender}, "github"); err != nil {
			return p.github.Comment(ctx, ev.PR, "Cannot retry: "+err.Error())
		}
		return nil
	}
	return p.github.Comment(ctx, ev.PR, "Unknown command. ClustroPG understands `/clustro plan` and `/clustro apply`.")
}

// ignoreIllegal drops a transition refused because the request already
// moved on: events can arrive twice or out of order.
func ignoreIllegal(err error) error {
	var ite *request.IllegalTransitionError
	if errors.As(err, &ite) {
		return nil
	}
	return err
}
