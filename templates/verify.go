package templates

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"math/big"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"go.yaml.in/yaml/v3"

	"github.com/clustropg/clustro/catalog"
	"github.com/clustropg/clustro/request"
)

// A Violation is one thing in a workspace that Render could not have
// written, at file:line.
type Violation struct {
	File    string
	Line    int
	Message string
}

func (v Violation) String() string {
	if v.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", v.File, v.Line, v.Message)
	}
	return v.File + ": " + v.Message
}

// Violations are every reason a workspace was refused.
type Violations []Violation

func (vs Violations) Error() string {
	lines := make([]string, len(vs))
	for i, v := range vs {
		lines[i] = v.String()
	}
	return strings.Join(lines, "\n")
}

// Verify reads the workspace in dir (a path ending in
// databases/<env>/<team>/<name>) and returns the request it describes, or
// Violations. Nothing in the workspace is evaluated: only literal values are
// read, so a refused workspace never runs code.
//
// main.tf is checked against an allowlist of what Render writes, with the
// values reviewers may edit. catalog-info.yaml has no editable values: it
// must be, as data, the entity Render writes for the request main.tf
// describes (see checkCatalog).
func (r *Renderer) Verify(dir string) (request.Spec, error) {
	dir = filepath.Clean(dir)
	return r.VerifyFS(os.DirFS(filepath.Dir(dir)), filepath.Base(dir), filepath.ToSlash(dir))
}

// maxFileSize bounds what Verify reads of a workspace file; Render writes a
// few kilobytes.
const maxFileSize = 1 << 20

// VerifyFS is Verify on a file system: dir is the workspace's path in fsys,
// and display is how violations name it (a repo-relative path, say).
func (r *Renderer) VerifyFS(fsys fs.FS, dir, display string) (request.Spec, error) {
	v := verifier{c: r.cfg, dir: display}
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return request.Spec{}, fmt.Errorf("verify %s: %w", display, err)
	}
	files := map[string][]byte{}
	for _, e := range entries {
		switch name := e.Name(); {
		case (name == MainFile || name == CatalogFile) && e.Type().IsRegular():
			b, err := readFile(fsys, path.Join(dir, name))
			if err != nil {
				return request.Spec{}, fmt.Errorf("verify %s: %w", display, err)
			}
			if b == nil {
				v.add(name, nil, "larger than %d bytes: not a file clustro render wrote", maxFileSize)
				continue
			}
			files[name] = b
		case name == MainFile || name == CatalogFile:
			v.add(name, nil, "a %s: %s must be a regular file", kindOf(e), name)
		default:
			v.add(name, nil, "unexpected %s: a workspace holds only %s and %s", kindOf(e), MainFile, CatalogFile)
		}
	}
	var spec request.Spec
	if b, ok := files[MainFile]; ok {
		spec = v.main(b)
	} else if !v.reported(MainFile) {
		v.add(MainFile, nil, "missing")
	}
	var entity *yaml.Node
	if b, ok := files[CatalogFile]; ok {
		entity = v.catalogDocument(b)
	} else if !v.reported(CatalogFile) {
		v.add(CatalogFile, nil, "missing: every workspace holds the Backstage entity clustro render writes for it")
	}
	if len(v.vs) > 0 {
		return request.Spec{}, v.vs
	}
	v.checkCatalog(r, spec, entity)
	if len(v.vs) > 0 {
		return request.Spec{}, v.vs
	}
	return spec, nil
}

// readFile reads a file of at most maxFileSize bytes, or returns nil.
func readFile(fsys fs.FS, name string) ([]byte, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxFileSize {
		return nil, nil
	}
	if b == nil {
		b = []byte{}
	}
	return b, nil
}

func kindOf(e fs.DirEntry) string {
	switch {
	case e.IsDir():
		return "directory"
	case e.Type()&fs.ModeSymlink != 0:
		return "symlink"
	case strings.HasSuffix(e.Name(), ".tf") || strings.HasSuffix(e.Name(), ".tf.json") || strings.HasSuffix(e.Name(), ".tofu"):
		return "Terraform file"
	}
	return "file"
}

type verifier struct {
	c       Config
	dir     string
	vs      Violations
	backend *hclsyntax.Block // checked once the module call says which database this is
}

func (v *verifier) add(file string, rng *hcl.Range, format string, args ...any) {
	line := 0
	if rng != nil {
		line = rng.Start.Line
	}
	v.addLine(file, line, format, args...)
}

