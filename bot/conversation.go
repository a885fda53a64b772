package bot

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/slack-go/slack"

	"github.com/clustropg/clustro/bot/blockkit"
	"github.com/clustropg/clustro/request"
	"github.com/clustropg/clustro/store"
)

// Kinds of conversation.
const (
	// kindThread asks for a request question by question in a thread.
	kindThread = "thread"
	// kindDraft is a one-line /pg new waiting on its confirmation card.
	kindDraft = "draft"
	// kindRestore asks in a thread for a restore's point in time and new
	// name (restoreQuestions), then submits it.
	kindRestore = "restore"
)

// conversation is the state of one user's request in one place (channel,
// thread), kept in the store between events: it survives a restart, is
// shared by replicas, and expires after config.Slack's idle time.
type conversation struct {
	ID      string `json:"-"`
	User    string `json:"-"`
	Channel string `json:"-"`
	Thread  string `json:"-"`

	Kind string `json:"kind"`
	// Draft is the request as answered so far (not resolved: defaults are
	// filled when it is shown and submitted).
	Draft request.DatabaseRequest `json:"draft"`
	// Asked is the question waiting for an answer ("confirm" once the
	// summary card is shown).
	Asked string `json:"asked,omitempty"`
	// Answered lists the fields answered or inferred.
	Answered []string `json:"answered,omitempty"`
	// DBCount is the number of extra databases asked for, once answered.
	DBCount *int `json:"dbCount,omitempty"`
	// CardTS is the summary card's message.
	CardTS string `json:"cardTs,omitempty"`
	// DefaultName is the new database's name a restore takes when the
	// user keeps the default, and Window the source's recovery window as
	// the questions show it.
	DefaultName string `json:"defaultName,omitempty"`
	Window      string `json:"window,omitempty"`
}

func (b *Bot) newConversation(kind, user, channel, thread string) *conversation {
	var id [8]byte
	rand.Read(id[:])
	return &conversation{ID: "cv" + hex.EncodeToString(id[:]), Kind: kind, User: user, Channel: channel, Thread: thread}
}

func (b *Bot) saveConversation(ctx context.Context, c *conversation) error {
	state, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("encode conversation %s: %w", c.ID, err)
	}
	return b.store.SaveConversation(ctx, store.Conversation{
		ID: c.ID, UserID: c.User, Channel: c.Channel, Thread: c.Thread, State: state,
		ExpiresAt: b.now().Add(b.cfg.ConversationIdle()),
	})
}

func decodeConversation(sc store.Conversation) (*conversation, error) {
	c := &conversation{}
	if err := json.Unmarshal(sc.State, c); err != nil {
		return nil, fmt.Errorf("decode conversation %s: %w", sc.ID, err)
	}
	c.ID, c.User, c.Channel, c.Thread = sc.ID, sc.UserID, sc.Channel, sc.Thread
	return c, nil
}

func (b *Bot) loadConversation(ctx context.Context, id string) (*conversation, error) {
	sc, err := b.store.GetConversation(ctx, id)
	if err != nil {
		return nil, err
	}
	return decodeConversation(sc)
}

func (b *Bot) findConversation(ctx context.Context, channel, thread, user string) (*conversation, error) {
	sc, err := b.store.FindConversation(ctx, channel, thread, user)
	if err != nil {
		return nil, err
	}
	return decodeConversation(sc)
}

func (c *conversation) answered(fields ...string) bool {
	for _, f := range fields {
		if slices.Contains(c.Answered, f) {
			return true
		}
	}
	return false
}

func (c *conversation) markAnswered(fields ...string) {
	for _, f := range fields {
		if !slices.Contains(c.Answered, f) {
			c.Answered = append(c.Answered, f)
		}
	}
}

func (c *conversation) forget(fields ...string) {
	c.Answered = slices.DeleteFunc(c.Answered, func(f string) bool { return slices.Contains(fields, f) })
}

// cardThread is the thread a submitted draft's progress goes to: the
// conversation's, or the card's own.
func (c *conversation) cardThread() string {
	if c.Thread != "" {
		return c.Thread
	}
	return c.CardTS
}

