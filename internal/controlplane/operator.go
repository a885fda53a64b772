package controlplane

import (
	"context"
	"errors"
	"fmt"
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
	queue     workqueue.TypedRateLimitingInterface[item]
	logf      func(format string, args ...any)

	mu        sync.Mutex
	behaviors map[string]Behavior
	failovers map[string]bool // by namespace/name: a failover asked for, not started yet

	// Only the worker goroutine touches these.
	state   map[string]*clusterState // by namespace/name
	dbSpecs map[string]databaseSpec  // by namespace/name of the Database object

	cancel   context.CancelFunc
	done     chan struct{}
	stopOnce sync.Once
}

// item is a unit of work: a Cluster or a Database to reconcile.
type item struct {
	database        bool
	namespace, name string
}

func (it item) key() string { return it.namespace + "/" + it.name }

// String names the item for logs: "cluster ns/name" or "database ns/name".
func (it item) String() string {
	if it.database {
		return "database " + it.key()
	}
	return "cluster " + it.key()
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
		state:     map[string]*clusterState{},
		dbSpecs:   map[string]databaseSpec{},
		done:      make(chan struct{}),
	}
	if o.logf == nil {
		o.logf = func(string, ...any) {}
	}
	for name, b := range opts.Behaviors {
		o.behaviors[name] = b
	}
	clusters := o.factory.ForResource(clusterGVR)
	databases := o.factory.ForResource(databaseGVR)
	o.clusters, o.databases = clusters.Lister(), databases.Lister()
	for _, h := range []struct {
		inf      cache.SharedIndexInformer
		database bool
	}{{clusters.Informer(), false}, {databases.Informer(), true}} {
		_, err := h.inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    func(obj any) { o.enqueue(obj, h.database) },
			UpdateFunc: func(_, obj any) { o.enqueue(obj, h.database) },
			DeleteFunc: func(obj any) { o.enqueue(obj, h.database) },
		})
		if err != nil {
			pg.close()
			return nil, fmt.Errorf("start operator stand-in: watch: %w", err)
		}
	}

	runCtx, cancel := context.WithCancel(context.Background())
	o.cancel = cancel
	o.factory.Start(runCtx.Done())
	syncCtx, cancelSync := context.WithTimeout(ctx, cacheSyncTimeout)
	defer cancelSync()
	if !cache.WaitForCacheSync(syncCtx.Done(), clusters.Informer().HasSynced, databases.Informer().HasSynced) {
		cancel()
		o.queue.ShutDown()
		o.factory.Shutdown()
		pg.close()
		return nil, errors.New("start operator stand-in: Clusters and Databases could not be listed: are the CloudNativePG CRDs installed?")
	}
	go o.run(runCtx)
	return o, nil
}

// enqueue adds the Cluster or Database obj (or its tombstone) to the queue.
func (o *Operator) enqueue(obj any, database bool) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		o.logf("operator: cannot queue %T: %v", obj, err)
		return
	}
	ns, name, _ := cache.SplitMetaNamespaceKey(key)
	o.queue.Add(item{database: database, namespace: ns, name: name})
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
		if it.database {
			err = o.reconcileDatabase(ctx, it)
		} else {
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
// roles and Secrets stay. Calling it again does nothing.
func (o *Operator) Stop() {
	o.stopOnce.Do(func() {
		o.cancel()
		o.queue.ShutDown()
		<-o.done
		o.factory.Shutdown()
		o.pg.close()
	})
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