// A hostile workspace can break many rules at once: what Verify reports
// (into PR comments, notices and the audit trail) is bounded.
const (
	maxViolations       = 50
	maxViolationMessage = 400
)

func (v *verifier) addLine(file string, line int, format string, args ...any) {
	switch {
	case len(v.vs) > maxViolations:
		return
	case len(v.vs) == maxViolations:
		v.vs = append(v.vs, Violation{File: path.Join(v.dir, file), Message: fmt.Sprintf("more than %d violations; the others are not listed", maxViolations)})
		return
	}
	msg := fmt.Sprintf(format, args...)
	if len(msg) > maxViolationMessage {
		msg = strings.ToValidUTF8(msg[:maxViolationMessage], "") + "…"
	}
	v.vs = append(v.vs, Violation{File: path.Join(v.dir, file), Line: line, Message: msg})
}

// reported tells whether a violation already names file.
func (v *verifier) reported(file string) bool {
	return slices.ContainsFunc(v.vs, func(x Violation) bool { return x.File == path.Join(v.dir, file) })
}

// moduleArgs maps each module argument a workspace may set to whether it is
// required and the request field it fills (for placing policy problems).
var moduleArgs = map[string]struct {
	required bool
	field    string
}{
	"name":             {true, "name"},
	"team":             {true, "team"},
	"environment":      {true, "environment"},
	"namespace":        {true, "namespace"},
	"size":             {true, "size"},
	"instances":        {true, "instances"},
	"postgres_version": {true, "postgresVersion"},
	"storage":          {false, "storage"},
	"backup_schedule":  {false, "backups.schedule"},
	"backup_hour":      {false, "backups.hour"},
	"backup_retention": {false, "backups.retention"},
	"logical_backup":   {false, "logicalBackup"},
	"databases":        {false, "databases"},
	// Only in a restore's workspace.
	"restore_source":      {false, "restore.source"},
	"restore_target_time": {false, "restore.targetTime"},
}

func (v *verifier) main(src []byte) request.Spec {
	f, diags := hclparse.NewParser().ParseHCL(src, MainFile)
	if diags.HasErrors() {
		for _, d := range diags {
			v.add(MainFile, d.Subject, "%s: %s", d.Summary, d.Detail)
		}
		return request.Spec{}
	}
	body := f.Body.(*hclsyntax.Body)
	for _, a := range sortedAttributes(body.Attributes) {
		v.add(MainFile, a.Range().Ptr(), "top-level attribute %s is not allowed", a.Name)
	}
	seen := map[string]bool{}
	var module *hclsyntax.Block
	for _, b := range body.Blocks {
		key := strings.Join(append([]string{b.Type}, quoted(b.Labels)...), " ")
		if seen[key] {
			v.add(MainFile, b.DefRange().Ptr(), "duplicate block %s", key)
			continue
		}
		seen[key] = true
		switch {
		case b.Type == "terraform" && len(b.Labels) == 0:
			v.terraform(b)
		case b.Type == "provider" && len(b.Labels) == 1 && b.Labels[0] == "kubectl":
			v.provider(b)
		case b.Type == "module" && len(b.Labels) == 1 && b.Labels[0] == moduleName:
			module = b
		case b.Type == "output" && len(b.Labels) == 1 && slices.Contains(outputs, b.Labels[0]):
			v.output(b)
		default:
			v.add(MainFile, b.DefRange().Ptr(), "block %s is not allowed: a workspace holds only terraform, provider \"kubectl\", module %q and its outputs %s", key, moduleName, strings.Join(outputs, ", "))
		}
	}
	for _, want := range []string{"terraform", `provider "kubectl"`, `module "` + moduleName + `"`} {
		if !seen[want] {
			v.add(MainFile, nil, "block %s is missing", want)
		}
	}
	for _, o := range outputs {
		if !seen[`output "`+o+`"`] {
			v.add(MainFile, nil, "output %q is missing", o)
		}
	}
	if module == nil {
		return request.Spec{}
	}
	return v.module(module)
}

