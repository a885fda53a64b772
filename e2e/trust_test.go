package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/clustropg/clustro/request"
	"github.com/clustropg/clustro/store"
)

func (w *world) submit(name, team, env string, size request.Size) store.Record {
	w.t.Helper()
	rec, _, err := w.pipe.Submit(w.ctx, request.DatabaseRequest{
		Spec:      request.Spec{Name: name, Team: team, Environment: env, Size: size},
		Requester: request.Requester{ID: "U9"}, Origin: request.Origin{Kind: request.OriginAPI, APIClient: "backstage"},
	}, store.Idempotency{})
	if err != nil {
		w.t.Fatal(err)
	}
	return rec
}

func (w *world) jobs(kind, requestID string) int {
	w.t.Helper()
	js, err := w.store.ListJobs(w.ctx, store.JobFilter{Kind: kind, RequestID: requestID})
	if err != nil {
		w.t.Fatal(err)
	}
	return len(js)
}

// TestTamperedPushesAreNeverPlanned: pushes that add code, a provider, a
// new module source, or touch files outside the workspace are refused with
// a comment that says what and why, a failed status, and no plan: nothing
// from an unverified push runs.
func TestTamperedPushesAreNeverPlanned(t *testing.T) {
	w := newWorld(t, time.Minute)
	rec := w.submit("scratch", "growth", "dev", request.SizeS)
	rec = w.waitState(rec.ID(), request.Planned, 2*time.Minute)
	pr, _ := w.gh.PullRequest(rec.PR.Number)
	branch := pr.GetHead().GetRef()
	const ws = "databases/dev/growth/scratch/main.tf"
	main, err := w.gh.ReadFile(branch, ws)
	if err != nil {
		t.Fatal(err)
	}
	// Terraform plans run so far: refused pushes must not add any.
	plans := w.applied.count("plan")

	pushes := []struct {
		name  string
		files map[string][]byte
		want  string
	}{
		{"data external", map[string][]byte{ws: append(append([]byte{}, main...), "\ndata \"external\" \"pwn\" {\n  program = [\"sh\", \"-c\", \"env\"]\n}\n"...)},
			`block data "external" "pwn" is not allowed`},
		{"a new provider", map[string][]byte{ws: append(append([]byte{}, main...), "\nprovider \"aws\" {\n  region = \"us-east-1\"\n}\n"...)},
			`block provider "aws" is not allowed`},
		{"another module source", map[string][]byte{ws: []byte(strings.Replace(string(main), `"../../../../modules/cnpg-database"`, `"git::https://evil.example/m.git"`, 1))},
			`source must be "../../../../modules/cnpg-database"`},
		{"a restore added in review", map[string][]byte{ws: []byte(strings.Replace(string(main), `source = "../../../../modules/cnpg-database"`, "source = \"../../../../modules/cnpg-database\"\n  restore_source = \"elsewhere\"", 1))},
			"`restore_source`: a restore is asked for as one"},
		{"the module itself", map[string][]byte{"modules/cnpg-database/cluster.tf": []byte("resource \"null_resource\" \"x\" {}\n")},
			"`modules/cnpg-database/cluster.tf`: this pull request may change only `databases/dev/growth/scratch/`"},
		{"another workspace", map[string][]byte{"databases/prod/growth/other/main.tf": main},
			"`databases/prod/growth/other/main.tf`: this pull request may change only"},
	}
	for i, p := range pushes {
		files := p.files
		if i > 0 {
			// Each push starts from the clean workspace again.
			if _, ok := files[ws]; !ok {
				files[ws] = main
			}
		}
		sha, err := w.gh.PushCommit(branch, files, nil, p.name)
		if err != nil {
			t.Fatal(err)
		}
		w.waitFor("the refusal of "+p.name, time.Minute, func() bool {
			sts := w.gh.Statuses(sha)
			return len(sts) > 0 && sts[0].GetState() == "failure"
		})
		var refusal string
		for _, c := range w.gh.Comments(rec.PR.Number) {
			if strings.Contains(c.GetBody(), "clustro:verify") {
				refusal = c.GetBody()
			}
		}
		if !strings.Contains(refusal, p.want) || !strings.Contains(refusal, "Nothing was planned") {
			t.Errorf("%s: the refusal comment does not say %q:\n%s", p.name, p.want, refusal)
		}
		// Undo the push: restore what main has, remove what it has not.
		restore, remove := map[string][]byte{ws: main}, []string{}
		for f := range p.files {
			if f == ws {
				continue
			}
			if orig, err := w.gh.ReadFile("main", f); err == nil {
				restore[f] = orig
			} else {
				remove = append(remove, f)
			}
		}
		if len(restore) > 1 || len(remove) > 0 {
			if _, err := w.gh.PushCommit(branch, restore, remove, "undo "+p.name); err != nil {
				t.Fatal(err)
			}
			w.waitFor("the undo to be planned", time.Minute, func() bool { return w.applied.count("plan") > plans })
			plans = w.applied.count("plan")
		}
	}
	// Only clean pushes were planned by terraform (the first plan and the undos).
	w.waitFor("every job to finish", time.Minute, func() bool {
		js, _ := w.store.ListJobs(w.ctx, store.JobFilter{RequestID: rec.ID(), States: []store.JobState{store.JobQueued, store.JobRunning}})
		return len(js) == 0
	})
	if got := w.applied.count("plan"); got != plans {
		t.Errorf("terraform planned %d times, want %d: a refused push was planned", got, plans)
	}
	comments := 0
	for _, c := range w.gh.Comments(rec.PR.Number) {
		if strings.Contains(c.GetBody(), "clustro:verify") {
			comments++
		}
	}
	if comments != 1 {
		t.Errorf("%d refusal comments, want one edited in place", comments)
	}
	if len(w.notices.find(request.NoticeRefused)) != len(pushes) {
		t.Errorf("%d refusal notices, want %d", len(w.notices.find(request.NoticeRefused)), len(pushes))
	}
}

