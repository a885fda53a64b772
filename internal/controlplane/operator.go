package controlplane

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

var (
	clusterGVR  = schema.GroupVersionResource{Group: "postgresql.cnpg.io", Version: "v1", Resource: "clusters"}
	databaseGVR = schema.GroupVersionResource{Group: "postgresql.cnpg.io", Version: "v1", Resource: "databases"}
	backupGVR   = schema.GroupVersionResource{Group: "postgresql.cnpg.io", Version: "v1", Resource: "backups"}
	scheduleGVR = schema.GroupVersionResource{Group: "postgresql.cnpg.io", Version: "v1", Resource: "scheduledbackups"}
	storeGVR    = schema.GroupVersionResource{Group: "barmancloud.cnpg.io", Version: "v1", Resource: "objectstores"}
)

// operatorFieldManager owns the status the stand-in applies.
const operatorFieldManager = "cloudnative-pg-standin"

// cacheSyncTimeout bounds the wait for the first list of Clusters and
// Databases (it never ends when their CRDs are missing).
const cacheSyncTimeout = 60 * time.Second

// OperatorOptions configure the CloudNativePG stand-in.
type OperatorOptions struct {
	// PostgresDSN is a superuser DSN of the PostgreSQL server the stand-in
	// creates roles and databases in, over TCP (e.g. pgtest.Server.DSN()).
	// Required. Its host and port go into the app Secrets.
	PostgresDSN string
	// Behaviors sets how the clusters of the given names (in any
	// namespace) are treated; others are Ready. Operator.Behave changes it.
	Behaviors map[string]Behavior
	// WorkDir is where the Clusters that archive their WAL (or recover
	// from a backup) get their own PostgreSQL server, one directory each,
	// removed when the Cluster is deleted or the stand-in stops. Empty
	// means a new temporary directory, removed by Stop.
	WorkDir string
	// Logf, when set, receives what the stand-in does and its reconcile
	// errors (which it retries with backoff).
	Logf func(format string, args ...any)
}

// Operator is the running CloudNativePG stand-in started by RunOperator.
type Operator struct {
	dyn       dynamic.Interface
	core      kubernetes.Interface
	pg        *pgAdmin
	factory   dynamicinformer.DynamicSharedInformerFactory
	clusters  cache.GenericLister
	databases cache.GenericLister
	backups   cache.GenericLister
	schedules cache.GenericLister
	queue     workqueue.TypedRateLimitingInterface[item]
	logf      func(format string, args ...any)

	mu        sync.Mutex
	behaviors map[string]Behavior
	failovers map[string]bool // by namespace/name: a failover asked for, not started yet
	// own are the Clusters' own servers, by namespace/name.
	own map[string]*ownInstance
	// backupsRunning are the Backups being taken, by namespace/name.
	backupsRunning map[string]bool

	workDir    string
	ownWorkDir bool            // workDir was made here: Stop removes it
	runCtx     context.Context // ends with Stop: bounds the work started in goroutines
	jobs       sync.WaitGroup  // goroutines starting servers or taking backups

	// Only the worker goroutine touches these.
	state   map[string]*clusterState // by namespace/name
	dbSpecs map[string]databaseSpec  // by namespace/name of the Database object

	cancel   context.CancelFunc
	done     chan struct{}
	stopOnce sync.Once
}

// itemKind is the kind of object an item names.
type itemKind int

const (
	kindCluster itemKind = iota
	kindDatabase
	kindBackup
	kindScheduledBackup
)

// item is a unit of work: a Cluster, Database, Backup or ScheduledBackup
// to reconcile.
type item struct {
	kind            itemKind
	namespace, name string
}

func (it item) key() string { return it.namespace + "/" + it.name }

// String names the item for logs: "cluster ns/name", "database ns/name"...
func (it item) String() string {
	switch it.kind {
	case kindDatabase:
		return "database " + it.key()
	case kindBackup:
		return "backup " + it.key()
	case kindScheduledBackup:
		return "scheduledbackup " + it.key()
	default:
		return "cluster " + it.key()
	}
}

// RunOperator starts the CloudNativePG stand-in: it watches Clusters and
// Databases in all namespaces and provisions them in the PostgreSQL server
// of opts.PostgresDSN. It returns once its caches are in sync; ctx bounds
// that start only, and the stand-in runs until Stop.
func (cp *ControlPlane) RunOperator(ctx context.Context, opts OperatorOptions) (*Operator, error) {
	return runOperator(ctx, cp.RESTConfig(), opts)
}

