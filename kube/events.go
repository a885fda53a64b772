package kube

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
)

// Event is a Kubernetes Event recorded for a Cluster.
type Event struct {
	Type    string // Normal or Warning
	Reason  string
	Message string
	Time    time.Time // when it last happened
	Count   int32
}

// String is "Warning SetupFailed: message", with " (x3)" when repeated.
func (e Event) String() string {
	s := e.Type + " " + e.Reason + ": " + e.Message
	if e.Count > 1 {
		s += fmt.Sprintf(" (x%d)", e.Count)
	}
	return s
}

// Events returns the Events recorded for the Cluster namespace/name, oldest
// first, at most limit of the most recent (limit <= 0: all of them).
func (c *Client) Events(ctx context.Context, namespace, name string, limit int) ([]Event, error) {
	return c.events(ctx, namespace, name, "", limit)
}

// events is Events, keeping only those of the Cluster with uid when set
// (not those of an earlier Cluster of the same name).
func (c *Client) events(ctx context.Context, namespace, name string, uid types.UID, limit int) ([]Event, error) {
	list, err := c.core.CoreV1().Events(namespace).List(ctx, metav1.ListOptions{
		FieldSelector: fields.Set{"involvedObject.kind": "Cluster", "involvedObject.name": name}.String(),
	})
	if err != nil {
		return nil, fmt.Errorf("list events of cluster %s/%s: %w", namespace, name, err)
	}
	var events []Event
	for _, e := range list.Items {
		if !strings.HasPrefix(e.InvolvedObject.APIVersion, clusterResource.Group+"/") {
			continue // a Cluster of another API group
		}
		if uid != "" && e.InvolvedObject.UID != "" && e.InvolvedObject.UID != uid {
			continue
		}
		events = append(events, Event{Type: e.Type, Reason: e.Reason, Message: e.Message, Time: eventTime(e), Count: e.Count})
	}
	slices.SortStableFunc(events, func(a, b Event) int { return a.Time.Compare(b.Time) })
	if limit > 0 && len(events) > limit {
		events = events[len(events)-limit:]
	}
	return events, nil
}

// eventTime is when an Event last happened, whichever API wrote it.
func eventTime(e corev1.Event) time.Time {
	switch {
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case e.Series != nil && !e.Series.LastObservedTime.IsZero():
		return e.Series.LastObservedTime.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	default:
		return e.CreationTimestamp.Time
	}
}
