package config

import (
	"fmt"
	"regexp"
	"sort"
	"time"
)

// Slack configures the Slack integration; it is on when BotToken and
// SigningSecret (HTTP) or AppToken (Socket Mode) are set.
type Slack struct {
	BotToken      Secret `json:"botToken"`      // CLUSTRO_SLACK_BOT_TOKEN (xoxb-...)
	SigningSecret Secret `json:"signingSecret"` // CLUSTRO_SLACK_SIGNING_SECRET
	AppToken      Secret `json:"appToken"`      // CLUSTRO_SLACK_APP_TOKEN (xapp-..., Socket Mode)
	APIURL        string `json:"apiURL"`        // CLUSTRO_SLACK_API_URL (tests, the demo)
	// Access limits who may ask for databases in an environment, by
	// channel and user group (see SlackAccess); an environment without an
	// entry is open to anyone in any channel. Its reconcile entry says who
	// may reconcile a drifted database there (see ReconcileAccess).
	Access map[string]SlackAccess `json:"access"`
	// AdminGroups are the user group ids (S...) of the platform admins:
	// their members may reconcile any database, from any channel, in every
	// environment.
	AdminGroups []string `json:"adminGroups"`
	// TeamChannels maps a team to its Slack channel id: the progress of the
	// team's requests that came through the API goes there, and /pg new in
	// that channel defaults to the team.
	TeamChannels map[string]string `json:"teamChannels"`
	// ConversationTimeout is how long a request asked for in a thread waits
	// for the next answer before it is forgotten (default 30m).
	ConversationTimeout Duration `json:"conversationTimeout"`
	// Workers is how many answers (after Slack's acknowledgements) are
	// worked on at once, and Queue how many more may wait; a command that
	// finds the queue full is told to try again (defaults 16 and 128).
	Workers int `json:"workers"`
	Queue   int `json:"queue"`
}

// Enabled reports whether Slack is configured, and if not, what is missing.
func (s Slack) Enabled() (bool, string) {
	switch {
	case !s.BotToken.IsSet():
		return false, "CLUSTRO_SLACK_BOT_TOKEN"
	case !s.SigningSecret.IsSet() && !s.AppToken.IsSet():
		return false, "CLUSTRO_SLACK_SIGNING_SECRET (or CLUSTRO_SLACK_APP_TOKEN for Socket Mode)"
	}
	return true, ""
}

var slackEnvVars = []envVar{
	{"CLUSTRO_SLACK_BOT_TOKEN", "slack.botToken (xoxb-)", func(c *Config, v string) error { c.Slack.BotToken = Secret(v); return nil }},
	{"CLUSTRO_SLACK_SIGNING_SECRET", "slack.signingSecret", func(c *Config, v string) error { c.Slack.SigningSecret = Secret(v); return nil }},
	{"CLUSTRO_SLACK_APP_TOKEN", "slack.appToken (xapp-, Socket Mode)", func(c *Config, v string) error { c.Slack.AppToken = Secret(v); return nil }},
	{"CLUSTRO_SLACK_API_URL", "slack.apiURL: Slack Web API base URL", func(c *Config, v string) error { c.Slack.APIURL = v; return nil }},
}

// SlackAccess says who may request databases in one environment through
// Slack. Both lists must allow: a request is accepted only in one of
// Channels and only from a member of one of UserGroups. An empty list
// allows any channel (or anyone).
type SlackAccess struct {
	// Channels are channel ids (C..., G...), not names: names change.
	Channels []string `json:"channels"`
	// UserGroups are user group ids (S...), as usergroups.users.list takes them.
	UserGroups []string `json:"userGroups"`
	// Reconcile says who may reconcile a database of this environment
	// (/pg reconcile and its "Apply this plan" button); nil keeps the
	// default: the owning team's channel, and the AdminGroups. Channels
	// and UserGroups above do not apply to reconciling.
	Reconcile *ReconcileAccess `json:"reconcile"`
}

// ReconcileAccess says who may reconcile a database (apply its reviewed
// code again over a drift) in one environment. Members of
// Slack.AdminGroups always may; the others are allowed here.
type ReconcileAccess struct {
	// TeamChannel allows anyone in the owning team's channel
	// (Slack.TeamChannels): running the command or clicking the button
	// there takes being a member. Nil means true.
	TeamChannel *bool `json:"teamChannel"`
	// UserGroups are more user group ids (S...) whose members may
	// reconcile in this environment, from any channel.
	UserGroups []string `json:"userGroups"`
}

// InTeamChannel reports whether the owning team's channel may reconcile
// (true unless TeamChannel is set to false; a nil rule is the default).
func (r *ReconcileAccess) InTeamChannel() bool {
	return r == nil || r.TeamChannel == nil || *r.TeamChannel
}

