package barman

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestBackupAndPointInTimeRestore runs the real tools end to end: MinIO,
// a server archiving its WAL with barman-cloud-wal-archive, a base backup,
// and restores to a point in time and to the end of the archive.
func TestBackupAndPointInTimeRestore(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	// Missing tools fail the test with the command that installs them.
	for _, name := range []string{"barman-cloud-backup", "barman-cloud-backup-list", "barman-cloud-restore", "barman-cloud-wal-archive", "barman-cloud-wal-restore"} {
		if _, err := tool(name); err != nil {
			t.Fatal(err)
		}
	}

	start := time.Now()
	m, err := StartMinIO(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Stop(); err != nil {
			t.Error(err)
		}
	})
	t.Logf("minio live at %s in %v", m.Endpoint(), time.Since(start).Round(time.Millisecond))
	if err := m.CreateBucket(ctx, "backups"); err != nil {
		t.Fatal(err)
	}
	if err := m.CreateBucket(ctx, "backups"); err != nil {
		t.Fatalf("creating an existing bucket again: %v", err)
	}
	dest := m.Destination("backups", "clusters/one", "main")

	primary, err := StartInstance(ctx, "", &dest)
	if err != nil {
		t.Fatal(err)
	}
	stopAtEnd(t, primary)
	execSQL(ctx, t, primary, "CREATE TABLE t (n int PRIMARY KEY)", "INSERT INTO t VALUES (1)", "INSERT INTO t VALUES (2)")

	start = time.Now()
	info, err := Backup(ctx, primary, dest)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("backup %s in %v: WAL %s..%s, %s..%s, %d bytes", info.ID, time.Since(start).Round(time.Millisecond),
		info.BeginWAL, info.EndWAL, info.BeginTime.Format(time.RFC3339), info.EndTime.Format(time.RFC3339), info.Size)
	if info.ID == "" || info.BeginWAL == "" || info.EndWAL == "" || info.BeginTime.IsZero() || info.EndTime.Before(info.BeginTime) {
		t.Errorf("backup info incomplete: %+v", info)
	}

	// While MinIO and an archiving server run, no command line shows the secret.
	assertSecretNotInCommandLines(t, m.Credentials().SecretAccessKey)

	execSQL(ctx, t, primary, "INSERT INTO t VALUES (3)")
	time.Sleep(1100 * time.Millisecond)
	target := time.Now()
	time.Sleep(1100 * time.Millisecond)
	execSQL(ctx, t, primary, "INSERT INTO t VALUES (4)")
	seg, err := primary.SwitchWAL(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("archived up to %s", seg)

	list, err := ListBackups(ctx, dest)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].ID != info.ID {
		t.Errorf("ListBackups = %+v, want just %s", list, info.ID)
	}

	start = time.Now()
	pitr, err := Restore(ctx, dest, info.ID, target, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("restore to %s took %v", target.UTC().Format(time.RFC3339Nano), time.Since(start).Round(time.Millisecond))
	stopAtEnd(t, pitr)
	if got := rows(ctx, t, pitr); !slices.Equal(got, []int{1, 2, 3}) {
		t.Errorf("restored to the target: rows %v, want [1 2 3]\n%s", got, pitr.LogTail(20))
	}
	// The restored server is a primary: it takes writes.
	execSQL(ctx, t, pitr, "INSERT INTO t VALUES (5)")

	start = time.Now()
	latest, err := Restore(ctx, dest, "", time.Time{}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("restore to the end of the archive took %v", time.Since(start).Round(time.Millisecond))
	stopAtEnd(t, latest)
	if got := rows(ctx, t, latest); !slices.Equal(got, []int{1, 2, 3, 4}) {
		t.Errorf("restored to the end: rows %v, want [1 2 3 4]\n%s", got, latest.LogTail(20))
	}

	early := info.BeginTime.Add(-time.Minute)
	if inst, err := Restore(ctx, dest, info.ID, early, ""); err == nil {
		inst.Stop()
		t.Error("restore to a time before the backup ended succeeded")
	} else if !strings.Contains(err.Error(), "before the end of backup "+info.ID) {
		t.Errorf("restore to a time before the backup ended: unclear error: %v", err)
	} else {
		t.Logf("restore before the backup: %v", err)
	}
	// A target no commit in the archive comes after: PostgreSQL refuses to
	// end recovery, and the error carries its log.
	if inst, err := Restore(ctx, dest, info.ID, time.Now().Add(time.Hour), ""); err == nil {
		inst.Stop()
		t.Error("restore to a time after the last archived commit succeeded")
	} else if !strings.Contains(err.Error(), "recovery ended before configured recovery target was reached") {
		t.Errorf("restore past the archive: unclear error: %v", err)
	} else if strings.Contains(err.Error(), m.Credentials().SecretAccessKey) {
		t.Errorf("restore past the archive: the error shows the S3 secret")
	} else {
		t.Logf("restore past the archive: %v", err)
	}
	if _, err := Restore(ctx, dest, "", early, ""); err == nil || !strings.Contains(err.Error(), "no completed backup ended by") {
		t.Errorf("restore with no backup before the target: err = %v", err)
	}
}

// assertSecretNotInCommandLines looks through every process's command
// line, as ps shows them.
func assertSecretNotInCommandLines(t *testing.T, secret string) {
	t.Helper()
	cmdlines, err := filepath.Glob("/proc/[0-9]*/cmdline")
	if err != nil || len(cmdlines) == 0 {
		t.Fatalf("list /proc/*/cmdline: %v (%d found)", err, len(cmdlines))
	}
	for _, p := range cmdlines {
		b, err := os.ReadFile(p)
		if err == nil && strings.Contains(string(b), secret) {
			t.Errorf("the S3 secret is on the command line of %s", p)
		}
	}
}

func stopAtEnd(t *testing.T, inst *Instance) {
	t.Cleanup(func() {
		if err := inst.Stop(); err != nil {
			t.Error(err)
		}
	})
}

func execSQL(ctx context.Context, t *testing.T, inst *Instance, stmts ...string) {
	t.Helper()
	db, err := sql.Open("pgx", inst.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, s := range stmts {
		if _, err := db.ExecContext(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

func rows(ctx context.Context, t *testing.T, inst *Instance) []int {
	t.Helper()
	db, err := sql.Open("pgx", inst.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	r, err := db.QueryContext(ctx, "SELECT n FROM t ORDER BY n")
	if err != nil {
		t.Fatalf("read rows: %v", err)
	}
	defer r.Close()
	var got []int
	for r.Next() {
		var n int
		if err := r.Scan(&n); err != nil {
			t.Fatal(err)
		}
		got = append(got, n)
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	return got
}

func TestCredentialsAreNotPrinted(t *testing.T) {
	c := Credentials{AccessKeyID: "AKID", SecretAccessKey: "s3cr3t-value"}
	d := Destination{Endpoint: "http://127.0.0.1:9000", Bucket: "b", Path: "p", ServerName: "s", Credentials: c}
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), fmt.Sprint(d), fmt.Sprintf("%v", d), c.redact("x s3cr3t-value y")} {
		if strings.Contains(s, "s3cr3t") {
			t.Errorf("secret printed: %s", s)
		}
	}
}

func TestParseBackupList(t *testing.T) {
	out := `{"backups_list": [{"backup_id": "20260216T172802", "status": "DONE", "timeline": 1, "begin_wal": "000000010000000000000003",
	"end_wal": "000000010000000000000003", "begin_xlog": "0/3000028", "end_xlog": "0/3000100", "begin_time": "Mon Feb 16 17:28:01 2026",
	"end_time": "Mon Feb 16 17:28:02 2026", "size": 4096, "backup_name": null},
	{"backup_id": "20260101T010101", "status": "FAILED", "begin_time": "Thu Jan  1 01:01:01 2026", "end_time": null, "size": null}]}`
	list, err := parseBackupList([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].ID != "20260101T010101" || list[1].Size != 4096 ||
		!list[1].EndTime.Equal(time.Date(2026, 2, 16, 17, 28, 2, 0, time.UTC)) ||
		!list[0].BeginTime.Equal(time.Date(2026, 1, 1, 1, 1, 1, 0, time.UTC)) {
		t.Errorf("parsed %+v", list)
	}
	target := time.Date(2026, 2, 16, 18, 0, 0, 0, time.UTC)
	if b, err := pickBackup(list, "", target); err != nil || b.ID != "20260216T172802" {
		t.Errorf("pickBackup latest before %v = %v, %v", target, b.ID, err)
	}
	if _, err := pickBackup(list, "20260101T010101", time.Time{}); err == nil {
		t.Error("pickBackup accepted a FAILED backup")
	}
}
