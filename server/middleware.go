package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"regexp"
	"time"

	"github.com/rs/zerolog"
)

// logger returns the request's logger (with its request id).
func logger(ctx context.Context) *zerolog.Logger { return zerolog.Ctx(ctx) }

var requestIDRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// logRequests gives every request an id (X-Request-Id, kept if the caller
// sent a sane one), a logger carrying it in the context for every line
// logged while serving it, an access log line and a metric.
func logRequests(base zerolog.Logger, m *Metrics, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if !requestIDRE.MatchString(id) {
			id = newRequestID()
		}
		w.Header().Set("X-Request-Id", id)
		log := base.With().Str("request_id", id).Logger()
		r = r.WithContext(log.WithContext(r.Context()))
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		start := time.Now()
		next.ServeHTTP(rec, r)
		took := time.Since(start)
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		}
		if m != nil {
			m.observeHTTP(route, rec.code, took)
		}
		// Only the path: query strings may carry tokens.
		log.Info().Str("method", r.Method).Str("path", r.URL.Path).Str("route", route).
			Int("status", rec.code).Dur("took", took).Msg("http request")
	})
}

func recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				logger(r.Context()).Error().Interface("panic", v).Msg("handler panicked")
				writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "internal error"})
			}
		}()
		next.ServeHTTP(w, r)
	})
}

type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.code = code
	s.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the real writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func newRequestID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
