package templates_test

import (
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"

	"github.com/clustropg/clustro/request"
	"github.com/clustropg/clustro/templates"
)

// goldenCase finds a golden case by name.
func goldenCase(t *testing.T, name string) (*templates.Renderer, request.DatabaseRequest, templates.Workspace) {
	t.Helper()
	for _, tc := range goldenCases {
		if tc.name == name {
			cfg := loadConfig(t, tc.config)
			req, ws := renderCase(t, cfg, tc.req)
			return cfg, req, ws
		}
	}
	t.Fatalf("no golden case %s", name)
	return nil, request.DatabaseRequest{}, templates.Workspace{}
}

// TestVerifyRestoreRoundTrip: the verified Spec carries the restore back,
// its target time in UTC; a restore to the latest has no target time.
func TestVerifyRestoreRoundTrip(t *testing.T) {
	cfg, req, ws := goldenCase(t, "dev-restore-to-time")
	got, err := cfg.VerifyFS(workspaceFS(ws), ws.Dir, ws.Dir)
	if err != nil {
		t.Fatal(err)
	}
	want := time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)
	if got.Restore == nil || got.Restore.Source != "scratch" || got.Restore.TargetTime == nil ||
		!got.Restore.TargetTime.Equal(want) || got.Restore.TargetTime.Location() != time.UTC {
		t.Fatalf("restore %+v, want scratch at %s (UTC)", got.Restore, want)
	}
	assertSameSpec(t, got, req.Spec)

	cfg, _, ws = goldenCase(t, "prod-restore-latest")
	got, err = cfg.VerifyFS(workspaceFS(ws), ws.Dir, ws.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if got.Restore == nil || got.Restore.Source != "ledger" || got.Restore.TargetTime != nil {
		t.Fatalf("restore %+v, want ledger at the latest", got.Restore)
	}
	if !strings.Contains(string(ws.Files[templates.MainFile]), "restore_source   = \"ledger\"\n}") {
		t.Errorf("a restore to the latest writes a target time:\n%s", ws.Files[templates.MainFile])
	}

	// A database that is not restored says nothing of restores.
	_, _, ws = prodLedger(t)
	if strings.Contains(string(ws.Files[templates.MainFile]), "restore") {
		t.Errorf("a new empty database's workspace mentions restore:\n%s", ws.Files[templates.MainFile])
	}
}

// TestVerifyRestoreReviewerEdits: a reviewer may move the target time or
// recover to the latest; the verified Spec says so.
func TestVerifyRestoreReviewerEdits(t *testing.T) {
	cfg, req, ws := goldenCase(t, "dev-restore-to-time")
	const target = `restore_target_time = "2026-03-01T09:30:00Z"`
	for _, tc := range []struct {
		name, old, new string
		want           *time.Time
	}{
		{"earlier", target, `restore_target_time = "2026-02-27T23:59:59Z"`, timep(time.Date(2026, 2, 27, 23, 59, 59, 0, time.UTC))},
		{"fractional seconds", target, `restore_target_time = "2026-03-01T09:30:00.25Z"`, timep(time.Date(2026, 3, 1, 9, 30, 0, 250e6, time.UTC))},
		{"latest", "  " + target + "\n", "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fsys := workspaceFS(ws)
			main := ws.Dir + "/main.tf"
			fsys[main].Data = []byte(edit(t, string(fsys[main].Data), tc.old, tc.new))
			got, err := cfg.VerifyFS(fsys, ws.Dir, ws.Dir)
			if err != nil {
				t.Fatalf("refused:\n%v", err)
			}
			want := req.Spec
			want.Restore = &request.Restore{Source: "scratch", TargetTime: tc.want}
			assertSameSpec(t, got, want)
		})
	}
}