// Groups returns the extra user groups of the rule (none for a nil rule).
func (r *ReconcileAccess) Groups() []string {
	if r == nil {
		return nil
	}
	return r.UserGroups
}

// ReconcileFor returns who may reconcile in env besides the AdminGroups:
// the environment's reconcile rule, nil (the default) when it has none.
func (s Slack) ReconcileFor(env string) *ReconcileAccess { return s.Access[env].Reconcile }

// Restricted reports whether the access rule limits anything.
func (a SlackAccess) Restricted() bool { return len(a.Channels) > 0 || len(a.UserGroups) > 0 }

// AccessFor returns the access rule of an environment (the zero rule, which
// allows everyone, when none is configured).
func (s Slack) AccessFor(env string) SlackAccess { return s.Access[env] }

// TeamOfChannel returns the team whose channel this is, or "" when no team,
// or more than one, names it in TeamChannels.
func (s Slack) TeamOfChannel(channel string) string {
	team := ""
	for t, ch := range s.TeamChannels {
		if ch != channel {
			continue
		}
		if team != "" {
			return ""
		}
		team = t
	}
	return team
}

// ChannelOfTeam returns the channel configured for a team, or "".
func (s Slack) ChannelOfTeam(team string) string { return s.TeamChannels[team] }

// ConversationIdle is how long a thread conversation waits for an answer.
func (s Slack) ConversationIdle() time.Duration {
	if s.ConversationTimeout <= 0 {
		return 30 * time.Minute
	}
	return s.ConversationTimeout.D()
}

var (
	slackChannelID = regexp.MustCompile(`^[CG][A-Z0-9]{2,}$`)
	slackGroupID   = regexp.MustCompile(`^S[A-Z0-9]{2,}$`)
	slackTeamName  = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
)

// checkSlack reports problems with the slack section: the access and
// routing settings and the conversation timeout.
func (c *Config) checkSlack() []string {
	var problems []string
	envs := make([]string, 0, len(c.Slack.Access))
	for env := range c.Slack.Access {
		envs = append(envs, env)
	}
	sort.Strings(envs)
	for _, env := range envs {
		a := c.Slack.Access[env]
		if _, ok := c.Policy.Environments[env]; !ok {
			problems = append(problems, fmt.Sprintf("slack.access.%s: %q is not an environment; allowed: %v", env, env, c.Policy.EnvironmentNames()))
		}
		for _, ch := range a.Channels {
			if !slackChannelID.MatchString(ch) {
				problems = append(problems, fmt.Sprintf("slack.access.%s.channels: %q is not a channel id like C0123ABCD (names change, ids do not)", env, ch))
			}
		}
		for _, g := range a.UserGroups {
			if !slackGroupID.MatchString(g) {
				problems = append(problems, fmt.Sprintf("slack.access.%s.userGroups: %q is not a user group id like S0123ABCD", env, g))
			}
		}
		for _, g := range a.Reconcile.Groups() {
			if !slackGroupID.MatchString(g) {
				problems = append(problems, fmt.Sprintf("slack.access.%s.reconcile.userGroups: %q is not a user group id like S0123ABCD", env, g))
			}
		}
	}
	for _, g := range c.Slack.AdminGroups {
		if !slackGroupID.MatchString(g) {
			problems = append(problems, fmt.Sprintf("slack.adminGroups: %q is not a user group id like S0123ABCD", g))
		}
	}
	teams := make([]string, 0, len(c.Slack.TeamChannels))
	for t := range c.Slack.TeamChannels {
		teams = append(teams, t)
	}
	sort.Strings(teams)
	for _, t := range teams {
		if !slackTeamName.MatchString(t) {
			problems = append(problems, fmt.Sprintf("slack.teamChannels: %q is not a team name (lowercase letters, digits and '-')", t))
		}
		if ch := c.Slack.TeamChannels[t]; !slackChannelID.MatchString(ch) {
			problems = append(problems, fmt.Sprintf("slack.teamChannels.%s: %q is not a channel id like C0123ABCD", t, ch))
		}
	}
	if d := c.Slack.ConversationTimeout.D(); d < time.Minute || d > 7*24*time.Hour {
		problems = append(problems, fmt.Sprintf("slack.conversationTimeout: %s is outside 1m-168h", d))
	}
	if c.Slack.Workers < 1 || c.Slack.Workers > 1024 {
		problems = append(problems, fmt.Sprintf("slack.workers: %d is outside 1-1024", c.Slack.Workers))
	}
	if c.Slack.Queue < 1 || c.Slack.Queue > 100000 {
		problems = append(problems, fmt.Sprintf("slack.queue: %d is outside 1-100000", c.Slack.Queue))
	}
	return problems
}
