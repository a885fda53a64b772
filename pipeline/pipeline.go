package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"github.com/clustropg/clustro/engine"
	"github.com/clustropg/clustro/gitops"
	"github.com/clustropg/clustro/request"
	"github.com/clustropg/clustro/store"
	"github.com/clustropg/clustro/templates"
	"github.com/clustropg/clustro/terraform"
)

// Job kinds.
const (
	JobOpenPR    = "open_pr"
	JobPlan      = "plan"
	JobApply     = "apply"
	JobWaitReady = "wait_ready"
	JobNotify    = "notify"
	// JobGitHubEvent is a stored webhook delivery (see Receive).
	JobGitHubEvent = "github_event"
)

// Clusters is what the pipeline asks of Kubernetes (package kube), on the
// cluster of the database's environment (env).
type Clusters interface {
	// WaitReady waits until the cluster is ready, reporting each new phase.
	WaitReady(ctx context.Context, env, namespace, name string, progress func(phase string)) error
	// Check reads the cluster's credentials and connects once with them.
	Check(ctx context.Context, env, namespace, name string) (request.ReadyInfo, error)
	// Backups reads the cluster's base backups and recovery window.
	Backups(ctx context.Context, env, namespace, name string) (request.BackupSet, error)
	// TakeBackup creates an on-demand backup of the cluster named backup
	// (the same name twice is the same backup), or reads it again.
	TakeBackup(ctx context.Context, env, namespace, name, backup string) (request.BaseBackup, error)
}

// Observer records durations, for metrics.
type Observer interface {
	ObserveTerraform(command string, took time.Duration)
	ObserveReadiness(took time.Duration)
}

// Store is what the pipeline keeps: requests and their audit trail, the
// jobs it queues, the idempotency keys it checks and Sync's passes. store.Open returns
// one.
type Store interface {
	CreateRequest(ctx context.Context, in store.NewRequest) (store.Record, bool, error)
	GetRequest(ctx context.Context, id string) (store.Record, error)
	ListRequests(ctx context.Context, f store.Filter) ([]store.Record, error)
	RequestByPR(ctx context.Context, number int) (store.Record, error)
	UpdateRequest(ctx context.Context, id string, ch store.Change, ev request.Event, opts ...store.UpdateOption) (store.Record, error)
	Transition(ctx context.Context, id string, to request.State, ev request.Event, opts ...store.TransitionOption) (store.Record, error)
	Enqueue(ctx context.Context, j store.NewJob) (store.Job, bool, error)
	Recall(ctx context.Context, key store.Idempotency) ([]byte, error)
	Remember(ctx context.Context, key store.Idempotency, result []byte) ([]byte, bool, error)
	ListDatabases(ctx context.Context, f store.DatabaseFilter, after store.DatabaseKey, limit int) ([]store.DatabaseEntry, error)
	GetWatch(ctx context.Context, key store.DatabaseKey) (store.Watch, error)
	UpdateWatch(ctx context.Context, key store.DatabaseKey, fn store.WatchUpdate) (store.Watch, error)
}

// Pipeline runs requests through their lifecycle.
type Pipeline struct {
	store    Store
	policy   *request.Policy
	renderer *templates.Renderer
	github   *gitops.Client
	runner   *terraform.Runner
	clusters Clusters
	observer Observer
	cfg      Config
	log      zerolog.Logger
	workdir  string
	wake     func()
	trees    *treeCache // the base branch trees drift checks plan from
	driftObs DriftObserver
}

// Config holds the pipeline's settings.
type Config struct {
	// Commenters are the GitHub logins allowed to use /clustro commands;
	// empty allows anyone with write access to comment.
	Commenters []string
	// WorkDir holds checkouts while a job runs (default os.TempDir()).
	WorkDir string
	// Secrets are redacted from anything the pipeline reports.
	Secrets []string
}

// Deps are the pipeline's collaborators.
type Deps struct {
	Store    Store
	Renderer *templates.Renderer
	GitHub   *gitops.Client
	Runner   *terraform.Runner
	Clusters Clusters
	Observer Observer
	Log      zerolog.Logger
}

// New makes a pipeline.
func New(d Deps, cfg Config) *Pipeline {
	return &Pipeline{
		store: d.Store, policy: d.Renderer.Config().Policy, renderer: d.Renderer, github: d.GitHub,
		runner: d.Runner, clusters: d.Clusters, observer: d.Observer, cfg: cfg,
		log: d.Log, workdir: cfg.WorkDir, wake: func() {}, trees: &treeCache{},
	}
}

// Register adds the pipeline's job handlers to an engine, the steps that
// need GitHub only when it is configured (requests wait in the queue until
// then). The notify jobs it queues are delivered by the handler the wiring
// registers (NotifyHandler).
func (p *Pipeline) Register(e *engine.Engine) {
	p.wake = e.Notify
	if p.clusters != nil {
		e.Handle(JobBackupWait, p.backupWait)
	}
	if p.github == nil {
		return
	}
	e.Handle(JobOpenPR, deferLimits(p.guard(request.Submitted, p.openPR)))
	e.Handle(JobGitHubEvent, deferLimits(p.githubEvent))
	e.Handle(JobPlan, deferLimits(p.plan))
	e.Handle(JobApply, deferLimits(p.guard("", p.apply)))
	e.Handle(JobWaitReady, deferLimits(p.guard(request.Provisioning, p.waitReady)))
	e.Handle(JobReconcilePlan, deferLimits(p.reconcileGuard(p.reconcilePlan)))
	e.Handle(JobReconcileApply, deferLimits(p.reconcileGuard(p.reconcileApply)))
}

