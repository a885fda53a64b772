package bot

import (
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"sigs.k8s.io/yaml"
)

// TestAppManifest: the Slack app manifest parses, and its URLs and
// command are the ones the Handler serves.
func TestAppManifest(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "deploy", "slack-app-manifest.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		DisplayInformation struct {
			Name string `json:"name"`
		} `json:"display_information"`
		Features struct {
			BotUser struct {
				DisplayName string `json:"display_name"`
			} `json:"bot_user"`
			SlashCommands []struct {
				Command     string `json:"command"`
				URL         string `json:"url"`
				Description string `json:"description"`
				UsageHint   string `json:"usage_hint"`
			} `json:"slash_commands"`
		} `json:"features"`
		OAuthConfig struct {
			Scopes struct {
				Bot []string `json:"bot"`
			} `json:"scopes"`
		} `json:"oauth_config"`
		Settings struct {
			Interactivity struct {
				IsEnabled  bool   `json:"is_enabled"`
				RequestURL string `json:"request_url"`
			} `json:"interactivity"`
			EventSubscriptions struct {
				RequestURL string   `json:"request_url"`
				BotEvents  []string `json:"bot_events"`
			} `json:"event_subscriptions"`
			SocketModeEnabled *bool `json:"socket_mode_enabled"`
		} `json:"settings"`
	}
	// Slack's manifest has more keys than this test reads.
	if err := yaml.Unmarshal(b, &m); err != nil {
		t.Fatalf("the manifest is not YAML: %v", err)
	}
	if m.DisplayInformation.Name == "" || m.Features.BotUser.DisplayName == "" || m.Settings.SocketModeEnabled == nil {
		t.Errorf("display_information.name, features.bot_user and settings.socket_mode_enabled are required: %+v", m)
	}
	if len(m.Features.SlashCommands) != 1 {
		t.Fatalf("slash commands: %+v", m.Features.SlashCommands)
	}
	cmd := m.Features.SlashCommands[0]
	if cmd.Command != Command || cmd.Description == "" || cmd.UsageHint == "" {
		t.Errorf("slash command %+v, want %s with a description and a usage hint", cmd, Command)
	}
	served := map[string]bool{}
	for _, r := range Routes() {
		if r.Method != http.MethodPost {
			t.Errorf("Slack posts; route %s %s", r.Method, r.Path)
		}
		served[r.Path] = true
	}
	used := map[string]bool{}
	for what, u := range map[string]string{
		"the slash command":   cmd.URL,
		"interactivity":       m.Settings.Interactivity.RequestURL,
		"event subscriptions": m.Settings.EventSubscriptions.RequestURL,
	} {
		parsed, err := url.Parse(u)
		if err != nil || parsed.Scheme != "https" {
			t.Errorf("%s: %q is not an https URL", what, u)
			continue
		}
		if !served[parsed.Path] {
			t.Errorf("%s posts to %s, which the Handler does not serve (it serves %v)", what, parsed.Path, Routes())
		}
		used[parsed.Path] = true
	}
	for p := range served {
		if !used[p] {
			t.Errorf("the Handler serves %s, which the manifest does not use", p)
		}
	}
	if !m.Settings.Interactivity.IsEnabled {
		t.Error("interactivity is off: buttons and modals would not work")
	}
	for _, ev := range []string{"app_mention", "message.im"} {
		if !slices.Contains(m.Settings.EventSubscriptions.BotEvents, ev) {
			t.Errorf("bot event %s missing", ev)
		}
	}
	// What the bot calls needs these scopes.
	for _, s := range []string{"commands", "chat:write", "im:write", "im:history", "app_mentions:read", "channels:history", "usergroups:read"} {
		if !slices.Contains(m.OAuthConfig.Scopes.Bot, s) {
			t.Errorf("bot scope %s missing", s)
		}
	}
}
