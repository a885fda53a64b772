package catalog

import (
	"bytes"
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/clustropg/clustro/request"
)

// Settings are the platform's catalog settings.
type Settings struct {
	// RepoURL is the infra repository's web URL (https://github.com/org/infra);
	// empty leaves out the annotations that point at it.
	RepoURL string `json:"repoURL" yaml:"repoURL"`
	// Branch is the infra repository's base branch.
	Branch string `json:"branch" yaml:"branch"`
	// System, when set, is the spec.system of every database.
	System string `json:"system,omitempty" yaml:"system,omitempty"`
	// DashboardSelector is the Grafana plugin's dashboard selector.
	DashboardSelector string `json:"dashboardSelector,omitempty" yaml:"dashboardSelector,omitempty"`
}

// Check reports what is wrong with the settings.
func (s Settings) Check() error {
	var problems []string
	if _, err := projectSlug(s.RepoURL); s.RepoURL != "" && err != nil {
		problems = append(problems, "catalog.repoURL: "+err.Error())
	}
	if s.Branch == "" {
		problems = append(problems, "catalog.branch: required, the infra repository's base branch")
	}
	if s.System != "" && !request.IsEntityName(s.System) {
		problems = append(problems, fmt.Sprintf("catalog.system: %q is not a Backstage entity name", s.System))
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	return nil
}

// Entity is a Backstage catalog entity (backstage.io/v1alpha1).
type Entity struct {
	APIVersion string   `json:"apiVersion" yaml:"apiVersion"`
	Kind       string   `json:"kind" yaml:"kind"`
	Metadata   Metadata `json:"metadata" yaml:"metadata"`
	Spec       Spec     `json:"spec" yaml:"spec"`
}

// Metadata is an entity's metadata.
type Metadata struct {
	Name        string            `json:"name" yaml:"name"`
	Title       string            `json:"title,omitempty" yaml:"title,omitempty"`
	Description string            `json:"description,omitempty" yaml:"description,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty" yaml:"annotations,omitempty"`
	Tags        []string          `json:"tags,omitempty" yaml:"tags,omitempty"`
	Links       []Link            `json:"links,omitempty" yaml:"links,omitempty"`
}

// Link is an entity link.
type Link struct {
	URL   string `json:"url" yaml:"url"`
	Title string `json:"title,omitempty" yaml:"title,omitempty"`
	Icon  string `json:"icon,omitempty" yaml:"icon,omitempty"`
}

// Spec is a Resource's spec.
type Spec struct {
	Type   string `json:"type" yaml:"type"`
	Owner  string `json:"owner" yaml:"owner"`
	System string `json:"system,omitempty" yaml:"system,omitempty"`
}

// Database is what the entity describes.
type Database struct {
	Spec      request.Spec
	RequestID string
	Namespace string
	// Dir is the workspace's directory in the infra repo (databases/<env>/<team>/<name>).
	Dir string
	// Dashboard is the Grafana deep link, or "".
	Dashboard string
	// InWorkspace builds the entity for the workspace's catalog-info.yaml:
	// it leaves out what a reviewer may edit in main.tf (version, size,
	// instances, backups), so that such an edit never leaves the file
	// stale. The entities endpoint, served from the applied request, has
	// them.
	InWorkspace bool
}

// Annotation keys ClustroPG writes under its own prefix.
const (
	AnnotationRequestID   = "clustropg.io/request-id"
	AnnotationEnvironment = "clustropg.io/environment"
	AnnotationSize        = "clustropg.io/size"
	AnnotationNamespace   = "clustropg.io/namespace"
)

// For builds the entity of a database.
func (s Settings) For(db Database) (Entity, error) {
	sp := db.Spec
	name := request.NamesOf(sp).Qualified
	if !request.IsEntityName(name) {
		return Entity{}, fmt.Errorf("catalog entity for %s: name %q is not a valid Backstage name", sp.Key(), name)
	}
	ann := map[string]string{
		AnnotationEnvironment: sp.Environment,
		AnnotationNamespace:   db.Namespace,
	}
	description := fmt.Sprintf("PostgreSQL on CloudNativePG for team %s in %s; its size and backups are in main.tf. Managed by ClustroPG.", sp.Team, sp.Environment)
	if !db.InWorkspace {
		ann[AnnotationSize] = string(sp.Size)
		backups := "no backups"
		if sp.Backups.Enabled() {
			backups = fmt.Sprintf("%s backups kept %s", sp.Backups.Schedule, sp.Backups.Retention)
		}
		description = fmt.Sprintf("PostgreSQL %d on CloudNativePG, size %s, %d instance(s), %s. Managed by ClustroPG.",
			sp.PostgresVersion, sp.Size, sp.Instances, backups)
	}
	if s.RepoURL != "" {
		slug, err := projectSlug(s.RepoURL)
		if err != nil {
			return Entity{}, fmt.Errorf("catalog entity for %s: %w", sp.Key(), err)
		}
		ann["backstage.io/source-location"] = "url:" + strings.TrimSuffix(s.RepoURL, "/") + "/tree/" + s.Branch + "/" + strings.Trim(db.Dir, "/") + "/"
		ann["github.com/project-slug"] = slug
	}
	if db.RequestID != "" {
		ann[AnnotationRequestID] = db.RequestID
	}
	var links []Link
	if db.Dashboard != "" {
		ann["grafana/overview-dashboard"] = db.Dashboard
		if s.DashboardSelector != "" {
			ann["grafana/dashboard-selector"] = s.DashboardSelector
		}
		links = append(links, Link{URL: db.Dashboard, Title: "Grafana dashboard", Icon: "dashboard"})
	}
	return Entity{
		APIVersion: "backstage.io/v1alpha1",
		Kind:       "Resource",
		Metadata: Metadata{
			Name:        name,
			Title:       fmt.Sprintf("%s (%s, %s)", sp.Name, sp.Team, sp.Environment),
			Description: description,
			Annotations: ann,
			Tags:        []string{"postgresql", "cloudnativepg", sp.Environment},
			Links:       links,
		},
		Spec: Spec{Type: "database", Owner: "group:" + sp.Team, System: s.System},
	}, nil
}

// YAML is the entity as catalog-info.yaml.
func (e Entity) YAML() ([]byte, error) {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(e); err != nil {
		return nil, fmt.Errorf("encode catalog entity %s: %w", e.Metadata.Name, err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode catalog entity %s: %w", e.Metadata.Name, err)
	}
	return b.Bytes(), nil
}

// projectSlug turns https://github.com/org/repo into org/repo.
func projectSlug(repoURL string) (string, error) {
	u := strings.TrimSuffix(strings.TrimSuffix(repoURL, "/"), ".git")
	i := strings.Index(u, "://")
	if i < 0 {
		return "", fmt.Errorf("%q is not an https URL of the infra repository", repoURL)
	}
	parts := strings.Split(u[i+3:], "/")
	if len(parts) != 3 || parts[1] == "" || parts[2] == "" {
		return "", fmt.Errorf("%q is not the URL of a repository (want https://<host>/<owner>/<repo>)", repoURL)
	}
	return parts[1] + "/" + parts[2], nil
}
