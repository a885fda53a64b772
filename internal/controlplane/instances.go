package controlplane

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"

	"github.com/clustropg/clustro/internal/barman"
)

// barmanPlugin is the name of the Barman Cloud plugin in spec.plugins and
// externalClusters[].plugin.
const barmanPlugin = "barman-cloud.cloudnative-pg.io"

// ownStartTimeout bounds the start of a Cluster's own server, a restore
// included.
const ownStartTimeout = 10 * time.Minute

// lateArchiverMessage is the ContinuousArchiving message of a Cluster
// given a WAL archiver entry after it was provisioned in the shared server.
const lateArchiverMessage = "the operator stand-in provisioned this cluster in its shared PostgreSQL server before it had a WAL archiver plugin entry, and keeps it there with its data: it does not archive (recreate the Cluster to get a server that does)"

// ownInstance is a Cluster's own PostgreSQL server: the stand-in gives one
// to the Clusters that archive their WAL or recover from a backup.
type ownInstance struct {
	uid    types.UID
	dir    string
	cancel context.CancelFunc // ends its start

	// archiver: the Cluster has a WAL archiver plugin entry. dest is where
	// its WAL goes (nil when it does not archive), or destErr says why not.
	archiver   bool
	dest       *barman.Destination
	objectName string // the ObjectStore named by the plugin entry
	serverName string // the plugin entry's serverName, or the Cluster's name
	destErr    string
	recovery   bool                // bootstrapped from a backup
	source     *barman.Destination // what it recovered from

	// Set by the goroutine that starts it, under Operator.mu.
	started   bool // the start ended, well or not
	err       error
	inst      *barman.Instance
	admin     *pgAdmin
	took      time.Duration // how long the start (or restore) took
	abandoned bool          // the Cluster went away: stop it once started
	window    recoveryWindow

	// Touched by the worker only.
	switched bool // pg_switch_wal was run after provisioning

	backupMu sync.Mutex // one barman-cloud-backup at a time
}

// recoveryWindow is what the backups of a server allow restoring to.
type recoveryWindow struct {
	first, last time.Time // end of the oldest and of the newest completed backup
}

// stop stops the server, if it was started, and removes its directory.
func (oi *ownInstance) stop() error {
	var errs []error
	if oi.admin != nil {
		oi.admin.close()
	}
	if oi.inst != nil {
		errs = append(errs, oi.inst.Stop())
	}
	if err := os.RemoveAll(oi.dir); err != nil {
		errs = append(errs, fmt.Errorf("remove %s: %w", oi.dir, err))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("stop its own server: %w", err)
	}
	return nil
}

// archiverEntry is the Cluster's spec.plugins entry of the Barman Cloud
// plugin marked isWALArchiver: its ObjectStore and server name (the
// serverName parameter, by default the Cluster's name).
func archiverEntry(cluster *unstructured.Unstructured) (objectName, serverName string, ok bool) {
	plugins, _, _ := unstructured.NestedSlice(cluster.Object, "spec", "plugins")
	for _, p := range plugins {
		m, _ := p.(map[string]any)
		if m == nil || m["name"] != barmanPlugin || m["isWALArchiver"] != true || m["enabled"] == false {
			continue
		}
		objectName, _, _ = unstructured.NestedString(m, "parameters", "barmanObjectName")
		serverName, _, _ = unstructured.NestedString(m, "parameters", "serverName")
		if serverName == "" {
			serverName = cluster.GetName()
		}
		return objectName, serverName, true
	}
	return "", "", false
}

// recoverySource is the bootstrap.recovery.source of a Cluster, "" when it
// does not recover.
func recoverySource(cluster *unstructured.Unstructured) (string, bool) {
	recovery, found, _ := unstructured.NestedMap(cluster.Object, "spec", "bootstrap", "recovery")
	if !found || recovery == nil {
		return "", false
	}
	source, _, _ := unstructured.NestedString(recovery, "source")
	return source, true
}

