package loadrun

import (
	"os"
	"path/filepath"
)

// unreachableKubeconfig is a Kubernetes API that does not answer: with
// GitHub on, serve's pipeline needs a client to start, and nothing in a
// load run reaches it.
const unreachableKubeconfig = `apiVersion: v1
kind: Config
clusters: [{name: none, cluster: {server: "https://127.0.0.1:9"}}]
users: [{name: none, user: {token: loadrun-not-a-token}}]
contexts: [{name: none, context: {cluster: none, user: none}}]
current-context: none
`

// GitHubEnv is the environment (for Start) that turns serve's GitHub
// integration on: the repository (owner/name), a token, the API at apiURL
// and the webhook secret, with a Kubernetes API that does not answer,
// whose kubeconfig it writes in dir.
func GitHubEnv(dir, apiURL, repo, token, secret string) ([]string, error) {
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kubeconfig, []byte(unreachableKubeconfig), 0o600); err != nil {
		return nil, err
	}
	return []string{
		"CLUSTRO_KUBECONFIG=" + kubeconfig,
		"CLUSTRO_GITHUB_REPO=" + repo,
		"CLUSTRO_GITHUB_TOKEN=" + token,
		"CLUSTRO_GITHUB_API_URL=" + apiURL,
		"CLUSTRO_GITHUB_WEBHOOK_SECRET=" + secret,
	}, nil
}
