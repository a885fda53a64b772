package api_test

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/clustropg/clustro/api"
	"github.com/clustropg/clustro/request"
)

// reusedKey checks the 422 a client gets for an Idempotency-Key sent with
// another call: an RFC 9457 problem that names the key, in detail and in
// errors.
func reusedKey(t *testing.T, w *httptest.ResponseRecorder, p api.Problem, key string) {
	t.Helper()
	if !slices.Equal(fields(p), []string{"Idempotency-Key"}) || !strings.Contains(p.Detail, `"`+key+`"`) || !strings.Contains(p.Errors[0].Message, key) {
		t.Errorf("the problem should name the key %q: %+v", key, p)
	}
	if w.Header().Get("Location") != "" || w.Header().Get(api.ReplayedHeader) != "" {
		t.Errorf("a refused reuse has no Location or %s: %v", api.ReplayedHeader, w.Header())
	}
}

// TestCreateKeyWithAnotherBody: the same Idempotency-Key with another body
// (size M where the first said S) is refused with 422, naming the key and
// the first request, and changes nothing; the first body again, in another
// key order and spacing, replays the first answer.
func TestCreateKeyWithAnotherBody(t *testing.T) {
	h := newHarness(t)
	first := h.do("POST", "/api/v1/databases", backstageToken, `{"name":"ledger","team":"billing","environment":"dev","size":"S"}`, "Idempotency-Key", "task-7")
	if first.Code != http.StatusAccepted || first.Header().Get(api.ReplayedHeader) != "" {
		t.Fatalf("%d %v %s", first.Code, first.Header(), first.Body)
	}
	var a accepted
	decode(t, first, &a)

	for _, other := range []string{
		`{"name":"ledger","team":"billing","environment":"dev","size":"M"}`,
		`{"name":"ledger","team":"billing","environment":"dev"}`, // S is the default, but the body differs
		`{"name":"ledger","team":"billing","environment":"dev","size":"S","requester":{"id":"user:default/jane"}}`,
	} {
		w := h.do("POST", "/api/v1/databases", backstageToken, other, "Idempotency-Key", "task-7")
		p := problemOf(t, w, http.StatusUnprocessableEntity, "idempotency-key-reused")
		reusedKey(t, w, p, "task-7")
		if !strings.Contains(p.Detail, a.ID) {
			t.Errorf("the detail should name the first request %s: %s", a.ID, p.Detail)
		}
	}
	recs := h.requests()
	if len(recs) != 1 || recs[0].Request.Size != "S" {
		t.Fatalf("requests = %+v, want the first only, size S", recs)
	}

	same := h.do("POST", "/api/v1/databases", backstageToken, "{ \"size\": \"S\",\n  \"environment\": \"dev\", \"team\": \"billing\", \"name\": \"ledger\" }", "Idempotency-Key", "task-7")
	if same.Code != http.StatusAccepted || same.Body.String() != first.Body.String() {
		t.Errorf("the same body: %d %s\nwant the first reply %s", same.Code, same.Body, first.Body)
	}
	if same.Header().Get(api.ReplayedHeader) != "true" || same.Header().Get("Location") != a.URL {
		t.Errorf("replay headers: %v", same.Header())
	}
	if n := len(h.requests()); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

// TestRefusedCallKeepsItsKey: a call the API refuses (422, 409) does not
// bind its Idempotency-Key: the corrected call with the same key is
// accepted as a first call.
func TestRefusedCallKeepsItsKey(t *testing.T) {
	h := newHarness(t)
	h.ready("taken", "dev")
	problemOf(t, h.do("POST", "/api/v1/databases", backstageToken,
		map[string]any{"name": "ledger", "team": "billing", "environment": "dev", "storage": "3Ti"}, "Idempotency-Key", "fix-1"),
		http.StatusUnprocessableEntity, "validation")
	problemOf(t, h.do("POST", "/api/v1/databases", backstageToken,
		map[string]any{"name": "taken", "team": "billing", "environment": "dev"}, "Idempotency-Key", "fix-1"),
		http.StatusConflict, "conflict")
	w := h.do("POST", "/api/v1/databases", backstageToken,
		map[string]any{"name": "ledger", "team": "billing", "environment": "dev", "storage": "2Ti"}, "Idempotency-Key", "fix-1")
	if w.Code != http.StatusAccepted || w.Header().Get(api.ReplayedHeader) != "" {
		t.Fatalf("the corrected call: %d %v %s", w.Code, w.Header(), w.Body)
	}
	// The refused resize of a ready database does not bind it either.
	problemOf(t, h.do("PATCH", "/api/v1/databases/dev/billing/taken", backstageToken, map[string]any{"size": "XL"}, "Idempotency-Key", "fix-2"),
		http.StatusUnprocessableEntity, "validation")
	w = h.do("PATCH", "/api/v1/databases/dev/billing/taken", backstageToken, map[string]any{"size": "L"}, "Idempotency-Key", "fix-2")
	if w.Code != http.StatusAccepted || w.Header().Get(api.ReplayedHeader) != "" {
		t.Fatalf("the corrected resize: %d %v %s", w.Code, w.Header(), w.Body)
	}
}

// TestChangeKeyWithAnotherBody: PATCH and DELETE compare the call too: the
// same key with another size, another database or another method is
// refused; the same resize again replays.
func TestChangeKeyWithAnotherBody(t *testing.T) {
	h := newHarness(t)
	h.ready("ledger", "dev")
	h.ready("journal", "dev")
	const path = "/api/v1/databases/dev/billing/ledger"
	first := h.do("PATCH", path, backstageToken, map[string]any{"size": "M"}, "Idempotency-Key", "resize-1")
	if first.Code != http.StatusAccepted {
		t.Fatalf("%d %s", first.Code, first.Body)
	}
	before := len(h.requests())
	for _, c := range []struct {
		method, path string
		body         any
	}{
		{"PATCH", path, map[string]any{"size": "L"}},
		{"PATCH", "/api/v1/databases/dev/billing/journal", map[string]any{"size": "M"}},
		{"DELETE", path, nil},
		{"POST", "/api/v1/databases", map[string]any{"name": "other", "team": "billing", "environment": "dev"}},
	} {
		w := h.do(c.method, c.path, backstageToken, c.body, "Idempotency-Key", "resize-1")
		reusedKey(t, w, problemOf(t, w, http.StatusUnprocessableEntity, "idempotency-key-reused"), "resize-1")
	}
	if n := len(h.requests()); n != before {
		t.Errorf("refused reuses stored requests: %d, want %d", n, before)
	}
	again := h.do("PATCH", path, backstageToken, `{ "size" : "M" }`, "Idempotency-Key", "resize-1")
	if again.Code != http.StatusAccepted || again.Body.String() != first.Body.String() || again.Header().Get(api.ReplayedHeader) != "true" {
		t.Errorf("the same resize: %d %v %s", again.Code, again.Header(), again.Body)
	}
}

// TestConcurrentKeyReuse: calls racing with one key and two bodies make
// one request; every call with the winner's body answers its reply, every
// call with the other body 422.
func TestConcurrentKeyReuse(t *testing.T) {
	h := newHarness(t)
	bodies := []map[string]any{
		{"name": "ledger", "team": "billing", "environment": "dev", "size": "S"},
		{"name": "ledger", "team": "billing", "environment": "dev", "size": "M"},
	}
	const n = 8
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			codes[i] = h.do("POST", "/api/v1/databases", backstageToken, bodies[i%2], "Idempotency-Key", "race-1").Code
		})
	}
	wg.Wait()
	recs := h.requests()
	if len(recs) != 1 {
		t.Fatalf("%d requests, want 1", len(recs))
	}
	won := 0
	if recs[0].Request.Size == request.Size("M") {
		won = 1
	}
	for i, code := range codes {
		want := http.StatusUnprocessableEntity
		if i%2 == won {
			want = http.StatusAccepted
		}
		if code != want {
			t.Errorf("call %d (size %s): %d, want %d", i, bodies[i%2]["size"], code, want)
		}
	}
}
