package request_test

import (
	"strings"
	"testing"

	"github.com/clustropg/clustro/config"
	"github.com/clustropg/clustro/request"
)

func policy(t *testing.T) *request.Policy {
	t.Helper()
	c, err := config.Load("", nil)
	if err != nil {
		t.Fatalf("load default config: %v", err)
	}
	return &c.Policy
}

func intp(i int) *int { return &i }

func base(env string) request.DatabaseRequest {
	return request.DatabaseRequest{Spec: request.Spec{Name: "ledger", Team: "billing", Environment: env}}
}

// TestResolveFillsDefaults: the sizing table and the client profiles turn
// plain answers into a complete Spec.
func TestResolveFillsDefaults(t *testing.T) {
	p := policy(t)
	tests := []struct {
		name string
		req  func(r *request.DatabaseRequest)
		want request.Spec
	}{
		{"nothing but the name: defaults (sme, small)", func(r *request.DatabaseRequest) {},
			request.Spec{Size: "S", Instances: 3, PostgresVersion: 17, Backups: request.Backups{Schedule: "daily", Hour: intp(3), Retention: "30d"}}},
		{"load picks the size", func(r *request.DatabaseRequest) { r.Load = request.Medium },
			request.Spec{Size: "M", Instances: 3, PostgresVersion: 17, Backups: request.Backups{Schedule: "daily", Hour: intp(3), Retention: "30d"}}},
		{"very big load is XL", func(r *request.DatabaseRequest) { r.Load = request.VeryBig },
			request.Spec{Size: "XL", Instances: 3, PostgresVersion: 17, Backups: request.Backups{Schedule: "daily", Hour: intp(3), Retention: "30d"}}},
		{"a size given wins over the load", func(r *request.DatabaseRequest) { r.Load = request.Big; r.Size = request.SizeS },
			request.Spec{Size: "S", Instances: 3, PostgresVersion: 17, Backups: request.Backups{Schedule: "daily", Hour: intp(3), Retention: "30d"}}},
		{"enterprise in prod backs up hourly", func(r *request.DatabaseRequest) { r.ClientType = request.Enterprise },
			request.Spec{Size: "S", Instances: 3, PostgresVersion: 17, Backups: request.Backups{Schedule: "hourly", Hour: intp(3), Retention: "30d"}}},
		{"explicit values are kept", func(r *request.DatabaseRequest) {
			r.Instances, r.PostgresVersion, r.Storage = 5, 16, "120Gi"
			r.Backups = request.Backups{Schedule: request.Weekly, Hour: intp(0), Retention: "4w"}
		}, request.Spec{Size: "S", Instances: 5, PostgresVersion: 16, Storage: "120Gi", Backups: request.Backups{Schedule: "weekly", Hour: intp(0), Retention: "4w"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := base("prod")
			tc.req(&r)
			got, err := p.Resolve(r)
			if err != nil {
				t.Fatalf("resolve: %v", err)
			}
			tc.want.Name, tc.want.Team, tc.want.Environment = "ledger", "billing", "prod"
			if g, w := specJSON(got.Spec), specJSON(tc.want); g != w {
				t.Errorf("got  %s\nwant %s", g, w)
			}
			if got.Kind != request.Create {
				t.Errorf("kind = %q, want create", got.Kind)
			}
		})
	}
}

func TestResolveDevStartupHasNoBackups(t *testing.T) {
	r := base("dev")
	r.ClientType = request.Startup
	got, err := policy(t).Resolve(r)
	if err != nil {
		t.Fatal(err)
	}
	if got.Backups.Enabled() || got.Backups.Hour != nil || got.Instances != 1 {
		t.Errorf("dev startup: got %+v, want 1 instance and no backups", got.Spec)
	}
}

// TestResolveRefuses: each bad field gets a problem naming the field and
// saying what is allowed.
func TestResolveRefuses(t *testing.T) {
	p := policy(t)
	tests := []struct {
		name  string
		env   string
		edit  func(r *request.DatabaseRequest)
		field string
		msg   string
	}{
		{"no name", "dev", func(r *request.DatabaseRequest) { r.Name = "" }, "name", "required"},
		{"uppercase name", "dev", func(r *request.DatabaseRequest) { r.Name = "Ledger" }, "name", "lowercase letters, digits and '-'"},
		{"name starts with a digit", "dev", func(r *request.DatabaseRequest) { r.Name = "1ledger" }, "name", "start with a letter"},
		{"name with a dot", "dev", func(r *request.DatabaseRequest) { r.Name = "led.ger" }, "name", "lowercase letters"},
		{"name too long for pod names", "dev", func(r *request.DatabaseRequest) { r.Name = strings.Repeat("a", 44) }, "name", "use at most 43 characters"},
		{"name too long for state and catalog", "staging", func(r *request.DatabaseRequest) {
			r.Name = strings.Repeat("a", 40)
			r.Team = strings.Repeat("t", 20)
		}, "name", `the Terraform state secret's label and the catalog entity name "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.tttttttttttttttttttt.staging" would be refused: must be no more than 63 bytes; use at most 34 characters`},
		{"extra database makes a name too long", "dev", func(r *request.DatabaseRequest) {
			r.Name = strings.Repeat("a", 30)
			r.Databases = []string{strings.Repeat("d", 30)}
		}, "databases", "the Database object"},
		{"extra database named like another cluster's", "dev", func(r *request.DatabaseRequest) { r.Databases = []string{"b_db_c"} }, "databases", `"b_db_c" may not contain _db_`},
		{"extra database ending in _", "dev", func(r *request.DatabaseRequest) { r.Databases = []string{"orders_"} }, "databases", `the Database object for orders_ "ledger-db-orders-" would be refused`},
		{"no team", "dev", func(r *request.DatabaseRequest) { r.Team = "" }, "team", "required"},
		{"bad team", "dev", func(r *request.DatabaseRequest) { r.Team = "Billing Team" }, "team", "lowercase letters"},
		{"no environment", "", func(r *request.DatabaseRequest) {}, "environment", "required; allowed: dev, prod, staging"},
		{"unknown environment", "qa", func(r *request.DatabaseRequest) {}, "environment", `"qa" is not an environment; allowed: dev, prod, staging`},
		{"unknown size", "dev", func(r *request.DatabaseRequest) { r.Size = "XXL" }, "size", `"XXL" is not a size; allowed: S, M, L, XL`},
		{"XL in dev", "dev", func(r *request.DatabaseRequest) { r.Size = request.SizeXL }, "size", "XL is not allowed in dev; allowed there: S, M, L"},
		{"unknown load", "dev", func(r *request.DatabaseRequest) { r.Load = "huge" }, "load", "allowed: small, medium, big, very-big"},
		{"unknown client type", "dev", func(r *request.DatabaseRequest) { r.ClientType = "bank" }, "clientType", "allowed: startup, sme, enterprise"},
		{"one instance in prod", "prod", func(r *request.DatabaseRequest) { r.Instances = 1 }, "instances", "1 is not allowed in prod; allowed there: 3 to 9"},
		{"negative instances", "dev", func(r *request.DatabaseRequest) { r.Instances = -2 }, "instances", "allowed there: 1 to 3"},
		{"postgres 12", "dev", func(r *request.DatabaseRequest) { r.PostgresVersion = 12 }, "postgresVersion", "12 is not offered; allowed: 16, 17, 18"},
		{"storage in GB", "dev", func(r *request.DatabaseRequest) { r.Storage = "10GB" }, "storage", "whole number of Mi, Gi or Ti"},
		{"storage too small", "dev", func(r *request.DatabaseRequest) { r.Storage = "512Mi" }, "storage", "below the minimum of 1Gi"},
		{"storage too big", "dev", func(r *request.DatabaseRequest) { r.Storage = "3Ti" }, "storage", "above the platform's maximum of 2Ti"},
		{"no backups in prod", "prod", func(r *request.DatabaseRequest) { r.Backups.Schedule = request.NoBackups }, "backups.schedule", "prod requires backups"},
		{"unknown schedule", "dev", func(r *request.DatabaseRequest) { r.Backups.Schedule = "monthly" }, "backups.schedule", "allowed: none, hourly, daily, weekly"},
		{"hour 24", "prod", func(r *request.DatabaseRequest) { r.Backups.Hour = intp(24) }, "backups.hour", "24 is not an hour; allowed: 0-23"},
		{"hour without backups", "dev", func(r *request.DatabaseRequest) {
			r.ClientType = request.Startup
			r.Backups.Hour = intp(2)
		}, "backups.schedule", "none takes no hour or retention"},
		{"retention in words", "prod", func(r *request.DatabaseRequest) { r.Backups.Retention = "2 weeks" }, "backups.retention", "like 14d, 4w or 3m"},
		{"reserved database", "dev", func(r *request.DatabaseRequest) { r.Databases = []string{"postgres"} }, "databases", "reserved"},
		{"duplicate database", "dev", func(r *request.DatabaseRequest) { r.Databases = []string{"a", "a"} }, "databases", `"a" is listed twice`},
		{"database with a dash", "dev", func(r *request.DatabaseRequest) { r.Databases = []string{"my-db"} }, "databases", "lowercase letters, digits and '_'"},
		{"too many databases", "dev", func(r *request.DatabaseRequest) {
			r.Databases = strings.Split("a,b,c,d,e,f,g,h,i,j,k", ",")
		}, "databases", "11 extra databases asked; at most 10 allowed"},
		{"unknown kind", "dev", func(r *request.DatabaseRequest) { r.Kind = "upgrade" }, "kind", "allowed: create, resize, backups, delete"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := base(tc.env)
			tc.edit(&r)
			before := specJSON(r.Spec)
			got, err := p.Resolve(r)
			probs, ok := err.(request.Problems)
			if !ok {
				t.Fatalf("got %v (%T), want request.Problems", err, err)
			}
			found := false
			for _, pr := range probs {
				if pr.Field == tc.field && strings.Contains(pr.Message, tc.msg) {
					found = true
				}
			}
			if !found {
				t.Errorf("no problem on %s containing %q; got: %v", tc.field, tc.msg, probs)
			}
			if specJSON(got.Spec) != before || specJSON(r.Spec) != before {
				t.Error("a refused request was changed")
			}
		})
	}
}