// question is one thing the bot asks in a thread.
type question struct {
	id string
	// fields are the request fields (as Problems name them) it answers.
	fields []string
	prompt func(b *Bot, c *conversation) string
	// choices are its buttons; nil asks for free text.
	choices func(b *Bot, c *conversation) []choice
	// needed reports whether to ask it at all (nil: always, until answered).
	needed func(c *conversation) bool
}

// questions are asked in this order, each only when its answer could not
// be read from what the user already wrote.
var questions = []question{
	{id: "team", fields: []string{"team"},
		prompt: func(*Bot, *conversation) string {
			return "Which team owns it? A lowercase name like `billing`."
		}},
	{id: "name", fields: []string{"name"},
		prompt: func(*Bot, *conversation) string {
			return fmt.Sprintf("What should it be called? A lowercase name like `ledger` (at most %d characters).", request.MaxNameLength())
		}},
	{id: "environment", fields: []string{"environment"},
		prompt: func(*Bot, *conversation) string { return "Which environment?" },
		choices: func(b *Bot, _ *conversation) []choice {
			return environmentChoices(b.policy, "%s (%s)")
		}},
	{id: "clientType", fields: []string{"clientType"},
		prompt: func(*Bot, *conversation) string {
			return "Who is it for? This sets the number of instances and the backup defaults."
		},
		choices: func(*Bot, *conversation) []choice { return clientTypeChoices() }},
	// The load and the backups come after the environment: their buttons
	// are what it allows.
	{id: "load", fields: []string{"load", "size"},
		prompt: func(*Bot, *conversation) string { return "What load do you expect? (`/pg sizes` shows the presets)" },
		choices: func(b *Bot, c *conversation) []choice {
			o, _ := b.policy.Offer(c.Draft.Environment)
			if len(o.Loads) == 0 {
				// No load picks a size allowed here: the sizes are the choice.
				return sizeChoices(b.policy, o)
			}
			return loadChoices(b.policy, o)
		}},
	{id: "backups", fields: []string{"backups.schedule", "backups.hour", "backups.retention"},
		prompt: func(b *Bot, c *conversation) string {
			s := "Backups: how often? (WAL archiving plus a base backup at that pace)"
			if o, _ := b.policy.Offer(c.Draft.Environment); o.BackupsRequired {
				s += fmt.Sprintf(" %s requires backups.", c.Draft.Environment)
			}
			if prof, ok := b.policy.Profile(c.Draft.ClientType, c.Draft.Environment); ok {
				s += fmt.Sprintf(" The default for %s in %s is *%s*.", c.Draft.ClientType, c.Draft.Environment, prof.Backups)
			}
			return s
		},
		choices: func(b *Bot, c *conversation) []choice {
			o, _ := b.policy.Offer(c.Draft.Environment)
			return scheduleChoices(o)
		}},
	{id: "dbcount", fields: []string{"databases"},
		prompt: func(*Bot, *conversation) string {
			return "How many databases besides the default `app` one?"
		},
		choices: func(b *Bot, _ *conversation) []choice {
			var cs []choice
			for n := 0; n <= min(3, b.policy.MaxDatabases); n++ {
				cs = append(cs, choice{strconv.Itoa(n), strconv.Itoa(n)})
			}
			return cs
		},
		needed: func(c *conversation) bool { return c.DBCount == nil && !c.answered("databases") }},
	{id: "databases", fields: []string{"databases"},
		prompt: func(_ *Bot, c *conversation) string {
			return fmt.Sprintf("Name the %d extra database(s), separated by commas: lowercase letters, digits and `_`, like `reports, audit`.", *c.DBCount)
		},
		needed: func(c *conversation) bool { return c.DBCount != nil && *c.DBCount > 0 && !c.answered("databases") }},
}

// questionsOf is the table of questions of a conversation's kind.
func questionsOf(c *conversation) []question {
	if c.Kind == kindRestore {
		return restoreQuestions
	}
	return questions
}

