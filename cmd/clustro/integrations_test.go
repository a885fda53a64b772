package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/clustropg/clustro/bot/slacktest"
	"github.com/clustropg/clustro/gitops/githubtest"
)

// TestServeSlackCommand: with the Slack settings, a signed `/pg help`
// answers 200 with the usage; an unsigned one answers 401.
func TestServeSlackCommand(t *testing.T) {
	slack := slacktest.New(t)
	const secret = "serve-test-signing-secret"
	p := startServe(t, t.TempDir(), "CLUSTRO_SLACK_SIGNING_SECRET="+secret,
		"CLUSTRO_SLACK_BOT_TOKEN=xoxb-serve-test-token", "CLUSTRO_SLACK_API_URL="+slack.APIURL())

	req, err := slack.Signer(secret).Command("http://"+p.addr+"/slack/commands", slacktest.Command{
		User: slacktest.User{ID: "U1", Name: "ada"}, Channel: "C1", Text: "help"})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "/pg new") {
		t.Errorf("signed /pg help: %d %s", resp.StatusCode, body)
	}
	if code, body := p.post(t, "/slack/commands"); code != 401 {
		t.Errorf("unsigned /pg help: %d %s", code, body)
	}
	for _, secret := range []string{secret, "xoxb-serve-test-token"} {
		if strings.Contains(p.Logs(), secret) {
			t.Errorf("a Slack secret is in the logs")
		}
	}
}

// TestServeAPI: the OpenAPI document and the catalog entities answer on a
// running serve; creating a database without a token answers 401.
func TestServeAPI(t *testing.T) {
	const token = "api-token-for-serve-tests-0123456789"
	p := startServe(t, t.TempDir(), "CLUSTRO_API_TOKENS=backstage:read+request:"+token)
	if code, body := p.get(t, "/api/v1/openapi.json"); code != 200 || !strings.Contains(body, `"openapi":"3.1`) && !strings.Contains(body, `"openapi": "3.1`) {
		t.Errorf("openapi.json: %d %.200s", code, body)
	}
	req, _ := http.NewRequest(http.MethodGet, "http://"+p.addr+"/api/v1/catalog/entities", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var entities struct{ Items []any }
	json.NewDecoder(resp.Body).Decode(&entities)
	resp.Body.Close()
	if resp.StatusCode != 200 || entities.Items == nil {
		t.Errorf("catalog/entities: %d %+v", resp.StatusCode, entities)
	}
	resp, err = http.Post("http://"+p.addr+"/api/v1/databases", "application/json", strings.NewReader(`{"name":"ledger","team":"billing","environment":"dev"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("POST /api/v1/databases without a token: %d, want 401", resp.StatusCode)
	}
	if strings.Contains(p.Logs(), token) {
		t.Error("the API token is in the logs")
	}
}

// TestBootstrapCommand: `clustro bootstrap` opens one pull request with the
// module, and says there is nothing to do once it is merged.
func TestBootstrapCommand(t *testing.T) {
	gh := githubtest.NewT(t, githubtest.Options{Owner: "acme", Repo: "infra", Files: map[string][]byte{"README.md": []byte("# ours\n")}})
	env := map[string]string{"CLUSTRO_GITHUB_REPO": "acme/infra", "CLUSTRO_GITHUB_TOKEN": gh.Token(), "CLUSTRO_GITHUB_API_URL": gh.URL() + "/"}
	r := clustro(t, env, "bootstrap")
	if r.code != 0 || !strings.Contains(r.stdout, "pull request #1") || !strings.Contains(r.stdout, "modules/cnpg-database/platform.tf") {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if readme, _ := gh.ReadFile(firstBranch(t, gh), "README.md"); string(readme) != "# ours\n" {
		t.Errorf("the repository's README was replaced: %q", readme)
	}
	if _, err := gh.Merge(1, "platform"); err != nil {
		t.Fatal(err)
	}
	if r := clustro(t, env, "bootstrap"); r.code != 0 || !strings.Contains(r.stdout, "up to date") {
		t.Errorf("after the merge: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := clustro(t, nil, "bootstrap"); r.code != 2 || !strings.Contains(r.stderr, "CLUSTRO_GITHUB_REPO") {
		t.Errorf("without GitHub: exit %d %s", r.code, r.stderr)
	}
}

func firstBranch(t *testing.T, gh *githubtest.Server) string {
	pr, err := gh.PullRequest(1)
	if err != nil {
		t.Fatal(err)
	}
	return pr.GetHead().GetRef()
}

// TestHealthcheckCommand: the container's HEALTHCHECK probes /healthz.
func TestHealthcheckCommand(t *testing.T) {
	p := startServe(t, t.TempDir())
	if r := clustro(t, map[string]string{"CLUSTRO_LISTEN": p.addr}, "healthcheck"); r.code != 0 || strings.TrimSpace(r.stdout) != "ok" {
		t.Errorf("healthy serve: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	if r := clustro(t, map[string]string{"CLUSTRO_LISTEN": "127.0.0.1:1"}, "healthcheck"); r.code != 1 {
		t.Errorf("nothing listening: exit %d, want 1", r.code)
	}
}
