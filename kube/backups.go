package kube

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// backupResource is CloudNativePG's Backup.
var backupResource = schema.GroupVersionResource{Group: "postgresql.cnpg.io", Version: "v1", Resource: "backups"}

// objectStoreResource is the Barman Cloud plugin's ObjectStore.
var objectStoreResource = schema.GroupVersionResource{Group: "barmancloud.cnpg.io", Version: "v1", Resource: "objectstores"}

// BarmanCloudPlugin is the name of CloudNativePG's Barman Cloud plugin, as
// Backups (spec.pluginConfiguration.name) and Clusters (spec.plugins[].name)
// refer to it.
const BarmanCloudPlugin = "barman-cloud.cloudnative-pg.io"

// ContinuousArchivingCondition is the type of the Cluster condition that
// says whether WAL archiving works: True (reason ContinuousArchivingSuccess)
// or False (reason ContinuousArchivingFailing, the archiver's error as
// message).
const ContinuousArchivingCondition = "ContinuousArchiving"

// The phases of a Backup that CloudNativePG reports in its status. A Backup
// it has not picked up yet has no phase.
const (
	BackupPending    = "pending"
	BackupStarted    = "started"
	BackupRunning    = "running"
	BackupFinalizing = "finalizing"
	BackupCompleted  = "completed"
	BackupFailed     = "failed"
	// BackupWALArchivingFailing: the backup waits for WAL archiving to work.
	BackupWALArchivingFailing = "walArchivingFailing"
	// BackupInvalid: the spec cannot be acted on (it is immutable: the
	// Backup must be deleted and created again).
	BackupInvalid = "invalid backup definition"
)

// managedByLabel and managedBy mark what ClustroPG creates.
const (
	managedByLabel = "app.kubernetes.io/managed-by"
	managedBy      = "clustropg"
	// onDemandLabel marks a Backup CreateBackup made (a person asked
	// for it), as opposed to one of a ScheduledBackup.
	onDemandLabel = "clustropg.io/on-demand"
)

// clusterLabel is the label CloudNativePG puts on a Cluster's objects.
const clusterLabel = "cnpg.io/cluster"

// Backup is a CloudNativePG Backup of a Cluster, as its status says.
type Backup struct {
	Namespace, Name string
	// Cluster is spec.cluster.name, the Cluster backed up.
	Cluster string
	// Phase is status.phase (see BackupPending and the other phases):
	// empty until the operator picks the Backup up.
	Phase string
	// Method is status.method, or spec.method while the status does not
	// say (e.g. "plugin", "barmanObjectStore", "volumeSnapshot").
	Method string
	// Started and Stopped are status.startedAt and status.stoppedAt; zero
	// while unknown.
	Started, Stopped time.Time
	// ID is status.backupId, Barman's identifier of the backup.
	ID string
	// BeginWAL and EndWAL are status.beginWal and status.endWal, the first
	// and last WAL files the backup needs.
	BeginWAL, EndWAL string
	// Error is status.error, why the backup failed.
	Error string
	// Created is metadata.creationTimestamp.
	Created time.Time
	// OnDemand reports whether CreateBackup made it.
	OnDemand bool
}

// Backups returns the Backups of the Cluster namespace/cluster (those whose
// spec.cluster.name is cluster), newest first: by creation time, then by
// start time, then by name, each descending. No Backup is no error.
func (c *Client) Backups(ctx context.Context, namespace, cluster string) ([]Backup, error) {
	list, err := c.dyn.Resource(backupResource).Namespace(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("kube: list the backups of cluster %s/%s: %w", namespace, cluster, err)
	}
	var backups []Backup
	for i := range list.Items {
		u := &list.Items[i]
		if name, _, _ := unstructured.NestedString(u.Object, "spec", "cluster", "name"); name != cluster {
			continue
		}
		b, err := backupOf(u)
		if err != nil {
			return nil, fmt.Errorf("kube: list the backups of cluster %s/%s: %w", namespace, cluster, err)
		}
		backups = append(backups, b)
	}
	slices.SortFunc(backups, func(a, b Backup) int {
		return cmp.Or(b.Created.Compare(a.Created), b.Started.Compare(a.Started), cmp.Compare(b.Name, a.Name))
	})
	return backups, nil
}

