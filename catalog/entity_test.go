package catalog

import (
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/clustropg/clustro/request"
)

func ledger() Database {
	return Database{
		Spec: request.Spec{Name: "ledger", Team: "billing", Environment: "prod", Size: "M", Instances: 3, PostgresVersion: 17,
			Backups: request.Backups{Schedule: request.Daily, Retention: "14d"}},
		RequestID: "req-1", Namespace: "billing-prod", Dir: "databases/prod/billing/ledger",
		Dashboard: "https://g.example/d/cloudnative-pg/cloudnativepg?var-namespace=billing-prod&var-cluster=ledger",
	}
}

var settings = Settings{RepoURL: "https://github.com/acme/infra", Branch: "main", System: "databases", DashboardSelector: "tags @> 'cloudnativepg'"}

// TestEntityFollowsBackstageRules checks what Backstage's catalog validates.
func TestEntityFollowsBackstageRules(t *testing.T) {
	e, err := settings.For(ledger())
	if err != nil {
		t.Fatal(err)
	}
	if e.APIVersion != "backstage.io/v1alpha1" || e.Kind != "Resource" || e.Spec.Type != "database" || e.Spec.Owner != "group:billing" || e.Spec.System != "databases" {
		t.Errorf("entity = %+v", e)
	}
	if !regexp.MustCompile(`^[a-zA-Z0-9]+([-_.][a-zA-Z0-9]+)*$`).MatchString(e.Metadata.Name) || len(e.Metadata.Name) > 63 {
		t.Errorf("invalid metadata.name %q", e.Metadata.Name)
	}
	for k := range e.Metadata.Annotations {
		if strings.HasPrefix(k, "backstage.io/") && k != "backstage.io/source-location" {
			t.Errorf("reserved annotation %s", k)
		}
	}
	wantAnn := map[string]string{
		"backstage.io/source-location": "url:https://github.com/acme/infra/tree/main/databases/prod/billing/ledger/",
		"github.com/project-slug":      "acme/infra",
		"grafana/overview-dashboard":   ledger().Dashboard,
		"grafana/dashboard-selector":   "tags @> 'cloudnativepg'",
		"clustropg.io/request-id":      "req-1",
		"clustropg.io/environment":     "prod",
		"clustropg.io/size":            "M",
	}
	for k, v := range wantAnn {
		if e.Metadata.Annotations[k] != v {
			t.Errorf("annotation %s = %q, want %q", k, e.Metadata.Annotations[k], v)
		}
	}
	if len(e.Metadata.Links) != 1 || e.Metadata.Links[0].URL != ledger().Dashboard {
		t.Errorf("links = %+v", e.Metadata.Links)
	}
	b, err := e.YAML()
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := yaml.Unmarshal(b, &back); err != nil {
		t.Fatalf("catalog-info.yaml does not parse: %v\n%s", err, b)
	}
	if back["apiVersion"] != "backstage.io/v1alpha1" || back["spec"].(map[string]any)["owner"] != "group:billing" {
		t.Errorf("catalog-info.yaml = %s", b)
	}
}

func TestEntityWithoutGrafana(t *testing.T) {
	db := ledger()
	db.Dashboard = ""
	e, err := settings.For(db)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := e.Metadata.Annotations["grafana/overview-dashboard"]; ok || len(e.Metadata.Links) != 0 {
		t.Errorf("no Grafana configured, yet: %+v", e.Metadata)
	}
}

func TestSettingsCheck(t *testing.T) {
	for _, s := range []Settings{
		{RepoURL: "github.com/acme/infra", Branch: "main"},
		{RepoURL: "https://github.com/acme", Branch: "main"},
		{RepoURL: "https://github.com/acme/infra", Branch: ""},
		{RepoURL: "https://github.com/acme/infra", Branch: "main", System: "has space"},
	} {
		if err := s.Check(); err == nil {
			t.Errorf("%+v accepted", s)
		}
	}
	if err := settings.Check(); err != nil {
		t.Error(err)
	}
}

// The workspace's entity holds nothing a reviewer may edit in main.tf, so a
// reviewer's size = "L" needs no second edit; the endpoint's entity has it.
func TestWorkspaceEntityLeavesOutEditableValues(t *testing.T) {
	db := ledger()
	db.InWorkspace = true
	base, err := settings.For(db)
	if err != nil {
		t.Fatal(err)
	}
	db.Spec.Size, db.Spec.Instances, db.Spec.PostgresVersion = "L", 5, 16
	db.Spec.Backups = request.Backups{Schedule: request.Hourly, Retention: "30d"}
	edited, err := settings.For(db)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := base.YAML()
	b, _ := edited.YAML()
	if string(a) != string(b) {
		t.Errorf("the workspace entity changed with editable values:\n%s\n---\n%s", a, b)
	}
	if _, ok := base.Metadata.Annotations[AnnotationSize]; ok {
		t.Errorf("the workspace entity has a size annotation")
	}
}
