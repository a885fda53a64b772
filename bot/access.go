package bot

import (
	"context"
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
