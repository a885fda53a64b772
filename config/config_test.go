package config

import (
	"encoding/json"
	"fmt"
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
	c, err := Load("", nil)
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
	c, err := Load(p, nil)
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
	c, err := Load(p, nil)
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
	if _, err := Load("/nonexistent/clustro.yaml", nil); err == nil || !strings.Contains(err.Error(), "read config") {
		t.Errorf("missing file: %v", err)
	}
}

func TestEnvironmentOverrides(t *testing.T) {
	env := map[string]string{
		"CLUSTRO_LISTEN":                "127.0.0.1:9999",
		"CLUSTRO_STORE":                 "postgres://clustro:s3cr3t-pw@db:5432/clustro",
		"CLUSTRO_WORKERS":               "8",
		"CLUSTRO_SHUTDOWN_GRACE":        "2m",
		"CLUSTRO_SLACK_BOT_TOKEN":       "xoxb-test-token",
		"CLUSTRO_SLACK_SIGNING_SECRET":  "slack-signing-secret",
		"CLUSTRO_GITHUB_TOKEN":          "ghp_testtoken",
		"CLUSTRO_GITHUB_REPO":           "acme/infra",
		"CLUSTRO_GITHUB_API_URL":        "https://ghe.acme.example/api/v3/",
		"CLUSTRO_GITHUB_WEBHOOK_SECRET": "hook-secret",
		"CLUSTRO_GRAFANA_URL":           "https://grafana.acme.example",
	}
	c, err := Load("", func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if c.Server.Listen != "127.0.0.1:9999" || c.Server.Workers != 8 || c.Server.ShutdownGrace.D().Minutes() != 2 ||
		c.Slack.BotToken.Value() != "xoxb-test-token" || c.GitHub.Repo != "acme/infra" || c.Grafana.URL != "https://grafana.acme.example" {
		t.Errorf("overrides not applied: %+v", c)
	}
	if on, _ := c.Slack.Enabled(); !on {
		t.Error("slack should be on")
	}
	if on, _ := c.GitHub.Enabled(); !on {
		t.Error("github should be on")
	}
	if c.Catalog.RepoURL != "https://ghe.acme.example/acme/infra" || c.Catalog.Branch != "main" {
		t.Errorf("catalog not derived from github: %+v", c.Catalog)
	}
	// Secrets never print.
	for _, s := range []string{fmt.Sprintf("%v", c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), mustJSON(t, c)} {
		for _, secret := range []string{"xoxb-test-token", "slack-signing-secret", "ghp_testtoken", "hook-secret", "s3cr3t-pw"} {
			if strings.Contains(s, secret) {
				t.Errorf("a formatted config contains %q", secret)
			}
		}
	}
	if got := StoreKind(c.Server.Store.Value()); got != "postgres postgres://db:5432/clustro" {
		t.Errorf("StoreKind = %q", got)
	}
}

func TestEnvironmentOverridesValidated(t *testing.T) {
	env := map[string]string{"CLUSTRO_WORKERS": "many", "CLUSTRO_LISTEN": "nowhere", "CLUSTRO_GITHUB_REPO": "just-a-name", "CLUSTRO_SHUTDOWN_GRACE": "soon"}
	_, err := Load("", func(k string) string { return env[k] })
	if err == nil {
		t.Fatal("bad environment accepted")
	}
	for _, want := range []string{`CLUSTRO_WORKERS: "many" is not a whole number`, `server.listen (CLUSTRO_LISTEN): "nowhere" is not host:port`,
		`github.repo (CLUSTRO_GITHUB_REPO): "just-a-name" is not owner/name`, `CLUSTRO_SHUTDOWN_GRACE: "soon" is not a duration`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestIntegrationsOffByDefault(t *testing.T) {
	c, err := Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if on, missing := c.Slack.Enabled(); on || missing != "CLUSTRO_SLACK_BOT_TOKEN" {
		t.Errorf("slack: %v %q", on, missing)
	}
	if on, missing := c.GitHub.Enabled(); on || missing != "CLUSTRO_GITHUB_REPO" {
		t.Errorf("github: %v %q", on, missing)
	}
	if c.Server.Store.Value() != "./clustro.db" || c.Server.Listen != ":8080" {
		t.Errorf("server defaults: %+v", c.Server)
	}
}

func mustJSON(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
