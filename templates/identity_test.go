package templates_test

import (
	"path"
	"regexp"
	"testing"
	"testing/fstest"

	"github.com/clustropg/clustro/request"
)

// stateKeyRE finds the per-workspace state attribute of either backend.
var stateKeyRE = regexp.MustCompile(`(?m)^\s*(secret_suffix|key)\s*=\s*"([^"]*)"`)

var entityNameRE = regexp.MustCompile(`(?m)^  name: (\S+)$`)

// Team billing's ops-ledger and team billing-ops's ledger once rendered the
// same state key and entity name: the second apply would have planned
// against the first one's state and replaced its cluster.
func TestDistinctDatabasesNeverShareStateOrEntity(t *testing.T) {
	for _, cfg := range []string{"", "testdata/platform-s3.yaml"} {
		r := loadConfig(t, cfg)
		seen := map[string]string{}
		for _, s := range []request.Spec{
			{Environment: "prod", Team: "billing", Name: "ops-ledger"},
			{Environment: "prod", Team: "billing-ops", Name: "ledger"},
		} {
			req := request.DatabaseRequest{ClientType: request.SME, Load: request.Medium, Spec: s}
			resolved, err := r.Config().Policy.Resolve(req)
			if err != nil {
				t.Fatalf("%s: %v", s.Key(), err)
			}
			ws, err := r.Render(resolved)
			if err != nil {
				t.Fatalf("render %s: %v", s.Key(), err)
			}
			var main, entity []byte
			for name, b := range ws.Files {
				switch path.Base(name) {
				case "main.tf":
					main = b
				case "catalog-info.yaml":
					entity = b
				}
			}
			state := stateKeyRE.FindSubmatch(main)
			ent := entityNameRE.FindSubmatch(entity)
			if state == nil || ent == nil {
				t.Fatalf("%s: no state key or entity name in\n%s\n%s", s.Key(), main, entity)
			}
			for what, v := range map[string]string{"state " + string(state[1]): string(state[2]), "entity": string(ent[1])} {
				if other, ok := seen[what+"="+v]; ok {
					t.Errorf("config %q: %s and %s share the %s %q", cfg, other, s.Key(), what, v)
				}
				seen[what+"="+v] = s.Key()
			}
		}
		if len(seen) != 4 {
			t.Errorf("config %q: want 4 distinct names, got %v", cfg, seen)
		}
	}
}

// Names Backstage and Kubernetes accept, which the catalog once refused at
// render time after the API had answered 202: they render and verify.
func TestValidNamesRender(t *testing.T) {
	r := loadConfig(t, "")
	for _, s := range []request.Spec{
		{Environment: "dev", Team: "billing", Name: "a--b"},
		{Environment: "dev", Team: "bill--ing", Name: "ledger"},
		{Environment: "prod", Team: "billing", Name: "ledger-2"},
	} {
		resolved, err := r.Config().Policy.Resolve(request.DatabaseRequest{ClientType: request.SME, Load: request.Medium, Spec: s})
		if err != nil {
			t.Errorf("%s refused: %v", s.Key(), err)
			continue
		}
		ws, err := r.Render(resolved)
		if err != nil {
			t.Errorf("render %s: %v", s.Key(), err)
			continue
		}
		fsys := fstest.MapFS{}
		for name, b := range ws.Files {
			fsys[path.Join(ws.Dir, name)] = &fstest.MapFile{Data: b}
		}
		if _, err := r.VerifyFS(fsys, ws.Dir, ws.Dir); err != nil {
			t.Errorf("verify %s: %v", s.Key(), err)
		}
	}
}
