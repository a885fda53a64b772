package templates_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/clustropg/clustro/config"
	"github.com/clustropg/clustro/request"
	"github.com/clustropg/clustro/templates"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

func loadConfig(t testing.TB, path string) *templates.Renderer {
	t.Helper()
	c, err := config.Load(path, nil)
	if err != nil {
		t.Fatalf("load config %q: %v", path, err)
	}
	r, err := templates.New(c.Templates())
	if err != nil {
		t.Fatalf("renderer for %q: %v", path, err)
	}
	return r
}

func intp(i int) *int { return &i }

// goldenCases are representative requests: every size, every backup mode,
// extra databases, every environment, and the non-default platform paths.
var goldenCases = []struct {
	name   string
	config string // "" is the embedded defaults
	req    request.DatabaseRequest
}{
	{"dev-startup-small", "", request.DatabaseRequest{
		ClientType: request.Startup, Load: request.Small,
		Spec: request.Spec{Name: "scratch", Team: "growth", Environment: "dev"}}},
	{"staging-startup-medium-weekly", "", request.DatabaseRequest{
		ClientType: request.Startup, Load: request.Medium,
		Spec: request.Spec{Name: "catalog", Team: "search", Environment: "staging"}}},
	{"prod-m-daily", "", request.DatabaseRequest{
		ID: "req-0001",
		Spec: request.Spec{Name: "ledger", Team: "billing", Environment: "prod", Size: request.SizeM,
			Backups: request.Backups{Schedule: request.Daily}}}},
	{"prod-enterprise-big-hourly-logical-dbs", "", request.DatabaseRequest{
		ClientType: request.Enterprise, Load: request.Big,
		Spec: request.Spec{Name: "orders", Team: "checkout", Environment: "prod",
			LogicalBackup: true, Databases: []string{"orders_archive", "audit"}}}},
	{"staging-xl-custom", "", request.DatabaseRequest{
		Spec: request.Spec{Name: "events", Team: "data", Environment: "staging", Size: request.SizeXL,
			Instances: 5, PostgresVersion: 16, Storage: "1Ti",
			Backups: request.Backups{Schedule: request.Weekly, Hour: intp(22), Retention: "8w"}}}},
	{"s3-grafana-prod-s", "testdata/platform-s3.yaml", request.DatabaseRequest{
		ID:   "req-0042",
		Spec: request.Spec{Name: "sessions", Team: "identity", Environment: "prod", Size: request.SizeS}}},
	// Restores: a new database next to its source, up to the latest WAL
	// (with backups of its own, as prod requires) or to a point in time.
	{"prod-restore-latest", "", request.DatabaseRequest{
		ID: "req-0077",
		Spec: request.Spec{Name: "ledger-restored", Team: "billing", Environment: "prod", Size: request.SizeM,
			Restore: &request.Restore{Source: "ledger"}}}},
	{"dev-restore-to-time", "", request.DatabaseRequest{
		ClientType: request.Startup, Load: request.Small,
		Spec: request.Spec{Name: "scratch-0301", Team: "growth", Environment: "dev",
			Restore: &request.Restore{Source: "scratch", TargetTime: timep(time.Date(2026, 3, 1, 10, 30, 0, 0, time.FixedZone("CET", 3600)))}}}},
}

func timep(t time.Time) *time.Time { return &t }

func renderCase(t testing.TB, cfg *templates.Renderer, req request.DatabaseRequest) (request.DatabaseRequest, templates.Workspace) {
	t.Helper()
	resolved, err := cfg.Config().Policy.Resolve(req)
	if err != nil {
		t.Fatalf("resolve: %v", err)
	}
	ws, err := cfg.Render(resolved)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	return resolved, ws
}

func TestRenderGolden(t *testing.T) {
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := loadConfig(t, tc.config)
			_, ws := renderCase(t, cfg, tc.req)
			for _, name := range ws.Names() {
				golden := filepath.Join("testdata", "golden", tc.name, ws.Dir, name)
				if *update {
					if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(golden, ws.Files[name], 0o644); err != nil {
						t.Fatal(err)
					}
					continue
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("read golden file (run go test ./templates -update to create it): %v", err)
				}
				if !bytes.Equal(ws.Files[name], want) {
					t.Errorf("%s differs from %s (run with -update if the change is intended):\n--- got\n%s\n--- want\n%s", name, golden, ws.Files[name], want)
				}
			}
		})
	}
}

// TestRenderDeterministic renders the same request many times: map
// iteration order must never reach the output.
func TestRenderDeterministic(t *testing.T) {
	cfg := loadConfig(t, "testdata/platform-s3.yaml")
	_, first := renderCase(t, cfg, goldenCases[3].req)
	for i := 0; i < 50; i++ {
		_, again := renderCase(t, cfg, goldenCases[3].req)
		for name, b := range first.Files {
			if !bytes.Equal(b, again.Files[name]) {
				t.Fatalf("render %d of %s differs from the first", i, name)
			}
		}
	}
	mod1, err := cfg.Module()
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		mod2, _ := cfg.Module()
		if !bytes.Equal(mod1[templates.PlatformFile], mod2[templates.PlatformFile]) {
			t.Fatal("platform.tf is not deterministic")
		}
	}
}

// TestVerifyRoundTripsGolden verifies every golden workspace on disk, as
// `clustro verify` would, and gets back the request that rendered it.
func TestVerifyRoundTripsGolden(t *testing.T) {
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := loadConfig(t, tc.config)
			resolved, ws := renderCase(t, cfg, tc.req)
			got, err := cfg.Verify(filepath.Join("testdata", "golden", tc.name, ws.Dir))
			if err != nil {
				t.Fatalf("verify golden workspace: %v", err)
			}
			assertSameSpec(t, got, resolved.Spec)
		})
	}
}

func TestRenderRefusesUnresolvedOrInvalid(t *testing.T) {
	cfg := loadConfig(t, "")
	_, err := cfg.Render(request.DatabaseRequest{Spec: request.Spec{Name: "x", Team: "t", Environment: "dev"}})
	if err == nil {
		t.Fatal("rendering an unresolved request succeeded")
	}
	_, err = cfg.Render(request.DatabaseRequest{Spec: request.Spec{Name: "ledger", Team: "billing", Environment: "dev",
		Size: request.SizeXL, Instances: 1, PostgresVersion: 17, Backups: request.Backups{Schedule: request.NoBackups}}})
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("XL is not allowed in dev")) {
		t.Fatalf("rendering XL in dev: got %v, want the policy refusal", err)
	}
}

func assertSameSpec(t testing.TB, got, want request.Spec) {
	t.Helper()
	if len(want.Databases) == 0 {
		want.Databases = nil
	}
	if len(got.Databases) == 0 {
		got.Databases = nil
	}
	g, w := specString(got), specString(want)
	if g != w {
		t.Errorf("spec differs:\n got  %s\n want %s", g, w)
	}
}
