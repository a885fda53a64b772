package server

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

func handleHealthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
}

// handleReadyz answers 200 when the store is reachable (its migrations ran
// at start), and lists which integrations are on.
func handleReadyz(store Pinger, integrations ...Integration) http.Handler {
	type integrationStatus struct {
		On      bool   `json:"on"`
		Missing string `json:"missing,omitempty"`
	}
	type response struct {
		Status       string                       `json:"status"`
		Store        string                       `json:"store"`
		Integrations map[string]integrationStatus `json:"integrations"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		resp := response{Status: "ready", Store: "ok", Integrations: map[string]integrationStatus{}}
		for _, i := range integrations {
			st := integrationStatus{On: i.On()}
			if !i.On() {
				st.Missing = i.Missing
			}
			resp.Integrations[i.Name] = st
		}
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		code := http.StatusOK
		if err := store.Ping(ctx); err != nil {
			resp.Status, resp.Store, code = "not ready", "unreachable", http.StatusServiceUnavailable
			logger(r.Context()).Warn().Err(err).Msg("readiness: store unreachable")
		}
		writeJSON(w, code, resp)
	})
}

// integration serves an integration's routes, or 503 when it is off.
func integration(i Integration) http.Handler {
	if i.On() {
		return i.Handler
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{
			"error":   i.Name + " integration is off",
			"missing": i.Missing,
			"hint":    "set " + i.Missing + " and restart clustro serve",
		})
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}
