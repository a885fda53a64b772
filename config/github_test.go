package config

import (
	"strings"
	"testing"
	"time"
)

// TestSyncInterval: how often serve catches up with missed deliveries,
// from the default, the file and the environment; too often is refused,
// naming the setting.
func TestSyncInterval(t *testing.T) {
	for _, tc := range []struct {
		name string
		file string
		env  map[string]string
		want time.Duration
		err  string
	}{
		{"default", "", nil, time.Minute, ""},
		{"file", "github: {syncInterval: 5m}\n", nil, 5 * time.Minute, ""},
		{"environment", "github: {syncInterval: 5m}\n", map[string]string{"CLUSTRO_GITHUB_SYNC_INTERVAL": "30s"}, 30 * time.Second, ""},
		{"too often", "", map[string]string{"CLUSTRO_GITHUB_SYNC_INTERVAL": "1s"}, 0, "github.syncInterval (CLUSTRO_GITHUB_SYNC_INTERVAL): 1s is below 10s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := ""
			if tc.file != "" {
				path = writeConfig(t, tc.file)
			}
			c, err := Load(path, func(k string) string { return tc.env[k] })
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Errorf("got %v, want an error containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := c.GitHub.SyncInterval.D(); got != tc.want {
				t.Errorf("syncInterval %s, want %s", got, tc.want)
			}
		})
	}
}
