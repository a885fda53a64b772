package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "clustro.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadDefaults(t *testing.T) {
	c, err := Load("")
	if err != nil {
		t.Fatalf("the embedded defaults do not load: %v", err)
	}
	if c.Policy.Sizes["M"].Memory.Limit != "4Gi" || c.Terraform.Backend.Type != "kubernetes" || c.Policy.Postgres.Default != 17 {
		t.Errorf("unexpected defaults: %+v", c)
	}
}

func TestLoadOverrides(t *testing.T) {
	p := writeConfig(t, `
policy:
  sizes:
    M:
      memory: {limit: 6Gi}
  environments:
    staging: null
  defaults:
    load: medium
grafana:
  url: https://grafana.example.com
`)
	c, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	m := c.Policy.Sizes["M"]
	if m.Memory.Limit != "6Gi" || m.Memory.Request != "4Gi" || m.CPU.Limit != "2" {
		t.Errorf("maps should merge key by key: M = %+v", m)
	}
	if _, ok := c.Policy.Environments["staging"]; ok {
		t.Error("staging: null should remove the environment")
	}
	if c.Policy.Defaults.Load != "medium" || c.Policy.Defaults.ClientType != "sme" {
		t.Errorf("defaults = %+v", c.Policy.Defaults)
	}
	if c.Grafana.URL != "https://grafana.example.com" || c.Grafana.DashboardUID != "cloudnative-pg" {
		t.Errorf("grafana = %+v", c.Grafana)
	}
}

func TestLoadBackendTypeReplacesSettings(t *testing.T) {
	p := writeConfig(t, `
terraform:
  backend:
    type: s3
    settings: {bucket: state, region: eu-west-1}
`)
	c, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Terraform.Backend.Settings["namespace"]; ok {
		t.Errorf("the kubernetes backend's namespace leaked into the s3 backend: %v", c.Terraform.Backend.Settings)
	}
}

func TestLoadRefuses(t *testing.T) {
	tests := []struct {
		name, body string
		want       []string
	}{
		{"typo in a key", "policy:\n  maxDatabase: 3\n", []string{`unknown field "maxDatabase"`}},
		{"not yaml", "policy: [\n", []string{"config"}},
		{"several problems at once", `
policy:
  postgres: {default: 14}
terraform:
  backend: {type: consul}
cluster:
  objectStore: {destinationPath: "/var/backups"}
`, []string{"postgres.default: 14 is not among postgres.images", `terraform.backend.type: "consul" is not supported`, "cluster.objectStore.destinationPath"}},
		{"credentials in the provider", "terraform:\n  provider: {token: abc}\n", []string{"terraform.provider.token: credentials and kubeconfig paths never go into rendered files"}},
		{"a map as a backend setting", "terraform:\n  backend:\n    settings: {labels: {a: b}}\n", []string{"terraform.backend.settings.labels: unsupported value"}},
		{"bad repo URL", "catalog: {repoURL: infra}\n", []string{"catalog.repoURL"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(writeConfig(t, tc.body))
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
	if _, err := Load("/nonexistent/clustro.yaml"); err == nil || !strings.Contains(err.Error(), "read config") {
		t.Errorf("missing file: %v", err)
	}
}