// TestFailedApplyThenRetry: an apply the API server rejects leaves the
// request failed with the reason on the PR and in the notice; after the
// cause is fixed, `/clustro apply` on the PR retries it to ready.
func TestFailedApplyThenRetry(t *testing.T) {
	w := newWorld(t, time.Minute)
	const ns = "payments-dev"
	if err := w.cp.EnsureNamespace(w.ctx, ns); err != nil {
		t.Fatal(err)
	}
	// The API server itself refuses every Cluster in the namespace: a
	// ValidatingAdmissionPolicy, evaluated in the API server (no webhook).
	w.freezeClusters(ns, true)
	rec := w.submit("wallet", "payments", "dev", request.SizeS)
	rec = w.waitState(rec.ID(), request.Planned, 2*time.Minute)
	if _, err := w.gh.Merge(rec.PR.Number, "reviewer"); err != nil {
		t.Fatal(err)
	}
	rec = w.waitState(rec.ID(), request.Failed, 3*time.Minute)
	if rec.Failure == nil || rec.Failure.Step != string(request.Applying) || !rec.Failure.Retryable || !strings.Contains(rec.Failure.Reason, "clusters are frozen") {
		t.Fatalf("failure = %+v", rec.Failure)
	}
	failed := w.notices.find(request.NoticeFailed)
	if len(failed) != 1 || !strings.Contains(failed[0].Next, "/clustro apply") {
		t.Errorf("failed notices: %+v", failed)
	}
	found := false
	for _, c := range w.gh.Comments(rec.PR.Number) {
		if strings.Contains(c.GetBody(), "applying failed") && strings.Contains(c.GetBody(), "clusters are frozen") {
			found = true
		}
	}
	if !found {
		t.Error("no PR comment reports the failed apply")
	}

	// Fix the cause, then retry from the PR.
	w.freezeClusters(ns, false)
	// Someone outside the repository may not.
	if _, err := w.gh.Comment(rec.PR.Number, "stranger", "/clustro apply"); err != nil {
		t.Fatal(err)
	}
	w.waitFor("the stranger's command to be refused", time.Minute, func() bool {
		for _, c := range w.gh.Comments(rec.PR.Number) {
			if strings.Contains(c.GetBody(), "@stranger is not allowed to run ClustroPG commands") {
				return true
			}
		}
		return false
	})
	if r, _ := w.store.GetRequest(w.ctx, rec.ID()); r.State != request.Failed {
		t.Fatalf("a stranger's /clustro apply moved the request to %s", r.State)
	}
	if _, err := w.gh.Comment(rec.PR.Number, "reviewer", "/clustro apply"); err != nil {
		t.Fatal(err)
	}
	w.waitFor("the retry to start", time.Minute, func() bool {
		r, _ := w.store.GetRequest(w.ctx, rec.ID())
		return r.State != request.Failed
	})
	w.waitState(rec.ID(), request.Ready, 3*time.Minute)
	evs, _ := w.store.Events(w.ctx, rec.ID())
	var retried bool
	for _, e := range evs {
		if e.From == request.Failed && e.To == request.Applying && e.Actor == "reviewer" && e.Origin == "github" {
			retried = true
		}
	}
	if !retried {
		t.Errorf("no audit event of the retry by the reviewer: %+v", evs)
	}
}

