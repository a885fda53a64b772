package controlplane

import (
	"context"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
)

// clients for the suite's control plane.
func clients(t *testing.T) (dynamic.Interface, kubernetes.Interface) {
	t.Helper()
	dyn, err := dynamic.NewForConfig(env.cp.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(env.cp.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	return dyn, cs
}

func namespace(t *testing.T, name string) string {
	t.Helper()
	if err := env.cp.EnsureNamespace(context.Background(), name); err != nil {
		t.Fatal(err)
	}
	return name
}

func newCluster(ns, name string, instances int64) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "postgresql.cnpg.io/v1",
		"kind":       "Cluster",
		"metadata":   map[string]any{"name": name, "namespace": ns},
		"spec": map[string]any{
			"instances": instances,
			"storage":   map[string]any{"size": "1Gi"},
			"bootstrap": map[string]any{"initdb": map[string]any{"database": "app", "owner": "app"}},
		},
	}}
}

func createCluster(t *testing.T, dyn dynamic.Interface, ns, name string, instances int64) *unstructured.Unstructured {
	t.Helper()
	u, err := dyn.Resource(clusterGVR).Namespace(ns).Create(context.Background(), newCluster(ns, name, instances), metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create cluster %s/%s: %v", ns, name, err)
	}
	return u
}

// waitCluster polls the Cluster until ok says so (the operator works
// asynchronously; 30s is far beyond what it needs).
func waitCluster(t *testing.T, dyn dynamic.Interface, ns, name, what string, ok func(*unstructured.Unstructured) bool) *unstructured.Unstructured {
	t.Helper()
	var last *unstructured.Unstructured
	err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		u, err := dyn.Resource(clusterGVR).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		last = u
		return ok(u), nil
	})
	if err != nil {
		status, _, _ := unstructured.NestedMap(lastObject(last), "status")
		t.Fatalf("cluster %s/%s never %s; last status: %v", ns, name, what, status)
	}
	return last
}

func lastObject(u *unstructured.Unstructured) map[string]any {
	if u == nil {
		return nil
	}
	return u.Object
}

func healthy(u *unstructured.Unstructured) bool {
	phase, _, _ := unstructured.NestedString(u.Object, "status", "phase")
	return phase == phaseHealthy && conditionTrue(u, "Ready")
}

// clusterEvents lists the Events recorded for a Cluster, oldest first.
func clusterEvents(t *testing.T, cs kubernetes.Interface, ns, name string) []corev1.Event {
	t.Helper()
	list, err := cs.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{
		FieldSelector: fields.Set{"involvedObject.name": name, "involvedObject.kind": "Cluster"}.String(),
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(list.Items, func(a, b corev1.Event) int { return a.CreationTimestamp.Compare(b.CreationTimestamp.Time) })
	return list.Items
}

func hasEvent(events []corev1.Event, typ, reason, message string) bool {
	return slices.ContainsFunc(events, func(e corev1.Event) bool {
		return e.Type == typ && e.Reason == reason && strings.Contains(e.Message, message)
	})
}

// superuser connects to the shared server as postgres.
func superuser(t *testing.T) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), env.pg.DSN())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func databaseExists(t *testing.T, db string) bool {
	t.Helper()
	var exists bool
	if err := superuser(t).QueryRow(context.Background(), "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", db).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	return exists
}

