package bot

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// accessChecker applies the access rules of config.Slack: which channels
// and user groups may request databases in an environment. Group members
// are cached briefly (usergroups.users.list is rate limited, and a refusal
// must come within Slack's 3 s).
type accessChecker struct {
	b   *Bot
	ttl time.Duration

	mu     sync.Mutex
	groups map[string]cachedGroup
}

type cachedGroup struct {
	members []string
	at      time.Time
}

func newAccessChecker(b *Bot, ttl time.Duration) *accessChecker {
	return &accessChecker{b: b, ttl: ttl, groups: map[string]cachedGroup{}}
}

// refusal returns "" when user may request a database in env from channel,
// or the sentence saying who may and where. An error means membership
// could not be checked.
func (a *accessChecker) refusal(ctx context.Context, env, channel, user string) (string, error) {
	rule := a.b.cfg.AccessFor(env)
	if !rule.Restricted() {
		return "", nil
	}
	okChannel := len(rule.Channels) == 0 || slices.Contains(rule.Channels, channel)
	okGroup := len(rule.UserGroups) == 0
	if okChannel {
		for _, g := range rule.UserGroups {
			members, err := a.members(ctx, g)
			if err != nil {
				return "", fmt.Errorf("check membership of %s: %w", g, err)
			}
			if slices.Contains(members, user) {
				okGroup = true
				break
			}
		}
	}
	if okChannel && okGroup {
		return "", nil
	}
	who := ""
	if len(rule.UserGroups) > 0 {
		groups := make([]string, len(rule.UserGroups))
		for i, g := range rule.UserGroups {
			groups[i] = "<!subteam^" + g + ">"
		}
		who = " by " + strings.Join(groups, " or ")
	}
	where := ""
	if len(rule.Channels) > 0 {
		chans := make([]string, len(rule.Channels))
		for i, c := range rule.Channels {
			chans[i] = "<#" + c + ">"
		}
		where = " in " + strings.Join(chans, " or ")
	}
	return fmt.Sprintf("%s databases can be requested%s%s.", env, who, where), nil
}

func (a *accessChecker) members(ctx context.Context, group string) ([]string, error) {
	now := a.b.now()
	a.mu.Lock()
	c, ok := a.groups[group]
	a.mu.Unlock()
	if ok && now.Sub(c.at) < a.ttl {
		return c.members, nil
	}
	members, err := a.b.groupMembers(ctx, group)
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	a.groups[group] = cachedGroup{members: members, at: now}
	a.mu.Unlock()
	return members, nil
}

// reconcileRefusal returns "" when user may reconcile the database of team
// in env from channel, or the sentence saying who may: anyone in the
// owning team's channel (unless the environment's reconcile rule turns it
// off), the members of slack.adminGroups and of the rule's user groups.
// An error means membership could not be checked (the sentence says so).
func (a *accessChecker) reconcileRefusal(ctx context.Context, env, team, channel, user string) (string, error) {
	cfg := a.b.cfg
	rule := cfg.ReconcileFor(env)
	teamChannel := ""
	if rule.InTeamChannel() {
		teamChannel = cfg.ChannelOfTeam(team)
	}
	if teamChannel != "" && channel == teamChannel {
		return "", nil
	}
	groups := append(slices.Clone(cfg.AdminGroups), rule.Groups()...)
	var errs []error
	for _, g := range groups {
		members, err := a.members(ctx, g)
		if err != nil {
			errs = append(errs, fmt.Errorf("check membership of %s: %w", g, err))
			continue
		}
		if slices.Contains(members, user) {
			return "", nil
		}
	}
	var allowed []string
	if teamChannel != "" {
		allowed = append(allowed, fmt.Sprintf("anyone in <#%s> (team %s's channel)", teamChannel, team))
	}
	if len(groups) > 0 {
		mentions := make([]string, len(groups))
		for i, g := range groups {
			mentions[i] = "<!subteam^" + g + ">"
		}
		allowed = append(allowed, "members of "+strings.Join(mentions, " or ")+" (from any channel)")
	}
	if len(errs) > 0 {
		return fmt.Sprintf("I could not check who may reconcile %s databases (Slack did not answer); try again in a minute.", env), errors.Join(errs...)
	}
	if len(allowed) == 0 {
		return fmt.Sprintf("Nobody may reconcile %s databases of team %s from Slack: the team has no channel allowed (slack.teamChannels) and no admin or reconcile groups are set (slack.adminGroups, slack.access.%s.reconcile.userGroups).", env, team, env), nil
	}
	return fmt.Sprintf("%s databases of team %s can be reconciled by %s.", env, team, strings.Join(allowed, ", or ")), nil
}