// TestReadinessTimeout: a cluster that never becomes ready fails the
// request at provisioning with the operator's reason.
func TestReadinessTimeout(t *testing.T) {
	w := newWorld(t, 3*time.Second)
	w.op.Behave("stuck", controlplaneFail("ImagePullBackOff: ghcr.io/cloudnative-pg/postgresql:17.6 not found"))
	rec := w.submit("stuck", "search", "dev", request.SizeS)
	rec = w.waitState(rec.ID(), request.Planned, 2*time.Minute)
	w.gh.Merge(rec.PR.Number, "reviewer")
	rec = w.waitState(rec.ID(), request.Failed, 3*time.Minute)
	if rec.Failure.Step != string(request.Provisioning) || !strings.Contains(rec.Failure.Reason, "ImagePullBackOff") || !strings.Contains(rec.Failure.Reason, "0/1 instances ready") {
		t.Errorf("failure = %+v", rec.Failure)
	}
}

var (
	policyGVR  = schema.GroupVersionResource{Group: "admissionregistration.k8s.io", Version: "v1", Resource: "validatingadmissionpolicies"}
	bindingGVR = schema.GroupVersionResource{Group: "admissionregistration.k8s.io", Version: "v1", Resource: "validatingadmissionpolicybindings"}
)

// freezeClusters makes the API server refuse (or accept again) every
// CloudNativePG Cluster written in ns, and waits until it does.
func (w *world) freezeClusters(ns string, on bool) {
	w.t.Helper()
	name := "freeze-" + ns
	if on {
		policy := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
			"metadata": map[string]any{"name": name},
			"spec": map[string]any{
				"failurePolicy": "Fail",
				"matchConstraints": map[string]any{"resourceRules": []any{map[string]any{
					"apiGroups": []any{"postgresql.cnpg.io"}, "apiVersions": []any{"v1"},
					"operations": []any{"CREATE", "UPDATE"}, "resources": []any{"clusters"}}}},
				"validations": []any{map[string]any{"expression": "false", "message": "clusters are frozen in " + ns}},
			}}}
		binding := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicyBinding",
			"metadata": map[string]any{"name": name},
			"spec": map[string]any{"policyName": name, "validationActions": []any{"Deny"},
				"matchResources": map[string]any{"namespaceSelector": map[string]any{"matchLabels": map[string]any{"kubernetes.io/metadata.name": ns}}}},
		}}
		if _, err := w.dyn.Resource(policyGVR).Create(w.ctx, policy, metav1.CreateOptions{}); err != nil {
			w.t.Fatal(err)
		}
		if _, err := w.dyn.Resource(bindingGVR).Create(w.ctx, binding, metav1.CreateOptions{}); err != nil {
			w.t.Fatal(err)
		}
	} else {
		w.dyn.Resource(bindingGVR).Delete(w.ctx, name, metav1.DeleteOptions{})
		w.dyn.Resource(policyGVR).Delete(w.ctx, name, metav1.DeleteOptions{})
	}
	probe := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster",
		"metadata": map[string]any{"name": "probe", "namespace": ns},
		"spec":     map[string]any{"instances": int64(1), "storage": map[string]any{"size": "1Gi"}},
	}}
	w.waitFor("the admission policy to take effect", time.Minute, func() bool {
		_, err := w.dyn.Resource(clusterGVR).Namespace(ns).Create(w.ctx, probe, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		return (err != nil) == on
	})
}

