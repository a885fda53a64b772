package pipeline

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/clustropg/clustro/kube"
	"github.com/clustropg/clustro/request"
	"github.com/clustropg/clustro/store"
)

// ManagedBy selects the CloudNativePG Clusters ClustroPG made: the module
// labels them so (templates/modules/cnpg-database/cluster.tf).
const ManagedBy = "app.kubernetes.io/managed-by=clustropg"

// HealthObserver counts what the watch sees, for metrics.
type HealthObserver interface {
	// HealthTransition counts a notice the watch queued (its kind).
	HealthTransition(kind string)
}

// WatchOptions configure Watch.
type WatchOptions struct {
	// Resync is how often every watched Cluster is looked at again, and
	// the ready databases are checked for a Cluster that is gone (default
	// 5 minutes).
	Resync time.Duration
	// Observer counts transitions; nil counts nothing.
	Observer HealthObserver
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Watch keeps watching the CloudNativePG Clusters of every ready database,
// one informer per environment's cluster, until ctx is done. An informer that cannot start is tried again, with
// a backoff up to five minutes. Each change
// of health a person acts on (the cluster turns unhealthy, recovers, fails
// over, disappears) is recorded on the database's watch record with its
// notice for the database's thread, in one transaction: every replica
// runs its own watch, and the first to record a transition is the only
// one to tell it.
//
// Only databases that are ready and have no change in flight are watched:
// a resize that is being applied goes through phases that are not news.
// The first observation after a database becomes ready (again) is
// compared with a healthy cluster.
func (p *Pipeline) Watch(ctx context.Context, clients map[string]*kube.Client, opts WatchOptions) {
	if opts.Resync <= 0 {
		opts.Resync = 5 * time.Minute
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	w := &watcher{p: p, opts: opts, watches: map[string]*kube.ClusterWatch{}, taken: map[clusterRef]string{}}
	var wg sync.WaitGroup
	for env, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.watchEnv(ctx, env, c)
		}()
	}
	go w.sweepEvery(ctx)
	wg.Wait()
}

// watchRetry bounds the wait before a watch that could not start (the
// cluster unreachable, the CloudNativePG CRDs missing) is tried again.
const (
	watchRetryMin = 15 * time.Second
	watchRetryMax = 5 * time.Minute
)

// watchEnv runs the informer of one environment's cluster until ctx is
// done, starting a new one when it fails to start.
func (w *watcher) watchEnv(ctx context.Context, env string, c *kube.Client) {
	wait := watchRetryMin
	for ctx.Err() == nil {
		cw := c.WatchClusters(func(s kube.Status) { w.seen(ctx, env, s) },
			kube.Resync(w.opts.Resync), kube.LabelSelector(ManagedBy),
			kube.OnWatchError(func(err error) {
				w.p.log.Warn().Err(err).Str("environment", env).Msg("watch clusters: the informer lists again")
			}))
		w.mu.Lock()
		w.watches[env] = cw
		w.mu.Unlock()
		err := cw.Run(ctx)
		if err == nil || ctx.Err() != nil {
			return
		}
		w.p.log.Error().Err(err).Str("environment", env).Dur("retry_in", wait).Msg("watch clusters")
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, watchRetryMax)
	}
}

type watcher struct {
	p         *Pipeline
	opts      WatchOptions
	mu        sync.Mutex
	watches   map[string]*kube.ClusterWatch // by environment: the running informer
	index     map[clusterRef]store.DatabaseKey
	refreshed time.Time
	// taken is the resourceVersion of each Cluster whose observation was
	// last taken into account: the informer's resync redelivers every
	// Cluster unchanged, and those need no store reads.
	taken map[clusterRef]string
}

// clusterRef is where a database's Cluster is.
type clusterRef struct{ env, namespace, name string }

// indexMaxAge bounds how often a Cluster the index does not know makes
// the watcher read the store's ready databases again.
const indexMaxAge = 15 * time.Second

