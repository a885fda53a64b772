package bot

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/slack-go/slack"

	"github.com/clustropg/clustro/bot/blockkit"
)

// Every message the bot sends is built here and leaves through send:
// texts are split into sections that fit Slack's limits, labels are cut
// to theirs, and send checks the result with blockkit (the checker the
// fake Slack refuses with) before it goes out. Views are checked the same
// way in checkView. Slack refuses a payload over any limit and the user
// sees nothing, so a message that still does not fit is a bug: it is
// logged and sent as its text alone, which Slack always takes.

// maxMessageText is the most text the bot puts in one message's blocks:
// well under the roughly 12,000 characters past which chat.postMessage
// answers msg_blocks_too_long (blockkit.MaxBlocksText, undocumented, and
// refused a little under it in practice).
const maxMessageText = 8000

// message is a Slack message as the bot writes it: blocks with a text
// fallback (notifications and screen readers use the text).
type message struct {
	Text   string
	Blocks []slack.Block
}

// text is a message of mrkdwn text: sections of at most
// blockkit.MaxSectionText characters, cut (with a note) past
// maxMessageText.
func text(s string) message {
	s = strings.TrimSpace(s)
	if s == "" {
		s = " "
	}
	body, cut := clipLines(s, maxMessageText-200)
	m := message{Text: body, Blocks: sections(body)}
	if cut > 0 {
		note := fmt.Sprintf("_%d more characters did not fit in one Slack message._", cut)
		m.Text += "\n" + note
		m.Blocks = append(m.Blocks, contextText(note))
	}
	return m
}

func mrkdwn(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.MarkdownType, nonEmpty(s), false, false)
}

func plain(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.PlainTextType, nonEmpty(s), false, false)
}

// plainClipped is plain text cut to max characters: a button's label
// (blockkit.MaxButtonText), an option's (MaxOptionText), a placeholder
// (MaxPlaceholder).
func plainClipped(s string, max int) *slack.TextBlockObject { return plain(clip(s, max)) }

// section is one section of mrkdwn, cut to blockkit.MaxSectionText; use
// sections for text that may be longer.
func section(s string) *slack.SectionBlock {
	return slack.NewSectionBlock(mrkdwn(clip(s, blockkit.MaxSectionText)), nil, nil)
}

// contextText is a context block of one mrkdwn element, cut to
// blockkit.MaxTextObject.
func contextText(s string) *slack.ContextBlock {
	return slack.NewContextBlock("", mrkdwn(clip(s, blockkit.MaxTextObject)))
}

// button is a button whose label fits blockkit.MaxButtonText.
func button(actionID, value, label string) *slack.ButtonBlockElement {
	return slack.NewButtonBlockElement(actionID, value, plainClipped(label, blockkit.MaxButtonText))
}

// sections splits mrkdwn text into sections of at most
// blockkit.MaxSectionText characters, at line ends where it can (a line
// longer than that is cut), closing a ``` code block at the end of a
// section and opening it again at the start of the next.
func sections(s string) []slack.Block {
	const fence = "```"
	// Room for a closing "\n```" in every section, and for an opening
	// "```\n" before a piece of a long line.
	budget := blockkit.MaxSectionText - len(fence) - 1
	var (
		out     []slack.Block
		lines   []string // the current section's
		size    int      // its characters, newlines included
		inFence bool     // a code block is open after lines
	)
	flush := func() {
		text := strings.Join(lines, "\n")
		if inFence {
			text += "\n" + fence
		}
		out = append(out, slack.NewSectionBlock(mrkdwn(text), nil, nil))
		lines, size = nil, 0
		if inFence {
			lines, size = []string{fence}, len(fence)
		}
	}
	for _, line := range strings.Split(s, "\n") {
		for _, piece := range cutRunes(line, budget-len(fence)-1) {
			n := utf8.RuneCountInString(piece)
			if len(lines) > 0 && size+1+n > budget {
				flush()
			}
			if len(lines) > 0 {
				size++
			}
			lines, size = append(lines, piece), size+n
		}
		if strings.Count(line, fence)%2 == 1 {
			inFence = !inFence
		}
	}
	if len(lines) > 0 || len(out) == 0 {
		flush()
	}
	return out
}

// cutRunes cuts s into pieces of at most n characters ("" stays one
// empty piece).
func cutRunes(s string, n int) []string {
	if utf8.RuneCountInString(s) <= n {
		return []string{s}
	}
	var out []string
	r := []rune(s)
	for len(r) > n {
		out = append(out, string(r[:n]))
		r = r[n:]
	}
	return append(out, string(r))
}

// clip cuts s to at most max characters, ending with "…" when cut.
func clip(s string, max int) string {
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	r := []rune(s)
	return string(r[:max-1]) + "…"
}

// clipLines cuts s to at most max characters at a line end where it can,
// and says how many characters were left out.
func clipLines(s string, max int) (string, int) {
	n := utf8.RuneCountInString(s)
	if n <= max {
		return s, 0
	}
	r := []rune(s)
	keep := string(r[:max])
	if i := strings.LastIndexByte(keep, '\n'); i > len(keep)/2 {
		keep = keep[:i]
	}
	if strings.Count(keep, "```")%2 == 1 {
		keep += "\n```"
	}
	return keep + "\n…", n - utf8.RuneCountInString(keep)
}

// nonEmpty is s, or a space: Slack refuses an empty text.
func nonEmpty(s string) string {
	if s == "" {
		return " "
	}
	return s
}

// send is the last step of every message the bot sends (post, update,
// ephemeral, response_url, a command's acknowledgement): the message as
// it goes out, checked with blockkit. One over Slack's limits (a bug: the
// builders above keep within them) is logged and replaced by its text
// alone, cut to fit.
func (b *Bot) send(m message) message {
	m.Text = clip(m.Text, blockkit.MaxMessageText)
	if m.Text == "" && len(m.Blocks) == 0 {
		m.Text = " "
	}
	var raw json.RawMessage
	if len(m.Blocks) > 0 {
		var err error
		if raw, err = json.Marshal(m.Blocks); err != nil {
			b.log.Error().Err(err).Msg("slack message blocks not encoded: sending the text alone")
			return message{Text: nonEmpty(m.Text)}
		}
	}
	if ps := blockkit.CheckMessage(m.Text, raw); len(ps) > 0 {
		b.log.Error().Str("slack_error", ps.Code()).Str("problems", ps.Error()).
			Msg("a message over Slack's limits was built (a bug): sending its text alone")
		return message{Text: nonEmpty(m.Text)}
	}
	return m
}

// options are the chat.* options of a message, through send.
func (b *Bot) options(m message) []slack.MsgOption {
	m = b.send(m)
	opts := []slack.MsgOption{slack.MsgOptionText(m.Text, false)}
	if len(m.Blocks) > 0 {
		opts = append(opts, slack.MsgOptionBlocks(m.Blocks...))
	}
	return opts
}

// checkView checks a modal with blockkit before views.open or
// views.update: one Slack would refuse is not sent.
func checkView(v slack.ModalViewRequest) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode view: %w", err)
	}
	if ps := blockkit.CheckView(raw); len(ps) > 0 {
		return fmt.Errorf("the form is over Slack's limits (a bug): %w", ps)
	}
	return nil
}
