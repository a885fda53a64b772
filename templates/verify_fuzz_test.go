package templates_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	ctyjson "github.com/zclconf/go-cty/cty/json"
	"go.yaml.in/yaml/v3"
	k8syaml "sigs.k8s.io/yaml"

	"github.com/clustropg/clustro/catalog"
	"github.com/clustropg/clustro/request"
	"github.com/clustropg/clustro/templates"
)

// FuzzVerifyHostile edits rendered workspaces the way a hostile reviewer
// would: the fuzzer's own byte mutations of main.tf and catalog-info.yaml,
// and on top of them a token-level mutator (ops) that deletes, duplicates,
// swaps and replaces HCL tokens, swaps lines and inserts blocks, attributes,
// comments and expressions. The property: whenever Verify accepts, the
// workspace is what clustro render writes for the request Verify returned,
// up to formatting (whitespace, comments, order, how a literal is spelled),
// and that request differs from the rendered one only in the values a
// reviewer may edit. Run with `go test -run '^$' -fuzz FuzzVerifyHostile
// ./templates`; the seed corpus runs in `go test`.
func FuzzVerifyHostile(f *testing.F) {
	cases := hostileCases(f)
	for i, c := range cases {
		main, cat := c.ws.Files[templates.MainFile], c.ws.Files[templates.CatalogFile]
		f.Add(uint8(i), main, cat, []byte{})
		// One of each token operation, somewhere in main.tf.
		for op := range byte(len(tokenOps)) {
			f.Add(uint8(i), main, cat, []byte{op, 0, byte(40 + 13*int(op)), byte(7 * int(op))})
		}
		// Accepted reviewer edits, with the entity rendered again, as
		// starting points inside what Verify accepts.
		for _, e := range reviewerEdits {
			if !bytes.Contains(main, []byte(e.old)) {
				continue
			}
			s := c.req.Spec
			e.wantChange(&s)
			ws, err := c.cfg.Render(request.DatabaseRequest{ID: c.req.ID, Spec: s})
			if err != nil {
				continue // not allowed in this environment
			}
			f.Add(uint8(i), bytes.Replace(main, []byte(e.old), []byte(e.new), 1), ws.Files[templates.CatalogFile], []byte{})
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, main, cat, ops []byte) {
		verifyHostile(t, cases[int(which)%len(cases)], main, cat, ops)
	})
}

// verifyHostile applies ops to main.tf, verifies the workspace and checks
// the property.
func verifyHostile(t *testing.T, c hostileCase, main, cat, ops []byte) {
	main = mutateHCL(main, ops)
	fsys := fstest.MapFS{
		c.ws.Dir + "/" + templates.MainFile:    {Data: main, Mode: 0o644},
		c.ws.Dir + "/" + templates.CatalogFile: {Data: cat, Mode: 0o644},
	}
	spec, err := c.cfg.VerifyFS(fsys, c.ws.Dir, c.ws.Dir)
	if err != nil {
		var vs templates.Violations
		if !errors.As(err, &vs) || len(vs) == 0 {
			t.Fatalf("refused without violations: %v", err)
		}
		if !reflect.DeepEqual(spec, request.Spec{}) {
			t.Fatalf("a refused workspace returned a request: %+v", spec)
		}
		for _, v := range vs {
			if !strings.HasPrefix(v.File, c.ws.Dir+"/") {
				t.Fatalf("violation %q does not name its file", v)
			}
		}
		return
	}
	checkAccepted(t, c, spec, main, cat)
}

type hostileCase struct {
	cfg *templates.Renderer
	req request.DatabaseRequest
	ws  templates.Workspace
}