// TestMergeWhilePlanning: a reviewer pushes an edit and merges at once, so
// the merge arrives while the edit is still being verified and planned.
// The apply verifies the merged commit itself; the request ends ready with
// the edit, and the late plan does not move it back.
func TestMergeWhilePlanning(t *testing.T) {
	w := newWorld(t, time.Minute)
	rec := w.submit("orders", "shop", "dev", request.SizeS)
	rec = w.waitState(rec.ID(), request.Planned, 2*time.Minute)
	pr, _ := w.gh.PullRequest(rec.PR.Number)
	const ws = "databases/dev/shop/orders/main.tf"
	main, err := w.gh.ReadFile(pr.GetHead().GetRef(), ws)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(main), `size             = "S"`, `size             = "M"`, 1)
	if _, err := w.gh.PushCommit(pr.GetHead().GetRef(), map[string][]byte{ws: []byte(edited)}, nil, "size M"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.gh.Merge(rec.PR.Number, "reviewer"); err != nil {
		t.Fatal(err)
	}
	rec = w.waitState(rec.ID(), request.Ready, 3*time.Minute)
	if rec.Request.Size != request.SizeM {
		t.Errorf("the stored request has size %s, want the merged M", rec.Request.Size)
	}
	expect(t, "memory limit", str(t, w.get(clusterGVR, "shop-dev", "orders"), "spec", "resources", "limits", "memory"), "4Gi")
	// Every job of the request has finished (a late plan included), and
	// none moved it back or failed.
	w.waitFor("every job to finish", time.Minute, func() bool {
		js, _ := w.store.ListJobs(w.ctx, store.JobFilter{RequestID: rec.ID(), States: []store.JobState{store.JobQueued, store.JobRunning}})
		return len(js) == 0
	})
	if r, _ := w.store.GetRequest(w.ctx, rec.ID()); r.State != request.Ready {
		t.Errorf("a late event moved the request to %s", r.State)
	}
	if dead, _ := w.store.ListJobs(w.ctx, store.JobFilter{RequestID: rec.ID(), States: []store.JobState{store.JobFailed, store.JobDead}}); len(dead) > 0 {
		t.Errorf("%d jobs failed: %+v", len(dead), dead)
	}
}

// TestLostMergeDeliveryIsRecovered: GitHub does not redeliver a failed
// webhook; Sync finds the merge and the request is applied anyway.
func TestLostMergeDeliveryIsRecovered(t *testing.T) {
	w := newWorld(t, time.Minute)
	rec := w.submit("lost", "sync", "dev", request.SizeS)
	rec = w.waitState(rec.ID(), request.Planned, 2*time.Minute)
	w.gh.SetWebhook("http://127.0.0.1:1/webhooks/github", webhookSecret) // clustro is down
	if _, err := w.gh.Merge(rec.PR.Number, "reviewer"); err != nil {
		t.Fatal(err)
	}
	w.gh.Flush()
	if r, _ := w.store.GetRequest(w.ctx, rec.ID()); r.State != request.Planned {
		t.Fatalf("the merge reached clustro after all (%s): the test proves nothing", r.State)
	}
	if err := w.pipe.Sync(w.ctx); err != nil {
		t.Fatal(err)
	}
	w.waitState(rec.ID(), request.Ready, 3*time.Minute)
	if err := w.pipe.Sync(w.ctx); err != nil { // nothing left to catch up
		t.Fatal(err)
	}
}