// wantsOwnInstance reports whether the Cluster gets its own server: it
// archives its WAL or recovers from a backup.
func wantsOwnInstance(cluster *unstructured.Unstructured) bool {
	_, _, archiver := archiverEntry(cluster)
	_, recovery := recoverySource(cluster)
	return archiver || recovery
}

// destination reads the ObjectStore namespace/name and the Secret its
// credentials are in, for the barman server serverName.
func (o *Operator) destination(ctx context.Context, namespace, name, serverName string) (barman.Destination, error) {
	if name == "" {
		return barman.Destination{}, errors.New("the plugin entry has no barmanObjectName parameter")
	}
	store, err := o.dyn.Resource(storeGVR).Namespace(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return barman.Destination{}, fmt.Errorf("read ObjectStore %s/%s: %w", namespace, name, err)
	}
	cfg, _, _ := unstructured.NestedMap(store.Object, "spec", "configuration")
	path, _, _ := unstructured.NestedString(cfg, "destinationPath")
	endpoint, _, _ := unstructured.NestedString(cfg, "endpointURL")
	u, err := url.Parse(path)
	if err != nil || u.Scheme != "s3" || u.Host == "" {
		return barman.Destination{}, fmt.Errorf("ObjectStore %s/%s: destinationPath %q is not s3://bucket/path", namespace, name, path)
	}
	if endpoint == "" {
		return barman.Destination{}, fmt.Errorf("ObjectStore %s/%s has no endpointURL (the stand-in reaches only a local S3 server)", namespace, name)
	}
	d := barman.Destination{Endpoint: endpoint, Bucket: u.Host, Path: strings.Trim(u.Path, "/"), ServerName: serverName}
	for _, f := range []struct {
		field string
		into  *string
	}{{"accessKeyId", &d.Credentials.AccessKeyID}, {"secretAccessKey", &d.Credentials.SecretAccessKey}} {
		secret, _, _ := unstructured.NestedString(cfg, "s3Credentials", f.field, "name")
		key, _, _ := unstructured.NestedString(cfg, "s3Credentials", f.field, "key")
		if secret == "" || key == "" {
			return barman.Destination{}, fmt.Errorf("ObjectStore %s/%s: s3Credentials.%s needs a Secret name and key", namespace, name, f.field)
		}
		s, err := o.core.CoreV1().Secrets(namespace).Get(ctx, secret, metav1.GetOptions{})
		if err != nil {
			return barman.Destination{}, fmt.Errorf("ObjectStore %s/%s: read Secret %s/%s: %w", namespace, name, namespace, secret, err)
		}
		v, ok := s.Data[key]
		if !ok || len(v) == 0 {
			return barman.Destination{}, fmt.Errorf("ObjectStore %s/%s: Secret %s/%s has no key %q", namespace, name, namespace, secret, key)
		}
		*f.into = string(v)
	}
	return d, nil
}

// recoveryPlan is what a Cluster recovering from a backup restores.
type recoveryPlan struct {
	source   barman.Destination
	target   time.Time // zero: the end of the WAL archive
	backupID string    // "" picks the newest backup ended by target
}

