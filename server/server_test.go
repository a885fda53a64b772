package server

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

type pinger struct{ err error }

func (p pinger) Ping(context.Context) error { return p.err }

func serve(t *testing.T, d Deps, method, path string) *httptest.ResponseRecorder {
	t.Helper()
	if d.Registry == nil {
		d.Registry = prometheus.NewRegistry()
	}
	w := httptest.NewRecorder()
	New(d).ServeHTTP(w, httptest.NewRequest(method, path, nil))
	return w
}

func TestReadyz(t *testing.T) {
	on := Integration{Name: "github", Handler: http.NotFoundHandler()}
	off := Integration{Name: "slack", Missing: "CLUSTRO_SLACK_BOT_TOKEN"}
	w := serve(t, Deps{Log: zerolog.Nop(), Store: pinger{}, GitHub: on, Slack: off, API: Integration{Name: "api", Missing: "api.tokens"}}, "GET", "/readyz")
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"github":{"on":true}`) || !strings.Contains(w.Body.String(), `"missing":"CLUSTRO_SLACK_BOT_TOKEN"`) {
		t.Errorf("ready: %d %s", w.Code, w.Body)
	}
	w = serve(t, Deps{Log: zerolog.Nop(), Store: pinger{errors.New("database is locked")}, Slack: off, GitHub: off, API: off}, "GET", "/readyz")
	if w.Code != 503 || !strings.Contains(w.Body.String(), `"store":"unreachable"`) || strings.Contains(w.Body.String(), "locked") {
		t.Errorf("store down: %d %s", w.Code, w.Body)
	}
}

func TestIntegrationOffAnswers503(t *testing.T) {
	off := Integration{Name: "slack", Missing: "CLUSTRO_SLACK_BOT_TOKEN"}
	w := serve(t, Deps{Log: zerolog.Nop(), Store: pinger{}, Slack: off, GitHub: off, API: off}, "POST", "/slack/events")
	if w.Code != 503 || !strings.Contains(w.Body.String(), "CLUSTRO_SLACK_BOT_TOKEN") {
		t.Errorf("%d %s", w.Code, w.Body)
	}
}

func TestPanicsAnswer500WithRequestID(t *testing.T) {
	boom := Integration{Name: "github", Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("nil map") })}
	var logs strings.Builder
	w := serve(t, Deps{Log: zerolog.New(&logs), Store: pinger{}, GitHub: boom, Slack: boom, API: boom}, "POST", "/webhooks/github")
	if w.Code != 500 || strings.Contains(w.Body.String(), "nil map") {
		t.Errorf("%d %s: a panic must answer 500 without its detail", w.Code, w.Body)
	}
	id := w.Header().Get("X-Request-Id")
	if id == "" || !strings.Contains(logs.String(), `"request_id":"`+id+`"`) || !strings.Contains(logs.String(), "handler panicked") {
		t.Errorf("request id %q not on the log lines:\n%s", id, logs.String())
	}
}
