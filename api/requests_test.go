package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/clustropg/clustro/request"
	"github.com/clustropg/clustro/store"
)

func TestGetRequestAndEvents(t *testing.T) {
	h := newHarness(t)
	a := h.create(map[string]any{"name": "ledger", "team": "billing", "environment": "dev", "requester": map[string]any{"id": "user:default/jane"}})
	h.advance(a.ID, request.PROpen)
	w := h.do("GET", a.URL, readerToken, nil)
	if w.Code != http.StatusOK {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	var r struct {
		ID, Kind, State, Database, Events string
		Spec                              request.Spec
		Requester                         request.Requester
		Origin                            request.Origin
	}
	decode(t, w, &r)
	if r.ID != a.ID || r.Kind != "create" || r.State != "pr_open" || r.Database != "/api/v1/databases/dev/billing/ledger" ||
		r.Events != a.URL+"/events" || r.Spec.Name != "ledger" || r.Requester.ID != "user:default/jane" || r.Origin.APIClient != "backstage" {
		t.Errorf("request = %+v", r)
	}
	assertNoCredentials(t, w.Body.Bytes())

	w = h.do("GET", a.URL+"/events", readerToken, nil)
	var evs struct{ Items []request.Event }
	decode(t, w, &evs)
	if len(evs.Items) != 2 || evs.Items[0].To != request.Submitted || evs.Items[0].Actor != "user:default/jane" ||
		evs.Items[0].Origin != "api" || evs.Items[1].From != request.Submitted || evs.Items[1].To != request.PROpen {
		t.Errorf("events = %+v", evs.Items)
	}
	problemOf(t, h.do("GET", "/api/v1/requests/nothing", readerToken, nil), http.StatusNotFound, "not-found")
	problemOf(t, h.do("GET", "/api/v1/requests/nothing/events", readerToken, nil), http.StatusNotFound, "not-found")
}

func TestRetryRequest(t *testing.T) {
	h := newHarness(t)
	failed := h.create(map[string]any{"name": "ledger", "team": "billing", "environment": "dev"})
	// Failed while waiting for readiness: retried without GitHub (an apply
	// step's retry reads the merge commit from GitHub, off in this harness).
	h.advance(failed.ID, request.PROpen, request.Planned, request.Merged, request.Applying, request.Provisioning, request.Failed)

	w := h.do("POST", failed.URL+"/retry", backstageToken, nil)
	if w.Code != http.StatusAccepted {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	var a accepted
	decode(t, w, &a)
	if a.ID != failed.ID || a.State != "provisioning" || w.Header().Get("Location") != failed.URL {
		t.Errorf("reply = %+v", a)
	}
	evs, _ := h.st.Events(context.Background(), failed.ID)
	if last := evs[len(evs)-1]; last.Actor != "backstage" || last.Origin != "api" || last.To != request.Provisioning {
		t.Errorf("retry event = %+v", last)
	}
	// Retrying again: it is no longer failed.
	p := problemOf(t, h.do("POST", failed.URL+"/retry", backstageToken, nil), http.StatusConflict, "conflict")
	if !strings.Contains(p.Detail, "provisioning") {
		t.Errorf("detail = %s", p.Detail)
	}

	// A failure retrying cannot fix.
	hopeless := h.create(map[string]any{"name": "other", "team": "billing", "environment": "dev"})
	if _, err := h.st.Transition(context.Background(), hopeless.ID, request.Failed, request.Event{Actor: "clustro"},
		store.WithFailure(request.Failure{Step: "submitted", Reason: "render: bad template", Retryable: false})); err != nil {
		t.Fatal(err)
	}
	p = problemOf(t, h.do("POST", hopeless.URL+"/retry", backstageToken, nil), http.StatusConflict, "conflict")
	if !strings.Contains(p.Detail, "render: bad template") {
		t.Errorf("detail = %s", p.Detail)
	}
	problemOf(t, h.do("POST", "/api/v1/requests/nothing/retry", backstageToken, nil), http.StatusNotFound, "not-found")
	retries := 0
	for _, ev := range h.events() {
		if strings.HasPrefix(ev.Detail, "retry ") {
			retries++
		}
	}
	if retries != 1 {
		t.Errorf("%d retries reached the pipeline, want 1", retries)
	}
}

func TestUnknownRoutesAndMethods(t *testing.T) {
	h := newHarness(t)
	tests := []struct {
		method, path string
		status       int
		slug, allow  string
	}{
		{"GET", "/api/v1/nothing", 404, "unknown-endpoint", ""},
		{"GET", "/api/v1/databases/dev/billing", 404, "unknown-endpoint", ""},
		{"GET", "/api/v1/databases/dev/billing/ledger/extra", 404, "unknown-endpoint", ""},
		{"GET", "/api/v2/databases", 404, "unknown-endpoint", ""},
		{"PUT", "/api/v1/databases", 405, "method-not-allowed", "GET, HEAD, POST"},
		{"POST", "/api/v1/databases/dev/billing/ledger", 405, "method-not-allowed", "DELETE, GET, HEAD, PATCH"},
		{"GET", "/api/v1/requests/x/retry", 405, "method-not-allowed", "POST"},
		{"DELETE", "/api/v1/openapi.json", 405, "method-not-allowed", "GET, HEAD"},
	}
	for _, tc := range tests {
		w := h.do(tc.method, tc.path, opsToken, nil)
		problemOf(t, w, tc.status, tc.slug)
		if got := w.Header().Get("Allow"); got != tc.allow {
			t.Errorf("%s %s: Allow = %q, want %q", tc.method, tc.path, got, tc.allow)
		}
	}
}

// TestInternalErrors: when the store fails, every route answers a 500
// problem that says nothing of the error, which goes to the log.
func TestInternalErrors(t *testing.T) {
	h := newHarness(t)
	a := h.ready("ledger", "dev")
	h.st.Close()
	for _, rt := range []struct{ method, path string }{
		{"GET", "/api/v1/databases"},
		{"GET", "/api/v1/databases/dev/billing/ledger"},
		{"PATCH", "/api/v1/databases/dev/billing/ledger"},
		{"DELETE", "/api/v1/databases/dev/billing/ledger"},
		{"GET", a.URL},
		{"GET", a.URL + "/events"},
		{"POST", a.URL + "/retry"},
		{"GET", "/api/v1/catalog/entities"},
		{"POST", "/api/v1/databases"},
	} {
		var body any
		switch rt.method {
		case "PATCH":
			body = map[string]any{"size": "M"}
		case "POST":
			if rt.path == "/api/v1/databases" {
				body = map[string]any{"name": "new", "team": "billing", "environment": "dev"}
			}
		}
		w := h.do(rt.method, rt.path, opsToken, body)
		p := problemOf(t, w, http.StatusInternalServerError, "internal")
		if strings.Contains(p.Detail, "sql") || strings.Contains(p.Detail, "closed") {
			t.Errorf("%s %s: the reply shows the error: %s", rt.method, rt.path, p.Detail)
		}
	}
	if !strings.Contains(h.logs.String(), "api: internal error") || !strings.Contains(h.logs.String(), "closed") {
		t.Errorf("the errors should be logged:\n%s", h.logs)
	}
}
