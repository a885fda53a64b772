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
	pl, rec, err := p.load(ctx, job, "plan")
	if err != nil {
		return nil, err
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
		refused, err := p.restoreEdits(ctx, rec, spec)
		if err != nil {
			return nil, err
		}
		if len(refused) > 0 {
			return nil, p.refuse(ctx, rec, pl.SHA, pushed, refused)
		}
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
		&request.Notice{Kind: request.NoticePlanned, PRURL: rec.PR.URL, Plan: summary, Text: fmt.Sprintf("Planned %s: %s Waiting for a reviewer to merge pull request #%d.", rec.Request.Key(), summary, rec.PR.Number)})
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
		store.AndEnqueue(notifyJob(rec.ID(), request.Notice{Kind: request.NoticeEdited, Actor: by.Actor, PRURL: rec.PR.URL,
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

func shortSHA(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
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

// verifyIn verifies the workspace dir of a checkout at root, naming files
// by their path in the repository.
func (p *Pipeline) verifyIn(root, dir string) (request.Spec, error) {
	return p.renderer.VerifyFS(os.DirFS(root), dir, dir)
}

// checkout fetches a commit's tree into a fresh directory.
func (p *Pipeline) checkout(ctx context.Context, sha string) (string, func(), error) {
	root, err := os.MkdirTemp(p.workdir, "clustro-checkout-")
	if err != nil {
		return "", nil, fmt.Errorf("checkout %s: %w", sha, err)
	}
	cleanup := func() { os.RemoveAll(root) }
	if err := p.github.Checkout(ctx, sha, root); err != nil {
		cleanup()
		return "", nil, err
	}
	return root, cleanup, nil
}

// planTree builds the tree a plan runs in: the base branch as it is now,
// with only the workspace dir taken from the pushed commit, after verifying
// that workspace. Whatever else the push changed (a module, another
// workspace) never reaches terraform.
func (p *Pipeline) planTree(ctx context.Context, sha, dir string) (root string, spec request.Spec, cleanup func(), err error) {
	base, err := p.github.BaseHead(ctx)
	if err != nil {
		return "", request.Spec{}, nil, err
	}
	root, cleanRoot, err := p.checkout(ctx, base)
	if err != nil {
		return "", request.Spec{}, nil, err
	}
	pushed, cleanPushed, err := p.checkout(ctx, sha)
	if err != nil {
		cleanRoot()
		return "", request.Spec{}, nil, err
	}
	defer cleanPushed()
	if spec, err = p.verifyIn(pushed, dir); err != nil {
		cleanRoot()
		return "", request.Spec{}, nil, err
	}
	target := filepath.Join(root, filepath.FromSlash(dir))
	if err := os.RemoveAll(target); err != nil {
		cleanRoot()
		return "", request.Spec{}, nil, err
	}
	if err := os.CopyFS(target, os.DirFS(filepath.Join(pushed, filepath.FromSlash(dir)))); err != nil {
		cleanRoot()
		return "", request.Spec{}, nil, fmt.Errorf("prepare the plan tree: %w", err)
	}
	return root, spec, cleanRoot, nil
}
