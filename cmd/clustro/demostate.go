package main

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// What `clustro demo` and `clustro dev` share: the state file the demo
// writes for the dev helpers, and how Slack messages read in a terminal.

// demoStateFile is the state file's name in the demo directory.
const demoStateFile = "state.json"

// defaultDemoDir is where `clustro demo` works unless --dir says otherwise.
const defaultDemoDir = ".demo"

// demoState is what a running demo tells the dev helpers: addresses and
// the secrets of this throwaway, local demo (written with mode 0600).
type demoState struct {
	// PID is the demo's process.
	PID int `json:"pid"`
	// Dir is the demo directory.
	Dir string `json:"dir"`
	// URL is clustro serve's base URL.
	URL string `json:"url"`
	// SlackSigningSecret signs what the dev helpers send as Slack.
	SlackSigningSecret string `json:"slackSigningSecret"`
	// SlackURL is the Slack fake's base URL.
	SlackURL string `json:"slackUrl"`
	// Channel and User are who the helpers speak as in Slack.
	Channel     string `json:"channel"`
	ChannelName string `json:"channelName"`
	UserID      string `json:"userId"`
	UserName    string `json:"userName"`
	// APIToken is a REST API token with the read and request scopes.
	APIToken string `json:"apiToken"`
	// GitHubURL, GitHubToken and GitHubRepo reach the GitHub emulator.
	GitHubURL   string `json:"githubUrl"`
	GitHubToken string `json:"githubToken"`
	GitHubRepo  string `json:"githubRepo"`
	// Kubeconfig is the offline control plane's kubeconfig.
	Kubeconfig string `json:"kubeconfig"`
	// PostgresDSN is the local PostgreSQL server's superuser DSN.
	PostgresDSN string `json:"postgresDsn"`
}

// writeDemoState writes the state file, readable by its owner only.
func writeDemoState(path string, st demoState) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("encode demo state: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("write demo state: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write demo state: %w", err)
	}
	return nil
}

// errNoDemo says that no demo state file exists.
var errNoDemo = errors.New("no demo is running")

// readDemoState reads the state file a running demo wrote.
func readDemoState(path string) (demoState, error) {
	var st demoState
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return st, fmt.Errorf("%w (no %s): start one with `make demo ARGS=--keep` and leave it running, or pass --state", errNoDemo, path)
	}
	if err != nil {
		return st, fmt.Errorf("read demo state: %w", err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("read demo state %s: %w", path, err)
	}
	return st, nil
}

// randomHex is n random bytes in hex, for the demo's tokens and secrets.
func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random secret: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// slackBlock is the part of a Block Kit block that the demo reads.
type slackBlock struct {
	Type    string `json:"type"`
	BlockID string `json:"block_id"`
	Text    *struct {
		Text string `json:"text"`
	} `json:"text"`
	Elements []struct {
		Type     string `json:"type"`
		ActionID string `json:"action_id"`
		Value    string `json:"value"`
		// Text is an object for buttons and a string for context elements.
		Text json.RawMessage `json:"text"`
	} `json:"elements"`
}

// slackButton is a button of a message.
type slackButton struct {
	ActionID, BlockID, Value, Label string
}

// slackContent is a message's blocks, read for a terminal.
type slackContent struct {
	// Sections are the texts of the section and header blocks.
	Sections []string
	// Context are the small print lines (hints under a question).
	Context []string
	Buttons []slackButton
}

// parseBlocks reads a message's blocks (a JSON array); unknown blocks are
// skipped.
func parseBlocks(raw []byte) (slackContent, error) {
	var c slackContent
	if len(raw) == 0 || string(raw) == "null" {
		return c, nil
	}
	var blocks []slackBlock
	if err := json.Unmarshal(raw, &blocks); err != nil {
		return c, fmt.Errorf("read message blocks: %w", err)
	}
	for _, b := range blocks {
		switch b.Type {
		case "section", "header":
			if b.Text != nil {
				c.Sections = append(c.Sections, b.Text.Text)
			}
		case "context":
			for _, el := range b.Elements {
				var s string
				if json.Unmarshal(el.Text, &s) == nil {
					c.Context = append(c.Context, s)
				}
			}
		case "actions":
			for _, el := range b.Elements {
				if el.Type != "button" {
					continue
				}
				var label struct {
					Text string `json:"text"`
				}
				json.Unmarshal(el.Text, &label)
				c.Buttons = append(c.Buttons, slackButton{ActionID: el.ActionID, BlockID: b.BlockID, Value: el.Value, Label: label.Text})
			}
		}
	}
	return c, nil
}

// buttonsLine shows buttons as "[dev] [staging] [prod]".
func buttonsLine(bs []slackButton) string {
	parts := make([]string, len(bs))
	for i, b := range bs {
		parts[i] = "[" + b.Label + "]"
	}
	return strings.Join(parts, " ")
}

var (
	slackMention = regexp.MustCompile(`<@([A-Z0-9]+)(?:\|[^>]*)?>`)
	slackChannel = regexp.MustCompile(`<#([A-Z0-9]+)(?:\|([^>]*))?>`)
	slackLink    = regexp.MustCompile(`<((?:https?|mailto):[^|>]+)(?:\|([^>]*))?>`)
	slackEmoji   = regexp.MustCompile(`(^|\s):[a-z][a-z0-9_+-]*: ?`)
	slackBold    = regexp.MustCompile(`\*([^*\n]+)\*`)
	slackFence   = regexp.MustCompile("```")
)

// plainSlack turns Slack mrkdwn into terminal text: mentions become @name
// (names maps user and channel ids), links "label (url)", emoji codes and
// bold markers go.
func plainSlack(s string, names map[string]string) string {
	s = slackMention.ReplaceAllStringFunc(s, func(m string) string {
		id := slackMention.FindStringSubmatch(m)[1]
		if n, ok := names[id]; ok {
			return "@" + n
		}
		return "@" + id
	})
	s = slackChannel.ReplaceAllStringFunc(s, func(m string) string {
		sub := slackChannel.FindStringSubmatch(m)
		if n, ok := names[sub[1]]; ok {
			return "#" + n
		}
		if sub[2] != "" {
			return "#" + sub[2]
		}
		return "#" + sub[1]
	})
	s = slackLink.ReplaceAllStringFunc(s, func(m string) string {
		sub := slackLink.FindStringSubmatch(m)
		if sub[2] == "" || sub[2] == sub[1] {
			return sub[1]
		}
		return sub[2] + ": " + sub[1]
	})
	// Twice: adjacent codes share the space between them.
	for range 2 {
		s = slackEmoji.ReplaceAllString(s, "$1")
	}
	s = slackBold.ReplaceAllString(s, "$1")
	s = slackFence.ReplaceAllString(s, "")
	s = html.UnescapeString(s)
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimRight(l, " "); l != "" {
			lines = append(lines, strings.TrimLeft(l, " "))
		}
	}
	return strings.Join(lines, "\n")
}

// indent prefixes every line but the first with pad.
func indent(s, pad string) string {
	return strings.ReplaceAll(s, "\n", "\n"+pad)
}

// statePath is the state file of a demo directory.
func statePath(dir string) string { return filepath.Join(dir, demoStateFile) }