func TestResolveReportsEveryProblem(t *testing.T) {
	r := request.DatabaseRequest{Spec: request.Spec{Name: "Bad Name", Team: "", Environment: "prod", Size: "XXL", Instances: 1}}
	_, err := policy(t).Resolve(r)
	probs, _ := err.(request.Problems)
	for _, f := range []string{"name", "team", "size", "instances"} {
		if !probs.Has(f) {
			t.Errorf("no problem reported for %s: %v", f, err)
		}
	}
}

func TestResolveDoesNotAlias(t *testing.T) {
	r := base("prod")
	r.Backups.Hour = intp(4)
	r.Databases = []string{"a"}
	got, err := policy(t).Resolve(r)
	if err != nil {
		t.Fatal(err)
	}
	*got.Backups.Hour = 9
	got.Databases[0] = "b"
	if *r.Backups.Hour != 4 || r.Databases[0] != "a" {
		t.Error("the resolved request shares memory with the input")
	}
}

func TestParametersDerivedFromMemory(t *testing.T) {
	p := policy(t)
	tests := []struct {
		size                       request.Size
		shared, cache, conns, work string
	}{
		{request.SizeS, "256MB", "768MB", "100", "4MB"},
		{request.SizeM, "1024MB", "3072MB", "200", "8MB"},
		{request.SizeL, "2048MB", "6144MB", "300", "16MB"},
		{request.SizeXL, "4096MB", "12288MB", "500", "32MB"},
	}
	for _, tc := range tests {
		preset, ok := p.Preset(tc.size)
		if !ok {
			t.Fatalf("no preset %s", tc.size)
		}
		got := preset.Parameters()
		want := map[string]string{"shared_buffers": tc.shared, "effective_cache_size": tc.cache, "max_connections": tc.conns, "work_mem": tc.work}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s %s = %q, want %q", tc.size, k, got[k], v)
			}
		}
	}
}

