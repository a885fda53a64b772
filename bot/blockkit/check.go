package blockkit

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Slack's error codes for a payload it refuses.
const (
	// InvalidBlocks: a block breaks a rule (chat.* methods, response_url).
	InvalidBlocks = "invalid_blocks"
	// InvalidBlocksFormat: blocks is not a JSON array of objects.
	InvalidBlocksFormat = "invalid_blocks_format"
	// MsgTooLong: the message's text is over MaxMessageText.
	MsgTooLong = "msg_too_long"
	// MsgBlocksTooLong: the blocks hold more than MaxBlocksText in all.
	MsgBlocksTooLong = "msg_blocks_too_long"
	// InvalidArguments: a view (views.open, views.update) breaks a rule.
	InvalidArguments = "invalid_arguments"
)

// Problem is one rule a payload breaks, where, and the error Slack
// answers for it.
type Problem struct {
	// Code is Slack's error code (InvalidBlocks, ...).
	Code string
	// Pointer is the JSON pointer of the offending value, as Slack
	// reports it ("/blocks/3/text/text").
	Pointer string
	// Message says what is wrong ("must be less than 3001 characters").
	Message string
}

// String is the problem as Slack words it in an error's
// response_metadata.messages, without the "[ERROR] " prefix.
func (p Problem) String() string { return p.Message + " [json-pointer:" + p.Pointer + "]" }

// Problems are the rules a payload breaks; none means Slack takes it.
type Problems []Problem

// Error lists the problems.
func (ps Problems) Error() string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = p.String()
	}
	return strings.Join(parts, "; ")
}

// Code is the error Slack answers for the payload: the first problem's.
func (ps Problems) Code() string {
	if len(ps) == 0 {
		return ""
	}
	return ps[0].Code
}

// CheckMessage checks a message as chat.postMessage, chat.update,
// chat.postEphemeral and a response_url take it: its text and its blocks
// (the JSON array sent as "blocks"; nil or empty for none).
func CheckMessage(text string, blocks json.RawMessage) Problems {
	c := newChecker(InvalidBlocks)
	if n := utf8.RuneCountInString(text); n > MaxMessageText {
		c.problems = append(c.problems, Problem{Code: MsgTooLong, Pointer: "/text", Message: fmt.Sprintf("must be less than %d characters", MaxMessageText+1)})
	}
	if len(blocks) > 0 && string(blocks) != "null" {
		var arr []any
		if err := json.Unmarshal(blocks, &arr); err != nil {
			c.problems = append(c.problems, Problem{Code: InvalidBlocksFormat, Pointer: "/blocks", Message: "must be an array of blocks"})
			return c.problems
		}
		c.blocks(arr, "/blocks", MaxMessageBlocks, false)
		if c.text > MaxBlocksText {
			c.problems = append(c.problems, Problem{Code: MsgBlocksTooLong, Pointer: "/blocks",
				Message: fmt.Sprintf("blocks hold %d characters of text; Slack takes about %d", c.text, MaxBlocksText)})
		}
	}
	return c.problems
}

// CheckView checks a modal as views.open and views.update take it (the
// "view" object).
func CheckView(view json.RawMessage) Problems {
	c := newChecker(InvalidArguments)
	var v map[string]any
	if err := json.Unmarshal(view, &v); err != nil {
		c.add("/view", "must be a view object")
		return c.problems
	}
	if typ, _ := v["type"].(string); typ != "modal" {
		c.add("/view/type", "must be modal")
	}
	c.text1(v["title"], "/view/title", MaxViewTitle, true, true)
	c.text1(v["submit"], "/view/submit", MaxViewButton, true, false)
	c.text1(v["close"], "/view/close", MaxViewButton, true, false)
	c.maxString(v, "private_metadata", "/view", MaxPrivateMetadata)
	c.maxString(v, "callback_id", "/view", MaxID)
	c.maxString(v, "external_id", "/view", MaxID)
	blocks, ok := v["blocks"].([]any)
	if !ok {
		c.add("/view/blocks", "must provide an array of blocks")
		return c.problems
	}
	c.blocks(blocks, "/view/blocks", MaxViewBlocks, true)
	if c.inputs > 0 && v["submit"] == nil {
		c.add("/view/submit", "must provide a submit button when the view has input blocks")
	}
	return c.problems
}

