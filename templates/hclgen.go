package templates

import (
	"strconv"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
)

// hclgen writes HCL laid out the way terraform fmt lays it out (two-space
// indents, the "=" of consecutive attributes aligned), so that rendering
// needs no second formatting pass. Block types and attribute names are
// identifiers fixed in this package or checked with
// hclsyntax.ValidIdentifier; every value and label is a typed cty value
// turned into tokens by hclwrite (TokensForValue escapes strings, "${" and
// "%{" included), so nothing a request holds is ever spliced in as text.
// Only single-line values are written: Config.Check keeps configured
// settings to scalars and lists of scalars.
type hclgen struct {
	b []byte
}

func (g *hclgen) indent(n int) {
	for range n {
		g.b = append(g.b, ' ')
	}
}

func (g *hclgen) newline() { g.b = append(g.b, '\n') }

// value appends the tokens of v.
func (g *hclgen) value(v cty.Value) {
	// Whole numbers directly: TokensForValue formats every number through
	// big.Float, which dominates the cost of a render.
	if v.Type() == cty.Number {
		if i, acc := v.AsBigFloat().Int64(); acc == 0 {
			g.b = strconv.AppendInt(g.b, i, 10)
			return
		}
	}
	for _, t := range hclwrite.TokensForValue(v) {
		g.indent(t.SpacesBefore)
		g.b = append(g.b, t.Bytes...)
	}
}

// open starts a block: `type "label" {`.
func (g *hclgen) open(indent int, typ string, labels ...string) {
	g.indent(indent)
	g.b = append(g.b, typ...)
	for _, l := range labels {
		g.b = append(g.b, ' ')
		g.value(cty.StringVal(l))
	}
	g.b = append(g.b, " {\n"...)
}

// openObject starts an attribute whose value is an object: `name = {`.
func (g *hclgen) openObject(indent int, name string) {
	g.indent(indent)
	g.b = append(g.b, name...)
	g.b = append(g.b, " = {\n"...)
}

func (g *hclgen) close(indent int) {
	g.indent(indent)
	g.b = append(g.b, "}\n"...)
}

// attrs writes one line per attribute with their "=" aligned.
func (g *hclgen) attrs(indent int, attrs []attr) {
	width := 0
	for _, a := range attrs {
		width = max(width, len(a.name))
	}
	for _, a := range attrs {
		g.indent(indent)
		g.b = append(g.b, a.name...)
		g.indent(width - len(a.name) + 1)
		g.b = append(g.b, "= "...)
		g.value(a.val)
		g.newline()
	}
}

// traversal writes `name = root.attr.attr`.
func (g *hclgen) traversal(indent int, name string, t hcl.Traversal) {
	g.indent(indent)
	g.b = append(g.b, name...)
	g.b = append(g.b, " = "...)
	for i, tok := range hclwrite.TokensForTraversal(t) {
		if i > 0 {
			g.indent(tok.SpacesBefore)
		}
		g.b = append(g.b, tok.Bytes...)
	}
	g.newline()
}

func (g *hclgen) comment(lines ...string) {
	for _, l := range lines {
		g.b = append(g.b, "# "...)
		g.b = append(g.b, l...)
		g.newline()
	}
}
