package config

import (
	"fmt"
	"regexp"
	"time"
)

// GitHub configures the infra repository and the webhook.
type GitHub struct {
	Token         Secret `json:"token"`         // CLUSTRO_GITHUB_TOKEN
	APIURL        string `json:"apiURL"`        // CLUSTRO_GITHUB_API_URL (GitHub Enterprise, the emulator)
	Repo          string `json:"repo"`          // CLUSTRO_GITHUB_REPO, owner/name
	BaseBranch    string `json:"baseBranch"`    // CLUSTRO_GITHUB_BASE_BRANCH, default main
	WebhookSecret Secret `json:"webhookSecret"` // CLUSTRO_GITHUB_WEBHOOK_SECRET
	// AppID, InstallationID and PrivateKeyFile authenticate as a GitHub App
	// instead of a token (CLUSTRO_GITHUB_APP_ID, CLUSTRO_GITHUB_INSTALLATION_ID,
	// CLUSTRO_GITHUB_PRIVATE_KEY_FILE).
	AppID          int64  `json:"appID"`
	InstallationID int64  `json:"installationID"`
	PrivateKeyFile string `json:"privateKeyFile"`
	// Commenters may retry with /clustro plan and /clustro apply.
	Commenters []string `json:"commenters"`
	// SyncInterval is how often serve catches up with deliveries GitHub
	// missed (one list call a pass; CLUSTRO_GITHUB_SYNC_INTERVAL).
	SyncInterval Duration `json:"syncInterval"`
}

// Enabled reports whether GitHub is configured, and if not, what is missing.
func (g GitHub) Enabled() (bool, string) {
	switch {
	case g.Repo == "":
		return false, "CLUSTRO_GITHUB_REPO"
	case !g.Token.IsSet() && (g.AppID == 0 || g.InstallationID == 0 || g.PrivateKeyFile == ""):
		return false, "CLUSTRO_GITHUB_TOKEN (or a GitHub App: CLUSTRO_GITHUB_APP_ID, CLUSTRO_GITHUB_INSTALLATION_ID, CLUSTRO_GITHUB_PRIVATE_KEY_FILE)"
	case !g.WebhookSecret.IsSet():
		return false, "CLUSTRO_GITHUB_WEBHOOK_SECRET"
	}
	return true, ""
}

var gitHubEnvVars = []envVar{
	{"CLUSTRO_GITHUB_TOKEN", "github.token", func(c *Config, v string) error { c.GitHub.Token = Secret(v); return nil }},
	{"CLUSTRO_GITHUB_API_URL", "github.apiURL: GitHub (Enterprise) API base URL", func(c *Config, v string) error { c.GitHub.APIURL = v; return nil }},
	{"CLUSTRO_GITHUB_REPO", "github.repo: the infra repository, owner/name", func(c *Config, v string) error { c.GitHub.Repo = v; return nil }},
	{"CLUSTRO_GITHUB_BASE_BRANCH", "github.baseBranch (default main)", func(c *Config, v string) error { c.GitHub.BaseBranch = v; return nil }},
	{"CLUSTRO_GITHUB_WEBHOOK_SECRET", "github.webhookSecret (required for the webhook)", func(c *Config, v string) error { c.GitHub.WebhookSecret = Secret(v); return nil }},
	{"CLUSTRO_GITHUB_APP_ID", "github.appID", func(c *Config, v string) error { return setInt64(&c.GitHub.AppID, v) }},
	{"CLUSTRO_GITHUB_INSTALLATION_ID", "github.installationID", func(c *Config, v string) error { return setInt64(&c.GitHub.InstallationID, v) }},
	{"CLUSTRO_GITHUB_PRIVATE_KEY_FILE", "github.privateKeyFile: the App's private key (PEM)", func(c *Config, v string) error { c.GitHub.PrivateKeyFile = v; return nil }},
	{"CLUSTRO_GITHUB_SYNC_INTERVAL", "github.syncInterval: how often missed deliveries are caught up, one GitHub call a pass (default 1m, at least 10s)", func(c *Config, v string) error { return c.GitHub.SyncInterval.UnmarshalText([]byte(v)) }},
}

// checkGitHub reports problems with the github section.
func (c *Config) checkGitHub() []string {
	var problems []string
	if c.GitHub.Repo != "" && !regexp.MustCompile(`^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$`).MatchString(c.GitHub.Repo) {
		problems = append(problems, fmt.Sprintf("github.repo (CLUSTRO_GITHUB_REPO): %q is not owner/name", c.GitHub.Repo))
	}
	if c.GitHub.SyncInterval.D() < 10*time.Second {
		problems = append(problems, fmt.Sprintf("github.syncInterval (CLUSTRO_GITHUB_SYNC_INTERVAL): %s is below 10s", c.GitHub.SyncInterval.D()))
	}
	return problems
}