// hostileCases are the golden workspaces: every size, backup mode and
// platform config path.
func hostileCases(t testing.TB) []hostileCase {
	cfgs := map[string]*templates.Renderer{}
	var out []hostileCase
	for _, tc := range goldenCases {
		if cfgs[tc.config] == nil {
			cfgs[tc.config] = loadConfig(t, tc.config)
		}
		req, ws := renderCase(t, cfgs[tc.config], tc.req)
		out = append(out, hostileCase{cfgs[tc.config], req, ws})
	}
	return out
}

// checkAccepted is the property of an accepted workspace.
func checkAccepted(t *testing.T, c hostileCase, spec request.Spec, main, cat []byte) {
	t.Helper()
	if spec.Name != c.req.Name || spec.Team != c.req.Team || spec.Environment != c.req.Environment {
		t.Fatalf("accepted a workspace for another database: %s, rendered as %s", spec.Key(), c.req.Key())
	}
	var entity map[string]any
	if err := k8syaml.Unmarshal(cat, &entity); err != nil {
		t.Fatalf("accepted a catalog-info.yaml that YAML 1.1 cannot read: %v\n%s", err, cat)
	}
	id, _ := lookupAny(entity, "metadata", "annotations", catalog.AnnotationRequestID).(string)
	ws, err := c.cfg.Render(request.DatabaseRequest{ID: id, Spec: spec})
	if err != nil {
		t.Fatalf("accepted a request that does not render: %v\n%s", err, main)
	}

	// main.tf: what Render writes for spec, up to formatting.
	got, want := canonHCL(t, main, nil), canonHCL(t, ws.Files[templates.MainFile], nil)
	if d := diffLines(got, want); d != "" {
		t.Fatalf("accepted main.tf differs from what clustro render writes for the request Verify returned:\n%s\n--- accepted\n%s", d, main)
	}
	// ... and only reviewer-editable values differ from the rendered request.
	got = canonHCL(t, main, editableArg)
	want = canonHCL(t, c.ws.Files[templates.MainFile], editableArg)
	if d := diffLines(got, want); d != "" {
		t.Fatalf("accepted main.tf changes more than the editable values:\n%s\n--- accepted\n%s", d, main)
	}

	// catalog-info.yaml: the rendered entity, read by YAML 1.1 (go-yaml v2,
	// through sigs.k8s.io/yaml) and YAML 1.2 (go-yaml v3) alike, one document.
	var wantEntity map[string]any
	if err := k8syaml.Unmarshal(ws.Files[templates.CatalogFile], &wantEntity); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(entity, wantEntity) {
		t.Fatalf("accepted catalog-info.yaml reads, in YAML 1.1, as\n%v\nnot the rendered\n%v\n--- accepted\n%s", entity, wantEntity, cat)
	}
	docs := yamlDocuments(t, cat)
	wantDocs := yamlDocuments(t, ws.Files[templates.CatalogFile])
	if len(docs) != 1 || !reflect.DeepEqual(docs, wantDocs) {
		t.Fatalf("accepted catalog-info.yaml reads, in YAML 1.2, as %d document(s)\n%v\nnot the rendered\n%v\n--- accepted\n%s", len(docs), docs, wantDocs, cat)
	}
}

// editableArg tells the module arguments a reviewer may change. A
// restore's source and target time are values too: Verify accepts any
// the policy allows (the pipeline checks them against the source's
// recovery window).
func editableArg(block, name string) bool {
	return block == `module "database"` && slices.Contains([]string{
		"size", "instances", "storage", "postgres_version", "backup_schedule",
		"backup_hour", "backup_retention", "logical_backup", "databases",
		"restore_source", "restore_target_time",
	}, name)
}

