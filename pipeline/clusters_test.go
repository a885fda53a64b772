package pipeline

import (
	"errors"
	"maps"
	"strings"
	"testing"

	"k8s.io/client-go/rest"

	"github.com/clustropg/clustro/kube"
	"github.com/clustropg/clustro/terraform"
)

// TestClusterEnv: a workspace gets the terraform environment of the
// cluster of the environment its directory names, and nothing when its
// directory names none.
func TestClusterEnv(t *testing.T) {
	byEnv := map[string]map[string]string{
		"dev":  {"KUBE_CONFIG_PATH": "/k/dev"},
		"prod": {"KUBE_CONFIG_PATH": "/k/all", "KUBE_CTX": "prod"},
	}
	fn := ClusterEnv(func(env string) (map[string]string, error) {
		if e, ok := byEnv[env]; ok {
			return e, nil
		}
		return nil, errors.New("environment " + env + " has no cluster")
	})
	tests := []struct {
		dir     string
		want    map[string]string
		wantErr string
	}{
		{dir: "databases/dev/billing/ledger", want: byEnv["dev"]},
		{dir: "databases/prod/billing/ledger", want: byEnv["prod"]},
		{dir: "databases/staging/billing/ledger", wantErr: "environment staging has no cluster"},
		{dir: "modules/cnpg-database", wantErr: "not at databases/<env>/<team>/<name>"},
		{dir: "databases/prod/billing", wantErr: "not at databases/<env>/<team>/<name>"},
	}
	for _, tc := range tests {
		got, err := fn(terraform.Workspace{Root: "/repo", Dir: tc.dir})
		switch {
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%s: %v, want an error with %q", tc.dir, err, tc.wantErr)
		case tc.wantErr == "" && (err != nil || !maps.Equal(got, tc.want)):
			t.Errorf("%s: %v (%v), want %v", tc.dir, got, err, tc.want)
		}
	}
}

func TestKubeClustersFor(t *testing.T) {
	client := func(host string) *kube.Client {
		c, err := kube.New(&rest.Config{Host: host})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	dev, prod := client("https://dev:6443"), client("https://prod:6443")
	split := KubeClusters{Clients: map[string]*kube.Client{"dev": dev, "prod": prod}}
	if c, err := split.For("prod"); err != nil || c != prod {
		t.Errorf("For(prod) = %p, %v; want the prod client", c, err)
	}
	if c, err := split.For("dev"); err != nil || c != dev {
		t.Errorf("For(dev) = %p, %v; want the dev client", c, err)
	}
	if _, err := split.For("staging"); err == nil || !strings.Contains(err.Error(), "environment staging has no cluster") {
		t.Errorf("For(staging) = %v, want no cluster", err)
	}
}
