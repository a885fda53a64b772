package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/clustropg/clustro/api/apitest"
	"github.com/clustropg/clustro/request"
	"github.com/clustropg/clustro/store"
)

// storeDatabases stores n databases dev/<team>/db-NNN straight in the
// store (the pipeline is not what is tested), teams alternating billing
// and growth, every fifth one ready.
func (h *harness) storeDatabases(n int) {
	h.t.Helper()
	ctx := context.Background()
	for i := range n {
		team := []string{"billing", "growth"}[i%2]
		r := request.DatabaseRequest{
			Kind:      request.Create,
			Spec:      request.Spec{Name: fmt.Sprintf("db-%03d", i), Team: team, Environment: "dev", Size: request.SizeS, Instances: 1, PostgresVersion: 17},
			Requester: request.Requester{ID: "user:default/jane"},
			Origin:    request.Origin{Kind: request.OriginAPI, APIClient: "backstage"},
		}
		rec, _, err := h.st.CreateRequest(ctx, store.NewRequest{Request: r, Event: request.Event{Actor: "backstage", Origin: request.OriginAPI}})
		if err != nil {
			h.t.Fatal(err)
		}
		if i%5 == 0 {
			h.advance(rec.ID(), apitest.ToReady()...)
		}
	}
}

// pageOf is one page of a list as a client reads it.
type pageOf struct {
	names []string // environment/team/name of each database, or entity names, or event targets
	next  string   // the next field
	link  string   // the Link header
}

// walk follows next from path until the last page, checking that the
// Link header and next agree, and returns the pages.
func (h *harness) walk(path string, read func(body []byte) ([]string, string)) []pageOf {
	h.t.Helper()
	var pages []pageOf
	for path != "" {
		w := h.do("GET", path, readerToken, nil)
		if w.Code != http.StatusOK {
			h.t.Fatalf("GET %s: %d %s", path, w.Code, w.Body)
		}
		names, next := read(w.Body.Bytes())
		p := pageOf{names: names, next: next, link: w.Header().Get("Link")}
		if want := ""; next != "" {
			want = "<" + next + `>; rel="next"`
			if p.link != want {
				h.t.Errorf("GET %s: Link %q, want %q", path, p.link, want)
			}
		} else if p.link != "" {
			h.t.Errorf("GET %s: the last page has a Link %q", path, p.link)
		}
		pages = append(pages, p)
		if len(pages) > 100 {
			h.t.Fatalf("GET %s: more than 100 pages", path)
		}
		path = next
	}
	return pages
}

func databaseNames(t *testing.T) func([]byte) ([]string, string) {
	return func(body []byte) ([]string, string) {
		var l struct {
			Items []struct{ Environment, Team, Name string } `json:"items"`
			Next  string                                     `json:"next"`
		}
		mustUnmarshal(t, body, &l)
		var out []string
		for _, db := range l.Items {
			out = append(out, db.Environment+"/"+db.Team+"/"+db.Name)
		}
		return out, l.Next
	}
}