func TestClusterBecomesReadyWithAWorkingAppSecret(t *testing.T) {
	t.Parallel()
	dyn, cs := clients(t)
	ns := namespace(t, "cp-ready")
	createCluster(t, dyn, ns, "ledger", 3)
	u := waitCluster(t, dyn, ns, "ledger", "healthy", healthy)

	for _, f := range []struct {
		path []string
		want int64
	}{{[]string{"status", "instances"}, 3}, {[]string{"status", "readyInstances"}, 3}} {
		if got, _, _ := unstructured.NestedInt64(u.Object, f.path...); got != f.want {
			t.Errorf("%s = %d, want %d", strings.Join(f.path, "."), got, f.want)
		}
	}
	if c := findCondition(u, "Ready"); c["reason"] != reasonReady {
		t.Errorf("Ready condition = %v, want reason %s", c, reasonReady)
	}

	secret, err := cs.CoreV1().Secrets(ns).Get(context.Background(), "ledger-app", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if secret.Type != corev1.SecretTypeBasicAuth {
		t.Errorf("secret type = %s, want %s", secret.Type, corev1.SecretTypeBasicAuth)
	}
	for _, k := range []string{"username", "user", "password", "dbname", "host", "port", "pgpass", "uri", "jdbc-uri", "fqdn-uri", "fqdn-jdbc-uri"} {
		if len(secret.Data[k]) == 0 {
			t.Errorf("secret has no %q", k)
		}
	}
	role, db := PostgresRole(ns, "ledger"), PostgresDatabase(ns, "ledger", "")
	if got := string(secret.Data["username"]); got != role {
		t.Errorf("username = %q, want %q", got, role)
	}

	conn, err := pgx.Connect(context.Background(), string(secret.Data["uri"]))
	if err != nil {
		t.Fatalf("connect with the secret's uri: %v", err)
	}
	defer conn.Close(context.Background())
	var one int
	var gotDB, gotUser string
	if err := conn.QueryRow(context.Background(), "SELECT 1, current_database(), current_user").Scan(&one, &gotDB, &gotUser); err != nil {
		t.Fatal(err)
	}
	if one != 1 || gotDB != db || gotUser != role {
		t.Errorf("select 1 as %s in %s = %d; want 1 as %s in %s", gotUser, gotDB, one, role, db)
	}

	if ev := clusterEvents(t, cs, ns, "ledger"); !hasEvent(ev, corev1.EventTypeNormal, "ClusterReady", "3/3") {
		t.Errorf("no ClusterReady event; events: %v", ev)
	}
}

func TestDatabaseObjectCreatesADatabase(t *testing.T) {
	t.Parallel()
	dyn, _ := clients(t)
	ns := namespace(t, "cp-database")
	createCluster(t, dyn, ns, "shop", 1)
	dbObj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "postgresql.cnpg.io/v1",
		"kind":       "Database",
		"metadata":   map[string]any{"name": "shop-db-reports", "namespace": ns},
		"spec": map[string]any{
			"name":                  "reports",
			"owner":                 "app",
			"ensure":                "present",
			"databaseReclaimPolicy": "delete",
			"cluster":               map[string]any{"name": "shop"},
		},
	}}
	databases := dyn.Resource(databaseGVR).Namespace(ns)
	if _, err := databases.Create(context.Background(), dbObj, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		u, err := databases.Get(ctx, "shop-db-reports", metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		applied, _, _ := unstructured.NestedBool(u.Object, "status", "applied")
		return applied, nil
	})
	if err != nil {
		t.Fatal("Database shop-db-reports never applied")
	}

	pgName := PostgresDatabase(ns, "shop", "reports")
	var owner string
	err = superuser(t).QueryRow(context.Background(), "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = $1", pgName).Scan(&owner)
	if err != nil {
		t.Fatalf("database %s: %v", pgName, err)
	}
	if want := PostgresRole(ns, "shop"); owner != want {
		t.Errorf("%s is owned by %s, want %s", pgName, owner, want)
	}

	// databaseReclaimPolicy: delete drops it with the object.
	if err := databases.Delete(context.Background(), "shop-db-reports", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	err = wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		return !databaseExists(t, pgName), nil
	})
	if err != nil {
		t.Errorf("database %s still exists after its Database object was deleted", pgName)
	}
}

