package main

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/clustropg/clustro/internal/barman"
	"github.com/clustropg/clustro/internal/pgtest"
	"github.com/clustropg/clustro/kube"
)

// --restore: the platform's object store is a local MinIO, and a second
// act backs ledger up and restores it to a point in time as a new database.

// The object store of --restore, as the platform team configures it.
const (
	demoBucket             = "clustro-backups"
	demoBackupSecret       = "clustro-backup-credentials"
	demoAccessKeyIDKey     = "ACCESS_KEY_ID"
	demoSecretAccessKeyKey = "ACCESS_SECRET_KEY"
	// demoRestoreName is the database the second act restores ledger into.
	demoRestoreName = demoName + "-t"
	// demoBackupTimeout bounds the wait for the on-demand backup's notice:
	// it waits for the scheduled one the Cluster starts with, slow on a
	// loaded machine.
	demoBackupTimeout = 6 * time.Minute
)

// startObjectStore starts MinIO with a bucket and puts its credentials in
// the Secret the module's ObjectStores name, in the demo database's
// namespace: the platform team's part, done before any request.
func (d *demo) startObjectStore(ctx context.Context) error {
	d.step = "starting MinIO"
	t := time.Now()
	m, err := barman.StartMinIO(ctx, filepath.Join(d.dir, "minio"))
	if err != nil {
		return fmt.Errorf("--restore: %w", err)
	}
	d.minio = m
	d.onStop("MinIO", func() {
		if err := m.Stop(); err != nil {
			fmt.Fprintf(d.e.stderr, "clustro-demo: %v\n", err)
		}
	})
	if err := m.CreateBucket(ctx, demoBucket); err != nil {
		return fmt.Errorf("--restore: %w", err)
	}
	d.step = "creating the object store's credentials Secret"
	if err := d.cp.EnsureNamespace(ctx, demoNamespace); err != nil {
		return fmt.Errorf("--restore: %w", err)
	}
	cs, err := kubernetes.NewForConfig(d.cp.RESTConfig())
	if err != nil {
		return fmt.Errorf("--restore: kubernetes client: %w", err)
	}
	creds := m.Credentials()
	_, err = cs.CoreV1().Secrets(demoNamespace).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: demoBackupSecret, Namespace: demoNamespace},
		Data: map[string][]byte{demoAccessKeyIDKey: []byte(creds.AccessKeyID),
			demoSecretAccessKeyKey: []byte(creds.SecretAccessKey)},
	}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("--restore: create Secret %s/%s: %w", demoNamespace, demoBackupSecret, err)
	}
	fmt.Fprintf(d.out, "  MinIO ready in %s at %s, bucket %s; the platform's object store (in %s) points there,\n"+
		"  and its credentials are in Secret %s/%s, made as the platform team would\n",
		since(t), m.Endpoint(), demoBucket, filepath.Join(d.shown, "clustro.yaml"), demoNamespace, demoBackupSecret)
	return nil
}

// restoreActs are the second act: rows, a backup, a point in time, a
// restore to it, and psql on the restored database.
func (d *demo) restoreActs() []func(context.Context) error {
	return []func(context.Context) error{d.backupLedger, d.markPoint, d.restoreLedger, d.psqlRestored}
}

// ledgerURI is the DM's URI of ledger routed to its server, set by
// backupLedger.
func (d *demo) ledgerURI(ctx context.Context) (string, error) {
	if d.ledger != "" {
		return d.ledger, nil
	}
	uri, _, err := d.routedToSecret(ctx, d.uri, demoName)
	if err != nil {
		return "", err
	}
	d.ledger = uri
	return uri, nil
}

