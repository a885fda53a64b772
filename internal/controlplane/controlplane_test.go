package controlplane

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

func TestKubeconfigTrustsTheServerCertificate(t *testing.T) {
	cfg, err := clientcmd.LoadFromFile(env.cp.Kubeconfig())
	if err != nil {
		t.Fatal(err)
	}
	cluster := cfg.Clusters[cfg.Contexts[cfg.CurrentContext].Cluster]
	if cluster.InsecureSkipTLSVerify {
		t.Error("kubeconfig skips TLS verification; Terraform's kubernetes backend would not")
	}
	if want := filepath.Join(env.cp.Dir(), "certs", "apiserver.crt"); cluster.CertificateAuthority != want {
		t.Errorf("certificate-authority = %q, want %q", cluster.CertificateAuthority, want)
	}
	if !strings.HasPrefix(cluster.Server, "https://127.0.0.1:") {
		t.Errorf("server = %q, want https://127.0.0.1:<port>", cluster.Server)
	}

	rc, err := clientcmd.BuildConfigFromFlags("", env.cp.Kubeconfig())
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Namespaces().Get(context.Background(), "default", metav1.GetOptions{}); err != nil {
		t.Fatalf("read namespace default through the kubeconfig: %v", err)
	}
}

func TestRealCRDsAreEstablished(t *testing.T) {
	if os.Getenv(EnvCRDs) == "" {
		root, err := repoRoot()
		if err != nil {
			t.Fatal(err)
		}
		want := filepath.Join(filepath.Dir(root), "shared", "cnpg", "crds")
		if _, err := os.Stat(want); err == nil && env.cp.CRDSource() != want {
			t.Errorf("CRDs came from %s, want the real ones in %s", env.cp.CRDSource(), want)
		}
	}
	dyn, err := dynamic.NewForConfig(env.cp.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, kind string
	}{
		{"clusters.postgresql.cnpg.io", "Cluster"},
		{"scheduledbackups.postgresql.cnpg.io", "ScheduledBackup"},
		{"backups.postgresql.cnpg.io", "Backup"},
		{"databases.postgresql.cnpg.io", "Database"},
		{"objectstores.barmancloud.cnpg.io", "ObjectStore"},
		{"podmonitors.monitoring.coreos.com", "PodMonitor"},
	}
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			crd, err := dyn.Resource(crdResource).Get(context.Background(), tt.name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if !conditionTrue(crd, "Established") {
				t.Errorf("%s is not Established", tt.name)
			}
			if kind, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "kind"); kind != tt.kind {
				t.Errorf("kind = %q, want %q", kind, tt.kind)
			}
			versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
			if len(versions) == 0 {
				t.Fatal("no versions")
			}
			// The real CRDs carry structural schemas (the minimal ones
			// preserve unknown fields instead).
			props, _, _ := unstructured.NestedMap(versions[0].(map[string]any), "schema", "openAPIV3Schema", "properties", "spec", "properties")
			if env.cp.CRDSource() != embeddedSource && len(props) == 0 {
				t.Errorf("%s has no spec schema: not the real CRD", tt.name)
			}
		})
	}
}

func TestEmbeddedCRDs(t *testing.T) {
	crds, err := readCRDs(minimalCRDs, "minimalcrds")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"clusters.postgresql.cnpg.io":         "Cluster",
		"scheduledbackups.postgresql.cnpg.io": "ScheduledBackup",
		"backups.postgresql.cnpg.io":          "Backup",
		"databases.postgresql.cnpg.io":        "Database",
		"objectstores.barmancloud.cnpg.io":    "ObjectStore",
		"podmonitors.monitoring.coreos.com":   "PodMonitor",
	}
	if len(crds) != len(want) {
		t.Errorf("%d embedded CRDs, want %d", len(crds), len(want))
	}
	for _, crd := range crds {
		kind, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "kind")
		if want[crd.GetName()] != kind {
			t.Errorf("embedded CRD %s has kind %q, want %q", crd.GetName(), kind, want[crd.GetName()])
		}
		versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
		if len(versions) != 1 {
			t.Fatalf("%s: %d versions, want 1", crd.GetName(), len(versions))
		}
		v := versions[0].(map[string]any)
		for _, part := range []string{"spec", "status"} {
			keep, _, _ := unstructured.NestedBool(v, "schema", "openAPIV3Schema", "properties", part, "x-kubernetes-preserve-unknown-fields")
			if !keep {
				t.Errorf("%s: %s does not preserve unknown fields", crd.GetName(), part)
			}
		}
		if _, ok, _ := unstructured.NestedMap(v, "subresources", "status"); !ok {
			t.Errorf("%s: no status subresource", crd.GetName())
		}
	}
}

