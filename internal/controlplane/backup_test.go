package controlplane

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/clustropg/clustro/internal/barman"
)

// The suite's MinIO, started by the first test that needs it and stopped
// by TestMain.
var (
	minioOnce sync.Once
	minioSrv  *barman.MinIO
	minioErr  error
)

const testBucket = "backups"

func startMinIO(t *testing.T) *barman.MinIO {
	t.Helper()
	minioOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		minioSrv, minioErr = barman.StartMinIO(ctx, "")
		if minioErr == nil {
			minioErr = minioSrv.CreateBucket(ctx, testBucket)
		}
	})
	if minioErr != nil {
		t.Fatal(minioErr)
	}
	return minioSrv
}

func stopMinIO() {
	if minioSrv != nil {
		if err := minioSrv.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}
}

// objectStore creates the credentials Secret and an ObjectStore writing to
// s3://backups/<ns> as the module renders them; secret overrides the
// secret access key (to make archiving fail).
func objectStore(t *testing.T, dyn dynamic.Interface, cs kubernetes.Interface, ns, name, secret string) {
	t.Helper()
	m := startMinIO(t)
	ctx := context.Background()
	creds := m.Credentials()
	if secret == "" {
		secret = creds.SecretAccessKey
	}
	_, err := cs.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name + "-creds", Namespace: ns},
		Data:       map[string][]byte{"ACCESS_KEY_ID": []byte(creds.AccessKeyID), "ACCESS_SECRET_KEY": []byte(secret)},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	store := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "barmancloud.cnpg.io/v1",
		"kind":       "ObjectStore",
		"metadata":   map[string]any{"name": name, "namespace": ns},
		"spec": map[string]any{
			"retentionPolicy": "30d",
			"configuration": map[string]any{
				"destinationPath": "s3://" + testBucket + "/" + ns,
				"endpointURL":     m.Endpoint(),
				"s3Credentials": map[string]any{
					"accessKeyId":     map[string]any{"name": name + "-creds", "key": "ACCESS_KEY_ID"},
					"secretAccessKey": map[string]any{"name": name + "-creds", "key": "ACCESS_SECRET_KEY"},
				},
				"wal": map[string]any{"compression": "gzip"},
			},
		},
	}}
	if _, err := dyn.Resource(storeGVR).Namespace(ns).Create(ctx, store, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// createArchivingCluster creates a one-instance Cluster whose WAL the
// Barman Cloud plugin archives to the ObjectStore store.
func createArchivingCluster(t *testing.T, dyn dynamic.Interface, ns, name, store string) {
	t.Helper()
	u := newCluster(ns, name, 1)
	u.Object["spec"].(map[string]any)["plugins"] = []any{map[string]any{
		"name": barmanPlugin, "isWALArchiver": true, "parameters": map[string]any{"barmanObjectName": store},
	}}
	if _, err := dyn.Resource(clusterGVR).Namespace(ns).Create(context.Background(), u, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create cluster %s/%s: %v", ns, name, err)
	}
}

// createRecoveringCluster creates a Cluster that recovers from the
// backups of server source in store, to target (zero: the end).
func createRecoveringCluster(t *testing.T, dyn dynamic.Interface, ns, name, store, source string, target time.Time) {
	t.Helper()
	u := newCluster(ns, name, 1)
	// Its own WAL goes to the same ObjectStore, under its own name.
	u.Object["spec"].(map[string]any)["plugins"] = []any{map[string]any{
		"name": barmanPlugin, "isWALArchiver": true, "parameters": map[string]any{"barmanObjectName": store, "serverName": name},
	}}
	recovery := map[string]any{"source": "origin"}
	if !target.IsZero() {
		recovery["recoveryTarget"] = map[string]any{"targetTime": target.UTC().Format(time.RFC3339Nano)}
	}
	spec := u.Object["spec"].(map[string]any)
	spec["bootstrap"] = map[string]any{"recovery": recovery}
	spec["externalClusters"] = []any{map[string]any{
		"name":   "origin",
		"plugin": map[string]any{"name": barmanPlugin, "parameters": map[string]any{"barmanObjectName": store, "serverName": source}},
	}}
	if _, err := dyn.Resource(clusterGVR).Namespace(ns).Create(context.Background(), u, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create cluster %s/%s: %v", ns, name, err)
	}
}

var metadataCreate = metav1.CreateOptions{}

// ownDatabaseExists looks db up in a cluster's own server.
func ownDatabaseExists(t *testing.T, oi *ownInstance, db string) bool {
	t.Helper()
	var exists bool
	if err := oi.admin.pool.QueryRow(context.Background(), "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", db).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	return exists
}

// waitFor polls get until ok, for up to timeout.
func waitFor(t *testing.T, what string, timeout time.Duration, get func(ctx context.Context) (*unstructured.Unstructured, error), ok func(*unstructured.Unstructured) bool) *unstructured.Unstructured {
	t.Helper()
	var last *unstructured.Unstructured
	err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		u, err := get(ctx)
		if err != nil {
			return false, nil
		}
		last = u
		return ok(u), nil
	})
	if err != nil {
		status, _, _ := unstructured.NestedMap(lastObject(last), "status")
		t.Fatalf("%s: not within %s; last status: %v", what, timeout, status)
	}
	return last
}