// backupLedger writes the first rows into ledger and takes a base backup
// with /pg backup, waiting for its "done" notice in the thread.
func (d *demo) backupLedger(ctx context.Context) error {
	fmt.Fprintf(d.out, "\nAct two: a point-in-time restore. ledger has hourly backups to MinIO; its WAL is archived there as it is written.\n")
	d.step = "writing rows into ledger"
	if _, err := d.ledgerURI(ctx); err != nil {
		return err
	}
	fmt.Fprintf(d.out, "# $LEDGER is the URI of the DM above, with its hostaddr and port.\n")
	if err := d.psqlLedger(ctx, "CREATE TABLE entries (id int PRIMARY KEY, note text NOT NULL, at timestamptz NOT NULL DEFAULT now())"); err != nil {
		return err
	}
	if err := d.psqlLedger(ctx, "INSERT INTO entries (id, note) VALUES (1, 'opening balance'), (2, 'invoice 1001')"); err != nil {
		return err
	}

	d.step = "taking a backup with /pg backup"
	seen := len(d.slack.Messages(demoChannel))
	if err := d.slashCommand(ctx, "/pg", "backup "+demoName); err != nil {
		return err
	}
	d.step = "waiting for the backup to be done"
	return d.waitFor(ctx, "notice that the backup is done", demoBackupTimeout, func() (bool, error) {
		msgs := d.slack.Messages(demoChannel)
		for _, m := range msgs[min(seen, len(msgs)):] {
			if m.ThreadTS != d.thread || !strings.Contains(m.Text, "Backup ") {
				continue
			}
			switch {
			case strings.Contains(m.Text, " is done "):
				return true, nil
			case strings.Contains(m.Text, " failed"):
				return false, fmt.Errorf("the backup failed: %s", plainSlack(m.Text, d.names))
			}
		}
		return false, nil
	})
}

// markPoint writes a row, notes T, writes another row (the one the
// restore leaves out) and switches the WAL so that T is archived.
func (d *demo) markPoint(ctx context.Context) error {
	d.step = "writing rows around T"
	if err := d.psqlLedger(ctx, "INSERT INTO entries (id, note) VALUES (3, 'invoice 1002')"); err != nil {
		return err
	}
	// Whole seconds: T is written to the second, and no row shares it.
	time.Sleep(1100 * time.Millisecond)
	d.point = time.Now().UTC().Truncate(time.Second)
	fmt.Fprintf(d.out, "T = %s  (rows 1 to 3 are before T; what follows is the mistake to undo)\n", d.point.Format(time.RFC3339))
	time.Sleep(1100 * time.Millisecond)
	if err := d.psqlLedger(ctx, "DELETE FROM entries WHERE id = 2"); err != nil {
		return err
	}
	if err := d.psqlLedger(ctx, "INSERT INTO entries (id, note) VALUES (4, 'written after T')"); err != nil {
		return err
	}

	d.step = "switching the WAL"
	_, server, err := d.routedToSecret(ctx, d.uri, demoName)
	if err != nil {
		return err
	}
	su := (&url.URL{Scheme: "postgresql", User: url.User("postgres"), Host: server, Path: "/postgres"}).String()
	fmt.Fprintf(d.out, "# A WAL file reaches the archive once it is full; switching it now archives T's at once\n")
	fmt.Fprintf(d.out, "# (as the server's superuser: the stand-in's servers trust loopback connections).\n")
	return d.runPsql(ctx, su, su, "SELECT pg_switch_wal()")
}

// restoreLedger shows ledger's backups, asks for the restore to T with
// /pg restore, and follows it through its pull request to ready.
func (d *demo) restoreLedger(ctx context.Context) error {
	d.step = "showing the backups with /pg backups"
	if err := d.slashCommand(ctx, "/pg", "backups "+demoName); err != nil {
		return err
	}
	d.step = "asking for the restore with /pg restore"
	d.uri, d.ready = "", false
	began := time.Now()
	if err := d.slashCommand(ctx, "/pg", fmt.Sprintf("restore %s --at %s --as %s", demoName, d.point.Format(time.RFC3339), demoRestoreName)); err != nil {
		return err
	}
	if err := d.followRequest(ctx, demoRestoreName); err != nil {
		return err
	}
	d.restoreTook = time.Since(began)
	fmt.Fprintf(d.out, "Restore: from /pg restore to a ready %s in %s (pull request, plan, merge, apply, barman-cloud-restore, promotion).\n",
		demoRestoreName, d.restoreTook.Round(100*time.Millisecond))
	return nil
}

