// Package deploy_test checks the deployment artifacts: the Helm chart
// renders (with the real helm `make tools` builds) and every object it
// renders passes a server-side dry run on the offline kube-apiserver; the
// Dockerfile and the GitHub App manifest say what the README promises.
package deploy_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"

	"github.com/clustropg/clustro/internal/controlplane"
	"github.com/clustropg/clustro/internal/toolchain/toolchaintest"
)

func helm(t *testing.T, args ...string) (string, error) {
	t.Helper()
	bin := filepath.Join(toolchaintest.Dir(t), "bin", "helm")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%s is missing: run `make tools`", bin)
	}
	cmd := exec.Command(bin, append(args, "--namespace", "clustro")...)
	cmd.Env = []string{"HOME=" + t.TempDir(), "PATH=" + os.Getenv("PATH")}
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	err := cmd.Run()
	if err != nil {
		return out.String(), errors.New(stderr.String())
	}
	return out.String(), nil
}

func render(t *testing.T, sets ...string) []*unstructured.Unstructured {
	t.Helper()
	args := []string{"template", "demo", filepath.Join("helm", "clustro")}
	for _, s := range sets {
		args = append(args, "--set", s)
	}
	out, err := helm(t, args...)
	if err != nil {
		t.Fatalf("helm template: %v", err)
	}
	var objs []*unstructured.Unstructured
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(out), 1<<20)
	for {
		var m map[string]any
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("decode rendered chart: %v", err)
		}
		if len(m) > 0 {
			objs = append(objs, &unstructured.Unstructured{Object: m})
		}
	}
	return objs
}

func kinds(objs []*unstructured.Unstructured) map[string]int {
	k := map[string]int{}
	for _, o := range objs {
		k[o.GetKind()]++
	}
	return k
}

// TestChartDryRun renders the chart and applies every object with a
// server-side dry run on the real API server, as `kubectl apply
// --server-side --dry-run=server` would.
func TestChartDryRun(t *testing.T) {
	cp := controlplane.StartT(t)
	ctx := context.Background()
	for _, ns := range []string{"clustro", "clustro-system", "billing-prod", "billing-dev"} {
		if err := cp.EnsureNamespace(ctx, ns); err != nil {
			t.Fatal(err)
		}
	}
	dyn, err := dynamic.NewForConfig(cp.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	installServiceMonitorCRD(t, dyn)
	dc, err := discovery.NewDiscoveryClientForConfig(cp.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))

	objs := render(t, "managedNamespaces={billing-prod,billing-dev}", "github.repo=acme/infra", "grafana.url=https://grafana.example.com")
	want := map[string]int{"Deployment": 1, "Service": 1, "ServiceAccount": 1, "ConfigMap": 1, "PersistentVolumeClaim": 1,
		"PodDisruptionBudget": 1, "ServiceMonitor": 1, "Role": 3, "RoleBinding": 3, "ClusterRole": 1, "ClusterRoleBinding": 1}
	if got := kinds(objs); !equalCounts(got, want) {
		t.Errorf("rendered %v, want %v", got, want)
	}
	for _, o := range objs {
		gvk := o.GroupVersionKind()
		m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			t.Fatalf("%s: %v", gvk, err)
		}
		var ri dynamic.ResourceInterface = dyn.Resource(m.Resource)
		if m.Scope.Name() == "namespace" {
			ns := o.GetNamespace()
			if ns == "" {
				ns = "clustro"
			}
			ri = dyn.Resource(m.Resource).Namespace(ns)
		}
		body, _ := json.Marshal(o.Object)
		force := true
		if _, err := ri.Patch(ctx, o.GetName(), types.ApplyPatchType, body, metav1.PatchOptions{
			FieldManager: "clustro-chart-test", Force: &force, DryRun: []string{metav1.DryRunAll}, FieldValidation: "Strict",
		}); err != nil {
			t.Errorf("server-side dry run of %s %s: %v", o.GetKind(), o.GetName(), err)
		}
	}
}

