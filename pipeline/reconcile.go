package pipeline

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/clustropg/clustro/engine"
	"github.com/clustropg/clustro/request"
	"github.com/clustropg/clustro/store"
	"github.com/clustropg/clustro/templates"
	"github.com/clustropg/clustro/terraform"
)

// Job kinds of a reconcile.
const (
	// JobReconcilePlan plans a live workspace from the base branch and
	// shows the plan, to be confirmed.
	JobReconcilePlan = "reconcile_plan"
	// JobReconcileApply applies the confirmed plan, only if planning again
	// gives the same.
	JobReconcileApply = "reconcile_apply"
)

// reconcileID is the shape of a reconcile's id (store.NewID): a confirm
// from Slack or the API that is not one is refused before it is looked up
// or echoed.
var reconcileID = regexp.MustCompile(`^[0-9a-v]{20}$`)

// errPlanChanged refuses to apply a reconcile whose plan is not the one
// confirmed.
var errPlanChanged = errors.New("the plan is not the one that was confirmed")

// Reconcile asks to apply a ready database's reviewed code on the base
// branch again, to undo a drift. Without confirm it starts a reconcile:
// the plan is made and shown in the database's thread (and on its watch
// record), and nothing is applied. With confirm, the id of that
// reconcile, it applies the plan, if planning again gives exactly the plan
// shown: the same workspace lock, verification, plan-file apply, audit and
// notices as a merge.
//
// Asking again while a reconcile is open returns it; confirming twice is
// harmless. Refusals (the database is not ready, a change is in flight, no
// such reconcile awaits confirmation) are request.Problems.
func (p *Pipeline) Reconcile(ctx context.Context, key store.DatabaseKey, who request.Requester, origin request.Origin, confirm string) (request.Reconcile, error) {
	if confirm != "" && !reconcileID.MatchString(confirm) {
		return request.Reconcile{}, request.Problems{{Field: "confirm", Message: "is not a reconcile id (20 lowercase letters and digits, as a planned reconcile names itself)"}}
	}
	db, err := p.history(ctx, key.Environment, key.Team, key.Name)
	if err != nil {
		return request.Reconcile{}, fmt.Errorf("reconcile %s: %w", keyString(key), err)
	}
	name := request.QualifiedName(key.Environment, key.Team, key.Name)
	switch {
	case !db.Exists():
		return request.Reconcile{}, request.Problems{{Field: "name", Message: fmt.Sprintf("there is no database %s", name)}}
	case db.Live == nil:
		return request.Reconcile{}, request.Problems{{Field: "name", Message: fmt.Sprintf("%s is not ready yet (%s): there is nothing to reconcile", name, db.Latest.State)}}
	case db.Busy():
		return request.Reconcile{}, request.Problems{{Field: "name", Message: fmt.Sprintf(
			"%s has a change in flight (request %s, %s): it applies the reviewed code itself; reconcile after it", name, db.Latest.ID(), db.Latest.State)}}
	}
	live := db.Live
	now := time.Now().UTC()
	dir := templates.WorkspaceDir(live.Request.Spec)
	var (
		out   request.Reconcile
		audit string
	)
	_, err = p.store.UpdateWatch(ctx, key, func(w *store.Watch) (bool, []store.NewJob, error) {
		adopt(w, live.ID())
		r := w.Reconcile
		audit = ""
		if confirm == "" {
			if r.Open() {
				out = *r
				return false, nil, nil
			}
			r = &request.Reconcile{ID: store.NewID(), State: request.ReconcilePlanning, Requester: who, Origin: origin, Requested: now, Updated: now}
			w.Reconcile, out = r, *r
			audit = "reconcile asked: planning the base branch"
			return true, []store.NewJob{newJob(JobReconcilePlan, live.ID(), dir, jobPayload{Dir: dir, Reconcile: r.ID})}, nil
		}
		switch {
		case r == nil || r.ID != confirm:
			return false, nil, request.Problems{{Field: "confirm", Message: fmt.Sprintf(
				"no reconcile %s awaits confirmation for %s; ask for a new one (/pg reconcile, or POST without confirm)", confirm, name)}}
		case r.State == request.ReconcileApplying || r.State == request.ReconcileDone:
			out = *r
			return false, nil, nil // a second click
		case r.State != request.ReconcilePlanned:
			return false, nil, request.Problems{{Field: "confirm", Message: fmt.Sprintf("reconcile %s is %s: only a planned reconcile can be confirmed", r.ID, r.State)}}
		}
		r.State, r.Confirmer, r.Updated = request.ReconcileApplying, &who, now
		out = *r
		audit = fmt.Sprintf("reconcile %s confirmed: applying %s (%s)", r.ID, shortSHA(r.Commit), r.Summary)
		return true, []store.NewJob{newJob(JobReconcileApply, live.ID(), dir, jobPayload{Dir: dir, SHA: r.Commit, Reconcile: r.ID})}, nil
	})
	if err != nil {
		var problems request.Problems
		if errors.As(err, &problems) {
			return request.Reconcile{}, problems
		}
		return request.Reconcile{}, fmt.Errorf("reconcile %s: %w", keyString(key), err)
	}
	if audit != "" {
		p.wake()
		if err := p.audit(ctx, live.ID(), request.Event{Actor: who.ID, Origin: origin.Kind, Ref: out.ID, Detail: audit}); err != nil {
			return out, err
		}
	}
	return out, nil
}

