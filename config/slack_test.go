package config

import (
	"strings"
	"testing"
	"time"
)

func TestSlackPolicy(t *testing.T) {
	p := writeConfig(t, `
slack:
  access:
    prod: {channels: [C0PLATFORM], userGroups: [S0PLATFORM]}
  teamChannels:
    billing: C0BILLING
    search: C0SEARCH
    shared: C0SEARCH
  conversationTimeout: 45m
`)
	c, err := Load(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if a := c.Slack.AccessFor("prod"); !a.Restricted() || a.Channels[0] != "C0PLATFORM" || a.UserGroups[0] != "S0PLATFORM" {
		t.Errorf("prod access = %+v", a)
	}
	if c.Slack.AccessFor("dev").Restricted() {
		t.Error("dev is restricted without a rule")
	}
	if got := c.Slack.TeamOfChannel("C0BILLING"); got != "billing" {
		t.Errorf("team of C0BILLING = %q", got)
	}
	if got := c.Slack.TeamOfChannel("C0SEARCH"); got != "" {
		t.Errorf("a channel of two teams defaults to %q, want none", got)
	}
	if got := c.Slack.ChannelOfTeam("billing"); got != "C0BILLING" {
		t.Errorf("channel of billing = %q", got)
	}
	if c.Slack.ConversationIdle() != 45*time.Minute {
		t.Errorf("idle = %s", c.Slack.ConversationIdle())
	}
	if d, _ := Load("", nil); d.Slack.ConversationIdle() != 30*time.Minute || len(d.Slack.Access) != 0 {
		t.Errorf("defaults: %+v", d.Slack)
	}
	if (Slack{}).ConversationIdle() != 30*time.Minute {
		t.Error("the zero Slack config has no idle time")
	}
}

func TestSlackPolicyRefused(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"unknown environment", "slack:\n  access:\n    moon: {channels: [C0X]}\n", `slack.access.moon: "moon" is not an environment`},
		{"channel name instead of id", "slack:\n  access:\n    prod: {channels: ['#platform']}\n", `slack.access.prod.channels: "#platform" is not a channel id`},
		{"group handle instead of id", "slack:\n  access:\n    prod: {userGroups: ['@platform']}\n", `slack.access.prod.userGroups: "@platform" is not a user group id`},
		{"bad team channel", "slack:\n  teamChannels: {billing: billing-requests}\n", `slack.teamChannels.billing: "billing-requests" is not a channel id`},
		{"bad team name", "slack:\n  teamChannels: {Billing: C0BILLING}\n", `slack.teamChannels: "Billing" is not a team name`},
		{"idle too short", "slack:\n  conversationTimeout: 10s\n", "slack.conversationTimeout: 10s is outside 1m-168h"},
		{"admin group handle", "slack:\n  adminGroups: ['@platform']\n", `slack.adminGroups: "@platform" is not a user group id`},
		{"reconcile group handle", "slack:\n  access:\n    prod: {reconcile: {userGroups: [dbas]}}\n", `slack.access.prod.reconcile.userGroups: "dbas" is not a user group id`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(writeConfig(t, tc.yaml), nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}

// TestSlackPool: the Slack answers' pool, from the defaults and the file;
// sizes out of range are refused, naming the setting.
func TestSlackPool(t *testing.T) {
	c, err := Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Slack.Workers != 16 || c.Slack.Queue != 128 {
		t.Errorf("defaults: workers %d, queue %d; want 16 and 128", c.Slack.Workers, c.Slack.Queue)
	}
	if c, err = Load(writeConfig(t, "slack: {workers: 4, queue: 32}\n"), nil); err != nil || c.Slack.Workers != 4 || c.Slack.Queue != 32 {
		t.Errorf("from the file: workers %d, queue %d, %v", c.Slack.Workers, c.Slack.Queue, err)
	}
	for file, want := range map[string]string{
		"slack: {workers: 0}\n":    "slack.workers: 0 is outside 1-1024",
		"slack: {queue: -1}\n":     "slack.queue: -1 is outside 1-100000",
		"slack: {queue: 0}\n":      "slack.queue: 0 is outside 1-100000",
		"slack: {workers: 2000}\n": "slack.workers: 2000 is outside 1-1024",
	} {
		if _, err := Load(writeConfig(t, file), nil); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: got %v, want %q", file, err, want)
		}
	}
}

// TestSlackReconcileAccess: by default the owning team's channel and the
// admin groups may reconcile; an environment can turn the team channel off
// and allow more groups. The reconcile rule restricts no request.
func TestSlackReconcileAccess(t *testing.T) {
	c, err := Load(writeConfig(t, `
slack:
  adminGroups: [S0ADMINS]
  access:
    prod: {reconcile: {teamChannel: false, userGroups: [S0DBAS]}}
    staging: {reconcile: {userGroups: [S0ONCALL]}}
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Slack.AdminGroups) != 1 || c.Slack.AdminGroups[0] != "S0ADMINS" {
		t.Errorf("admin groups = %v", c.Slack.AdminGroups)
	}
	prod := c.Slack.ReconcileFor("prod")
	if prod.InTeamChannel() || len(prod.Groups()) != 1 || prod.Groups()[0] != "S0DBAS" {
		t.Errorf("prod reconcile = %+v", prod)
	}
	if c.Slack.AccessFor("prod").Restricted() {
		t.Error("a reconcile rule restricts requests")
	}
	if s := c.Slack.ReconcileFor("staging"); !s.InTeamChannel() || s.Groups()[0] != "S0ONCALL" {
		t.Errorf("staging reconcile = %+v", s)
	}
	if d := c.Slack.ReconcileFor("dev"); !d.InTeamChannel() || len(d.Groups()) != 0 {
		t.Errorf("dev reconcile (default) = %+v", d)
	}
	if d, _ := Load("", nil); len(d.Slack.AdminGroups) != 0 {
		t.Errorf("default admin groups = %v", d.Slack.AdminGroups)
	}
}
