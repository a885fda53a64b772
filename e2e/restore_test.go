package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/clustropg/clustro/internal/barman"
	"github.com/clustropg/clustro/request"
	"github.com/clustropg/clustro/store"
)

// backupBucket is the bucket the platform configuration points the
// object store at.
const backupBucket = "clustro-backups"

// newBackupWorld is a world whose object store is a real MinIO, with the
// credentials Secret the platform team creates in each database namespace
// (here: ns).
func newBackupWorld(t *testing.T, ns string) *world {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	m, err := barman.StartMinIO(ctx, "")
	if err != nil {
		t.Fatalf("start MinIO (run `make tools`): %v", err)
	}
	t.Cleanup(func() { m.Stop() })
	if err := m.CreateBucket(ctx, backupBucket); err != nil {
		t.Fatal(err)
	}
	w := newWorldWith(t, worldOptions{readyTimeout: 3 * time.Minute, config: fmt.Sprintf(`
cluster:
  objectStore:
    destinationPath: s3://%s
    endpointURL: %s
`, backupBucket, m.Endpoint())})
	if err := w.cp.EnsureNamespace(ctx, ns); err != nil {
		t.Fatal(err)
	}
	creds := m.Credentials()
	storeCfg := w.cfg.Cluster.ObjectStore
	_, err = coreClient(t, w.cp.RESTConfig()).CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: storeCfg.CredentialsSecret, Namespace: ns},
		Data:       map[string][]byte{storeCfg.AccessKeyIDKey: []byte(creds.AccessKeyID), storeCfg.SecretAccessKeyKey: []byte(creds.SecretAccessKey)},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// connect opens a session on a ready database with its app credentials,
// or as the superuser of its server (the stand-in's servers trust
// loopback connections), to switch WAL files.
func (w *world) connect(ns, cluster string, superuser bool) *pgx.Conn {
	w.t.Helper()
	c, err := w.kube.Connection(w.ctx, ns, cluster)
	if err != nil {
		w.t.Fatal(err)
	}
	dsn := "postgres://" + c.User + ":" + c.Password.Reveal() + "@" + c.SecretHost + ":" + itoa(int64(c.SecretPort)) + "/" + c.Database
	if superuser {
		dsn = "postgres://postgres@" + c.SecretHost + ":" + itoa(int64(c.SecretPort)) + "/postgres"
	}
	conn, err := pgx.Connect(w.ctx, dsn)
	if err != nil {
		w.t.Fatalf("connect to %s/%s: %v", ns, cluster, err)
	}
	w.t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func (w *world) exec(conn *pgx.Conn, sql string, args ...any) {
	w.t.Helper()
	if _, err := conn.Exec(w.ctx, sql, args...); err != nil {
		w.t.Fatalf("%s: %v", sql, err)
	}
}

// TestPointInTimeRestore is the whole recovery story on the real stack:
// a database with hourly backups, rows written, a backup taken on demand,
// more rows, a time T, more rows; a restore to T as a new database goes
// through the pull request like any request, and the new database answers
// with exactly the rows written before T. A restore to a time before any
// backup is refused, naming the window.
func TestPointInTimeRestore(t *testing.T) {
	const ns = "acct-prod"
	w := newBackupWorld(t, ns)
	w.ready(request.Spec{Name: "ledger", Team: "acct", Environment: "prod", Size: request.SizeS,
		Backups: request.Backups{Schedule: request.Hourly}})
	key := store.DatabaseKey{Environment: "prod", Team: "acct", Name: "ledger"}

	app := w.connect(ns, "ledger", false)
	w.exec(app, "CREATE TABLE entries (id int PRIMARY KEY)")
	w.exec(app, "INSERT INTO entries VALUES (1), (2)")
	b, err := w.pipe.TakeBackup(w.ctx, key, request.Requester{ID: "U7", Name: "Ada"}, request.Origin{Kind: request.OriginSlack}, store.Idempotency{Scope: "slack", Key: "trigger-backup"})
	if err != nil {
		t.Fatal(err)
	}
	w.waitFor("the backup to be done", 3*time.Minute, func() bool { return len(w.notices.find(request.NoticeBackupDone)) == 1 })
	if n := w.notices.find(request.NoticeBackupDone)[0]; !strings.Contains(n.Text, b.Name) {
		t.Errorf("backup notice %q does not name %s", n.Text, b.Name)
	}
	again, err := w.pipe.TakeBackup(w.ctx, key, request.Requester{ID: "U7"}, request.Origin{Kind: request.OriginSlack}, store.Idempotency{Scope: "slack", Key: "trigger-backup"})
	if err != nil || again.Name != b.Name {
		t.Errorf("the same key took backup %s (%v), want %s again", again.Name, err, b.Name)
	}

	w.exec(app, "INSERT INTO entries VALUES (3)")
	time.Sleep(1100 * time.Millisecond)
	target := time.Now().UTC().Truncate(time.Second)
	time.Sleep(1100 * time.Millisecond)
	w.exec(app, "INSERT INTO entries VALUES (4)")
	w.exec(w.connect(ns, "ledger", true), "SELECT pg_switch_wal()")

	set, err := w.pipe.Backups(w.ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Base) == 0 || set.Base[0].Name != b.Name || set.Base[0].Phase != "completed" || set.Window.First.IsZero() || !set.Window.Archiving {
		t.Fatalf("backups = %+v", set)
	}

	// Before the first backup: refused, with the window.
	early := set.Window.First.Add(-time.Hour)
	_, _, err = w.pipe.Submit(w.ctx, request.DatabaseRequest{
		Spec:      request.Spec{Name: "ledger-early", Team: "acct", Environment: "prod", Size: request.SizeS, Backups: request.Backups{Schedule: request.Hourly}, Restore: &request.Restore{Source: "ledger", TargetTime: &early}},
		Requester: request.Requester{ID: "U7"}, Origin: request.Origin{Kind: request.OriginAPI, APIClient: "backstage"},
	}, store.Idempotency{})
	if err == nil || !strings.Contains(err.Error(), "restore.targetTime") || !strings.Contains(err.Error(), "outside the recovery window") {
		t.Fatalf("a restore before the first backup: %v, want refused naming the window", err)
	}

	start := time.Now()
	restored := w.ready(request.Spec{Name: "ledger-t", Team: "acct", Environment: "prod", Size: request.SizeS,
		Backups: request.Backups{Schedule: request.Hourly}, Restore: &request.Restore{Source: "ledger", TargetTime: &target}})
	took := time.Since(start)
	if r := restored.Request.Spec.Restore; r == nil || r.Source != "ledger" || !r.TargetTime.Equal(target) {
		t.Fatalf("the ready request's restore = %+v", r)
	}
	rows, err := w.connect(ns, "ledger-t", false).Query(w.ctx, "SELECT id FROM entries ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids, []int32{1, 2, 3}) {
		t.Fatalf("the restored database holds %v, want exactly the rows written before %s: [1 2 3]", ids, target.Format(time.RFC3339))
	}
	// The source is untouched.
	var n int
	if err := app.QueryRow(w.ctx, "SELECT count(*) FROM entries").Scan(&n); err != nil || n != 4 {
		t.Errorf("the source has %d rows (%v) after the restore, want its 4", n, err)
	}
	t.Logf("restore to %s: request to ready in %s (PR, plan, merge, apply, barman restore, promote)", target.Format(time.RFC3339), took.Round(time.Second))
}