// reconcileGuard ends a reconcile as failed when its job fails for the
// last time, so that it never stays open with no job to finish it.
func (p *Pipeline) reconcileGuard(h engine.Handler) engine.Handler {
	return func(ctx context.Context, job store.Job) ([]byte, error) {
		out, err := h(ctx, job)
		if !failedForGood(ctx, job, err) {
			return out, err
		}
		pl, rec, lerr := p.load(ctx, job, "reconcile")
		if lerr != nil {
			return out, err
		}
		key, r, rerr := p.reconcileOf(ctx, rec, pl.Reconcile)
		if rerr != nil || r == nil {
			return out, err
		}
		return out, p.reconcileEnded(ctx, key, rec, r.ID, request.ReconcileFailed, p.excerpt(err), nil)
	}
}

// audit records an event on a request without changing it.
func (p *Pipeline) audit(ctx context.Context, id string, ev request.Event) error {
	if _, err := p.store.UpdateRequest(ctx, id, store.Change{}, ev); err != nil {
		return fmt.Errorf("audit %s: %w", id, err)
	}
	return nil
}

// reconcileOf reads the watch record of a reconcile job's database and the
// reconcile it names, nil when it is no longer the open one.
func (p *Pipeline) reconcileOf(ctx context.Context, rec store.Record, id string) (store.DatabaseKey, *request.Reconcile, error) {
	key := store.DatabaseKey{Environment: rec.Request.Environment, Team: rec.Request.Team, Name: rec.Request.Name}
	w, err := p.store.GetWatch(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return key, nil, nil
	}
	if err != nil {
		return key, nil, fmt.Errorf("reconcile %s: %w", keyString(key), err)
	}
	if w.Reconcile == nil || w.Reconcile.ID != id || w.RequestID != rec.ID() {
		return key, nil, nil
	}
	return key, w.Reconcile, nil
}

// reconcilePlan plans the workspace from the base branch's head and shows
// the plan for confirmation.
func (p *Pipeline) reconcilePlan(ctx context.Context, job store.Job) ([]byte, error) {
	pl, rec, err := p.load(ctx, job, "reconcile plan")
	if err != nil {
		return nil, err
	}
	key, r, err := p.reconcileOf(ctx, rec, pl.Reconcile)
	if err != nil || r == nil || r.State != request.ReconcilePlanning {
		return nil, err
	}
	base, err := p.github.BaseHead(ctx)
	if err != nil {
		return nil, err
	}
	root, clean, err := p.checkout(ctx, base)
	if err != nil {
		return nil, err
	}
	defer clean()
	if _, err := p.verifyIn(root, pl.Dir); err != nil {
		return nil, p.reconcileEnded(ctx, key, rec, r.ID, request.ReconcileFailed, fmt.Sprintf("the workspace on the base branch failed verification: %v", err), nil)
	}
	plan, err := p.runner.Plan(ctx, terraform.Workspace{Root: root, Dir: pl.Dir})
	if err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		return nil, p.reconcileEnded(ctx, key, rec, r.ID, request.ReconcileFailed, "terraform plan failed: "+p.excerpt(err), nil)
	}
	p.observe("plan", plan.Duration)
	if !plan.Summary.Changed() {
		return nil, p.reconcileEnded(ctx, key, rec, r.ID, request.ReconcileDone, "", &request.Notice{Kind: request.NoticeReconciled,
			Text: fmt.Sprintf("%s already matches its reviewed code (%s): nothing to apply.", rec.Request.Key(), plan.Summary)})
	}
	resources := resourcesOf(plan)
	text := p.redact(plan.Text)
	now := time.Now().UTC()
	_, err = p.store.UpdateWatch(ctx, key, func(w *store.Watch) (bool, []store.NewJob, error) {
		if w.Reconcile == nil || w.Reconcile.ID != r.ID || w.Reconcile.State != request.ReconcilePlanning {
			return false, nil, nil
		}
		done := *w.Reconcile
		done.State, done.Commit, done.Summary, done.Resources, done.Updated = request.ReconcilePlanned, base, plan.Summary.String(), resources, now
		done.Fingerprint = request.DriftFingerprint(resources, text)
		w.Reconcile = &done
		n := request.Notice{Kind: request.NoticeReconcilePlan, PRURL: rec.PR.URL, Plan: done.Summary, Reconcile: &done,
			Text: fmt.Sprintf("Reconciling %s applies the reviewed code at %s: %s (%s). Nothing is applied until it is confirmed.",
				rec.Request.Key(), shortSHA(base), done.Summary, strings.Join(resources, ", "))}
		return true, []store.NewJob{notifyJob(rec.ID(), n)}, nil
	})
	if err != nil {
		return nil, fmt.Errorf("reconcile %s: record the plan: %w", keyString(key), err)
	}
	p.wake()
	return nil, nil
}

