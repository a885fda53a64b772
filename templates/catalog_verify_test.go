package templates_test

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"

	"go.yaml.in/yaml/v3"

	"github.com/clustropg/clustro/templates"
)

// The catalog entity (catalog-info.yaml) is what Backstage reads from the
// infra repository: its owner, its kind and any further document it holds.
// It has no reviewer-editable values of its own: Verify accepts it only
// when, as data, it is the entity clustro render writes for the request
// main.tf describes. Formatting (comments, quoting, indentation, key order)
// is free, as it is in main.tf.

// catalogEdit changes catalog-info.yaml in a workspace.
type catalogEdit func(t *testing.T, fsys fstest.MapFS, path string, src string) string

// TestVerifyRefusesCatalogTampering: each of these was accepted before
// Verify read catalog-info.yaml.
func TestVerifyRefusesCatalogTampering(t *testing.T) {
	cfg, req, ws := prodLedger(t)
	other := req.Spec
	other.Name = "other"
	otherEntity := string(renderEntity(t, cfg, req.ID, other))
	const location = "---\napiVersion: backstage.io/v1alpha1\nkind: Location\nmetadata:\n  name: more\nspec:\n  type: url\n  target: https://evil.example/catalog.yaml\n"
	tests := []struct {
		name      string
		edit      catalogEdit
		wantInMsg []string
	}{
		{"owner changed", yamlEdit(`owner: group:billing`, `owner: group:platform-admins`),
			[]string{`catalog-info.yaml:` + lineOf(t, ws, "owner:") + `: spec.owner is "group:platform-admins", but clustro render writes "group:billing" for the request in main.tf`}},
		{"Location appended", appendYAML(location), []string{`a second YAML document: catalog-info.yaml holds exactly one entity`}},
		{"empty document appended", appendYAML("---\n"), []string{`a second YAML document`}},
		{"file deleted", deleteCatalog, []string{`catalog-info.yaml: missing`}},
		{"file emptied", setCatalog(""), []string{`catalog-info.yaml: empty`}},
		{"only a comment", setCatalog("# nothing to see\n"), []string{`catalog-info.yaml: empty`}},
		{"kind Location instead", setCatalog(location[len("---\n"):]), []string{`kind is "Location", but clustro render writes "Resource"`}},
		{"kind changed", yamlEdit(`kind: Resource`, `kind: Component`), []string{`kind is "Component"`}},
		{"another database's entity", setCatalog(otherEntity), []string{`metadata.name is `, `metadata.title is "other (billing, prod)"`}},
		{"renamed entity", renameEntity, []string{`metadata.name is "x`}},
		{"annotation added", yamlEdit("  annotations:\n", "  annotations:\n    backstage.io/techdocs-ref: url:https://evil.example/docs\n"),
			[]string{`metadata.annotations["backstage.io/techdocs-ref"] is not written by clustro render`}},
		{"link added", yamlEdit("  tags:\n", "  links:\n    - url: https://evil.example/reset-password\n      title: Reset your database password\n  tags:\n"),
			[]string{`metadata.links is not written by clustro render`}},
		{"tag added", yamlEdit("    - cloudnativepg\n", "    - cloudnativepg\n    - pci\n"), []string{`metadata.tags has 4 items, but clustro render writes 3`}},
		{"system removed", yamlEdit("  system: databases\n", ""), []string{`spec.system is missing: clustro render writes "databases"`}},
		{"owner set twice", yamlEdit("  owner: group:billing\n", "  owner: group:billing\n  owner: group:platform-admins\n"),
			[]string{`spec.owner is set twice (first on line ` + lineOf(t, ws, "owner:") + `)`}},
		{"anchor", yamlEdit(`owner: group:billing`, `owner: &o group:billing`), []string{`spec.owner: the anchor &o is not allowed`}},
		{"anchor and alias", func(t *testing.T, fsys fstest.MapFS, path, src string) string {
			src = yamlEdit("spec:\n", "x: &owner group:platform-admins\nspec:\n")(t, fsys, path, src)
			return yamlEdit("owner: group:billing", "owner: *owner")(t, fsys, path, src)
		}, []string{`x: the anchor &owner is not allowed`}},
		{"merge key", yamlEdit("  owner: group:billing\n", "  owner: group:billing\n  <<: {owner: group:platform-admins}\n"), []string{`spec: keys must be plain strings`}},
		{"tag", yamlEdit(`owner: group:billing`, `owner: !!str group:billing`), []string{`spec.owner: the tag !!str is not allowed`}},
		{"custom tag", yamlEdit("spec:\n", "spec: !evil\n"), []string{`spec: the tag !evil is not allowed`}},
		{"YAML 1.1 directive", prependYAML("%YAML 1.1\n---\n"), []string{`catalog-info.yaml:1: YAML directives are not allowed`}},
		{"syntax error", yamlEdit("spec:\n", "spec: [\n"), []string{`catalog-info.yaml:`, `not valid YAML`}},
		{"not a mapping", setCatalog("- kind: Resource\n"), []string{`the document must be a mapping`}},
		{"request id not an id", yamlEdit("clustropg.io/request-id: req-0001", "clustropg.io/request-id: 'req 0001; see https://evil.example'"),
			[]string{`annotation clustropg.io/request-id: "req 0001; see https://evil.example" is not a request id`}},
		{"YAML 1.1 boolean unquoted", yamlEdit("clustropg.io/request-id: req-0001", "clustropg.io/request-id: on"),
			[]string{`metadata.annotations["clustropg.io/request-id"] must be quoted`}},
		{"symlink", func(_ *testing.T, fsys fstest.MapFS, path, src string) string {
			fsys[path] = &fstest.MapFile{Data: []byte("../../../../etc/catalog.yaml"), Mode: fs.ModeSymlink | 0o777}
			return ""
		}, []string{`catalog-info.yaml: a symlink: catalog-info.yaml must be a regular file`}},
		{"directory", func(_ *testing.T, fsys fstest.MapFS, path, src string) string {
			delete(fsys, path)
			fsys[path+"/x.yaml"] = &fstest.MapFile{Data: []byte(src)}
			return ""
		}, []string{`catalog-info.yaml: a directory: catalog-info.yaml must be a regular file`}},
		{"huge", appendYAML("# " + strings.Repeat("x", 1<<20) + "\n"), []string{`catalog-info.yaml: larger than 1048576 bytes`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fsys := workspaceFS(ws)
			path := ws.Dir + "/catalog-info.yaml"
			if src := tc.edit(t, fsys, path, string(fsys[path].Data)); fsys[path] != nil && fsys[path].Mode.IsRegular() {
				fsys[path].Data = []byte(src)
			}
			vs := mustRefuse(t, cfg, fsys, ws.Dir, tc.wantInMsg)
			for _, v := range vs {
				if v.File != path {
					t.Errorf("violation %q does not name catalog-info.yaml", v)
				}
			}
		})
	}
}

