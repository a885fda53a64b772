package kube

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/tools/cache"
)

// DefaultResync is how often a ClusterWatch hands every cached Cluster to
// its handler again unless told otherwise.
const DefaultResync = 10 * time.Minute

// DefaultSyncTimeout is how long ClusterWatch.Run waits for the first list
// of Clusters unless told otherwise.
const DefaultSyncTimeout = time.Minute

// WatchOption configures WatchClusters.
type WatchOption interface {
	configureWatch(*watchConfig)
}

type watchConfig struct {
	resync      time.Duration
	selector    string
	onError     func(error)
	syncTimeout time.Duration
}

type resyncOption time.Duration

func (o resyncOption) configureWatch(c *watchConfig) { c.resync = time.Duration(o) }

// Resync sets how often every cached Cluster is handed to the handler again,
// changed or not (default DefaultResync; d <= 0 means the default). A
// resync reads the cache, not the API server. client-go raises periods
// under a second to one second.
func Resync(d time.Duration) WatchOption { return resyncOption(d) }

type labelSelectorOption string

func (o labelSelectorOption) configureWatch(c *watchConfig) { c.selector = string(o) }

// LabelSelector restricts the watch to the Clusters whose labels match
// selector (Kubernetes label selector syntax, e.g. "app.kubernetes.io/managed-by=clustro").
// An invalid selector makes every list fail: Run reports it.
func LabelSelector(selector string) WatchOption { return labelSelectorOption(selector) }

type watchErrorOption func(error)

func (o watchErrorOption) configureWatch(c *watchConfig) { c.onError = o }

// OnWatchError calls f with every error of a list or watch of Clusters,
// instead of client-go's default of logging it with klog. The watch
// recovers by itself (it lists and watches again, with backoff): f is for
// logging and metrics. f runs on the informer's goroutine: keep it short.
func OnWatchError(f func(error)) WatchOption { return watchErrorOption(f) }

type syncTimeoutOption time.Duration

func (o syncTimeoutOption) configureWatch(c *watchConfig) { c.syncTimeout = time.Duration(o) }

// SyncTimeout bounds how long Run waits for the first list of Clusters
// (default DefaultSyncTimeout; d <= 0 means the default).
func SyncTimeout(d time.Duration) WatchOption { return syncTimeoutOption(d) }

// ClusterWatch follows the CloudNativePG Clusters of all namespaces through
// a shared informer and hands each change to a handler. Make one with
// Client.WatchClusters and start it with Run.
type ClusterWatch struct {
	informer    cache.SharedIndexInformer
	resource    schema.GroupVersionResource
	syncTimeout time.Duration
	setupErr    error // from building the informer; Run returns it
	started     atomic.Bool

	mu      sync.Mutex
	lastErr error // the last list or watch error
}

// WatchClusters prepares a watch of the Clusters of all namespaces; Run
// starts it. handle receives:
//   - the Cluster's Status when it is added (including every Cluster of the
//     first list) and when it changes;
//   - the Status of every cached Cluster again at each resync (see Resync);
//   - Status{Namespace, Name, Found: false} when it is deleted, also when
//     the deletion was only noticed on a re-list.
//
// handle is never called concurrently with itself (the informer delivers
// to it from a single goroutine, in order), so it needs no locking of its
// own; but it holds up later notifications while it runs: keep it short.
func (c *Client) WatchClusters(handle func(Status), opts ...WatchOption) *ClusterWatch {
	return c.watchResource(clusterResource, handle, opts...)
}

