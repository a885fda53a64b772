package bot

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/slack-go/slack"

	"github.com/clustropg/clustro/request"
	"github.com/clustropg/clustro/store"
)

// /pg list answers with one page of databases: listPageSize of them, in
// environment/team/name order, with buttons to the previous and next
// pages, and, when there is more than one page, how to narrow the list
// (mine, a team, an environment). A page of the longest names and links
// stays under maxMessageText, so Slack takes it whatever the names; a
// thousand databases are forty pages.
//
// A page button carries the filter and the key where its page ends (a
// cursor, not an offset): while databases are added or deleted between
// clicks, every database that exists throughout is still shown exactly
// once across the pages. A click replaces the message in place
// (replace_original on the click's response_url).

// listPageSize is how many databases a page shows.
const listPageSize = 25

// Action ids of the page buttons; their value is the page's listQuery.
const (
	actionListNext = "list.next"
	actionListPrev = "list.prev"
)

const listUsage = "Usage: `/pg list [mine] [team <team>] [env <env>]`, like `/pg list env prod` or `/pg list mine team billing`."

// listQuery is what /pg list shows: a filter and where the page is.
type listQuery struct {
	Mine bool
	Team string
	Env  string
	// After starts the page after that key; Before ends it before that
	// key; neither is the first page.
	After, Before string
}

// parseListQuery reads /pg list's arguments: mine, team <team> (or
// team=<team>), env <env> (or env=<env>), in any order.
func parseListQuery(p *request.Policy, rest []string) (listQuery, string) {
	var q listQuery
	for i := 0; i < len(rest); i++ {
		word := strings.ToLower(rest[i])
		key, value, hasValue := strings.Cut(word, "=")
		if !hasValue && (key == "team" || key == "env" || key == "environment") && i+1 < len(rest) {
			value, hasValue = strings.ToLower(rest[i+1]), true
			i++
		}
		switch {
		case word == "mine":
			q.Mine = true
		case key == "team" && hasValue && value != "":
			q.Team = strings.TrimPrefix(value, "@")
		case (key == "env" || key == "environment") && hasValue && value != "":
			q.Env = normalizeEnv(p, value)
			if !p.HasEnvironment(q.Env) {
				return q, fmt.Sprintf("%q is not an environment; allowed: %s. %s", clip(value, 40), strings.Join(p.EnvironmentNames(), ", "), listUsage)
			}
		default:
			return q, listUsage
		}
	}
	if len(q.Team) > request.MaxTeamLength {
		return q, fmt.Sprintf("There is no team %q. %s", clip(q.Team, 40), listUsage)
	}
	return q, ""
}

// encode is the query as a page button's value.
func (q listQuery) encode() string {
	v := url.Values{}
	if q.Mine {
		v.Set("mine", "1")
	}
	for k, s := range map[string]string{"team": q.Team, "env": q.Env, "after": q.After, "before": q.Before} {
		if s != "" {
			v.Set(k, s)
		}
	}
	return v.Encode()
}

func decodeListQuery(s string) (listQuery, error) {
	v, err := url.ParseQuery(s)
	if err != nil {
		return listQuery{}, fmt.Errorf("list page %q: %w", s, err)
	}
	return listQuery{Mine: v.Get("mine") == "1", Team: v.Get("team"), Env: v.Get("env"), After: v.Get("after"), Before: v.Get("before")}, nil
}

// title names what the list shows.
func (q listQuery) title() string {
	t := "Databases"
	if q.Mine {
		t = "Your databases"
	}
	if q.Team != "" {
		t += " of team " + q.Team
	}
	if q.Env != "" {
		t += " in " + q.Env
	}
	return t
}

// commandList answers /pg list on the response_url.
func (b *Bot) commandList(cmd slack.SlashCommand, rest []string) any {
	q, msg := parseListQuery(b.policy, rest)
	if msg != "" {
		return ephemeralReply(text(msg))
	}
	return b.answerLater("list", func(ctx context.Context) error {
		m, err := b.listMessage(ctx, q, cmd.UserID)
		if err != nil {
			return errors.Join(err, b.respond(ctx, cmd.ResponseURL, text("I could not read the requests; try again in a minute.")))
		}
		return b.respond(ctx, cmd.ResponseURL, m)
	})
}