// CountText is the text a blocks array holds, summed as Slack sums it for
// MaxBlocksText; -1 if it is not an array.
func CountText(blocks json.RawMessage) int {
	var arr []any
	if err := json.Unmarshal(blocks, &arr); err != nil {
		return -1
	}
	c := newChecker(InvalidBlocks)
	c.blocks(arr, "/blocks", len(arr), true)
	return c.text
}

type checker struct {
	code     string
	problems Problems
	blockIDs map[string]bool
	// text sums every text object's text, for MaxBlocksText.
	text   int
	inputs int
}

func newChecker(code string) *checker { return &checker{code: code, blockIDs: map[string]bool{}} }

func (c *checker) add(ptr, format string, args ...any) {
	c.problems = append(c.problems, Problem{Code: c.code, Pointer: ptr, Message: fmt.Sprintf(format, args...)})
}

func runes(s string) int { return utf8.RuneCountInString(s) }

func (c *checker) tooLong(ptr string, max int) {
	c.add(ptr, "must be less than %d characters", max+1)
}

func (c *checker) tooMany(ptr string, max int) {
	c.add(ptr, "no more than %d items allowed", max)
}

// maxString checks an optional string field's length.
func (c *checker) maxString(obj map[string]any, key, ptr string, max int) {
	v, ok := obj[key]
	if !ok {
		return
	}
	s, isString := v.(string)
	switch {
	case !isString:
		c.add(ptr+"/"+key, "must be a string")
	case runes(s) > max:
		c.tooLong(ptr+"/"+key, max)
	}
}

// text1 checks a text object: plain_text or mrkdwn (plainOnly: plain_text),
// 1 to max characters, emoji only on plain_text.
func (c *checker) text1(v any, ptr string, max int, plainOnly, required bool) {
	if v == nil {
		if required {
			c.add(ptr, "must provide a text object")
		}
		return
	}
	obj, ok := v.(map[string]any)
	if !ok {
		c.add(ptr, "must be a text object")
		return
	}
	typ, _ := obj["type"].(string)
	switch {
	case typ == "plain_text":
	case typ == "mrkdwn" && !plainOnly:
		if _, ok := obj["emoji"]; ok {
			c.add(ptr+"/emoji", "emoji is only for plain_text")
		}
	case plainOnly:
		c.add(ptr+"/type", "must be plain_text")
		return
	default:
		c.add(ptr+"/type", "must be plain_text or mrkdwn")
		return
	}
	s, ok := obj["text"].(string)
	if !ok {
		c.add(ptr+"/text", "must provide a string")
		return
	}
	n := runes(s)
	c.text += n
	switch {
	case n == 0:
		c.add(ptr+"/text", "must be more than 0 characters")
	case n > max:
		c.tooLong(ptr+"/text", max)
	}
}

// blockTypes are the block types Slack knows.
var blockTypes = []string{
	"actions", "context", "context_actions", "divider", "file", "header", "image", "input",
	"markdown", "rich_text", "section", "table", "video",
}