// TestVerifyCatalogFormattingIsFree: the entity is compared as data, so a
// reformatted file is accepted, as a reformatted main.tf is.
func TestVerifyCatalogFormattingIsFree(t *testing.T) {
	cfg, req, ws := prodLedger(t)
	tests := []struct {
		name string
		edit catalogEdit
	}{
		{"comments", func(_ *testing.T, _ fstest.MapFS, _, src string) string {
			return "# The database's Backstage entity.\n" + strings.Replace(src, "spec:\n", "spec: # reviewed\n", 1)
		}},
		{"document markers", func(_ *testing.T, _ fstest.MapFS, _, src string) string { return "---\n" + src + "...\n" }},
		{"quoted strings", yamlEdit(`owner: group:billing`, `owner: "group:billing"`)},
		{"single-quoted strings", yamlEdit(`kind: Resource`, `kind: 'Resource'`)},
		{"no final newline", func(_ *testing.T, _ fstest.MapFS, _, src string) string { return strings.TrimSuffix(src, "\n") }},
		{"indented by four", reencode(func(n *yaml.Node) {}, 4)},
		{"keys in another order", reencode(func(n *yaml.Node) {
			// spec first, then the rest.
			n.Content = append(n.Content[len(n.Content)-2:], n.Content[:len(n.Content)-2]...)
		}, 2)},
		{"flow style", reencode(func(n *yaml.Node) { n.Style = yaml.FlowStyle }, 2)},
		{"request id annotation of another request", yamlEdit("clustropg.io/request-id: req-0001", "clustropg.io/request-id: 0a1b2c3d4e5f6g7h8i9j")},
		{"request id annotation removed", yamlEdit("    clustropg.io/request-id: req-0001\n", "")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fsys := workspaceFS(ws)
			path := ws.Dir + "/catalog-info.yaml"
			fsys[path].Data = []byte(tc.edit(t, fsys, path, string(fsys[path].Data)))
			got, err := cfg.VerifyFS(fsys, ws.Dir, ws.Dir)
			if err != nil {
				t.Fatalf("a reformatted entity was refused:\n%v\n%s", err, fsys[path].Data)
			}
			assertSameSpec(t, got, req.Spec)
		})
	}
}