func questionByID(c *conversation, id string) (question, bool) {
	for _, q := range questionsOf(c) {
		if q.id == id {
			return q, true
		}
	}
	return question{}, false
}

func (q question) isNeeded(c *conversation) bool {
	if q.needed != nil {
		return q.needed(c)
	}
	return !c.answered(q.fields...)
}

// threadMessage is a message written to the bot: a mention, a direct
// message, or an answer in a thread with a conversation.
type threadMessage struct {
	Team, User, Channel string
	// Thread is where the conversation lives: the thread's root, or ""
	// for a direct message written outside a thread.
	Thread  string
	Text    string
	Mention bool
	DM      bool
}

// onMessage continues the user's conversation in that thread, or starts
// one when they mention the bot or write to it.
func (b *Bot) onMessage(ctx context.Context, m threadMessage) error {
	unlock := b.locks.lock(m.Channel + "/" + m.Thread + "/" + m.User)
	defer unlock()
	c, err := b.findConversation(ctx, m.Channel, m.Thread, m.User)
	if errors.Is(err, store.ErrNotFound) {
		if !m.Mention && !m.DM {
			return nil // someone talking in a thread, not to us
		}
		return b.startConversation(ctx, m)
	}
	if err != nil {
		return err
	}
	words := strings.Fields(strings.ToLower(mentionRE.ReplaceAllString(m.Text, " ")))
	if len(words) > 0 && slices.Contains([]string{"cancel", "stop", "abort", "nevermind"}, strings.Trim(words[0], ".!")) {
		if err := b.store.DeleteConversation(ctx, c.ID); err != nil {
			return err
		}
		_, err := b.post(ctx, c.Channel, c.Thread, text(fmt.Sprintf("<@%s> cancelled: nothing was asked for.", c.User)))
		return err
	}
	if c.Asked == "confirm" || c.Kind == kindDraft {
		if set := infer(b.policy, m.Text, &c.Draft); len(set) > 0 {
			c.markAnswered(set...)
			return b.askNext(ctx, c, "")
		}
		_, err := b.post(ctx, c.Channel, c.Thread, text(fmt.Sprintf("<@%s> use the buttons of the summary: *Confirm*, *Edit* or *Cancel* (or tell me what to change, like `size=L`).", c.User)))
		return err
	}
	return b.answer(ctx, c, c.Asked, m.Text, true)
}

// startConversation reads what it can from the first message and asks the
// first question.
func (b *Bot) startConversation(ctx context.Context, m threadMessage) error {
	c := b.newConversation(kindThread, m.User, m.Channel, m.Thread)
	c.Draft.Requester = request.Requester{ID: m.User}
	c.Draft.Origin = slackOrigin(m.Team, m.Channel, m.Thread)
	c.markAnswered(infer(b.policy, m.Text, &c.Draft)...)
	if c.Draft.Team == "" {
		if team := b.cfg.TeamOfChannel(m.Channel); team != "" {
			c.Draft.Team = team
			c.markAnswered("team")
		}
	}
	if c.answered("environment") {
		if msg, err := b.refusal(ctx, c.Draft.Environment, m.Channel, m.User); msg != "" {
			_, perr := b.post(ctx, m.Channel, m.Thread, text(fmt.Sprintf("<@%s> %s", m.User, msg)))
			return errors.Join(err, perr)
		}
	}
	intro := fmt.Sprintf("<@%s> sure, let's ask for a PostgreSQL database.", m.User)
	if known := b.understood(c); known != "" {
		intro += " I understood: " + known + "."
	}
	return b.askNext(ctx, c, intro)
}