// canonHCL reads main.tf with hclwrite (not the verifier's parser walk) and
// lists every block and attribute as a line, sorted: block path, name, and
// the value (its cty type and JSON when the expression is a literal, its
// tokens otherwise). Whitespace, comments, order and how a literal is
// spelled (3 or 3.0, "M" or "\u004D") drop out; anything else stays.
func canonHCL(t *testing.T, src []byte, skip func(block, name string) bool) []string {
	t.Helper()
	f, diags := hclwrite.ParseConfig(src, "main.tf", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatalf("hclwrite cannot parse an accepted main.tf: %v\n%s", diags, src)
	}
	var out []string
	var walk func(b *hclwrite.Body, path string)
	walk = func(b *hclwrite.Body, path string) {
		for name, a := range b.Attributes() {
			if skip != nil && skip(path, name) {
				continue
			}
			out = append(out, path+" | "+name+" = "+canonExpr(a.Expr().BuildTokens(nil).Bytes()))
		}
		for _, blk := range b.Blocks() {
			p := blk.Type()
			for _, l := range blk.Labels() {
				p += fmt.Sprintf(" %q", l)
			}
			if path != "" {
				p = path + " > " + p
			}
			out = append(out, p+" {")
			walk(blk.Body(), p)
		}
	}
	walk(f.Body(), "")
	sort.Strings(out)
	return out
}

// literalTokens are the tokens a literal value is spelled with.
var literalTokens = map[hclsyntax.TokenType]bool{
	hclsyntax.TokenOQuote: true, hclsyntax.TokenCQuote: true, hclsyntax.TokenQuotedLit: true,
	hclsyntax.TokenOHeredoc: true, hclsyntax.TokenCHeredoc: true, hclsyntax.TokenStringLit: true,
	hclsyntax.TokenNumberLit: true, hclsyntax.TokenIdent: true,
	hclsyntax.TokenOBrack: true, hclsyntax.TokenCBrack: true, hclsyntax.TokenOBrace: true, hclsyntax.TokenCBrace: true,
	hclsyntax.TokenComma: true, hclsyntax.TokenEqual: true, hclsyntax.TokenColon: true,
	hclsyntax.TokenNewline: true, hclsyntax.TokenComment: true, hclsyntax.TokenEOF: true,
}

func canonExpr(src []byte) string {
	toks, _ := hclsyntax.LexExpression(src, "expr", hcl.InitialPos)
	literal := true
	var spelled []string
	for _, tok := range toks {
		if !literalTokens[tok.Type] {
			literal = false
		}
		if tok.Type != hclsyntax.TokenNewline && tok.Type != hclsyntax.TokenComment && tok.Type != hclsyntax.TokenEOF {
			spelled = append(spelled, string(tok.Bytes))
		}
	}
	if literal {
		if e, diags := hclsyntax.ParseExpression(src, "expr", hcl.InitialPos); !diags.HasErrors() {
			if v, diags := e.Value(nil); !diags.HasErrors() && v.IsWhollyKnown() {
				ty, _ := ctyjson.MarshalType(v.Type())
				if js, err := ctyjson.Marshal(v, v.Type()); err == nil {
					return "literal " + string(ty) + " " + string(js)
				}
			}
		}
	}
	return "tokens " + strings.Join(spelled, " ")
}

func diffLines(got, want []string) string {
	var d []string
	for _, l := range got {
		if !slices.Contains(want, l) {
			d = append(d, "+ "+l)
		}
	}
	for _, l := range want {
		if !slices.Contains(got, l) {
			d = append(d, "- "+l)
		}
	}
	if len(d) == 0 && len(got) != len(want) {
		d = append(d, fmt.Sprintf("%d lines, want %d (a repeated block or attribute)", len(got), len(want)))
	}
	return strings.Join(d, "\n")
}

func yamlDocuments(t *testing.T, b []byte) []any {
	t.Helper()
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var docs []any
	for {
		var doc any
		err := dec.Decode(&doc)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return docs
			}
			t.Fatalf("accepted catalog-info.yaml does not decode in YAML 1.2: %v\n%s", err, b)
		}
		docs = append(docs, doc)
	}
}

