package controlplane

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/clustropg/clustro/internal/barman"
)

// Phases of a CloudNativePG Backup (api/v1/backup_types.go).
const (
	backupPending   = "pending"
	backupStarted   = "started"
	backupRunning   = "running"
	backupCompleted = "completed"
	backupFailed    = "failed"
)

// archivePoll is how often the archiving of a cluster with its own server
// is checked while it is not known to work, and archiveRecheck once it is.
const (
	archivePoll    = time.Second
	archiveRecheck = 10 * time.Second
)

// ownStatus is the worker's look at a provisioned own server: the first
// time it closes the current WAL segment (so that one gets archived, as
// CloudNativePG checks after bootstrap), then it reads the archiving
// condition and queues the cluster to read it again.
func (o *Operator) ownStatus(ctx context.Context, it item, oi *ownInstance) (*archivingCondition, error) {
	if oi.archiver && oi.dest == nil {
		if err := o.startArchiving(ctx, it, oi); err != nil {
			return nil, err
		}
	}
	if !oi.switched && oi.dest != nil {
		if _, err := oi.admin.pool.Exec(ctx, "SELECT pg_switch_wal()"); err != nil {
			return nil, fmt.Errorf("switch the WAL of cluster %s: %w", it.key(), err)
		}
		oi.switched = true
	}
	cond, err := o.archiving(ctx, oi)
	if err != nil {
		return nil, fmt.Errorf("cluster %s: %w", it.key(), err)
	}
	switch {
	case !oi.archiver:
	case cond == nil || !cond.ok:
		o.queue.AddAfter(it, archivePoll)
	default:
		o.queue.AddAfter(it, archiveRecheck)
	}
	return cond, nil
}

// startArchiving makes a running own server that does not archive yet (it
// was restored, or its ObjectStore could not be read when it started)
// archive its WAL, once its ObjectStore can be read: the server restarts
// on its port with the archive settings. A failure to read it is kept in
// oi.destErr (and shown by the ContinuousArchiving condition); only an
// error of the server is returned.
func (o *Operator) startArchiving(ctx context.Context, it item, oi *ownInstance) error {
	d, err := o.destination(ctx, it.namespace, oi.objectName, oi.serverName)
	if err == nil && oi.source != nil && d.URL() == oi.source.URL() && d.ServerName == oi.source.ServerName && d.Endpoint == oi.source.Endpoint {
		err = fmt.Errorf("refusing to archive into the archive it recovered from (%s): give the plugin entry another serverName or ObjectStore", d)
	}
	if err != nil {
		if err.Error() != oi.destErr {
			o.logf("operator: cluster %s: WAL not archived: %v", it.key(), err)
		}
		oi.destErr = err.Error()
		return nil
	}
	start := time.Now()
	if err := oi.inst.StartArchiving(ctx, d); err != nil {
		return fmt.Errorf("cluster %s: %w", it.key(), err)
	}
	admin, err := openPostgres(ctx, oi.inst.DSN())
	if err != nil {
		return fmt.Errorf("cluster %s: reconnect after enabling archiving: %w", it.key(), err)
	}
	o.mu.Lock()
	old := oi.admin
	oi.admin = admin
	o.mu.Unlock()
	old.close()
	oi.dest, oi.destErr, oi.switched = &d, "", false
	o.logf("operator: cluster %s: archiving its WAL to %s (server restarted in %s)", it.key(), d, time.Since(start).Round(time.Millisecond))
	return nil
}