// understood lists what was read from the user's words.
func (b *Bot) understood(c *conversation) string {
	var parts []string
	d := c.Draft
	add := func(field, s string) {
		if c.answered(field) {
			parts = append(parts, s)
		}
	}
	add("name", "name `"+d.Name+"`")
	add("team", "team *"+d.Team+"*")
	add("environment", "environment *"+d.Environment+"*")
	add("clientType", "client *"+string(d.ClientType)+"*")
	add("load", "load *"+string(d.Load)+"*")
	add("size", "size *"+string(d.Size)+"*")
	add("backups.schedule", "backups *"+string(d.Backups.Schedule)+"*")
	add("instances", fmt.Sprintf("%d instances", d.Instances))
	add("postgresVersion", fmt.Sprintf("PostgreSQL %d", d.PostgresVersion))
	return strings.Join(parts, ", ")
}

// answer applies an answer to question qid, checks it with the request's
// own validation, and asks the next question (or the same one again, with
// what is wrong and what is allowed).
func (b *Bot) answer(ctx context.Context, c *conversation, qid, raw string, typed bool) error {
	q, ok := questionByID(c, qid)
	if !ok {
		return b.askNext(ctx, c, "")
	}
	raw = strings.TrimSpace(mentionRE.ReplaceAllString(raw, " "))
	if msg := b.applyAnswer(c, q, raw, typed); msg != "" {
		return b.ask(ctx, c, q, fmt.Sprintf("<@%s> %s", c.User, msg))
	}
	if pr := b.problemsOf(c, q.fields...); len(pr) > 0 {
		c.forget(q.fields...)
		return b.ask(ctx, c, q, problemsMessage(fmt.Sprintf("<@%s> that does not work:", c.User), pr, "").Text)
	}
	if q.id == "environment" {
		if msg, err := b.refusal(ctx, c.Draft.Environment, c.Channel, c.User); msg != "" {
			if err != nil {
				return errors.Join(err, b.ask(ctx, c, q, fmt.Sprintf("<@%s> %s", c.User, msg)))
			}
			c.forget(q.fields...)
			return b.ask(ctx, c, q, fmt.Sprintf("<@%s> %s Pick another environment, or say *cancel*.", c.User, msg))
		}
	}
	return b.askNext(ctx, c, "")
}

// applyAnswer reads an answer into the draft; a message says why it could
// not be read.
func (b *Bot) applyAnswer(c *conversation, q question, raw string, typed bool) string {
	lower := strings.ToLower(raw)
	switch q.id {
	case "restore.targetTime":
		return b.applyTargetTime(c, raw)
	case "team", "name":
		if q.id == "name" && c.Kind == kindRestore && c.DefaultName != "" && keepsDefault(lower) {
			raw = c.DefaultName
		}
		word := pickWord(b.policy, q.id, raw)
		if word == "" {
			return "I need a single lowercase word. " + q.prompt(b, c)
		}
		setField(b.policy, &c.Draft, q.id, word)
	case "dbcount":
		n, err := strconv.Atoi(strings.Fields(lower + " x")[0])
		if err != nil || n < 0 {
			return "How many? Answer with a number."
		}
		if n > b.policy.MaxDatabases {
			return fmt.Sprintf("%d extra databases asked; at most %d allowed.", n, b.policy.MaxDatabases)
		}
		c.DBCount = &n
		if n == 0 {
			c.Draft.Databases = nil
			c.markAnswered("databases")
		}
		return ""
	case "databases":
		c.Draft.Databases = splitList(lower)
		if len(c.Draft.Databases) != *c.DBCount {
			n := len(c.Draft.Databases)
			c.DBCount = &n
		}
	default:
		field := q.fields[0]
		value := lower
		if typed {
			// Free text for a question with buttons: read it like the
			// first message ("prod please", "daily backups").
			var probe request.DatabaseRequest
			set := infer(b.policy, raw, &probe)
			switch {
			case q.id == "load" && slices.Contains(set, "size"):
				c.Draft.Size, field, value = probe.Size, "size", string(probe.Size)
			case slices.Contains(set, field):
				value = map[string]string{
					"environment": probe.Environment, "clientType": string(probe.ClientType),
					"load": string(probe.Load), "backups.schedule": string(probe.Backups.Schedule),
				}[field]
			default:
				value = strings.Fields(lower + " ")[0]
			}
		}
		if q.id == "load" && !typed && slices.Contains(request.Sizes(), request.Size(strings.ToUpper(value))) {
			field = "size" // a size's button, where no load fits (see the question)
		}
		if msg := setField(b.policy, &c.Draft, field, value); msg != "" {
			return msg
		}
		if field == "size" {
			c.markAnswered("size")
			return ""
		}
	}
	c.markAnswered(q.fields[0])
	return ""
}