// onListPage shows the page a button names, in place of the message.
func (b *Bot) onListPage(ctx context.Context, cb slack.InteractionCallback, act *slack.BlockAction) error {
	q, err := decodeListQuery(act.Value)
	if err != nil {
		return err
	}
	m, err := b.listMessage(ctx, q, cb.User.ID)
	if err != nil {
		return errors.Join(err, b.respond(ctx, cb.ResponseURL, text("I could not read the requests; try again in a minute.")))
	}
	return b.replace(ctx, cb.ResponseURL, m)
}

// listMessage reads the databases q selects and shows its page.
func (b *Bot) listMessage(ctx context.Context, q listQuery, user string) (message, error) {
	f := store.Filter{Environment: q.Env, Team: q.Team}
	if q.Mine {
		f.RequesterID = user
	}
	recs, err := b.store.ListRequests(ctx, f)
	if err != nil {
		return message{}, fmt.Errorf("list databases: %w", err)
	}
	return listPage(q, listed(recs)), nil
}

// listed is the databases a list shows, each by its newest request, in
// key order: not deleted, and not a creation that was cancelled.
func listed(recs []store.Record) []store.Record {
	var out []store.Record
	for _, rec := range latestPerDatabase(recs) {
		if rec.State == request.Deleted || (rec.State == request.Cancelled && rec.Request.Kind == request.Create) {
			continue
		}
		out = append(out, rec)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Request.Key() < out[j].Request.Key() })
	return out
}

// listPage is the page of dbs (in key order) that q names.
func listPage(q listQuery, dbs []store.Record) message {
	if len(dbs) == 0 {
		return text(q.title() + ": none yet. Ask with `/pg new`.")
	}
	key := func(i int) string { return dbs[i].Request.Key() }
	start, end := 0, min(listPageSize, len(dbs))
	switch {
	case q.Before != "":
		end = sort.Search(len(dbs), func(i int) bool { return key(i) >= q.Before })
		start = max(0, end-listPageSize)
	case q.After != "":
		start = sort.Search(len(dbs), func(i int) bool { return key(i) > q.After })
		end = min(start+listPageSize, len(dbs))
	}
	if start >= end { // the page's databases are gone: back to the first
		start, end = 0, min(listPageSize, len(dbs))
	}
	head := fmt.Sprintf("*%s*", q.title())
	if start > 0 || end < len(dbs) {
		head += fmt.Sprintf(" · %s–%s of %s", thousands(start+1), thousands(end), thousands(len(dbs)))
	}
	lines := make([]string, 0, end-start)
	for _, rec := range dbs[start:end] {
		lines = append(lines, listLine(rec))
	}
	body := strings.Join(lines, "\n")
	m := message{Text: head + "\n" + body, Blocks: append([]slack.Block{section(head)}, sections(body)...)}
	if start == 0 && end == len(dbs) {
		return m
	}
	var buttons []slack.BlockElement
	if start > 0 {
		prev := q
		prev.After, prev.Before = "", key(start)
		buttons = append(buttons, button(actionListPrev, prev.encode(), fmt.Sprintf("‹ Previous %d", min(listPageSize, start))))
	}
	if end < len(dbs) {
		next := q
		next.After, next.Before = key(end-1), ""
		btn := button(actionListNext, next.encode(), fmt.Sprintf("Next %d ›", min(listPageSize, len(dbs)-end)))
		btn.Style = slack.StylePrimary
		buttons = append(buttons, btn)
	}
	m.Blocks = append(m.Blocks, slack.NewActionBlock("list.pages", buttons...))
	var narrow []string
	if !q.Mine {
		narrow = append(narrow, "`/pg list mine`")
	}
	if q.Team == "" {
		narrow = append(narrow, "`/pg list team <team>`")
	}
	if q.Env == "" {
		narrow = append(narrow, "`/pg list env <env>`")
	}
	if len(narrow) > 0 {
		m.Blocks = append(m.Blocks, contextText("Narrow the list with "+strings.Join(narrow, ", ")+"; they combine."))
	}
	return m
}

// listLine is one database in /pg list.
func listLine(rec store.Record) string {
	r := rec.Request
	line := fmt.Sprintf("%s `%s` %s · %s, %d×", stateEmoji(rec.State), r.Key(), rec.State, r.Size, r.Instances)
	if r.Kind != request.Create {
		line += " · " + string(r.Kind)
	}
	if rec.PR.URL != "" {
		line += fmt.Sprintf(" · <%s|#%d>", rec.PR.URL, rec.PR.Number)
	}
	return line
}

// thousands writes n with a comma between thousands (1,000).
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
