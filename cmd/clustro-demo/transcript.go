package main

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/clustropg/clustro/bot/slacktest"
)

// The transcript: what the bot posts in Slack, read as terminal lines.

// botMessage is a message of the bot, as first seen.
type botMessage struct {
	channel, ts string
	text        string
	content     slackContent
}

// dmChannel is the direct message channel of the demo's user.
func dmChannel() string { return slacktest.DMChannel(demoUserID) }

// flushSlack prints the messages the bot posted since the last call, and
// notes a question waiting for an answer and the URI of a DM.
func (d *demo) flushSlack() {
	for _, ch := range []string{demoChannel, demoTeamChannel, dmChannel()} {
		msgs := d.slack.Messages(ch)
		for _, m := range msgs[min(d.seen[ch], len(msgs)):] {
			d.printMessage(m)
		}
		d.seen[ch] = len(msgs)
	}
}

var (
	uriRE = regexp.MustCompile("postgres(?:ql)?://[^\\s`'\"<>]+")
	// statusCardRE is the head of the status message: "prod/billing/ledger · create · submitted".
	statusCardRE = regexp.MustCompile(`^[a-z0-9-]+/[a-z0-9-]+/[a-z0-9-]+ · [a-z]+ · `)
)

// printMessage prints one message of the bot as a terminal transcript line.
func (d *demo) printMessage(m slacktest.Message) {
	content, err := parseBlocks(m.Blocks)
	body := strings.Join(content.Sections, "\n")
	if err != nil || body == "" {
		body = m.Text
	}
	text := plainSlack(body, d.names)
	card := statusCardRE.MatchString(text)
	who := "clustro"
	switch {
	case m.Ephemeral:
		who = fmt.Sprintf("clustro (only @%s sees this)", demoUserName)
	case card:
		// Posted once per request and edited at each step: shown as it
		// stands when first seen.
		who = "clustro (status card, updated in place)"
	}
	var prefix string
	switch {
	case m.Channel == dmChannel():
		prefix = fmt.Sprintf("DM to %s (private)  %s: ", demoUserName, who)
	case m.ThreadTS != "" && m.ThreadTS == d.thread:
		prefix = "  " + who + ": "
	default:
		prefix = fmt.Sprintf("#%s  %s: ", d.names[m.Channel], who)
	}
	line := text
	if len(content.Buttons) > 0 {
		line += "\n" + buttonsLine(content.Buttons)
	}
	pad := strings.Repeat(" ", len(prefix))
	fmt.Fprintln(d.out, prefix+indent(line, pad))

	asks := len(content.Buttons) > 0 || slices.ContainsFunc(content.Context, func(s string) bool { return strings.Contains(s, "Type your answer") })
	if asks && !m.Ephemeral && m.Channel == demoChannel && m.ThreadTS == d.thread {
		d.pending = &botMessage{channel: m.Channel, ts: m.TS, text: text, content: content}
	}
	if m.Channel == dmChannel() {
		if u := uriRE.FindString(m.Text); u != "" {
			d.uri = u
		}
	}
	if m.Channel == demoChannel && strings.Contains(text, " is ready: ") {
		d.ready = true
	}
	if key, _, _ := strings.Cut(text, " · "); m.Channel == demoChannel && card && d.cards[key] == "" {
		d.cards[key] = m.TS
	}
}

// waitFor polls cond, printing Slack messages as they come, until it
// holds or within has passed.
func (d *demo) waitFor(ctx context.Context, what string, within time.Duration, cond func() (bool, error)) error {
	deadline := time.Now().Add(within)
	for {
		d.flushSlack()
		ok, err := cond()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no %s after %s", what, within)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// since is the time since t, for people.
func since(t time.Time) time.Duration { return time.Since(t).Round(100 * time.Millisecond) }

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
// (names maps user and channel ids), links "label: url", emoji codes and
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

// printDiff lists the pull request's files and shows the module call of
// the workspace's main.tf: what a reviewer reads.
func (d *demo) printDiff(ctx context.Context, n int, head string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/repos/%s/%s/pulls/%d/files", d.gh.URL(), demoOwner, demoRepo, n), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+d.state.GitHubToken)
	resp, err := d.http.Do(req)
	if err != nil {
		return fmt.Errorf("list the pull request's files: %w", err)
	}
	defer resp.Body.Close()
	var files []struct {
		Filename  string `json:"filename"`
		Additions int    `json:"additions"`
		Deletions int    `json:"deletions"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&files); err != nil {
		return fmt.Errorf("list the pull request's files: %w", err)
	}
	var parts []string
	mainTF := ""
	for _, f := range files {
		parts = append(parts, fmt.Sprintf("%s (+%d)", f.Filename, f.Additions))
		if path.Base(f.Filename) == "main.tf" {
			mainTF = f.Filename
		}
	}
	fmt.Fprintf(d.out, "  diff: %s\n", strings.Join(parts, "  "))
	if mainTF == "" {
		return nil
	}
	b, err := d.gh.ReadFile(head, mainTF)
	if err != nil {
		return err
	}
	fmt.Fprintf(d.out, "  %s, the module call:\n", path.Base(mainTF))
	in := false
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "module ") {
			in = true
		}
		if in {
			fmt.Fprintln(d.out, "    "+l)
		}
		if in && l == "}" {
			break
		}
	}
	return nil
}

// printPlan shows the plan as the pull request carries it: clustro's
// commit status and the summary line of its comment.
func (d *demo) printPlan(n int, sha string) {
	for _, st := range d.gh.Statuses(sha) {
		if st.GetContext() == "clustro/plan" {
			fmt.Fprintf(d.out, "  clustro/plan: %s  %s\n", st.GetState(), st.GetDescription())
			break
		}
	}
	for _, c := range d.gh.Comments(n) {
		if strings.Contains(c.GetBody(), "Plan: ") {
			fmt.Fprintf(d.out, "  comment by %s: %s\n", c.GetUser().GetLogin(), firstLineWith(c.GetBody(), "Plan: "))
		}
	}
}

// firstLineWith is the first line of s containing sub, trimmed.
func firstLineWith(s, sub string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			return strings.Trim(strings.TrimSpace(l), "`*")
		}
	}
	return ""
}
