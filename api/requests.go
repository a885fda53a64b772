package api

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/clustropg/clustro/request"
	"github.com/clustropg/clustro/store"
)

func (a *handlers) handleGetRequest() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec, ok := a.record(w, r)
		if !ok {
			return
		}
		writeJSON(w, r, http.StatusOK, a.requestOf(rec))
	})
}

// handleRequestEvents serves a request's audit trail, oldest first, a
// page at a time.
func (a *handlers) handleRequestEvents() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pq, pr := readPage(r.URL.Query(), eventsList)
		if len(pr) > 0 {
			writeProblem(w, r, pageProblem(pr))
			return
		}
		entries, err := a.deps.Store.ListEvents(r.Context(), r.PathValue("id"), pq.after.Seq, pq.limit+1)
		if errors.Is(err, store.ErrNotFound) {
			writeProblem(w, r, noRequest(r))
			return
		}
		if err != nil {
			a.internal(w, r, err)
			return
		}
		var next string
		if len(entries) > pq.limit {
			entries = entries[:pq.limit]
			next = nextURL(r, cursor{Route: eventsList, Seq: entries[len(entries)-1].Seq})
		}
		evs := make([]request.Event, len(entries))
		for i, e := range entries {
			evs[i] = e.Event
		}
		writePage(w, r, evs, next)
	})
}

func (a *handlers) handleRetryRequest() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		rec, ok := a.record(w, r)
		if !ok {
			return
		}
		if p := notRetryable(rec); p != nil {
			writeProblem(w, r, *p)
			return
		}
		client := clientFrom(ctx)
		rec, err := a.deps.Pipeline.Retry(ctx, rec.ID(), request.Requester{ID: client.Name}, request.OriginAPI)
		var (
			retryErr   *request.RetryError
			illegalErr *request.IllegalTransitionError
		)
		switch {
		case errors.As(err, &retryErr), errors.As(err, &illegalErr), errors.Is(err, store.ErrConflict):
			writeProblem(w, r, problem("conflict", fmt.Sprintf("Request %s cannot be retried now: %v.", r.PathValue("id"), err)))
			return
		case errors.Is(err, store.ErrNotFound):
			writeProblem(w, r, noRequest(r))
			return
		case err != nil:
			// Another retry may have won the race: say so rather than fail.
			if now, getErr := a.deps.Store.GetRequest(ctx, r.PathValue("id")); getErr == nil {
				if p := notRetryable(now); p != nil {
					writeProblem(w, r, *p)
					return
				}
			}
			a.internal(w, r, err)
			return
		}
		a.logger(r).Info().Str("request", rec.ID()).Str("state", string(rec.State)).Str("client", client.Name).Msg("api: retry accepted")
		w.Header().Set("Location", requestURL(rec.ID()))
		writeJSON(w, r, http.StatusAccepted, a.acceptedOf(rec))
	})
}

// notRetryable is the 409 for a request that is not failed, or failed in
// a way retrying cannot fix.
func notRetryable(rec store.Record) *Problem {
	var detail string
	switch {
	case rec.State != request.Failed:
		detail = fmt.Sprintf("Request %s is %s: only a failed request can be retried.", rec.ID(), rec.State)
	case rec.Failure == nil || !rec.Failure.Retryable:
		reason := "the failure is unknown"
		if rec.Failure != nil {
			reason = rec.Failure.Step + ": " + rec.Failure.Reason
		}
		detail = fmt.Sprintf("Request %s failed in a way retrying cannot fix (%s); ask again with a new request.", rec.ID(), reason)
	default:
		return nil
	}
	p := problem("conflict", detail)
	return &p
}

// record reads the request named by the path, answering 404 or 500 itself.
func (a *handlers) record(w http.ResponseWriter, r *http.Request) (store.Record, bool) {
	rec, err := a.deps.Store.GetRequest(r.Context(), r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		writeProblem(w, r, noRequest(r))
		return store.Record{}, false
	}
	if err != nil {
		a.internal(w, r, err)
		return store.Record{}, false
	}
	return rec, true
}

func noRequest(r *http.Request) Problem {
	return problem("not-found", fmt.Sprintf("There is no request %q.", r.PathValue("id")))
}