func lookupAny(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// tokenOps are the token-level edits, chosen by an op byte. Each op is four
// bytes: which edit, a 16-bit position among main.tf's tokens (or lines),
// and an operand (another position, a literal, a snippet).
var tokenOps = []func(chunks [][]byte, i int, x byte, src []byte) []byte{
	// delete a token
	func(ch [][]byte, i int, _ byte, _ []byte) []byte { return join(slices.Delete(ch, i, i+1)) },
	// duplicate a token
	func(ch [][]byte, i int, _ byte, _ []byte) []byte { return join(slices.Insert(ch, i, ch[i])) },
	// swap two tokens
	func(ch [][]byte, i int, x byte, _ []byte) []byte {
		j := (i + int(x)) % len(ch)
		ch[i], ch[j] = ch[j], ch[i]
		return join(ch)
	},
	// replace a token with a literal or an expression
	func(ch [][]byte, i int, x byte, _ []byte) []byte {
		lead := ch[i][:len(ch[i])-len(bytes.TrimLeft(ch[i], " \t"))]
		ch[i] = append(slices.Clip(lead), hostileExprs[int(x)%len(hostileExprs)]...)
		return join(ch)
	},
	// insert a snippet before a token
	func(ch [][]byte, i int, x byte, _ []byte) []byte {
		return join(slices.Insert(ch, i, []byte(hostileSnippets[int(x)%len(hostileSnippets)])))
	},
	// swap two lines
	func(_ [][]byte, i int, x byte, src []byte) []byte {
		lines := bytes.SplitAfter(src, []byte("\n"))
		a, b := i%len(lines), (i+int(x))%len(lines)
		lines[a], lines[b] = lines[b], lines[a]
		return bytes.Join(lines, nil)
	},
}

// hostileExprs replace a token: other literals, other spellings of the
// same literal, and everything Verify must refuse.
var hostileExprs = []string{
	`"L"`, `"S"`, `"XL"`, `"M"`, `5`, `1`, `9`, `17`, `16`, `3.0`, `03`, `3e0`, `"3"`, `-1`, `0x10`,
	`true`, `false`, `null`, `[]`, `["reports"]`, `["a", "a"]`, `{}`, `{ x = 1 }`,
	`"hourly"`, `"none"`, `"weekly"`, `"daily"`, `"6w"`, `"80Gi"`, `"\u004D"`, `"M\n"`,
	`var.x`, `local.y`, `module.database.namespace`, `module.database.rw_host`, `path.module`,
	`upper("m")`, `file("/etc/passwd")`, `"${"M"}"`, `"%{if true}M%{endif}"`, "<<EOT\nM\nEOT\n", "<<-EOT\n  M\n  EOT\n",
	`(3)`, `3 + 0`, `!false`, `true ? 3 : 1`, `[for x in [] : x]`, `try(3)`, `x[0]`, `x.*`,
	`"billing-prod"`, `"kube-system"`, `"../../../../modules/cnpg-database"`, `"git::https://evil.example/m.git"`,
	`resource`, `data`, `provider`, `output`, `module`, `locals`, `terraform`, `backend`, `count`, `for_each`,
}

// hostileSnippets are inserted between tokens.
var hostileSnippets = []string{
	"\nresource \"null_resource\" \"x\" {}\n", "\ndata \"external\" \"x\" {\n  program = [\"sh\"]\n}\n",
	"\n  count = 2\n", "\n  for_each = {}\n", "\n  depends_on = []\n", "\n  providers = {}\n", "\n  lifecycle {}\n",
	"\n  storage = \"80Gi\"\n", "\n  backup_hour = 4\n", "\n  logical_backup = true\n", "\n  size = \"L\"\n",
	"\n  alias = \"x\"\n", "\n    config_path = \"/root/.kube/config\"\n", "\n  image = \"evil/pg:1\"\n",
	"\noutput \"x\" {\n  value = 1\n}\n", "\nterraform {}\n", "\nlocals {\n  x = 1\n}\n", "\nmodule \"x\" {\n  source = \"./x\"\n}\n",
	"# a comment\n", "// a comment\n", "/* a comment */", "\n", " ", "\t", "\r\n", ",", "\"", "{", "}", "[", "]", "=", "\\",
	"${", "%{", "<<EOT\n", "EOT\n", "\ufeff", "\x00", "\n  # count = 2\n",
}

// mutateHCL applies the ops, four bytes each, to main.tf; each op lexes
// the result of the one before. It stops after 64 ops or at 64 KiB:
// duplicating a token that swallowed the rest of the file (after an
// inserted quote or heredoc) doubles it, and a few dozen doublings hang
// the fuzzer on inputs Verify refuses by size anyway.
func mutateHCL(src []byte, ops []byte) []byte {
	for n := 0; len(ops) >= 4 && n < 64 && len(src) < 64<<10; ops, n = ops[4:], n+1 {
		chunks := hclChunks(src)
		if len(chunks) == 0 {
			return src
		}
		op := tokenOps[int(ops[0])%len(tokenOps)]
		src = op(chunks, (int(ops[1])<<8|int(ops[2]))%len(chunks), ops[3], src)
	}
	return src
}

// hclChunks splits src into its tokens, each with the whitespace before it,
// so that joining them gives src back.
func hclChunks(src []byte) [][]byte {
	toks, _ := hclsyntax.LexConfig(src, "main.tf", hcl.InitialPos)
	var chunks [][]byte
	start := 0
	for _, tok := range toks {
		end := tok.Range.End.Byte
		if end <= start || end > len(src) {
			continue
		}
		chunks = append(chunks, slices.Clip(src[start:end]))
		start = end
	}
	if start < len(src) {
		chunks = append(chunks, src[start:])
	}
	return chunks
}

func join(chunks [][]byte) []byte { return bytes.Join(chunks, nil) }

// TestHostileOracle checks FuzzVerifyHostile's property itself: formatting
// drops out of it, a changed value or expression does not.
func TestHostileOracle(t *testing.T) {
	_, _, ws := prodLedger(t)
	main := string(ws.Files[templates.MainFile])
	same := canonHCL(t, []byte(main), nil)
	for name, src := range map[string]string{
		"comments and blank lines": "# a reviewer's note\n\n" + strings.ReplaceAll(main, "\n\n", "\n\n\n// x\n"),
		"other spellings":          edit(t, edit(t, main, `instances        = 3`, `instances = 3.0`), `size             = "M"`, `size = "\u004D"`),
		"lines swapped":            edit(t, main, "  size             = \"M\"\n  instances        = 3\n", "  instances        = 3\n  size             = \"M\"\n"),
	} {
		if d := diffLines(canonHCL(t, []byte(src), nil), same); d != "" {
			t.Errorf("%s: the oracle sees a difference:\n%s", name, d)
		}
	}
	for name, src := range map[string]string{
		"conditional": edit(t, main, `instances        = 3`, `instances        = true ? 3 : 1`),
		"string 3":    edit(t, main, `instances        = 3`, `instances        = "3"`),
		"reference":   edit(t, main, `value = module.database.rw_host`, `value = module.database.ro_host`),
		"block added": main + "\nlocals {}\n",
		"label":       edit(t, main, `output "rw_host"`, `output "rw_hosts"`),
		"argument":    edit(t, main, `  size             = "M"`, "  size             = \"M\"\n  count = 1"),
		"editable":    edit(t, main, `size             = "M"`, `size             = "L"`),
	} {
		if diffLines(canonHCL(t, []byte(src), nil), same) == "" {
			t.Errorf("%s: the oracle sees no difference", name)
		}
	}
	if d := diffLines(canonHCL(t, []byte(edit(t, main, `size             = "M"`, `size             = "L"`)), editableArg), canonHCL(t, []byte(main), editableArg)); d != "" {
		t.Errorf("an editable value counts as a difference:\n%s", d)
	}
}
