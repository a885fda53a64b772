package request_test

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/clustropg/clustro/request"
)

// The pair that shared one Terraform state and one catalog entity when the
// parts were joined with '-'.
func TestQualifiedNameKeepsTeamsApart(t *testing.T) {
	a := request.NamesOf(request.Spec{Environment: "prod", Team: "billing", Name: "ops-ledger"}).Qualified
	b := request.NamesOf(request.Spec{Environment: "prod", Team: "billing-ops", Name: "ledger"}).Qualified
	if a == b {
		t.Fatalf("prod/billing/ops-ledger and prod/billing-ops/ledger share %q", a)
	}
	if a != "ops-ledger.billing.prod" || b != "ledger.billing-ops.prod" {
		t.Errorf("qualified names = %q, %q", a, b)
	}
}

// randomPart draws from an alphabet small enough that distinct triples
// often look alike once joined: letters, a digit and '-'.
func randomPart(r *rand.Rand, first, rest string, maxLen int) string {
	n := 1 + r.IntN(maxLen)
	var b strings.Builder
	b.WriteByte(first[r.IntN(len(first))])
	for i := 1; i < n; i++ {
		b.WriteByte(rest[r.IntN(len(rest))])
	}
	s := b.String()
	for strings.HasSuffix(s, "-") {
		s = strings.TrimSuffix(s, "-") + "a"
	}
	return s
}

// TestDerivedNamesInjective: no two distinct (environment, team, name)
// triples share a qualified name (state key, entity name) or a
// namespace-and-cluster, under every namespace pattern the policy accepts.
func TestDerivedNamesInjective(t *testing.T) {
	patterns := []string{"{team}-{env}", "{env}-{team}", "db-{env}-x-{team}", "{team}-x{env}", "{env}x-{team}-pg"}
	r := rand.New(rand.NewPCG(1, 2))
	type triple struct{ env, team, name string }
	for _, pat := range patterns {
		p := &request.Policy{Namespace: pat}
		qualified := map[string]triple{}
		placed := map[string]triple{}
		for range 40000 {
			tr := triple{
				env:  randomPart(r, "ab", "ab1", 3),
				team: randomPart(r, "ab1", "ab1-", 5),
				name: randomPart(r, "ab", "ab1-", 5),
			}
			s := request.Spec{Environment: tr.env, Team: tr.team, Name: tr.name}
			q := request.NamesOf(s).Qualified
			if other, ok := qualified[q]; ok && other != tr {
				t.Fatalf("%+v and %+v share the qualified name %q", other, tr, q)
			}
			qualified[q] = tr
			where := p.NamespaceFor(s) + "/" + request.NamesOf(s).Cluster
			if other, ok := placed[where]; ok && other != tr {
				t.Fatalf("pattern %s: %+v and %+v share the cluster %s", pat, other, tr, where)
			}
			placed[where] = tr
		}
		if err := checkPattern(pat); err != "" {
			t.Errorf("pattern %s used above is refused by the policy: %s", pat, err)
		}
	}
}

// checkPattern runs the policy's own check on a namespace pattern.
func checkPattern(pat string) string {
	p := request.Policy{Namespace: pat}
	err := p.Check()
	if err == nil {
		return ""
	}
	for _, part := range strings.Split(err.Error(), "; ") {
		if strings.HasPrefix(part, "namespace:") {
			return part
		}
	}
	return ""
}

// Names that Backstage, Kubernetes and Terraform all accept pass, and their
// derived names render: '--' inside a name or team, a name ending in digits.
func TestNamesThatAreValidEverywhere(t *testing.T) {
	p := policy(t)
	for _, tc := range []struct{ team, name string }{
		{"billing", "a--b"},
		{"bill--ing", "ledger"},
		{"billing", "ledger-2"},
		{"9lives", "x"},
	} {
		r := request.DatabaseRequest{ClientType: request.Startup, Load: request.Small,
			Spec: request.Spec{Environment: "dev", Team: tc.team, Name: tc.name}}
		got, err := p.Resolve(r)
		if err != nil {
			t.Errorf("%s/%s refused: %v", tc.team, tc.name, err)
			continue
		}
		if q := request.NamesOf(got.Spec).Qualified; !request.IsEntityName(q) {
			t.Errorf("%s/%s: qualified name %q is not a Backstage name", tc.team, tc.name, q)
		}
	}
}

func TestIsEntityName(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"a", true}, {"a--b", true}, {"a.b_c-d", true}, {"A9", true},
		{"", false}, {"-a", false}, {"a-", false}, {"a.", false}, {"a b", false},
		{strings.Repeat("a", 63), true}, {strings.Repeat("a", 64), false},
	} {
		if got := request.IsEntityName(tc.name); got != tc.ok {
			t.Errorf("IsEntityName(%q) = %v, want %v", tc.name, got, tc.ok)
		}
	}
}