// planRecovery reads bootstrap.recovery: its source must be an
// externalClusters entry with the Barman Cloud plugin.
func (o *Operator) planRecovery(ctx context.Context, cluster *unstructured.Unstructured) (recoveryPlan, error) {
	source, _ := recoverySource(cluster)
	if source == "" {
		return recoveryPlan{}, errors.New("bootstrap.recovery has no source (recovery from volume snapshots or a Backup object is not played by the stand-in)")
	}
	externals, _, _ := unstructured.NestedSlice(cluster.Object, "spec", "externalClusters")
	var entry map[string]any
	for _, e := range externals {
		if m, _ := e.(map[string]any); m != nil && m["name"] == source {
			entry = m
		}
	}
	if entry == nil {
		return recoveryPlan{}, fmt.Errorf("bootstrap.recovery.source %q names no externalClusters entry", source)
	}
	plugin, _, _ := unstructured.NestedString(entry, "plugin", "name")
	if plugin != barmanPlugin {
		return recoveryPlan{}, fmt.Errorf("external cluster %q has no %s plugin (the stand-in recovers only from it)", source, barmanPlugin)
	}
	objectName, _, _ := unstructured.NestedString(entry, "plugin", "parameters", "barmanObjectName")
	serverName, _, _ := unstructured.NestedString(entry, "plugin", "parameters", "serverName")
	if serverName == "" {
		serverName = source
	}
	dest, err := o.destination(ctx, cluster.GetNamespace(), objectName, serverName)
	if err != nil {
		return recoveryPlan{}, fmt.Errorf("external cluster %q: %w", source, err)
	}
	plan := recoveryPlan{source: dest}
	plan.backupID, _, _ = unstructured.NestedString(cluster.Object, "spec", "bootstrap", "recovery", "recoveryTarget", "backupID")
	if t, _, _ := unstructured.NestedString(cluster.Object, "spec", "bootstrap", "recovery", "recoveryTarget", "targetTime"); t != "" {
		if plan.target, err = parseTargetTime(t); err != nil {
			return recoveryPlan{}, err
		}
	}
	return plan, nil
}

// parseTargetTime reads recoveryTarget.targetTime in the forms
// CloudNativePG accepts: RFC 3339, and PostgreSQL's timestamp with a zone
// (a time without a zone is UTC).
func parseTargetTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999Z07", "2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("recoveryTarget.targetTime %q is not a time (RFC 3339 or YYYY-MM-DD HH:MM:SS[.ffffff][+ZZ])", s)
}

// ensureOwnInstance returns the Cluster's own server, starting it (in the
// background: the worker is queued again when the start ends) the first
// time. A Cluster recreated under the same name gets a new one.
func (o *Operator) ensureOwnInstance(ctx context.Context, it item, cluster *unstructured.Unstructured) *ownInstance {
	o.mu.Lock()
	oi := o.own[it.key()]
	o.mu.Unlock()
	if oi != nil && oi.uid == cluster.GetUID() {
		return oi
	}
	if oi != nil {
		o.dropOwnInstance(it.key())
	}
	uid := string(cluster.GetUID())
	oi = &ownInstance{uid: cluster.GetUID(), dir: filepath.Join(o.workDir, it.namespace+"_"+it.name+"_"+uid[:min(8, len(uid))])}
	oi.objectName, oi.serverName, oi.archiver = archiverEntry(cluster)
	_, oi.recovery = recoverySource(cluster)
	var plan recoveryPlan
	var planErr error
	if oi.recovery {
		plan, planErr = o.planRecovery(ctx, cluster)
		oi.source = &plan.source
	}
	if oi.archiver {
		if oi.recovery {
			// barman.Restore makes a server that does not archive: it
			// starts archiving once promoted (ownStatus).
			oi.destErr = "WAL archiving starts once the recovery ends"
		} else if d, err := o.destination(ctx, it.namespace, oi.objectName, oi.serverName); err != nil {
			// Tried again until it works (ownStatus).
			oi.destErr = err.Error()
			o.logf("operator: cluster %s: WAL not archived: %s", it.key(), oi.destErr)
		} else {
			oi.dest = &d
		}
	}
	startCtx, cancel := context.WithTimeout(o.runCtx, ownStartTimeout)
	oi.cancel = cancel
	o.mu.Lock()
	o.own[it.key()] = oi
	o.mu.Unlock()
	o.jobs.Add(1)
	go func() {
		defer o.jobs.Done()
		defer cancel()
		o.startOwnInstance(startCtx, it, cluster, oi, plan, planErr)
	}()
	return oi
}