func runOperator(ctx context.Context, cfg *rest.Config, opts OperatorOptions) (*Operator, error) {
	pg, err := openPostgres(ctx, opts.PostgresDSN)
	if err != nil {
		return nil, fmt.Errorf("start operator stand-in: %w", err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		pg.close()
		return nil, fmt.Errorf("start operator stand-in: %w", err)
	}
	core, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		pg.close()
		return nil, fmt.Errorf("start operator stand-in: %w", err)
	}
	o := &Operator{
		dyn:       dyn,
		core:      core,
		pg:        pg,
		factory:   dynamicinformer.NewDynamicSharedInformerFactory(dyn, 0),
		queue:     workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[item]()),
		logf:      opts.Logf,
		behaviors: map[string]Behavior{},
		failovers: map[string]bool{},
		own:       map[string]*ownInstance{},
		state:     map[string]*clusterState{},
		dbSpecs:   map[string]databaseSpec{},
		done:      make(chan struct{}),

		backupsRunning: map[string]bool{},
		workDir:        opts.WorkDir,
	}
	if o.workDir == "" {
		d, err := os.MkdirTemp("", "clustro-operator-")
		if err != nil {
			pg.close()
			return nil, fmt.Errorf("start operator stand-in: make its work directory: %w", err)
		}
		o.workDir, o.ownWorkDir = d, true
	}
	if o.logf == nil {
		o.logf = func(string, ...any) {}
	}
	for name, b := range opts.Behaviors {
		o.behaviors[name] = b
	}
	clusters := o.factory.ForResource(clusterGVR)
	databases := o.factory.ForResource(databaseGVR)
	backups := o.factory.ForResource(backupGVR)
	schedules := o.factory.ForResource(scheduleGVR)
	o.clusters, o.databases = clusters.Lister(), databases.Lister()
	o.backups, o.schedules = backups.Lister(), schedules.Lister()
	for _, h := range []struct {
		inf  cache.SharedIndexInformer
		kind itemKind
	}{{clusters.Informer(), kindCluster}, {databases.Informer(), kindDatabase}, {backups.Informer(), kindBackup}, {schedules.Informer(), kindScheduledBackup}} {
		_, err := h.inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    func(obj any) { o.enqueue(obj, h.kind) },
			UpdateFunc: func(_, obj any) { o.enqueue(obj, h.kind) },
			DeleteFunc: func(obj any) { o.enqueue(obj, h.kind) },
		})
		if err != nil {
			o.cleanupWorkDir()
			pg.close()
			return nil, fmt.Errorf("start operator stand-in: watch: %w", err)
		}
	}

	runCtx, cancel := context.WithCancel(context.Background())
	o.cancel, o.runCtx = cancel, runCtx
	o.factory.Start(runCtx.Done())
	syncCtx, cancelSync := context.WithTimeout(ctx, cacheSyncTimeout)
	defer cancelSync()
	if !cache.WaitForCacheSync(syncCtx.Done(), clusters.Informer().HasSynced, databases.Informer().HasSynced,
		backups.Informer().HasSynced, schedules.Informer().HasSynced) {
		cancel()
		o.queue.ShutDown()
		o.factory.Shutdown()
		o.cleanupWorkDir()
		pg.close()
		return nil, errors.New("start operator stand-in: Clusters, Databases, Backups and ScheduledBackups could not be listed: are the CloudNativePG CRDs installed?")
	}
	go o.run(runCtx)
	return o, nil
}

// enqueue adds the object obj of kind (or its tombstone) to the queue.
func (o *Operator) enqueue(obj any, kind itemKind) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		o.logf("operator: cannot queue %T: %v", obj, err)
		return
	}
	ns, name, _ := cache.SplitMetaNamespaceKey(key)
	o.queue.Add(item{kind: kind, namespace: ns, name: name})
}