// TestMergedOutsideChangeIsNotApplied: a reviewer merges a pull request
// whose push was refused (it changed the module). The apply finds the
// module among the pull request's files, refuses, applies nothing, and
// closes the request so that the database can be asked for again.
func TestMergedOutsideChangeIsNotApplied(t *testing.T) {
	w := newWorld(t, time.Minute)
	rec := w.submit("sneaky", "shop", "dev", request.SizeS)
	rec = w.waitState(rec.ID(), request.Planned, 2*time.Minute)
	pr, _ := w.gh.PullRequest(rec.PR.Number)
	module, err := w.gh.ReadFile("main", "modules/cnpg-database/cluster.tf")
	if err != nil {
		t.Fatal(err)
	}
	sha, err := w.gh.PushCommit(pr.GetHead().GetRef(), map[string][]byte{
		"modules/cnpg-database/cluster.tf": append(module, "\ndata \"external\" \"x\" {\n  program = [\"sh\"]\n}\n"...)}, nil, "tweak the module")
	if err != nil {
		t.Fatal(err)
	}
	w.waitFor("the push to be refused", time.Minute, func() bool {
		sts := w.gh.Statuses(sha)
		return len(sts) > 0 && sts[0].GetState() == "failure"
	})
	if _, err := w.gh.Merge(rec.PR.Number, "reviewer"); err != nil { // merged anyway
		t.Fatal(err)
	}
	rec = w.waitState(rec.ID(), request.Failed, 3*time.Minute)
	if rec.Failure.Retryable || !strings.Contains(rec.Failure.Reason, "modules/cnpg-database/cluster.tf") {
		t.Errorf("failure = %+v", rec.Failure)
	}
	if w.exists(clusterGVR, "shop-dev", "sneaky") {
		t.Error("a Cluster was created from a merge that changed the module")
	}
	if n := w.jobs("apply", rec.ID()); n != 1 {
		t.Errorf("%d apply jobs", n)
	}
	// Closed by that failure: the database can be asked for again.
	if _, _, err := w.pipe.Submit(w.ctx, request.DatabaseRequest{Spec: request.Spec{Name: "sneaky", Team: "shop", Environment: "dev", Size: request.SizeS}},
		store.Idempotency{}); err != nil {
		t.Errorf("asking again after a closed failure: %v", err)
	}
}

// TestReopenedAfterCancel: a pull request closed (cancelling its request),
// reopened and merged is neither planned nor applied, and the PR says so.
func TestReopenedAfterCancel(t *testing.T) {
	w := newWorld(t, time.Minute)
	rec := w.submit("second", "thoughts", "dev", request.SizeS)
	rec = w.waitState(rec.ID(), request.Planned, 2*time.Minute)
	if err := w.gh.ClosePull(rec.PR.Number, "reviewer"); err != nil {
		t.Fatal(err)
	}
	w.waitState(rec.ID(), request.Cancelled, time.Minute)
	if err := w.gh.ReopenPull(rec.PR.Number, "reviewer"); err != nil {
		t.Fatal(err)
	}
	hasComment := func(s string) bool {
		for _, c := range w.gh.Comments(rec.PR.Number) {
			if strings.Contains(c.GetBody(), s) {
				return true
			}
		}
		return false
	}
	w.waitFor("the reopen to be answered", time.Minute, func() bool { return hasComment("This request was cancelled") })
	if _, err := w.gh.Merge(rec.PR.Number, "reviewer"); err != nil {
		t.Fatal(err)
	}
	w.waitFor("the merge to be answered", time.Minute, func() bool { return hasComment("ClustroPG applied nothing") })
	if w.jobs("apply", rec.ID()) != 0 || w.exists(clusterGVR, "thoughts-dev", "second") {
		t.Error("a cancelled request was applied")
	}
}

