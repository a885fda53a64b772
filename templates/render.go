package templates

import (
	"fmt"
	"path"
	"sort"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"

	"github.com/clustropg/clustro/catalog"
	"github.com/clustropg/clustro/request"
)

// The provider every workspace and the module use, pinned.
const (
	ProviderSource  = "gavinbunney/kubectl"
	ProviderVersion = "1.19.0"
	// requiredVersion is the oldest Terraform whose features the module uses.
	requiredVersion = ">= 1.5.0"
	// moduleName is the label of the one module call in a workspace.
	moduleName = "database"
)

// File names in a workspace.
const (
	MainFile    = "main.tf"
	CatalogFile = "catalog-info.yaml"
)

// outputs are the root outputs every workspace re-exports from the module,
// for the runner to read after apply.
var outputs = []string{"namespace", "cluster_name", "rw_host", "ro_host", "app_secret_name", "grafana_url"}

// Workspace is a rendered root module: its directory in the infra repo and
// its files by name.
type Workspace struct {
	Dir   string
	Files map[string][]byte
}

// Names lists the workspace's file names, sorted.
func (w Workspace) Names() []string { return sortedKeys(w.Files) }

// WorkspaceDir is the directory of a database's workspace in the infra repo.
func WorkspaceDir(s request.Spec) string {
	return path.Join("databases", s.Environment, s.Team, s.Name)
}

// Renderer renders and verifies workspaces under one platform config. The
// parts of main.tf that every workspace shares are rendered once, by New.
type Renderer struct {
	cfg Config
	// head (the comment and the terraform block's fixed start), provider and
	// outputs are the parts of main.tf that do not depend on the request.
	head, provider, outputs []byte
}

// New checks the config and prepares a Renderer.
func New(cfg Config) (*Renderer, error) {
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	provider, err := cfg.providerAttrs()
	if err != nil {
		return nil, err
	}
	r := &Renderer{cfg: cfg}

	var g hclgen
	g.comment(
		"Managed by ClustroPG: one database, one workspace, one state.",
		"Reviewers may change the values of size, instances, storage, postgres_version,",
		"backup_schedule, backup_hour, backup_retention, logical_backup and databases.",
		"Anything else is refused before plan (clustro verify).",
	)
	g.open(0, "terraform")
	g.attrs(2, []attr{{"required_version", cty.StringVal(requiredVersion)}})
	g.newline()
	g.open(2, "required_providers")
	g.openObject(4, "kubectl")
	g.attrs(6, []attr{{"source", cty.StringVal(ProviderSource)}, {"version", cty.StringVal(ProviderVersion)}})
	g.close(4)
	g.close(2)
	g.newline()
	r.head = g.b

	g = hclgen{}
	g.newline()
	g.open(0, "provider", "kubectl")
	g.attrs(2, provider)
	g.close(0)
	r.provider = g.b

	g = hclgen{}
	for _, o := range outputs {
		g.newline()
		g.open(0, "output", o)
		g.traversal(2, "value", hcl.Traversal{
			hcl.TraverseRoot{Name: "module"},
			hcl.TraverseAttr{Name: moduleName},
			hcl.TraverseAttr{Name: o},
		})
		g.close(0)
	}
	r.outputs = g.b
	return r, nil
}

// Config is the config the Renderer was made with.
func (r *Renderer) Config() Config { return r.cfg }

// Render writes the workspace of a resolved request. The request must have
// gone through Policy.Resolve; Render checks the Spec again and refuses one
// the policy does not allow.
func (r *Renderer) Render(req request.DatabaseRequest) (Workspace, error) {
	c := r.cfg
	if err := c.Policy.Validate(req.Spec); err != nil {
		return Workspace{}, fmt.Errorf("render %s: %w", req.Key(), err)
	}
	main, err := r.mainTF(req.Spec)
	if err != nil {
		return Workspace{}, fmt.Errorf("render %s: %w", req.Key(), err)
	}
	dir := WorkspaceDir(req.Spec)
	ns := c.Policy.NamespaceFor(req.Spec)
	ent, err := c.Catalog.For(catalog.Database{
		Spec: req.Spec, RequestID: req.ID, Namespace: ns, Dir: dir,
		Dashboard: c.Grafana.Dashboard(c.Policy, req.Spec), InWorkspace: true,
	})
	if err != nil {
		return Workspace{}, fmt.Errorf("render %s: %w", req.Key(), err)
	}
	info, err := ent.YAML()
	if err != nil {
		return Workspace{}, fmt.Errorf("render %s: %w", req.Key(), err)
	}
	return Workspace{Dir: dir, Files: map[string][]byte{MainFile: main, CatalogFile: info}}, nil
}

