package bot

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/clustropg/clustro/bot/slacktest"
	"github.com/clustropg/clustro/request"
	"github.com/clustropg/clustro/store"
)

// longTeam is a team name of request.MaxTeamLength characters.
const longTeam = "platform-engineering-databases"

// longPRURL is a pull request link as long as GitHub's names allow (an
// owner of 39 characters, a repository of 100).
var longPRURL = "https://github.com/" + strings.Repeat("o", 39) + "/" + strings.Repeat("r", 100) + "/pull/"

// longestName is the longest database name the policy allows for team in
// env: <name>.<team>.<env> (the catalog entity's name) takes 63
// characters, and the name at most request.MaxNameLength.
func longestName(env, team string, i int) string {
	n := min(request.MaxNameLength(), request.EntityNameMaxLength-len(request.QualifiedName(env, team, "")))
	suffix := fmt.Sprintf("-%05d", i)
	return strings.Repeat("l", n-len(suffix)) + suffix
}

// manyDatabases stores n databases, spread over the environments, with the
// longest names the policy allows, each with an open pull request with a
// long link and a change kind that lengthens its line (as long a /pg list
// line as there can be); it returns their keys, sorted.
func (h *harness) manyDatabases(n int) []string {
	h.t.Helper()
	ctx := context.Background()
	envs := h.policy.EnvironmentNames()
	var keys []string
	for i := range n {
		env := envs[i%len(envs)]
		r, err := h.policy.Resolve(request.DatabaseRequest{
			Spec:      request.Spec{Name: longestName(env, longTeam, i), Team: longTeam, Environment: env, Size: request.SizeL},
			Requester: request.Requester{ID: alice.ID}, Origin: slackOrigin(slacktest.TeamID, general, "")})
		if err != nil {
			h.t.Fatal(err)
		}
		if i%2 == 1 {
			r.Kind = request.Backup
		}
		rec, _, err := h.store.CreateRequest(ctx, store.NewRequest{Request: r, Event: request.Event{Actor: alice.ID}})
		if err != nil {
			h.t.Fatal(err)
		}
		pr := store.PullRequest{Number: 100000 + i, URL: fmt.Sprintf("%s%d", longPRURL, 100000+i)}
		if _, err := h.store.UpdateRequest(ctx, rec.ID(), store.Change{PR: &pr}, request.Event{Actor: "test"}); err != nil {
			h.t.Fatal(err)
		}
		keys = append(keys, r.Key())
	}
	slices.Sort(keys)
	return keys
}

// blocksOf is the blocks a response_url post sent, as JSON with <, > and &
// unescaped.
func blocksOf(c slacktest.Call) string {
	return strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&").Replace(c.Args.Get("blocks"))
}

var listedKeyRE = regexp.MustCompile("`([a-z0-9-]+/[a-z0-9-]+/[a-z0-9-]+)`")

// listedKeys are the database keys a response_url post shows, in order.
func listedKeys(c slacktest.Call) []string {
	var keys []string
	for _, m := range listedKeyRE.FindAllStringSubmatch(c.Args.Get("blocks"), -1) {
		keys = append(keys, m[1])
	}
	return keys
}

// lastResponseCall is the last post on a response_url; Slack must have
// taken it.
func (h *harness) lastResponseCall() slacktest.Call {
	h.t.Helper()
	calls := h.slack.CallsTo("response_url")
	if len(calls) == 0 {
		h.t.Fatal("nothing was posted on a response_url")
	}
	c := calls[len(calls)-1]
	if !c.OK() {
		h.t.Fatalf("Slack refused the answer: %d %s\n%s", c.Status, c.Error, c.Body)
	}
	return c
}

// page clicks a page button of the last /pg list answer; false when it
// has no such button.
func (h *harness) page(actionID string, u slacktest.User) bool {
	h.t.Helper()
	cb, err := h.slack.ClickInResponse(h.lastResponseCall(), general, actionID, u)
	if err != nil {
		return false
	}
	h.serve(h.signer.Interaction(PathInteractions, cb))
	return true
}

