// Package config loads ClustroPG's platform configuration: YAML with the
// defaults embedded (default.yaml), a file that overrides them key by key,
// checked as a whole so that one error lists every problem.
package config

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/clustropg/clustro/catalog"
	"github.com/clustropg/clustro/request"
	"github.com/clustropg/clustro/templates"
)

//go:embed default.yaml
var defaultYAML []byte

// Default returns the embedded defaults.
func Default() []byte { return append([]byte(nil), defaultYAML...) }

// Config is the whole configuration: the platform's policy and rendering
// settings, and how `clustro serve` runs and reaches Slack and GitHub.
type Config struct {
	Policy    request.Policy      `json:"policy"`
	Cluster   templates.Cluster   `json:"cluster"`
	Terraform templates.Terraform `json:"terraform"`
	Catalog   catalog.Settings    `json:"catalog"`
	Grafana   request.Grafana     `json:"grafana"`
	Server    Server              `json:"server"`
	Slack     Slack               `json:"slack"`
	GitHub    GitHub              `json:"github"`
	// TerraformRun and Kubernetes are how serve runs terraform and reaches
	// the clusters (the terraform section is how workspaces are written).
	TerraformRun TerraformRun `json:"terraformRun"`
	Kubernetes   Kubernetes   `json:"kubernetes"`
	// API is the REST API for Backstage and other portals.
	API API `json:"api"`
	// Watch is the health watch and the drift check of ready databases.
	Watch Watch `json:"watch"`
}

// Load reads the defaults, then the file at path over them when path is not
// empty (maps merge key by key; lists are replaced; null removes a key),
// then the CLUSTRO_* variables getenv returns (getenv may be nil), and
// checks the result. Unknown keys are errors, so a typo in the file does
// not silently keep a default.
func Load(path string, getenv func(string) string) (*Config, error) {
	merged, err := decode(defaultYAML)
	if err != nil {
		return nil, fmt.Errorf("embedded defaults: %w", err)
	}
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read config: %w", err)
		}
		over, err := decode(b)
		if err != nil {
			return nil, fmt.Errorf("config %s: %w", path, err)
		}
		merged = merge(merged, over)
	}
	js, err := json.Marshal(merged)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	var c Config
	if err := yaml.UnmarshalStrict(js, &c); err != nil {
		// The decoder speaks of JSON; the user wrote YAML.
		msg := err.Error()
		if i := strings.LastIndex(msg, "json: "); i >= 0 {
			msg = msg[i+len("json: "):]
		}
		return nil, fmt.Errorf("config %s: %s", orDefaults(path), msg)
	}
	var problems []string
	if getenv != nil {
		for _, v := range envVars {
			if val := getenv(v.name); val != "" {
				if err := v.set(&c, val); err != nil {
					problems = append(problems, v.name+": "+err.Error())
				}
			}
		}
	}
	c.deriveCatalog()
	problems = append(problems, c.checkServer()...)
	problems = append(problems, c.checkSlack()...)
	problems = append(problems, c.checkGitHub()...)
	problems = append(problems, c.checkTerraformRun()...)
	problems = append(problems, c.checkKubernetes()...)
	problems = append(problems, c.checkAPI()...)
	problems = append(problems, c.checkWatch()...)
	if err := c.Templates().Check(); err != nil {
		problems = append(problems, err.Error())
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("config %s:\n  %s", orDefaults(path), strings.Join(problems, "\n  "))
	}
	return &c, nil
}

// deriveCatalog fills the catalog's repository from the GitHub settings
// when the catalog section does not name one.
func (c *Config) deriveCatalog() {
	if c.Catalog.Branch == "" {
		c.Catalog.Branch = c.GitHub.BaseBranch
	}
	if c.Catalog.RepoURL != "" || c.GitHub.Repo == "" {
		return
	}
	web := "https://github.com"
	if api := strings.TrimSuffix(c.GitHub.APIURL, "/"); api != "" && !strings.Contains(api, "api.github.com") {
		web = strings.TrimSuffix(api, "/api/v3")
	}
	c.Catalog.RepoURL = web + "/" + c.GitHub.Repo
}

// Templates is the part of the config that rendering and verifying need.
func (c *Config) Templates() templates.Config {
	return templates.Config{
		Policy: &c.Policy, Cluster: c.Cluster, Terraform: c.Terraform,
		Grafana: c.Grafana, Catalog: c.Catalog,
	}
}

func orDefaults(path string) string {
	if path == "" {
		return "(embedded defaults)"
	}
	return path
}

func decode(b []byte) (map[string]any, error) {
	var m map[string]any
	if err := yaml.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	if m == nil {
		m = map[string]any{}
	}
	return m, nil
}

// merge lays over on top of base: maps merge key by key, anything else
// (lists included) is replaced, and a key set to null is removed (so a
// file can drop an environment the defaults define). A map whose "type"
// changes (terraform.backend) is replaced whole: the settings of one
// backend mean nothing to another.
func merge(base, over map[string]any) map[string]any {
	out := make(map[string]any, len(base))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range over {
		if v == nil {
			delete(out, k)
			continue
		}
		bm, bok := out[k].(map[string]any)
		om, ook := v.(map[string]any)
		if bok && ook && !retyped(bm, om) {
			out[k] = merge(bm, om)
			continue
		}
		out[k] = v
	}
	return out
}

func retyped(base, over map[string]any) bool {
	bt, bok := base["type"]
	ot, ook := over["type"]
	return bok && ook && bt != ot
}