// startOwnInstance starts (or restores) the server of oi and records the
// outcome, then queues the Cluster.
func (o *Operator) startOwnInstance(ctx context.Context, it item, cluster *unstructured.Unstructured, oi *ownInstance, plan recoveryPlan, planErr error) {
	start := time.Now()
	var inst *barman.Instance
	err := planErr
	if err == nil {
		if rmErr := os.RemoveAll(oi.dir); rmErr != nil {
			err = fmt.Errorf("clear %s: %w", oi.dir, rmErr)
		}
	}
	if err == nil {
		if oi.recovery {
			o.logf("operator: cluster %s: restoring %s to %s", it.key(), plan.source, describeTarget(plan.target))
			inst, err = barman.Restore(ctx, plan.source, plan.backupID, plan.target, oi.dir)
		} else {
			inst, err = barman.StartInstance(ctx, oi.dir, oi.dest)
		}
	}
	var admin *pgAdmin
	if err == nil {
		admin, err = openPostgres(ctx, inst.DSN())
	}
	if err == nil && oi.recovery {
		// The source's database is named after its cluster, which the
		// plugin's serverName names unless it was set otherwise.
		err = adoptRestoredData(ctx, admin, inst.DSN(), PostgresRole(it.namespace, it.name), PostgresDatabase(it.namespace, it.name, ""),
			PostgresDatabase(it.namespace, plan.source.ServerName, ""))
	}
	took := time.Since(start)
	if err != nil {
		if oi.recovery {
			err = fmt.Errorf("recovery from a backup failed: %w", err)
		} else {
			err = fmt.Errorf("start the cluster's server: %w", err)
		}
		if admin != nil {
			admin.close()
		}
		if inst != nil {
			_ = inst.Stop()
			inst = nil
		}
		o.logf("operator: cluster %s: %v", it.key(), err)
	} else if oi.recovery {
		o.logf("operator: cluster %s: restored to %s in %s, port %d", it.key(), describeTarget(plan.target), took.Round(time.Millisecond), inst.Port())
	} else {
		o.logf("operator: cluster %s: own server on port %d started in %s", it.key(), inst.Port(), took.Round(time.Millisecond))
	}
	o.mu.Lock()
	oi.started, oi.err, oi.inst, oi.admin, oi.took = true, err, inst, admin, took
	abandoned := oi.abandoned
	o.mu.Unlock()
	if abandoned {
		if err := oi.stop(); err != nil {
			o.logf("operator: cluster %s: %v", it.key(), err)
		}
		return
	}
	if o.runCtx.Err() == nil {
		o.queue.Add(it)
	}
}

