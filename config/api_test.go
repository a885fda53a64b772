package config

import (
	"fmt"
	"strings"
	"testing"
)

func TestAPITokensFromFileAndEnvironment(t *testing.T) {
	p := writeConfig(t, `
api:
  tokens:
    - {name: backstage, token: file-token-0123456789, scopes: [read, request]}
`)
	c, err := Load(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if on, _ := c.API.Enabled(); !on || len(c.API.Tokens) != 1 || c.API.Tokens[0].Token.Value() != "file-token-0123456789" {
		t.Fatalf("api = %+v", c.API)
	}
	// The variable replaces the file's tokens.
	env := map[string]string{"CLUSTRO_API_TOKENS": "backstage:read+request:env-token-0123456789:with-colon, ops:admin:ops-token-0123456789"}
	c, err = Load(p, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		name, token string
		scopes      string
	}{{"backstage", "env-token-0123456789:with-colon", "[read request]"}, {"ops", "ops-token-0123456789", "[admin]"}}
	if len(c.API.Tokens) != len(want) {
		t.Fatalf("tokens = %+v", c.API.Tokens)
	}
	for i, w := range want {
		got := c.API.Tokens[i]
		if got.Name != w.name || got.Token.Value() != w.token || fmt.Sprint(got.Scopes) != w.scopes {
			t.Errorf("token %d = %s %v", i, got.Name, got.Scopes)
		}
	}
	if !c.API.Tokens[1].Has(ScopeRead) || !c.API.Tokens[1].Has(ScopeRequest) || c.API.Tokens[0].Has(ScopeAdmin) {
		t.Error("admin holds every scope; read+request does not hold admin")
	}
	for _, s := range []string{fmt.Sprintf("%v", c), fmt.Sprintf("%+v", c.API), fmt.Sprintf("%#v", c.API), mustJSON(t, c)} {
		if strings.Contains(s, "env-token") || strings.Contains(s, "ops-token") {
			t.Errorf("a formatted config shows a token: %s", s)
		}
	}
}

func TestAPIOffWithoutTokens(t *testing.T) {
	c, err := Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if on, missing := c.API.Enabled(); on || !strings.Contains(missing, "CLUSTRO_API_TOKENS") {
		t.Errorf("api: %v %q", on, missing)
	}
}

func TestAPITokensRefused(t *testing.T) {
	const secret = "s3cret-value-0123456789"
	tests := []struct {
		name, env string
		want      []string
	}{
		{"not name:scopes:token", "backstage-" + secret, []string{"CLUSTRO_API_TOKENS: entry 1 is not name:scope+scope:token"}},
		{"only commas", ",,", []string{"CLUSTRO_API_TOKENS: no token given"}},
		{"unknown scope", "backstage:read+write:" + secret, []string{`api.tokens[0] (CLUSTRO_API_TOKENS).scopes: "write" is not a scope; allowed: read, request, admin`}},
		{"no scope", "backstage::" + secret, []string{`.scopes: "" is not a scope`}},
		{"short token", "backstage:read:short", []string{`api.tokens[0] (CLUSTRO_API_TOKENS).token: token "backstage" must be at least 16 characters`}},
		{"bad name", "back stage:read:" + secret, []string{`api.tokens[0] (CLUSTRO_API_TOKENS).name: "back stage"`}},
		{"name twice", "a:read:" + secret + "1,a:read:" + secret + "2", []string{`api.tokens[1] (CLUSTRO_API_TOKENS).name: "a" is used by another token`}},
		{"token twice", "a:read:" + secret + ",b:read:" + secret, []string{`token "b" has the same value as api.tokens[0]`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load("", func(k string) string {
				if k == "CLUSTRO_API_TOKENS" {
					return tc.env
				}
				return ""
			})
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("the error shows the token: %v", err)
			}
		})
	}
}
