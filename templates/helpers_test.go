package templates_test

import (
	"encoding/json"
	"errors"
	"io/fs"
	"regexp"
	"strconv"
	"strings"
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

// mustRefuse verifies the workspace dir of fsys and fails the test unless
// it is refused, with no request, by violations mentioning each of want.
func mustRefuse(t *testing.T, r *templates.Renderer, fsys fs.FS, dir string, want []string) templates.Violations {
	t.Helper()
	spec, err := r.VerifyFS(fsys, dir, dir)
	var vs templates.Violations
	if !errors.As(err, &vs) {
		t.Fatalf("tampered workspace accepted (err %v), spec %+v", err, spec)
	}
	if spec.Name != "" {
		t.Errorf("a refused workspace returned a request: %+v", spec)
	}
	msg := vs.Error()
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("violations do not mention %q:\n%s", w, msg)
		}
	}
	return vs
}
