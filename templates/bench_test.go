package templates_test

import "testing"

// BenchmarkRender renders the prod / M / daily workspace (main.tf and
// catalog-info.yaml) of an already resolved request.
func BenchmarkRender(b *testing.B) {
	cfg := loadConfig(b, "")
	resolved, _ := renderCase(b, cfg, goldenCases[2].req)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := cfg.Render(resolved); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerify verifies the same workspace from memory.
func BenchmarkVerify(b *testing.B) {
	cfg := loadConfig(b, "")
	_, ws := renderCase(b, cfg, goldenCases[2].req)
	fsys := workspaceFS(ws)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := cfg.VerifyFS(fsys, ws.Dir, ws.Dir); err != nil {
			b.Fatal(err)
		}
	}
}