// pickWord finds the name or team in a free-text answer.
func pickWord(p *request.Policy, field, raw string) string {
	var probe request.DatabaseRequest
	set := infer(p, raw, &probe)
	if field == "team" && slices.Contains(set, "team") {
		return probe.Team
	}
	if field == "name" && slices.Contains(set, "name") {
		return probe.Name
	}
	words := strings.Fields(raw)
	if len(words) == 1 {
		return strings.Trim(words[0], ".,!`'\"")
	}
	for _, w := range words {
		w = strings.ToLower(strings.Trim(w, ".,!`'\""))
		if nameRE.MatchString(w) && !slices.Contains(stopWords, w) && !slices.Contains([]string{"it", "is", "call", "use"}, w) {
			return w
		}
	}
	return ""
}

// problemsOf validates the draft and keeps the problems of fields (all of
// them when none is given).
func (b *Bot) problemsOf(c *conversation, fields ...string) request.Problems {
	_, err := b.policy.Resolve(c.Draft)
	var pr request.Problems
	if !errors.As(err, &pr) {
		return nil
	}
	if len(fields) == 0 {
		return pr
	}
	return slices.DeleteFunc(pr, func(p request.Problem) bool { return !slices.Contains(fields, p.Field) })
}

// askNext asks the first question still needed, or shows the summary card
// once everything validates.
func (b *Bot) askNext(ctx context.Context, c *conversation, intro string) error {
	for _, q := range questionsOf(c) {
		if q.isNeeded(c) {
			return b.ask(ctx, c, q, intro)
		}
	}
	if pr := b.problemsOf(c); len(pr) > 0 {
		// An answer that was fine alone clashes with a later one (size XL
		// in dev): ask that question again, saying why.
		for _, q := range questionsOf(c) {
			if slices.Contains(q.fields, pr[0].Field) {
				c.forget(q.fields...)
				if q.id == "dbcount" || q.id == "databases" {
					c.DBCount = nil
				}
				msg := problemsMessage(fmt.Sprintf("<@%s> one more thing:", c.User), pr[:1], "").Text
				return b.ask(ctx, c, q, strings.TrimSpace(intro+"\n"+msg))
			}
		}
		msg := problemsMessage(fmt.Sprintf("<@%s> I cannot ask for this database:", c.User), pr, "Say *cancel* and start again, or tell me what to change (like `size=M`).")
		_, err := b.post(ctx, c.Channel, c.Thread, msg)
		return errors.Join(err, b.saveConversation(ctx, c))
	}
	resolved, err := b.policy.Resolve(c.Draft)
	if err != nil {
		return fmt.Errorf("resolve conversation %s: %w", c.ID, err)
	}
	if intro != "" {
		if _, err := b.post(ctx, c.Channel, c.Thread, text(intro)); err != nil {
			return err
		}
	}
	if msg := b.exists(ctx, resolved.Spec); msg != "" {
		c.forget("name")
		q, _ := questionByID(c, "name")
		return b.ask(ctx, c, q, fmt.Sprintf("<@%s> %s Pick another name.", c.User, msg))
	}
	if c.Kind == kindRestore {
		return b.submitRestore(ctx, c)
	}
	ts, err := b.post(ctx, c.Channel, c.Thread, draftCard(b.policy, c.ID, c.User, resolved))
	if err != nil {
		return err
	}
	c.Asked, c.CardTS = "confirm", ts
	return b.saveConversation(ctx, c)
}

// ask posts a question (with its buttons) in the thread and remembers it.
func (b *Bot) ask(ctx context.Context, c *conversation, q question, intro string) error {
	if _, err := b.post(ctx, c.Channel, c.Thread, b.questionMessage(c, q, intro)); err != nil {
		return err
	}
	c.Asked = q.id
	return b.saveConversation(ctx, c)
}

