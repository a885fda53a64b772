package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
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
	for _, name := range filesOutside(files, dir) {
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

// filesOutside lists the files of a pull request's file list outside the
// workspace dir (a rename counts by both its names): the one rule a push
// and a merge are held to.
func filesOutside(files []gitops.File, dir string) []string {
	var outside []string
	for _, f := range files {
		for _, name := range []string{f.Path, f.PreviousPath} {
			if name != "" && path.Dir(name) != dir {
				outside = append(outside, name)
			}
		}
	}
	return outside
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
	files, err := p.github.ChangedFiles(ctx, pl.PR)
	if err != nil {
		return nil, err
	}
	if len(files) < pr.GetChangedFiles() {
		return nil, engine.Permanent(fmt.Errorf("GitHub lists %d of the %d files pull request #%d changed, so they cannot all be checked: nothing was applied",
			len(files), pr.GetChangedFiles(), pl.PR))
	}
	outside := filesOutside(files, pl.Dir)
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

// changedOutside lists the files that differ between the checkouts a and
// b outside the workspace dir. Files are compared a chunk at a time, two
// open at once: neither tree is read into memory, only its file names.
func changedOutside(a, b, dir string) ([]string, error) {
	as, err := checkoutFilesOutside(a, dir)
	if err != nil {
		return nil, err
	}
	bs, err := checkoutFilesOutside(b, dir)
	if err != nil {
		return nil, err
	}
	var changed []string
	for len(as) > 0 || len(bs) > 0 {
		switch {
		case len(bs) == 0 || (len(as) > 0 && as[0] < bs[0]):
			changed, as = append(changed, as[0]), as[1:] // removed
		case len(as) == 0 || bs[0] < as[0]:
			changed, bs = append(changed, bs[0]), bs[1:] // added
		default:
			same, err := sameFile(filepath.Join(a, filepath.FromSlash(as[0])), filepath.Join(b, filepath.FromSlash(bs[0])))
			if err != nil {
				return nil, err
			}
			if !same {
				changed = append(changed, as[0])
			}
			as, bs = as[1:], bs[1:]
		}
	}
	return changed, nil
}

// checkoutFilesOutside lists the files of a checkout outside the workspace
// dir, by slash path, sorted.
func checkoutFilesOutside(root, dir string) ([]string, error) {
	var files []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		if rel = filepath.ToSlash(rel); path.Dir(rel) != dir {
			files = append(files, rel)
		}
		return nil
	})
	slices.Sort(files)
	return files, err
}

// sameFile reports whether two files hold the same bytes, reading both a
// chunk at a time.
func sameFile(a, b string) (bool, error) {
	fa, err := os.Open(a)
	if err != nil {
		return false, err
	}
	defer fa.Close()
	fb, err := os.Open(b)
	if err != nil {
		return false, err
	}
	defer fb.Close()
	ia, err := fa.Stat()
	if err != nil {
		return false, err
	}
	ib, err := fb.Stat()
	if err != nil {
		return false, err
	}
	if ia.Size() != ib.Size() {
		return false, nil
	}
	const chunk = 32 << 10
	ba, bb := make([]byte, chunk), make([]byte, chunk)
	for {
		na, ea := io.ReadFull(fa, ba)
		nb, eb := io.ReadFull(fb, bb)
		if na != nb || !bytes.Equal(ba[:na], bb[:nb]) {
			return false, nil
		}
		endA := ea == io.EOF || ea == io.ErrUnexpectedEOF
		endB := eb == io.EOF || eb == io.ErrUnexpectedEOF
		switch {
		case ea != nil && !endA:
			return false, ea
		case eb != nil && !endB:
			return false, eb
		case endA || endB:
			return endA && endB, nil
		}
	}
}
