package e2e

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/clustropg/clustro/request"
	"github.com/clustropg/clustro/store"
)

func str(t *testing.T, u *unstructured.Unstructured, fields ...string) string {
	t.Helper()
	v, found, err := unstructured.NestedFieldNoCopy(u.Object, fields...)
	if err != nil || !found {
		t.Errorf("%s %s: field %s missing (pruned by the API server?)", u.GetKind(), u.GetName(), strings.Join(fields, "."))
		return ""
	}
	switch v := v.(type) {
	case string:
		return v
	case int64:
		return itoa(v)
	case bool:
		if v {
			return "true"
		}
		return "false"
	}
	return ""
}

func itoa(i int64) string { return strconv.FormatInt(i, 10) }

func expect(t *testing.T, what, got, want string) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %q, want %q", what, got, want)
	}
}

// TestRequestToReady is the whole loop: request, PR, plan comment, a
// reviewer's edit (M to L), merge, apply with real terraform against the
// real API server, every object read back field by field, readiness,
// credentials, a real connection, the ready notice. Then a resize and a
// deletion through pull requests.
func TestRequestToReady(t *testing.T) {
	w := newWorld(t, 2*time.Minute)
	ctx := w.ctx
	rec, created, err := w.pipe.Submit(ctx, request.DatabaseRequest{
		Spec: request.Spec{Name: "ledger", Team: "billing", Environment: "prod", Size: request.SizeM,
			Backups: request.Backups{Schedule: request.Daily}, LogicalBackup: true, Databases: []string{"reports"}},
		Requester: request.Requester{ID: "U123", Name: "Ada"}, Origin: request.Origin{Kind: request.OriginSlack, SlackChannel: "C1"},
	}, store.Idempotency{Scope: "slack", Key: "trigger-1"})
	if err != nil || !created {
		t.Fatalf("submit: %v (created %v)", err, created)
	}
	id := rec.ID()

	// The PR opens with one commit, and its plan comment arrives.
	rec = w.waitState(id, request.Planned, 2*time.Minute)
	pr, err := w.gh.PullRequest(rec.PR.Number)
	if err != nil {
		t.Fatal(err)
	}
	expect(t, "PR title", pr.GetTitle(), "clustro: create database billing/ledger (prod, M)")
	for _, want := range []string{"| Size | M |", "Reserves** 3 CPU and 12Gi memory", "Reviewer checklist", "Ada (U123)"} {
		if !strings.Contains(pr.GetBody(), want) {
			t.Errorf("PR body lacks %q", want)
		}
	}
	planComment := func() string {
		for _, c := range w.gh.Comments(rec.PR.Number) {
			if strings.Contains(c.GetBody(), "clustro:plan:databases/prod/billing/ledger") {
				return c.GetBody()
			}
		}
		return ""
	}
	if c := planComment(); !strings.Contains(c, "Plan: 7 to add, 0 to change, 0 to destroy.") || !strings.Contains(c, "<details>") {
		t.Errorf("plan comment:\n%s", c)
	}
	if sts := w.gh.Statuses(pr.GetHead().GetSHA()); len(sts) == 0 || sts[0].GetState() != "success" { // newest first, as on GitHub
		t.Errorf("clustro/plan status: %+v", sts)
	}

	// A reviewer changes M to L on the branch: verified, recorded, planned again.
	main, err := w.gh.ReadFile(pr.GetHead().GetRef(), "databases/prod/billing/ledger/main.tf")
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(main), `size             = "M"`, `size             = "L"`, 1)
	if _, err := w.gh.PushCommit(pr.GetHead().GetRef(), map[string][]byte{"databases/prod/billing/ledger/main.tf": []byte(edited)}, nil, "size L"); err != nil {
		t.Fatal(err)
	}
	w.waitFor("the reviewer's edit to be recorded", time.Minute, func() bool {
		r, _ := w.store.GetRequest(ctx, id)
		return r.Request.Size == request.SizeL
	})
	w.waitFor("the plan of the edit", 2*time.Minute, func() bool {
		r, _ := w.store.GetRequest(ctx, id)
		pr, _ := w.gh.PullRequest(rec.PR.Number)
		sts := w.gh.Statuses(pr.GetHead().GetSHA())
		return r.State == request.Planned && len(sts) > 0 && sts[0].GetState() == "success"
	})
	planComments := 0
	for _, c := range w.gh.Comments(rec.PR.Number) {
		if strings.Contains(c.GetBody(), "clustro:plan:") {
			planComments++
		}
	}
	if planComments != 1 {
		t.Errorf("%d plan comments, want 1 edited in place", planComments)
	}
	if len(w.notices.find(request.NoticeEdited)) != 1 {
		t.Errorf("no notice of the reviewer's edit")
	}

	// Merge: applied, provisioned by the operator stand-in, checked, ready.
	if _, err := w.gh.Merge(rec.PR.Number, "reviewer"); err != nil {
		t.Fatal(err)
	}
	rec = w.waitState(id, request.Ready, 3*time.Minute)

	ns := "billing-prod"
	cl := w.get(clusterGVR, ns, "ledger")
	expect(t, "Cluster instances", str(t, cl, "spec", "instances"), "3")
	expect(t, "Cluster image", str(t, cl, "spec", "imageName"), "ghcr.io/cloudnative-pg/postgresql:17.6")
	expect(t, "Cluster storage", str(t, cl, "spec", "storage", "size"), "200Gi")
	expect(t, "Cluster WAL storage", str(t, cl, "spec", "walStorage", "size"), "40Gi")
	expect(t, "Cluster cpu request", str(t, cl, "spec", "resources", "requests", "cpu"), "2")
	expect(t, "Cluster memory limit", str(t, cl, "spec", "resources", "limits", "memory"), "8Gi")
	expect(t, "shared_buffers", str(t, cl, "spec", "postgresql", "parameters", "shared_buffers"), "2048MB")
	expect(t, "effective_cache_size", str(t, cl, "spec", "postgresql", "parameters", "effective_cache_size"), "6144MB")
	expect(t, "max_connections", str(t, cl, "spec", "postgresql", "parameters", "max_connections"), "300")
	expect(t, "initdb database", str(t, cl, "spec", "bootstrap", "initdb", "database"), "app")
	plugins, _, _ := unstructured.NestedSlice(cl.Object, "spec", "plugins")
	if len(plugins) != 1 {
		t.Errorf("Cluster plugins = %v, want the Barman Cloud WAL archiver", plugins)
	} else {
		p := plugins[0].(map[string]any)
		if p["name"] != "barman-cloud.cloudnative-pg.io" || p["isWALArchiver"] != true || p["parameters"].(map[string]any)["barmanObjectName"] != "ledger-backups" {
			t.Errorf("plugin = %v", p)
		}
	}
	obj := w.get(objectStoreGVR, ns, "ledger-backups")
	expect(t, "ObjectStore destinationPath", str(t, obj, "spec", "configuration", "destinationPath"), "s3://clustro-backups/prod/billing")
	expect(t, "ObjectStore endpointURL", str(t, obj, "spec", "configuration", "endpointURL"), "http://minio.minio.svc.cluster.local:9000")
	expect(t, "ObjectStore credentials secret", str(t, obj, "spec", "configuration", "s3Credentials", "accessKeyId", "name"), "clustro-backup-credentials")
	expect(t, "ObjectStore retention", str(t, obj, "spec", "retentionPolicy"), "30d")
	sb := w.get(scheduledBackupGVR, ns, "ledger-daily")
	schedule := str(t, sb, "spec", "schedule")
	expect(t, "ScheduledBackup schedule", schedule, "0 0 3 * * *")
	if n := len(strings.Fields(schedule)); n != 6 {
		t.Errorf("ScheduledBackup schedule %q has %d fields; CloudNativePG reads six (seconds first)", schedule, n)
	}
	expect(t, "ScheduledBackup method", str(t, sb, "spec", "method"), "plugin")
	expect(t, "ScheduledBackup cluster", str(t, sb, "spec", "cluster", "name"), "ledger")
	expect(t, "ScheduledBackup plugin", str(t, sb, "spec", "pluginConfiguration", "name"), "barman-cloud.cloudnative-pg.io")
	pm := w.get(podMonitorGVR, ns, "ledger")
	expect(t, "PodMonitor selector", str(t, pm, "spec", "selector", "matchLabels", "cnpg.io/cluster"), "ledger")
	cj := w.get(cronJobGVR, ns, "ledger-pgdump")
	expect(t, "pg_dump schedule", str(t, cj, "spec", "schedule"), "30 3 * * *")
	containers, _, _ := unstructured.NestedSlice(cj.Object, "spec", "jobTemplate", "spec", "template", "spec", "initContainers")
	if len(containers) != 1 || !strings.Contains(strings.Join(toStrings(containers[0].(map[string]any)["command"]), " "), "pg_dump -Fc") {
		t.Errorf("pg_dump init container = %v", containers)
	}
	db := w.get(databaseGVR, ns, "ledger-db-reports")
	expect(t, "Database name", str(t, db, "spec", "name"), "reports")
	expect(t, "Database owner", str(t, db, "spec", "owner"), "app")
	expect(t, "Database cluster", str(t, db, "spec", "cluster", "name"), "ledger")

	// The ready notice: hosts and the Grafana link, no password.
	ready := w.notices.find(request.NoticeReady)
	if len(ready) != 1 || ready[0].Ready == nil {
		t.Fatalf("ready notices: %+v", ready)
	}
	info := ready[0].Ready
	expect(t, "rw host", info.RWHost, "ledger-rw.billing-prod.svc.cluster.local")
	expect(t, "ro host", info.ROHost, "ledger-ro.billing-prod.svc.cluster.local")
	expect(t, "grafana", info.Grafana, "https://grafana.example.com/d/cloudnative-pg/cloudnativepg?var-namespace=billing-prod&var-cluster=ledger")
	// The credentials really connect.
	conn, err := w.kube.Connection(ctx, ns, "ledger")
	if err != nil {
		t.Fatal(err)
	}
	pg, err := pgx.Connect(ctx, "postgres://"+conn.User+":"+conn.Password.Reveal()+"@"+conn.SecretHost+":"+itoa(int64(conn.SecretPort))+"/"+conn.Database)
	if err != nil {
		t.Fatalf("connect with the app secret: %v", err)
	}
	var one int
	if err := pg.QueryRow(ctx, "select 1").Scan(&one); err != nil || one != 1 {
		t.Errorf("select 1: %v", err)
	}
	pg.Close(ctx)
	if strings.Contains(w.logs.String(), conn.Password.Reveal()) {
		t.Error("the database password is in the logs")
	}

	// Resize L -> XL through a new pull request.
	rs, _, err := w.pipe.Change(ctx, request.Change{Kind: request.Resize, Environment: "prod", Team: "billing", Name: "ledger", Size: request.SizeXL,
		Requester: request.Requester{ID: "U123"}, Origin: request.Origin{Kind: request.OriginSlack}}, store.Idempotency{})
	if err != nil {
		t.Fatal(err)
	}
	rs = w.waitState(rs.ID(), request.Planned, 2*time.Minute)
	if c := w.gh.Comments(rs.PR.Number); len(c) == 0 || !strings.Contains(c[len(c)-1].GetBody(), "1 to change") {
		t.Errorf("resize plan: %v", c)
	}
	w.gh.Merge(rs.PR.Number, "reviewer")
	w.waitState(rs.ID(), request.Ready, 3*time.Minute)
	expect(t, "resized memory limit", str(t, w.get(clusterGVR, ns, "ledger"), "spec", "resources", "limits", "memory"), "16Gi")

	// Delete: the PR removes the workspace; merging destroys it.
	del, _, err := w.pipe.Change(ctx, request.Change{Kind: request.Destroy, Environment: "prod", Team: "billing", Name: "ledger",
		Requester: request.Requester{ID: "U123"}, Origin: request.Origin{Kind: request.OriginSlack}}, store.Idempotency{})
	if err != nil {
		t.Fatal(err)
	}
	del = w.waitState(del.ID(), request.Planned, 2*time.Minute)
	if c := w.gh.Comments(del.PR.Number); len(c) == 0 || !strings.Contains(c[len(c)-1].GetBody(), "to destroy") {
		t.Errorf("deletion plan: %v", c)
	}
	w.gh.Merge(del.PR.Number, "reviewer")
	w.waitState(del.ID(), request.Deleted, 3*time.Minute)
	w.waitFor("the Cluster to be deleted", time.Minute, func() bool { return !w.exists(clusterGVR, ns, "ledger") })
	if tree, _ := w.gh.ListTree("main"); strings.Contains(strings.Join(tree, " "), "databases/prod/billing/ledger/main.tf") {
		t.Error("the workspace is still on main after the deletion")
	}

	// The audit trail has every step and no secret.
	evs, err := w.store.Events(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var states []string
	for _, e := range evs {
		if e.From != e.To {
			states = append(states, string(e.To))
		}
		for _, secret := range []string{webhookSecret, githubToken, conn.Password.Reveal()} {
			if strings.Contains(e.Detail, secret) || strings.Contains(e.Actor, secret) {
				t.Errorf("a secret is in the audit event %+v", e)
			}
		}
	}
	if got := strings.Join(states, ","); got != "submitted,pr_open,planned,merged,applying,provisioning,ready" {
		t.Errorf("lifecycle %s", got)
	}
	for _, secret := range []string{webhookSecret, githubToken, conn.Password.Reveal()} {
		if strings.Contains(w.logs.String(), secret) {
			t.Errorf("a secret is in the logs")
		}
		for _, n := range w.notices.all() {
			if strings.Contains(n.Text+n.Next, secret) {
				t.Errorf("a secret is in the notice %q", n.Text)
			}
		}
		for _, c := range w.gh.Comments(rec.PR.Number) {
			if strings.Contains(c.GetBody(), secret) {
				t.Errorf("a secret is in a PR comment")
			}
		}
	}
}

func toStrings(v any) []string {
	l, _ := v.([]any)
	out := make([]string, 0, len(l))
	for _, e := range l {
		s, _ := e.(string)
		out = append(out, s)
	}
	return out
}
