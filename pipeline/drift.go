package pipeline

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/clustropg/clustro/engine"
	"github.com/clustropg/clustro/request"
	"github.com/clustropg/clustro/store"
	"github.com/clustropg/clustro/templates"
	"github.com/clustropg/clustro/terraform"
)

// Job kinds of the drift check. They run on their own engine (see
// RegisterDrift), so that they never hold a worker a request needs.
const (
	// JobDriftPass lists the live databases and queues one JobDrift each,
	// spread over the interval.
	JobDriftPass = "drift_pass"
	// JobDrift plans one live workspace from the base branch.
	JobDrift = "drift"
)

// DriftObserver counts drift checks, for metrics.
type DriftObserver interface {
	// DriftChecked counts a workspace's check: "clean", "drifted",
	// "error" or "skipped".
	DriftChecked(outcome string)
}

// RegisterDrift adds the drift check's handlers to an engine of their
// own: its workers are the only ones that run drift checks, and its plans
// run in the background (terraform.Background): they take a terraform
// slot only when no request's job waits for one, and give it up when one
// does.
func (p *Pipeline) RegisterDrift(e *engine.Engine, obs DriftObserver) {
	if p.github == nil {
		return
	}
	p.driftObs = obs
	e.Handle(JobDriftPass, deferLimits(p.driftPass))
	e.Handle(JobDrift, deferLimits(p.driftCheck))
}

// DriftEvery queues a drift pass every interval until ctx is done, its
// checks spread over the interval. Every replica runs it; the pass of one
// interval is queued once (its idempotency key is the interval's start).
func (p *Pipeline) DriftEvery(ctx context.Context, interval time.Duration) {
	queue := func(ctx context.Context) error {
		slot := time.Now().UTC().Truncate(interval)
		return p.queueDriftPass(ctx, interval, store.Idempotency{Scope: "drift-pass", Key: slot.Format(time.RFC3339)})
	}
	if err := queue(ctx); err != nil && ctx.Err() == nil {
		p.log.Warn().Err(err).Msg("queue a drift pass")
	}
	p.every(ctx, interval, "queue a drift pass", queue)
}

// CheckDrift queues a drift pass now, its checks spread over spread (0:
// all due at once).
func (p *Pipeline) CheckDrift(ctx context.Context, spread time.Duration) error {
	return p.queueDriftPass(ctx, spread, store.Idempotency{})
}

func (p *Pipeline) queueDriftPass(ctx context.Context, spread time.Duration, key store.Idempotency) error {
	j := newJob(JobDriftPass, "", "", jobPayload{Interval: spread.String()})
	j.Key = key
	j.MaxAttempts = 3
	return p.enqueue(ctx, j)
}

// driftPass queues the check of every live workspace at the base branch's
// commit, each at its own offset in the interval (a hash of its
// directory), so that a thousand workspaces are not planned at once. It
// costs one GitHub call whatever the number of databases.
func (p *Pipeline) driftPass(ctx context.Context, job store.Job) ([]byte, error) {
	pl, err := decode(job)
	if err != nil {
		return nil, err
	}
	spread, err := time.ParseDuration(pl.Interval)
	if err != nil || spread < 0 {
		return nil, engine.Permanent(fmt.Errorf("drift pass: bad spread %q", pl.Interval))
	}
	base, err := p.github.BaseHead(ctx)
	if err != nil {
		return nil, fmt.Errorf("drift pass: %w", err)
	}
	live, err := p.liveDatabases(ctx)
	if err != nil {
		return nil, fmt.Errorf("drift pass: %w", err)
	}
	start := time.Now()
	for _, e := range live {
		dir := templates.WorkspaceDir(e.Live.Request.Spec)
		j := newJob(JobDrift, e.Live.ID(), "", jobPayload{SHA: base, Dir: dir})
		j.RunAt = start.Add(jitter(dir, spread))
		j.Key = store.Idempotency{Scope: "drift", Key: job.ID + "/" + dir}
		j.MaxAttempts = 3
		if _, _, err := p.store.Enqueue(ctx, j); err != nil {
			return nil, fmt.Errorf("drift pass: queue %s: %w", dir, err)
		}
	}
	p.log.Info().Int("workspaces", len(live)).Str("commit", shortSHA(base)).Msg("drift pass queued")
	return nil, nil
}

// jitter is a workspace's offset in the interval: the same every pass,
// within the first nine tenths, so a pass ends before the next begins.
func jitter(dir string, interval time.Duration) time.Duration {
	h := fnv.New64a()
	h.Write([]byte(dir))
	span := interval * 9 / 10
	if span <= 0 {
		return 0
	}
	return time.Duration(h.Sum64() % uint64(span))
}