func (v *verifier) terraform(b *hclsyntax.Block) {
	v.exactAttrs(b, "terraform", map[string]cty.Value{"required_version": cty.StringVal(requiredVersion)})
	var haveProviders, haveBackend bool
	for _, inner := range b.Body.Blocks {
		switch {
		case inner.Type == "required_providers" && len(inner.Labels) == 0 && !haveProviders:
			haveProviders = true
			v.exactAttrs(inner, "required_providers", map[string]cty.Value{"kubectl": providerRequirement()})
			v.noBlocks(inner, "required_providers")
		case inner.Type == "backend" && !haveBackend:
			haveBackend = true
			if len(inner.Labels) != 1 || inner.Labels[0] != v.c.Terraform.Backend.Type {
				v.add(MainFile, inner.DefRange().Ptr(), "backend %s is not allowed: the platform uses backend %q", strings.Join(quoted(inner.Labels), " "), v.c.Terraform.Backend.Type)
				continue
			}
			v.backend = inner
		default:
			v.add(MainFile, inner.DefRange().Ptr(), "block %s inside terraform is not allowed: only required_providers and backend %q", inner.Type, v.c.Terraform.Backend.Type)
		}
	}
	if !haveProviders {
		v.add(MainFile, b.DefRange().Ptr(), "terraform block lacks required_providers")
	}
	if !haveBackend {
		v.add(MainFile, b.DefRange().Ptr(), "terraform block lacks backend %q", v.c.Terraform.Backend.Type)
	}
}

func (v *verifier) provider(b *hclsyntax.Block) {
	attrs, err := v.c.providerAttrs()
	if err != nil {
		v.add(MainFile, b.DefRange().Ptr(), "%v", err)
		return
	}
	v.exactAttrs(b, `provider "kubectl"`, attrMap(attrs))
	v.noBlocks(b, `provider "kubectl"`)
}

func (v *verifier) output(b *hclsyntax.Block) {
	name := b.Labels[0]
	where := fmt.Sprintf("output %q", name)
	v.noBlocks(b, where)
	for _, a := range sortedAttributes(b.Body.Attributes) {
		if a.Name != "value" {
			v.add(MainFile, a.Range().Ptr(), "%s: attribute %s is not allowed", where, a.Name)
			continue
		}
		want := "module." + moduleName + "." + name
		st, ok := a.Expr.(*hclsyntax.ScopeTraversalExpr)
		if !ok || traversalString(st.Traversal) != want {
			v.add(MainFile, a.Range().Ptr(), "%s: value must be exactly %s", where, want)
		}
	}
	if _, ok := b.Body.Attributes["value"]; !ok {
		v.add(MainFile, b.DefRange().Ptr(), "%s: value is missing", where)
	}
}

func (v *verifier) module(b *hclsyntax.Block) request.Spec {
	where := fmt.Sprintf("module %q", moduleName)
	v.noBlocks(b, where)
	vals := map[string]cty.Value{}
	lines := map[string]*hcl.Range{}
	for _, a := range sortedAttributes(b.Body.Attributes) {
		if a.Name == "source" {
			val, err := literalValue(a.Expr)
			if err != nil {
				v.add(MainFile, a.Range().Ptr(), "%s: source: %v", where, err)
			} else if val.Type() != cty.String || val.AsString() != v.c.Terraform.ModuleSource {
				v.add(MainFile, a.Range().Ptr(), "%s: source must be %q, the platform's module", where, v.c.Terraform.ModuleSource)
			}
			continue
		}
		if _, ok := moduleArgs[a.Name]; !ok {
			v.add(MainFile, a.Range().Ptr(), "%s: argument %s is not allowed; reviewers may change only %s", where, a.Name, editable())
			continue
		}
		val, err := literalValue(a.Expr)
		if err != nil {
			v.add(MainFile, a.Range().Ptr(), "%s: %s: %v", where, a.Name, err)
			continue
		}
		vals[a.Name] = val
		lines[a.Name] = a.Range().Ptr()
	}
	if _, ok := b.Body.Attributes["source"]; !ok {
		v.add(MainFile, b.DefRange().Ptr(), "%s: source is missing", where)
	}
	for _, name := range sortedKeys(moduleArgs) {
		if _, ok := b.Body.Attributes[name]; !ok && moduleArgs[name].required {
			v.add(MainFile, b.DefRange().Ptr(), "%s: %s is missing", where, name)
		}
	}
	if len(v.vs) > 0 {
		return request.Spec{}
	}
	s := v.spec(vals, lines)
	if len(v.vs) > 0 {
		return request.Spec{}
	}
	v.checkBackend(s)
	v.checkIdentity(s, vals["namespace"], lines)
	if err := v.c.Policy.Validate(s); err != nil {
		for _, p := range err.(request.Problems) {
			v.add(MainFile, lines[argOf(p.Field)], "%s: %s", argOf(p.Field), p.Message)
		}
	}
	if len(v.vs) == 0 {
		v.sameModuleCall(b, s, vals, lines)
	}
	return s
}

