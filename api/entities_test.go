package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/clustropg/clustro/catalog"
	"github.com/clustropg/clustro/request"
	"github.com/clustropg/clustro/templates"
)

// backstageName is Backstage's rule for metadata.name.
var backstageName = regexp.MustCompile(`^[a-zA-Z0-9]+([-_.][a-zA-Z0-9]+)*$`)

// TestEntities: every live database, and only those, is served as the
// entity its catalog-info.yaml holds, following Backstage's rules.
func TestEntities(t *testing.T) {
	h := newHarness(t)
	ledger := h.ready("ledger", "prod")
	h.ready("events", "dev")
	h.create(map[string]any{"name": "pending", "team": "billing", "environment": "dev"}) // no PR merged yet
	h.ready("gone", "dev")
	var del accepted
	decode(t, h.do("DELETE", "/api/v1/databases/dev/billing/gone", backstageToken, nil), &del)
	h.advance(del.ID, request.PROpen, request.Planned, request.Merged, request.Deleting, request.Deleted)
	// A resize in flight: the entity still describes the ready spec.
	var resize accepted
	decode(t, h.do("PATCH", "/api/v1/databases/prod/billing/ledger", backstageToken, map[string]any{"size": "L"}), &resize)
	h.advance(resize.ID, request.PROpen)

	w := h.do("GET", "/api/v1/catalog/entities", readerToken, nil)
	if w.Code != http.StatusOK {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	var got struct{ Items []catalog.Entity }
	decode(t, w, &got)
	var names []string
	for _, e := range got.Items {
		names = append(names, e.Metadata.Name)
	}
	if !reflect.DeepEqual(names, []string{"events.billing.dev", "ledger.billing.prod"}) {
		t.Fatalf("entities %v, want events.billing.dev and ledger.billing.prod", names)
	}

	// Exactly what the catalog package writes into catalog-info.yaml.
	rec, err := h.st.GetRequest(context.Background(), ledger.ID)
	if err != nil {
		t.Fatal(err)
	}
	s := rec.Request.Spec
	ns := h.cfg.Policy.NamespaceFor(s)
	want, err := h.cfg.Catalog.For(catalog.Database{Spec: s, RequestID: ledger.ID, Namespace: ns, Dir: templates.WorkspaceDir(s),
		Dashboard: h.cfg.Grafana.DashboardURL(ns, s.Name)})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Items[1], want) {
		t.Errorf("entity = %+v\nwant     %+v", got.Items[1], want)
	}
	if got.Items[1].Metadata.Annotations[catalog.AnnotationSize] != "S" {
		t.Errorf("the entity should describe the ready spec, not the resize in flight: %v", got.Items[1].Metadata.Annotations)
	}

	// Backstage's rules, on the JSON as served.
	var raw struct{ Items []map[string]any }
	json.Unmarshal(w.Body.Bytes(), &raw)
	for _, e := range raw.Items {
		md, _ := e["metadata"].(map[string]any)
		spec, _ := e["spec"].(map[string]any)
		name, _ := md["name"].(string)
		if e["apiVersion"] != "backstage.io/v1alpha1" || e["kind"] != "Resource" || spec["type"] != "database" || spec["owner"] == "" || spec["owner"] == nil {
			t.Errorf("entity %s lacks a required field: %v", name, e)
		}
		if len(name) < 1 || len(name) > 63 || !backstageName.MatchString(name) {
			t.Errorf("metadata.name %q breaks Backstage's rule", name)
		}
		if _, ok := spec["lifecycle"]; ok {
			t.Errorf("entity %s: a Resource has no lifecycle", name)
		}
		for k := range md["annotations"].(map[string]any) {
			if strings.HasPrefix(k, "backstage.io/") && k != "backstage.io/source-location" {
				t.Errorf("entity %s: reserved annotation %s", name, k)
			}
		}
	}
	assertNoCredentials(t, w.Body.Bytes())
}
