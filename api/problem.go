package api

import (
	"bytes"
	"encoding/json"
	"net/http"

	"github.com/clustropg/clustro/request"
)

// Problem is an RFC 9457 problem detail, the body of every error response
// (Content-Type application/problem+json).
type Problem struct {
	// Type identifies the kind of problem: ProblemType(slug).
	Type string `json:"type"`
	// Title is the same for every problem of a type.
	Title  string `json:"title"`
	Status int    `json:"status"`
	// Detail explains this occurrence.
	Detail string `json:"detail,omitempty"`
	// Instance is the request's path.
	Instance string `json:"instance,omitempty"`
	// Errors names each invalid field as the request's JSON names it
	// ("backups.hour"), with what is allowed.
	Errors []request.Problem `json:"errors,omitempty"`
}

// ProblemType is the type URI of a problem slug: "urn:clustro:problem:" and
// the slug. The slugs are listed in the OpenAPI document.
func ProblemType(slug string) string { return "urn:clustro:problem:" + slug }

// problemTypes lists every problem the API answers with: slug, status and
// title. The OpenAPI document describes them from here.
var problemTypes = []struct {
	slug   string
	status int
	title  string
}{
	{"malformed", http.StatusBadRequest, "The request is malformed"},
	{"unauthorized", http.StatusUnauthorized, "A valid bearer token is required"},
	{"forbidden", http.StatusForbidden, "The token lacks the scope this needs"},
	{"unknown-endpoint", http.StatusNotFound, "No such endpoint"},
	{"not-found", http.StatusNotFound, "Not found"},
	{"method-not-allowed", http.StatusMethodNotAllowed, "Method not allowed"},
	{"conflict", http.StatusConflict, "The request conflicts with the current state"},
	{"too-large", http.StatusRequestEntityTooLarge, "The request body is too large"},
	{"unsupported-media-type", http.StatusUnsupportedMediaType, "The request body must be JSON"},
	{"validation", http.StatusUnprocessableEntity, "The request is invalid"},
	{"idempotency-key-reused", http.StatusUnprocessableEntity, "The Idempotency-Key was used for another request"},
	{"internal", http.StatusInternalServerError, "Internal error"},
	{"unavailable", http.StatusServiceUnavailable, "The API is not configured"},
}

// problem makes the problem of slug (one of problemTypes) with a detail.
func problem(slug, detail string) Problem {
	for _, t := range problemTypes {
		if t.slug == slug {
			return Problem{Type: ProblemType(slug), Title: t.title, Status: t.status, Detail: detail}
		}
	}
	return Problem{Type: ProblemType("internal"), Title: "Internal error", Status: http.StatusInternalServerError, Detail: detail}
}

// newProblem makes a problem outside the table (New's misconfiguration).
func newProblem(status int, slug, title, detail string) Problem {
	return Problem{Type: ProblemType(slug), Title: title, Status: status, Detail: detail}
}

// invalid is a 422 naming each invalid field.
func invalid(pr request.Problems) Problem {
	p := problem("validation", "Some fields are invalid; errors names each with what is allowed.")
	p.Errors = pr
	return p
}

// malformed is a 400, naming the field when there is one.
func malformed(detail string, fields ...request.Problem) Problem {
	p := problem("malformed", detail)
	p.Errors = fields
	return p
}

// writeProblem writes p as application/problem+json.
func writeProblem(w http.ResponseWriter, r *http.Request, p Problem) {
	p.Instance = r.URL.Path
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(p.Status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(p)
}

// writeJSON writes v as application/json.
func writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	b, err := marshal(v)
	if err != nil {
		// Only the API's own view types are written: they always encode.
		writeProblem(w, r, problem("internal", "The response could not be encoded."))
		return
	}
	writeRawJSON(w, status, b)
}

// marshal encodes v as JSON without escaping <, > and & (the replies are
// never embedded in HTML; URLs stay readable).
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// writeRawJSON writes an encoded JSON document.
func writeRawJSON(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(b)
	w.Write([]byte("\n"))
}
