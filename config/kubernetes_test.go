package config

import (
	"maps"
	"strings"
	"testing"
)

// TestEnvironmentClusters is how environments map to clusters: the single
// kubeconfig of old still means one cluster for all; clusters of their
// own override it per environment.
func TestEnvironmentClusters(t *testing.T) {
	tests := []struct {
		name, body string
		env        map[string]string
		want       map[string]KubeCluster
	}{
		{
			name: "nothing set: every environment in-cluster",
			want: map[string]KubeCluster{"dev": {InCluster: true}, "staging": {InCluster: true}, "prod": {InCluster: true}},
		},
		{
			name: "CLUSTRO_KUBECONFIG alone: one cluster for every environment",
			env:  map[string]string{"CLUSTRO_KUBECONFIG": "/etc/clustro/kubeconfig"},
			want: map[string]KubeCluster{
				"dev":     {Kubeconfig: "/etc/clustro/kubeconfig"},
				"staging": {Kubeconfig: "/etc/clustro/kubeconfig"},
				"prod":    {Kubeconfig: "/etc/clustro/kubeconfig"},
			},
		},
		{
			name: "prod in-cluster, the others on the default kubeconfig, dev in a context of it",
			body: `
kubernetes:
  kubeconfig: /etc/clustro/nonprod.kubeconfig
  clusters:
    dev: {context: dev}
    prod: {inCluster: true}
`,
			want: map[string]KubeCluster{
				"dev":     {Kubeconfig: "/etc/clustro/nonprod.kubeconfig", Context: "dev"},
				"staging": {Kubeconfig: "/etc/clustro/nonprod.kubeconfig"},
				"prod":    {InCluster: true},
			},
		},
		{
			name: "every environment listed, no default",
			body: `
kubernetes:
  clusters:
    dev: {kubeconfig: /k/dev}
    staging: {kubeconfig: /k/shared, context: staging}
    prod: {kubeconfig: /k/prod, context: prod-eu}
`,
			want: map[string]KubeCluster{
				"dev":     {Kubeconfig: "/k/dev"},
				"staging": {Kubeconfig: "/k/shared", Context: "staging"},
				"prod":    {Kubeconfig: "/k/prod", Context: "prod-eu"},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := ""
			if tc.body != "" {
				path = writeConfig(t, tc.body)
			}
			c, err := Load(path, func(k string) string { return tc.env[k] })
			if err != nil {
				t.Fatal(err)
			}
			if got := c.EnvironmentClusters(); !maps.Equal(got, tc.want) {
				t.Errorf("clusters = %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestEnvironmentClustersRefused(t *testing.T) {
	tests := []struct {
		name, body string
		want       []string
	}{
		{"an environment left without a cluster", `
kubernetes:
  clusters:
    dev: {kubeconfig: /k/dev}
    prod: {inCluster: true}
`, []string{"kubernetes.clusters: environment staging has no cluster: add kubernetes.clusters.staging, or set kubernetes.kubeconfig (CLUSTRO_KUBECONFIG) as the default"}},
		{"a context without any kubeconfig", `
kubernetes:
  clusters:
    dev: {context: dev}
    staging: {inCluster: true}
    prod: {inCluster: true}
`, []string{"kubernetes.clusters.dev: environment dev has no cluster: set its kubeconfig or inCluster: true"}},
		{"a cluster for an unknown environment", `
kubernetes:
  kubeconfig: /k/all
  clusters:
    prd: {kubeconfig: /k/prod}
`, []string{`kubernetes.clusters.prd: "prd" is not an environment of policy.environments (dev, prod, staging)`}},
		{"in-cluster and a kubeconfig at once", `
kubernetes:
  kubeconfig: /k/all
  clusters:
    prod: {inCluster: true, kubeconfig: /k/prod}
`, []string{"kubernetes.clusters.prod: inCluster and a kubeconfig or context exclude each other"}},
		{"a typo in a cluster's key", `
kubernetes:
  clusters:
    prod: {kubecfg: /k/prod}
`, []string{`unknown field "kubecfg"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(writeConfig(t, tc.body), nil)
			if err == nil {
				t.Fatal("bad config accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not mention %q:\n%v", w, err)
				}
			}
		})
	}
}

// TestTerraformEnvOfCluster is what a workspace's terraform sees of its
// cluster: where the credentials are, never the credentials.
func TestTerraformEnvOfCluster(t *testing.T) {
	getenv := func(k string) string {
		return map[string]string{"KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBERNETES_SERVICE_PORT": "443", "KUBE_CONFIG_PATH": "/leaked"}[k]
	}
	tests := []struct {
		cluster KubeCluster
		want    map[string]string
	}{
		{KubeCluster{Kubeconfig: "/k/dev"}, map[string]string{"KUBE_CONFIG_PATH": "/k/dev"}},
		{KubeCluster{Kubeconfig: "/k/all", Context: "prod"}, map[string]string{"KUBE_CONFIG_PATH": "/k/all", "KUBE_CTX": "prod"}},
		{KubeCluster{InCluster: true}, map[string]string{"KUBE_IN_CLUSTER_CONFIG": "true", "KUBE_LOAD_CONFIG_FILE": "false",
			"KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBERNETES_SERVICE_PORT": "443"}},
	}
	for _, tc := range tests {
		t.Run(tc.cluster.String(), func(t *testing.T) {
			if got := tc.cluster.TerraformEnv(getenv); !maps.Equal(got, tc.want) {
				t.Errorf("TerraformEnv = %v, want %v", got, tc.want)
			}
		})
	}
}