// TestChartRules: what the chart refuses and what least privilege means.
func TestChartRules(t *testing.T) {
	if _, err := helm(t, "template", "demo", filepath.Join("helm", "clustro"), "--set", "replicaCount=2"); err == nil ||
		!strings.Contains(err.Error(), "replicaCount > 1 requires store.type: postgres") {
		t.Errorf("two replicas on SQLite: %v", err)
	}
	objs := render(t, "replicaCount=3", "store.type=postgres", "createNamespaces=false", "managedNamespaces={a}")
	k := kinds(objs)
	if k["PersistentVolumeClaim"] != 0 || k["ClusterRole"] != 0 || k["ClusterRoleBinding"] != 0 {
		t.Errorf("postgres store without namespace creation rendered %v: no PVC and nothing cluster-wide expected", k)
	}
	for _, o := range objs {
		switch o.GetKind() {
		case "Deployment":
			if r, _, _ := unstructured.NestedFieldNoCopy(o.Object, "spec", "replicas"); fmt.Sprint(r) != "3" {
				t.Errorf("replicas %v", r)
			}
			b, _ := json.Marshal(o.Object)
			if !strings.Contains(string(b), `"key":"store-dsn"`) || !strings.Contains(string(b), `"runAsNonRoot":true`) {
				t.Errorf("deployment does not read the store DSN from the secret or may run as root")
			}
			if strings.Contains(string(b), "xoxb-") || strings.Contains(string(b), "ghp_") {
				t.Error("a credential is in the rendered chart")
			}
		case "Role", "ClusterRole":
			rules, _, _ := unstructured.NestedSlice(o.Object, "rules")
			for _, r := range rules {
				b, _ := json.Marshal(r)
				if strings.Contains(string(b), `"*"`) {
					t.Errorf("%s %s has a wildcard rule %s", o.GetKind(), o.GetName(), b)
				}
			}
		}
	}
}

func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	df := string(b)
	if strings.Count(df, "\nFROM ") < 2 {
		t.Error("not a multi-stage build")
	}
	for _, want := range []string{
		"USER 65532", // non-root
		`HEALTHCHECK`, `clustro", "healthcheck"]`,
		"terraform-provider-kubectl@v1.19.0", "filesystem_mirror", "CLUSTRO_TERRAFORM_CLI_CONFIG=/opt/clustro/terraformrc",
		"COPY --from=terraform /bin/terraform",
	} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	if strings.Contains(df, "USER root") || strings.Contains(df, "USER 0") {
		t.Error("the image runs as root")
	}
}

func TestGitHubAppManifest(t *testing.T) {
	b, err := os.ReadFile("github-app-manifest.json")
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		HookAttributes struct{ URL string } `json:"hook_attributes"`
		Permissions    map[string]string    `json:"default_permissions"`
		Events         []string             `json:"default_events"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"contents", "pull_requests", "issues", "statuses"} {
		if m.Permissions[p] != "write" {
			t.Errorf("permission %s = %q, want write", p, m.Permissions[p])
		}
	}
	if strings.Join(m.Events, ",") != "pull_request,issue_comment" {
		t.Errorf("events %v", m.Events)
	}
	if !strings.HasSuffix(m.HookAttributes.URL, "/webhooks/github") {
		t.Errorf("webhook URL %q does not end with the route /webhooks/github", m.HookAttributes.URL)
	}
}

func equalCounts(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

var crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// installServiceMonitorCRD installs a minimal ServiceMonitor CRD (the
// Prometheus Operator's is not among the test CRDs).
func installServiceMonitorCRD(t *testing.T, dyn dynamic.Interface) {
	t.Helper()
	crd := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
		"metadata": map[string]any{"name": "servicemonitors.monitoring.coreos.com"},
		"spec": map[string]any{
			"group": "monitoring.coreos.com", "scope": "Namespaced",
			"names": map[string]any{"kind": "ServiceMonitor", "listKind": "ServiceMonitorList", "plural": "servicemonitors", "singular": "servicemonitor"},
			"versions": []any{map[string]any{"name": "v1", "served": true, "storage": true,
				"schema": map[string]any{"openAPIV3Schema": map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}},
		}}}
	ctx := context.Background()
	if _, err := dyn.Resource(crdGVR).Create(ctx, crd, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for range 100 {
		u, err := dyn.Resource(crdGVR).Get(ctx, "servicemonitors.monitoring.coreos.com", metav1.GetOptions{})
		if err == nil {
			conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
			for _, c := range conds {
				if m := c.(map[string]any); m["type"] == "Established" && m["status"] == "True" {
					return
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("the ServiceMonitor CRD was not established")
}