// reconcileBackup takes the base backup a Backup object asks for, as the
// Barman Cloud plugin does: in the background, reporting phase started,
// running, then completed (or failed, with the error) in the Backup's
// status with the fields CloudNativePG fills.
func (o *Operator) reconcileBackup(ctx context.Context, it item) error {
	b, err := get(o.backups, it.namespace, it.name)
	if err != nil || b == nil {
		return err
	}
	phase, _, _ := unstructured.NestedString(b.Object, "status", "phase")
	if phase == backupCompleted || phase == backupFailed {
		return nil
	}
	o.mu.Lock()
	running := o.backupsRunning[it.key()]
	o.mu.Unlock()
	if running {
		return nil
	}
	if phase == backupStarted || phase == backupRunning {
		return o.failBackup(ctx, b, nil, "the operator stand-in restarted while the backup ran")
	}
	method, _, _ := unstructured.NestedString(b.Object, "spec", "method")
	if method == "" {
		method = "barmanObjectStore"
	}
	if method != "plugin" {
		return o.failBackup(ctx, b, nil, fmt.Sprintf("backup method %q is not played by the stand-in: use method plugin with %s", method, barmanPlugin))
	}
	if p, _, _ := unstructured.NestedString(b.Object, "spec", "pluginConfiguration", "name"); p != barmanPlugin {
		return o.failBackup(ctx, b, nil, fmt.Sprintf("plugin %q is not played by the stand-in: use %s", p, barmanPlugin))
	}
	clusterName, _, _ := unstructured.NestedString(b.Object, "spec", "cluster", "name")
	cluster, err := get(o.clusters, it.namespace, clusterName)
	if err != nil {
		return err
	}
	if cluster == nil {
		return o.failBackup(ctx, b, nil, fmt.Sprintf("unknown cluster %q", clusterName))
	}
	if _, _, ok := archiverEntry(cluster); !ok {
		return o.failBackup(ctx, b, nil, fmt.Sprintf("cluster %q has no WAL archiver plugin entry (%s with isWALArchiver)", clusterName, barmanPlugin))
	}
	o.mu.Lock()
	oi := o.own[it.namespace+"/"+clusterName]
	var startErr error
	started := false
	if oi != nil {
		started, startErr = oi.started, oi.err
	}
	o.mu.Unlock()
	st := o.state[it.namespace+"/"+clusterName]
	switch {
	case startErr != nil:
		return o.failBackup(ctx, b, nil, fmt.Sprintf("cluster %q has no primary: %v", clusterName, startErr))
	case oi == nil && st != nil && st.uid == cluster.GetUID() && st.provisioned:
		return o.failBackup(ctx, b, nil, fmt.Sprintf("cluster %q does not archive its WAL: %s", clusterName, lateArchiverMessage))
	case oi == nil || !started:
		// Queued again once the cluster's server runs.
		o.queue.AddAfter(it, archivePoll)
		return o.applyBackupStatus(ctx, b, map[string]any{"phase": backupPending})
	case oi.dest == nil:
		return o.failBackup(ctx, b, nil, fmt.Sprintf("cluster %q does not archive its WAL: %s", clusterName, oi.destErr))
	}
	dest := *oi.dest
	status := map[string]any{
		"phase":           backupStarted,
		"method":          "plugin",
		"online":          true,
		"serverName":      dest.ServerName,
		"destinationPath": dest.URL(),
		"endpointURL":     dest.Endpoint,
		"instanceID":      map[string]any{"podName": currentPrimary(cluster)},
		"pluginMetadata":  map[string]any{"pluginName": barmanPlugin},
	}
	if err := o.applyBackupStatus(ctx, b, status); err != nil {
		return err
	}
	o.emit(ctx, b, corev1.EventTypeNormal, "Starting", "Starting backup for cluster "+clusterName)
	o.mu.Lock()
	o.backupsRunning[it.key()] = true
	o.mu.Unlock()
	o.jobs.Add(1)
	go func() {
		defer o.jobs.Done()
		o.takeBackup(it, b, cluster, oi, dest, status)
		o.mu.Lock()
		delete(o.backupsRunning, it.key())
		o.mu.Unlock()
	}()
	return nil
}

// takeBackup runs barman-cloud-backup for the Backup b and reports its end.
func (o *Operator) takeBackup(it item, b, cluster *unstructured.Unstructured, oi *ownInstance, dest barman.Destination, status map[string]any) {
	ctx := o.runCtx
	oi.backupMu.Lock()
	defer oi.backupMu.Unlock()
	start := time.Now()
	status["phase"] = backupRunning
	status["startedAt"] = start.UTC().Format(time.RFC3339)
	if err := o.applyBackupStatus(ctx, b, status); err != nil {
		o.logf("operator: %s: %v", it, err)
	}
	o.logf("operator: %s: backing up cluster %s to %s", it, cluster.GetName(), dest)
	info, err := barman.Backup(ctx, oi.inst, dest)
	if err != nil {
		if ferr := o.failBackup(ctx, b, status, err.Error()); ferr != nil {
			o.logf("operator: %s: %v", it, ferr)
		}
		return
	}
	status["phase"] = backupCompleted
	status["backupId"] = info.ID
	if info.Name != "" {
		status["backupName"] = info.Name
	}
	status["beginWal"], status["endWal"] = info.BeginWAL, info.EndWAL
	status["beginLSN"], status["endLSN"] = info.BeginLSN, info.EndLSN
	status["startedAt"] = info.BeginTime.UTC().Format(time.RFC3339)
	status["stoppedAt"] = info.EndTime.UTC().Format(time.RFC3339)
	if err := o.applyBackupStatus(ctx, b, status); err != nil {
		o.logf("operator: %s: %v", it, err)
	}
	o.logf("operator: %s: completed: barman backup %s (WAL %s..%s) in %s", it, info.ID, info.BeginWAL, info.EndWAL, time.Since(start).Round(time.Millisecond))
	o.emit(ctx, b, corev1.EventTypeNormal, "Completed", "Backup completed")

	list, err := barman.ListBackups(ctx, dest)
	if err != nil {
		o.logf("operator: %s: recovery window: %v", it, err)
		return
	}
	var w recoveryWindow
	for _, bi := range list {
		if bi.Status != "DONE" {
			continue
		}
		if w.first.IsZero() {
			w.first = bi.EndTime
		}
		w.last = bi.EndTime
	}
	o.mu.Lock()
	oi.window = w
	o.mu.Unlock()
	o.writeRecoveryWindow(ctx, it.namespace, oi.objectName, dest.ServerName, w)
	o.queue.Add(item{namespace: it.namespace, name: cluster.GetName()})
}