// driftCheck plans one live workspace from the base branch's commit and
// records what it finds on the database's watch record, with a notice the
// first time a drift is seen (and when it ends).
func (p *Pipeline) driftCheck(ctx context.Context, job store.Job) ([]byte, error) {
	pl, rec, err := p.load(ctx, job, "drift check")
	if err != nil {
		return nil, err
	}
	key := store.DatabaseKey{Environment: rec.Request.Environment, Team: rec.Request.Team, Name: rec.Request.Name}
	db, err := p.history(ctx, key.Environment, key.Team, key.Name)
	if err != nil {
		return nil, fmt.Errorf("drift check: %w", err)
	}
	if db.Live == nil || db.Live.ID() != rec.ID() || db.Busy() {
		p.driftOutcome("skipped")
		return nil, nil // changed since the pass: the next one checks it
	}
	root, err := p.trees.get(ctx, p, pl.SHA)
	if err != nil {
		return nil, fmt.Errorf("drift check %s: %w", pl.Dir, err)
	}
	if _, err := p.verifyIn(root, pl.Dir); err != nil {
		p.driftOutcome("error")
		return nil, engine.Permanent(fmt.Errorf("drift check %s: the workspace on the base branch failed verification, not planned: %w", pl.Dir, err))
	}
	plan, err := p.runner.Plan(ctx, terraform.Workspace{Root: root, Dir: pl.Dir}, terraform.Background())
	if errors.Is(err, terraform.ErrPreempted) {
		// A request's job needed the slot: try again in a minute.
		return nil, engine.RetryAt(err, time.Now().Add(time.Minute))
	}
	if err != nil {
		p.driftOutcome("error")
		return nil, fmt.Errorf("drift check %s: %w", pl.Dir, err)
	}
	p.observe("drift plan", plan.Duration)
	now := time.Now().UTC()
	var found *request.Drift
	if plan.Summary.Changed() {
		found = &request.Drift{Detected: now, Checked: now, Commit: pl.SHA, Summary: plan.Summary.String(), Resources: resourcesOf(plan)}
		found.Fingerprint = request.DriftFingerprint(found.Resources, p.redact(plan.Text))
	}
	var told []string
	_, err = p.store.UpdateWatch(ctx, key, func(w *store.Watch) (bool, []store.NewJob, error) {
		adopt(w, rec.ID())
		prev := w.Drift
		if prev == nil && found == nil {
			return false, nil, nil
		}
		if prev != nil && found != nil && prev.Fingerprint == found.Fingerprint {
			found.Detected = prev.Detected
		}
		w.Drift = found
		var jobs []store.NewJob
		jobs, told = noticeJobs(rec, request.DriftNotices(rec.Request.Key(), prev, found))
		return true, jobs, nil
	})
	if err != nil {
		return nil, fmt.Errorf("drift check %s: record: %w", pl.Dir, err)
	}
	if found != nil {
		p.driftOutcome("drifted")
	} else {
		p.driftOutcome("clean")
	}
	if len(told) > 0 {
		p.wake()
		p.log.Info().Str("database", keyString(key)).Strs("notices", told).Str("plan", plan.Summary.String()).Msg("drift check")
	}
	return nil, nil
}

func (p *Pipeline) driftOutcome(outcome string) {
	if p.driftObs != nil {
		p.driftObs.DriftChecked(outcome)
	}
}

// resourcesOf lists a plan's resource changes as "update module.x.y".
func resourcesOf(plan *terraform.Plan) []string {
	out := make([]string, 0, len(plan.Changes))
	for _, c := range plan.Changes {
		out = append(out, strings.TrimSpace(string(c.Action)+" "+c.Address))
	}
	return out
}

// treeCache keeps the checkouts of the base branch commits the drift
// checks plan from, so that a pass downloads the repository once per
// replica, not once per workspace. The two newest commits' trees are kept
// (a check queued by the previous pass may still plan from the older);
// the runner copies a workspace into its own directory before planning,
// so removing a tree never disturbs a plan that started.
type treeCache struct {
	mu      sync.Mutex
	entries []*treeEntry // oldest first
}

type treeEntry struct {
	sha   string
	ready chan struct{} // closed when root or err is set
	root  string
	err   error
}

// keepTrees is how many commits' trees treeCache keeps.
const keepTrees = 2

// get returns the tree of sha, downloading it once.
func (t *treeCache) get(ctx context.Context, p *Pipeline, sha string) (string, error) {
	t.mu.Lock()
	var e *treeEntry
	for _, x := range t.entries {
		if x.sha == sha {
			e = x
		}
	}
	if e == nil {
		e = &treeEntry{sha: sha, ready: make(chan struct{})}
		t.entries = append(t.entries, e)
		for len(t.entries) > keepTrees {
			old := t.entries[0]
			t.entries = t.entries[1:]
			go func() { <-old.ready; os.RemoveAll(old.root) }()
		}
		t.mu.Unlock()
		e.root, _, e.err = p.checkout(context.WithoutCancel(ctx), sha)
		if e.err != nil {
			t.forget(e) // the next check tries again
		}
		close(e.ready)
	} else {
		t.mu.Unlock()
	}
	select {
	case <-e.ready:
		return e.root, e.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

func (t *treeCache) forget(e *treeEntry) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i, x := range t.entries {
		if x == e {
			t.entries = append(t.entries[:i], t.entries[i+1:]...)
			return
		}
	}
}

// close removes every tree.
func (t *treeCache) close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, e := range t.entries {
		<-e.ready
		os.RemoveAll(e.root)
	}
	t.entries = nil
}