// seen is the informer's handler: a Cluster was added, changed, resynced
// or deleted.
func (w *watcher) seen(ctx context.Context, env string, s kube.Status) {
	ref := clusterRef{env, s.Namespace, s.Name}
	w.mu.Lock()
	same := s.Found && s.ResourceVersion != "" && w.taken[ref] == s.ResourceVersion
	w.mu.Unlock()
	if same {
		return // a resync of what was recorded
	}
	key, ok := w.lookup(ctx, ref)
	if !ok {
		return // not one of ours, or not ready
	}
	taken, err := w.p.observeHealth(ctx, key, s, w.opts)
	if err != nil && ctx.Err() == nil {
		w.p.log.Warn().Err(err).Str("database", keyString(key)).Msg("record the health of a cluster")
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case taken && s.Found:
		w.taken[ref] = s.ResourceVersion
	default:
		delete(w.taken, ref)
	}
}

// lookup finds the database whose Cluster this is, reading the ready
// databases again when the index is old.
func (w *watcher) lookup(ctx context.Context, ref clusterRef) (store.DatabaseKey, bool) {
	w.mu.Lock()
	key, ok := w.index[ref]
	stale := time.Since(w.refreshed) > indexMaxAge
	w.mu.Unlock()
	if ok || !stale {
		return key, ok
	}
	if _, err := w.refresh(ctx); err != nil {
		w.p.log.Warn().Err(err).Msg("watch: list ready databases")
		return store.DatabaseKey{}, false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	key, ok = w.index[ref]
	return key, ok
}

// refresh reads every live database and indexes where its Cluster is.
func (w *watcher) refresh(ctx context.Context) ([]store.DatabaseEntry, error) {
	live, err := w.p.liveDatabases(ctx)
	if err != nil {
		return nil, err
	}
	index := make(map[clusterRef]store.DatabaseKey, len(live))
	for _, e := range live {
		index[clusterRef{e.Key.Environment, w.p.policy.NamespaceFor(e.Live.Request.Spec), e.Key.Name}] = e.Key
	}
	w.mu.Lock()
	w.index, w.refreshed = index, time.Now()
	w.mu.Unlock()
	return live, nil
}

// sweepEvery looks at every ready database each Resync: a Cluster deleted
// while no replica watched (or whose delete event was missed) is found
// gone here.
func (w *watcher) sweepEvery(ctx context.Context) {
	w.p.every(ctx, w.opts.Resync, "watch: sweep ready databases", w.sweep)
}

func (w *watcher) sweep(ctx context.Context) error {
	live, err := w.refresh(ctx)
	if err != nil {
		return err
	}
	for _, e := range live {
		w.mu.Lock()
		cw, ok := w.watches[e.Key.Environment]
		w.mu.Unlock()
		if !ok || !cw.HasSynced() {
			continue
		}
		ns := w.p.policy.NamespaceFor(e.Live.Request.Spec)
		if _, found := cw.Get(ns, e.Key.Name); found {
			continue // the informer tells of it
		}
		gone := kube.Status{Namespace: ns, Name: e.Key.Name}
		if _, err := w.p.observeHealth(ctx, e.Key, gone, w.opts); err != nil {
			return err
		}
	}
	return nil
}

// liveDatabases lists the databases that are ready with no change in
// flight, page by page.
func (p *Pipeline) liveDatabases(ctx context.Context) ([]store.DatabaseEntry, error) {
	const page = 500
	var (
		out   []store.DatabaseEntry
		after store.DatabaseKey
	)
	for {
		entries, err := p.store.ListDatabases(ctx, store.DatabaseFilter{Live: true}, after, page)
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			if e.Live != nil && !e.Busy() {
				out = append(out, e)
			}
		}
		if len(entries) < page {
			return out, nil
		}
		after = entries[len(entries)-1].Key
	}
}

