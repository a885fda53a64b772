package kube_test

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/clustropg/clustro/kube"
)

var clusters = schema.GroupVersionResource{Group: "postgresql.cnpg.io", Version: "v1", Resource: "clusters"}

func newClient(t *testing.T) *kube.Client {
	t.Helper()
	c, err := kube.New(env.cp.RESTConfig(), kube.UserAgent("clustro-test"))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func namespace(t *testing.T, name string) string {
	t.Helper()
	if err := env.cp.EnsureNamespace(context.Background(), name); err != nil {
		t.Fatal(err)
	}
	return name
}

func createCluster(t *testing.T, ns, name string, instances int64) {
	t.Helper()
	dyn, err := dynamic.NewForConfig(env.cp.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "postgresql.cnpg.io/v1",
		"kind":       "Cluster",
		"metadata":   map[string]any{"name": name, "namespace": ns},
		"spec": map[string]any{
			"instances": instances,
			"storage":   map[string]any{"size": "1Gi"},
		},
	}}
	if _, err := dyn.Resource(clusters).Namespace(ns).Create(context.Background(), u, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create cluster %s/%s: %v", ns, name, err)
	}
}

func coreClient(t *testing.T) kubernetes.Interface {
	t.Helper()
	cs, err := kubernetes.NewForConfig(env.cp.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// readyCluster creates a cluster and waits until it is ready.
func readyCluster(t *testing.T, c *kube.Client, ns, name string) {
	t.Helper()
	createCluster(t, ns, name, 1)
	if _, err := c.WaitReady(context.Background(), ns, name, kube.Timeout(time.Minute)); err != nil {
		t.Fatal(err)
	}
}
