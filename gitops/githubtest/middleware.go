package githubtest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// Request is one HTTP request the emulator received, as recorded for
// assertions.
type Request struct {
	Method     string
	Path       string // unescaped, as in URL.Path
	Query      url.Values
	Header     http.Header
	Body       []byte
	StatusCode int // what the emulator answered
	// Unexpected is true for a request the emulator could not serve: an
	// unimplemented method or path, another repository, an internal error.
	Unexpected bool
	Reason     string // why it was unexpected
}

// String is "METHOD /path?query".
func (r Request) String() string {
	if len(r.Query) == 0 {
		return r.Method + " " + r.Path
	}
	return r.Method + " " + r.Path + "?" + r.Query.Encode()
}

// maxBody bounds a request body (GitHub's blob limit is 100 MB).
const maxBody = 100 << 20

type contextKey int

const (
	recordKey contextKey = iota
	actorKey
)

// recordState lets handlers mark the request being recorded.
type recordState struct {
	unexpected bool
	reason     string
}

// markUnexpected records r as one the emulator could not serve.
func markUnexpected(r *http.Request, reason string) {
	if st, ok := r.Context().Value(recordKey).(*recordState); ok && !st.unexpected {
		st.unexpected = true
		st.reason = reason
	}
}

// record keeps every request, with its body and the status answered. It
// holds the answer until the request is recorded, so that a client that
// has its answer finds its request in Requests (go-github returns once it
// has decoded the JSON, before the end of a chunked body).
func (s *Server) record(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
		if err != nil {
			writeError(w, r, newError(http.StatusRequestEntityTooLarge, "Request body too large"), docsREST)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		st := &recordState{}
		buf := &bufferedResponse{header: http.Header{}}
		next.ServeHTTP(buf, r.WithContext(context.WithValue(r.Context(), recordKey, st)))
		status := buf.status
		if status == 0 {
			status = http.StatusOK
		}
		s.mu.Lock()
		s.requests = append(s.requests, Request{
			Method:     r.Method,
			Path:       r.URL.Path,
			Query:      r.URL.Query(),
			Header:     r.Header.Clone(),
			Body:       body,
			StatusCode: status,
			Unexpected: st.unexpected,
			Reason:     st.reason,
		})
		s.mu.Unlock()
		buf.writeTo(w, status)
	})
}

// handleUnexpected answers what the emulator does not implement: GitHub's
// 404, recorded as a failure.
func (s *Server) handleUnexpected() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		markUnexpected(r, "not implemented by the emulator")
		writeError(w, r, notFound(), docsREST)
	})
}

// actor is who an API call authenticated as.
type actor struct {
	login string
	app   bool // an installation token of the GitHub App
}

func actorFrom(ctx context.Context) actor {
	a, _ := ctx.Value(actorKey).(actor)
	return a
}

// api guards a repository endpoint: the caller must authenticate with the
// token or an installation token, and name the served repository. The call
// then counts against the rate limit (ratelimit.go).
func (s *Server) api(next http.Handler) http.Handler {
	limited := s.limited(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		who, err := s.authenticate(r)
		if err != nil {
			writeError(w, r, err, docsREST)
			return
		}
		if !strings.EqualFold(r.PathValue("owner"), s.opts.Owner) || !strings.EqualFold(r.PathValue("repo"), s.opts.Repo) {
			markUnexpected(r, fmt.Sprintf("repository %s/%s is not the one served (%s/%s)",
				r.PathValue("owner"), r.PathValue("repo"), s.opts.Owner, s.opts.Repo))
			writeError(w, r, notFound(), docsREST)
			return
		}
		limited.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), actorKey, who)))
	})
}

// credentials returns the token of an "Authorization: Bearer <t>" or
// "Authorization: token <t>" header.
func credentials(r *http.Request) (string, bool) {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || (!strings.EqualFold(scheme, "bearer") && !strings.EqualFold(scheme, "token")) {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

// authenticate checks the request's token: GitHub's 401 if it is missing,
// wrong or expired.
func (s *Server) authenticate(r *http.Request) (actor, error) {
	tok, ok := credentials(r)
	if !ok {
		return actor{}, newError(http.StatusUnauthorized, "Requires authentication")
	}
	if tok == s.opts.Token {
		return actor{login: s.opts.TokenLogin}, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if exp, ok := s.tokens[tok]; ok && s.now().Before(exp) {
		return actor{login: s.appLogin(), app: true}, nil
	}
	return actor{}, newError(http.StatusUnauthorized, "Bad credentials")
}