// CreateBackup asks for a backup of the Cluster namespace/cluster through
// the Barman Cloud plugin: a Backup named name with method "plugin" and
// pluginConfiguration.name BarmanCloudPlugin, labelled
// app.kubernetes.io/managed-by=clustropg, cnpg.io/cluster=<cluster> and
// clustropg.io/on-demand=true.
// It is idempotent by name: when a Backup of that name exists already for
// the same cluster, it returns that one (whatever its method); one for
// another cluster is an error. The returned Backup has no phase until the
// operator picks it up: follow it with Backups. Whether the Cluster exists
// is not checked (CloudNativePG fails a Backup of an unknown Cluster).
func (c *Client) CreateBackup(ctx context.Context, namespace, cluster, name string) (Backup, error) {
	if name == "" || cluster == "" {
		return Backup{}, fmt.Errorf("kube: create backup %q of cluster %q in %s: the backup and the cluster need a name", name, cluster, namespace)
	}
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": backupResource.GroupVersion().String(),
		"kind":       "Backup",
		"metadata": map[string]any{
			"name":      name,
			"namespace": namespace,
			"labels": map[string]any{
				managedByLabel: managedBy,
				clusterLabel:   cluster,
				onDemandLabel:  "true",
			},
		},
		"spec": map[string]any{
			"cluster":             map[string]any{"name": cluster},
			"method":              "plugin",
			"pluginConfiguration": map[string]any{"name": BarmanCloudPlugin},
		},
	}}
	res := c.dyn.Resource(backupResource).Namespace(namespace)
	created, err := res.Create(ctx, u, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		created, err = res.Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			if other, _, _ := unstructured.NestedString(created.Object, "spec", "cluster", "name"); other != cluster {
				return Backup{}, fmt.Errorf("kube: create backup %s/%s of cluster %s: it exists already, for cluster %q", namespace, name, cluster, other)
			}
		}
	}
	if err != nil {
		return Backup{}, fmt.Errorf("kube: create backup %s/%s of cluster %s: %w", namespace, name, cluster, err)
	}
	b, err := backupOf(created)
	if err != nil {
		return Backup{}, fmt.Errorf("kube: create backup %s/%s of cluster %s: %w", namespace, name, cluster, err)
	}
	return b, nil
}

// backupOf reads a Backup.
func backupOf(u *unstructured.Unstructured) (Backup, error) {
	b := Backup{Namespace: u.GetNamespace(), Name: u.GetName(), Created: u.GetCreationTimestamp().Time,
		OnDemand: u.GetLabels()[onDemandLabel] == "true"}
	b.Cluster, _, _ = unstructured.NestedString(u.Object, "spec", "cluster", "name")
	b.Phase, _, _ = unstructured.NestedString(u.Object, "status", "phase")
	b.Method, _, _ = unstructured.NestedString(u.Object, "status", "method")
	if b.Method == "" {
		b.Method, _, _ = unstructured.NestedString(u.Object, "spec", "method")
	}
	b.ID, _, _ = unstructured.NestedString(u.Object, "status", "backupId")
	b.BeginWAL, _, _ = unstructured.NestedString(u.Object, "status", "beginWal")
	b.EndWAL, _, _ = unstructured.NestedString(u.Object, "status", "endWal")
	b.Error, _, _ = unstructured.NestedString(u.Object, "status", "error")
	var err1, err2 error
	b.Started, err1 = nestedTime(u, "status", "startedAt")
	b.Stopped, err2 = nestedTime(u, "status", "stoppedAt")
	if err := errors.Join(err1, err2); err != nil {
		return Backup{}, fmt.Errorf("backup %s: %w", b.Name, err)
	}
	return b, nil
}

// RecoveryWindow is what can be restored of a Cluster: any point from
// First to Last(now).
type RecoveryWindow struct {
	Namespace, Cluster string
	// First is the earliest point the Cluster can be restored to (the
	// start of its oldest backup); zero while no backup has completed, in
	// which case nothing can be restored.
	First time.Time
	// LastBackup is when the last successful backup ended; zero when none.
	LastBackup time.Time
	// LastFailedBackup is when the last backup failed; zero when none did
	// (or it is not reported).
	LastFailedBackup time.Time
	// Archiving is whether WAL archiving works: condition
	// ContinuousArchiving is True.
	Archiving bool
	// ArchivingReason and ArchivingMessage are those of condition
	// ContinuousArchiving (ContinuousArchivingSuccess, or
	// ContinuousArchivingFailing with the archiver's error), both empty
	// when the Cluster has no such condition (yet): archiving never
	// reported working.
	ArchivingReason, ArchivingMessage string
	// ArchivingSince is the condition's lastTransitionTime: since when
	// archiving works, or fails.
	ArchivingSince time.Time
	// ObjectStore is the Barman Cloud plugin's ObjectStore whose status
	// gave First, LastBackup and LastFailedBackup; empty when they came
	// from the Cluster's status (CloudNativePG's in-tree barmanObjectStore,
	// or the ObjectStore has not reported on this server yet).
	ObjectStore string
}

// Last is the latest point the Cluster can be restored to, approximately:
// now when WAL archiving works (less the WAL not archived yet: up to
// archive_timeout, five minutes by default in CloudNativePG); when it
// fails, the time it started failing or the end of the last backup,
// whichever is later; zero when nothing can be restored (First is zero).
func (w RecoveryWindow) Last(now time.Time) time.Time {
	switch {
	case w.First.IsZero():
		return time.Time{}
	case w.Archiving:
		return now
	case w.ArchivingReason != "" && w.ArchivingSince.After(w.LastBackup):
		return w.ArchivingSince
	}
	return w.LastBackup
}