// observeHealth records what was seen of a database's Cluster, with the
// notices of the transition. taken is false when the database is not
// watched now (not ready, or a change in flight) or the record failed.
func (p *Pipeline) observeHealth(ctx context.Context, key store.DatabaseKey, s kube.Status, opts WatchOptions) (taken bool, err error) {
	db, err := p.history(ctx, key.Environment, key.Team, key.Name)
	if err != nil {
		return false, err
	}
	if db.Live == nil || db.Busy() {
		return false, nil
	}
	live := db.Live
	cur := healthOf(s)
	var told []string
	_, err = p.store.UpdateWatch(ctx, key, func(w *store.Watch) (bool, []store.NewJob, error) {
		adopt(w, live.ID())
		prev := w.Health
		switch {
		case prev != nil && cur.Stale(*prev):
			return false, nil, nil // another replica recorded a newer state
		case prev != nil && cur.Same(*prev):
			if !cur.Newer(*prev) {
				return false, nil, nil
			}
			h := *prev // the same health, seen later: keep the newer version
			h.Version = cur.Version
			w.Health = &h
			return true, nil, nil
		}
		if !cur.Found && prev != nil {
			cur.Version = prev.Version // gone: a stale event must not bring it back
		}
		// The first observation is compared with a healthy cluster; the
		// backups it reports are not news (they may predate the watch).
		baseline := request.Health{Found: true, Ready: true, Phase: request.HealthyPhase, Instances: cur.Instances, ReadyInstances: cur.Instances,
			LastBackup: cur.LastBackup, LastFailedBackup: cur.LastFailedBackup}
		if prev != nil {
			baseline = *prev
		}
		h := cur.Observe(prev, opts.Now())
		w.Health = &h
		var jobs []store.NewJob
		jobs, told = noticeJobs(*live, request.HealthNotices(live.Request.Key(), baseline, h))
		return true, jobs, nil
	})
	if err != nil {
		return false, fmt.Errorf("record the health of %s: %w", keyString(key), err)
	}
	if len(told) > 0 {
		p.wake()
		for _, kind := range told {
			p.log.Info().Str("database", keyString(key)).Str("notice", kind).Str("health", cur.String()).Msg("health changed")
			if opts.Observer != nil {
				opts.Observer.HealthTransition(kind)
			}
		}
	}
	return true, nil
}

// noticeJobs are the notify jobs of notices in the thread of rec, and
// their kinds.
func noticeJobs(rec store.Record, notices []request.Notice) ([]store.NewJob, []string) {
	jobs := make([]store.NewJob, 0, len(notices))
	kinds := make([]string, 0, len(notices))
	for _, n := range notices {
		n.PRURL = rec.PR.URL
		jobs = append(jobs, notifyJob(rec.ID(), n))
		kinds = append(kinds, n.Kind)
	}
	return jobs, kinds
}

// adopt makes a watch record speak of the live request id: a record of an
// earlier live request (before a resize) starts again.
func adopt(w *store.Watch, id string) {
	if w.RequestID != id {
		w.RequestID, w.Health, w.Drift = id, nil, nil
	}
}

// healthOf translates what kube saw of a Cluster.
func healthOf(s kube.Status) request.Health {
	if !s.Found {
		return request.Health{}
	}
	h := request.Health{
		Found: true, Phase: s.Phase, Reason: s.PhaseReason, Version: s.ResourceVersion,
		Instances: s.Instances, ReadyInstances: s.ReadyInstances, Primary: s.CurrentPrimary,
	}
	h.LastBackup, _ = time.Parse(time.RFC3339, s.LastSuccessfulBackup)
	h.LastFailedBackup, _ = time.Parse(time.RFC3339, s.LastFailedBackup)
	if c, ok := s.Condition("ContinuousArchiving"); ok {
		h.Archiving = request.ArchivingOK
		if c.Status != "True" {
			h.Archiving, h.ArchivingReason = request.ArchivingFailing, strings.TrimPrefix(c.Reason+": "+c.Message, ": ")
		}
	}
	if c, ok := s.Condition("Ready"); ok {
		h.Ready = c.Status == "True"
		if !h.Ready {
			h.ReadyReason = c.Reason
			if c.Message != "" {
				h.ReadyReason += ": " + c.Message
			}
		}
	}
	// The operator's words are kept on the record and told in threads: a
	// few lines of them, whatever it wrote.
	for _, f := range []*string{&h.Phase, &h.Reason, &h.ReadyReason, &h.ArchivingReason, &h.Primary} {
		*f = clipText(*f, maxStatusText)
	}
	return h
}

// maxStatusText bounds each text read from a Cluster's status.
const maxStatusText = 500

// clipText cuts s to at most max bytes on a rune boundary, marking the cut.
func clipText(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := max - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func keyString(k store.DatabaseKey) string { return k.Environment + "/" + k.Team + "/" + k.Name }
