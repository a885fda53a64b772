package blockkit

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

func mrkdwn(s string) map[string]any { return map[string]any{"type": "mrkdwn", "text": s} }
func plain(s string) map[string]any {
	return map[string]any{"type": "plain_text", "text": s, "emoji": true}
}
func section(s string) map[string]any {
	return map[string]any{"type": "section", "text": mrkdwn(s)}
}
func button(id, label, value string) map[string]any {
	return map[string]any{"type": "button", "action_id": id, "text": plain(label), "value": value}
}
func option(text, value string) map[string]any {
	return map[string]any{"text": plain(text), "value": value}
}
func n(c int) string { return strings.Repeat("x", c) }

func blocksJSON(t *testing.T, blocks ...map[string]any) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(blocks)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func many(c int, f func(i int) map[string]any) []map[string]any {
	out := make([]map[string]any, c)
	for i := range out {
		out[i] = f(i)
	}
	return out
}

func anyList(ms []map[string]any) []any {
	out := make([]any, len(ms))
	for i, m := range ms {
		out[i] = m
	}
	return out
}

// TestMessageLimits: each of Slack's limits on a message, just at it
// (taken) and one past it (refused with Slack's error, pointing at the
// value).
func TestMessageLimits(t *testing.T) {
	tests := []struct {
		name   string
		text   string
		blocks []map[string]any
		code   string // "" when Slack takes it
		ptr    string
	}{
		{"plain text at 40,000", n(MaxMessageText), nil, "", ""},
		{"plain text past 40,000", n(MaxMessageText + 1), nil, MsgTooLong, "/text"},
		{"section at 3,000", "t", []map[string]any{section(n(MaxSectionText))}, "", ""},
		{"section past 3,000 (issue 12: /pg list of 45 databases)", "t", []map[string]any{section(n(3460))}, InvalidBlocks, "/blocks/0/text/text"},
		{"empty section text", "t", []map[string]any{section("")}, InvalidBlocks, "/blocks/0/text/text"},
		{"section without text or fields", "t", []map[string]any{{"type": "section"}}, InvalidBlocks, "/blocks/0"},
		{"50 blocks", "t", many(MaxMessageBlocks, func(int) map[string]any { return map[string]any{"type": "divider"} }), "", ""},
		{"51 blocks", "t", many(MaxMessageBlocks+1, func(int) map[string]any { return map[string]any{"type": "divider"} }), InvalidBlocks, "/blocks"},
		{"11 fields", "t", []map[string]any{{"type": "section", "fields": anyList(many(11, func(int) map[string]any { return mrkdwn("f") }))}}, InvalidBlocks, "/blocks/0/fields"},
		{"field past 2,000", "t", []map[string]any{{"type": "section", "fields": []any{mrkdwn(n(MaxFieldText + 1))}}}, InvalidBlocks, "/blocks/0/fields/0/text"},
		{"header at 150", "t", []map[string]any{{"type": "header", "text": plain(n(MaxHeaderText))}}, "", ""},
		{"header past 150", "t", []map[string]any{{"type": "header", "text": plain(n(MaxHeaderText + 1))}}, InvalidBlocks, "/blocks/0/text/text"},
		{"mrkdwn header", "t", []map[string]any{{"type": "header", "text": mrkdwn("h")}}, InvalidBlocks, "/blocks/0/text/type"},
		{"11 context elements", "t", []map[string]any{{"type": "context", "elements": anyList(many(11, func(int) map[string]any { return mrkdwn("c") }))}}, InvalidBlocks, "/blocks/0/elements"},
		{"context text past 3,000", "t", []map[string]any{{"type": "context", "elements": []any{mrkdwn(n(MaxTextObject + 1))}}}, InvalidBlocks, "/blocks/0/elements/0/text"},
		{"25 buttons", "t", []map[string]any{{"type": "actions", "elements": anyList(many(MaxActionsElements, func(i int) map[string]any { return button(fmt.Sprint("b", i), "B", "v") }))}}, "", ""},
		{"26 buttons", "t", []map[string]any{{"type": "actions", "elements": anyList(many(MaxActionsElements+1, func(i int) map[string]any { return button(fmt.Sprint("b", i), "B", "v") }))}}, InvalidBlocks, "/blocks/0/elements"},
		{"button label past 75", "t", []map[string]any{{"type": "actions", "elements": []any{button("b", n(MaxButtonText+1), "v")}}}, InvalidBlocks, "/blocks/0/elements/0/text/text"},
		{"button value past 2,000", "t", []map[string]any{{"type": "actions", "elements": []any{button("b", "B", n(MaxButtonValue+1))}}}, InvalidBlocks, "/blocks/0/elements/0/value"},
		{"action_id past 255", "t", []map[string]any{{"type": "actions", "elements": []any{button(n(MaxID+1), "B", "v")}}}, InvalidBlocks, "/blocks/0/elements/0/action_id"},
		{"two buttons with one action_id", "t", []map[string]any{{"type": "actions", "elements": []any{button("b", "B", "v"), button("b", "C", "w")}}}, InvalidBlocks, "/blocks/0/elements/1/action_id"},
		{"one action_id in two blocks", "t", []map[string]any{{"type": "actions", "elements": []any{button("b", "B", "v")}}, {"type": "actions", "elements": []any{button("b", "C", "w")}}}, "", ""},
		{"block_id past 255", "t", []map[string]any{{"type": "divider", "block_id": n(MaxID + 1)}}, InvalidBlocks, "/blocks/0/block_id"},
		{"two blocks with one block_id", "t", []map[string]any{{"type": "divider", "block_id": "a"}, {"type": "divider", "block_id": "a"}}, InvalidBlocks, "/blocks/1/block_id"},
		{"input block in a message", "t", []map[string]any{{"type": "input", "label": plain("L"), "element": map[string]any{"type": "plain_text_input", "action_id": "a"}}}, InvalidBlocks, "/blocks/0/type"},
		{"unknown block type", "t", []map[string]any{{"type": "marquee"}}, InvalidBlocks, "/blocks/0/type"},
		{"emoji on mrkdwn", "t", []map[string]any{{"type": "section", "text": map[string]any{"type": "mrkdwn", "text": "x", "emoji": true}}}, InvalidBlocks, "/blocks/0/text/emoji"},
		{"four sections of 3,000: 12,000 characters in all", "t", many(4, func(int) map[string]any { return section(n(3000)) }), "", ""},
		{"five sections of 3,000: past 12,000 in all", "t", many(5, func(int) map[string]any { return section(n(3000)) }), MsgBlocksTooLong, "/blocks"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var raw json.RawMessage
			if tc.blocks != nil {
				raw = blocksJSON(t, tc.blocks...)
			}
			ps := CheckMessage(tc.text, raw)
			if tc.code == "" {
				if len(ps) > 0 {
					t.Fatalf("refused: %v", ps)
				}
				return
			}
			if len(ps) == 0 {
				t.Fatalf("taken; Slack answers %s", tc.code)
			}
			if ps.Code() != tc.code || ps[0].Pointer != tc.ptr {
				t.Errorf("refused with %s at %s (%v); want %s at %s", ps.Code(), ps[0].Pointer, ps, tc.code, tc.ptr)
			}
		})
	}
	if ps := CheckMessage("t", json.RawMessage(`{"type":"section"}`)); ps.Code() != InvalidBlocksFormat {
		t.Errorf("blocks as an object: %v", ps)
	}
}

