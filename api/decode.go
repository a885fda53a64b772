package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"slices"
	"strings"

	"github.com/clustropg/clustro/request"
)

// decodeBody reads the request's JSON object into dst, a pointer to a
// struct. The body must be JSON (application/json or a +json type), at most
// maxBody bytes, and one object whose keys dst's fields name exactly
// (case-sensitively) and whose values are never null. The problem says
// what is wrong, naming the field when there is one.
func decodeBody(r *http.Request, dst any) *Problem {
	if !isJSON(r.Header.Get("Content-Type")) {
		p := problem("unsupported-media-type", fmt.Sprintf("Content-Type %q is not JSON; send application/json.", r.Header.Get("Content-Type")))
		return &p
	}
	b, p := readBody(r)
	if p != nil {
		return p
	}
	if len(bytes.TrimSpace(b)) == 0 {
		p := malformed("A JSON object is required.")
		return &p
	}
	return decodeJSON(b, dst)
}

// decodeOptionalBody is decodeBody for a body that may be left out: none
// at all (or only whitespace) leaves dst as it is.
func decodeOptionalBody(r *http.Request, dst any) *Problem {
	if r.Body == nil {
		return nil
	}
	b, p := readBody(r)
	if p != nil {
		return p
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	if !isJSON(r.Header.Get("Content-Type")) {
		p := problem("unsupported-media-type", fmt.Sprintf("Content-Type %q is not JSON; send application/json.", r.Header.Get("Content-Type")))
		return &p
	}
	return decodeJSON(b, dst)
}

// readBody reads the whole body, within the route's cap.
func readBody(r *http.Request) ([]byte, *Problem) {
	b, err := io.ReadAll(r.Body)
	if maxErr := (*http.MaxBytesError)(nil); errors.As(err, &maxErr) {
		p := problem("too-large", fmt.Sprintf("The body is larger than %d bytes.", maxErr.Limit))
		return nil, &p
	}
	if err != nil {
		p := malformed("The body could not be read.")
		return nil, &p
	}
	return b, nil
}

// decodeJSON decodes b, one JSON object, into dst as decodeBody says.
func decodeJSON(b []byte, dst any) *Problem {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var raw any
	if err := dec.Decode(&raw); err != nil {
		p := malformed("The body is not JSON: " + strings.TrimPrefix(err.Error(), "json: ") + ".")
		return &p
	}
	if _, err := dec.Token(); err != io.EOF {
		p := malformed("The body holds more than one JSON value.")
		return &p
	}
	if _, ok := raw.(map[string]any); !ok {
		p := malformed("The body must be a JSON object.")
		return &p
	}
	if fp := checkFields(raw, reflect.TypeOf(dst), ""); fp != nil {
		p := malformed("A field is not accepted.", *fp)
		return &p
	}
	strict := json.NewDecoder(bytes.NewReader(b))
	strict.DisallowUnknownFields()
	if err := strict.Decode(dst); err != nil {
		if te := (*json.UnmarshalTypeError)(nil); errors.As(err, &te) && te.Field != "" {
			p := malformed("A field has the wrong type.", request.Problem{Field: te.Field, Message: "must be " + kindOf(te.Type)})
			return &p
		}
		p := malformed("The body does not match the expected object: " + strings.TrimPrefix(err.Error(), "json: ") + ".")
		return &p
	}
	return nil
}

// isJSON reports whether a Content-Type is JSON.
func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	return mt == "application/json" || (strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))
}

// checkFields walks a decoded JSON value along the Go type it is meant for
// and returns the first key that the type has no field for (by its exact
// JSON name, where encoding/json would match case-insensitively) or the
// first null, with the path of the field ("backups.hour", "databases[2]").
// Type mismatches are left to the typed decode.
func checkFields(v any, t reflect.Type, path string) *request.Problem {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if v == nil {
		return &request.Problem{Field: path, Message: "null is not accepted; leave the field out to take its default"}
	}
	switch t.Kind() {
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		fields := jsonFields(t)
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			name := k
			if path != "" {
				name = path + "." + k
			}
			ft, ok := fields[k]
			if !ok {
				return &request.Problem{Field: name, Message: "unknown field; allowed here: " + strings.Join(sortedKeys(fields), ", ")}
			}
			if p := checkFields(m[k], ft, name); p != nil {
				return p
			}
		}
	case reflect.Slice:
		a, ok := v.([]any)
		if !ok {
			return nil
		}
		for i, e := range a {
			if p := checkFields(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); p != nil {
				return p
			}
		}
	}
	return nil
}

// jsonFields maps the JSON names of a struct's exported fields to their types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	fields := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch name {
		case "-":
			continue
		case "":
			name = f.Name
		}
		fields[name] = f.Type
	}
	return fields
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// kindOf describes the JSON a Go type reads.
func kindOf(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		return "an array"
	default:
		return "an object"
	}
}

// limitBody caps every request body at maxBody bytes.
func limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		}
		next.ServeHTTP(w, r)
	})
}

// problemsForUnmatched serves mux, answering a path no route matches
// with a 404 problem and a known path asked with another method with a
// 405 problem (and its Allow header), where ServeMux would answer text.
func problemsForUnmatched(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := mux.Handler(r)
		if pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		rec := &recorder{header: http.Header{}}
		h.ServeHTTP(rec, r)
		switch rec.status {
		case http.StatusMethodNotAllowed:
			allow := rec.header.Get("Allow")
			w.Header().Set("Allow", allow)
			writeProblem(w, r, problem("method-not-allowed", fmt.Sprintf("%s is not allowed on %s; allowed: %s.", r.Method, r.URL.Path, allow)))
		case http.StatusNotFound:
			writeProblem(w, r, problem("unknown-endpoint", fmt.Sprintf("No endpoint is at %s %s; the API is described at /api/v1/openapi.json.", r.Method, r.URL.Path)))
		default:
			// A redirect to the cleaned path: pass it on.
			for k, v := range rec.header {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.status)
			w.Write(rec.body.Bytes())
		}
	})
}

// recorder keeps what ServeMux's own not-found, method-not-allowed and
// redirect handlers write.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}
