package kube_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/util/retry"

	"github.com/clustropg/clustro/kube"
)

var (
	backups      = schema.GroupVersionResource{Group: "postgresql.cnpg.io", Version: "v1", Resource: "backups"}
	objectStores = schema.GroupVersionResource{Group: "barmancloud.cnpg.io", Version: "v1", Resource: "objectstores"}
)

// holdFinalizer keeps a deleted Cluster in place, so that the operator
// stand-in leaves it (and the status the test writes) alone.
const holdFinalizer = "test.clustropg.io/hold"

func dynClient(t *testing.T) dynamic.Interface {
	t.Helper()
	dyn, err := dynamic.NewForConfig(env.cp.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	return dyn
}

// writeStatus merges status into the object's status through the status
// subresource, retrying on conflicts.
func writeStatus(t *testing.T, res dynamic.ResourceInterface, name string, status map[string]any) {
	t.Helper()
	updateStatus(t, res, name, status, false)
}

// replaceStatus is writeStatus replacing the whole status: what the
// operator stand-in may have written first (it fails the Backups of
// Clusters that do not archive) goes; and it leaves Backups in a final
// phase alone, as CloudNativePG does.
func replaceStatus(t *testing.T, res dynamic.ResourceInterface, name string, status map[string]any) {
	t.Helper()
	updateStatus(t, res, name, status, true)
}

func updateStatus(t *testing.T, res dynamic.ResourceInterface, name string, status map[string]any, replace bool) {
	t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		u, err := res.Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if replace {
			delete(u.Object, "status")
		}
		for k, v := range status {
			if err := unstructured.SetNestedField(u.Object, v, "status", k); err != nil {
				return err
			}
		}
		_, err = res.UpdateStatus(context.Background(), u, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatalf("write the status of %s: %v", name, err)
	}
}

// heldCluster creates a Cluster with holdFinalizer, waits until it is
// ready, then deletes it: it stays, terminating, and the stand-in no longer
// writes its status (it rewrites the whole conditions list otherwise). The
// finalizer is removed at the end of the test.
func heldCluster(t *testing.T, c *kube.Client, ns, name string, spec map[string]any) {
	t.Helper()
	ctx := context.Background()
	res := dynClient(t).Resource(clusters).Namespace(ns)
	spec["instances"] = int64(1)
	spec["storage"] = map[string]any{"size": "1Gi"}
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "postgresql.cnpg.io/v1",
		"kind":       "Cluster",
		"metadata":   map[string]any{"name": name, "namespace": ns, "finalizers": []any{holdFinalizer}},
		"spec":       spec,
	}}
	if _, err := res.Create(ctx, u, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create cluster %s/%s: %v", ns, name, err)
	}
	t.Cleanup(func() {
		patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"finalizers": nil}})
		if _, err := res.Patch(context.Background(), name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("release cluster %s/%s: %v", ns, name, err)
		}
	})
	if _, err := c.WaitReady(ctx, ns, name, kube.Timeout(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := res.Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete cluster %s/%s: %v", ns, name, err)
	}
}