func (c *checker) blocks(arr []any, ptr string, max int, modal bool) {
	if len(arr) > max {
		c.tooMany(ptr, max)
	}
	for i, raw := range arr {
		p := ptr + "/" + strconv.Itoa(i)
		b, ok := raw.(map[string]any)
		if !ok {
			c.add(p, "must be a block object")
			continue
		}
		typ, _ := b["type"].(string)
		if !slices.Contains(blockTypes, typ) {
			c.add(p+"/type", "unsupported block type %q", typ)
			continue
		}
		if id, ok := b["block_id"]; ok {
			s, _ := id.(string)
			switch {
			case s == "" || runes(s) > MaxID:
				c.add(p+"/block_id", "must be 1 to %d characters", MaxID)
			case c.blockIDs[s]:
				c.add(p+"/block_id", "duplicate block_id %q", s)
			}
			c.blockIDs[s] = true
		}
		switch typ {
		case "section":
			c.section(b, p)
		case "header":
			c.text1(b["text"], p+"/text", MaxHeaderText, true, true)
		case "context":
			c.context(b, p)
		case "actions":
			els, _ := b["elements"].([]any)
			if len(els) == 0 {
				c.add(p+"/elements", "must provide at least one element")
			}
			if len(els) > MaxActionsElements {
				c.tooMany(p+"/elements", MaxActionsElements)
			}
			c.elements(els, p+"/elements")
		case "input":
			c.inputs++
			if !modal {
				c.add(p+"/type", "input blocks are for modals and Home tabs")
			}
			c.text1(b["label"], p+"/label", MaxLabel, true, true)
			c.text1(b["hint"], p+"/hint", MaxHint, true, false)
			if b["element"] == nil {
				c.add(p+"/element", "must provide an element")
			} else {
				c.element(b["element"], p+"/element", map[string]bool{})
			}
		case "image":
			c.maxString(b, "image_url", p, MaxURL)
			c.maxString(b, "alt_text", p, MaxAlt)
			c.text1(b["title"], p+"/title", MaxTextObject, true, false)
		}
	}
}

func (c *checker) section(b map[string]any, p string) {
	fields, hasFields := b["fields"].([]any)
	if b["text"] == nil && !hasFields {
		c.add(p, "must provide text or fields")
	}
	c.text1(b["text"], p+"/text", MaxSectionText, false, false)
	if len(fields) > MaxSectionFields {
		c.tooMany(p+"/fields", MaxSectionFields)
	}
	for i, f := range fields {
		c.text1(f, p+"/fields/"+strconv.Itoa(i), MaxFieldText, false, true)
	}
	if acc, ok := b["accessory"]; ok {
		c.element(acc, p+"/accessory", map[string]bool{})
	}
}

func (c *checker) context(b map[string]any, p string) {
	els, _ := b["elements"].([]any)
	if len(els) == 0 {
		c.add(p+"/elements", "must provide at least one element")
	}
	if len(els) > MaxContextElements {
		c.tooMany(p+"/elements", MaxContextElements)
	}
	for i, raw := range els {
		ep := p + "/elements/" + strconv.Itoa(i)
		el, _ := raw.(map[string]any)
		if typ, _ := el["type"].(string); typ == "image" {
			c.maxString(el, "image_url", ep, MaxURL)
			c.maxString(el, "alt_text", ep, MaxAlt)
			continue
		}
		c.text1(raw, ep, MaxTextObject, false, true)
	}
}

// elements checks an actions block's elements; their action_ids are
// unique in the block.
func (c *checker) elements(els []any, p string) {
	actionIDs := map[string]bool{}
	for i, raw := range els {
		c.element(raw, p+"/"+strconv.Itoa(i), actionIDs)
	}
}