// TestVerifyEntityFollowsMainTF: an edit of main.tf the entity does not
// show needs no change to catalog-info.yaml. Were the entity to show an
// editable value (it once showed the size), the edit would have to come
// with the entity rendered again: a stale catalog-info.yaml is refused,
// naming each stale line and what to write there.
func TestVerifyEntityFollowsMainTF(t *testing.T) {
	cfg, req, ws := prodLedger(t)
	for _, tc := range reviewerEdits {
		t.Run(tc.name, func(t *testing.T) {
			want := req.Spec
			tc.wantChange(&want)
			fresh := renderEntity(t, cfg, req.ID, want)
			fsys := workspaceFS(ws)
			main := ws.Dir + "/main.tf"
			fsys[main].Data = []byte(edit(t, string(fsys[main].Data), tc.old, tc.new))
			got, err := cfg.VerifyFS(fsys, ws.Dir, ws.Dir)
			if bytes.Equal(fresh, ws.Files["catalog-info.yaml"]) {
				if err != nil {
					t.Fatalf("the entity does not show this edit, yet it was refused:\n%v", err)
				}
				assertSameSpec(t, got, want)
				return
			}
			var vs templates.Violations
			if !errors.As(err, &vs) {
				t.Fatalf("a stale catalog-info.yaml was accepted (err %v)", err)
			}
			stale := changedLines(ws.Files["catalog-info.yaml"], fresh)
			for _, v := range vs {
				if v.File != ws.Dir+"/catalog-info.yaml" {
					t.Errorf("violation %q is not about the entity", v)
				}
				if v.Line > 0 && !stale[v.Line] {
					t.Errorf("violation %q points at a line the edit did not change", v)
				}
			}
			if msg := vs.Error(); !strings.Contains(msg, "clustro render writes") || !strings.Contains(msg, "render the workspace again (clustro render) or write the values above") {
				t.Errorf("the refusal does not say what to write:\n%s", msg)
			}
		})
	}
}

// TestVerifyCatalogOnEveryGoldenWorkspace: the golden workspaces verify with
// their entity, and a changed owner is refused in each (the comparison
// does not depend on one platform config).
func TestVerifyCatalogOnEveryGoldenWorkspace(t *testing.T) {
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := loadConfig(t, tc.config)
			resolved, ws := renderCase(t, cfg, tc.req)
			fsys := workspaceFS(ws)
			if _, err := cfg.VerifyFS(fsys, ws.Dir, ws.Dir); err != nil {
				t.Fatalf("rendered workspace refused: %v", err)
			}
			path := ws.Dir + "/catalog-info.yaml"
			owner := "owner: group:" + resolved.Team
			fsys[path].Data = []byte(edit(t, string(fsys[path].Data), owner, owner+"-admins"))
			_, err := cfg.VerifyFS(fsys, ws.Dir, ws.Dir)
			if err == nil || !strings.Contains(err.Error(), "spec.owner is") {
				t.Fatalf("changed owner: got %v", err)
			}
		})
	}
}

