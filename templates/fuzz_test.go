package templates_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclwrite"

	"github.com/clustropg/clustro/request"
)

// FuzzRenderVerify: for any request the policy accepts, the rendered HCL
// parses, Verify accepts it and returns the same request; for any it
// refuses, nothing is rendered. Run with `make fuzz`; the seed corpus runs
// in `make test`.
func FuzzRenderVerify(f *testing.F) {
	f.Add("ledger", "billing", uint8(2), "M", 3, 17, "", "daily", 3, "14d", false, "", "", int64(0))
	f.Add("a", "b", uint8(0), "S", 1, 16, "20Gi", "none", -1, "", true, "x,y_z", "", int64(0))
	f.Add("x${y}", "t%{if}", uint8(1), "XL", 5, 18, "1Ti", "weekly", 23, "3m", true, "orders", "", int64(0))
	f.Add("quote\"name", "team\nnewline", uint8(3), "L", 9, 99, "-1Gi", "hourly", 24, "0d", false, "app,app", "", int64(0))
	f.Add(strings.Repeat("n", 44), "t", uint8(0), "", 0, 0, "", "", 0, "", false, "", "", int64(0))
	// Restores: to the latest (a zero target), to a time (Unix nanoseconds,
	// given in the machine's zone), to the future, from itself, from a
	// source that is no name.
	f.Add("ledger-restored", "billing", uint8(2), "M", 3, 17, "", "daily", 3, "14d", false, "", "ledger", int64(0))
	f.Add("scratch-0301", "growth", uint8(0), "S", 1, 17, "", "none", -1, "", false, "", "scratch", int64(1772357400123456789))
	f.Add("b", "t", uint8(1), "S", 1, 17, "", "", -1, "", false, "", "a", int64(32503680000000000000/10))
	f.Add("same", "t", uint8(0), "S", 1, 17, "", "", -1, "", false, "", "same", int64(1))
	f.Add("b", "t", uint8(0), "S", 1, 17, "", "", -1, "", false, "", "${x}", int64(-1))
	cfg := loadConfig(f, "")
	envs := cfg.Config().Policy.EnvironmentNames()
	f.Fuzz(func(t *testing.T, name, team string, env uint8, size string, instances, pg int, storage, schedule string, hour int, retention string, logical bool, dbs, restoreSource string, restoreTarget int64) {
		r := request.DatabaseRequest{Spec: request.Spec{
			Name: name, Team: team, Environment: envs[int(env)%len(envs)],
			Size: request.Size(size), Instances: instances, PostgresVersion: pg, Storage: storage,
			Backups:       request.Backups{Schedule: request.Schedule(schedule), Retention: retention},
			LogicalBackup: logical,
		}}
		if hour >= 0 {
			r.Backups.Hour = &hour
		}
		if dbs != "" {
			r.Databases = strings.Split(dbs, ",")
		}
		if restoreSource != "" {
			r.Restore = &request.Restore{Source: restoreSource}
			if restoreTarget != 0 {
				at := time.Unix(0, restoreTarget)
				r.Restore.TargetTime = &at
			}
		}
		resolved, err := cfg.Config().Policy.Resolve(r)
		if err != nil {
			if _, ok := err.(request.Problems); !ok {
				t.Fatalf("resolve returned %T, want request.Problems: %v", err, err)
			}
			if _, rerr := cfg.Render(r); rerr == nil {
				t.Fatalf("a request the policy refused was rendered: %v", err)
			}
			return
		}
		ws, err := cfg.Render(resolved)
		if err != nil {
			t.Fatalf("render of a resolved request: %v", err)
		}
		main := ws.Files["main.tf"]
		if _, diags := hclparse.NewParser().ParseHCL(main, "main.tf"); diags.HasErrors() {
			t.Fatalf("rendered HCL does not parse: %v\n%s", diags, main)
		}
		if formatted := hclwrite.Format(main); !bytes.Equal(formatted, main) {
			t.Fatalf("rendered HCL is not in canonical format:\n%s\nwant\n%s", main, formatted)
		}
		got, err := cfg.VerifyFS(workspaceFS(ws), ws.Dir, ws.Dir)
		if err != nil {
			t.Fatalf("verify refused a rendered workspace:\n%v\n%s", err, ws.Files["main.tf"])
		}
		assertSameSpec(t, got, resolved.Spec)
	})
}
