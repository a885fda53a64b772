package githubtest_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	"github.com/clustropg/clustro/gitops/githubtest"
	"github.com/google/go-github/v62/github"
)

// TestTokenAuth checks every API call must carry the token.
func TestTokenAuth(t *testing.T) {
	gh := githubtest.NewT(t, githubtest.Options{Token: "ghp_right"})
	tests := []struct {
		name          string
		authorization string
		wantStatus    int
		wantMessage   string
	}{
		{"no credentials", "", http.StatusUnauthorized, "Requires authentication"},
		{"wrong token", "Bearer ghp_wrong", http.StatusUnauthorized, "Bad credentials"},
		{"basic auth", "Basic Z2hwX3JpZ2h0Og==", http.StatusUnauthorized, "Requires authentication"},
		{"bearer", "Bearer ghp_right", http.StatusOK, ""},
		{"token", "token ghp_right", http.StatusOK, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest("GET", gh.URL()+"/repos/clustropg/infra/git/ref/heads/main", nil)
			if err != nil {
				t.Fatal(err)
			}
			if tt.authorization != "" {
				req.Header.Set("Authorization", tt.authorization)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body struct {
				Message          string `json:"message"`
				DocumentationURL string `json:"documentation_url"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.wantStatus || (tt.wantMessage != "" && body.Message != tt.wantMessage) {
				t.Errorf("= %d %q, want %d %q", resp.StatusCode, body.Message, tt.wantStatus, tt.wantMessage)
			}
		})
	}
	if got := len(gh.Unexpected()); got != 0 {
		t.Errorf("%d unexpected requests: auth failures are answers, not surprises", got)
	}
}

// clock is a settable clock for Options.Now.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newAppKey(t *testing.T) (*rsa.PrivateKey, []byte) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return key, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
}

// TestGitHubApp authenticates as a GitHub App installation with
// bradleyfalzon/ghinstallation, as ClustroPG's App mode does.
func TestGitHubApp(t *testing.T) {
	key, keyPEM := newAppKey(t)
	rcv := newReceiver(t, hookSecret)
	gh := githubtest.NewT(t, githubtest.Options{
		App:           &githubtest.AppOptions{ID: 4242, InstallationID: 77, PrivateKeyPEM: keyPEM},
		WebhookURL:    rcv.URL,
		WebhookSecret: hookSecret,
		SyncWebhooks:  true,
	})

	itr, err := ghinstallation.New(http.DefaultTransport, 4242, 77, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	itr.BaseURL = gh.URL()
	c := github.NewClient(&http.Client{Transport: itr})
	c.BaseURL, _ = url.Parse(gh.URL() + "/")

	commitBranch(t, c, gh, "main", "feature", map[string]*string{"a.txt": github.String("a\n")})
	pr := openPull(t, c, gh, "feature")
	if pr.GetUser().GetLogin() != "clustro[bot]" || pr.GetUser().GetType() != "Bot" {
		t.Errorf("opened by %q (%s), want clustro[bot] (Bot)", pr.GetUser().GetLogin(), pr.GetUser().GetType())
	}
	events := rcv.pullEvents()
	if len(events) != 1 || events[0].GetInstallation().GetID() != 77 {
		t.Fatalf("opened webhook: %v", events)
	}
	if hdr := rcv.received()[0].header; hdr.Get("X-GitHub-Hook-Installation-Target-Type") != "integration" || hdr.Get("X-GitHub-Hook-Installation-Target-ID") != "4242" {
		t.Errorf("target headers = %v", hdr)
	}

	now := time.Now()
	sign := func(k *rsa.PrivateKey, alg string, claims map[string]any) string {
		return signJWT(t, k, alg, claims)
	}
	valid := map[string]any{"iss": 4242, "iat": now.Add(-30 * time.Second).Unix(), "exp": now.Add(2 * time.Minute).Unix()}
	with := func(k string, v any) map[string]any {
		m := map[string]any{}
		for kk, vv := range valid {
			m[kk] = vv
		}
		m[k] = v
		return m
	}
	otherKey, _ := newAppKey(t)
	tests := []struct {
		name         string
		jwt          string
		installation string
		wantStatus   int
	}{
		{"valid", sign(key, "RS256", valid), "77", http.StatusCreated},
		{"issuer as a string", sign(key, "RS256", with("iss", "4242")), "77", http.StatusCreated},
		{"another installation", sign(key, "RS256", valid), "78", http.StatusNotFound},
		{"another key", sign(otherKey, "RS256", valid), "77", http.StatusUnauthorized},
		{"another app", sign(key, "RS256", with("iss", 1)), "77", http.StatusUnauthorized},
		{"expired", sign(key, "RS256", with("exp", now.Add(-time.Second).Unix())), "77", http.StatusUnauthorized},
		{"too long-lived", sign(key, "RS256", with("exp", now.Add(20*time.Minute).Unix())), "77", http.StatusUnauthorized},
		{"issued in the future", sign(key, "RS256", with("iat", now.Add(5*time.Minute).Unix())), "77", http.StatusUnauthorized},
		{"unsigned", sign(key, "none", valid), "77", http.StatusUnauthorized},
		{"the token instead", githubtest.DefaultToken, "77", http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest("POST", gh.URL()+"/app/installations/"+tt.installation+"/access_tokens", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+tt.jwt)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("= %d %s, want %d", resp.StatusCode, body, tt.wantStatus)
			}
		})
	}
}

// TestInstallationTokenExpires checks installation tokens stop working
// after GitHub's hour.
func TestInstallationTokenExpires(t *testing.T) {
	key, keyPEM := newAppKey(t)
	clk := &clock{now: time.Now()}
	gh := githubtest.NewT(t, githubtest.Options{App: &githubtest.AppOptions{ID: 1, InstallationID: 2, PrivateKeyPEM: keyPEM}, Now: clk.Now})
	jwt := signJWT(t, key, "RS256", map[string]any{"iss": 1, "iat": clk.Now().Unix(), "exp": clk.Now().Add(time.Minute).Unix()})
	req, _ := http.NewRequest("POST", gh.URL()+"/app/installations/2/access_tokens", nil)
	req.Header.Set("Authorization", "Bearer "+jwt)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		Token     string    `json:"token"`
		ExpiresAt time.Time `json:"expires_at"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || !strings.HasPrefix(tok.Token, "ghs_") {
		t.Fatalf("token = %+v, %v", tok, err)
	}
	c := github.NewClient(nil).WithAuthToken(tok.Token)
	c.BaseURL, _ = url.Parse(gh.URL() + "/")
	ctx := context.Background()
	if _, _, err := c.Git.GetRef(ctx, gh.Owner(), gh.Repo(), "heads/main"); err != nil {
		t.Fatalf("fresh token: %v", err)
	}
	clk.Add(time.Hour)
	if _, _, err := c.Git.GetRef(ctx, gh.Owner(), gh.Repo(), "heads/main"); apiStatus(err) != http.StatusUnauthorized {
		t.Errorf("expired token: %v, want 401", err)
	}
}

// signJWT signs claims with key; alg "none" leaves the signature empty.
func signJWT(t *testing.T, key *rsa.PrivateKey, alg string, claims map[string]any) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	signing := enc(map[string]string{"alg": alg, "typ": "JWT"}) + "." + enc(claims)
	if alg == "none" {
		return signing + "."
	}
	digest := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig)
}