// element checks an interactive element (of an actions block, an input
// block, or a section's accessory).
func (c *checker) element(raw any, ep string, actionIDs map[string]bool) {
	el, ok := raw.(map[string]any)
	if !ok {
		c.add(ep, "must be an element object")
		return
	}
	if id, ok := el["action_id"]; ok {
		s, _ := id.(string)
		switch {
		case s == "" || runes(s) > MaxID:
			c.add(ep+"/action_id", "must be 1 to %d characters", MaxID)
		case actionIDs[s]:
			c.add(ep+"/action_id", "duplicate action_id %q", s)
		}
		actionIDs[s] = true
	}
	typ, _ := el["type"].(string)
	switch typ {
	case "button":
		c.text1(el["text"], ep+"/text", MaxButtonText, true, true)
		c.maxString(el, "value", ep, MaxButtonValue)
		c.maxString(el, "url", ep, MaxURL)
		if st, ok := el["style"]; ok && st != "primary" && st != "danger" {
			c.add(ep+"/style", "must be primary or danger")
		}
	case "static_select", "multi_static_select":
		c.text1(el["placeholder"], ep+"/placeholder", MaxPlaceholder, true, false)
		opts, _ := el["options"].([]any)
		groups, _ := el["option_groups"].([]any)
		if len(opts) == 0 && len(groups) == 0 {
			c.add(ep+"/options", "must provide options or option_groups")
		}
		if len(opts) > MaxSelectOptions {
			c.tooMany(ep+"/options", MaxSelectOptions)
		}
		if len(groups) > MaxSelectOptions {
			c.tooMany(ep+"/option_groups", MaxSelectOptions)
		}
		values := c.options(opts, ep+"/options")
		if init, ok := el["initial_option"].(map[string]any); ok {
			if v, _ := init["value"].(string); !slices.Contains(values, v) {
				c.add(ep+"/initial_option", "must be one of the options (value %q is not)", v)
			}
		}
		c.initialOptions(el, ep, values)
	case "checkboxes", "radio_buttons":
		opts, _ := el["options"].([]any)
		if len(opts) == 0 {
			c.add(ep+"/options", "must provide options")
		}
		if len(opts) > MaxCheckboxOptions {
			c.tooMany(ep+"/options", MaxCheckboxOptions)
		}
		values := c.options(opts, ep+"/options")
		c.initialOptions(el, ep, values)
		if init, ok := el["initial_option"].(map[string]any); ok {
			if v, _ := init["value"].(string); !slices.Contains(values, v) {
				c.add(ep+"/initial_option", "must be one of the options (value %q is not)", v)
			}
		}
	case "plain_text_input":
		c.text1(el["placeholder"], ep+"/placeholder", MaxPlaceholder, true, false)
		limit := MaxInputLength
		if n, ok := el["max_length"].(float64); ok {
			if n < 1 || n > MaxInputLength {
				c.add(ep+"/max_length", "must be 1 to %d", MaxInputLength)
			} else {
				limit = int(n)
			}
		}
		c.maxString(el, "initial_value", ep, limit)
	case "number_input":
		c.text1(el["placeholder"], ep+"/placeholder", MaxPlaceholder, true, false)
		if _, ok := el["is_decimal_allowed"].(bool); !ok {
			c.add(ep+"/is_decimal_allowed", "must provide a boolean")
		}
		c.numberRange(el, ep)
	}
}

// options checks option objects and returns their values.
func (c *checker) options(opts []any, p string) []string {
	var values []string
	for i, raw := range opts {
		op := p + "/" + strconv.Itoa(i)
		o, ok := raw.(map[string]any)
		if !ok {
			c.add(op, "must be an option object")
			continue
		}
		c.text1(o["text"], op+"/text", MaxOptionText, false, true)
		c.text1(o["description"], op+"/description", MaxOptionDescription, false, false)
		v, ok := o["value"].(string)
		switch {
		case !ok || v == "":
			c.add(op+"/value", "must provide a value")
		case runes(v) > MaxOptionValue:
			c.tooLong(op+"/value", MaxOptionValue)
		}
		values = append(values, v)
	}
	return values
}

func (c *checker) initialOptions(el map[string]any, ep string, values []string) {
	inits, _ := el["initial_options"].([]any)
	for i, raw := range inits {
		o, _ := raw.(map[string]any)
		if v, _ := o["value"].(string); !slices.Contains(values, v) {
			c.add(ep+"/initial_options/"+strconv.Itoa(i), "must be one of the options (value %q is not)", v)
		}
	}
}

// numberRange checks a number input's bounds and initial value, which
// Slack sends as strings.
func (c *checker) numberRange(el map[string]any, ep string) {
	num := func(key string) (float64, bool) {
		s, ok := el[key].(string)
		if !ok {
			return 0, false
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			c.add(ep+"/"+key, "must be a number")
			return 0, false
		}
		return f, true
	}
	lo, hasLo := num("min_value")
	hi, hasHi := num("max_value")
	v, hasV := num("initial_value")
	if hasLo && hasHi && lo > hi {
		c.add(ep+"/min_value", "must not be more than max_value")
	}
	if hasV && ((hasLo && v < lo) || (hasHi && v > hi)) {
		c.add(ep+"/initial_value", "must be between min_value and max_value")
	}
}
