package controlplane

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// eventSource is the component CloudNativePG's event recorder reports as.
const eventSource = "cloudnative-pg"

// emit records a core/v1 Event about obj. A failure is logged, never
// returned: Events are best effort, as with client-go's recorder.
func (o *Operator) emit(ctx context.Context, obj *unstructured.Unstructured, typ, reason, message string) {
	now := metav1.NewTime(time.Now())
	ev := &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{GenerateName: obj.GetName() + ".", Namespace: obj.GetNamespace()},
		InvolvedObject: corev1.ObjectReference{
			APIVersion:      obj.GetAPIVersion(),
			Kind:            obj.GetKind(),
			Namespace:       obj.GetNamespace(),
			Name:            obj.GetName(),
			UID:             obj.GetUID(),
			ResourceVersion: obj.GetResourceVersion(),
		},
		Type:           typ,
		Reason:         reason,
		Message:        message,
		Source:         corev1.EventSource{Component: eventSource},
		FirstTimestamp: now,
		LastTimestamp:  now,
		Count:          1,
	}
	if _, err := o.core.CoreV1().Events(obj.GetNamespace()).Create(ctx, ev, metav1.CreateOptions{}); err != nil {
		o.logf("operator: record event %s %s for %s/%s: %v", typ, reason, obj.GetNamespace(), obj.GetName(), err)
	}
}
