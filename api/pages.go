package api

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/clustropg/clustro/request"
	"github.com/clustropg/clustro/store"
)

// Every list answers a page: ?limit= items (DefaultLimit, at most
// MaxLimit) from ?cursor= on, in a stable order. A page that is not the
// last names the next one in its next field and in a Link header
// (rel="next"): the same URL with the cursor of the next page.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// cursor is where a page starts: after the item it names. Clients get it
// from next as an opaque token (base64url of this JSON); route ties it to
// the list it came from.
type cursor struct {
	Route string `json:"r"`
	// Database is the key of the last database (databases, entities).
	Database *store.DatabaseKey `json:"d,omitempty"`
	// Seq is the number of the last event (events).
	Seq int64 `json:"s,omitempty"`
}

// The lists, as their cursors name them.
const (
	databasesList = "databases"
	entitiesList  = "entities"
	eventsList    = "events"
)

func (c cursor) encode() string {
	b, _ := json.Marshal(c) // a struct of strings and an integer
	return base64.RawURLEncoding.EncodeToString(b)
}

// pageQuery is a list's ?limit and ?cursor.
type pageQuery struct {
	limit int
	after cursor // the zero cursor: from the first item
}

// pageParams are the query parameters every list takes.
var pageParams = []string{"cursor", "limit"}

// readPage reads ?limit and ?cursor for the list route, naming the
// parameter of each problem.
func readPage(q url.Values, route string) (pageQuery, request.Problems) {
	pq := pageQuery{limit: DefaultLimit, after: cursor{Route: route}}
	var pr request.Problems
	if v, ok := q["limit"]; ok {
		n, err := strconv.Atoi(v[0])
		if err != nil || n < 1 || n > MaxLimit || len(v) > 1 {
			pr = append(pr, request.Problem{Field: "limit", Message: fmt.Sprintf("%q is not a page size: give a whole number from 1 to %d (default %d)", v[0], MaxLimit, DefaultLimit)})
		} else {
			pq.limit = n
		}
	}
	if v, ok := q["cursor"]; ok {
		c, ok := decodeCursor(v[0])
		// The cursors this API gives name a position: an event after the
		// first, or a database.
		positioned := c.Seq > 0 && c.Database == nil
		if route != eventsList {
			positioned = c.Database != nil && c.Seq == 0
		}
		if !ok || len(v) > 1 || c.Route != route || !positioned {
			pr = append(pr, request.Problem{Field: "cursor", Message: "not a cursor of this list: pass the next link of a page as it came, or leave cursor out for the first page"})
		} else {
			pq.after = c
		}
	}
	return pq, pr
}

func decodeCursor(s string) (cursor, bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return cursor{}, false
	}
	var c cursor
	if err := json.Unmarshal(b, &c); err != nil {
		return cursor{}, false
	}
	return c, true
}

// pageProblem answers the problems of a list's query.
func pageProblem(pr request.Problems) Problem {
	return malformed("The query is invalid.", pr...)
}

// afterDatabase is the key the page of databases starts after.
func (pq pageQuery) afterDatabase() store.DatabaseKey {
	if pq.after.Database == nil {
		return store.DatabaseKey{}
	}
	return *pq.after.Database
}

// nextURL is the URL of the page after this one: the request's, with the
// cursor next (and the same limit and filters).
func nextURL(r *http.Request, next cursor) string {
	q := r.URL.Query()
	q.Set("cursor", next.encode())
	return r.URL.EscapedPath() + "?" + q.Encode()
}

// writePage answers a page of items; next is the next page's URL, ""
// on the last page.
func writePage[T any](w http.ResponseWriter, r *http.Request, items []T, next string) {
	if items == nil {
		items = []T{}
	}
	if next != "" {
		w.Header().Set("Link", "<"+next+`>; rel="next"`)
	}
	writeJSON(w, r, http.StatusOK, list[T]{Items: items, Next: next})
}