func describeTarget(t time.Time) string {
	if t.IsZero() {
		return "the end of the WAL archive"
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// dropOwnInstance stops the server of the Cluster key, at once when it has
// started, else once its start ends.
func (o *Operator) dropOwnInstance(key string) {
	o.mu.Lock()
	oi := o.own[key]
	delete(o.own, key)
	started := oi != nil && oi.started
	if oi != nil && !started {
		oi.abandoned = true
		oi.cancel()
	}
	o.mu.Unlock()
	if started {
		if err := oi.stop(); err != nil {
			o.logf("operator: cluster %s: %v", key, err)
		} else {
			o.logf("operator: cluster %s: own server stopped", key)
		}
	}
}

// ownInstanceOf returns the started, working server of the Cluster
// namespace/cluster, or nil.
func (o *Operator) ownInstanceOf(namespace, cluster string) *ownInstance {
	o.mu.Lock()
	defer o.mu.Unlock()
	oi := o.own[namespace+"/"+cluster]
	if oi == nil || !oi.started || oi.err != nil {
		return nil
	}
	return oi
}

// adminFor is where the Cluster namespace/cluster's roles and databases
// are: its own server, or the shared one. It is nil while its own server
// is not running.
func (o *Operator) adminFor(namespace, cluster string) *pgAdmin {
	o.mu.Lock()
	oi, own := o.own[namespace+"/"+cluster]
	o.mu.Unlock()
	if !own {
		return o.pg
	}
	if oi = o.ownInstanceOf(namespace, cluster); oi == nil {
		return nil
	}
	return oi.admin
}

// adoptRestoredData gives a restored server's data to the new Cluster: the
// restored database (the source cluster's: sourceDB, or else the only one
// there is) is renamed to db, and it and everything its old owner owned in
// it pass to role (created without a password: the worker sets the
// Secret's). The source's other databases keep their names.
func adoptRestoredData(ctx context.Context, admin *pgAdmin, dsn, role, db, sourceDB string) error {
	var exists bool
	if err := admin.pool.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)", role).Scan(&exists); err != nil {
		return fmt.Errorf("look up role %s: %w", role, err)
	}
	if !exists {
		if _, err := admin.pool.Exec(ctx, "CREATE ROLE "+ident(role)+" WITH LOGIN"); err != nil {
			return fmt.Errorf("create role %s: %w", role, err)
		}
	}
	rows, err := admin.pool.Query(ctx, "SELECT d.datname, r.rolname FROM pg_database d JOIN pg_roles r ON d.datdba = r.oid WHERE NOT d.datistemplate AND d.datname <> 'postgres' ORDER BY d.datname")
	if err != nil {
		return fmt.Errorf("list restored databases: %w", err)
	}
	type dbOwner struct{ db, owner string }
	dbs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (dbOwner, error) {
		var d dbOwner
		err := r.Scan(&d.db, &d.owner)
		return d, err
	})
	if err != nil {
		return fmt.Errorf("list restored databases: %w", err)
	}
	oldOwner := ""
	found := false
	for _, d := range dbs {
		if d.db == db {
			found, oldOwner = true, d.owner
		}
	}
	if !found {
		i := slices.IndexFunc(dbs, func(d dbOwner) bool { return d.db == sourceDB })
		if i < 0 && len(dbs) == 1 {
			i = 0
		}
		if i < 0 {
			return fmt.Errorf("the backup holds %d application databases and none is %s: cannot tell which is the cluster's", len(dbs), sourceDB)
		}
		if _, err := admin.pool.Exec(ctx, "ALTER DATABASE "+ident(dbs[i].db)+" RENAME TO "+ident(db)); err != nil {
			return fmt.Errorf("rename restored database %s to %s: %w", dbs[i].db, db, err)
		}
		oldOwner = dbs[i].owner
	}
	if _, err := admin.pool.Exec(ctx, "ALTER DATABASE "+ident(db)+" OWNER TO "+ident(role)); err != nil {
		return fmt.Errorf("give database %s to %s: %w", db, role, err)
	}
	if oldOwner == "" || oldOwner == role || oldOwner == "postgres" {
		return nil
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return fmt.Errorf("connect to restored database %s: %w", db, err)
	}
	cfg.Database = db
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("connect to restored database %s: %w", db, err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "REASSIGN OWNED BY "+ident(oldOwner)+" TO "+ident(role)); err != nil {
		return fmt.Errorf("give the objects of %s in %s to %s: %w", oldOwner, db, role, err)
	}
	return nil
}

// archivingCondition is the ContinuousArchiving condition of a Cluster
// with its own server, nil while nothing was archived or failed yet.
type archivingCondition struct {
	ok      bool
	message string
}

const (
	condArchiving          = "ContinuousArchiving"
	reasonArchivingSuccess = "ContinuousArchivingSuccess"
	reasonArchivingFailing = "ContinuousArchivingFailing"
)

// archiving reads how the WAL archiving of oi goes.
func (o *Operator) archiving(ctx context.Context, oi *ownInstance) (*archivingCondition, error) {
	if !oi.archiver {
		return nil, nil
	}
	if oi.dest == nil {
		return &archivingCondition{message: oi.destErr}, nil
	}
	s, err := oi.inst.ArchiveStatus(ctx)
	if err != nil {
		return nil, err
	}
	switch {
	case s.Failing():
		msg := "unexpected failure invoking barman-cloud-wal-archive"
		if s.LastError != "" {
			msg += ": " + s.LastError
		}
		return &archivingCondition{message: msg}, nil
	case s.ArchivedCount > 0:
		return &archivingCondition{ok: true, message: "Continuous archiving is working"}, nil
	default:
		return nil, nil
	}
}
