package config

import (
	"crypto/subtle"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// API configures the REST API that Backstage and other portals call
// (/api/v1/). It is on when at least one token is configured.
type API struct {
	// Tokens are the bearer tokens clients authenticate with
	// (CLUSTRO_API_TOKENS replaces them; see APITokensFormat).
	Tokens []APIToken `json:"tokens"`
}

// APIToken is one client of the API: its name (recorded as the audit
// actor and the request's origin), its secret bearer token and what it
// may do.
type APIToken struct {
	Name   string   `json:"name"`
	Token  Secret   `json:"token"`
	Scopes []string `json:"scopes"`
}

// The scopes an API token may hold.
const (
	// ScopeRead reads databases, requests, their events and the catalog.
	ScopeRead = "read"
	// ScopeRequest asks for databases and changes to them, and retries.
	ScopeRequest = "request"
	// ScopeAdmin holds every scope.
	ScopeAdmin = "admin"
)

// APIScopes lists the scopes in the order they are documented.
func APIScopes() []string { return []string{ScopeRead, ScopeRequest, ScopeAdmin} }

// Has reports whether the token holds scope, directly or through admin.
func (t APIToken) Has(scope string) bool {
	return slices.Contains(t.Scopes, scope) || slices.Contains(t.Scopes, ScopeAdmin)
}

// APITokensFormat documents CLUSTRO_API_TOKENS.
const APITokensFormat = "name:scope+scope:token entries separated by commas, e.g. backstage:read+request:<token>"

// minTokenLength refuses tokens short enough to guess.
const minTokenLength = 16

var apiTokenNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

// Enabled reports whether the API is configured, and if not, what is missing.
func (a API) Enabled() (bool, string) {
	if len(a.Tokens) == 0 {
		return false, "CLUSTRO_API_TOKENS (or api.tokens)"
	}
	return true, ""
}

var apiEnvVars = []envVar{
	{"CLUSTRO_API_TOKENS", "api.tokens: REST API tokens, " + APITokensFormat + " (scopes: read, request, admin); replaces the file's tokens", setAPITokens},
}

// setAPITokens is CLUSTRO_API_TOKENS's setter: the tokens replace the file's.
func setAPITokens(c *Config, v string) error {
	tokens, err := parseAPITokens(v)
	c.API.Tokens = tokens
	return err
}

// parseAPITokens reads CLUSTRO_API_TOKENS: entries separated by commas,
// each name:scopes:token with scopes joined by "+". The token is the rest
// of the entry after the second colon. Errors never repeat a token.
func parseAPITokens(v string) ([]APIToken, error) {
	var tokens []APIToken
	for i, entry := range strings.Split(v, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		name, rest, ok1 := strings.Cut(entry, ":")
		scopes, token, ok2 := strings.Cut(rest, ":")
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("entry %d is not name:scope+scope:token (want %s)", i+1, APITokensFormat)
		}
		tokens = append(tokens, APIToken{Name: name, Token: Secret(token), Scopes: strings.Split(scopes, "+")})
	}
	if len(tokens) == 0 {
		return nil, fmt.Errorf("no token given (want %s)", APITokensFormat)
	}
	return tokens, nil
}

// checkAPI reports problems with the API tokens, naming the setting and
// the token by its name, never by its value.
func (c *Config) checkAPI() []string {
	var problems []string
	names := map[string]bool{}
	for i, t := range c.API.Tokens {
		field := fmt.Sprintf("api.tokens[%d] (CLUSTRO_API_TOKENS)", i)
		if !apiTokenNameRE.MatchString(t.Name) {
			problems = append(problems, fmt.Sprintf("%s.name: %q must be 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit", field, t.Name))
		} else if names[t.Name] {
			problems = append(problems, fmt.Sprintf("%s.name: %q is used by another token", field, t.Name))
		}
		names[t.Name] = true
		if len(t.Token.Value()) < minTokenLength {
			problems = append(problems, fmt.Sprintf("%s.token: token %q must be at least %d characters", field, t.Name, minTokenLength))
		} else if strings.ContainsAny(t.Token.Value(), " ,\t\r\n") {
			problems = append(problems, fmt.Sprintf("%s.token: token %q must not contain spaces or commas", field, t.Name))
		}
		for j, other := range c.API.Tokens[:i] {
			if subtle.ConstantTimeCompare([]byte(t.Token.Value()), []byte(other.Token.Value())) == 1 {
				problems = append(problems, fmt.Sprintf("%s.token: token %q has the same value as api.tokens[%d]; give each client its own", field, t.Name, j))
			}
		}
		if len(t.Scopes) == 0 {
			problems = append(problems, fmt.Sprintf("%s.scopes: token %q needs at least one of %s", field, t.Name, strings.Join(APIScopes(), ", ")))
		}
		for _, s := range t.Scopes {
			if !slices.Contains(APIScopes(), s) {
				problems = append(problems, fmt.Sprintf("%s.scopes: %q is not a scope; allowed: %s", field, s, strings.Join(APIScopes(), ", ")))
			}
		}
	}
	return problems
}
