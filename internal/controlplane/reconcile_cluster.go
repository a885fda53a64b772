package controlplane

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
)

// Phases and condition reasons of a CloudNativePG Cluster
// (api/v1/cluster_types.go).
const (
	phaseHealthy          = "Cluster in healthy state"
	phaseSettingUpPrimary = "Setting up primary"
	phaseCreatingReplica  = "Creating a new replica"
	phaseApplyingConfig   = "Applying configuration"
	phaseFailOver         = "Failing over"
	phaseWaitingInstances = "Waiting for the instances to become active"
	reasonReady           = "ClusterIsReady"
	reasonNotReady        = "ClusterIsNotReady"
)

// failoverTime is how long a failover shows as phase "Failing over" before
// the new primary is reported: long enough for a poller to notice.
const failoverTime = 500 * time.Millisecond

// clusterState is what the stand-in remembers of a Cluster between reconciles.
type clusterState struct {
	uid         types.UID
	generation  int64     // the spec generation being worked on
	since       time.Time // when that generation was first seen
	first       bool      // generation is the cluster's first one seen
	readyBefore int64     // readyInstances when the generation changed
	instBefore  int64     // instances when the generation changed
	provisioned bool      // its role and database exist
	reported    string    // phase and reason of the last status written

	// primary is the number n of the primary instance <cluster>-n. While
	// a failover to target is under way, failoverSince is when it started
	// (zero otherwise); with a single instance target is primary.
	primary, target int64
	failoverSince   time.Time
}

// clusterStatus is the part of a Cluster's status the stand-in owns.
type clusterStatus struct {
	phase, phaseReason   string
	instances, ready     int64
	readyCondition       bool
	condReason, condText string
	// currentPrimary and targetPrimary are instance names, <cluster>-n.
	currentPrimary, targetPrimary string
	// archiving is the ContinuousArchiving condition (nil: none) and
	// window the recovery window of a cluster with its own server.
	archiving *archivingCondition
	window    recoveryWindow
}

func (s clusterStatus) summary() string { return s.phase + "|" + s.phaseReason }

