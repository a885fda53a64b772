package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/http"
	"strings"

	"github.com/clustropg/clustro/config"
)

// authenticator knows the configured tokens by their SHA-256 digests, so
// that every comparison is between equal lengths and takes the same time.
type authenticator struct {
	tokens []knownToken
}

type knownToken struct {
	digest [sha256.Size]byte
	token  config.APIToken
}

func newAuthenticator(tokens []config.APIToken) *authenticator {
	a := &authenticator{}
	for _, t := range tokens {
		if !t.Token.IsSet() {
			continue // an empty token must never match an empty credential
		}
		a.tokens = append(a.tokens, knownToken{digest: sha256.Sum256([]byte(t.Token.Value())), token: t})
	}
	return a
}

// identify returns the configured token the request's bearer credential
// matches. It compares against every token, without stopping at a match.
func (a *authenticator) identify(credential string) (config.APIToken, bool) {
	d := sha256.Sum256([]byte(credential))
	var (
		found config.APIToken
		ok    bool
	)
	for _, t := range a.tokens {
		if subtle.ConstantTimeCompare(d[:], t.digest[:]) == 1 {
			found, ok = t.token, true
		}
	}
	return found, ok
}

// bearer returns the credential of an "Authorization: Bearer <token>" header.
func bearer(r *http.Request) (credential string, present bool) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", false
	}
	scheme, cred, _ := strings.Cut(h, " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", true
	}
	return strings.TrimSpace(cred), true
}

type clientKey struct{}

// clientFrom returns the token a request was authenticated with.
func clientFrom(ctx context.Context) config.APIToken {
	t, _ := ctx.Value(clientKey{}).(config.APIToken)
	return t
}

// authorized lets a request through to next only with a configured token
// that holds scope: 401 without one (RFC 6750's WWW-Authenticate), 403
// naming the scope when the token lacks it. Refusals are logged with the
// token's name when it is known, never with the credential.
func (a *handlers) authorized(scope string, next http.Handler) http.Handler {
	const realm = `Bearer realm="clustro"`
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cred, present := bearer(r)
		if !present {
			a.logger(r).Warn().Str("path", r.URL.Path).Msg("api: refused a request without a token")
			w.Header().Set("WWW-Authenticate", realm)
			writeProblem(w, r, problem("unauthorized", "Send Authorization: Bearer <token> with a token from api.tokens."))
			return
		}
		t, ok := a.auth.identify(cred)
		if cred == "" || !ok {
			a.logger(r).Warn().Str("path", r.URL.Path).Msg("api: refused an unknown token")
			w.Header().Set("WWW-Authenticate", realm+`, error="invalid_token"`)
			writeProblem(w, r, problem("unauthorized", "The bearer token is not one of api.tokens."))
			return
		}
		if !t.Has(scope) {
			a.logger(r).Warn().Str("client", t.Name).Str("path", r.URL.Path).Str("scope", scope).Msg("api: refused a token without the scope")
			w.Header().Set("WWW-Authenticate", fmt.Sprintf(`%s, error="insufficient_scope", scope=%q`, realm, scope))
			writeProblem(w, r, problem("forbidden", fmt.Sprintf("This needs the %q scope; token %q has %s.", scope, t.Name, strings.Join(t.Scopes, ", "))))
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), clientKey{}, t)))
	})
}