// TestListOfAThousandDatabases: /pg list over 1,000 databases with the
// longest names the policy allows is delivered (issue 12: one section of
// 3,460 characters for 45 databases, refused with invalid_blocks), one
// page of 25 at a time, each read from the store alone (the list is not
// counted: the first page says 1–25, and the last one the total); Next
// walks every page, each database shown once, in order; Previous comes
// back; each click replaces the message.
func TestListOfAThousandDatabases(t *testing.T) {
	h := newHarness(t)
	keys := h.manyDatabases(1000)

	h.command(alice, general, "list")
	first := h.lastResponseCall()
	mustContain(t, "the first page", blocksOf(first), "*Databases* · 1–25\"", "Next ›",
		"`/pg list mine`", "`/pg list team <team>`", "`/pg list env <env>`")
	var seen []string
	pages := 0
	for {
		c := h.lastResponseCall()
		pages++
		seen = append(seen, listedKeys(c)...)
		if pages > 1 && c.Args.Get("replace_original") != "true" {
			t.Errorf("page %d did not replace the message", pages)
		}
		if !h.page(actionListNext, alice) {
			break
		}
		if pages > 50 {
			t.Fatal("more than 50 pages")
		}
	}
	if pages != 40 {
		t.Errorf("%d pages, want 40", pages)
	}
	if !slices.Equal(seen, keys) {
		t.Errorf("the pages show %d databases (%d distinct); want the 1,000, once each, in order", len(seen), len(slices.Compact(slices.Clone(seen))))
	}
	mustContain(t, "the last page", blocksOf(h.lastResponseCall()), "976–1,000 of 1,000", "‹ Previous 25")
	if !h.page(actionListPrev, alice) {
		t.Fatal("no Previous on the last page")
	}
	if got := listedKeys(h.lastResponseCall()); !slices.Equal(got, keys[950:975]) {
		t.Errorf("Previous shows %v…, want from %s", got[:1], keys[950])
	}
	for _, c := range h.slack.Calls() {
		if !c.OK() {
			t.Errorf("Slack refused %s: %s", c.Method, c.Error)
		}
	}
}

// TestListPagesWhileDatabasesChange: a page button carries where its page
// ends, not an offset: databases added or deleted between clicks neither
// repeat nor skip those that exist throughout, whether the pages are read
// from the store one at a time (list) or from the user's requests (list
// mine).
func TestListPagesWhileDatabasesChange(t *testing.T) {
	for _, command := range []string{"list", "list mine"} {
		t.Run(command, func(t *testing.T) {
			h := newHarness(t)
			keys := h.manyDatabases(60)
			h.command(alice, general, command)
			page1 := listedKeys(h.lastResponseCall())
			// Meanwhile: a database that sorts onto the first page appears, and
			// one of the next page's goes (its creation cancelled).
			h.readyDatabase("dev", "aaa", "early", alice, request.Ready)
			want := slices.Clone(keys[25:])
			ctx := context.Background()
			for i, k := range want {
				parts := strings.Split(k, "/")
				rec, err := h.store.LatestRequest(ctx, parts[0], parts[1], parts[2])
				if err != nil {
					t.Fatal(err)
				}
				if rec.Request.Kind == request.Create {
					if _, err := h.store.Transition(ctx, rec.ID(), request.Cancelled, request.Event{Actor: "test"}); err != nil {
						t.Fatal(err)
					}
					want = slices.Delete(want, i, i+1)
					break
				}
			}
			var rest []string
			for h.page(actionListNext, alice) {
				rest = append(rest, listedKeys(h.lastResponseCall())...)
			}
			if !slices.Equal(page1, keys[:25]) || !slices.Equal(rest, want) {
				t.Errorf("pages:\n%v\n%v\nwant\n%v\n%v", page1, rest, keys[:25], want)
			}
		})
	}
}