// phaseWatch records the phases a Cluster goes through, from before it
// exists (or from its current state), until done says it is finished.
func phaseWatch(t *testing.T, dyn dynamic.Interface, ns, name string, done func(*unstructured.Unstructured) bool) <-chan string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	w, err := dyn.Resource(clusterGVR).Namespace(ns).Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + name})
	if err != nil {
		t.Fatal(err)
	}
	phases := make(chan string, 16)
	go func() {
		defer close(phases)
		defer w.Stop()
		last := ""
		for ev := range w.ResultChan() {
			u, ok := ev.Object.(*unstructured.Unstructured)
			if !ok {
				continue
			}
			if phase, _, _ := unstructured.NestedString(u.Object, "status", "phase"); phase != last && phase != "" {
				last = phase
				phases <- phase
			}
			if done(u) {
				return
			}
		}
	}()
	return phases
}

// collect gathers what phaseWatch records.
func collect(t *testing.T, phases <-chan string) []string {
	t.Helper()
	var got []string
	timeout := time.After(30 * time.Second)
	for {
		select {
		case p, ok := <-phases:
			if !ok {
				return got
			}
			got = append(got, p)
		case <-timeout:
			t.Fatalf("phases so far %q: never done", got)
		}
	}
}

// readyInstances is a done func for phaseWatch: healthy with n ready.
func readyInstances(n int64) func(*unstructured.Unstructured) bool {
	return func(u *unstructured.Unstructured) bool {
		ready, _, _ := unstructured.NestedInt64(u.Object, "status", "readyInstances")
		return healthy(u) && ready == n
	}
}

func TestSlowClusterSetsUpPrimaryFirst(t *testing.T) {
	t.Parallel()
	dyn, cs := clients(t)
	ns := namespace(t, "cp-slow")
	env.op.Behave("slowpoke", Slow(2*time.Second))
	phases := phaseWatch(t, dyn, ns, "slowpoke", readyInstances(2))
	createCluster(t, dyn, ns, "slowpoke", 2)

	if got, want := collect(t, phases), []string{phaseSettingUpPrimary, phaseHealthy}; !slices.Equal(got, want) {
		t.Errorf("phases = %q, want %q", got, want)
	}
	ev := clusterEvents(t, cs, ns, "slowpoke")
	if !hasEvent(ev, corev1.EventTypeNormal, "CreatingInstance", "Primary") || !hasEvent(ev, corev1.EventTypeNormal, "ClusterReady", "2/2") {
		t.Errorf("events = %v, want CreatingInstance then ClusterReady", ev)
	}

	// Scaling up goes through a phase of its own; the watch starts from
	// the current, healthy, state.
	phases = phaseWatch(t, dyn, ns, "slowpoke", readyInstances(3))
	patch := []byte(`{"spec":{"instances":3}}`)
	if _, err := dyn.Resource(clusterGVR).Namespace(ns).Patch(context.Background(), "slowpoke", types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	if got, want := collect(t, phases), []string{phaseHealthy, phaseCreatingReplica, phaseHealthy}; !slices.Equal(got, want) {
		t.Errorf("phases = %q, want %q", got, want)
	}
	u, err := dyn.Resource(clusterGVR).Namespace(ns).Get(context.Background(), "slowpoke", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if c := findCondition(u, "Ready"); c["observedGeneration"] != u.GetGeneration() {
		t.Errorf("Ready condition observedGeneration = %v, want %d", c["observedGeneration"], u.GetGeneration())
	}
	if ev := clusterEvents(t, cs, ns, "slowpoke"); !hasEvent(ev, corev1.EventTypeNormal, "CreatingInstance", "slowpoke-3") {
		t.Errorf("no event for the new replica; events: %v", ev)
	}
}

func TestFailingClusterReportsTheReason(t *testing.T) {
	t.Parallel()
	dyn, cs := clients(t)
	ns := namespace(t, "cp-fail")
	const reason = "ImagePullBackOff: ghcr.io/cloudnative-pg/postgresql:99 not found"
	env.op.Behave("broken", Fail(reason))
	createCluster(t, dyn, ns, "broken", 1)

	u := waitCluster(t, dyn, ns, "broken", "reported the failure", func(u *unstructured.Unstructured) bool {
		c := findCondition(u, "Ready")
		return c != nil && c["status"] == "False" && c["message"] == reason
	})
	phase, _, _ := unstructured.NestedString(u.Object, "status", "phase")
	if phase != phaseSettingUpPrimary {
		t.Errorf("phase = %q, want %q", phase, phaseSettingUpPrimary)
	}
	if ev := clusterEvents(t, cs, ns, "broken"); !hasEvent(ev, corev1.EventTypeWarning, "SetupFailed", reason) {
		t.Errorf("no Warning event with the reason; events: %v", ev)
	}
	if databaseExists(t, PostgresDatabase(ns, "broken", "")) {
		t.Error("a failing cluster has a database")
	}
	// CloudNativePG writes the secret before the primary exists.
	if _, err := cs.CoreV1().Secrets(ns).Get(context.Background(), "broken-app", metav1.GetOptions{}); err != nil {
		t.Errorf("app secret: %v", err)
	}

	// Fixed, it recovers.
	env.op.Behave("broken", Ready())
	waitCluster(t, dyn, ns, "broken", "recovered", healthy)
	if !databaseExists(t, PostgresDatabase(ns, "broken", "")) {
		t.Error("the recovered cluster has no database")
	}
}

func TestDeletingAClusterDropsItsDatabaseAndRole(t *testing.T) {
	t.Parallel()
	dyn, cs := clients(t)
	ns := namespace(t, "cp-delete")
	createCluster(t, dyn, ns, "gone", 1)
	waitCluster(t, dyn, ns, "gone", "healthy", healthy)
	db, role := PostgresDatabase(ns, "gone", ""), PostgresRole(ns, "gone")
	if !databaseExists(t, db) {
		t.Fatalf("database %s missing before the delete", db)
	}

	if err := dyn.Resource(clusterGVR).Namespace(ns).Delete(context.Background(), "gone", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	var roleExists bool
	err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		if err := superuser(t).QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)", role).Scan(&roleExists); err != nil {
			return false, err
		}
		return !roleExists && !databaseExists(t, db), nil
	})
	if err != nil {
		t.Fatalf("after deleting the cluster: role %s exists=%v, database %s exists=%v (%v)", role, roleExists, db, databaseExists(t, db), err)
	}
	_, err = cs.CoreV1().Secrets(ns).Get(context.Background(), "gone-app", metav1.GetOptions{})
	if !apierrors.IsNotFound(err) {
		t.Errorf("app secret after delete: %v, want not found", err)
	}
}