// sameModuleCall checks that the module's arguments are, name for name and
// value for value, the ones Render writes for s: an argument that says
// nothing Render would say (storage = "", which the module reads as the
// preset's) or one left to the module's default is refused, so the request
// returned is all the module call holds.
func (v *verifier) sameModuleCall(b *hclsyntax.Block, s request.Spec, vals map[string]cty.Value, lines map[string]*hcl.Range) {
	where := fmt.Sprintf("module %q", moduleName)
	want := attrMap(v.c.moduleAttrs(s))
	for _, name := range sortedKeys(vals) {
		w, ok := want[name]
		switch {
		case !ok:
			v.add(MainFile, lines[name], "%s: %s = %s is not something clustro render writes: remove it", where, name, show(vals[name]))
		case !sameValue(vals[name], w):
			v.add(MainFile, lines[name], "%s: %s must be written %s", where, name, show(w))
		}
	}
	for _, name := range sortedKeys(want) {
		if _, ok := vals[name]; !ok {
			v.add(MainFile, b.DefRange().Ptr(), "%s: %s is missing: clustro render writes %s = %s", where, name, name, show(want[name]))
		}
	}
}

// spec converts the module's literal arguments to a Spec, type by type.
func (v *verifier) spec(vals map[string]cty.Value, lines map[string]*hcl.Range) request.Spec {
	str := func(name string) string {
		val, ok := vals[name]
		if !ok {
			return ""
		}
		if val.Type() != cty.String {
			v.add(MainFile, lines[name], "%s must be a string", name)
			return ""
		}
		return val.AsString()
	}
	num := func(name string) (int, bool) {
		val, ok := vals[name]
		if !ok {
			return 0, false
		}
		if val.Type() != cty.Number {
			v.add(MainFile, lines[name], "%s must be a whole number", name)
			return 0, false
		}
		bf := val.AsBigFloat()
		i, acc := bf.Int64()
		if acc != big.Exact || i < -1<<31 || i > 1<<31-1 {
			v.add(MainFile, lines[name], "%s must be a whole number", name)
			return 0, false
		}
		return int(i), true
	}
	s := request.Spec{
		Name:        str("name"),
		Team:        str("team"),
		Environment: str("environment"),
		Size:        request.Size(str("size")),
		Storage:     str("storage"),
		Backups: request.Backups{
			Schedule:  request.Schedule(str("backup_schedule")),
			Retention: str("backup_retention"),
		},
	}
	if _, ok := vals["backup_schedule"]; !ok {
		s.Backups.Schedule = request.NoBackups // the module's default; an explicit "" is not
	}
	s.Instances, _ = num("instances")
	s.PostgresVersion, _ = num("postgres_version")
	if h, ok := num("backup_hour"); ok {
		s.Backups.Hour = &h
	}
	if val, ok := vals["logical_backup"]; ok {
		if val.Type() != cty.Bool {
			v.add(MainFile, lines["logical_backup"], "logical_backup must be true or false")
		} else {
			s.LogicalBackup = val.True()
		}
	}
	if val, ok := vals["databases"]; ok {
		if !val.Type().IsTupleType() && !val.Type().IsListType() {
			v.add(MainFile, lines["databases"], "databases must be a list of names")
		} else {
			for it := val.ElementIterator(); it.Next(); {
				_, e := it.Element()
				if e.Type() != cty.String {
					v.add(MainFile, lines["databases"], "databases must be a list of names")
					break
				}
				s.Databases = append(s.Databases, e.AsString())
			}
		}
	}
	s.Restore = v.restore(vals, lines, str)
	return s
}