// Close removes what the pipeline keeps on disk between jobs (the trees
// drift checks share). Call it once the engines have stopped.
func (p *Pipeline) Close() { p.trees.close() }

// guard records a failure on the request when a step's job fails for the
// last time, so that a request never stays in a step no job will finish.
// step "" means the step the request is in.
func (p *Pipeline) guard(step request.State, h engine.Handler) engine.Handler {
	return func(ctx context.Context, job store.Job) ([]byte, error) {
		out, err := h(ctx, job)
		if !failedForGood(ctx, job, err) {
			return out, err
		}
		rec, gerr := p.store.GetRequest(ctx, job.RequestID)
		if gerr != nil || rec.State.Terminal() || rec.State == request.Failed {
			return out, err
		}
		s := step
		if s == "" {
			s = rec.State
		}
		return out, p.fail(ctx, job, rec, s, true, err)
	}
}

// failedForGood reports whether err ends the job for good: its last
// attempt failed for a reason that retrying was meant to cure (not a
// permanent error, a rate limit or a shutdown).
func failedForGood(ctx context.Context, job store.Job, err error) bool {
	_, limited := rateLimited(err)
	return err != nil && !limited && !engine.IsPermanent(err) && ctx.Err() == nil && job.Attempts >= job.MaxAttempts
}

// jobPayload is the input of the pipeline's jobs.
type jobPayload struct {
	Request string `json:"request"`
	// SHA is the commit to plan or apply.
	SHA string `json:"sha,omitempty"`
	PR  int    `json:"pr,omitempty"`
	Dir string `json:"dir,omitempty"`
	// Actor and Ref say who pushed the commit a plan job verifies, and
	// through which delivery, for the audit of a reviewer's edit.
	Actor string `json:"actor,omitempty"`
	Ref   string `json:"ref,omitempty"`
	// Notice is a notify job's message.
	Notice *request.Notice `json:"notice,omitempty"`
	// Interval is a drift pass's interval (a time.Duration string).
	Interval string `json:"interval,omitempty"`
	// Reconcile is the id of the reconcile a reconcile job works on.
	Reconcile string `json:"reconcile,omitempty"`
	// Backup is the name of the backup a backup_wait job follows.
	Backup string `json:"backup,omitempty"`
}

func newJob(kind, requestID, workspace string, p jobPayload) store.NewJob {
	p.Request = requestID
	b, _ := json.Marshal(p)
	return store.NewJob{Kind: kind, RequestID: requestID, Workspace: workspace, Payload: b}
}

func decode(job store.Job) (jobPayload, error) {
	var p jobPayload
	if err := json.Unmarshal(job.Payload, &p); err != nil {
		return p, engine.Permanent(fmt.Errorf("job %s: bad payload: %w", job.ID, err))
	}
	if p.Request == "" {
		p.Request = job.RequestID
	}
	return p, nil
}

// load decodes a job's payload and reads its request as it is now; what
// names the step in the error.
func (p *Pipeline) load(ctx context.Context, job store.Job, what string) (jobPayload, store.Record, error) {
	pl, err := decode(job)
	if err != nil {
		return pl, store.Record{}, err
	}
	rec, err := p.store.GetRequest(ctx, pl.Request)
	if err != nil {
		return pl, store.Record{}, fmt.Errorf("%s: %w", what, err)
	}
	return pl, rec, nil
}

// event is an audit event caused by the engine itself.
func event(job store.Job, detail string) request.Event {
	return request.Event{Actor: "clustro", Origin: "engine", Ref: job.ID, Detail: detail}
}

// notifyJob is the job that tells the requester about a step. Notices of
// one request share a queue lane (their workspace), so they are sent one at
// a time, in order.
func notifyJob(requestID string, n request.Notice) store.NewJob {
	j := newJob(JobNotify, requestID, "notify/"+requestID, jobPayload{Notice: &n})
	// A Slack outage delays notices; with the store's backoff capped at 10
	// minutes, 40 attempts outlast an outage of several hours.
	j.MaxAttempts = 40
	return j
}

// transition moves a request and queues its notice in the same transaction.
func (p *Pipeline) transition(ctx context.Context, id string, to request.State, ev request.Event, n *request.Notice, opts ...store.TransitionOption) (store.Record, error) {
	if n != nil {
		opts = append(opts, store.AndEnqueue(notifyJob(id, *n)))
	}
	rec, err := p.store.Transition(ctx, id, to, ev, opts...)
	if err == nil {
		p.wake()
	}
	return rec, err
}

// enqueue adds jobs and wakes a worker.
func (p *Pipeline) enqueue(ctx context.Context, jobs ...store.NewJob) error {
	for _, j := range jobs {
		if _, _, err := p.store.Enqueue(ctx, j); err != nil {
			return fmt.Errorf("queue %s job: %w", j.Kind, err)
		}
	}
	p.wake()
	return nil
}

func (p *Pipeline) observe(cmd string, d time.Duration) {
	if p.observer != nil {
		p.observer.ObserveTerraform(cmd, d)
	}
}
