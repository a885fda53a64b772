package controlplane

import (
	"context"
	"fmt"
	"reflect"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// databaseSpec is what the stand-in reads of a CNPG Database object.
type databaseSpec struct {
	cluster string // spec.cluster.name
	name    string // spec.name, the PostgreSQL database
	absent  bool   // spec.ensure: absent
	drop    bool   // spec.databaseReclaimPolicy: delete
}

func readDatabaseSpec(u *unstructured.Unstructured) databaseSpec {
	var s databaseSpec
	s.cluster, _, _ = unstructured.NestedString(u.Object, "spec", "cluster", "name")
	s.name, _, _ = unstructured.NestedString(u.Object, "spec", "name")
	ensure, _, _ := unstructured.NestedString(u.Object, "spec", "ensure")
	policy, _, _ := unstructured.NestedString(u.Object, "spec", "databaseReclaimPolicy")
	s.absent, s.drop = ensure == "absent", policy == "delete"
	return s
}

// reconcileDatabase creates (or, with ensure: absent, drops) the database
// of a CNPG Database object once its cluster is provisioned, owned by the
// cluster's role whatever spec.owner says. A deleted Database object drops
// its database only with databaseReclaimPolicy: delete, as CloudNativePG.
func (o *Operator) reconcileDatabase(ctx context.Context, it item) error {
	obj, err := get(o.databases, it.namespace, it.name)
	if err != nil {
		return err
	}
	if obj == nil {
		spec, known := o.dbSpecs[it.key()]
		delete(o.dbSpecs, it.key())
		if known && spec.drop && !spec.absent {
			if admin := o.adminFor(it.namespace, spec.cluster); admin != nil {
				return admin.dropDatabase(ctx, PostgresDatabase(it.namespace, spec.cluster, spec.name))
			}
		}
		return nil
	}
	spec := readDatabaseSpec(obj)
	o.dbSpecs[it.key()] = spec
	if spec.cluster == "" || spec.name == "" {
		return o.applyDatabaseStatus(ctx, obj, false, "spec.cluster.name and spec.name are required")
	}
	cluster, err := get(o.clusters, it.namespace, spec.cluster)
	if err != nil {
		return err
	}
	st := o.state[it.namespace+"/"+spec.cluster]
	if cluster == nil || st == nil || !st.provisioned {
		// Queued again by the cluster's reconcile once it is provisioned.
		return o.applyDatabaseStatus(ctx, obj, false, fmt.Sprintf("waiting for cluster %q", spec.cluster))
	}
	owner := PostgresRole(it.namespace, spec.cluster)
	pgName := PostgresDatabase(it.namespace, spec.cluster, spec.name)
	if own, _, _ := unstructured.NestedString(cluster.Object, "spec", "bootstrap", "initdb", "database"); spec.name == own || own == "" && spec.name == "app" {
		pgName = PostgresDatabase(it.namespace, spec.cluster, "")
	}
	admin := o.adminFor(it.namespace, spec.cluster)
	if admin == nil {
		// Its own server went away: queued again when it runs.
		return o.applyDatabaseStatus(ctx, obj, false, fmt.Sprintf("waiting for cluster %q", spec.cluster))
	}
	if spec.absent {
		err = admin.dropDatabase(ctx, pgName)
	} else {
		err = admin.ensureDatabase(ctx, pgName, owner)
	}
	if err != nil {
		return err
	}
	return o.applyDatabaseStatus(ctx, obj, true, "")
}

// applyDatabaseStatus writes status.applied, message and observedGeneration.
func (o *Operator) applyDatabaseStatus(ctx context.Context, obj *unstructured.Unstructured, applied bool, message string) error {
	status := map[string]any{"applied": applied, "observedGeneration": obj.GetGeneration()}
	if message != "" {
		status["message"] = message
	}
	existing, _, _ := unstructured.NestedMap(obj.Object, "status")
	if reflect.DeepEqual(existing["applied"], status["applied"]) && reflect.DeepEqual(existing["message"], status["message"]) &&
		reflect.DeepEqual(existing["observedGeneration"], status["observedGeneration"]) {
		return nil
	}
	if applied && existing["applied"] != true {
		o.logf("operator: database %s/%s applied", obj.GetNamespace(), obj.GetName())
	}
	return o.applyStatus(ctx, databaseGVR, "Database", obj, status)
}