// restore reads a restore's source and target time: both, the source
// alone (the latest), or neither, as Render writes them. The target time
// is a literal RFC 3339 string, read in UTC.
func (v *verifier) restore(vals map[string]cty.Value, lines map[string]*hcl.Range, str func(string) string) *request.Restore {
	_, haveSource := vals["restore_source"]
	target, haveTarget := vals["restore_target_time"]
	if !haveSource {
		if haveTarget {
			v.add(MainFile, lines["restore_target_time"], "restore_target_time without restore_source: a target time belongs to a restore; name the source database in restore_source, or remove restore_target_time")
		}
		return nil
	}
	r := &request.Restore{Source: str("restore_source")}
	if !haveTarget {
		return r
	}
	if target.Type() != cty.String || target.IsNull() {
		v.add(MainFile, lines["restore_target_time"], "restore_target_time must be a string: an RFC 3339 time like 2026-03-01T10:00:00Z")
		return r
	}
	t, err := time.Parse(time.RFC3339, target.AsString())
	if err != nil {
		v.add(MainFile, lines["restore_target_time"], "restore_target_time %q is not an RFC 3339 time; allowed: a time like 2026-03-01T10:00:00Z", target.AsString())
		return r
	}
	t = t.UTC()
	r.TargetTime = &t
	return r
}

// checkIdentity makes sure a workspace describes the database of its
// directory and the namespace the platform gives it.
func (v *verifier) checkIdentity(s request.Spec, ns cty.Value, lines map[string]*hcl.Range) {
	parts := strings.Split(v.dir, "/")
	if n := len(parts); n < 4 || parts[n-4] != "databases" {
		v.add(MainFile, nil, "the workspace must be at databases/<env>/<team>/<name>")
	} else {
		for i, f := range []struct{ arg, got string }{{"environment", s.Environment}, {"team", s.Team}, {"name", s.Name}} {
			if want := parts[n-3+i]; f.got != want {
				v.add(MainFile, lines[f.arg], "%s is %q but the workspace directory says %q: moving a database is not a review edit", f.arg, f.got, want)
			}
		}
	}
	if want := v.c.Policy.NamespaceFor(s); ns.Type() != cty.String || ns.AsString() != want {
		v.add(MainFile, lines["namespace"], "namespace must be %q, the platform's namespace for team %s in %s", want, s.Team, s.Environment)
	}
}

// checkBackend compares the backend block with the one Render writes for s.
func (v *verifier) checkBackend(s request.Spec) {
	if v.backend == nil {
		return
	}
	attrs, err := v.c.backendAttrs(s)
	if err != nil {
		v.add(MainFile, v.backend.DefRange().Ptr(), "%v", err)
		return
	}
	v.exactAttrs(v.backend, "backend "+v.c.Terraform.Backend.Type, attrMap(attrs))
	v.noBlocks(v.backend, "backend")
}

// exactAttrs checks that a block has exactly the attributes want, with
// literal values equal to them.
func (v *verifier) exactAttrs(b *hclsyntax.Block, where string, want map[string]cty.Value) {
	for _, a := range sortedAttributes(b.Body.Attributes) {
		w, ok := want[a.Name]
		if !ok {
			v.add(MainFile, a.Range().Ptr(), "%s: attribute %s is not allowed", where, a.Name)
			continue
		}
		got, err := literalValue(a.Expr)
		if err != nil {
			v.add(MainFile, a.Range().Ptr(), "%s: %s: %v", where, a.Name, err)
			continue
		}
		if !sameValue(got, w) {
			v.add(MainFile, a.Range().Ptr(), "%s: %s must be %s, as the platform config says", where, a.Name, show(w))
		}
	}
	for _, name := range sortedKeys(want) {
		if _, ok := b.Body.Attributes[name]; !ok {
			v.add(MainFile, b.DefRange().Ptr(), "%s: %s is missing", where, name)
		}
	}
}

func (v *verifier) noBlocks(b *hclsyntax.Block, where string) {
	for _, inner := range b.Body.Blocks {
		v.add(MainFile, inner.DefRange().Ptr(), "%s: nested block %s is not allowed", where, inner.Type)
	}
}

