package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/clustropg/clustro/config"
	"github.com/clustropg/clustro/internal/controlplane"
	"github.com/clustropg/clustro/kube"
	"github.com/clustropg/clustro/pipeline"
	"github.com/clustropg/clustro/request"
	"github.com/clustropg/clustro/terraform"
)

// TestEnvironmentsOnSeparateClusters: dev and prod are two API servers. The
// platform config maps dev to a context of a kubeconfig whose current
// context is prod's (so a runner that ignored the context would write dev
// into prod), and prod to a kubeconfig of its own. A dev and a prod request
// go through the real pipeline at once: each Cluster, namespace and
// Terraform state secret exists on its own environment's API server only,
// and readiness was checked there.
func TestEnvironmentsOnSeparateClusters(t *testing.T) {
	start := time.Now()
	startShared(t)
	dev := sharedCP
	prod, err := controlplane.Start(context.Background(), controlplane.Options{Logf: t.Logf})
	if err != nil {
		t.Fatalf("start the prod control plane: %v", err)
	}
	t.Cleanup(prod.Stop)
	t.Logf("prod control plane started in %s", time.Since(start).Round(time.Millisecond))

	both := twoClusterKubeconfig(t, map[string]string{"dev": dev.Kubeconfig(), "prod": prod.Kubeconfig()}, "prod")
	cfgFile := filepath.Join(t.TempDir(), "clustro.yaml")
	if err := os.WriteFile(cfgFile, fmt.Appendf(nil, `
kubernetes:
  clusters:
    dev: {kubeconfig: %s, context: dev}
    prod: {kubeconfig: %s}
    staging: {inCluster: true}
`, both, prod.Kubeconfig()), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(cfgFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	clusters := cfg.EnvironmentClusters()
	// As serve wires them: a client per environment's cluster, and each
	// workspace's terraform environment from its environment's cluster.
	clients := map[string]*kube.Client{}
	restConfigs := map[string]*rest.Config{}
	for _, env := range []string{"dev", "prod"} {
		rc, err := kube.LoadConfig(clusters[env].Kubeconfig, clusters[env].Context)
		if err != nil {
			t.Fatal(err)
		}
		if clients[env], err = kube.New(rc); err != nil {
			t.Fatal(err)
		}
		restConfigs[env] = rc
	}
	var mu sync.Mutex
	asked := map[string]map[string]string{} // workspace -> the variables it got
	workspaceEnv := pipeline.ClusterEnv(func(env string) (map[string]string, error) {
		kc, ok := clusters[env]
		if !ok {
			return nil, fmt.Errorf("environment %s has no cluster", env)
		}
		return kc.TerraformEnv(func(string) string { return "" }), nil
	})

	w := newWorldWith(t, worldOptions{readyTimeout: 2 * time.Minute, clusters: clients,
		workspaceEnv: func(ws terraform.Workspace) (map[string]string, error) {
			env, err := workspaceEnv(ws)
			mu.Lock()
			asked[ws.Dir] = env
			mu.Unlock()
			return env, err
		}})
	op, err := prod.RunOperator(w.ctx, controlplane.OperatorOptions{PostgresDSN: sharedPG.DSN(), Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(op.Stop)
	if err := prod.EnsureNamespace(w.ctx, "clustro-system"); err != nil {
		t.Fatal(err)
	}

	// One request per environment, at once, through the real pipeline.
	devRec := w.submit("orders", "atlas", "dev", request.SizeS)
	prodRec := w.submit("orders", "atlas", "prod", request.SizeS)
	for _, id := range []string{devRec.ID(), prodRec.ID()} {
		rec := w.waitState(id, request.Planned, 2*time.Minute)
		if _, err := w.gh.Merge(rec.PR.Number, "reviewer"); err != nil {
			t.Fatal(err)
		}
	}
	w.waitState(devRec.ID(), request.Ready, 3*time.Minute)
	w.waitState(prodRec.ID(), request.Ready, 3*time.Minute)
	t.Logf("both environments ready %s after the start", time.Since(start).Round(time.Millisecond))

	// Each workspace got its own environment's cluster, and only that.
	wantEnv := map[string]map[string]string{
		"databases/dev/atlas/orders":  {"KUBE_CONFIG_PATH": both, "KUBE_CTX": "dev"},
		"databases/prod/atlas/orders": {"KUBE_CONFIG_PATH": prod.Kubeconfig()},
	}
	mu.Lock()
	for dir, want := range wantEnv {
		if got := asked[dir]; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s ran with %v, want %v", dir, got, want)
		}
	}
	mu.Unlock()

	// Everything of dev is on dev's API server only, and the reverse.
	for _, tc := range []struct{ env, other string }{{"dev", "prod"}, {"prod", "dev"}} {
		cfg := restConfigs[tc.env]
		ns := "atlas-" + tc.env
		if got := clusterNames(t, cfg); !slices.Contains(got, ns+"/orders") || slices.Contains(got, "atlas-"+tc.other+"/orders") {
			t.Errorf("Clusters on %s's API server: %v; want %s/orders and nothing of %s", tc.env, got, ns, tc.other)
		}
		if got := namespaces(t, cfg); !slices.Contains(got, ns) || slices.Contains(got, "atlas-"+tc.other) {
			t.Errorf("namespaces on %s's API server: %v; want %s and not atlas-%s", tc.env, got, ns, tc.other)
		}
		state := stateSecrets(t, cfg)
		own, others := "tfstate-default-"+request.QualifiedName(tc.env, "atlas", "orders"), "tfstate-default-"+request.QualifiedName(tc.other, "atlas", "orders")
		if !slices.Contains(state, own) || slices.Contains(state, others) {
			t.Errorf("state secrets on %s's API server: %v; want %s and not %s", tc.env, state, own, others)
		}
	}
	// The prod API server holds prod's database and nothing else.
	if got := clusterNames(t, restConfigs["prod"]); strings.Join(got, " ") != "atlas-prod/orders" {
		t.Errorf("Clusters on prod's API server: %v, want only atlas-prod/orders", got)
	}

	// The ready notices name each environment's database; no Kubernetes
	// credential (token, kubeconfig path) reached a notice or a PR comment.
	for _, n := range w.notices.find(request.NoticeReady) {
		if n.Ready == nil || (n.Ready.Namespace != "atlas-dev" && n.Ready.Namespace != "atlas-prod") {
			t.Errorf("ready notice %+v", n)
		}
	}
	for _, rec := range []string{devRec.ID(), prodRec.ID()} {
		r, err := w.store.GetRequest(w.ctx, rec)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range w.gh.Comments(r.PR.Number) {
			for _, leak := range []string{both, prod.Kubeconfig(), restConfigs["dev"].BearerToken, restConfigs["prod"].BearerToken} {
				if strings.Contains(c.GetBody(), leak) {
					t.Errorf("a PR comment of %s carries %q", r.Request.Key(), leak)
				}
			}
		}
	}
	t.Logf("done in %s", time.Since(start).Round(time.Millisecond))
}

// twoClusterKubeconfig writes one kubeconfig holding a context per entry of
// kubeconfigs (context name -> a kubeconfig of one cluster), with current
// as its current context.
func twoClusterKubeconfig(t *testing.T, kubeconfigs map[string]string, current string) string {
	t.Helper()
	out := clientcmdapi.NewConfig()
	for name, path := range kubeconfigs {
		in, err := clientcmd.LoadFromFile(path)
		if err != nil {
			t.Fatal(err)
		}
		ctx := in.Contexts[in.CurrentContext]
		out.Clusters[name] = in.Clusters[ctx.Cluster]
		out.AuthInfos[name] = in.AuthInfos[ctx.AuthInfo]
		out.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name, Namespace: "default"}
	}
	out.CurrentContext = current
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*out, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// clusterNames lists the CloudNativePG Clusters of every namespace as
// namespace/name.
func clusterNames(t *testing.T, cfg *rest.Config) []string {
	t.Helper()
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	list, err := dyn.Resource(clusterGVR).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, u := range list.Items {
		names = append(names, u.GetNamespace()+"/"+u.GetName())
	}
	slices.Sort(names)
	return names
}

func namespaces(t *testing.T, cfg *rest.Config) []string {
	t.Helper()
	list, err := coreClient(t, cfg).CoreV1().Namespaces().List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, ns := range list.Items {
		names = append(names, ns.Name)
	}
	return names
}

// stateSecrets lists the Terraform state secrets of the backend's namespace.
func stateSecrets(t *testing.T, cfg *rest.Config) []string {
	t.Helper()
	list, err := coreClient(t, cfg).CoreV1().Secrets("clustro-system").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range list.Items {
		if strings.HasPrefix(s.Name, "tfstate-") {
			names = append(names, s.Name)
		}
	}
	return names
}

func coreClient(t *testing.T, cfg *rest.Config) kubernetes.Interface {
	t.Helper()
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}
