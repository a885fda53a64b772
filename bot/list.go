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
	// At is where the page starts in the list (0-based), for its header:
	// the store reads a page without counting the list.
	At int
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
	if q.At > 0 {
		v.Set("at", strconv.Itoa(q.At))
	}
	return v.Encode()
}

func decodeListQuery(s string) (listQuery, error) {
	v, err := url.ParseQuery(s)
	if err != nil {
		return listQuery{}, fmt.Errorf("list page %q: %w", s, err)
	}
	at, _ := strconv.Atoi(v.Get("at"))
	return listQuery{Mine: v.Get("mine") == "1", Team: v.Get("team"), Env: v.Get("env"), After: v.Get("after"), Before: v.Get("before"), At: max(at, 0)}, nil
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

// listMessage reads the page q names and shows it. Without mine it reads
// one page from the store (store.ListDatabases: the work of a page, not of
// every database); mine reads the user's own requests, as many as they
// made, and pages them here.
func (b *Bot) listMessage(ctx context.Context, q listQuery, user string) (message, error) {
	release, err := b.reading(ctx)
	if err != nil {
		return message{}, fmt.Errorf("list databases: %w", err)
	}
	defer release()
	if q.Mine {
		recs, err := b.store.ListRequests(ctx, store.Filter{Environment: q.Env, Team: q.Team, RequesterID: user})
		if err != nil {
			return message{}, fmt.Errorf("list databases: %w", err)
		}
		return listPage(q, listed(recs)), nil
	}
	pg, err := b.storePage(ctx, q)
	if err != nil {
		return message{}, fmt.Errorf("list databases: %w", err)
	}
	if len(pg.entries) == 0 && (q.After != "" || q.Before != "") {
		// The page's databases are gone: back to the first.
		q.After, q.Before, q.At = "", "", 0
		if pg, err = b.storePage(ctx, q); err != nil {
			return message{}, fmt.Errorf("list databases: %w", err)
		}
	}
	return pg.message(q, databasesList(q)), nil
}

// listWalk is how many databases one read takes while Previous looks for
// the page before a key.
const listWalk = 200

// entry is one line of a paged list and the key of the database it shows.
type entry struct {
	key  store.DatabaseKey
	line string
}

// readEntries reads up to limit entries after a key, in key order (the
// zero key: from the start).
type readEntries func(ctx context.Context, after store.DatabaseKey, limit int) ([]entry, error)

// storePage reads the page q names from the store: the databases, as
// /pg list shows them.
func (b *Bot) storePage(ctx context.Context, q listQuery) (page, error) {
	f := store.DatabaseFilter{Environment: q.Env, Team: q.Team, Existing: true}
	return readPage(ctx, q, func(ctx context.Context, after store.DatabaseKey, limit int) ([]entry, error) {
		dbs, err := b.store.ListDatabases(ctx, f, after, limit)
		if err != nil {
			return nil, err
		}
		out := make([]entry, len(dbs))
		for i, e := range dbs {
			out[i] = entry{key: e.Key, line: listLine(e.Newest)}
		}
		return out, nil
	})
}

// readPage reads the page q names through read: after q.After (one read of
// a page and one more entry, to know whether there is a next page), or,
// for Previous, the page before q.Before, found by reading forward from
// the first entry (the store reads in one direction); only a click on
// Previous pays for that walk.
func readPage(ctx context.Context, q listQuery, read readEntries) (page, error) {
	if q.Before == "" {
		entries, err := read(ctx, databaseKey(q.After), listPageSize+1)
		if err != nil {
			return page{}, err
		}
		pg := page{start: q.At, total: -1, prev: q.After != "", next: len(entries) > listPageSize}
		pg.entries = entries[:min(len(entries), listPageSize)]
		if !pg.next {
			pg.total = pg.start + len(pg.entries)
		}
		return pg, nil
	}
	var (
		before []entry // the last listPageSize entries before q.Before
		seen   int     // entries before q.Before
		after  store.DatabaseKey
		next   bool
	)
walk:
	for {
		entries, err := read(ctx, after, listWalk)
		if err != nil {
			return page{}, err
		}
		for _, e := range entries {
			if !databaseKeyLess(e.key, databaseKey(q.Before)) {
				next = true
				break walk
			}
			seen++
			before = append(before, e)
			if len(before) > listPageSize {
				before = before[1:]
			}
		}
		if len(entries) < listWalk {
			break
		}
		after = entries[len(entries)-1].key
	}
	pg := page{entries: before, start: seen - len(before), total: -1, prev: seen > len(before), next: next}
	if !next {
		pg.total = seen
	}
	return pg, nil
}

// keyText writes a key as a page button carries it (env/team/name).
func keyText(k store.DatabaseKey) string { return k.Environment + "/" + k.Team + "/" + k.Name }

// databaseKey reads a key as a page button carries it (env/team/name).
func databaseKey(key string) store.DatabaseKey {
	parts := strings.SplitN(key, "/", 3)
	for len(parts) < 3 {
		parts = append(parts, "")
	}
	return store.DatabaseKey{Environment: parts[0], Team: parts[1], Name: parts[2]}
}

// databaseKeyLess orders keys as the store lists them.
func databaseKeyLess(a, b store.DatabaseKey) bool {
	if a.Environment != b.Environment {
		return a.Environment < b.Environment
	}
	if a.Team != b.Team {
		return a.Team < b.Team
	}
	return a.Name < b.Name
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
	sort.Slice(out, func(i, j int) bool { return recordKeyLess(out[i], out[j]) })
	return out
}

func recordKeyLess(a, b store.Record) bool {
	return databaseKeyLess(databaseKey(a.Request.Key()), databaseKey(b.Request.Key()))
}

// page is one page of a list: its entries, where it starts (0-based),
// the list's length when known (-1 when not), and whether there are
// entries before and after it.
type page struct {
	entries    []entry
	start      int
	total      int
	prev, next bool
}

// listKind is what a paged list is: its title, what it says when empty,
// the action ids of its page buttons and the command that narrows it.
type listKind struct {
	title, empty string
	next, prev   string
	// command is the subcommand ("list", "drift"); mine whether it takes
	// `mine`.
	command string
	mine    bool
}

// databasesList is the kind of /pg list's pages.
func databasesList(q listQuery) listKind {
	return listKind{title: q.title(), empty: q.title() + ": none yet. Ask with `/pg new`.",
		next: actionListNext, prev: actionListPrev, command: "list", mine: true}
}

// listPage is the page of dbs (all the databases, in key order) that q
// names.
func listPage(q listQuery, dbs []store.Record) message {
	key := func(i int) store.DatabaseKey { return databaseKey(dbs[i].Request.Key()) }
	start, end := 0, min(listPageSize, len(dbs))
	switch {
	case q.Before != "":
		end = sort.Search(len(dbs), func(i int) bool { return !databaseKeyLess(key(i), databaseKey(q.Before)) })
		start = max(0, end-listPageSize)
	case q.After != "":
		start = sort.Search(len(dbs), func(i int) bool { return databaseKeyLess(databaseKey(q.After), key(i)) })
		end = min(start+listPageSize, len(dbs))
	}
	if start >= end { // the page's databases are gone: back to the first
		start, end = 0, min(listPageSize, len(dbs))
	}
	entries := make([]entry, 0, end-start)
	for i := start; i < end; i++ {
		entries = append(entries, entry{key: key(i), line: listLine(dbs[i])})
	}
	return page{entries: entries, start: start, total: len(dbs), prev: start > 0, next: end < len(dbs)}.message(q, databasesList(q))
}

// message shows the page, with buttons to the previous and next pages.
func (pg page) message(q listQuery, kind listKind) message {
	if len(pg.entries) == 0 {
		return text(kind.empty)
	}
	start, end := pg.start, pg.start+len(pg.entries)
	head := fmt.Sprintf("*%s*", kind.title)
	if pg.prev || pg.next {
		head += fmt.Sprintf(" · %s–%s", thousands(start+1), thousands(end))
		if pg.total >= 0 {
			head += " of " + thousands(pg.total)
		}
	}
	lines := make([]string, 0, len(pg.entries))
	for _, e := range pg.entries {
		lines = append(lines, e.line)
	}
	body := strings.Join(lines, "\n")
	m := message{Text: head + "\n" + body, Blocks: append([]slack.Block{section(head)}, sections(body)...)}
	if !pg.prev && !pg.next {
		return m
	}
	var buttons []slack.BlockElement
	if pg.prev {
		prev := q
		prev.After, prev.Before, prev.At = "", keyText(pg.entries[0].key), max(0, start-listPageSize)
		label := "‹ Previous"
		if start > 0 {
			label = fmt.Sprintf("‹ Previous %d", min(listPageSize, start))
		}
		buttons = append(buttons, button(kind.prev, prev.encode(), label))
	}
	if pg.next {
		next := q
		next.After, next.Before, next.At = keyText(pg.entries[len(pg.entries)-1].key), "", end
		label := "Next ›"
		if pg.total >= 0 {
			label = fmt.Sprintf("Next %d ›", min(listPageSize, pg.total-end))
		}
		btn := button(kind.next, next.encode(), label)
		btn.Style = slack.StylePrimary
		buttons = append(buttons, btn)
	}
	m.Blocks = append(m.Blocks, slack.NewActionBlock(kind.command+".pages", buttons...))
	var narrow []string
	if kind.mine && !q.Mine {
		narrow = append(narrow, "`/pg "+kind.command+" mine`")
	}
	if q.Team == "" {
		narrow = append(narrow, "`/pg "+kind.command+" team <team>`")
	}
	if q.Env == "" {
		narrow = append(narrow, "`/pg "+kind.command+" env <env>`")
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
