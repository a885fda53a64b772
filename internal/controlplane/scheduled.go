package controlplane

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"
)

// compactISO8601 is how CloudNativePG stamps the Backups a ScheduledBackup
// makes: <scheduledbackup>-20260216172801 (utils.ToCompactISO8601).
const compactISO8601 = "20060102150405"

// reconcileScheduledBackup plays CloudNativePG's ScheduledBackup
// controller: the first time, an immediate backup when spec.immediate;
// then one Backup at each time the six-field schedule names, the stand-in
// queued again for the next one. status.lastCheckTime, lastScheduleTime
// and nextScheduleTime say what it did.
func (o *Operator) reconcileScheduledBackup(ctx context.Context, it item) error {
	sb, err := get(o.schedules, it.namespace, it.name)
	if err != nil || sb == nil {
		return err
	}
	if suspend, _, _ := unstructured.NestedBool(sb.Object, "spec", "suspend"); suspend {
		return nil
	}
	spec, _, _ := unstructured.NestedString(sb.Object, "spec", "schedule")
	schedule, err := parseCron(spec)
	if err != nil {
		o.emit(ctx, sb, corev1.EventTypeWarning, "InvalidSchedule", err.Error())
		return o.applyScheduleStatus(ctx, sb, map[string]any{"error": err.Error()}) // not retried: a spec change queues it
	}
	now := time.Now()
	lastCheck := statusTime(sb, "lastCheckTime")
	if lastCheck.IsZero() {
		status := map[string]any{"lastCheckTime": rfc3339(now)}
		if immediate, _, _ := unstructured.NestedBool(sb.Object, "spec", "immediate"); immediate {
			if _, err := o.createScheduledBackup(ctx, sb, now, true); err != nil {
				return err
			}
			status["lastScheduleTime"] = rfc3339(now)
		}
		next := schedule.next(now)
		status["nextScheduleTime"] = rfc3339(next)
		o.queueAt(it, next)
		return o.applyScheduleStatus(ctx, sb, status)
	}
	next := schedule.next(lastCheck)
	if next.IsZero() {
		return nil
	}
	if now.Before(next) {
		o.queueAt(it, next)
		return nil
	}
	if _, err := o.createScheduledBackup(ctx, sb, next, false); err != nil {
		return err
	}
	following := schedule.next(now)
	o.queueAt(it, following)
	return o.applyScheduleStatus(ctx, sb, map[string]any{
		"lastCheckTime": rfc3339(now), "lastScheduleTime": rfc3339(next), "nextScheduleTime": rfc3339(following),
	})
}

// queueAt queues it again at t (a moment after, so that the schedule
// matches when it runs).
func (o *Operator) queueAt(it item, t time.Time) {
	if !t.IsZero() {
		o.queue.AddAfter(it, time.Until(t)+10*time.Millisecond)
	}
}

// RunScheduledBackup makes the ScheduledBackup namespace/name take a
// backup now, as if its schedule said so, and returns the name of the
// Backup object it created (which the stand-in then takes in the
// background). Its status is not changed.
func (o *Operator) RunScheduledBackup(ctx context.Context, namespace, name string) (string, error) {
	sb, err := o.dyn.Resource(scheduleGVR).Namespace(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("run scheduled backup %s/%s: %w", namespace, name, err)
	}
	when := time.Now()
	for range 5 {
		b, err := o.createScheduledBackup(ctx, sb, when, true)
		if err == nil {
			return b, nil
		}
		if !errors.Is(err, errBackupExists) {
			return "", fmt.Errorf("run scheduled backup %s/%s: %w", namespace, name, err)
		}
		// One this second already: names are to the second.
		when = when.Add(time.Second)
	}
	return "", fmt.Errorf("run scheduled backup %s/%s: backups of the next seconds exist already", namespace, name)
}

// errBackupExists is createScheduledBackup's error when the Backup of that
// time exists.
var errBackupExists = errors.New("backup exists")

// createScheduledBackup creates the Backup of the ScheduledBackup sb for
// time at, named <scheduledbackup>-<compact ISO 8601 time> with the
// owner spec.backupOwnerReference asks for ("none", "self" or "cluster").
// A scheduled Backup that exists already (a retry) is no error; an
// immediate one is errBackupExists.
func (o *Operator) createScheduledBackup(ctx context.Context, sb *unstructured.Unstructured, at time.Time, immediate bool) (string, error) {
	ns := sb.GetNamespace()
	name := sb.GetName() + "-" + at.UTC().Format(compactISO8601)
	clusterName, _, _ := unstructured.NestedString(sb.Object, "spec", "cluster", "name")
	spec := map[string]any{"cluster": map[string]any{"name": clusterName}}
	for _, f := range []string{"method", "pluginConfiguration", "online", "onlineConfiguration", "target"} {
		if v, ok, _ := unstructured.NestedFieldCopy(sb.Object, "spec", f); ok {
			spec[f] = v
		}
	}
	backup := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": backupGVR.GroupVersion().String(),
		"kind":       "Backup",
		"metadata":   map[string]any{"name": name, "namespace": ns},
		"spec":       spec,
	}}
	backup.SetLabels(map[string]string{"cnpg.io/cluster": clusterName, "cnpg.io/scheduled-backup": sb.GetName()})
	if immediate {
		backup.SetAnnotations(map[string]string{"cnpg.io/immediateBackup": "true"})
	}
	owner, _, _ := unstructured.NestedString(sb.Object, "spec", "backupOwnerReference")
	switch owner {
	case "self":
		backup.SetOwnerReferences([]metav1.OwnerReference{{APIVersion: scheduleGVR.GroupVersion().String(), Kind: "ScheduledBackup", Name: sb.GetName(), UID: sb.GetUID(), Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}})
	case "cluster":
		cluster, err := get(o.clusters, ns, clusterName)
		if err != nil {
			return "", err
		}
		if cluster != nil {
			backup.SetOwnerReferences([]metav1.OwnerReference{{APIVersion: clusterGVR.GroupVersion().String(), Kind: "Cluster", Name: clusterName, UID: cluster.GetUID(), Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}})
		}
	}
	_, err := o.dyn.Resource(backupGVR).Namespace(ns).Create(ctx, backup, metav1.CreateOptions{})
	switch {
	case apierrors.IsAlreadyExists(err) && immediate:
		return "", errBackupExists
	case apierrors.IsAlreadyExists(err):
		return name, nil
	case err != nil:
		return "", fmt.Errorf("create backup %s/%s: %w", ns, name, err)
	}
	o.logf("operator: scheduledbackup %s/%s: created backup %s", ns, sb.GetName(), name)
	msg := "Scheduled backup " + name
	if immediate {
		msg = "Immediate backup " + name
	}
	o.emit(ctx, sb, corev1.EventTypeNormal, "BackupSchedule", msg)
	return name, nil
}

// applyScheduleStatus writes status to the ScheduledBackup's status
// subresource.
func (o *Operator) applyScheduleStatus(ctx context.Context, sb *unstructured.Unstructured, status map[string]any) error {
	return o.applyStatus(ctx, scheduleGVR, "ScheduledBackup", sb, status)
}

// statusTime reads a time of u's status, zero when absent or unreadable.
func statusTime(u *unstructured.Unstructured, field string) time.Time {
	s, _, _ := unstructured.NestedString(u.Object, "status", field)
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}
	}
	return t
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }
