package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/clustropg/clustro/engine"
	"github.com/clustropg/clustro/gitops"
	"github.com/clustropg/clustro/request"
	"github.com/clustropg/clustro/store"
	"github.com/clustropg/clustro/templates"
)

// openPR renders the request and opens its pull request.
func (p *Pipeline) openPR(ctx context.Context, job store.Job) ([]byte, error) {
	pl, err := decode(job)
	if err != nil {
		return nil, err
	}
	rec, err := p.store.GetRequest(ctx, pl.Request)
	if err != nil {
		return nil, fmt.Errorf("open PR: %w", err)
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
	// may come before the PR is recorded, or not at all.
	first, _ := json.Marshal(gitops.Event{Type: "pull_request", Action: "synchronize", PR: pr.Number,
		HeadSHA: pr.HeadSHA, HeadRef: pr.Branch, Sender: "clustro", Delivery: "open_pr/" + r.ID})
	_, err = p.transition(ctx, r.ID, request.PROpen, event(job, "PR "+pr.URL),
		&Notice{Kind: NoticePROpened, PRURL: pr.URL, Text: fmt.Sprintf("Pull request #%d opened for %s: it is planned now and applied when a reviewer merges it.", pr.Number, r.Key())},
		store.AndEnqueue(store.NewJob{Kind: gitops.EventJob, RequestID: r.ID, Payload: first, Workspace: gitops.EventLane(pr.Number),
			Key: store.Idempotency{Scope: "pipeline", Key: "first-plan/" + r.ID}}))
	if err != nil {
		return nil, fmt.Errorf("open PR: %w", err)
	}
	return nil, nil
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
			&Notice{Kind: NoticeCancelled, Actor: ev.Sender, PRURL: rec.PR.URL, Text: fmt.Sprintf("%s closed pull request #%d without merging: the request for %s is cancelled.", ev.Sender, ev.PR, rec.Request.Key())})
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
	files, err := p.github.ChangedFiles(ctx, rec.PR.Number)
	if err != nil {
		return err
	}
	var refused []string
	for _, f := range files {
		for _, name := range []string{f.Path, f.PreviousPath} {
			if name != "" && path.Dir(name) != dir {
				refused = append(refused, fmt.Sprintf("`%s`: this pull request may change only `%s/`; modules and other paths change through `clustro bootstrap` or a normal review", name, dir))
			}
		}
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
		store.AndEnqueue(notifyJob(rec.ID(), Notice{Kind: NoticeRefused, PRURL: rec.PR.URL, Actor: origin.Actor,
			Text: fmt.Sprintf("A push to pull request #%d was refused and not planned: %s", rec.PR.Number, strings.Join(refused, "; "))})))
	p.wake()
	return err
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

// changedOutside lists the files that differ between two checkouts
// outside the workspace dir.
func changedOutside(a, b, dir string) ([]string, error) {
	files := map[string][]byte{}
	walk := func(root string, visit func(rel string, data []byte)) error {
		return filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			visit(filepath.ToSlash(rel), data)
			return nil
		})
	}
	var changed []string
	if err := walk(a, func(rel string, data []byte) { files[rel] = data }); err != nil {
		return nil, err
	}
	err := walk(b, func(rel string, data []byte) {
		if old, ok := files[rel]; !ok || !bytes.Equal(old, data) {
			changed = append(changed, rel)
		}
		delete(files, rel)
	})
	if err != nil {
		return nil, err
	}
	for rel := range files {
		changed = append(changed, rel)
	}
	var outside []string
	for _, rel := range changed {
		if path.Dir(rel) != dir {
			outside = append(outside, rel)
		}
	}
	slices.Sort(outside)
	return outside, nil
}