// psqlRestored connects to the restored database with the URI of its DM
// and shows that it holds exactly the rows written before T.
func (d *demo) psqlRestored(ctx context.Context) error {
	d.step = "connecting to " + demoRestoreName + " with psql"
	uri, _, err := d.routedToSecret(ctx, d.uri, demoRestoreName)
	if err != nil {
		return err
	}
	const q = "SELECT id, note FROM entries ORDER BY id"
	fmt.Fprintf(d.out, "\n# %s, as ledger was at T: rows 1 to 3, without what came after.\n", demoRestoreName)
	out, err := d.psqlOutput(ctx, uri, uri, q)
	if err != nil {
		return err
	}
	if !strings.Contains(out, "(3 rows)") || !strings.Contains(out, "invoice 1001") || strings.Contains(out, "written after T") {
		return fmt.Errorf("%s does not hold exactly the rows written before %s", demoRestoreName, d.point.Format(time.RFC3339))
	}
	fmt.Fprintf(d.out, "# and ledger itself is untouched:\n")
	return d.psqlLedger(ctx, q)
}

// psqlLedger runs one statement on ledger with psql, as its app user.
func (d *demo) psqlLedger(ctx context.Context, sql string) error {
	uri, err := d.ledgerURI(ctx)
	if err != nil {
		return err
	}
	return d.runPsql(ctx, "$LEDGER", uri, sql)
}

// runPsql runs psql on uri, printing the command (with shown for the URI)
// and its output.
func (d *demo) runPsql(ctx context.Context, shown, uri, sql string) error {
	_, err := d.psqlOutput(ctx, shown, uri, sql)
	return err
}

// psqlOutput is runPsql, returning the output too.
func (d *demo) psqlOutput(ctx context.Context, shown, uri, sql string) (string, error) {
	bin, err := psqlBinary()
	if err != nil {
		return "", err
	}
	fmt.Fprintf(d.out, "$ psql \"%s\" -c \"%s\"\n", shown, sql)
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, uri, "-c", sql)
	cmd.Env = append(os.Environ(), "PGCONNECT_TIMEOUT=10")
	out, err := cmd.CombinedOutput()
	d.out.Write(out)
	if err != nil {
		return string(out), fmt.Errorf("psql: %w", err)
	}
	return string(out), nil
}

// psqlBinary finds psql: on PATH, else next to the PostgreSQL server.
func psqlBinary() (string, error) {
	bin, err := exec.LookPath("psql")
	if err == nil {
		return bin, nil
	}
	alt := filepath.Join(pgtest.BinDir, "psql")
	if _, serr := os.Stat(alt); serr != nil {
		return "", fmt.Errorf("psql is not on PATH (%v): install postgresql-client, or run `make tools`", err)
	}
	return alt, nil
}

// routedToSecret adds hostaddr and port to a DM's URI from the app Secret
// of the named Cluster (a Cluster with the Barman Cloud plugin has its own
// server); it returns the URI and the server's host:port.
func (d *demo) routedToSecret(ctx context.Context, uri, cluster string) (string, string, error) {
	u, err := url.Parse(uri)
	if err != nil {
		return "", "", fmt.Errorf("the URI of the direct message: %w", err)
	}
	kc, err := kube.New(d.cp.RESTConfig())
	if err != nil {
		return "", "", err
	}
	c, err := kc.Connection(ctx, demoNamespace, cluster)
	if err != nil {
		return "", "", fmt.Errorf("where %s's server listens: %w", cluster, err)
	}
	host := c.SecretHost
	if host == "" || host == "localhost" {
		host = "127.0.0.1"
	}
	q := u.Query()
	q.Set("hostaddr", host)
	q.Set("port", strconv.Itoa(c.SecretPort))
	u.RawQuery = q.Encode()
	return u.String(), host + ":" + strconv.Itoa(c.SecretPort), nil
}

// slashCommand types a slash command in #platform as the demo's user,
// through serve's signed endpoint, and prints the replies only the user
// sees.
func (d *demo) slashCommand(ctx context.Context, command, text string) error {
	d.flushSlack()
	fmt.Fprintf(d.out, "#%s  %s: %s %s\n", demoChannelName, demoUserName, command, text)
	var buf bytes.Buffer
	if err := slash(ctx, &buf, d.state, command, text); err != nil {
		return fmt.Errorf("%s %s: %w", command, text, err)
	}
	prefix := fmt.Sprintf("  clustro (only @%s sees this): ", demoUserName)
	fmt.Fprintln(d.out, prefix+indent(strings.TrimSpace(buf.String()), strings.Repeat(" ", len(prefix))))
	d.flushSlack()
	return nil
}