// questionMessage is a question with its buttons, after intro.
func (b *Bot) questionMessage(c *conversation, q question, intro string) message {
	prompt := q.prompt(b, c)
	if intro != "" {
		prompt = intro + "\n" + prompt
	} else {
		prompt = fmt.Sprintf("<@%s> %s", c.User, prompt)
	}
	m := text(prompt)
	if q.choices != nil {
		// At most blockkit.MaxActionsElements buttons per actions block.
		var buttons []slack.BlockElement
		for i, ch := range q.choices(b, c) {
			buttons = append(buttons, button(actionAnswer+strconv.Itoa(i), q.id+"="+ch.value, ch.label))
		}
		k := 0
		for part := range slices.Chunk(buttons, blockkit.MaxActionsElements) {
			id := answerBlockID(c.ID, q.id)
			if k > 0 {
				id += "/" + strconv.Itoa(k)
			}
			m.Blocks = append(m.Blocks, slack.NewActionBlock(id, part...))
			k++
		}
		m.Blocks = append(m.Blocks, contextText("Pick one, or type it. Say *cancel* to stop."))
	} else {
		m.Blocks = append(m.Blocks, contextText("Type your answer in this thread. Say *cancel* to stop."))
	}
	return m
}

func answerBlockID(convID, qid string) string { return "conv." + convID + "." + qid }

// parseAnswerBlockID reads an answer block's id, and ignores the "/<n>"
// that tells apart the blocks of a question with many buttons.
func parseAnswerBlockID(id string) (convID, qid string, ok bool) {
	id, _, _ = strings.Cut(id, "/")
	rest, ok := strings.CutPrefix(id, "conv.")
	if !ok {
		return "", "", false
	}
	convID, qid, ok = strings.Cut(rest, ".")
	return convID, qid, ok
}

// onAnswerButton handles a click on a question's button.
func (b *Bot) onAnswerButton(ctx context.Context, cb slack.InteractionCallback, act *slack.BlockAction) error {
	convID, qid, ok := parseAnswerBlockID(act.BlockID)
	if !ok {
		return fmt.Errorf("answer button with block_id %q", act.BlockID)
	}
	c, err := b.loadConversation(ctx, convID)
	if errors.Is(err, store.ErrNotFound) {
		return b.ephemeral(ctx, cb.Channel.ID, cb.Container.ThreadTs, cb.User.ID, text("This conversation has ended or expired. Mention me to start again."))
	}
	if err != nil {
		return err
	}
	unlock := b.locks.lock(c.Channel + "/" + c.Thread + "/" + c.User)
	defer unlock()
	if c, err = b.loadConversation(ctx, convID); err != nil {
		return err
	}
	if cb.User.ID != c.User {
		return b.ephemeral(ctx, cb.Channel.ID, c.Thread, cb.User.ID, text(fmt.Sprintf("This question is for <@%s>. Mention me to ask for your own database.", c.User)))
	}
	if c.Asked != qid {
		return b.ephemeral(ctx, cb.Channel.ID, c.Thread, cb.User.ID, text("That question was already answered."))
	}
	_, value, _ := strings.Cut(act.Value, "=")
	// The question keeps its text and loses its buttons: the answer shows.
	answered := fmt.Sprintf("%s\n:ballot_box_with_check: *%s*", questionText(cb.Message), act.Text.Text)
	if err := b.update(ctx, cb.Channel.ID, cb.Container.MessageTs, text(answered)); err != nil {
		b.log.Warn().Err(err).Msg("answered question not updated")
	}
	return b.answer(ctx, c, qid, value, false)
}

// questionText is the first section of a question message.
func questionText(m slack.Message) string {
	for _, bl := range m.Blocks.BlockSet {
		if s, ok := bl.(*slack.SectionBlock); ok && s.Text != nil {
			return s.Text.Text
		}
	}
	return m.Text
}