// writeRecoveryWindow records the window in the ObjectStore's
// status.serverRecoveryWindow, as the Barman Cloud plugin does (a merge
// patch: other servers' windows stay).
func (o *Operator) writeRecoveryWindow(ctx context.Context, namespace, store, serverName string, w recoveryWindow) {
	if store == "" || w.first.IsZero() {
		return
	}
	patch, _ := json.Marshal(map[string]any{"status": map[string]any{"serverRecoveryWindow": map[string]any{serverName: map[string]any{
		"firstRecoverabilityPoint": w.first.UTC().Format(time.RFC3339),
		"lastSuccessfulBackupTime": w.last.UTC().Format(time.RFC3339),
	}}}})
	_, err := o.dyn.Resource(storeGVR).Namespace(namespace).Patch(ctx, store, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: operatorFieldManager}, "status")
	if err != nil {
		o.logf("operator: write the recovery window of ObjectStore %s/%s: %v", namespace, store, err)
	}
}

// failBackup marks the Backup failed with message (and the fields already
// reported in status, when given), with a Warning Event.
func (o *Operator) failBackup(ctx context.Context, b *unstructured.Unstructured, status map[string]any, message string) error {
	if status == nil {
		status = map[string]any{}
	}
	status["phase"] = backupFailed
	status["error"] = message
	if _, ok := status["stoppedAt"]; !ok {
		status["stoppedAt"] = time.Now().UTC().Format(time.RFC3339)
	}
	o.logf("operator: backup %s/%s failed: %s", b.GetNamespace(), b.GetName(), message)
	o.emit(ctx, b, corev1.EventTypeWarning, "Failed", "Backup failed: "+message)
	return o.applyBackupStatus(ctx, b, status)
}

// applyBackupStatus writes status (all the fields the stand-in owns) to
// the Backup's status subresource.
func (o *Operator) applyBackupStatus(ctx context.Context, b *unstructured.Unstructured, status map[string]any) error {
	return o.applyStatus(ctx, backupGVR, "Backup", b, status)
}

// applyStatus writes status, the fields the stand-in owns, to the status
// subresource of obj (a kind of resource gvr) with server-side apply; an
// object deleted meanwhile is no error.
func (o *Operator) applyStatus(ctx context.Context, gvr schema.GroupVersionResource, kind string, obj *unstructured.Unstructured, status map[string]any) error {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": gvr.GroupVersion().String(),
		"kind":       kind,
		"metadata":   map[string]any{"name": obj.GetName(), "namespace": obj.GetNamespace()},
		"status":     status,
	}}
	_, err := o.dyn.Resource(gvr).Namespace(obj.GetNamespace()).ApplyStatus(ctx, obj.GetName(), u, applyOptions())
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("write status of %s %s/%s: %w", strings.ToLower(kind), obj.GetNamespace(), obj.GetName(), err)
	}
	return nil
}

// currentPrimary is the Cluster's status.currentPrimary, or its first
// instance before it has one.
func currentPrimary(cluster *unstructured.Unstructured) string {
	if p, _, _ := unstructured.NestedString(cluster.Object, "status", "currentPrimary"); p != "" {
		return p
	}
	return instanceName(cluster.GetName(), 1)
}