func input(id string, element map[string]any) map[string]any {
	return map[string]any{"type": "input", "block_id": id, "label": plain("Label"), "element": element}
}

func modal(blocks ...map[string]any) map[string]any {
	return map[string]any{"type": "modal", "title": plain("New PostgreSQL"), "submit": plain("Request"), "close": plain("Cancel"),
		"callback_id": "pg.new", "private_metadata": "{}", "blocks": anyList(blocks)}
}

// TestViewLimits: each of Slack's limits on a modal.
func TestViewLimits(t *testing.T) {
	sel := func(n int, initial string) map[string]any {
		el := map[string]any{"type": "static_select", "action_id": "s", "placeholder": plain("Choose"),
			"options": anyList(many(n, func(i int) map[string]any { return option(fmt.Sprint("o", i), fmt.Sprint("v", i)) }))}
		if initial != "" {
			el["initial_option"] = option(initial, initial)
		}
		return el
	}
	number := func(min, max, initial string) map[string]any {
		return map[string]any{"type": "number_input", "action_id": "n", "is_decimal_allowed": false,
			"min_value": min, "max_value": max, "initial_value": initial}
	}
	tests := []struct {
		name string
		edit func(v map[string]any)
		ptr  string // "" when Slack takes it
	}{
		{"a valid modal", func(map[string]any) {}, ""},
		{"title at 24", func(v map[string]any) { v["title"] = plain(n(MaxViewTitle)) }, ""},
		{"title past 24", func(v map[string]any) { v["title"] = plain(n(MaxViewTitle + 1)) }, "/view/title/text"},
		{"no title", func(v map[string]any) { delete(v, "title") }, "/view/title"},
		{"submit past 24", func(v map[string]any) { v["submit"] = plain(n(MaxViewButton + 1)) }, "/view/submit/text"},
		{"close past 24", func(v map[string]any) { v["close"] = plain(n(MaxViewButton + 1)) }, "/view/close/text"},
		{"inputs without submit", func(v map[string]any) { delete(v, "submit") }, "/view/submit"},
		{"private_metadata past 3,000", func(v map[string]any) { v["private_metadata"] = n(MaxPrivateMetadata + 1) }, "/view/private_metadata"},
		{"callback_id past 255", func(v map[string]any) { v["callback_id"] = n(MaxID + 1) }, "/view/callback_id"},
		{"100 blocks", func(v map[string]any) {
			v["blocks"] = anyList(many(MaxViewBlocks, func(i int) map[string]any { return input(fmt.Sprint("b", i), sel(1, "")) }))
		}, ""},
		{"101 blocks", func(v map[string]any) {
			v["blocks"] = anyList(many(MaxViewBlocks+1, func(i int) map[string]any { return input(fmt.Sprint("b", i), sel(1, "")) }))
		}, "/view/blocks"},
		{"label past 2,000", func(v map[string]any) {
			b := input("b", sel(1, ""))
			b["label"] = plain(n(MaxLabel + 1))
			v["blocks"] = []any{b}
		}, "/view/blocks/0/label/text"},
		{"hint past 2,000", func(v map[string]any) {
			b := input("b", sel(1, ""))
			b["hint"] = plain(n(MaxHint + 1))
			v["blocks"] = []any{b}
		}, "/view/blocks/0/hint/text"},
		{"100 options", func(v map[string]any) { v["blocks"] = []any{input("b", sel(MaxSelectOptions, ""))} }, ""},
		{"101 options", func(v map[string]any) { v["blocks"] = []any{input("b", sel(MaxSelectOptions+1, ""))} }, "/view/blocks/0/element/options"},
		{"option text past 75", func(v map[string]any) {
			s := sel(0, "")
			s["options"] = []any{option(n(MaxOptionText+1), "v")}
			v["blocks"] = []any{input("b", s)}
		}, "/view/blocks/0/element/options/0/text/text"},
		{"option value past 150", func(v map[string]any) {
			s := sel(0, "")
			s["options"] = []any{option("o", n(MaxOptionValue+1))}
			v["blocks"] = []any{input("b", s)}
		}, "/view/blocks/0/element/options/0/value"},
		{"initial option not offered", func(v map[string]any) { v["blocks"] = []any{input("b", sel(2, "none"))} }, "/view/blocks/0/element/initial_option"},
		{"placeholder past 150", func(v map[string]any) {
			v["blocks"] = []any{input("b", map[string]any{"type": "plain_text_input", "action_id": "p", "placeholder": plain(n(MaxPlaceholder + 1))})}
		}, "/view/blocks/0/element/placeholder/text"},
		{"initial value past max_length", func(v map[string]any) {
			v["blocks"] = []any{input("b", map[string]any{"type": "plain_text_input", "action_id": "p", "max_length": 3, "initial_value": "abcd"})}
		}, "/view/blocks/0/element/initial_value"},
		{"number in range", func(v map[string]any) { v["blocks"] = []any{input("b", number("3", "9", "3"))} }, ""},
		{"number below its minimum", func(v map[string]any) { v["blocks"] = []any{input("b", number("3", "9", "1"))} }, "/view/blocks/0/element/initial_value"},
		{"11 checkboxes", func(v map[string]any) {
			v["blocks"] = []any{input("b", map[string]any{"type": "checkboxes", "action_id": "c",
				"options": anyList(many(MaxCheckboxOptions+1, func(i int) map[string]any { return option("o", fmt.Sprint(i)) }))})}
		}, "/view/blocks/0/element/options"},
		{"two inputs with one block_id", func(v map[string]any) { v["blocks"] = []any{input("b", sel(1, "")), input("b", sel(1, ""))} }, "/view/blocks/1/block_id"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := modal(input("name", map[string]any{"type": "plain_text_input", "action_id": "name", "placeholder": plain("ledger")}))
			tc.edit(v)
			raw, _ := json.Marshal(v)
			ps := CheckView(raw)
			if tc.ptr == "" {
				if len(ps) > 0 {
					t.Fatalf("refused: %v", ps)
				}
				return
			}
			if len(ps) == 0 || ps.Code() != InvalidArguments || ps[0].Pointer != tc.ptr {
				t.Errorf("refused with %v; want %s at %s", ps, InvalidArguments, tc.ptr)
			}
		})
	}
}

// TestProblemWording: problems read as Slack's response_metadata messages.
func TestProblemWording(t *testing.T) {
	ps := CheckMessage("t", blocksJSON(t, section(n(3001))))
	if got, want := ps[0].String(), "must be less than 3001 characters [json-pointer:/blocks/0/text/text]"; got != want {
		t.Errorf("%q, want %q", got, want)
	}
	if got := CountText(blocksJSON(t, section("abc"), map[string]any{"type": "context", "elements": []any{mrkdwn("de")}})); got != 5 {
		t.Errorf("CountText = %d, want 5", got)
	}
}