func TestSecretURIMatchesCloudNativePGFormat(t *testing.T) {
	data := appSecretData("127.0.0.1", 5433, "app", "app", "p@ss:w/rd")
	uri, err := url.Parse(string(data["uri"]))
	if err != nil {
		t.Fatal(err)
	}
	pw, _ := uri.User.Password()
	if uri.Scheme != "postgresql" || uri.Host != "127.0.0.1:5433" || uri.Path != "/app" || uri.User.Username() != "app" || pw != "p@ss:w/rd" {
		t.Errorf("uri = %s: wrong parts", data["uri"])
	}
	if got, want := string(data["pgpass"]), "127.0.0.1:5433:app:app:p@ss:w/rd\n"; got != want {
		t.Errorf("pgpass = %q, want %q", got, want)
	}
	if got := string(data["jdbc-uri"]); !strings.HasPrefix(got, "jdbc:postgresql://127.0.0.1:5433/app?") || !strings.Contains(got, "user=app") {
		t.Errorf("jdbc-uri = %q", got)
	}
}

func TestPostgresNames(t *testing.T) {
	long := strings.Repeat("n", 63)
	tests := []struct {
		name, got, prefix string
	}{
		{"role", PostgresRole("billing-prod", "ledger"), "billing_prod__ledger_"},
		{"app database", PostgresDatabase("billing-prod", "ledger", ""), "billing_prod__ledger_"},
		{"extra database", PostgresDatabase("billing-prod", "ledger", "reports"), "billing_prod__ledger__reports_"},
		{"dots and capitals", PostgresDatabase("a.b", "c", "Rep"), "a_b__c__rep_"},
		{"long", PostgresRole(long, "x"), strings.Repeat("n", maxIdentifier-hashLen-1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.HasPrefix(tt.got, tt.prefix) || len(tt.got) > maxIdentifier {
				t.Errorf("got %q, want %q and a hash, at most %d characters", tt.got, tt.prefix, maxIdentifier)
			}
		})
	}
	if PostgresRole("billing-prod", "ledger") != PostgresRole("billing-prod", "ledger") {
		t.Error("the same cluster gets two roles")
	}
	// Namespaces and clusters that read alike once '-' becomes '_' (and
	// long ones cut alike) are still told apart.
	seen := map[string][3]string{}
	for _, p := range [][3]string{
		{"a--b", "c", ""}, {"a", "b--c", ""}, {"a-b", "c", ""}, {"a_b", "c", ""},
		{long, "x", ""}, {long, "y", ""}, {"billing-prod", "ledger", "reports"}, {"billing-prod", "ledger-reports", ""},
		{"billing-prod", "ledger", "a_b"}, {"billing-prod", "ledger", "a__b"},
	} {
		id := PostgresDatabase(p[0], p[1], p[2])
		if other, ok := seen[id]; ok {
			t.Errorf("%v and %v share %q", other, p, id)
		}
		seen[id] = p
	}
}