// reconcileApply applies the confirmed reconcile: the commit that was
// planned, verified again, planned again, and applied only if that plan
// is the one confirmed.
func (p *Pipeline) reconcileApply(ctx context.Context, job store.Job) ([]byte, error) {
	pl, rec, err := p.load(ctx, job, "reconcile apply")
	if err != nil {
		return nil, err
	}
	key, r, err := p.reconcileOf(ctx, rec, pl.Reconcile)
	if err != nil || r == nil || r.State != request.ReconcileApplying {
		return nil, err
	}
	root, clean, err := p.checkout(ctx, pl.SHA)
	if err != nil {
		return nil, err
	}
	defer clean()
	if _, err := p.verifyIn(root, pl.Dir); err != nil {
		return nil, p.reconcileEnded(ctx, key, rec, r.ID, request.ReconcileFailed, fmt.Sprintf("the workspace failed verification, nothing was applied: %v", err), nil)
	}
	start := time.Now()
	res, err := p.runner.Apply(ctx, terraform.Workspace{Root: root, Dir: pl.Dir}, terraform.Approve(func(plan *terraform.Plan) error {
		if got := request.DriftFingerprint(resourcesOf(plan), p.redact(plan.Text)); got != r.Fingerprint {
			return fmt.Errorf("%w: it is now %s (%s)", errPlanChanged, plan.Summary, strings.Join(resourcesOf(plan), ", "))
		}
		return nil
	}))
	p.observe("apply", time.Since(start))
	switch {
	case err != nil && ctx.Err() != nil:
		return nil, err // shutting down: the job is given back and retried
	case errors.Is(err, terraform.ErrNotApproved):
		return nil, p.reconcileEnded(ctx, key, rec, r.ID, request.ReconcileFailed,
			p.redact(err.Error())+"; nothing was applied. Ask again to see the new plan.", nil)
	case err != nil:
		return nil, p.reconcileEnded(ctx, key, rec, r.ID, request.ReconcileFailed, "terraform apply failed: "+p.excerpt(err), nil)
	}
	summary := res.Plan.Summary.String()
	by := "clustro"
	if r.Confirmer != nil {
		by = r.Confirmer.ID
	}
	return nil, p.reconcileEnded(ctx, key, rec, r.ID, request.ReconcileDone, "", &request.Notice{Kind: request.NoticeReconciled, Actor: by,
		Text: fmt.Sprintf("Reconciled %s: applied the reviewed code at %s (%s). The drift is gone.", rec.Request.Key(), shortSHA(pl.SHA), summary)})
}

// reconcileEnded records the end of a reconcile (done, or failed with
// why), clears the drift when it is done, tells the thread and writes the
// audit event.
func (p *Pipeline) reconcileEnded(ctx context.Context, key store.DatabaseKey, rec store.Record, id, state, why string, n *request.Notice) error {
	if n == nil {
		n = &request.Notice{Kind: request.NoticeReconcileFailed, Next: "Ask again with `/pg reconcile` (or POST …/reconcile) to plan once more.",
			Text: fmt.Sprintf("The reconcile of %s did not apply: %s", rec.Request.Key(), why)}
	}
	n.PRURL = rec.PR.URL
	now := time.Now().UTC()
	ended := false
	_, err := p.store.UpdateWatch(ctx, key, func(w *store.Watch) (bool, []store.NewJob, error) {
		if w.Reconcile == nil || w.Reconcile.ID != id || !w.Reconcile.Open() {
			return false, nil, nil
		}
		r := *w.Reconcile
		r.State, r.Error, r.Updated = state, why, now
		w.Reconcile = &r
		if state == request.ReconcileDone {
			w.Drift = nil
		}
		n.Reconcile = &r
		ended = true
		return true, []store.NewJob{notifyJob(rec.ID(), *n)}, nil
	})
	if err != nil {
		return fmt.Errorf("reconcile %s: record its end: %w", keyString(key), err)
	}
	if !ended {
		return nil
	}
	p.wake()
	detail := fmt.Sprintf("reconcile %s %s", id, state)
	if why != "" {
		detail += ": " + why
	}
	if err := p.audit(ctx, rec.ID(), request.Event{Actor: "clustro", Origin: "engine", Ref: id, Detail: detail}); err != nil {
		return err
	}
	if state == request.ReconcileFailed {
		return engine.Permanent(errors.New(detail))
	}
	return nil
}