func TestMissingToolsSayHowToGetThem(t *testing.T) {
	empty := t.TempDir()
	tests := []struct {
		name string
		opts Options
	}{
		{"empty bin dir", Options{BinDir: empty}},
		{"missing bin dir", Options{BinDir: filepath.Join(empty, "nope")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Start(context.Background(), tt.opts)
			if err == nil || !strings.Contains(err.Error(), "run `make tools`") {
				t.Errorf("Start = %v, want an error saying to run `make tools`", err)
			}
		})
	}
}

func TestCRDDirectoryFromEnvironmentMustExist(t *testing.T) {
	t.Setenv(EnvCRDs, filepath.Join(t.TempDir(), "missing"))
	if _, err := crdDir(Options{}); err == nil || !strings.Contains(err.Error(), EnvCRDs) {
		t.Errorf("crdDir = %v, want an error naming %s", err, EnvCRDs)
	}
	if dir, err := crdDir(Options{MinimalCRDs: true}); err != nil || dir != "" {
		t.Errorf("crdDir(MinimalCRDs) = %q, %v; want the embedded CRDs", dir, err)
	}
}

func TestStopTwice(t *testing.T) {
	// Stop on a control plane that never started anything must not fail
	// or panic; the real one is stopped twice by TestMain's teardown paths.
	cp := &ControlPlane{dir: t.TempDir(), logf: t.Logf}
	cp.Stop()
	cp.Stop()
	if _, err := os.Stat(cp.dir); !os.IsNotExist(err) {
		t.Errorf("Stop left %s behind", cp.dir)
	}
}

func TestMinimalCRDsServeTheOperator(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cp, err := Start(ctx, Options{MinimalCRDs: true, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cp.Stop)
	if cp.CRDSource() != embeddedSource || len(cp.CRDs()) != 6 {
		t.Fatalf("CRDs %v from %s, want the 6 embedded ones", cp.CRDs(), cp.CRDSource())
	}
	op, err := cp.RunOperator(ctx, OperatorOptions{PostgresDSN: env.pg.DSN(), Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(op.Stop)

	if err := cp.EnsureNamespace(ctx, "cp-minimal"); err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(cp.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	c := newCluster("cp-minimal", "tiny", 1)
	c.Object["spec"].(map[string]any)["bogusField"] = int64(1)
	if _, err := dyn.Resource(clusterGVR).Namespace("cp-minimal").Create(ctx, c, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	u := waitCluster(t, dyn, "cp-minimal", "tiny", "healthy", healthy)
	// The minimal CRDs preserve every field (the real ones prune unknown ones).
	if v, _, _ := unstructured.NestedInt64(u.Object, "spec", "bogusField"); v != 1 {
		t.Errorf("spec.bogusField = %v, want it kept by the minimal CRD", v)
	}
}

func TestUnknownFieldsArePrunedByTheRealCRDs(t *testing.T) {
	// Without ../shared/cnpg/crds (a fresh clone) the suite runs on the
	// embedded CRDs, which keep every field.
	realCRDs := env.cp.CRDSource() != embeddedSource
	ctx := context.Background()
	if err := env.cp.EnsureNamespace(ctx, "cp-prune"); err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(env.cp.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	c := newCluster("cp-prune", "pruned", 1)
	c.Object["spec"].(map[string]any)["bogusField"] = int64(1)
	u, err := dyn.Resource(clusterGVR).Namespace("cp-prune").Create(ctx, c, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, kept, _ := unstructured.NestedFieldNoCopy(u.Object, "spec", "bogusField"); kept == realCRDs {
		t.Errorf("spec.bogusField kept = %v with the CRDs from %s", kept, env.cp.CRDSource())
	}
	if n, _, _ := unstructured.NestedInt64(u.Object, "spec", "instances"); n != 1 {
		t.Errorf("spec.instances = %d, want 1", n)
	}
}