// reconcileCluster provisions a Cluster and reports its status, or cleans
// up after one that was deleted.
func (o *Operator) reconcileCluster(ctx context.Context, it item) error {
	cluster, err := get(o.clusters, it.namespace, it.name)
	if err != nil {
		return err
	}
	if cluster == nil {
		return o.deleteCluster(ctx, it)
	}
	if cluster.GetDeletionTimestamp() != nil {
		return o.releaseForeground(ctx, cluster)
	}
	now := time.Now()
	st := o.state[it.key()]
	current := readClusterStatus(cluster)
	switch {
	case st == nil || st.uid != cluster.GetUID():
		st = &clusterState{uid: cluster.GetUID(), generation: cluster.GetGeneration(), since: now, first: true}
		if c := findCondition(cluster, "Ready"); c != nil && c["status"] == "True" && c["observedGeneration"] == cluster.GetGeneration() {
			// Made ready by an earlier run of the stand-in: nothing to wait for.
			st.since, st.reported = time.Time{}, current.summary()
		}
		// An earlier run of the stand-in may have failed it over.
		st.primary = instanceNumber(it.name, current.currentPrimary)
		st.target = st.primary
		if current.phase == phaseFailOver {
			// Interrupted in a failover: it completes at once.
			st.target, st.failoverSince = instanceNumber(it.name, current.targetPrimary), now.Add(-failoverTime)
		}
		o.state[it.key()] = st
	case st.generation != cluster.GetGeneration():
		st.generation, st.since, st.first = cluster.GetGeneration(), now, false
		st.readyBefore, st.instBefore = current.ready, current.instances
	}

	instances, _, _ := unstructured.NestedInt64(cluster.Object, "spec", "instances")
	instances = max(instances, 1)
	role := PostgresRole(it.namespace, it.name)
	db := PostgresDatabase(it.namespace, it.name, "")

	b := o.behavior(it.name)
	failure := b.failure
	admin := o.pg
	var own *ownInstance
	ownPending := false
	o.mu.Lock()
	_, hasOwn := o.own[it.key()]
	o.mu.Unlock()
	// A Cluster provisioned in the shared server keeps it (and its data)
	// when it is given a WAL archiver entry later: it does not archive.
	lateArchiver := !hasOwn && st.provisioned && wantsOwnInstance(cluster)
	if hasOwn || wantsOwnInstance(cluster) && !lateArchiver {
		own = o.ensureOwnInstance(ctx, it, cluster)
		o.mu.Lock()
		started, startErr, ownAdmin := own.started, own.err, own.admin
		o.mu.Unlock()
		switch {
		case startErr != nil:
			failure = startErr.Error()
		case !started:
			ownPending = true // the start queues the cluster when it ends
		default:
			admin = ownAdmin
		}
	}
	var password string
	if own == nil || admin != o.pg {
		// The Secret names the server: an own one only once it runs.
		var err error
		if password, err = o.ensureAppSecret(ctx, cluster, admin.host, admin.port, db, role); err != nil {
			return err
		}
	}

	want := clusterStatus{phase: st.progressPhase(instances), instances: instances, ready: min(st.readyBefore, instances), condReason: reasonNotReady, condText: "Cluster Is Not Ready"}
	switch {
	case failure != "":
		want.phaseReason, want.condText = failure, failure
		// A failover asked for stays pending until the cluster works.
	case ownPending:
		if st.first && st.since.IsZero() {
			// Made ready by an earlier run of the stand-in, whose server
			// went with it: the status stays while a new one starts.
			return nil
		}
	default:
		if err := admin.ensureRole(ctx, role, password); err != nil {
			return err
		}
		if err := admin.ensureDatabase(ctx, db, role); err != nil {
			return err
		}
		if !st.provisioned {
			o.logf("operator: cluster %s: database %s owned by %s", it.key(), db, role)
		}
		st.provisioned = true
		if lateArchiver {
			want.archiving = &archivingCondition{message: lateArchiverMessage}
		}
		if own != nil {
			cond, err := o.ownStatus(ctx, it, own)
			if err != nil {
				return err
			}
			want.archiving = cond
			o.mu.Lock()
			want.window = own.window
			o.mu.Unlock()
		}
		if err := o.queueDatabasesOf(it.namespace, it.name); err != nil {
			return err
		}
		if st.failoverSince.IsZero() && o.takeFailover(it.key()) {
			st.target, st.failoverSince = st.primary%instances+1, now
		}
		if n, ok := promoted(it.name, current.targetPrimary, instances); ok && st.failoverSince.IsZero() && n != st.target {
			// Someone set status.targetPrimary, as `kubectl cnpg promote`
			// does: switch over to that instance.
			st.target, st.failoverSince = n, now
		}
		if !st.failoverSince.IsZero() && now.Sub(st.failoverSince) >= failoverTime {
			o.logf("operator: cluster %s: failed over from %s to %s", it.key(), instanceName(it.name, st.primary), instanceName(it.name, st.target))
			o.emit(ctx, cluster, corev1.EventTypeNormal, "FailoverCompleted", "Instance "+instanceName(it.name, st.target)+" is the new primary")
			st.primary, st.failoverSince = st.target, time.Time{}
		}
		archiving, window := want.archiving, want.window
		switch wait := st.since.Add(b.delay).Sub(now); {
		case !st.failoverSince.IsZero():
			want = clusterStatus{phase: phaseFailOver, instances: instances, ready: max(instances-1, 0), condReason: reasonNotReady, condText: "Cluster Is Not Ready"}
			o.queue.AddAfter(it, failoverTime-now.Sub(st.failoverSince))
		case wait > 0:
			o.queue.AddAfter(it, wait)
		case b.degraded != "":
			want = clusterStatus{phase: phaseWaitingInstances, phaseReason: b.degraded, instances: instances, ready: max(instances-1, 0), condReason: reasonNotReady, condText: b.degraded}
		default:
			want = clusterStatus{phase: phaseHealthy, instances: instances, ready: instances, readyCondition: true, condReason: reasonReady, condText: "Cluster is Ready"}
		}
		want.archiving, want.window = archiving, window
	}
	want.currentPrimary, want.targetPrimary = instanceName(it.name, st.primary), instanceName(it.name, st.target)

	// The Event goes first, so that whoever sees the new status finds it.
	if st.reported != want.summary() {
		st.reported = want.summary()
		o.emitForStatus(ctx, cluster, want)
	}
	return o.applyClusterStatus(ctx, cluster, current, want, now)
}

// progressPhase is the phase shown while a generation is being worked on.
func (st *clusterState) progressPhase(instances int64) string {
	switch {
	case st.first:
		return phaseSettingUpPrimary
	case instances > st.instBefore:
		return phaseCreatingReplica
	default:
		return phaseApplyingConfig
	}
}