func yamlEdit(old, new string) catalogEdit {
	return func(t *testing.T, _ fstest.MapFS, _, src string) string {
		t.Helper()
		if !strings.Contains(src, old) {
			t.Fatalf("test edit: %q not found in catalog-info.yaml:\n%s", old, src)
		}
		return strings.Replace(src, old, new, 1)
	}
}

func appendYAML(doc string) catalogEdit {
	return func(_ *testing.T, _ fstest.MapFS, _, src string) string { return src + doc }
}

func prependYAML(doc string) catalogEdit {
	return func(_ *testing.T, _ fstest.MapFS, _, src string) string { return doc + src }
}

func setCatalog(content string) catalogEdit {
	return func(*testing.T, fstest.MapFS, string, string) string { return content }
}

func deleteCatalog(_ *testing.T, fsys fstest.MapFS, path, _ string) string {
	delete(fsys, path)
	return ""
}

var entityNameLineRE = regexp.MustCompile(`(?m)^  name: (.+)$`)

// renameEntity gives the entity another name, whatever the renderer calls it.
func renameEntity(t *testing.T, _ fstest.MapFS, _, src string) string {
	m := entityNameLineRE.FindStringSubmatchIndex(src)
	if m == nil {
		t.Fatalf("no metadata.name in\n%s", src)
	}
	return src[:m[2]] + "x" + src[m[2]:]
}

// reencode rewrites the entity through yaml.v3 after changing its root
// mapping, with the given indentation.
func reencode(change func(root *yaml.Node), indent int) catalogEdit {
	return func(t *testing.T, _ fstest.MapFS, _, src string) string {
		var doc yaml.Node
		if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
			t.Fatal(err)
		}
		change(doc.Content[0])
		var b bytes.Buffer
		enc := yaml.NewEncoder(&b)
		enc.SetIndent(indent)
		if err := enc.Encode(&doc); err != nil {
			t.Fatal(err)
		}
		if b.String() == src {
			t.Fatalf("re-encoding left the entity as it was")
		}
		return b.String()
	}
}

// lineOf is the line number of the first line of the rendered entity that
// contains s.
func lineOf(t *testing.T, ws templates.Workspace, s string) string {
	t.Helper()
	for i, l := range strings.Split(string(ws.Files["catalog-info.yaml"]), "\n") {
		if strings.Contains(l, s) {
			return itoa(i + 1)
		}
	}
	t.Fatalf("%q not in the rendered entity", s)
	return ""
}

// changedLines are the line numbers at which two files of the same length
// in lines differ (or every line, when the lengths differ).
func changedLines(a, b []byte) map[int]bool {
	al, bl := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
	out := map[int]bool{}
	for i := range max(len(al), len(bl)) {
		if len(al) != len(bl) || al[i] != bl[i] {
			out[i+1] = true
		}
	}
	return out
}

// TestVerifyBoundsWhatItReports: a catalog-info.yaml breaking thousands of
// rules (within the 1 MiB file cap) is refused with a bounded report, since
// the report goes into PR comments, notices and the audit trail.
func TestVerifyBoundsWhatItReports(t *testing.T) {
	cfg, _, ws := prodLedger(t)
	var b strings.Builder
	b.WriteString(string(ws.Files["catalog-info.yaml"]))
	for i := 0; b.Len() < 900<<10; i++ {
		fmt.Fprintf(&b, "%s%d: 1\n", strings.Repeat("k", 900), i%3) // keys set twice, far too many times
	}
	fsys := workspaceFS(ws)
	fsys[ws.Dir+"/catalog-info.yaml"].Data = []byte(b.String())
	vs := mustRefuse(t, cfg, fsys, ws.Dir, nil)
	if len(vs) > 51 || len(vs.Error()) > 51*600 {
		t.Errorf("%d violations, %d bytes of report: want at most 51 and a bounded text", len(vs), len(vs.Error()))
	}
}