// literalValue evaluates an expression only if it is a plain literal: a
// string without interpolation, a number, a bool, or a list or object of
// those. References, function calls, templates, for expressions and
// operators are refused, so verifying never evaluates code.
func literalValue(e hclsyntax.Expression) (cty.Value, error) {
	switch e := e.(type) {
	case *hclsyntax.LiteralValueExpr:
		return e.Val, nil
	case *hclsyntax.TemplateExpr:
		if !e.IsStringLiteral() {
			return cty.NilVal, fmt.Errorf("interpolation is not allowed, only a literal string")
		}
		val, diags := e.Value(nil)
		if diags.HasErrors() {
			return cty.NilVal, fmt.Errorf("%s", diags.Error())
		}
		return val, nil
	case *hclsyntax.TupleConsExpr:
		vals := make([]cty.Value, len(e.Exprs))
		for i, x := range e.Exprs {
			val, err := literalValue(x)
			if err != nil {
				return cty.NilVal, err
			}
			vals[i] = val
		}
		return cty.TupleVal(vals), nil
	case *hclsyntax.ObjectConsExpr:
		vals := make(map[string]cty.Value, len(e.Items))
		for _, item := range e.Items {
			key, err := objectKey(item.KeyExpr)
			if err != nil {
				return cty.NilVal, err
			}
			val, err := literalValue(item.ValueExpr)
			if err != nil {
				return cty.NilVal, err
			}
			vals[key] = val
		}
		return cty.ObjectVal(vals), nil
	case *hclsyntax.FunctionCallExpr:
		return cty.NilVal, fmt.Errorf("function call %s() is not allowed, only a literal value", e.Name)
	case *hclsyntax.ScopeTraversalExpr, *hclsyntax.RelativeTraversalExpr, *hclsyntax.IndexExpr, *hclsyntax.SplatExpr:
		return cty.NilVal, fmt.Errorf("a reference is not allowed, only a literal value")
	}
	return cty.NilVal, fmt.Errorf("only a literal value is allowed (a string, number, bool or list)")
}

func objectKey(e hclsyntax.Expression) (string, error) {
	k, ok := e.(*hclsyntax.ObjectConsKeyExpr)
	if !ok || k.ForceNonLiteral {
		return "", fmt.Errorf("object keys must be plain names")
	}
	if st, ok := k.Wrapped.(*hclsyntax.ScopeTraversalExpr); ok && len(st.Traversal) == 1 {
		return st.Traversal.RootName(), nil
	}
	val, err := literalValue(k.Wrapped)
	if err != nil || val.Type() != cty.String {
		return "", fmt.Errorf("object keys must be plain names")
	}
	return val.AsString(), nil
}

// sameValue compares literal values, treating lists and tuples alike.
func sameValue(a, b cty.Value) bool {
	if a.Type().IsTupleType() || a.Type().IsListType() {
		if !b.Type().IsTupleType() && !b.Type().IsListType() || a.LengthInt() != b.LengthInt() {
			return false
		}
		ai, bi := a.ElementIterator(), b.ElementIterator()
		for ai.Next() && bi.Next() {
			_, av := ai.Element()
			_, bv := bi.Element()
			if !sameValue(av, bv) {
				return false
			}
		}
		return true
	}
	if a.Type().IsObjectType() && b.Type().IsObjectType() {
		am, bm := a.AsValueMap(), b.AsValueMap()
		if len(am) != len(bm) {
			return false
		}
		for k, av := range am {
			bv, ok := bm[k]
			if !ok || !sameValue(av, bv) {
				return false
			}
		}
		return true
	}
	return a.Type().Equals(b.Type()) && a.Equals(b).True()
}

func show(v cty.Value) string {
	switch {
	case v.Type() == cty.String:
		return fmt.Sprintf("%q", v.AsString())
	case v.Type() == cty.Number:
		return v.AsBigFloat().Text('f', -1)
	case v.Type() == cty.Bool:
		return fmt.Sprint(v.True())
	case v.Type().IsTupleType() || v.Type().IsListType():
		var elems []string
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			elems = append(elems, show(e))
		}
		return "[" + strings.Join(elems, ", ") + "]"
	}
	return "the configured value"
}

func attrMap(attrs []attr) map[string]cty.Value {
	m := make(map[string]cty.Value, len(attrs))
	for _, a := range attrs {
		m[a.name] = a.val
	}
	return m
}

func sortedAttributes(m hclsyntax.Attributes) []*hclsyntax.Attribute {
	out := make([]*hclsyntax.Attribute, 0, len(m))
	for _, a := range m {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].SrcRange.Start.Byte < out[j].SrcRange.Start.Byte })
	return out
}

func traversalString(t hcl.Traversal) string {
	parts := make([]string, 0, len(t))
	for _, step := range t {
		switch s := step.(type) {
		case hcl.TraverseRoot:
			parts = append(parts, s.Name)
		case hcl.TraverseAttr:
			parts = append(parts, s.Name)
		default:
			return ""
		}
	}
	return strings.Join(parts, ".")
}

func quoted(labels []string) []string {
	out := make([]string, len(labels))
	for i, l := range labels {
		out[i] = fmt.Sprintf("%q", l)
	}
	return out
}