func TestCreateBackupIsIdempotentByName(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	ctx := context.Background()
	ns := namespace(t, "kube-backups")
	createCluster(t, ns, "bk-create", 1)
	createCluster(t, ns, "bk-create-other", 1)

	first, err := c.CreateBackup(ctx, ns, "bk-create", "bk-create-manual")
	if err != nil {
		t.Fatal(err)
	}
	if first.Name != "bk-create-manual" || first.Namespace != ns || first.Cluster != "bk-create" || first.Method != "plugin" || first.Created.IsZero() || !first.OnDemand {
		t.Errorf("CreateBackup = %+v", first)
	}
	again, err := c.CreateBackup(ctx, ns, "bk-create", "bk-create-manual")
	if err != nil {
		t.Fatalf("CreateBackup again: %v", err)
	}
	if again.Name != first.Name || !again.Created.Equal(first.Created) {
		t.Errorf("CreateBackup again = %+v, want the first one %+v", again, first)
	}
	if _, err := c.CreateBackup(ctx, ns, "bk-create-other", "bk-create-manual"); err == nil {
		t.Error("CreateBackup of the name of another cluster's Backup succeeded")
	}

	u, err := dynClient(t).Resource(backups).Namespace(ns).Get(ctx, "bk-create-manual", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := u.GetLabels(); got["app.kubernetes.io/managed-by"] != "clustropg" || got["cnpg.io/cluster"] != "bk-create" || got["clustropg.io/on-demand"] != "true" {
		t.Errorf("labels = %v", got)
	}
	spec, _, _ := unstructured.NestedMap(u.Object, "spec")
	want := map[string]any{
		"cluster":             map[string]any{"name": "bk-create"},
		"method":              "plugin",
		"pluginConfiguration": map[string]any{"name": kube.BarmanCloudPlugin},
	}
	if b1, b2 := mustJSON(t, spec), mustJSON(t, want); b1 != b2 {
		t.Errorf("spec = %s, want %s", b1, b2)
	}

	list, err := c.Backups(ctx, ns, "bk-create")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Name != "bk-create-manual" {
		t.Errorf("Backups = %+v, want the one backup", list)
	}
	if list, err := c.Backups(ctx, ns, "bk-create-other"); err != nil || len(list) != 0 {
		t.Errorf("Backups of the other cluster = %+v, %v; want none", list, err)
	}
}

func TestBackupsNewestFirstWithTheirStatus(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	ctx := context.Background()
	ns := namespace(t, "kube-backups")
	createCluster(t, ns, "bk-list", 1)
	res := dynClient(t).Resource(backups).Namespace(ns)

	// Created within the same second (creationTimestamp's resolution):
	// the start times order them.
	base := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	statuses := map[string]map[string]any{
		"bk-list-a": {"phase": "completed", "method": "plugin", "startedAt": base.Format(time.RFC3339), "stoppedAt": base.Add(time.Minute).Format(time.RFC3339),
			"backupId": "20260301T100000", "beginWal": "000000010000000000000002", "endWal": "000000010000000000000003"},
		"bk-list-b": {"phase": "failed", "method": "plugin", "startedAt": base.Add(time.Hour).Format(time.RFC3339), "stoppedAt": base.Add(time.Hour + time.Second).Format(time.RFC3339),
			"error": "can't execute backup: archive_command failing"},
		"bk-list-c": {"phase": "completed", "method": "plugin", "startedAt": base.Add(2 * time.Hour).Format(time.RFC3339), "stoppedAt": base.Add(2*time.Hour + time.Minute).Format(time.RFC3339),
			"backupId": "20260301T120000", "beginWal": "000000010000000000000005", "endWal": "000000010000000000000005"},
	}
	for _, name := range []string{"bk-list-a", "bk-list-b", "bk-list-c"} {
		if _, err := c.CreateBackup(ctx, ns, "bk-list", name); err != nil {
			t.Fatal(err)
		}
		replaceStatus(t, res, name, statuses[name])
	}
	// Another cluster's Backup is not listed.
	if _, err := c.CreateBackup(ctx, ns, "bk-list-other", "bk-list-other-1"); err != nil {
		t.Fatal(err)
	}

	got, err := c.Backups(ctx, ns, "bk-list")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, b := range got {
		names = append(names, b.Name)
	}
	if !slices.IsSortedFunc(got, func(a, b kube.Backup) int { return b.Created.Compare(a.Created) }) {
		t.Errorf("Backups not newest first by creation: %+v", got)
	}
	if len(got) != 3 {
		t.Fatalf("Backups = %q, want bk-list-a, b and c", names)
	}
	if got[0].Created.Equal(got[2].Created) && !slices.Equal(names, []string{"bk-list-c", "bk-list-b", "bk-list-a"}) {
		t.Errorf("Backups = %q, want newest first: c, b, a", names)
	}
	for _, b := range got {
		switch b.Name {
		case "bk-list-a":
			want := kube.Backup{Namespace: ns, Name: "bk-list-a", Cluster: "bk-list", Phase: kube.BackupCompleted, Method: "plugin",
				Started: base, Stopped: base.Add(time.Minute), ID: "20260301T100000",
				BeginWAL: "000000010000000000000002", EndWAL: "000000010000000000000003", Created: b.Created}
			if !backupsEqual(b, want) {
				t.Errorf("backup a = %+v, want %+v", b, want)
			}
		case "bk-list-b":
			if b.Phase != kube.BackupFailed || b.Error != "can't execute backup: archive_command failing" || !b.Stopped.Equal(base.Add(time.Hour+time.Second)) || b.ID != "" {
				t.Errorf("backup b = %+v", b)
			}
		}
		if b.Created.IsZero() {
			t.Errorf("backup %s has no creation time", b.Name)
		}
	}
}

func backupsEqual(a, b kube.Backup) bool {
	return a.Namespace == b.Namespace && a.Name == b.Name && a.Cluster == b.Cluster && a.Phase == b.Phase && a.Method == b.Method &&
		a.Started.Equal(b.Started) && a.Stopped.Equal(b.Stopped) && a.ID == b.ID && a.BeginWAL == b.BeginWAL && a.EndWAL == b.EndWAL &&
		a.Error == b.Error && a.Created.Equal(b.Created)
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestRecoveryWindowFromTheClusterStatus(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	ctx := context.Background()
	ns := namespace(t, "kube-backups")
	heldCluster(t, c, ns, "bk-window", map[string]any{})

	w, err := c.RecoveryWindow(ctx, ns, "bk-window")
	if err != nil {
		t.Fatal(err)
	}
	if !w.First.IsZero() || !w.LastBackup.IsZero() || w.Archiving || w.ArchivingReason != "" || !w.Last(time.Now()).IsZero() {
		t.Errorf("RecoveryWindow before any backup = %+v, want empty", w)
	}

	first := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	last := first.Add(24 * time.Hour)
	failed := first.Add(12 * time.Hour)
	failing := last.Add(3 * time.Hour)
	res := dynClient(t).Resource(clusters).Namespace(ns)
	u, err := res.Get(ctx, "bk-window", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	conds = append(conds, map[string]any{
		"type": "ContinuousArchiving", "status": "False", "reason": "ContinuousArchivingFailing",
		"message": "unexpected failure invoking barman-cloud-wal-archive: exit status 4", "lastTransitionTime": failing.Format(time.RFC3339),
	})
	writeStatus(t, res, "bk-window", map[string]any{
		"firstRecoverabilityPoint": first.Format(time.RFC3339),
		"lastSuccessfulBackup":     last.Format(time.RFC3339),
		"lastFailedBackup":         failed.Format(time.RFC3339),
		"conditions":               conds,
	})

	w, err = c.RecoveryWindow(ctx, ns, "bk-window")
	if err != nil {
		t.Fatal(err)
	}
	if !w.First.Equal(first) || !w.LastBackup.Equal(last) || !w.LastFailedBackup.Equal(failed) || w.ObjectStore != "" {
		t.Errorf("RecoveryWindow = %+v, want first %s, last backup %s, last failed %s from the Cluster", w, first, last, failed)
	}
	if w.Archiving || w.ArchivingReason != "ContinuousArchivingFailing" || w.ArchivingMessage == "" || !w.ArchivingSince.Equal(failing) {
		t.Errorf("RecoveryWindow archiving = %+v, want failing since %s", w, failing)
	}
	if got := w.Last(time.Now()); !got.Equal(failing) {
		t.Errorf("Last = %s, want %s (when archiving started failing)", got, failing)
	}

	conds[len(conds)-1] = map[string]any{
		"type": "ContinuousArchiving", "status": "True", "reason": "ContinuousArchivingSuccess",
		"message": "", "lastTransitionTime": failing.Add(time.Hour).Format(time.RFC3339),
	}
	writeStatus(t, res, "bk-window", map[string]any{"conditions": conds})
	w, err = c.RecoveryWindow(ctx, ns, "bk-window")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if !w.Archiving || w.ArchivingReason != "ContinuousArchivingSuccess" || !w.Last(now).Equal(now) {
		t.Errorf("RecoveryWindow = %+v, want archiving and Last = now", w)
	}
}

func TestRecoveryWindowPrefersThePluginsObjectStore(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	ctx := context.Background()
	ns := namespace(t, "kube-backups")
	// isWALArchiver false: the plugin takes backups only, and the
	// stand-in has no reason to archive anything.
	heldCluster(t, c, ns, "bk-plugin", map[string]any{
		"plugins": []any{map[string]any{
			"name":          kube.BarmanCloudPlugin,
			"isWALArchiver": false,
			"parameters":    map[string]any{"barmanObjectName": "bk-store", "serverName": "bk-server"},
		}},
	})

	// No ObjectStore yet: the Cluster's status, here empty.
	w, err := c.RecoveryWindow(ctx, ns, "bk-plugin")
	if err != nil {
		t.Fatal(err)
	}
	if !w.First.IsZero() || w.ObjectStore != "" {
		t.Errorf("RecoveryWindow without the ObjectStore = %+v, want empty", w)
	}

	clusterFailed := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	writeStatus(t, dynClient(t).Resource(clusters).Namespace(ns), "bk-plugin", map[string]any{
		"firstRecoverabilityPoint": time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Format(time.RFC3339),
		"lastFailedBackup":         clusterFailed.Format(time.RFC3339),
	})
	stores := dynClient(t).Resource(objectStores).Namespace(ns)
	store := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "barmancloud.cnpg.io/v1",
		"kind":       "ObjectStore",
		"metadata":   map[string]any{"name": "bk-store", "namespace": ns},
		"spec":       map[string]any{"configuration": map[string]any{"destinationPath": "s3://bk-bucket/"}},
	}}
	if _, err := stores.Create(ctx, store, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create objectstore: %v", err)
	}
	first := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	last := first.Add(48 * time.Hour)
	writeStatus(t, stores, "bk-store", map[string]any{"serverRecoveryWindow": map[string]any{
		"bk-server": map[string]any{
			"firstRecoverabilityPoint": first.Format(time.RFC3339),
			"lastSuccessfulBackupTime": last.Format(time.RFC3339),
		},
		"bk-plugin": map[string]any{ // not the serverName the Cluster uses
			"firstRecoverabilityPoint": first.Add(-time.Hour).Format(time.RFC3339),
		},
	}})

	w, err = c.RecoveryWindow(ctx, ns, "bk-plugin")
	if err != nil {
		t.Fatal(err)
	}
	if !w.First.Equal(first) || !w.LastBackup.Equal(last) || w.ObjectStore != "bk-store" {
		t.Errorf("RecoveryWindow = %+v, want first %s and last backup %s from ObjectStore bk-store", w, first, last)
	}
	if !w.LastFailedBackup.Equal(clusterFailed) {
		t.Errorf("LastFailedBackup = %s, want the Cluster's %s (the ObjectStore does not say)", w.LastFailedBackup, clusterFailed)
	}
	// No ContinuousArchiving condition: Last is the last backup.
	if got := w.Last(time.Now()); !got.Equal(last) {
		t.Errorf("Last = %s, want the last backup %s", got, last)
	}
}

func TestRecoveryWindowOfAMissingCluster(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	ns := namespace(t, "kube-backups")
	_, err := c.RecoveryWindow(context.Background(), ns, "bk-missing")
	if !apierrors.IsNotFound(err) {
		t.Errorf("RecoveryWindow of a missing cluster: %v, want a NotFound error", err)
	}
}