// emitForStatus records the Event that goes with a new status.
func (o *Operator) emitForStatus(ctx context.Context, cluster *unstructured.Unstructured, s clusterStatus) {
	switch {
	case s.phase == phaseFailOver:
		o.emit(ctx, cluster, corev1.EventTypeWarning, "FailingOver", "Failing over from "+s.currentPrimary+" to "+s.targetPrimary)
	case s.phase == phaseWaitingInstances:
		o.emit(ctx, cluster, corev1.EventTypeWarning, "Degraded", s.phaseReason)
	case s.phaseReason != "":
		o.emit(ctx, cluster, corev1.EventTypeWarning, "SetupFailed", s.phaseReason)
	case s.phase == phaseHealthy:
		o.emit(ctx, cluster, corev1.EventTypeNormal, "ClusterReady", fmt.Sprintf("Cluster is ready: %d/%d instances", s.ready, s.instances))
	case s.phase == phaseSettingUpPrimary:
		o.emit(ctx, cluster, corev1.EventTypeNormal, "CreatingInstance", "Primary instance (initdb)")
	case s.phase == phaseCreatingReplica:
		o.emit(ctx, cluster, corev1.EventTypeNormal, "CreatingInstance", "Creating instance "+cluster.GetName()+"-"+strconv.FormatInt(s.instances, 10))
	default:
		o.emit(ctx, cluster, corev1.EventTypeNormal, "ApplyingConfiguration", s.phase)
	}
}

// readClusterStatus reads the fields of clusterStatus from a Cluster.
func readClusterStatus(cluster *unstructured.Unstructured) clusterStatus {
	var s clusterStatus
	s.phase, _, _ = unstructured.NestedString(cluster.Object, "status", "phase")
	s.phaseReason, _, _ = unstructured.NestedString(cluster.Object, "status", "phaseReason")
	s.instances, _, _ = unstructured.NestedInt64(cluster.Object, "status", "instances")
	s.ready, _, _ = unstructured.NestedInt64(cluster.Object, "status", "readyInstances")
	s.currentPrimary, _, _ = unstructured.NestedString(cluster.Object, "status", "currentPrimary")
	s.targetPrimary, _, _ = unstructured.NestedString(cluster.Object, "status", "targetPrimary")
	return s
}

// instanceName is the name of instance n of cluster: <cluster>-<n>.
func instanceName(cluster string, n int64) string {
	return cluster + "-" + strconv.FormatInt(n, 10)
}

// instanceNumber is n of the instance name <cluster>-<n>, or 1 (the first
// primary) when name is not one.
func instanceNumber(cluster, name string) int64 {
	rest, ok := strings.CutPrefix(name, cluster+"-")
	if !ok {
		return 1
	}
	n, err := strconv.ParseInt(rest, 10, 64)
	if err != nil || n < 1 {
		return 1
	}
	return n
}

// promoted reads a targetPrimary naming one of the cluster's instances.
func promoted(cluster, target string, instances int64) (int64, bool) {
	rest, ok := strings.CutPrefix(target, cluster+"-")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(rest, 10, 64)
	return n, err == nil && n >= 1 && n <= instances
}

// statusFields are the status fields the stand-in owns.
var statusFields = []string{"phase", "phaseReason", "instances", "readyInstances", "conditions", "writeService", "readService", "currentPrimary", "targetPrimary", "instanceNames", "firstRecoverabilityPoint", "lastSuccessfulBackup"}

// applyClusterStatus writes want with server-side apply to the status
// subresource, unless the Cluster already shows it.
func (o *Operator) applyClusterStatus(ctx context.Context, cluster *unstructured.Unstructured, current, want clusterStatus, now time.Time) error {
	condStatus := "False"
	if want.readyCondition {
		condStatus = "True"
	}
	transition := now.UTC().Format(time.RFC3339)
	if c := findCondition(cluster, "Ready"); c != nil && c["status"] == condStatus {
		if t, ok := c["lastTransitionTime"].(string); ok {
			transition = t
		}
	}
	name := cluster.GetName()
	conditions := []any{map[string]any{
		"type":               "Ready",
		"status":             condStatus,
		"reason":             want.condReason,
		"message":            want.condText,
		"lastTransitionTime": transition,
		"observedGeneration": cluster.GetGeneration(),
	}}
	if a := want.archiving; a != nil {
		st, reason := "False", reasonArchivingFailing
		if a.ok {
			st, reason = "True", reasonArchivingSuccess
		}
		since := now.UTC().Format(time.RFC3339)
		if c := findCondition(cluster, condArchiving); c != nil && c["status"] == st {
			if t, ok := c["lastTransitionTime"].(string); ok {
				since = t
			}
		}
		conditions = append(conditions, map[string]any{
			"type":               condArchiving,
			"status":             st,
			"reason":             reason,
			"message":            a.message,
			"lastTransitionTime": since,
			"observedGeneration": cluster.GetGeneration(),
		})
	}
	status := map[string]any{
		"phase":          want.phase,
		"instances":      want.instances,
		"readyInstances": want.ready,
		"conditions":     conditions,
		"writeService":   name + "-rw",
		"readService":    name + "-r",
		"currentPrimary": want.currentPrimary,
		"targetPrimary":  want.targetPrimary,
		"instanceNames":  instanceNames(name, want.instances),
	}
	if want.phaseReason != "" {
		status["phaseReason"] = want.phaseReason
	}
	if !want.window.first.IsZero() {
		// As the Barman Cloud plugin reports them (CloudNativePG copies
		// them from the plugin).
		status["firstRecoverabilityPoint"] = want.window.first.UTC().Format(time.RFC3339)
		status["lastSuccessfulBackup"] = want.window.last.UTC().Format(time.RFC3339)
	}
	existing, _, _ := unstructured.NestedMap(cluster.Object, "status")
	same := true
	for _, f := range statusFields {
		if !reflect.DeepEqual(status[f], existing[f]) {
			same = false
			break
		}
	}
	if same {
		return nil
	}
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": clusterGVR.GroupVersion().String(),
		"kind":       "Cluster",
		"metadata":   map[string]any{"name": name, "namespace": cluster.GetNamespace()},
		"status":     status,
	}}
	_, err := o.dyn.Resource(clusterGVR).Namespace(cluster.GetNamespace()).ApplyStatus(ctx, name, obj, applyOptions())
	if apierrors.IsNotFound(err) {
		return nil // deleted meanwhile: the delete event follows
	}
	if err != nil {
		return fmt.Errorf("write status of cluster %s/%s: %w", cluster.GetNamespace(), name, err)
	}
	if current.phase != want.phase || current.ready != want.ready {
		o.logf("operator: cluster %s/%s: %s, %d/%d instances ready", cluster.GetNamespace(), name, want.phase, want.ready, want.instances)
	}
	return nil
}

