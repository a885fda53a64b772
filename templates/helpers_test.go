package templates_test

import (
	"encoding/json"
	"regexp"
	"strconv"
	"testing"

	"github.com/clustropg/clustro/request"
	"github.com/clustropg/clustro/templates"
)

func specString(s request.Spec) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func itoa(i int) string { return strconv.Itoa(i) }

// renderWorkspace renders a resolved spec under a request id.
func renderWorkspace(t testing.TB, cfg *templates.Renderer, id string, s request.Spec) templates.Workspace {
	t.Helper()
	ws, err := cfg.Render(request.DatabaseRequest{ID: id, Spec: s})
	if err != nil {
		t.Fatalf("render %s: %v", s.Key(), err)
	}
	return ws
}

// renderEntity is the catalog-info.yaml clustro render writes for a
// resolved spec.
func renderEntity(t testing.TB, cfg *templates.Renderer, id string, s request.Spec) []byte {
	t.Helper()
	return renderWorkspace(t, cfg, id, s).Files[templates.CatalogFile]
}

var backendKeyRE = regexp.MustCompile(`(?m)^[ \t]*((?:secret_suffix|key)[ \t]*=[ \t]*"([^"]*)")`)

// stateKey finds the backend's per-workspace attribute in a rendered
// main.tf: the line (without its indentation) and the value.
func stateKey(t testing.TB, main []byte) (line, value string) {
	t.Helper()
	m := backendKeyRE.FindSubmatch(main)
	if m == nil {
		t.Fatalf("no state key in\n%s", main)
	}
	return string(m[1]), string(m[2])
}
