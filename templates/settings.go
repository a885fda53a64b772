package templates

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/clustropg/clustro/catalog"
	"github.com/clustropg/clustro/request"
)

// Config is everything rendering and verifying needs.
type Config struct {
	Policy    *request.Policy
	Cluster   Cluster
	Terraform Terraform
	Grafana   request.Grafana
	Catalog   catalog.Settings
}

// Cluster is what the module creates on the Kubernetes cluster beyond the
// request: storage class, namespace creation, monitoring, the object store.
type Cluster struct {
	StorageClass    string        `json:"storageClass"`
	CreateNamespace bool          `json:"createNamespace"`
	PodMonitor      bool          `json:"podMonitor"`
	ObjectStore     ObjectStore   `json:"objectStore"`
	LogicalBackup   LogicalBackup `json:"logicalBackup"`
}

// ObjectStore is where backups go. Only the name of the credentials secret
// is configured; its content never passes through ClustroPG.
type ObjectStore struct {
	DestinationPath    string `json:"destinationPath"`
	EndpointURL        string `json:"endpointURL"`
	CredentialsSecret  string `json:"credentialsSecret"`
	AccessKeyIDKey     string `json:"accessKeyIdKey"`
	SecretAccessKeyKey string `json:"secretAccessKeyKey"`
	WALCompression     string `json:"walCompression"`
}

// LogicalBackup configures the pg_dump CronJob.
type LogicalBackup struct {
	// UploadImage is an image with the aws CLI.
	UploadImage string `json:"uploadImage"`
}

// Terraform is how workspaces are written.
type Terraform struct {
	ModuleSource string  `json:"moduleSource"`
	Backend      Backend `json:"backend"`
	// Provider holds extra literal attributes of provider "kubectl".
	Provider map[string]any `json:"provider"`
}

// Backend is the state backend: one state per workspace.
type Backend struct {
	// Type is kubernetes or s3.
	Type string `json:"type"`
	// Settings are literal backend attributes shared by every workspace.
	// The per-workspace one (secret_suffix or key) is added by Render.
	Settings map[string]any `json:"settings"`
	// KeyPrefix prefixes the s3 state key.
	KeyPrefix string `json:"keyPrefix,omitempty"`
}

// workspaceAttr is the backend attribute that makes each workspace's state its own.
func (b Backend) workspaceAttr() string {
	if b.Type == "s3" {
		return "key"
	}
	return "secret_suffix"
}

func (b Backend) workspaceValue(s request.Spec) string {
	if b.Type == "s3" {
		return b.KeyPrefix + s.Environment + "/" + s.Team + "/" + s.Name + "/terraform.tfstate"
	}
	return request.NamesOf(s).Qualified
}

// Check reports every problem with the config, as one error.
func (c Config) Check() error {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if c.Policy == nil {
		add("policy: missing")
	} else if err := c.Policy.Check(); err != nil {
		add("policy: %v", err)
	}
	if c.Terraform.ModuleSource == "" {
		add("terraform.moduleSource: required")
	}
	switch c.Terraform.Backend.Type {
	case "kubernetes", "s3":
	default:
		add("terraform.backend.type: %q is not supported; allowed: kubernetes, s3", c.Terraform.Backend.Type)
	}
	for _, m := range []struct {
		section string
		attrs   map[string]any
	}{{"terraform.backend.settings", c.Terraform.Backend.Settings}, {"terraform.provider", c.Terraform.Provider}} {
		for _, k := range sortedKeys(m.attrs) {
			if !hclsyntax.ValidIdentifier(k) {
				add("%s.%s: not a valid attribute name", m.section, k)
				continue
			}
			if _, err := literal(m.attrs[k]); err != nil {
				add("%s.%s: %v", m.section, k, err)
			}
			if isCredentialAttr(k) {
				add("%s.%s: credentials and kubeconfig paths never go into rendered files; pass them in the environment (KUBE_CONFIG_PATH, AWS_*)", m.section, k)
			}
		}
	}
	if _, ok := c.Terraform.Backend.Settings[c.Terraform.Backend.workspaceAttr()]; ok {
		add("terraform.backend.settings.%s: set per workspace by clustro; remove it", c.Terraform.Backend.workspaceAttr())
	}
	os := c.Cluster.ObjectStore
	if !strings.HasPrefix(os.DestinationPath, "s3://") && !strings.HasPrefix(os.DestinationPath, "gs://") && !strings.HasPrefix(os.DestinationPath, "https://") {
		add("cluster.objectStore.destinationPath: %q must be an s3://, gs:// or https:// URL", os.DestinationPath)
	}
	if os.CredentialsSecret == "" || os.AccessKeyIDKey == "" || os.SecretAccessKeyKey == "" {
		add("cluster.objectStore: credentialsSecret, accessKeyIdKey and secretAccessKeyKey are required")
	}
	if c.Cluster.LogicalBackup.UploadImage == "" {
		add("cluster.logicalBackup.uploadImage: required")
	}
	if err := c.Catalog.Check(); err != nil {
		add("%v", err)
	}
	if len(problems) > 0 {
		return fmt.Errorf("invalid platform config:\n  %s", strings.Join(problems, "\n  "))
	}
	return nil
}

func isCredentialAttr(k string) bool {
	for _, bad := range []string{"token", "password", "secret_key", "access_key", "client_key", "client_certificate", "config_path", "config_paths", "username"} {
		if k == bad {
			return true
		}
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