// TestEveryMergeMethodAppliesAWorkspaceOnlyPR: a pull request of several
// commits that change only its workspace (ClustroPG's own, then a
// reviewer's size and instances edits, each verified and planned) is
// applied whichever way it is merged: a merge commit, a squash, or a rebase
// that writes each commit on main.
func TestEveryMergeMethodAppliesAWorkspaceOnlyPR(t *testing.T) {
	w := newWorld(t, time.Minute)
	methods := []string{"merge", "squash", "rebase"}
	recs := make([]store.Record, len(methods))
	for i, method := range methods {
		recs[i] = w.submit("by-"+method, "shop", "dev", request.SizeS)
	}
	merges := make([]string, len(methods))
	for i, method := range methods {
		rec := w.waitState(recs[i].ID(), request.Planned, 2*time.Minute)
		pr, _ := w.gh.PullRequest(rec.PR.Number)
		branch, ws := pr.GetHead().GetRef(), "databases/dev/shop/by-"+method+"/main.tf"
		main, err := w.gh.ReadFile(branch, ws)
		if err != nil {
			t.Fatal(err)
		}
		sized := strings.Replace(string(main), `size             = "S"`, `size             = "M"`, 1)
		if _, err := w.gh.PushCommit(branch, map[string][]byte{ws: []byte(sized)}, nil, "size M"); err != nil {
			t.Fatal(err)
		}
		two := strings.Replace(sized, "instances        = 1", "instances        = 2", 1)
		head, err := w.gh.PushCommit(branch, map[string][]byte{ws: []byte(two)}, nil, "two instances")
		if err != nil {
			t.Fatal(err)
		}
		w.waitFor("the last push to be planned", 2*time.Minute, func() bool {
			sts := w.gh.Statuses(head)
			return len(sts) > 0 && sts[0].GetState() == "success"
		})
		if merges[i], err = w.gh.MergeWith(rec.PR.Number, "reviewer", method); err != nil {
			t.Fatal(err)
		}
	}
	for i, method := range methods {
		rec := w.waitState(recs[i].ID(), request.Ready, 3*time.Minute)
		if rec.Request.Size != request.SizeM || rec.Request.Instances != 2 {
			t.Errorf("%s: the stored request has size %s and %d instances, want the merged M and 2", method, rec.Request.Size, rec.Request.Instances)
		}
		cluster := w.get(clusterGVR, "shop-dev", "by-"+method)
		expect(t, method+": memory limit", str(t, cluster, "spec", "resources", "limits", "memory"), "4Gi")
		if n, _, _ := unstructured.NestedInt64(cluster.Object, "spec", "instances"); n != 2 {
			t.Errorf("%s: the Cluster has %d instances, want 2", method, n)
		}
		// The merge was made the way it says: two parents for a merge
		// commit, one for a squash, and for a rebase one commit on main
		// per pull request commit, the last of them only an edit.
		log, err := w.gh.Log(merges[i])
		if err != nil {
			t.Fatal(err)
		}
		parents := map[string]int{"merge": 2, "squash": 1, "rebase": 1}[method]
		if len(log[0].Parents) != parents || (method == "rebase" && log[0].Message != "two instances") {
			t.Errorf("%s: the merge commit has %d parents and says %q", method, len(log[0].Parents), log[0].Message)
		}
	}
}

