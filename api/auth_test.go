package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/clustropg/clustro/api"
	"github.com/clustropg/clustro/config"
)

// TestAuthRefusals: without a token, with a token that is not configured,
// or with one that lacks the scope, every route but the OpenAPI document
// answers 401 or 403, and nothing changes.
func TestAuthRefusals(t *testing.T) {
	h := newHarness(t)
	a := h.ready("ledger", "dev")
	before, eventsBefore := len(h.requests()), len(h.events())
	body := map[string]any{"name": "other", "team": "billing", "environment": "dev"}
	routes := []struct {
		method, path string
		body         any
		scope        string
	}{
		{"POST", "/api/v1/databases", body, "request"},
		{"GET", "/api/v1/databases", nil, "read"},
		{"GET", "/api/v1/databases/dev/billing/ledger", nil, "read"},
		{"PATCH", "/api/v1/databases/dev/billing/ledger", map[string]any{"size": "M"}, "request"},
		{"DELETE", "/api/v1/databases/dev/billing/ledger", nil, "request"},
		{"GET", "/api/v1/requests/" + a.ID, nil, "read"},
		{"GET", "/api/v1/requests/" + a.ID + "/events", nil, "read"},
		{"POST", "/api/v1/requests/" + a.ID + "/retry", nil, "request"},
		{"GET", "/api/v1/catalog/entities", nil, "read"},
	}
	for _, rt := range routes {
		// A token with the other scope only.
		lacking := readerToken
		if rt.scope == "read" {
			lacking = requesterToken
		}
		tests := []struct {
			name, auth string
			status     int
			challenge  string
		}{
			{"no token", "", http.StatusUnauthorized, `Bearer realm="clustro"`},
			{"wrong token", "Bearer not-a-configured-token-at-all", http.StatusUnauthorized, `error="invalid_token"`},
			{"empty bearer", "Bearer ", http.StatusUnauthorized, `error="invalid_token"`},
			{"basic auth", "Basic " + backstageToken, http.StatusUnauthorized, `error="invalid_token"`},
			{"token with a suffix", "Bearer " + backstageToken + "x", http.StatusUnauthorized, `error="invalid_token"`},
			{"missing scope", "Bearer " + lacking, http.StatusForbidden, `error="insufficient_scope", scope="` + rt.scope + `"`},
		}
		for _, tc := range tests {
			t.Run(rt.method+" "+rt.path+"/"+tc.name, func(t *testing.T) {
				w := h.do(rt.method, rt.path, "", rt.body, "Authorization", tc.auth)
				slug := "unauthorized"
				if tc.status == http.StatusForbidden {
					slug = "forbidden"
				}
				p := problemOf(t, w, tc.status, slug)
				if got := w.Header().Get("WWW-Authenticate"); !strings.Contains(got, tc.challenge) {
					t.Errorf("WWW-Authenticate = %q, want it to contain %q", got, tc.challenge)
				}
				if tc.status == http.StatusForbidden && !strings.Contains(p.Detail, `"`+rt.scope+`"`) {
					t.Errorf("403 does not name the scope %q: %s", rt.scope, p.Detail)
				}
			})
		}
	}
	if n := len(h.requests()); n != before {
		t.Errorf("refused calls changed the store: %d requests, want %d", n, before)
	}
	if n := len(h.events()); n != eventsBefore {
		t.Errorf("refused calls reached the pipeline: %d audit events, want %d", n, eventsBefore)
	}
	if !strings.Contains(h.logs.String(), `"client":"reader"`) {
		t.Errorf("a refusal for a missing scope should log the token's name:\n%s", h.logs)
	}
}

// TestAuthAllows: a token with the scope, or admin, gets through, and the
// OpenAPI document needs no token.
func TestAuthAllows(t *testing.T) {
	h := newHarness(t)
	for _, tc := range []struct {
		token, method, path string
	}{
		{readerToken, "GET", "/api/v1/databases"},
		{backstageToken, "GET", "/api/v1/databases"},
		{opsToken, "GET", "/api/v1/catalog/entities"},
		{"", "GET", "/api/v1/openapi.json"},
	} {
		if w := h.do(tc.method, tc.path, tc.token, nil); w.Code != http.StatusOK {
			t.Errorf("%s %s: %d %s", tc.method, tc.path, w.Code, w.Body)
		}
	}
	if w := h.do("POST", "/api/v1/databases", opsToken, map[string]any{"name": "a", "team": "b", "environment": "dev"}); w.Code != http.StatusAccepted {
		t.Errorf("admin create: %d %s", w.Code, w.Body)
	}
	// Bearer is case-insensitive (RFC 6750 follows RFC 7235).
	if w := h.do("GET", "/api/v1/databases", "", nil, "Authorization", "bearer "+readerToken); w.Code != http.StatusOK {
		t.Errorf("lowercase bearer: %d", w.Code)
	}
}

// TestNoTokensRefusesAll: with no token configured nothing gets in, not
// even an empty bearer.
func TestNoTokensRefusesAll(t *testing.T) {
	h := newHarness(t)
	d := h.deps
	d.Tokens = []config.APIToken{{Name: "unset", Scopes: []string{"admin"}}}
	srv := api.New(d)
	for _, auth := range []string{"", "Bearer ", "Bearer " + backstageToken} {
		h.h = srv
		w := h.do("GET", "/api/v1/databases", "", nil, "Authorization", auth)
		problemOf(t, w, http.StatusUnauthorized, "unauthorized")
	}
}

// TestMissingDependencies: a handler built without a store, pipeline or
// policy answers 503 naming what is missing, and does not panic.
func TestMissingDependencies(t *testing.T) {
	h := newHarness(t)
	h.h = api.New(api.Deps{Log: zerolog.Nop(), Tokens: testTokens()})
	w := h.do("GET", "/api/v1/databases", readerToken, nil)
	p := problemOf(t, w, http.StatusServiceUnavailable, "unavailable")
	for _, want := range []string{"a store", "a pipeline", "a policy"} {
		if !strings.Contains(p.Detail, want) {
			t.Errorf("detail %q does not name %s", p.Detail, want)
		}
	}
}