// Behave sets how clusters named cluster (in any namespace) are treated
// from now on, and reconciles the existing ones.
func (o *Operator) Behave(cluster string, b Behavior) {
	o.mu.Lock()
	o.behaviors[cluster] = b
	o.mu.Unlock()
	objs, err := o.clusters.List(labels.Everything())
	if err != nil {
		return
	}
	for _, obj := range objs {
		if u, ok := obj.(*unstructured.Unstructured); ok && u.GetName() == cluster {
			o.queue.Add(item{namespace: u.GetNamespace(), name: cluster})
		}
	}
}

// Failover fails the clusters named cluster (in any namespace) over to
// their next instance: the primary <cluster>-n moves to <cluster>-(n+1),
// back to <cluster>-1 past the last instance (with a single instance it
// stays <cluster>-1, but the failover is still reported). The status first
// shows phase "Failing over" with targetPrimary the new primary,
// currentPrimary the old one, one instance fewer ready and Ready=False
// (with a Warning FailingOver Event), for about half a second; then the
// new primary as currentPrimary and the behavior's status again (healthy
// unless Degraded, with a Normal FailoverCompleted Event). Each is a
// distinct status update. A failover asked for while one is under way, or
// while the cluster Fails, waits for it to end. Clusters that do not exist
// are not affected.
func (o *Operator) Failover(cluster string) {
	objs, err := o.clusters.List(labels.Everything())
	if err != nil {
		return
	}
	for _, obj := range objs {
		if u, ok := obj.(*unstructured.Unstructured); ok && u.GetName() == cluster {
			it := item{namespace: u.GetNamespace(), name: cluster}
			o.mu.Lock()
			o.failovers[it.key()] = true
			o.mu.Unlock()
			o.queue.Add(it)
		}
	}
}

// takeFailover reports whether a failover of the cluster key
// (namespace/name) was asked for, and clears the request.
func (o *Operator) takeFailover(key string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	asked := o.failovers[key]
	delete(o.failovers, key)
	return asked
}

func (o *Operator) behavior(cluster string) Behavior {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.behaviors[cluster]
}

// run is the single worker: items are reconciled one at a time, failures
// retried with the controller rate limiter's backoff.
func (o *Operator) run(ctx context.Context) {
	defer close(o.done)
	for {
		it, shutdown := o.queue.Get()
		if shutdown {
			return
		}
		var err error
		switch it.kind {
		case kindDatabase:
			err = o.reconcileDatabase(ctx, it)
		case kindBackup:
			err = o.reconcileBackup(ctx, it)
		case kindScheduledBackup:
			err = o.reconcileScheduledBackup(ctx, it)
		default:
			err = o.reconcileCluster(ctx, it)
		}
		switch {
		case err == nil:
			o.queue.Forget(it)
		case ctx.Err() == nil:
			o.logf("operator: %s: %v (will retry)", it, err)
			o.queue.AddRateLimited(it)
		}
		o.queue.Done(it)
	}
}

// Stop stops watching and closes the PostgreSQL connections; databases,
// roles and Secrets of the shared server stay, the Clusters' own servers
// are stopped and their directories removed (backups under way are cut
// short). Calling it again does nothing.
func (o *Operator) Stop() {
	o.stopOnce.Do(func() {
		o.cancel()
		o.queue.ShutDown()
		<-o.done
		o.jobs.Wait()
		o.factory.Shutdown()
		o.mu.Lock()
		own := o.own
		o.own = map[string]*ownInstance{}
		o.mu.Unlock()
		for key, oi := range own {
			if err := oi.stop(); err != nil {
				o.logf("operator: cluster %s: %v", key, err)
			}
		}
		o.cleanupWorkDir()
		o.pg.close()
	})
}

// cleanupWorkDir removes the work directory if it was made here.
func (o *Operator) cleanupWorkDir() {
	if o.ownWorkDir {
		if err := os.RemoveAll(o.workDir); err != nil {
			o.logf("operator: remove %s: %v", o.workDir, err)
		}
	}
}

// get returns the object of the lister, or nil when it does not exist.
func get(l cache.GenericLister, namespace, name string) (*unstructured.Unstructured, error) {
	obj, err := l.ByNamespace(namespace).Get(name)
	if err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, err
	}
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return nil, fmt.Errorf("%s/%s: unexpected %T in cache", namespace, name, obj)
	}
	return u, nil
}

// applyOptions are those of every status the stand-in writes.
func applyOptions() metav1.ApplyOptions {
	return metav1.ApplyOptions{FieldManager: operatorFieldManager, Force: true}
}
