package pipeline

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/clustropg/clustro/engine"
	"github.com/clustropg/clustro/request"
	"github.com/clustropg/clustro/store"
	"github.com/clustropg/clustro/terraform"
)

// apply applies (or, for a deletion, destroys) the workspace at the merge
// commit, after verifying it once more.
func (p *Pipeline) apply(ctx context.Context, job store.Job) ([]byte, error) {
	pl, rec, err := p.load(ctx, job, "apply")
	if err != nil {
		return nil, err
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
			&request.Notice{Kind: request.NoticeApplying, PRURL: rec.PR.URL, Text: fmt.Sprintf("%s %s (terraform).", titleCase(string(step)), rec.Request.Key())}); err != nil {
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
	// The first parent's tree is needed only to compare a merge commit's
	// tree with it, and for a deletion (the merged tree lacks the
	// workspace): squash and rebase merges of a change skip the download.
	var prev string
	if len(parents) > 1 || deletion {
		var cleanPrev func()
		if prev, cleanPrev, err = p.checkout(ctx, parents[0]); err != nil {
			return nil, p.checkoutFailed(ctx, job, rec, step, err)
		}
		defer cleanPrev()
	}
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
	if !deletion {
		refused, err := p.restoreEdits(ctx, rec, spec)
		if err != nil {
			return nil, p.retryOrFail(ctx, job, rec, step, err)
		}
		if len(refused) > 0 {
			return nil, p.fail(ctx, job, rec, step, false, fmt.Errorf("the merged workspace changes the restore, nothing was applied: %s", strings.Join(refused, "; ")))
		}
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
			&request.Notice{Kind: request.NoticeDeleted, PRURL: rec.PR.URL, Text: fmt.Sprintf("%s is deleted (%s).", rec.Request.Key(), summary)})
		return nil, err
	}
	if !sameSpec(spec, rec.Request.Spec) {
		// Applied is what was verified: keep the record in step with it.
		if _, err := p.store.UpdateRequest(ctx, rec.ID(), store.Change{Spec: &spec}, event(job, "applied spec: "+diffSpec(rec.Request.Spec, spec))); err != nil {
			return nil, err
		}
	}
	_, err = p.transition(ctx, rec.ID(), request.Provisioning, event(job, "applied: "+summary),
		&request.Notice{Kind: request.NoticeProgress, PRURL: rec.PR.URL, Text: fmt.Sprintf("Applied (%s). Waiting for CloudNativePG to bring %s up.", summary, rec.Request.Key())},
		store.AndEnqueue(newJob(JobWaitReady, rec.ID(), "", jobPayload{})))
	return nil, err
}

func titleCase(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// mergedOutside lists the files a merged pull request changed outside its
// workspace dir. The merge commit's parents are given, and prev and root
// are checkouts of its first parent and of itself.
//
// What the pull request changed is GitHub's list of its files: the change
// from where its branch left the base branch to its head, all its commits
// together. Whatever the merge method, nothing a commit changed is missing
// from it (a rebase merge writes one commit per pull request commit, so the
// merge commit alone can hide an earlier commit's change), and nothing
// other pull requests merged meanwhile is in it.
//
// A merge commit (two parents) can also hold more than the pull request:
// one pushed by hand. Its tree is compared with its first parent's, the
// base branch before the merge. A squash or rebase merge has one parent,
// which for a rebase is the pull request's previous commit, not the base
// branch: there, the file list is the whole account.
//
// A merge that is not the pull request's, or a file list GitHub cut short
// (it lists at most 3000 files), cannot be checked: a permanent error.
func (p *Pipeline) mergedOutside(ctx context.Context, pl jobPayload, parents []string, prev, root string) ([]string, error) {
	pr, err := p.github.GetPR(ctx, pl.PR)
	if err != nil {
		return nil, err
	}
	switch {
	case !pr.GetMerged():
		return nil, engine.Permanent(fmt.Errorf("pull request #%d is not merged: nothing was applied", pl.PR))
	case pr.GetMergeCommitSHA() != pl.SHA:
		return nil, engine.Permanent(fmt.Errorf("pull request #%d was merged as %s, not %s: nothing was applied", pl.PR, shortSHA(pr.GetMergeCommitSHA()), shortSHA(pl.SHA)))
	}
	outside, err := p.prFilesOutside(ctx, pl.PR, pr.GetChangedFiles(), pl.Dir)
	if err != nil {
		return nil, err
	}
	if len(parents) > 1 {
		landed, err := changedOutside(prev, root, pl.Dir)
		if err != nil {
			return nil, err
		}
		outside = append(outside, landed...)
	}
	slices.Sort(outside)
	return slices.Compact(outside), nil
}