func TestPolicyCheck(t *testing.T) {
	tests := []struct {
		name string
		edit func(p *request.Policy)
		want string
	}{
		{"missing size", func(p *request.Policy) { delete(p.Sizes, request.SizeL) }, "sizes.L: missing"},
		{"bad quantity", func(p *request.Policy) { s := p.Sizes["M"]; s.Memory.Limit = "lots"; p.Sizes["M"] = s }, `sizes.M.memory.limit: "lots" is not a Kubernetes quantity`},
		{"load to unknown size", func(p *request.Policy) { p.Loads[request.Big] = "XXL" }, "loads.big: must map to one of S, M, L, XL"},
		{"profile below minimum", func(p *request.Policy) {
			p.ClientTypes[request.SME]["prod"] = request.Profile{Instances: 1, Backups: "daily"}
		}, "clientTypes.sme.prod.instances: 1 is outside environment prod's 3-9"},
		{"profile without required backups", func(p *request.Policy) {
			p.ClientTypes[request.Startup]["prod"] = request.Profile{Instances: 3, Backups: "none"}
		}, "clientTypes.startup.prod.backups: environment prod requires backups"},
		{"latest image", func(p *request.Policy) { p.Postgres.Images[17] = "ghcr.io/cloudnative-pg/postgresql:latest" }, "latest is refused"},
		{"default version not offered", func(p *request.Policy) { p.Postgres.Default = 15 }, "postgres.default: 15 is not among postgres.images"},
		{"namespace without team", func(p *request.Policy) { p.Namespace = "databases" }, "namespace: the pattern must contain {team} and {env}"},
		{"namespace without env", func(p *request.Policy) { p.Namespace = "db-{team}" }, "namespace: the pattern must contain {team} and {env}"},
		{"namespace team twice", func(p *request.Policy) { p.Namespace = "{team}-{env}-{team}" }, "namespace: the pattern must contain {team} and {env} once each"},
		{"namespace without a dash between", func(p *request.Policy) { p.Namespace = "{team}{env}" }, "separated by text with a '-'"},
		{"namespace with a dot", func(p *request.Policy) { p.Namespace = "db.{team}-{env}" }, "may hold only lowercase letters, digits and '-'"},
		{"environment with a dash", func(p *request.Policy) {
			p.Environments["eu-prod"] = p.Environments["prod"]
			for _, byEnv := range p.ClientTypes {
				byEnv["eu-prod"] = byEnv["prod"]
			}
		}, "environments.eu-prod: an environment name must be at most 16 lowercase letters and digits"},
		{"environment missing a profile", func(p *request.Policy) {
			p.Environments["qa"] = request.EnvironmentPolicy{AllowedSizes: []request.Size{"S"}, MinInstances: 1, MaxInstances: 1}
		}, "clientTypes.enterprise.qa: missing"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := policy(t)
			tc.edit(p)
			err := p.Check()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want a problem containing %q", err, tc.want)
			}
		})
	}
	if err := policy(t).Check(); err != nil {
		t.Errorf("the embedded policy fails its own check: %v", err)
	}
}

func TestReserved(t *testing.T) {
	p := policy(t)
	got, err := p.Reserved(request.Spec{Size: request.SizeM, Instances: 3, Storage: "80Gi"})
	if err != nil {
		t.Fatal(err)
	}
	want := request.Reservation{Instances: 3, CPU: "1", CPULimit: "2", Memory: "4Gi", MemoryLimit: "4Gi", Storage: "80Gi", WALStorage: "10Gi",
		TotalCPU: "3", TotalMemory: "12Gi", TotalStorage: "270Gi"}
	if got != want {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	if got, _ := p.Reserved(request.Spec{Size: request.SizeS, Instances: 2}); got.TotalCPU != "1" || got.TotalStorage != "24Gi" {
		t.Errorf("S x2: %+v", got)
	}
}