// TestNoMergeMethodHidesAModuleChange: a pull request whose first added
// commit changes the module, and whose last changes only the workspace,
// is merged anyway, once with each merge method. A rebase merge puts a
// workspace-only commit last on main, so the merge commit against its
// parent shows no module change; the pull request's files do. Whatever the
// method, nothing is applied: the request fails for good naming the module
// file, on the pull request too, and neither the module's extra object nor
// the database exists.
func TestNoMergeMethodHidesAModuleChange(t *testing.T) {
	w := newWorld(t, time.Minute)
	methods := []string{"merge", "squash", "rebase"}
	recs := make([]store.Record, len(methods))
	for i, method := range methods {
		recs[i] = w.submit("hidden-"+method, "shop", "dev", request.SizeS)
	}
	moduleFile := func(method string) string { return "modules/cnpg-database/zz-" + method + ".tf" }
	merges := make([]string, len(methods))
	for i, method := range methods {
		rec := w.waitState(recs[i].ID(), request.Planned, 2*time.Minute)
		pr, _ := w.gh.PullRequest(rec.PR.Number)
		branch, ws := pr.GetHead().GetRef(), "databases/dev/shop/hidden-"+method+"/main.tf"
		// Applied, this would write a ConfigMap next to the database.
		module := `resource "kubectl_manifest" "pwned_` + method + `" {
  yaml_body = <<-YAML
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: pwned-` + method + `
      namespace: ${var.namespace}
    data:
      by: a module change hidden in a pull request
  YAML

  depends_on = [kubectl_manifest.namespace]
}
`
		if _, err := w.gh.PushCommit(branch, map[string][]byte{moduleFile(method): []byte(module)}, nil, "tweak the module"); err != nil {
			t.Fatal(err)
		}
		main, err := w.gh.ReadFile(branch, ws)
		if err != nil {
			t.Fatal(err)
		}
		edited := strings.Replace(string(main), `size             = "S"`, `size             = "M"`, 1)
		head, err := w.gh.PushCommit(branch, map[string][]byte{ws: []byte(edited)}, nil, "size M")
		if err != nil {
			t.Fatal(err)
		}
		w.waitFor("the last push to be refused", time.Minute, func() bool {
			sts := w.gh.Statuses(head)
			return len(sts) > 0 && sts[0].GetState() == "failure"
		})
		if merges[i], err = w.gh.MergeWith(rec.PR.Number, "reviewer", method); err != nil { // merged anyway
			t.Fatal(err)
		}
	}
	for i, method := range methods {
		rec := w.waitState(recs[i].ID(), request.Failed, 3*time.Minute)
		file := moduleFile(method)
		if rec.Failure == nil || rec.Failure.Retryable || !strings.Contains(rec.Failure.Reason, fmt.Sprintf("pull request #%d changed files outside databases/dev/shop/hidden-%s (%s)", rec.PR.Number, method, file)) {
			t.Errorf("%s: failure = %+v", method, rec.Failure)
		}
		commented := false
		for _, c := range w.gh.Comments(rec.PR.Number) {
			if strings.Contains(c.GetBody(), "applying failed") && strings.Contains(c.GetBody(), file) {
				commented = true
			}
		}
		if !commented {
			t.Errorf("%s: no PR comment names %s", method, file)
		}
		if w.exists(clusterGVR, "shop-dev", "hidden-"+method) || w.exists(configMapGVR, "shop-dev", "pwned-"+method) {
			t.Errorf("%s: something was applied from a merge that changed the module", method)
		}
		if method == "rebase" {
			// The module file came in the merge commit's parent already.
			log, _ := w.gh.Log(merges[i])
			if _, err := w.gh.ReadFile(log[0].Parents[0], file); err != nil || log[0].Message != "size M" {
				t.Errorf("the rebase did not put the module change before the last commit: %v, %q", err, log[0].Message)
			}
		}
	}
	if n := w.applied.count(string(request.Applying)); n != 0 {
		t.Errorf("terraform ran %d applies", n)
	}
}

var configMapGVR = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