// RecoveryWindow reads what can be restored of the Cluster
// namespace/cluster. When the Cluster archives through the Barman Cloud
// plugin (spec.plugins names BarmanCloudPlugin with a barmanObjectName
// parameter), the window comes from that ObjectStore's
// status.serverRecoveryWindow for the plugin's serverName (the Cluster's
// name unless the serverName parameter says otherwise): the plugin writes
// it there, not in the Cluster. A field the ObjectStore does not report
// (or an ObjectStore that does not exist) falls back to the Cluster's own
// status.firstRecoverabilityPoint, lastSuccessfulBackup and
// lastFailedBackup, which the in-tree barmanObjectStore method writes.
// Whether archiving works comes from the Cluster's ContinuousArchiving
// condition. A Cluster with no backup yet is no error: First is zero.
func (c *Client) RecoveryWindow(ctx context.Context, namespace, cluster string) (RecoveryWindow, error) {
	fail := func(err error) (RecoveryWindow, error) {
		return RecoveryWindow{}, fmt.Errorf("kube: read the recovery window of cluster %s/%s: %w", namespace, cluster, err)
	}
	u, err := c.dyn.Resource(clusterResource).Namespace(namespace).Get(ctx, cluster, metav1.GetOptions{})
	if err != nil {
		return fail(err)
	}
	w := RecoveryWindow{Namespace: namespace, Cluster: cluster}
	var errs [3]error
	w.First, errs[0] = nestedTime(u, "status", "firstRecoverabilityPoint")
	w.LastBackup, errs[1] = nestedTime(u, "status", "lastSuccessfulBackup")
	w.LastFailedBackup, errs[2] = nestedTime(u, "status", "lastFailedBackup")
	if err := errors.Join(errs[:]...); err != nil {
		return fail(err)
	}
	if cond, ok := statusOf(u).Condition(ContinuousArchivingCondition); ok {
		w.Archiving = cond.Status == "True"
		w.ArchivingReason, w.ArchivingMessage = cond.Reason, cond.Message
	}
	w.ArchivingSince, err = conditionTransition(u, ContinuousArchivingCondition)
	if err != nil {
		return fail(err)
	}
	store, server := barmanCloudStore(u)
	if store == "" {
		return w, nil
	}
	obj, err := c.dyn.Resource(objectStoreResource).Namespace(namespace).Get(ctx, store, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return w, nil // not there (yet), or the plugin's CRD is not installed
	}
	if err != nil {
		return fail(fmt.Errorf("objectstore %s: %w", store, err))
	}
	if _, ok, _ := unstructured.NestedMap(obj.Object, "status", "serverRecoveryWindow", server); !ok {
		return w, nil
	}
	from := []struct {
		to    *time.Time
		field string
	}{
		{&w.First, "firstRecoverabilityPoint"},
		{&w.LastBackup, "lastSuccessfulBackupTime"},
		{&w.LastFailedBackup, "lastFailedBackupTime"},
	}
	for _, f := range from {
		t, err := nestedTime(obj, "status", "serverRecoveryWindow", server, f.field)
		if err != nil {
			return fail(fmt.Errorf("objectstore %s: %w", store, err))
		}
		if !t.IsZero() {
			*f.to = t
			w.ObjectStore = store
		}
	}
	return w, nil
}

// barmanCloudStore returns the ObjectStore and server name the Cluster u
// archives to through the Barman Cloud plugin, or "" when it does not use
// the plugin. With several enabled entries for the plugin, the WAL
// archiver's wins.
func barmanCloudStore(u *unstructured.Unstructured) (store, server string) {
	plugins, _, _ := unstructured.NestedSlice(u.Object, "spec", "plugins")
	for _, raw := range plugins {
		p, ok := raw.(map[string]any)
		if !ok || p["name"] != BarmanCloudPlugin || p["enabled"] == false {
			continue
		}
		params, _ := p["parameters"].(map[string]any)
		name, _ := params["barmanObjectName"].(string)
		if name == "" {
			continue
		}
		if store != "" && p["isWALArchiver"] != true {
			continue
		}
		store, server = name, u.GetName()
		if s, _ := params["serverName"].(string); s != "" {
			server = s
		}
	}
	return store, server
}

// conditionTransition is the lastTransitionTime of u's condition typ, zero
// when there is none.
func conditionTransition(u *unstructured.Unstructured, typ string) (time.Time, error) {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, raw := range conds {
		if m, ok := raw.(map[string]any); ok && m["type"] == typ {
			s, _ := m["lastTransitionTime"].(string)
			return parseTime(s, "status.conditions["+typ+"].lastTransitionTime")
		}
	}
	return time.Time{}, nil
}

// nestedTime reads an RFC 3339 time; absent or empty is the zero time.
func nestedTime(u *unstructured.Unstructured, fields ...string) (time.Time, error) {
	s, _, _ := unstructured.NestedString(u.Object, fields...)
	return parseTime(s, strings.Join(fields, "."))
}

// parseTime reads the RFC 3339 time s of field; empty is the zero time.
func parseTime(s, field string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s %q is not an RFC 3339 time", field, s)
	}
	return t, nil
}