// watchResource is WatchClusters for the resource gvr.
func (c *Client) watchResource(gvr schema.GroupVersionResource, handle func(Status), opts ...WatchOption) *ClusterWatch {
	cfg := watchConfig{resync: DefaultResync, syncTimeout: DefaultSyncTimeout}
	for _, o := range opts {
		o.configureWatch(&cfg)
	}
	if cfg.resync <= 0 {
		cfg.resync = DefaultResync
	}
	if cfg.syncTimeout <= 0 {
		cfg.syncTimeout = DefaultSyncTimeout
	}
	var tweak dynamicinformer.TweakListOptionsFunc
	if cfg.selector != "" {
		selector := cfg.selector
		tweak = func(o *metav1.ListOptions) { o.LabelSelector = selector }
	}
	w := &ClusterWatch{
		informer:    dynamicinformer.NewFilteredDynamicInformer(c.dyn, gvr, metav1.NamespaceAll, cfg.resync, cache.Indexers{}, tweak).Informer(),
		resource:    gvr,
		syncTimeout: cfg.syncTimeout,
	}
	onError := cfg.onError
	err := w.informer.SetWatchErrorHandlerWithContext(func(ctx context.Context, r *cache.Reflector, err error) {
		w.mu.Lock()
		w.lastErr = err
		w.mu.Unlock()
		// The informer lists and watches again by itself, whatever
		// the handler does; client-go's default handler only logs.
		if onError != nil {
			onError(err)
		} else {
			cache.DefaultWatchErrorHandler(ctx, r, err)
		}
	})
	if err != nil {
		w.setupErr = fmt.Errorf("kube: watch clusters: set the watch error handler: %w", err)
		return w
	}
	_, err = w.informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { deliver(handle, obj) },
		UpdateFunc: func(_, obj any) { deliver(handle, obj) },
		DeleteFunc: func(obj any) { deliverDeleted(handle, obj) },
	})
	if err != nil {
		w.setupErr = fmt.Errorf("kube: watch clusters: add the event handler: %w", err)
	}
	return w
}

// deliver hands a Cluster from the informer to handle.
func deliver(handle func(Status), obj any) {
	if u, ok := obj.(*unstructured.Unstructured); ok {
		handle(statusOf(u))
	}
}

// deliverDeleted tells handle a Cluster is gone, from the object or from
// the tombstone of a deletion noticed on a re-list.
func deliverDeleted(handle func(Status), obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		if ns, name, err := cache.SplitMetaNamespaceKey(tomb.Key); err == nil {
			handle(Status{Namespace: ns, Name: name})
		}
		return
	}
	if u, ok := obj.(*unstructured.Unstructured); ok {
		handle(Status{Namespace: u.GetNamespace(), Name: u.GetName()})
	}
}

// Run watches until ctx is done and then returns nil, once the informer
// has stopped. It returns an error when the first list of Clusters does not
// complete within the SyncTimeout option (default a minute), naming the
// last error (say the Cluster CRD is not installed), or when the watch was
// run before: a ClusterWatch runs once.
func (w *ClusterWatch) Run(ctx context.Context) error {
	if w.setupErr != nil {
		return w.setupErr
	}
	if !w.started.CompareAndSwap(false, true) {
		return errors.New("kube: watch clusters: already run (a ClusterWatch runs once)")
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		w.informer.RunWithContext(runCtx)
	}()
	syncCtx, cancelSync := context.WithTimeout(runCtx, w.syncTimeout)
	synced := cache.WaitForCacheSync(syncCtx.Done(), w.informer.HasSynced)
	cancelSync()
	if !synced && ctx.Err() == nil {
		cancel()
		<-stopped
		return w.syncError()
	}
	<-runCtx.Done()
	<-stopped
	return nil
}

// syncError says why the first list did not complete.
func (w *ClusterWatch) syncError() error {
	w.mu.Lock()
	last := w.lastErr
	w.mu.Unlock()
	prefix := fmt.Sprintf("kube: watch clusters: the first list of %s did not complete within %s", w.resource.GroupResource(), w.syncTimeout)
	switch {
	case last == nil:
		return errors.New(prefix)
	case apierrors.IsNotFound(last):
		return fmt.Errorf("%s: is the CloudNativePG Cluster CRD installed? %w", prefix, last)
	default:
		return fmt.Errorf("%s: %w", prefix, last)
	}
}

// HasSynced reports whether the first list of Clusters has completed: from
// then on Get answers from a complete cache.
func (w *ClusterWatch) HasSynced() bool { return w.informer.HasSynced() }

// Get returns the cached Status of the Cluster namespace/name, and false
// (with a Status whose Found is false) when the cache does not hold it.
// Before HasSynced, absence means nothing.
func (w *ClusterWatch) Get(namespace, name string) (Status, bool) {
	absent := Status{Namespace: namespace, Name: name}
	obj, ok, err := w.informer.GetIndexer().GetByKey(namespace + "/" + name)
	if err != nil || !ok {
		return absent, false
	}
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return absent, false
	}
	return statusOf(u), true
}