// argOf maps a request field back to the module argument that holds it.
func argOf(field string) string {
	for arg, a := range moduleArgs {
		if a.field == field {
			return arg
		}
	}
	return field
}

func editable() string {
	return "size, instances, storage, postgres_version, backup_schedule, backup_hour, backup_retention, logical_backup, databases"
}

// catalogDocument parses catalog-info.yaml strictly: one YAML document with
// no directives, tags, anchors, aliases, merge keys or repeated keys, so
// that Backstage reads the same data Verify compares. It returns the
// document's content, or nil once the problems are reported.
func (v *verifier) catalogDocument(b []byte) *yaml.Node {
	for i, line := range bytes.Split(b, []byte("\n")) {
		if bytes.HasPrefix(line, []byte("%")) {
			v.addLine(CatalogFile, i+1, "YAML directives are not allowed")
			return nil
		}
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if err == io.EOF {
			v.addLine(CatalogFile, 0, "empty: it must hold the Backstage entity clustro render writes")
		} else {
			v.yamlError(err)
		}
		return nil
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case err == io.EOF:
	case err != nil:
		v.yamlError(err)
		return nil
	default:
		v.addLine(CatalogFile, extra.Line, "a second YAML document: %s holds exactly one entity, the one clustro render writes", CatalogFile)
		return nil
	}
	if len(doc.Content) != 1 {
		v.addLine(CatalogFile, 0, "empty: it must hold the Backstage entity clustro render writes")
		return nil
	}
	if !v.plainData(doc.Content[0], "") {
		return nil
	}
	return doc.Content[0]
}

var yamlErrorRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// yamlError reports a parse error at its line when it names one.
func (v *verifier) yamlError(err error) {
	if m := yamlErrorRE.FindStringSubmatch(err.Error()); m != nil {
		line, _ := strconv.Atoi(m[1])
		v.addLine(CatalogFile, line, "not valid YAML: %s", m[2])
		return
	}
	v.addLine(CatalogFile, 0, "not valid YAML: %s", strings.TrimPrefix(err.Error(), "yaml: "))
}

// plainData refuses the YAML features readers disagree on or that let one
// value stand for another: tags, anchors, aliases, merge keys, keys that are
// not strings, and a key set twice.
func (v *verifier) plainData(n *yaml.Node, at string) bool {
	switch {
	case n.Style&yaml.TaggedStyle != 0:
		v.addLine(CatalogFile, n.Line, "%s: the tag %s is not allowed", describePath(at), n.Tag)
		return false
	case n.Anchor != "":
		v.addLine(CatalogFile, n.Line, "%s: the anchor &%s is not allowed", describePath(at), n.Anchor)
		return false
	case n.Kind == yaml.AliasNode:
		v.addLine(CatalogFile, n.Line, "%s: the alias *%s is not allowed", describePath(at), n.Value)
		return false
	}
	ok := true
	switch n.Kind {
	case yaml.MappingNode:
		seen := map[string]int{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode || k.ShortTag() != "!!str" || k.Style&yaml.TaggedStyle != 0 || k.Anchor != "" {
				v.addLine(CatalogFile, k.Line, "%s: keys must be plain strings (no merge keys, tags or anchors)", describePath(at))
				ok = false
				continue
			}
			if first, dup := seen[k.Value]; dup {
				v.addLine(CatalogFile, k.Line, "%s is set twice (first on line %d)", describePath(childPath(at, k.Value)), first)
				ok = false
				continue
			}
			seen[k.Value] = k.Line
			ok = v.plainData(n.Content[i+1], childPath(at, k.Value)) && ok
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			ok = v.plainData(c, fmt.Sprintf("%s[%d]", at, i)) && ok
		}
	}
	return ok
}

// requestIDRE is what a request id looks like: store ids, or what
// `clustro render --id` was given.
var requestIDRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