// TestListDatabasesPages: 250 databases read 100 at a time come each once,
// in key order, in pages of 100, 100 and 50; every page but the last
// names the next in next and in Link; a filtered page is full when
// enough databases match.
func TestListDatabasesPages(t *testing.T) {
	h := newHarness(t)
	h.storeDatabases(250)

	pages := h.walk("/api/v1/databases?limit=100", databaseNames(t))
	var all []string
	for i, p := range pages {
		all = append(all, p.names...)
		if last := i == len(pages)-1; last != (p.next == "") {
			t.Errorf("page %d of %d: next %q", i+1, len(pages), p.next)
		}
	}
	if got := []int{len(pages), len(pages[0].names)}; len(pages) != 3 || len(pages[0].names) != 100 || len(pages[1].names) != 100 || len(pages[2].names) != 50 {
		t.Errorf("pages %v, want 3 pages of 100, 100 and 50", got)
	}
	var want []string
	for i := range 250 {
		want = append(want, fmt.Sprintf("dev/%s/db-%03d", []string{"billing", "growth"}[i%2], i))
	}
	slices.Sort(want)
	if !slices.Equal(all, want) {
		t.Errorf("walked %d databases, want each of the 250 once in key order:\n%v", len(all), all)
	}
	if next := pages[0].next; !strings.Contains(next, "limit=100") || !strings.HasPrefix(next, "/api/v1/databases?") {
		t.Errorf("next %q should be this list's URL with its limit", next)
	}

	// The default page is 100.
	if p := h.walk("/api/v1/databases", databaseNames(t)); len(p) != 3 || len(p[0].names) != 100 {
		t.Errorf("default pages: %d, first of %d; want 3, first of 100", len(p), len(p[0].names))
	}

	// Filters apply before paging: 125 of billing, 50 ready (10 of them
	// among the first 100 of the whole list).
	for _, tc := range []struct {
		query string
		sizes []int
		where func(string) bool
	}{
		{"?team=billing&limit=100", []int{100, 25}, func(n string) bool { return strings.Contains(n, "/billing/") }},
		{"?state=ready&limit=20", []int{20, 20, 10}, func(n string) bool { return n[len(n)-1] == '0' || n[len(n)-1] == '5' }},
		{"?state=ready&team=growth&limit=20", []int{20, 5}, func(n string) bool { return strings.Contains(n, "/growth/") }},
	} {
		pages := h.walk("/api/v1/databases"+tc.query, databaseNames(t))
		var sizes []int
		var got []string
		for _, p := range pages {
			sizes = append(sizes, len(p.names))
			got = append(got, p.names...)
		}
		if !slices.Equal(sizes, tc.sizes) {
			t.Errorf("%s: pages of %v, want %v", tc.query, sizes, tc.sizes)
		}
		if !slices.IsSorted(got) || slices.ContainsFunc(got, func(n string) bool { return !tc.where(n) }) {
			t.Errorf("%s: %v", tc.query, got)
		}
		if strings.Contains(tc.query, "team=growth") && len(pages) > 1 {
			if u, _ := url.Parse(pages[0].next); u.Query().Get("team") != "growth" || u.Query().Get("state") != "ready" {
				t.Errorf("%s: next %q drops the filters", tc.query, pages[0].next)
			}
		}
	}
}

// TestPagesRefuse: a bad limit or cursor answers 400 naming it, on every
// list.
func TestPagesRefuse(t *testing.T) {
	h := newHarness(t)
	a := h.ready("ledger", "prod")
	h.ready("events", "dev")
	databasesCursor := url.Values{"cursor": {cursorOf(t, h, "/api/v1/databases?limit=1")}}.Encode()
	for _, list := range []string{"/api/v1/databases", "/api/v1/catalog/entities", a.URL + "/events"} {
		for _, tc := range []struct{ query, field string }{
			{"limit=1001", "limit"},
			{"limit=0", "limit"},
			{"limit=-5", "limit"},
			{"limit=ten", "limit"},
			{"limit=", "limit"},
			{"cursor=not-a-cursor", "cursor"},
			{"cursor=" + url.QueryEscape("eyJyIjoiZXZlbnRzIn0"), "cursor"}, // {"r":"events"}, without a position
			{"cursor=", "cursor"},
		} {
			w := h.do("GET", list+"?"+tc.query, readerToken, nil)
			p := problemOf(t, w, http.StatusBadRequest, "malformed")
			if got := fields(p); !slices.Equal(got, []string{tc.field}) {
				t.Errorf("%s?%s: errors name %v, want %s", list, tc.query, got, tc.field)
			}
		}
		// A cursor of another list.
		if list != "/api/v1/databases" {
			w := h.do("GET", list+"?"+databasesCursor, readerToken, nil)
			if p := problemOf(t, w, http.StatusBadRequest, "malformed"); !slices.Equal(fields(p), []string{"cursor"}) {
				t.Errorf("%s with a cursor of databases: errors name %v", list, fields(p))
			}
		}
		if w := h.do("GET", list+"?limit=1000", readerToken, nil); w.Code != http.StatusOK {
			t.Errorf("%s?limit=1000: %d %s", list, w.Code, w.Body)
		}
	}
}

// cursorOf is the cursor of the next page of path.
func cursorOf(t *testing.T, h *harness, path string) string {
	t.Helper()
	pages := h.walk(path, databaseNames(t))
	if len(pages) < 2 {
		t.Fatalf("%s has one page", path)
	}
	u, err := url.Parse(pages[0].next)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get("cursor")
}