func getter(dyn dynamic.Interface, gvr schema.GroupVersionResource, ns, name string) func(ctx context.Context) (*unstructured.Unstructured, error) {
	return func(ctx context.Context) (*unstructured.Unstructured, error) {
		return dyn.Resource(gvr).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
	}
}

func archivingIs(status string) func(*unstructured.Unstructured) bool {
	return func(u *unstructured.Unstructured) bool {
		c := findCondition(u, condArchiving)
		return c != nil && c["status"] == status
	}
}

func backupPhase(phase string) func(*unstructured.Unstructured) bool {
	return func(u *unstructured.Unstructured) bool {
		p, _, _ := unstructured.NestedString(u.Object, "status", "phase")
		return p == phase || p == backupFailed
	}
}

func newBackup(ns, name, cluster string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "postgresql.cnpg.io/v1",
		"kind":       "Backup",
		"metadata":   map[string]any{"name": name, "namespace": ns},
		"spec": map[string]any{
			"cluster":             map[string]any{"name": cluster},
			"method":              "plugin",
			"pluginConfiguration": map[string]any{"name": barmanPlugin},
		},
	}}
}

// backupAndWait creates a Backup of cluster and waits until it completes.
func backupAndWait(t *testing.T, dyn dynamic.Interface, ns, name, cluster string) *unstructured.Unstructured {
	t.Helper()
	if _, err := dyn.Resource(backupGVR).Namespace(ns).Create(context.Background(), newBackup(ns, name, cluster), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	b := waitFor(t, "backup "+name+" completed", 3*time.Minute, getter(dyn, backupGVR, ns, name), backupPhase(backupCompleted))
	if p, _, _ := unstructured.NestedString(b.Object, "status", "phase"); p != backupCompleted {
		msg, _, _ := unstructured.NestedString(b.Object, "status", "error")
		t.Fatalf("backup %s: phase %s: %s", name, p, msg)
	}
	t.Logf("backup %s completed in %s", name, time.Since(start).Round(time.Millisecond))
	return b
}

// appConn connects with the cluster's app Secret.
func appConn(t *testing.T, cs kubernetes.Interface, ns, cluster string) *pgx.Conn {
	t.Helper()
	s, err := cs.CoreV1().Secrets(ns).Get(context.Background(), cluster+"-app", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(context.Background(), string(s.Data["uri"]))
	if err != nil {
		t.Fatalf("connect with the %s-app secret: %v", cluster, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func execAll(t *testing.T, conn *pgx.Conn, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		if _, err := conn.Exec(context.Background(), s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

func TestArchivingAndBackup(t *testing.T) {
	t.Parallel()
	dyn, cs := clients(t)
	ns := namespace(t, "cp-archive")
	objectStore(t, dyn, cs, ns, "store", "")
	start := time.Now()
	createArchivingCluster(t, dyn, ns, "arch", "store")
	waitFor(t, "cluster arch healthy and archiving", time.Minute, getter(dyn, clusterGVR, ns, "arch"), func(u *unstructured.Unstructured) bool {
		return healthy(u) && archivingIs("True")(u)
	})
	t.Logf("healthy with its own server and a WAL segment archived in %s", time.Since(start).Round(time.Millisecond))

	// The app Secret names the cluster's own server.
	conn := appConn(t, cs, ns, "arch")
	oi := env.op.ownInstanceOf(ns, "arch")
	if oi == nil {
		t.Fatal("cluster arch has no own server")
	}
	if got := int(conn.Config().Port); got != oi.inst.Port() || got == env.op.pg.port {
		t.Errorf("app Secret port %d, want its own server's %d", got, oi.inst.Port())
	}
	execAll(t, conn, "CREATE TABLE t (n int)", "INSERT INTO t VALUES (1)")

	// Every phase the Backup goes through, as a watcher sees them.
	w, err := dyn.Resource(backupGVR).Namespace(ns).Watch(context.Background(), metav1.ListOptions{FieldSelector: "metadata.name=arch-backup"})
	if err != nil {
		t.Fatal(err)
	}
	phases := make(chan []string, 1)
	go func() {
		var seen []string
		for ev := range w.ResultChan() {
			if u, ok := ev.Object.(*unstructured.Unstructured); ok {
				p, _, _ := unstructured.NestedString(u.Object, "status", "phase")
				if p != "" && (len(seen) == 0 || seen[len(seen)-1] != p) {
					seen = append(seen, p)
				}
				if p == backupCompleted || p == backupFailed {
					break
				}
			}
		}
		phases <- seen
	}()
	b := backupAndWait(t, dyn, ns, "arch-backup", "arch")
	select {
	case seen := <-phases:
		if !slices.Equal(seen, []string{backupStarted, backupRunning, backupCompleted}) {
			t.Errorf("backup phases seen = %v, want started, running, completed", seen)
		}
	case <-time.After(10 * time.Second):
		t.Error("the watch never saw the backup complete")
	}
	w.Stop()
	for _, f := range []string{"backupId", "beginWal", "endWal", "beginLSN", "endLSN", "startedAt", "stoppedAt", "serverName", "destinationPath", "method"} {
		if v, _, _ := unstructured.NestedString(b.Object, "status", f); v == "" {
			t.Errorf("backup status has no %s: %v", f, b.Object["status"])
		}
	}
	if v, _, _ := unstructured.NestedString(b.Object, "status", "serverName"); v != "arch" {
		t.Errorf("backup serverName = %q, want the cluster's name", v)
	}
	if v, _, _ := unstructured.NestedString(b.Object, "status", "destinationPath"); v != "s3://backups/"+ns {
		t.Errorf("backup destinationPath = %q", v)
	}
	u := waitFor(t, "cluster arch shows its recovery window", 30*time.Second, getter(dyn, clusterGVR, ns, "arch"), func(u *unstructured.Unstructured) bool {
		v, _, _ := unstructured.NestedString(u.Object, "status", "lastSuccessfulBackup")
		return v != ""
	})
	first, _, _ := unstructured.NestedString(u.Object, "status", "firstRecoverabilityPoint")
	stopped, _, _ := unstructured.NestedString(b.Object, "status", "stoppedAt")
	if first != stopped {
		t.Errorf("firstRecoverabilityPoint = %q, want the backup's end %q", first, stopped)
	}
	store := waitFor(t, "ObjectStore recovery window", 10*time.Second, getter(dyn, storeGVR, ns, "store"), func(u *unstructured.Unstructured) bool {
		_, found, _ := unstructured.NestedMap(u.Object, "status", "serverRecoveryWindow", "arch")
		return found
	})
	t.Logf("ObjectStore status: %v", store.Object["status"])

	// A Backup of a cluster that does not archive fails with the reason.
	createCluster(t, dyn, ns, "plain", 1)
	waitCluster(t, dyn, ns, "plain", "healthy", healthy)
	if _, err := dyn.Resource(backupGVR).Namespace(ns).Create(context.Background(), newBackup(ns, "plain-backup", "plain"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	fb := waitFor(t, "backup of plain failed", 30*time.Second, getter(dyn, backupGVR, ns, "plain-backup"), backupPhase(backupFailed))
	if msg, _, _ := unstructured.NestedString(fb.Object, "status", "error"); !strings.Contains(msg, "no WAL archiver") {
		t.Errorf("backup of a cluster without archiving: error %q", msg)
	}

	// Deleting the cluster stops its server.
	dir := oi.dir
	if err := dyn.Resource(clusterGVR).Namespace(ns).Delete(context.Background(), "arch", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		_, err := os.Stat(dir)
		return os.IsNotExist(err), nil
	}); err != nil {
		t.Errorf("the deleted cluster's server directory %s is still there", dir)
	}
}

func TestArchivingFailureIsReported(t *testing.T) {
	t.Parallel()
	dyn, cs := clients(t)
	ns := namespace(t, "cp-archive-fail")
	const wrong = "not-the-secret-key-0123456789"
	objectStore(t, dyn, cs, ns, "bad-store", wrong)
	createArchivingCluster(t, dyn, ns, "broken", "bad-store")
	u := waitFor(t, "archiving of broken reported failing", time.Minute, getter(dyn, clusterGVR, ns, "broken"), func(u *unstructured.Unstructured) bool {
		return healthy(u) && archivingIs("False")(u)
	})
	c := findCondition(u, condArchiving)
	msg, _ := c["message"].(string)
	t.Logf("ContinuousArchiving: %s: %s", c["reason"], msg)
	if c["reason"] != reasonArchivingFailing || !strings.Contains(msg, "barman-cloud-wal-archive") {
		t.Errorf("ContinuousArchiving condition = %v", c)
	}
	if strings.Contains(msg, wrong) {
		t.Error("the condition shows the secret access key")
	}
}

// TestObjectStoreAfterTheCluster: a Cluster whose ObjectStore does not
// exist yet runs, reports archiving failing, and archives once it exists.
func TestObjectStoreAfterTheCluster(t *testing.T) {
	t.Parallel()
	dyn, cs := clients(t)
	ns := namespace(t, "cp-late-store")
	createArchivingCluster(t, dyn, ns, "early", "late-store")
	u := waitFor(t, "cluster early healthy, archiving failing", time.Minute, getter(dyn, clusterGVR, ns, "early"), func(u *unstructured.Unstructured) bool {
		return healthy(u) && archivingIs("False")(u)
	})
	if msg, _ := findCondition(u, condArchiving)["message"].(string); !strings.Contains(msg, "late-store") {
		t.Errorf("ContinuousArchiving message %q does not name the missing ObjectStore", msg)
	}
	objectStore(t, dyn, cs, ns, "late-store", "")
	waitFor(t, "cluster early archiving", time.Minute, getter(dyn, clusterGVR, ns, "early"), func(u *unstructured.Unstructured) bool {
		return healthy(u) && archivingIs("True")(u)
	})
	// Its app Secret still works after the restart that enabled archiving.
	var one int
	if err := appConn(t, cs, ns, "early").QueryRow(context.Background(), "SELECT 1").Scan(&one); err != nil {
		t.Fatal(err)
	}
}

func TestScheduledBackupImmediate(t *testing.T) {
	t.Parallel()
	dyn, cs := clients(t)
	ns := namespace(t, "cp-scheduled")
	objectStore(t, dyn, cs, ns, "store", "")
	createArchivingCluster(t, dyn, ns, "sched", "store")
	waitFor(t, "cluster sched healthy", time.Minute, getter(dyn, clusterGVR, ns, "sched"), healthy)
	sb := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "postgresql.cnpg.io/v1",
		"kind":       "ScheduledBackup",
		"metadata":   map[string]any{"name": "sched-daily", "namespace": ns},
		"spec": map[string]any{
			"schedule":             "0 0 3 * * *",
			"immediate":            true,
			"backupOwnerReference": "self",
			"method":               "plugin",
			"pluginConfiguration":  map[string]any{"name": barmanPlugin},
			"cluster":              map[string]any{"name": "sched"},
		},
	}}
	created, err := dyn.Resource(scheduleGVR).Namespace(ns).Create(context.Background(), sb, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s := waitFor(t, "scheduledbackup status", 30*time.Second, getter(dyn, scheduleGVR, ns, "sched-daily"), func(u *unstructured.Unstructured) bool {
		return !statusTime(u, "lastScheduleTime").IsZero()
	})
	last, next := statusTime(s, "lastScheduleTime"), statusTime(s, "nextScheduleTime")
	if next.UTC().Hour() != 3 || next.Minute() != 0 || next.Second() != 0 || !next.After(last) {
		t.Errorf("nextScheduleTime = %s, want the next 03:00:00 UTC", next)
	}
	name := "sched-daily-" + last.UTC().Format(compactISO8601)
	b := waitFor(t, "immediate backup "+name, 3*time.Minute, getter(dyn, backupGVR, ns, name), backupPhase(backupCompleted))
	if p, _, _ := unstructured.NestedString(b.Object, "status", "phase"); p != backupCompleted {
		t.Fatalf("immediate backup: %v", b.Object["status"])
	}
	refs := b.GetOwnerReferences()
	if len(refs) != 1 || refs[0].Kind != "ScheduledBackup" || refs[0].UID != created.GetUID() {
		t.Errorf("immediate backup owners = %v", refs)
	}

	// RunScheduledBackup takes another one now.
	other, err := env.op.RunScheduledBackup(context.Background(), ns, "sched-daily")
	if err != nil {
		t.Fatal(err)
	}
	if other == name || !strings.HasPrefix(other, "sched-daily-") {
		t.Errorf("RunScheduledBackup made %q (the immediate one was %q)", other, name)
	}
	waitFor(t, "backup "+other, 3*time.Minute, getter(dyn, backupGVR, ns, other), backupPhase(backupCompleted))
	list, err := barman.ListBackups(context.Background(), *env.op.ownInstanceOf(ns, "sched").dest)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 {
		t.Errorf("barman lists %d backups, want 2", len(list))
	}
}

func TestPointInTimeRecovery(t *testing.T) {
	t.Parallel()
	dyn, cs := clients(t)
	ns := namespace(t, "cp-pitr")
	ctx := context.Background()
	objectStore(t, dyn, cs, ns, "store", "")
	createArchivingCluster(t, dyn, ns, "source", "store")
	waitFor(t, "cluster source healthy", time.Minute, getter(dyn, clusterGVR, ns, "source"), healthy)
	// An extra database (a Database object) goes to its own server too,
	// and comes back in the restore without confusing it.
	extra := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "postgresql.cnpg.io/v1",
		"kind":       "Database",
		"metadata":   map[string]any{"name": "source-extra", "namespace": ns},
		"spec":       map[string]any{"name": "extra", "owner": "app", "cluster": map[string]any{"name": "source"}},
	}}
	if _, err := dyn.Resource(databaseGVR).Namespace(ns).Create(ctx, extra, metadataCreate); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "database extra applied", 30*time.Second, getter(dyn, databaseGVR, ns, "source-extra"), func(u *unstructured.Unstructured) bool {
		applied, _, _ := unstructured.NestedBool(u.Object, "status", "applied")
		return applied
	})
	if oi := env.op.ownInstanceOf(ns, "source"); oi == nil || !ownDatabaseExists(t, oi, PostgresDatabase(ns, "source", "extra")) {
		t.Error("the extra database is not in the cluster's own server")
	}
	src := appConn(t, cs, ns, "source")
	execAll(t, src, "CREATE TABLE t (n int PRIMARY KEY)", "INSERT INTO t VALUES (1)", "INSERT INTO t VALUES (2)")
	b := backupAndWait(t, dyn, ns, "source-1", "source")
	backupEnd := statusTime(b, "stoppedAt")
	execAll(t, src, "INSERT INTO t VALUES (3)")
	time.Sleep(1100 * time.Millisecond)
	target := time.Now()
	time.Sleep(1100 * time.Millisecond)
	execAll(t, src, "INSERT INTO t VALUES (4)")
	if _, err := env.op.ownInstanceOf(ns, "source").inst.SwitchWAL(ctx); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	createRecoveringCluster(t, dyn, ns, "restored", "store", "source", target)
	u := waitFor(t, "cluster restored healthy", 5*time.Minute, getter(dyn, clusterGVR, ns, "restored"), func(u *unstructured.Unstructured) bool {
		reason, _, _ := unstructured.NestedString(u.Object, "status", "phaseReason")
		return healthy(u) || reason != ""
	})
	if !healthy(u) {
		t.Fatalf("recovery failed: %v", u.Object["status"])
	}
	oi := env.op.ownInstanceOf(ns, "restored")
	t.Logf("recovery to %s: healthy %s after the Cluster was created (restore itself %s)",
		target.UTC().Format(time.RFC3339Nano), time.Since(start).Round(time.Millisecond), oi.took.Round(time.Millisecond))

	conn := appConn(t, cs, ns, "restored")
	rows, err := conn.Query(ctx, "SELECT n FROM t ORDER BY n")
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []int{1, 2, 3}) {
		t.Errorf("restored rows %v, want [1 2 3]", got)
	}
	// The app user owns what it restored: it writes.
	execAll(t, conn, "INSERT INTO t VALUES (5)")
	// And the restored cluster archives its own WAL.
	waitFor(t, "cluster restored archiving", time.Minute, getter(dyn, clusterGVR, ns, "restored"), func(u *unstructured.Unstructured) bool {
		return healthy(u) && archivingIs("True")(u)
	})

	// A target before the first backup ended cannot be reached.
	createRecoveringCluster(t, dyn, ns, "too-early", "store", "source", backupEnd.Add(-time.Hour))
	u = waitFor(t, "recovery of too-early fails", 2*time.Minute, getter(dyn, clusterGVR, ns, "too-early"), func(u *unstructured.Unstructured) bool {
		reason, _, _ := unstructured.NestedString(u.Object, "status", "phaseReason")
		return reason != ""
	})
	phase, _, _ := unstructured.NestedString(u.Object, "status", "phase")
	reason, _, _ := unstructured.NestedString(u.Object, "status", "phaseReason")
	t.Logf("too-early: %s: %s", phase, reason)
	if phase != phaseSettingUpPrimary || conditionTrue(u, "Ready") || !strings.Contains(reason, "no completed backup ended by the recovery target") {
		t.Errorf("recovery before the first backup: phase %q, reason %q", phase, reason)
	}
	if ev := clusterEvents(t, cs, ns, "too-early"); !hasEvent(ev, corev1.EventTypeWarning, "SetupFailed", "recovery from a backup failed") {
		t.Errorf("no Warning event for the failed recovery: %v", ev)
	}
}

// TestScheduledBackupFollowsItsSchedule: without immediate, Backups come
// at the times the schedule names (here every two seconds, for a cluster
// that does not archive, so that they fail at once), named after that
// time and owned by the cluster as asked; suspend stops them.
func TestScheduledBackupFollowsItsSchedule(t *testing.T) {
	t.Parallel()
	dyn, _ := clients(t)
	ns := namespace(t, "cp-cron")
	ctx := context.Background()
	cluster := createCluster(t, dyn, ns, "ticking", 1)
	waitCluster(t, dyn, ns, "ticking", "healthy", healthy)
	sb := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "postgresql.cnpg.io/v1",
		"kind":       "ScheduledBackup",
		"metadata":   map[string]any{"name": "ticking-often", "namespace": ns},
		"spec": map[string]any{
			"schedule":             "*/2 * * * * *",
			"backupOwnerReference": "cluster",
			"method":               "plugin",
			"pluginConfiguration":  map[string]any{"name": barmanPlugin},
			"cluster":              map[string]any{"name": "ticking"},
		},
	}}
	if _, err := dyn.Resource(scheduleGVR).Namespace(ns).Create(ctx, sb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	list := func() []unstructured.Unstructured {
		l, err := dyn.Resource(backupGVR).Namespace(ns).List(ctx, metav1.ListOptions{LabelSelector: "cnpg.io/scheduled-backup=ticking-often"})
		if err != nil {
			t.Fatal(err)
		}
		return l.Items
	}
	var got []unstructured.Unstructured
	if err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		got = list()
		return len(got) >= 2, nil
	}); err != nil {
		t.Fatalf("scheduled backups: %d within 30s, want 2", len(got))
	}
	for _, b := range got {
		stamp, ok := strings.CutPrefix(b.GetName(), "ticking-often-")
		when, err := time.Parse(compactISO8601, stamp)
		if !ok || err != nil || when.Second()%2 != 0 {
			t.Errorf("backup %s is not named after an even second", b.GetName())
		}
		if refs := b.GetOwnerReferences(); len(refs) != 1 || refs[0].Kind != "Cluster" || refs[0].UID != cluster.GetUID() {
			t.Errorf("backup %s owners = %v, want the cluster", b.GetName(), refs)
		}
	}
	s, err := dyn.Resource(scheduleGVR).Namespace(ns).Get(ctx, "ticking-often", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if statusTime(s, "lastScheduleTime").IsZero() || !statusTime(s, "nextScheduleTime").After(statusTime(s, "lastScheduleTime")) {
		t.Errorf("scheduledbackup status = %v", s.Object["status"])
	}

	patch := []byte(`{"spec":{"suspend":true}}`)
	if _, err := dyn.Resource(scheduleGVR).Namespace(ns).Patch(ctx, "ticking-often", types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // a backup due as the patch lands may still come
	before := len(list())
	time.Sleep(3 * time.Second)
	if after := len(list()); after != before {
		t.Errorf("suspended: %d backups became %d", before, after)
	}
}

// TestArchiverAddedLaterKeepsTheSharedServer: a Cluster provisioned in the
// shared server that is then given a WAL archiver entry keeps its server
// and data, reports that it does not archive, and fails its Backups.
func TestArchiverAddedLaterKeepsTheSharedServer(t *testing.T) {
	t.Parallel()
	dyn, cs := clients(t)
	ns := namespace(t, "cp-late-archiver")
	ctx := context.Background()
	createCluster(t, dyn, ns, "old", 1)
	waitCluster(t, dyn, ns, "old", "healthy", healthy)
	execAll(t, appConn(t, cs, ns, "old"), "CREATE TABLE kept (n int)")
	patch := []byte(`{"spec":{"plugins":[{"name":"` + barmanPlugin + `","isWALArchiver":true,"parameters":{"barmanObjectName":"store"}}]}}`)
	if _, err := dyn.Resource(clusterGVR).Namespace(ns).Patch(ctx, "old", types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	u := waitFor(t, "cluster old reports it does not archive", 30*time.Second, getter(dyn, clusterGVR, ns, "old"), func(u *unstructured.Unstructured) bool {
		return healthy(u) && archivingIs("False")(u)
	})
	if msg, _ := findCondition(u, condArchiving)["message"].(string); msg != lateArchiverMessage {
		t.Errorf("ContinuousArchiving message = %q", msg)
	}
	if _, err := appConn(t, cs, ns, "old").Exec(ctx, "SELECT count(*) FROM kept"); err != nil {
		t.Errorf("the cluster's data is gone: %v", err)
	}
	if _, err := dyn.Resource(backupGVR).Namespace(ns).Create(ctx, newBackup(ns, "old-backup", "old"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	fb := waitFor(t, "backup of old failed", 30*time.Second, getter(dyn, backupGVR, ns, "old-backup"), backupPhase(backupFailed))
	if msg, _, _ := unstructured.NestedString(fb.Object, "status", "error"); !strings.Contains(msg, "does not archive") {
		t.Errorf("backup error = %q", msg)
	}
}
