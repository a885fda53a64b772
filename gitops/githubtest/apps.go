package githubtest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// GitHub App authentication: a JWT signed with the App's private key buys
// an installation access token, which then authenticates API calls.

// installationTokenTTL is how long GitHub's installation tokens live.
const installationTokenTTL = time.Hour

// parseAppKey reads an RSA private key (PKCS#1 or PKCS#8 PEM) and keeps its
// public half.
func parseAppKey(pemBytes []byte) (*rsa.PublicKey, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return nil, errors.New("no PEM block")
	}
	if key, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return &key.PublicKey, nil
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse private key: %w", err)
	}
	rsaKey, ok := key.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("want an RSA key, got %T", key)
	}
	return &rsaKey.PublicKey, nil
}

func (s *Server) handleCreateInstallationToken() http.Handler {
	const doc = "https://docs.github.com/rest/apps/apps#create-an-installation-access-token-for-an-app"
	return handle(doc, http.StatusCreated, func(r *http.Request) (installationToken, error) {
		if s.opts.App == nil {
			markUnexpected(r, "GitHub App authentication is not configured (Options.App)")
			return installationToken{}, notFound()
		}
		scheme, jwt, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		if !strings.EqualFold(scheme, "bearer") || jwt == "" {
			return installationToken{}, newError(http.StatusUnauthorized, "A JSON web token could not be decoded")
		}
		if err := verifyAppJWT(jwt, s.appKey, s.opts.App.ID, s.now()); err != nil {
			return installationToken{}, err
		}
		id, err := strconv.ParseInt(r.PathValue("installation_id"), 10, 64)
		if err != nil || id != s.opts.App.InstallationID {
			return installationToken{}, notFound()
		}
		return s.createInstallationToken(), nil
	})
}

// installationToken is GitHub's answer to POST .../access_tokens.
type installationToken struct {
	Token               string            `json:"token"`
	ExpiresAt           time.Time         `json:"expires_at"`
	Permissions         map[string]string `json:"permissions"`
	RepositorySelection string            `json:"repository_selection"`
}

func (s *Server) createInstallationToken() installationToken {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b [20]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	tok := "ghs_" + hex.EncodeToString(b[:])
	exp := s.now().Add(installationTokenTTL)
	s.tokens[tok] = exp
	return installationToken{
		Token:     tok,
		ExpiresAt: exp,
		Permissions: map[string]string{
			"contents":      "write",
			"issues":        "write",
			"metadata":      "read",
			"pull_requests": "write",
			"statuses":      "write",
		},
		RepositorySelection: "selected",
	}
}

// verifyAppJWT checks an App JWT as GitHub does: RS256 signed by the App's
// key, issued by the App, not expired, expiring at most 10 minutes ahead
// (with a minute of clock drift allowed).
func verifyAppJWT(token string, key *rsa.PublicKey, appID int64, now time.Time) error {
	undecodable := newError(http.StatusUnauthorized, "A JSON web token could not be decoded")
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return undecodable
	}
	var header struct {
		Alg string `json:"alg"`
	}
	if err := decodeSegment(parts[0], &header); err != nil || header.Alg != "RS256" {
		return undecodable
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return undecodable
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if rsa.VerifyPKCS1v15(key, crypto.SHA256, digest[:], sig) != nil {
		return undecodable
	}
	var claims struct {
		Iss json.RawMessage `json:"iss"`
		Iat *int64          `json:"iat"`
		Exp *int64          `json:"exp"`
	}
	if err := decodeSegment(parts[1], &claims); err != nil {
		return undecodable
	}
	if iss := strings.Trim(string(claims.Iss), `"`); iss != strconv.FormatInt(appID, 10) {
		return newError(http.StatusUnauthorized, "'Issuer' claim ('iss') must be an Integer")
	}
	const drift = 60 * time.Second
	switch {
	case claims.Iat == nil || time.Unix(*claims.Iat, 0).After(now.Add(drift)):
		return newError(http.StatusUnauthorized, "'Issued at' claim ('iat') must be an Integer representing a time in the past")
	case claims.Exp == nil || !time.Unix(*claims.Exp, 0).After(now):
		return newError(http.StatusUnauthorized, "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires")
	case time.Unix(*claims.Exp, 0).After(now.Add(10*time.Minute + drift)):
		return newError(http.StatusUnauthorized, "'Expiration time' claim ('exp') is too far in the future")
	}
	return nil
}

func decodeSegment(seg string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return fmt.Errorf("decode jwt segment: %w", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decode jwt segment: %w", err)
	}
	return nil
}