func TestNewPassword(t *testing.T) {
	a, err := newPassword()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := newPassword()
	if len(a) != 64 || a == b || strings.Trim(a, passwordChars) != "" {
		t.Errorf("passwords %q, %q: want distinct, 64 characters of %s", a, b, passwordChars)
	}
}

// primaries is a Cluster's status.currentPrimary and status.targetPrimary.
func primaries(u *unstructured.Unstructured) (current, target string) {
	current, _, _ = unstructured.NestedString(u.Object, "status", "currentPrimary")
	target, _, _ = unstructured.NestedString(u.Object, "status", "targetPrimary")
	return current, target
}

func TestClusterStatusNamesItsInstancesAndPrimary(t *testing.T) {
	t.Parallel()
	dyn, _ := clients(t)
	ns := namespace(t, "cp-instances")
	for _, tt := range []struct {
		name      string
		instances int64
	}{{"solo", 1}, {"trio", 3}} {
		t.Run(tt.name, func(t *testing.T) {
			createCluster(t, dyn, ns, tt.name, tt.instances)
			u := waitCluster(t, dyn, ns, tt.name, "healthy", readyInstances(tt.instances))
			if cur, tgt := primaries(u); cur != tt.name+"-1" || tgt != tt.name+"-1" {
				t.Errorf("currentPrimary, targetPrimary = %q, %q; want %s-1 for both", cur, tgt, tt.name)
			}
			names, _, _ := unstructured.NestedStringSlice(u.Object, "status", "instanceNames")
			var want []string
			for i := range tt.instances {
				want = append(want, tt.name+"-"+strconv.FormatInt(i+1, 10))
			}
			if !slices.Equal(names, want) {
				t.Errorf("instanceNames = %q, want %q", names, want)
			}
			if n, _, _ := unstructured.NestedInt64(u.Object, "status", "instances"); n != tt.instances {
				t.Errorf("status.instances = %d, want %d", n, tt.instances)
			}
		})
	}
}