// instanceNames are those of a cluster of n instances, <cluster>-1 to
// <cluster>-n, as status.instanceNames lists them.
func instanceNames(cluster string, n int64) []any {
	names := make([]any, 0, n)
	for i := int64(1); i <= n; i++ {
		names = append(names, instanceName(cluster, i))
	}
	return names
}

// findCondition returns the condition of type typ of u's status, or nil.
func findCondition(u *unstructured.Unstructured, typ string) map[string]any {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		if m, ok := c.(map[string]any); ok && m["type"] == typ {
			return m
		}
	}
	return nil
}

// queueDatabasesOf queues the Database objects that name the cluster.
func (o *Operator) queueDatabasesOf(namespace, cluster string) error {
	objs, err := o.databases.ByNamespace(namespace).List(labels.Everything())
	if err != nil {
		return fmt.Errorf("list databases in %s: %w", namespace, err)
	}
	for _, obj := range objs {
		u, ok := obj.(*unstructured.Unstructured)
		if !ok {
			continue
		}
		if c, _, _ := unstructured.NestedString(u.Object, "spec", "cluster", "name"); c == cluster {
			o.queue.Add(item{kind: kindDatabase, namespace: namespace, name: u.GetName()})
		}
	}
	return nil
}

// deleteCluster drops a deleted Cluster's role and every database it owns,
// and deletes its app Secret (no garbage collector runs here).
func (o *Operator) deleteCluster(ctx context.Context, it item) error {
	role := PostgresRole(it.namespace, it.name)
	o.mu.Lock()
	_, own := o.own[it.key()]
	o.mu.Unlock()
	if own {
		o.dropOwnInstance(it.key())
	} else if err := o.pg.dropRole(ctx, role); err != nil {
		return err
	}
	if err := o.deleteAppSecret(ctx, it.namespace, it.name); err != nil {
		return err
	}
	if _, known := o.state[it.key()]; known {
		o.logf("operator: cluster %s deleted: dropped role %s and its databases", it.key(), role)
	}
	delete(o.state, it.key())
	o.mu.Lock()
	delete(o.failovers, it.key())
	o.mu.Unlock()
	return nil
}

// releaseForeground plays the garbage collector, which this control plane
// does not run: a Cluster deleted with foreground propagation (terraform's
// kubectl provider does that when it waits for a deletion) carries the
// foregroundDeletion finalizer until its dependents are gone. The stand-in
// makes none, so the finalizer is removed at once and the deletion
// completes; the delete event then drops the database.
func (o *Operator) releaseForeground(ctx context.Context, cluster *unstructured.Unstructured) error {
	fins := cluster.GetFinalizers()
	kept := fins[:0:0]
	for _, f := range fins {
		if f != metav1.FinalizerDeleteDependents {
			kept = append(kept, f)
		}
	}
	if len(kept) == len(fins) {
		return nil
	}
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"finalizers": kept, "resourceVersion": cluster.GetResourceVersion()}})
	_, err := o.dyn.Resource(clusterGVR).Namespace(cluster.GetNamespace()).Patch(ctx, cluster.GetName(), types.MergePatchType, patch, metav1.PatchOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("release the foreground deletion of cluster %s/%s: %w", cluster.GetNamespace(), cluster.GetName(), err)
	}
	o.logf("operator: cluster %s/%s: foreground deletion released (no dependents)", cluster.GetNamespace(), cluster.GetName())
	return nil
}
