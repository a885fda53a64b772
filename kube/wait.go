package kube

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
)

// DefaultWaitTimeout is how long WaitReady waits unless told otherwise.
const DefaultWaitTimeout = 15 * time.Minute

// recentEvents is how many Events a NotReadyError carries.
const recentEvents = 5

// WaitOption configures WaitReady.
type WaitOption interface {
	configureWait(*waitConfig)
}

type waitConfig struct {
	timeout  time.Duration
	progress func(Status)
}

type timeoutOption time.Duration

func (o timeoutOption) configureWait(c *waitConfig) { c.timeout = time.Duration(o) }

// Timeout bounds the wait (default DefaultWaitTimeout; d <= 0 means the
// default), in addition to the context's own deadline.
func Timeout(d time.Duration) WaitOption { return timeoutOption(d) }

type progressOption func(Status)

func (o progressOption) configureWait(c *waitConfig) { c.progress = o }

// OnProgress calls f with the Cluster's status when WaitReady first sees
// it and whenever its phase, its ready or requested instances, or its
// existence change. f runs on WaitReady's goroutine: keep it short.
func OnProgress(f func(Status)) WaitOption { return progressOption(f) }

// NotReadyError is WaitReady's error when the Cluster was not ready in time
// (or the wait was cancelled). Its message gives the last phase, instances
// and conditions, and the Cluster's most recent Events.
type NotReadyError struct {
	Namespace, Name string
	Waited          time.Duration
	Last            Status  // the last status seen
	Events          []Event // the most recent Events, oldest first
	Err             error   // context.DeadlineExceeded or context.Canceled
}

// Error gives the wait, the last status and the recent Events, e.g.
// `cluster billing-prod/ledger not ready after 2m0s: phase "Setting up primary", 0/3 instances ready, Ready=False (...); recent events: ...`.
func (e *NotReadyError) Error() string {
	var b strings.Builder
	if errors.Is(e.Err, context.Canceled) {
		fmt.Fprintf(&b, "waiting for cluster %s/%s cancelled after %s: ", e.Namespace, e.Name, e.Waited)
	} else {
		fmt.Fprintf(&b, "cluster %s/%s not ready after %s: ", e.Namespace, e.Name, e.Waited)
	}
	b.WriteString(e.Last.String())
	if len(e.Events) == 0 {
		b.WriteString("; no events")
	} else {
		b.WriteString("; recent events: ")
		for i, ev := range e.Events {
			if i > 0 {
				b.WriteString("; ")
			}
			b.WriteString(ev.String())
		}
	}
	return b.String()
}

// Unwrap returns the context error that ended the wait.
func (e *NotReadyError) Unwrap() error { return e.Err }

// WaitReady watches the Cluster namespace/name until it is ready (see
// Status.Ready) and returns its status. The Cluster may not exist yet. It
// stops after the Timeout option (default 15 minutes) or when ctx ends,
// returning a *NotReadyError that says why the Cluster is not ready.
// Other errors (no permission, CRD missing) end the wait at once.
func (c *Client) WaitReady(ctx context.Context, namespace, name string, opts ...WaitOption) (Status, error) {
	cfg := waitConfig{timeout: DefaultWaitTimeout}
	for _, o := range opts {
		o.configureWait(&cfg)
	}
	if cfg.timeout <= 0 {
		cfg.timeout = DefaultWaitTimeout
	}
	start := time.Now()
	wctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	w := &waiter{
		clusters: c.dyn.Resource(clusterResource).Namespace(namespace),
		name:     name,
		last:     Status{Namespace: namespace, Name: name},
		progress: cfg.progress,
	}
	err := w.run(wctx)
	if err == nil {
		return w.last, nil
	}
	if wctx.Err() == nil {
		return w.last, fmt.Errorf("wait for cluster %s/%s: %w", namespace, name, err)
	}
	waited := time.Since(start).Round(time.Second)
	if errors.Is(wctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
		waited = cfg.timeout
	}
	// ctx is over: read the Events on a short context of their own.
	ectx, cancelEvents := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancelEvents()
	// Best effort: the status alone still says why.
	events, _ := c.events(ectx, namespace, name, w.last.UID, recentEvents)
	return w.last, &NotReadyError{Namespace: namespace, Name: name, Waited: waited, Last: w.last, Events: events, Err: wctx.Err()}
}

// waiter follows one Cluster through a watch.
type waiter struct {
	clusters dynamic.ResourceInterface
	name     string
	last     Status
	reported string // progressKey of the last status reported
	progress func(Status)
}

// observe records a status and reports progress; it says whether the
// Cluster is ready.
func (w *waiter) observe(s Status) bool {
	w.last = s
	if key := s.progressKey(); key != w.reported {
		w.reported = key
		if w.progress != nil {
			w.progress(s)
		}
	}
	return s.Ready()
}

