package pipeline

import (
	"context"
	"fmt"
	"path"

	"github.com/clustropg/clustro/gitops"
	"github.com/clustropg/clustro/request"
	"github.com/clustropg/clustro/store"
	"github.com/clustropg/clustro/templates"
)

// openPR renders the request and opens its pull request.
func (p *Pipeline) openPR(ctx context.Context, job store.Job) ([]byte, error) {
	_, rec, err := p.load(ctx, job, "open PR")
	if err != nil {
		return nil, err
	}
	if rec.State != request.Submitted {
		return nil, nil // done before a crash, or cancelled since
	}
	r := rec.Request
	dir := templates.WorkspaceDir(r.Spec)
	ch := gitops.Change{
		Branch:  "clustro/" + r.ID,
		Title:   gitops.Title(r),
		Labels:  gitops.Labels(r),
		Message: gitops.Title(r) + "\n\nRequest " + r.ID + ", asked by " + actorOf(r) + ".",
	}
	if r.Kind == request.Destroy {
		ch.Delete = []string{path.Join(dir, templates.MainFile), path.Join(dir, templates.CatalogFile)}
	} else {
		ws, err := p.renderer.Render(r)
		if err != nil {
			return nil, p.fail(ctx, job, rec, request.Submitted, false, fmt.Errorf("render: %w", err))
		}
		ch.Files = map[string][]byte{}
		for name, b := range ws.Files {
			ch.Files[path.Join(ws.Dir, name)] = b
		}
	}
	reserved, _ := p.policy.Reserved(r.Spec)
	ch.Body = gitops.Body(gitops.BodyInput{Request: r, Namespace: p.policy.NamespaceFor(r.Spec), Reserved: reserved, Dir: dir})
	pr, err := p.github.OpenPR(ctx, ch)
	if err != nil {
		return nil, p.retryOrFail(ctx, job, rec, request.Submitted, fmt.Errorf("open PR: %w", err))
	}
	prRef := store.PullRequest{Number: pr.Number, URL: pr.URL}
	if _, err := p.store.UpdateRequest(ctx, r.ID, store.Change{PR: &prRef}, event(job, fmt.Sprintf("PR #%d opened", pr.Number))); err != nil {
		return nil, fmt.Errorf("record PR #%d: %w", pr.Number, err)
	}
	// The first plan does not wait for GitHub's "opened" delivery, which
	// may come before the PR is recorded, or not at all. ClustroPG wrote
	// this commit: the plan job verifies the workspace as for any push.
	if err := p.github.SetStatus(ctx, pr.HeadSHA, gitops.StatusPending, "verifying and planning", ""); err != nil {
		return nil, p.retryOrFail(ctx, job, rec, request.Submitted, fmt.Errorf("set the status of PR #%d: %w", pr.Number, err))
	}
	first := newJob(JobPlan, r.ID, dir, jobPayload{SHA: pr.HeadSHA, PR: pr.Number, Dir: dir, Actor: "clustro", Ref: "open_pr/" + r.ID})
	first.Key = store.Idempotency{Scope: "pipeline", Key: "first-plan/" + r.ID}
	_, err = p.transition(ctx, r.ID, request.PROpen, event(job, "PR "+pr.URL),
		&request.Notice{Kind: request.NoticePROpened, PRURL: pr.URL, Text: fmt.Sprintf("Pull request #%d opened for %s: it is planned now and applied when a reviewer merges it.", pr.Number, r.Key())},
		store.AndEnqueue(first))
	if err != nil {
		return nil, fmt.Errorf("open PR: %w", err)
	}
	return nil, nil
}
