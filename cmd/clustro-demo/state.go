package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// The demo's directory and the state file it writes there for slash and
// merge.

const (
	// defaultDemoDir is where the demo works unless --dir says otherwise.
	defaultDemoDir = ".demo"
	// demoStateFile is the state file's name in the demo directory.
	demoStateFile = "state.json"
	// demoMarker marks a directory made by the demo, which it may recreate.
	demoMarker = ".clustro-demo"
)

// statePath is the state file of a demo directory.
func statePath(dir string) string { return filepath.Join(dir, demoStateFile) }

// demoState is what a running demo tells slash and merge: addresses and
// the secrets of this throwaway, local demo (written with mode 0600).
type demoState struct {
	// PID is the demo's process.
	PID int `json:"pid"`
	// Dir is the demo directory.
	Dir string `json:"dir"`
	// URL is clustro serve's base URL.
	URL string `json:"url"`
	// SlackSigningSecret signs what slash sends as Slack.
	SlackSigningSecret string `json:"slackSigningSecret"`
	// SlackURL is the Slack fake's base URL.
	SlackURL string `json:"slackUrl"`
	// Channel and User are who slash speaks as in Slack.
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

// errNoDemo says that no demo runs.
var errNoDemo = errors.New("no demo is running")

// readDemoState reads the state file a running demo wrote.
func readDemoState(path string) (demoState, error) {
	var st demoState
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return st, fmt.Errorf("%w (no %s): start one with `make demo ARGS=--keep` and leave it running, or pass its --dir", errNoDemo, path)
	}
	if err != nil {
		return st, fmt.Errorf("read demo state: %w", err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("read demo state %s: %w", path, err)
	}
	return st, nil
}

// notRunning explains a failed connection to the demo.
func notRunning(u string, err error) error {
	if errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("%w: nothing answers at %s; start one with `make demo ARGS=--keep` and leave it running", errNoDemo, u)
	}
	return fmt.Errorf("reach the demo at %s: %w", u, err)
}

// orDefault is a, or b when a is empty.
func orDefault(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