// errRelist asks run to read the Cluster again before watching.
var errRelist = errors.New("watch expired")

// run reads the Cluster, then watches it from that resourceVersion until
// it is ready; a watch the server closes is re-established from the last
// resourceVersion seen, an expired one after reading the Cluster again.
// Transient API errors are retried with backoff.
func (w *waiter) run(ctx context.Context) error {
	rv := ""
	var b backoff
	for {
		if rv == "" {
			var ready bool
			var err error
			rv, ready, err = w.read(ctx)
			switch {
			case ready:
				return nil
			case err == nil:
			case retryable(err) && b.wait(ctx):
				continue
			default:
				return err
			}
		}
		started := time.Now()
		next, ready, err := w.watch(ctx, rv)
		switch {
		case ready:
			return nil
		case err == nil:
			// Closed by the server: watch again from where it ended, at
			// once unless it closes straight away again and again.
			rv = next
			if time.Since(started) > time.Second {
				b.reset()
			} else if !b.wait(ctx) {
				return ctx.Err()
			}
		case errors.Is(err, errRelist):
			rv = ""
		case retryable(err) && b.wait(ctx):
		default:
			return err
		}
	}
}

// read gets the Cluster and returns the resourceVersion to watch from.
func (w *waiter) read(ctx context.Context) (rv string, ready bool, err error) {
	u, err := w.clusters.Get(ctx, w.name, metav1.GetOptions{})
	if err == nil {
		return u.GetResourceVersion(), w.observe(statusOf(u)), nil
	}
	if !apierrors.IsNotFound(err) {
		return "", false, fmt.Errorf("read cluster: %w", err)
	}
	// Not there yet (or no Cluster CRD, which the list reports): a list
	// gives the resourceVersion to watch from.
	list, err := w.clusters.List(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + w.name})
	if err != nil {
		return "", false, fmt.Errorf("list clusters: %w", err)
	}
	for i := range list.Items {
		if list.Items[i].GetName() == w.name {
			return list.GetResourceVersion(), w.observe(statusOf(&list.Items[i])), nil
		}
	}
	w.observe(Status{Namespace: w.last.Namespace, Name: w.name})
	return list.GetResourceVersion(), false, nil
}

// watch follows the Cluster from rv until it is ready, the server closes
// the watch (nil error, and the last resourceVersion seen), rv has expired
// (errRelist) or something fails.
func (w *waiter) watch(ctx context.Context, rv string) (next string, ready bool, err error) {
	wi, err := w.clusters.Watch(ctx, metav1.ListOptions{
		FieldSelector:       "metadata.name=" + w.name,
		ResourceVersion:     rv,
		AllowWatchBookmarks: true,
	})
	if err != nil {
		if apierrors.IsResourceExpired(err) || apierrors.IsGone(err) {
			return "", false, errRelist
		}
		return rv, false, fmt.Errorf("watch cluster: %w", err)
	}
	defer wi.Stop()
	for {
		select {
		case <-ctx.Done():
			return rv, false, ctx.Err()
		case ev, ok := <-wi.ResultChan():
			if !ok {
				return rv, false, nil
			}
			if ev.Type == watch.Error {
				err := apierrors.FromObject(ev.Object)
				if apierrors.IsResourceExpired(err) || apierrors.IsGone(err) {
					return "", false, errRelist
				}
				return rv, false, fmt.Errorf("watch cluster: %w", err)
			}
			u, ok := ev.Object.(*unstructured.Unstructured)
			if !ok {
				continue
			}
			rv = u.GetResourceVersion()
			switch ev.Type {
			case watch.Deleted:
				w.observe(Status{Namespace: w.last.Namespace, Name: w.name})
			case watch.Added, watch.Modified:
				if w.observe(statusOf(u)) {
					return rv, true, nil
				}
			}
		}
	}
}

// retryable reports whether an API error may go away by itself.
func retryable(err error) bool {
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded),
		apierrors.IsNotFound(err), apierrors.IsForbidden(err), apierrors.IsUnauthorized(err),
		apierrors.IsBadRequest(err), apierrors.IsInvalid(err), apierrors.IsMethodNotSupported(err):
		return false
	}
	return true
}

// backoff spaces retries after API errors: 500ms, doubling up to 30s.
type backoff struct{ next time.Duration }

func (b *backoff) reset() { b.next = 0 }

// wait sleeps for the next interval; false when ctx ended first.
func (b *backoff) wait(ctx context.Context) bool {
	b.next = min(max(b.next*2, 500*time.Millisecond), 30*time.Second)
	t := time.NewTimer(b.next)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