// checkCatalog compares catalog-info.yaml, as data, with the entity Render
// writes for the verified request s. Nothing in it is a reviewer's to edit:
// Backstage takes the owner, the kind and any Location from this file, and
// the entity's descriptive values follow main.tf. The one value main.tf
// does not hold, the request id annotation, is read from the file.
// Comments, quoting, indentation and key order are free.
func (v *verifier) checkCatalog(r *Renderer, s request.Spec, got *yaml.Node) {
	if got == nil {
		return // reported when it was read
	}
	id := ""
	if n := lookup(got, "metadata", "annotations", catalog.AnnotationRequestID); n != nil && n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str" {
		id = n.Value
		if !requestIDRE.MatchString(id) {
			v.addLine(CatalogFile, n.Line, "annotation %s: %q is not a request id", catalog.AnnotationRequestID, id)
		}
	}
	ws, err := r.Render(request.DatabaseRequest{ID: id, Spec: s})
	if err != nil {
		v.addLine(CatalogFile, 0, "%v", err)
		return
	}
	var want yaml.Node
	if err := yaml.Unmarshal(ws.Files[CatalogFile], &want); err != nil || len(want.Content) != 1 {
		v.addLine(CatalogFile, 0, "the entity clustro render writes does not parse back: %v", err)
		return
	}
	before := len(v.vs)
	v.sameData(got, want.Content[0], "")
	if len(v.vs) > before {
		v.addLine(CatalogFile, 0, "it must be the entity clustro render writes for the request in main.tf: render the workspace again (clustro render) or write the values above")
	}
}

// sameData compares the file's YAML (got) with the rendered one (want).
func (v *verifier) sameData(got, want *yaml.Node, at string) {
	if got.Kind != want.Kind {
		v.addLine(CatalogFile, got.Line, "%s must be %s, as clustro render writes it", describePath(at), describe(want))
		return
	}
	switch want.Kind {
	case yaml.MappingNode:
		wantVals := map[string]*yaml.Node{}
		for i := 0; i+1 < len(want.Content); i += 2 {
			wantVals[want.Content[i].Value] = want.Content[i+1]
		}
		gotKeys := map[string]bool{}
		for i := 0; i+1 < len(got.Content); i += 2 {
			k := got.Content[i].Value
			gotKeys[k] = true
			w, ok := wantVals[k]
			if !ok {
				v.addLine(CatalogFile, got.Content[i].Line, "%s is not written by clustro render", describePath(childPath(at, k)))
				continue
			}
			v.sameData(got.Content[i+1], w, childPath(at, k))
		}
		for i := 0; i+1 < len(want.Content); i += 2 {
			if k := want.Content[i].Value; !gotKeys[k] {
				v.addLine(CatalogFile, got.Line, "%s is missing: clustro render writes %s", describePath(childPath(at, k)), describe(want.Content[i+1]))
			}
		}
	case yaml.SequenceNode:
		if len(got.Content) != len(want.Content) {
			v.addLine(CatalogFile, got.Line, "%s has %d items, but clustro render writes %d", describePath(at), len(got.Content), len(want.Content))
			return
		}
		for i := range want.Content {
			v.sameData(got.Content[i], want.Content[i], fmt.Sprintf("%s[%d]", at, i))
		}
	case yaml.ScalarNode:
		const quoted = yaml.DoubleQuotedStyle | yaml.SingleQuotedStyle | yaml.LiteralStyle | yaml.FoldedStyle
		switch {
		case got.ShortTag() != want.ShortTag() || got.Value != want.Value:
			v.addLine(CatalogFile, got.Line, "%s is %s, but clustro render writes %s for the request in main.tf", describePath(at), describe(got), describe(want))
		case want.Style&quoted != 0 && got.Style&quoted == 0:
			// Render quotes a string that some YAML reader (YAML 1.1's
			// yes, on, 0777, 1:20) would take for something else.
			v.addLine(CatalogFile, got.Line, "%s must be quoted, as clustro render writes it: YAML 1.1 readers take an unquoted %s for a boolean, number or date", describePath(at), got.Value)
		}
	}
}

// lookup follows keys down from a mapping.
func lookup(n *yaml.Node, keys ...string) *yaml.Node {
	for _, key := range keys {
		if n.Kind != yaml.MappingNode {
			return nil
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				next = n.Content[i+1]
				break
			}
		}
		if next == nil {
			return nil
		}
		n = next
	}
	return n
}

var plainKeyRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// childPath names a key below at: spec.owner, metadata.annotations["a/b"].
func childPath(at, key string) string {
	switch {
	case !plainKeyRE.MatchString(key):
		return fmt.Sprintf("%s[%q]", at, key)
	case at == "":
		return key
	}
	return at + "." + key
}

func describePath(at string) string {
	if at == "" {
		return "the document"
	}
	return at
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.ShortTag() == "!!str" {
			return strconv.Quote(n.Value)
		}
		return n.Value
	}
	return "a YAML value"
}
