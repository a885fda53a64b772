package githubtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// docsREST is GitHub's generic documentation_url.
const docsREST = "https://docs.github.com/rest"

// Error is an error answer as GitHub gives it: the HTTP status, GitHub's
// message and, for a 422, the field errors. The API sends it as
//
//	{"message": "...", "errors": [...], "documentation_url": "...", "status": "422"}
//
// and the Go helpers (Merge, ClosePull, Comment...) return it wrapped, so a
// test can check errors.As(err, &e) && e.StatusCode == 405.
type Error struct {
	StatusCode int
	Message    string
	Errors     []FieldError
}

// FieldError is one entry of a 422's "errors".
type FieldError struct {
	Resource string `json:"resource,omitempty"`
	Field    string `json:"field,omitempty"`
	Code     string `json:"code"`
	Message  string `json:"message,omitempty"`
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("%d %s", e.StatusCode, e.Message)
	for _, fe := range e.Errors {
		switch {
		case fe.Message != "":
			msg += ": " + fe.Message
		default:
			msg += fmt.Sprintf(": %s.%s %s", fe.Resource, fe.Field, fe.Code)
		}
	}
	return msg
}

func newError(status int, message string) *Error {
	return &Error{StatusCode: status, Message: message}
}

func notFound() *Error { return newError(http.StatusNotFound, "Not Found") }

// invalid is GitHub's 422 "Validation Failed" with field errors.
func invalid(errs ...FieldError) *Error {
	return &Error{StatusCode: http.StatusUnprocessableEntity, Message: "Validation Failed", Errors: errs}
}

// missing is the 422 for a required body field, as GitHub words it.
func missing(field string) *Error {
	return newError(http.StatusUnprocessableEntity, fmt.Sprintf("Invalid request.\n\n%q wasn't supplied.", field))
}

// writeJSON writes v as compact JSON, without HTML escaping, as GitHub does.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := marshal(v)
	if err != nil {
		http.Error(w, `{"message":"githubtest: encode response"}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(body) // the client went away: nothing left to tell it
}

func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encode json: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// wantsRaw reports whether the request asks for GitHub's raw media type
// (application/vnd.github.raw, or .v3.raw), as go-github's GetBlobRaw does.
func wantsRaw(r *http.Request) bool {
	accept := r.Header.Get("Accept")
	return strings.Contains(accept, "application/vnd.github.raw") || strings.Contains(accept, "application/vnd.github.v3.raw")
}

// writeRaw answers with the bytes themselves, in the raw media type.
func writeRaw(w http.ResponseWriter, data []byte) {
	w.Header().Set("Content-Type", "application/vnd.github.raw")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(data) // the client went away: nothing left to tell it
}

// writeError answers err: an *Error as GitHub would, anything else as a 500
// that also marks the request unexpected (an emulator bug or a broken
// repository, never a valid answer).
func writeError(w http.ResponseWriter, r *http.Request, err error, doc string) {
	var e *Error
	if !errors.As(err, &e) {
		markUnexpected(r, "internal error: "+err.Error())
		e = newError(http.StatusInternalServerError, "githubtest: "+err.Error())
	}
	writeJSON(w, e.StatusCode, struct {
		Message          string       `json:"message"`
		Errors           []FieldError `json:"errors,omitempty"`
		DocumentationURL string       `json:"documentation_url"`
		Status           string       `json:"status"`
	}{e.Message, e.Errors, doc, strconv.Itoa(e.StatusCode)})
}

// handle makes the handler of a route whose own work is op: op's error is
// answered as GitHub would (writeError, with doc as the documentation_url),
// its result as JSON with status.
func handle[T any](doc string, status int, op func(r *http.Request) (T, error)) http.Handler {
	return serve(doc, op, func(w http.ResponseWriter, _ *http.Request, v T) { writeJSON(w, status, v) })
}

// handleList is handle for a list endpoint: 200 with the page of op's items
// the request asks for, and the Link header (under base, the server's URL)
// to the others.
func handleList[T any](doc, base string, op func(r *http.Request) ([]T, error)) http.Handler {
	return serve(doc, op, func(w http.ResponseWriter, r *http.Request, items []T) {
		writeJSON(w, http.StatusOK, paginate(w, r, base, items))
	})
}

// serve runs op and answers its error as GitHub would (with doc as the
// documentation_url), or its result with write.
func serve[T any](doc string, op func(r *http.Request) (T, error), write func(http.ResponseWriter, *http.Request, T)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, err := op(r)
		if err != nil {
			writeError(w, r, err, doc)
			return
		}
		write(w, r, v)
	})
}

// decode reads the JSON body as a T; a malformed body is GitHub's 400.
func decode[T any](r *http.Request) (T, error) {
	var v T
	if err := json.NewDecoder(r.Body).Decode(&v); err != nil {
		return v, newError(http.StatusBadRequest, "Problems parsing JSON")
	}
	return v, nil
}

// withPath is op on the value path reads from the request's path ({number},
// {comment_id}); a value path refuses is its error (GitHub's 404).
func withPath[V, T any](path func(r *http.Request) (V, error), op func(V) (T, error)) func(r *http.Request) (T, error) {
	return func(r *http.Request) (T, error) {
		v, err := path(r)
		if err != nil {
			var zero T
			return zero, err
		}
		return op(v)
	}
}

// withPathAndBody is withPath for a route that also takes a JSON body,
// decoded as a Req. GitHub reads the path first: a value path refuses is its
// 404 whatever the body.
func withPathAndBody[V, Req, T any](path func(r *http.Request) (V, error), op func(r *http.Request, v V, req Req) (T, error)) func(r *http.Request) (T, error) {
	return func(r *http.Request) (T, error) {
		var zero T
		v, err := path(r)
		if err != nil {
			return zero, err
		}
		req, err := decode[Req](r)
		if err != nil {
			return zero, err
		}
		return op(r, v, req)
	}
}

// paginate returns the page of items the request asks for (page, per_page:
// default 30, at most 100) and sets GitHub's Link header for the others.
func paginate[T any](w http.ResponseWriter, r *http.Request, base string, items []T) []T {
	q := r.URL.Query()
	perPage, err := strconv.Atoi(q.Get("per_page"))
	if err != nil || perPage <= 0 {
		perPage = 30
	}
	perPage = min(perPage, 100)
	page, err := strconv.Atoi(q.Get("page"))
	if err != nil || page <= 0 {
		page = 1
	}
	last := max(1, (len(items)+perPage-1)/perPage)
	link := func(p int, rel string) string {
		q := r.URL.Query()
		q.Set("page", strconv.Itoa(p))
		q.Set("per_page", strconv.Itoa(perPage))
		u := url.URL{Path: r.URL.Path, RawQuery: q.Encode()}
		return fmt.Sprintf(`<%s%s>; rel="%s"`, base, u.String(), rel)
	}
	var links []string
	if page < last {
		links = append(links, link(page+1, "next"), link(last, "last"))
	}
	if page > 1 {
		links = append(links, link(1, "first"), link(min(page-1, last), "prev"))
	}
	if len(links) > 0 {
		h := links[0]
		for _, l := range links[1:] {
			h += ", " + l
		}
		w.Header().Set("Link", h)
	}
	start := (page - 1) * perPage
	if start >= len(items) {
		return []T{}
	}
	return items[start:min(start+perPage, len(items))]
}