func TestDegradedClusterReportsItAndRecovers(t *testing.T) {
	t.Parallel()
	dyn, cs := clients(t)
	ns := namespace(t, "cp-degraded")
	const reason = "instance pod not ready: readiness probe failed"
	for _, tt := range []struct {
		name            string
		instances, want int64 // want: ready instances while degraded
	}{{"sickly-solo", 1, 0}, {"sickly-trio", 3, 2}} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			createCluster(t, dyn, ns, tt.name, tt.instances)
			waitCluster(t, dyn, ns, tt.name, "healthy", healthy)

			env.op.Behave(tt.name, Degraded(reason))
			u := waitCluster(t, dyn, ns, tt.name, "degraded", func(u *unstructured.Unstructured) bool {
				phase, _, _ := unstructured.NestedString(u.Object, "status", "phase")
				return phase == phaseWaitingInstances
			})
			if got, _, _ := unstructured.NestedString(u.Object, "status", "phaseReason"); got != reason {
				t.Errorf("phaseReason = %q, want %q", got, reason)
			}
			if got, _, _ := unstructured.NestedInt64(u.Object, "status", "readyInstances"); got != tt.want {
				t.Errorf("readyInstances = %d, want %d", got, tt.want)
			}
			if c := findCondition(u, "Ready"); c == nil || c["status"] != "False" || c["reason"] != reasonNotReady {
				t.Errorf("Ready condition = %v, want False (%s)", c, reasonNotReady)
			}
			if cur, _ := primaries(u); cur != tt.name+"-1" {
				t.Errorf("currentPrimary = %q, want %s-1", cur, tt.name)
			}
			if !databaseExists(t, PostgresDatabase(ns, tt.name, "")) {
				t.Error("the degraded cluster lost its database")
			}
			if ev := clusterEvents(t, cs, ns, tt.name); !hasEvent(ev, corev1.EventTypeWarning, "Degraded", reason) {
				t.Errorf("no Warning Degraded event; events: %v", ev)
			}

			env.op.Behave(tt.name, Ready())
			u = waitCluster(t, dyn, ns, tt.name, "recovered", readyInstances(tt.instances))
			if got, found, _ := unstructured.NestedString(u.Object, "status", "phaseReason"); found {
				t.Errorf("phaseReason = %q after recovery, want none", got)
			}
		})
	}
}

// primaryWatch records the distinct (phase, currentPrimary, targetPrimary)
// a Cluster's status goes through until done.
func primaryWatch(t *testing.T, dyn dynamic.Interface, ns, name string, done func(*unstructured.Unstructured) bool) <-chan string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	w, err := dyn.Resource(clusterGVR).Namespace(ns).Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + name})
	if err != nil {
		t.Fatal(err)
	}
	states := make(chan string, 16)
	go func() {
		defer close(states)
		defer w.Stop()
		last := ""
		for ev := range w.ResultChan() {
			u, ok := ev.Object.(*unstructured.Unstructured)
			if !ok {
				continue
			}
			phase, _, _ := unstructured.NestedString(u.Object, "status", "phase")
			cur, tgt := primaries(u)
			if s := phase + " " + cur + "->" + tgt; s != last {
				last = s
				states <- s
			}
			if done(u) {
				return
			}
		}
	}()
	return states
}

func TestFailoverMovesThePrimaryAndRecovers(t *testing.T) {
	t.Parallel()
	dyn, cs := clients(t)
	ns := namespace(t, "cp-failover")
	tests := []struct {
		name      string
		instances int64
		primaries []string // after each failover, from <name>-1
	}{
		{"fo-trio", 3, []string{"fo-trio-2", "fo-trio-3", "fo-trio-1"}},
		{"fo-solo", 1, []string{"fo-solo-1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			createCluster(t, dyn, ns, tt.name, tt.instances)
			waitCluster(t, dyn, ns, tt.name, "healthy", healthy)
			old := tt.name + "-1"
			for _, next := range tt.primaries {
				sawFailover := false // only the watch's goroutine uses it
				states := primaryWatch(t, dyn, ns, tt.name, func(u *unstructured.Unstructured) bool {
					if phase, _, _ := unstructured.NestedString(u.Object, "status", "phase"); phase == phaseFailOver {
						sawFailover = true
					}
					cur, tgt := primaries(u)
					return sawFailover && healthy(u) && cur == next && tgt == next
				})
				// The watch starts from the current state: wait for it
				// to be seen before failing over.
				first := <-states
				env.op.Failover(tt.name)
				got := append([]string{first}, collect(t, states)...)
				want := []string{
					phaseHealthy + " " + old + "->" + old,
					phaseFailOver + " " + old + "->" + next,
					phaseHealthy + " " + next + "->" + next,
				}
				if !slices.Equal(got, want) {
					t.Errorf("failover from %s: states = %q, want %q", old, got, want)
				}
				old = next
			}
			u := waitCluster(t, dyn, ns, tt.name, "healthy", readyInstances(tt.instances))
			if c := findCondition(u, "Ready"); c["status"] != "True" {
				t.Errorf("Ready condition after the failovers = %v", c)
			}
			ev := clusterEvents(t, cs, ns, tt.name)
			if !hasEvent(ev, corev1.EventTypeWarning, "FailingOver", "Failing over from "+tt.name+"-1 to "+tt.primaries[0]) ||
				!hasEvent(ev, corev1.EventTypeNormal, "FailoverCompleted", tt.primaries[0]) {
				t.Errorf("events = %v, want FailingOver and FailoverCompleted", ev)
			}
		})
	}
}