// moduleAttrs returns the module call's arguments in the order they are
// written. Verify reads back exactly these (see moduleArgs).
func (c Config) moduleAttrs(s request.Spec) []attr {
	attrs := []attr{
		{"name", cty.StringVal(s.Name)},
		{"team", cty.StringVal(s.Team)},
		{"environment", cty.StringVal(s.Environment)},
		{"namespace", cty.StringVal(c.Policy.NamespaceFor(s))},
		{"size", cty.StringVal(string(s.Size))},
		{"instances", cty.NumberIntVal(int64(s.Instances))},
		{"postgres_version", cty.NumberIntVal(int64(s.PostgresVersion))},
	}
	if s.Storage != "" {
		attrs = append(attrs, attr{"storage", cty.StringVal(s.Storage)})
	}
	attrs = append(attrs, attr{"backup_schedule", cty.StringVal(string(s.Backups.Schedule))})
	if s.Backups.Enabled() {
		attrs = append(attrs,
			attr{"backup_hour", cty.NumberIntVal(int64(*s.Backups.Hour))},
			attr{"backup_retention", cty.StringVal(s.Backups.Retention)},
		)
	}
	dbs := cty.ListValEmpty(cty.String)
	if len(s.Databases) > 0 {
		vals := make([]cty.Value, len(s.Databases))
		for i, d := range s.Databases {
			vals[i] = cty.StringVal(d)
		}
		dbs = cty.ListVal(vals)
	}
	attrs = append(attrs,
		attr{"logical_backup", cty.BoolVal(s.LogicalBackup)},
		attr{"databases", dbs},
	)
	// A restore names its source and, unless it recovers to the latest,
	// its target time; a database that is not restored has neither.
	if r := s.Restore; r != nil {
		attrs = append(attrs, attr{"restore_source", cty.StringVal(r.Source)})
		if r.TargetTime != nil {
			attrs = append(attrs, attr{"restore_target_time", cty.StringVal(formatTargetTime(*r.TargetTime))})
		}
	}
	return attrs
}

// formatTargetTime writes a restore target time as the module call holds
// it: RFC 3339 in UTC, as CloudNativePG's recoveryTarget.targetTime reads it.
func formatTargetTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

type attr struct {
	name string
	val  cty.Value
}

// mainTF joins the shared parts with the two that depend on the request:
// the backend (it names the workspace's state) and the module call.
func (r *Renderer) mainTF(s request.Spec) ([]byte, error) {
	c := r.cfg
	backend, err := c.backendAttrs(s)
	if err != nil {
		return nil, err
	}
	var backendEnd hclgen
	backendEnd.open(2, "backend", c.Terraform.Backend.Type)
	backendEnd.attrs(4, backend)
	backendEnd.close(2)
	backendEnd.close(0) // the terraform block

	var module hclgen
	module.newline()
	module.open(0, "module", moduleName)
	module.attrs(2, []attr{{"source", cty.StringVal(c.Terraform.ModuleSource)}})
	module.newline()
	module.attrs(2, c.moduleAttrs(s))
	module.close(0)

	out := make([]byte, 0, len(r.head)+len(backendEnd.b)+len(r.provider)+len(module.b)+len(r.outputs))
	out = append(out, r.head...)
	out = append(out, backendEnd.b...)
	out = append(out, r.provider...)
	out = append(out, module.b...)
	return append(out, r.outputs...), nil
}

func providerRequirement() cty.Value {
	return cty.ObjectVal(map[string]cty.Value{
		"source":  cty.StringVal(ProviderSource),
		"version": cty.StringVal(ProviderVersion),
	})
}

// backendAttrs are the backend's attributes, sorted by name.
func (c Config) backendAttrs(s request.Spec) ([]attr, error) {
	b := c.Terraform.Backend
	m := make(map[string]cty.Value, len(b.Settings)+1)
	for k, v := range b.Settings {
		val, err := literal(v)
		if err != nil {
			return nil, fmt.Errorf("backend setting %s: %w", k, err)
		}
		m[k] = val
	}
	m[b.workspaceAttr()] = cty.StringVal(b.workspaceValue(s))
	return sortedAttrs(m)
}

func (c Config) providerAttrs() ([]attr, error) {
	m := make(map[string]cty.Value, len(c.Terraform.Provider))
	for k, v := range c.Terraform.Provider {
		val, err := literal(v)
		if err != nil {
			return nil, fmt.Errorf("provider setting %s: %w", k, err)
		}
		m[k] = val
	}
	return sortedAttrs(m)
}

func sortedAttrs(m map[string]cty.Value) ([]attr, error) {
	out := make([]attr, 0, len(m))
	for k, v := range m {
		if !hclsyntax.ValidIdentifier(k) {
			return nil, fmt.Errorf("%q is not a valid attribute name", k)
		}
		out = append(out, attr{k, v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out, nil
}

// literal converts a config value (as decoded from YAML through JSON) to cty.
func literal(v any) (cty.Value, error) {
	switch v := v.(type) {
	case string:
		return cty.StringVal(v), nil
	case bool:
		return cty.BoolVal(v), nil
	case float64:
		return cty.NumberFloatVal(v), nil
	case int:
		return cty.NumberIntVal(int64(v)), nil
	case int64:
		return cty.NumberIntVal(v), nil
	case []any:
		if len(v) == 0 {
			return cty.EmptyTupleVal, nil
		}
		vals := make([]cty.Value, len(v))
		for i, e := range v {
			val, err := literal(e)
			if err != nil {
				return cty.NilVal, err
			}
			vals[i] = val
		}
		return cty.TupleVal(vals), nil
	}
	return cty.NilVal, fmt.Errorf("unsupported value %v (%T): use a string, number, bool or a list of those", v, v)
}

func commentTokens(lines ...string) hclwrite.Tokens {
	toks := make(hclwrite.Tokens, 0, len(lines))
	for _, l := range lines {
		toks = append(toks, &hclwrite.Token{Type: hclsyntax.TokenComment, Bytes: []byte("# " + l + "\n")})
	}
	return toks
}