// TestVerifyRefusesRestoreTampering: restore arguments are literals, both
// or the source alone as Render writes them, with values the policy
// allows.
func TestVerifyRefusesRestoreTampering(t *testing.T) {
	cfg, _, ws := goldenCase(t, "dev-restore-to-time")
	const (
		source = `restore_source      = "scratch"`
		target = `restore_target_time = "2026-03-01T09:30:00Z"`
	)
	tests := []struct {
		name      string
		old, new  string
		wantInMsg []string
	}{
		{"source as a reference", source, `restore_source      = var.source`, []string{`restore_source: a reference is not allowed`}},
		{"source as a module output", source, `restore_source      = module.other.cluster_name`, []string{`restore_source: a reference is not allowed`}},
		{"source interpolated", source, `restore_source      = "${"scr"}atch"`, []string{`restore_source: interpolation is not allowed`}},
		{"source from a function", source, `restore_source      = lower("SCRATCH")`, []string{`restore_source: function call lower() is not allowed`}},
		{"source null", source, `restore_source      = null`, []string{`restore_source must be a string`}},
		{"source empty", source, `restore_source      = ""`, []string{`restore_source: required`}},
		{"source not a name", source, `restore_source      = "Scratch_1"`, []string{`restore_source: "Scratch_1" is not a database name`}},
		{"source is the database itself", source, `restore_source      = "scratch-0301"`, []string{`restore_source: "scratch-0301" is the database being created`, `never overwrites`}},
		{"target not RFC 3339", target, `restore_target_time = "2026-03-01 09:30:00"`, []string{`restore_target_time "2026-03-01 09:30:00" is not an RFC 3339 time`}},
		{"target a date", target, `restore_target_time = "2026-03-01"`, []string{`is not an RFC 3339 time`}},
		{"target a number", target, `restore_target_time = 1772357400`, []string{`restore_target_time must be a string`}},
		{"target from a function", target, `restore_target_time = timestamp()`, []string{`restore_target_time: function call timestamp() is not allowed`}},
		{"target with an offset", target, `restore_target_time = "2026-03-01T10:30:00+01:00"`, []string{`restore_target_time must be written "2026-03-01T09:30:00Z"`}},
		{"target in the future", target, `restore_target_time = "2999-01-01T00:00:00Z"`, []string{`restore_target_time: 2999-01-01T00:00:00Z is in the future`}},
		{"target without a source", "  " + source + "\n", "", []string{`restore_target_time without restore_source`}},
		{"unknown extra argument", source, source + "\n  restore_backup_id = \"20260301T000000\"", []string{`argument restore_backup_id is not allowed`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fsys := workspaceFS(ws)
			main := ws.Dir + "/main.tf"
			fsys[main].Data = []byte(edit(t, string(fsys[main].Data), tc.old, tc.new))
			mustRefuse(t, cfg, fsys, ws.Dir, tc.wantInMsg)
		})
	}

	// A target time added to a database that is not restored.
	cfg, _, ws = prodLedger(t)
	fsys := workspaceFS(ws)
	main := ws.Dir + "/main.tf"
	fsys[main].Data = []byte(edit(t, string(fsys[main].Data), "  databases        = []\n",
		"  databases        = []\n  restore_target_time = \"2026-03-01T09:30:00Z\"\n"))
	mustRefuse(t, cfg, fsys, ws.Dir, []string{`restore_target_time without restore_source`})
}

// TestModuleNamesRestoreOrigin: the module reads a restore from the
// ObjectStore and serverName the source database writes to, as
// request.Restore.Origin names them, and the new database archives to its
// own: local.barman, evaluated here, is the one expression that names both.
func TestModuleNamesRestoreOrigin(t *testing.T) {
	cfg := loadConfig(t, "")
	mod, err := cfg.Module()
	if err != nil {
		t.Fatal(err)
	}
	f, diags := hclsyntax.ParseConfig(mod["main.tf"], "main.tf", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	var barman hclsyntax.Expression
	for _, b := range f.Body.(*hclsyntax.Body).Blocks {
		if a, ok := b.Body.Attributes["barman"]; b.Type == "locals" && ok {
			barman = a.Expr
		}
	}
	if barman == nil {
		t.Fatal("module main.tf has no local barman")
	}
	eval := func(name string, source cty.Value) map[string]cty.Value {
		t.Helper()
		ctx := &hcl.EvalContext{
			Variables: map[string]cty.Value{"var": cty.ObjectVal(map[string]cty.Value{
				"name": cty.StringVal(name), "restore_source": source,
			})},
			Functions: map[string]function.Function{"coalesce": stdlib.CoalesceFunc},
		}
		v, diags := barman.Value(ctx)
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		return v.AsValueMap()
	}
	str := func(v cty.Value, attr string) string { return v.GetAttr(attr).AsString() }

	for _, tc := range []struct{ name, source string }{{"ledger-restored", "ledger"}, {"b", "a-b"}, {"scratch-0301", "scratch"}} {
		got := eval(tc.name, cty.StringVal(tc.source))
		origin := request.Restore{Source: tc.source}.Origin()
		if s, n := str(got["source"], "object_store"), str(got["source"], "server_name"); s != origin.ObjectStore || n != origin.ServerName {
			t.Errorf("restore of %s from %s: module reads %s/%s, request says %s/%s", tc.name, tc.source, s, n, origin.ObjectStore, origin.ServerName)
		}
		// The source's names are the ones it has as a database of its own.
		own := eval(tc.source, cty.NullVal(cty.String))
		if str(own["self"], "object_store") != origin.ObjectStore || str(own["self"], "server_name") != origin.ServerName {
			t.Errorf("%s names itself %v, but is restored from %+v", tc.source, own["self"], origin)
		}
		// The new database archives to its own store and serverName.
		self := got["self"]
		if str(self, "object_store") != request.NamesFor(tc.name, request.Daily).ObjectStore || str(self, "server_name") == origin.ServerName {
			t.Errorf("restore of %s from %s archives to %v", tc.name, tc.source, self)
		}
	}

	// cluster.tf reads the source through local.barman.source and archives
	// through this database's object store.
	cluster := string(mod["cluster.tf"])
	for _, want := range []string{
		"barmanObjectName = local.barman.source.object_store",
		"serverName       = local.barman.source.server_name",
		"barmanObjectName = local.object_store_name",
		`source   = "origin"`,
		`name = "origin"`,
		"targetTime = var.restore_target_time",
	} {
		if !strings.Contains(cluster, want) {
			t.Errorf("cluster.tf lacks %q", want)
		}
	}
	if !strings.Contains(string(mod["main.tf"]), "object_store_name = local.barman.self.object_store") {
		t.Error("main.tf: local.object_store_name is not local.barman.self.object_store")
	}
}