// TestPromoteSwitchesOver: setting status.targetPrimary, as `kubectl cnpg
// promote` does, makes the stand-in switch over to that instance; a
// target that names no instance is not followed.
func TestPromoteSwitchesOver(t *testing.T) {
	t.Parallel()
	dyn, _ := clients(t)
	ns := namespace(t, "cp-promote")
	createCluster(t, dyn, ns, "promoted", 3)
	waitCluster(t, dyn, ns, "promoted", "healthy", healthy)
	promote := func(target string) {
		t.Helper()
		patch := `{"status":{"targetPrimary":"` + target + `"}}`
		if _, err := dyn.Resource(clusterGVR).Namespace(ns).Patch(context.Background(), "promoted", types.MergePatchType, []byte(patch), metav1.PatchOptions{}, "status"); err != nil {
			t.Fatal(err)
		}
	}
	// The stand-in may write its own status over a patch it has not seen
	// yet: promote until the switchover starts.
	deadline := time.Now().Add(20 * time.Second)
	for {
		promote("promoted-3")
		time.Sleep(500 * time.Millisecond)
		got, err := dyn.Resource(clusterGVR).Namespace(ns).Get(context.Background(), "promoted", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, tgt := primaries(got); tgt == "promoted-3" || time.Now().After(deadline) {
			break
		}
	}
	u := waitCluster(t, dyn, ns, "promoted", "primary promoted-3", func(u *unstructured.Unstructured) bool {
		cur, tgt := primaries(u)
		return healthy(u) && cur == "promoted-3" && tgt == "promoted-3"
	})
	if cur, _ := primaries(u); cur != "promoted-3" {
		t.Errorf("currentPrimary = %s, want promoted-3", cur)
	}
}

func TestDeletedClusterStaysDeleted(t *testing.T) {
	t.Parallel()
	dyn, _ := clients(t)
	ns := namespace(t, "cp-deleted")
	clusters := dyn.Resource(clusterGVR).Namespace(ns)
	tests := []struct {
		name   string
		before func(name string) // just before the delete
		after  func(name string) // once it is gone
	}{
		{"del-plain", func(string) {}, func(string) {}},
		{"del-failing-over", env.op.Failover, env.op.Failover},
		{"del-degraded", func(n string) { env.op.Behave(n, Degraded("disk full")) }, func(n string) { env.op.Behave(n, Ready()) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			createCluster(t, dyn, ns, tt.name, 2)
			waitCluster(t, dyn, ns, tt.name, "healthy", healthy)
			tt.before(tt.name)
			if err := clusters.Delete(context.Background(), tt.name, metav1.DeleteOptions{}); err != nil {
				t.Fatal(err)
			}
			tt.after(tt.name)
			// Past a failover's time, and a reconcile or two later, it
			// is still gone: status writes do not bring it back.
			deadline := time.Now().Add(2 * failoverTime)
			for time.Now().Before(deadline) {
				if _, err := clusters.Get(context.Background(), tt.name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
					t.Fatalf("get the deleted cluster: %v, want not found", err)
				}
				time.Sleep(100 * time.Millisecond)
			}
		})
	}
}
