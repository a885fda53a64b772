package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/clustropg/clustro/request"
	"github.com/clustropg/clustro/store"
)

// POST, PATCH and DELETE take an Idempotency-Key (the IETF draft
// draft-ietf-httpapi-idempotency-key-header). Under the client's key the
// store keeps three records:
//
//   - scope api: the request the key made (the pipeline's CreateRequest);
//   - scope api-body: the fingerprint of the call that first used the key
//     (its method, path and body), recorded once the call passed
//     validation, so that a refused call can be corrected and sent again
//     with the same key;
//   - scope api-reply: the 202 reply, answered again to a retry.
//
// A call whose fingerprint differs from the recorded one is answered 422
// idempotency-key-reused and changes nothing; the same call again answers
// the first reply with Idempotent-Replayed: true.

// ReplayedHeader marks a reply that repeats the first answer to an
// Idempotency-Key.
const ReplayedHeader = "Idempotent-Replayed"

// idempotencyKey reads the Idempotency-Key header (a string of 1-255
// printable characters, quoted or not) into the store's key, scoped to
// the client: two clients never share a key.
func idempotencyKey(r *http.Request, client string) (store.Idempotency, *Problem) {
	k, given := headerKey(r)
	if !given {
		return store.Idempotency{}, nil
	}
	if k == "" || len(k) > 255 || strings.IndexFunc(k, func(c rune) bool { return c < 0x21 || c > 0x7e }) >= 0 {
		p := malformed("The Idempotency-Key header is invalid.",
			request.Problem{Field: "Idempotency-Key", Message: "must be 1-255 printable ASCII characters without spaces, like a UUID"})
		return store.Idempotency{}, &p
	}
	return store.Idempotency{Scope: "api", Key: client + ":" + k}, nil
}

// headerKey is the Idempotency-Key as the client sent it, without the
// quotes of a structured-field string.
func headerKey(r *http.Request) (key string, given bool) {
	k := r.Header.Get("Idempotency-Key")
	if len(k) >= 2 && k[0] == '"' && k[len(k)-1] == '"' {
		return k[1 : len(k)-1], true
	}
	return k, k != ""
}

// replyKey is where the reply to an idempotent request is remembered.
func replyKey(k store.Idempotency) store.Idempotency {
	return store.Idempotency{Scope: "api-reply", Key: k.Key}
}

// bodyKey is where the fingerprint of the call that first used a key is
// remembered.
func bodyKey(k store.Idempotency) store.Idempotency {
	return store.Idempotency{Scope: "api-body", Key: k.Key}
}

// seen reports whether an idempotency key was used already.
func (a *handlers) seen(ctx context.Context, key store.Idempotency) bool {
	if key.IsZero() {
		return false
	}
	_, err := a.deps.Store.Recall(ctx, key)
	return err == nil
}

// fingerprint identifies what a call asks: its method, its path and its
// body as the API decoded it (body is the decoded request type, nil when
// there is none), hashed with SHA-256. Encoding the decoded body, with the
// fields in the type's order, makes key order, whitespace and escapes in
// the JSON irrelevant; a field left out and a field given are different
// bodies, even when the given value is the default.
func fingerprint(r *http.Request, body any) []byte {
	h := sha256.New()
	fmt.Fprintf(h, "%s %s\n", r.Method, r.URL.Path)
	if body != nil {
		enc := json.NewEncoder(h)
		enc.SetEscapeHTML(false)
		// The API's own request types always encode.
		_ = enc.Encode(body)
	}
	return []byte("sha256:" + hex.EncodeToString(h.Sum(nil)))
}

// checkKey refuses a call whose Idempotency-Key was first used for
// another call (another method, path or body). With bind, it records the
// call's fingerprint as the key's unless one is recorded: callers bind
// once the call passed validation, so that a refused call can be
// corrected under the same key. A nil problem and error let the call go on.
func (a *handlers) checkKey(ctx context.Context, r *http.Request, key store.Idempotency, fp []byte, bind bool) (*Problem, error) {
	if key.IsZero() {
		return nil, nil
	}
	var (
		first []byte
		err   error
	)
	if bind {
		first, _, err = a.deps.Store.Remember(ctx, bodyKey(key), fp)
	} else {
		first, err = a.deps.Store.Recall(ctx, bodyKey(key))
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil
		}
	}
	if err != nil {
		return nil, err
	}
	if bytes.Equal(first, fp) {
		return nil, nil
	}
	p := a.keyReused(ctx, r, key, "another method, path or body")
	return &p, nil
}

// keyReused is the 422 for an Idempotency-Key sent with another call than
// the first one: it names the key and, once known, the first request.
func (a *handlers) keyReused(ctx context.Context, r *http.Request, key store.Idempotency, how string) Problem {
	k, _ := headerKey(r)
	first := ""
	if b, err := a.deps.Store.Recall(ctx, replyKey(key)); err == nil {
		var reply accepted
		if json.Unmarshal(b, &reply) == nil && reply.ID != "" {
			first = fmt.Sprintf(" (request %s, %s %s)", reply.ID, reply.Kind, strings.TrimPrefix(reply.Database, "/api/v1/databases/"))
		}
	}
	p := problem("idempotency-key-reused", fmt.Sprintf(
		"Idempotency-Key %q was first used for another request%s, with %s: a retry must repeat that request exactly. Use a new key for a new request.", k, first, how))
	p.Errors = request.Problems{{Field: "Idempotency-Key", Message: fmt.Sprintf("%q was used for another request; use a new key", k)}}
	return p
}
