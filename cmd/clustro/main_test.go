package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clustropg/clustro/internal/cli"
)

type result struct {
	code           int
	stdout, stderr string
}

func clustro(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(context.Background(), args, func(k string) string { return env[k] }, strings.NewReader(""), &out, &errb)
	return result{cli.ExitCode(err), out.String(), errb.String()}
}

func TestRenderWritesAnInfraRepoTree(t *testing.T) {
	dir := t.TempDir()
	r := clustro(t, nil, "render", "--name", "ledger", "--team", "billing", "--env", "prod", "--size", "M",
		"--backups", "daily", "--databases", "reports,audit", "--logical-backup", "--out", dir, "--with-module")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, f := range []string{
		"databases/prod/billing/ledger/main.tf", "databases/prod/billing/ledger/catalog-info.yaml",
		"modules/cnpg-database/platform.tf", "modules/cnpg-database/cluster.tf", "modules/cnpg-database/variables.tf",
	} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s not written: %v", f, err)
		}
	}
	main, _ := os.ReadFile(filepath.Join(dir, "databases/prod/billing/ledger/main.tf"))
	for _, want := range []string{`size             = "M"`, `databases        = ["reports", "audit"]`, `logical_backup   = true`} {
		if !strings.Contains(string(main), want) {
			t.Errorf("main.tf lacks %q", want)
		}
	}
	if !strings.Contains(r.stdout, "size M, 3 instance(s), backups daily") {
		t.Errorf("stdout = %q", r.stdout)
	}

	v := clustro(t, nil, "verify", filepath.Join(dir, "databases/prod/billing/ledger"))
	if v.code != 0 {
		t.Fatalf("verify of a rendered workspace: exit %d: %s", v.code, v.stderr)
	}
	var spec map[string]any
	if err := json.Unmarshal([]byte(v.stdout), &spec); err != nil || spec["size"] != "M" || spec["name"] != "ledger" {
		t.Errorf("verify printed %q (%v)", v.stdout, err)
	}
}

func TestRenderPrintsWithoutOut(t *testing.T) {
	r := clustro(t, nil, "render", "--name", "scratch", "--team", "growth", "--env", "dev", "--load", "small", "--client-type", "startup")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{"# ---- databases/dev/growth/scratch/main.tf", "# ---- databases/dev/growth/scratch/catalog-info.yaml", `backup_schedule  = "none"`} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q", want)
		}
	}
}

// TestRenderBadInput: status 2, one line per problem naming the flag, and
// nothing written.
func TestRenderBadInput(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"several problems", []string{"--name", "Ledger", "--env", "prod", "--size", "XXL", "--instances", "1", "--backup-hour", "25"},
			[]string{"--name: \"Ledger\" must be lowercase", "--team: required", "--size: \"XXL\" is not a size; allowed: S, M, L, XL", "--instances: 1 is not allowed in prod", "--backup-hour: 25 is not an hour"}},
		{"policy", []string{"--name", "big", "--team", "data", "--env", "dev", "--size", "XL"}, []string{"--size: XL is not allowed in dev; allowed there: S, M, L"}},
		{"unknown flag", []string{"--name", "x", "--colour", "blue"}, []string{"unknown flag: --colour"}},
		{"bad number", []string{"--instances", "three"}, []string{"invalid argument \"three\" for \"--instances\""}},
		{"bad config", []string{"--name", "x", "--team", "t", "--env", "dev", "--config", "/nonexistent.yaml"}, []string{"read config"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			r := clustro(t, nil, append([]string{"render", "--out", dir}, tc.args...)...)
			if r.code != 2 {
				t.Errorf("exit %d, want 2", r.code)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
				}
			}
			entries, _ := os.ReadDir(dir)
			if len(entries) != 0 {
				t.Errorf("bad input wrote %d entries", len(entries))
			}
		})
	}
}

func TestVerifyRefusesTamperedWorkspace(t *testing.T) {
	dir := t.TempDir()
	if r := clustro(t, nil, "render", "--name", "ledger", "--team", "billing", "--env", "prod", "--out", dir); r.code != 0 {
		t.Fatal(r.stderr)
	}
	ws := filepath.Join(dir, "databases/prod/billing/ledger")
	f, err := os.OpenFile(filepath.Join(ws, "main.tf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("\ndata \"external\" \"x\" {\n  program = [\"sh\"]\n}\n")
	f.Close()
	r := clustro(t, nil, "verify", ws)
	if r.code != 1 {
		t.Errorf("exit %d, want 1", r.code)
	}
	if !strings.Contains(r.stderr, "main.tf:") || !strings.Contains(r.stderr, `block data "external" "x" is not allowed`) || r.stdout != "" {
		t.Errorf("stdout %q stderr %q", r.stdout, r.stderr)
	}
}

func TestSizesAndConfigFromEnvironment(t *testing.T) {
	r := clustro(t, nil, "sizes")
	if r.code != 0 {
		t.Fatal(r.stderr)
	}
	for _, want := range []string{"SIZE", "M     medium", "4Gi/4Gi", "1024MB", "enterprise", "prod     S,M,L,XL  3-9        required"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("sizes output lacks %q:\n%s", want, r.stdout)
		}
	}
	cfg := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(cfg, []byte("policy:\n  sizes:\n    M: {memory: {limit: 8Gi}}\n"), 0o600)
	r = clustro(t, map[string]string{"CLUSTRO_CONFIG": cfg}, "sizes")
	if !strings.Contains(r.stdout, "4Gi/8Gi") || !strings.Contains(r.stdout, "2048MB") {
		t.Errorf("CLUSTRO_CONFIG not used:\n%s", r.stdout)
	}
}

func TestUnknownCommand(t *testing.T) {
	if r := clustro(t, nil, "frobnicate"); r.code != 2 || !strings.Contains(r.stderr, "unknown command") {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
}