// TestEntitiesPages: a Backstage entity provider reads every live
// database's entity once, following next.
func TestEntitiesPages(t *testing.T) {
	h := newHarness(t)
	h.storeDatabases(30) // 6 ready
	pages := h.walk("/api/v1/catalog/entities?limit=4", func(body []byte) ([]string, string) {
		var l struct {
			Items []struct {
				Metadata struct{ Name string } `json:"metadata"`
			} `json:"items"`
			Next string `json:"next"`
		}
		mustUnmarshal(t, body, &l)
		var out []string
		for _, e := range l.Items {
			out = append(out, e.Metadata.Name)
		}
		return out, l.Next
	})
	var got []string
	for _, p := range pages {
		got = append(got, p.names...)
	}
	want := []string{"db-000.billing.dev", "db-010.billing.dev", "db-020.billing.dev", "db-005.growth.dev", "db-015.growth.dev", "db-025.growth.dev"}
	if len(pages) != 2 || !slices.Equal(got, want) {
		t.Errorf("%d pages of entities %v, want 2 pages of %v", len(pages), got, want)
	}
}

// TestEventsPages: a request's audit trail read two events at a time.
func TestEventsPages(t *testing.T) {
	h := newHarness(t)
	a := h.ready("ledger", "prod")
	all := h.walk(a.URL+"/events", eventTargets(t))
	pages := h.walk(a.URL+"/events?limit=2", eventTargets(t))
	var got []string
	for _, p := range pages {
		got = append(got, p.names...)
	}
	if len(all) != 1 || len(all[0].names) < 3 || !slices.Equal(got, all[0].names) || len(pages) != (len(got)+1)/2 {
		t.Errorf("paged events %v in %d pages, want %v two at a time", got, len(pages), all[0].names)
	}
	if w := h.do("GET", "/api/v1/requests/nope/events?limit=2", readerToken, nil); w.Code != http.StatusNotFound {
		t.Errorf("events of an unknown request: %d", w.Code)
	}
}

func eventTargets(t *testing.T) func([]byte) ([]string, string) {
	return func(body []byte) ([]string, string) {
		var l struct {
			Items []struct{ To string } `json:"items"`
			Next  string                `json:"next"`
		}
		mustUnmarshal(t, body, &l)
		var out []string
		for _, e := range l.Items {
			out = append(out, e.To)
		}
		return out, l.Next
	}
}

func mustUnmarshal(t *testing.T, body []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
}

// TestOpenAPIListsArePaged: every route that answers a list documents
// limit, cursor, the Link header, the next field and the 400.
func TestOpenAPIListsArePaged(t *testing.T) {
	h := newHarness(t)
	doc := openAPI(t, h)
	lists := 0
	for path, item := range doc["paths"].(map[string]any) {
		op, _ := dig(item, "get").(map[string]any)
		ref, _ := dig(op, "responses", "200", "content", "application/json", "schema", "$ref").(string)
		if !strings.HasSuffix(ref, "List") {
			continue
		}
		lists++
		var params []string
		for _, p := range op["parameters"].([]any) {
			if r, ok := dig(p, "$ref").(string); ok {
				params = append(params, r)
			}
		}
		for _, want := range []string{"#/components/parameters/limit", "#/components/parameters/cursor"} {
			if !slices.Contains(params, want) {
				t.Errorf("GET %s does not take %s", path, want)
			}
		}
		if dig(op, "responses", "200", "headers", "Link") == nil || dig(op, "responses", "400") == nil {
			t.Errorf("GET %s: no Link header or no 400", path)
		}
		name := strings.TrimPrefix(ref, "#/components/schemas/")
		if dig(doc, "components", "schemas", name, "properties", "next") == nil {
			t.Errorf("%s has no next", name)
		}
	}
	if lists != 3 {
		t.Errorf("%d list routes documented, want 3 (databases, events, entities)", lists)
	}
	if got := dig(doc, "components", "parameters", "limit", "schema", "maximum"); got != float64(1000) {
		t.Errorf("limit's maximum = %v", got)
	}
}
