package bot

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/slack-go/slack"

	"github.com/clustropg/clustro/request"
	"github.com/clustropg/clustro/store"
)

// interaction handles a button click or a modal submission and returns the
// acknowledgement: nil, or a view submission response (inline errors).
// Submitting a request happens before the acknowledgement, through the
// pipeline (durable); updating messages happens after. Each click and each
// submission is acted on once (see claim); a replay is answered with an
// empty 200, as a command's is.
func (b *Bot) interaction(ctx context.Context, cb slack.InteractionCallback) any {
	switch cb.Type {
	case slack.InteractionTypeBlockActions:
		if len(cb.ActionCallback.BlockActions) == 0 {
			return nil
		}
		first, err := b.claim(ctx, interactionClaim(cb))
		if err != nil {
			b.tell(cb, b.unclaimed(cb, err, "click"))
			return nil
		}
		if !first {
			return nil
		}
		act := cb.ActionCallback.BlockActions[0]
		switch {
		case act.ActionID == actionConfirm:
			b.confirmDraft(ctx, cb, act.Value)
		case act.ActionID == actionEdit:
			b.editDraft(ctx, cb, act.Value)
		case act.ActionID == actionCancel:
			b.later("cancel draft", func(ctx context.Context) error { return b.cancelDraft(ctx, cb, act.Value) })
		case strings.HasPrefix(act.ActionID, actionAnswer):
			b.later("answer", func(ctx context.Context) error { return b.onAnswerButton(ctx, cb, act) })
		case act.ActionID == "environment" && cb.View.CallbackID == callbackNew:
			b.later("form environment", func(ctx context.Context) error { return b.onFormEnvironment(ctx, cb, act) })
		case act.ActionID == actionListNext || act.ActionID == actionListPrev:
			b.later("list page", func(ctx context.Context) error { return b.onListPage(ctx, cb, act) })
		case act.ActionID == actionDriftNext || act.ActionID == actionDriftPrev:
			b.later("drift page", func(ctx context.Context) error { return b.onDriftPage(ctx, cb, act) })
		case act.ActionID == actionRestoreOpen:
			b.openRestoreView(ctx, cb, act)
		case act.ActionID == actionReconcileApply:
			b.later("apply reconcile", func(ctx context.Context) error { return b.onReconcileApply(ctx, cb, act) })
		}
		return nil
	case slack.InteractionTypeViewSubmission:
		var block string // where the form shows a refusal
		switch cb.View.CallbackID {
		case callbackNew:
			block = "name"
		case callbackDelete:
			block = "confirm"
		case callbackRestore:
			block = blockNewName
		default:
			return nil
		}
		first, err := b.claim(ctx, interactionClaim(cb))
		if err != nil {
			return slack.NewErrorsViewSubmissionResponse(map[string]string{block: b.unclaimed(cb, err, "submission")})
		}
		if !first {
			return nil
		}
		switch cb.View.CallbackID {
		case callbackNew:
			return b.submitRequestView(ctx, cb)
		case callbackRestore:
			return b.submitRestoreView(ctx, cb)
		}
		return b.submitDeleteView(ctx, cb)
	}
	return nil
}

// unclaimed logs why a click or a submission could not be claimed and
// returns what to tell the user: nothing was done.
func (b *Bot) unclaimed(cb slack.InteractionCallback, err error, what string) string {
	b.log.Error().Err(err).Str("type", string(cb.Type)).Str("trigger_id", cb.TriggerID).Msg("slack interaction not claimed: not acted on")
	return fmt.Sprintf("I could not record this %s, so I did not act on it (the error is logged). Try again in a minute.", what)
}

// tell shows a note to the user who clicked, after the acknowledgement.
func (b *Bot) tell(cb slack.InteractionCallback, s string) {
	b.later("note", func(ctx context.Context) error {
		return b.ephemeral(ctx, cb.Channel.ID, cb.Container.ThreadTs, cb.User.ID, text(s))
	})
}

// draftOf loads the draft a card's button names, checking who clicked.
func (b *Bot) draftOf(ctx context.Context, cb slack.InteractionCallback, convID, verb string) (*conversation, bool) {
	c, err := b.loadConversation(ctx, convID)
	if errors.Is(err, store.ErrNotFound) {
		b.tell(cb, "This request was already submitted or cancelled, or it expired. Ask again with `/pg new`.")
		return nil, false
	}
	if err != nil {
		b.log.Error().Err(err).Msg("draft not read")
		b.tell(cb, "I could not read this request; try again in a minute.")
		return nil, false
	}
	if c.User != cb.User.ID {
		b.tell(cb, fmt.Sprintf("Only <@%s> can %s this request.", c.User, verb))
		return nil, false
	}
	return c, true
}

// confirmDraft submits a draft before acknowledging the click: once the
// pipeline has it, it is not lost.
func (b *Bot) confirmDraft(ctx context.Context, cb slack.InteractionCallback, convID string) {
	c, ok := b.draftOf(ctx, cb, convID, "confirm")
	if !ok {
		return
	}
	if c.CardTS == "" {
		c.CardTS = cb.Container.MessageTs
	}
	rec, err := b.submit(ctx, c, c.Draft)
	var pr request.Problems
	switch {
	case errors.As(err, &pr):
		b.tell(cb, problemsMessage("I cannot ask for this database:", pr, "Press *Edit* to change it.").Text)
		return
	case err != nil:
		b.log.Error().Err(err).Msg("draft not submitted")
		b.tell(cb, "I could not submit it: the service had an error (logged). Press *Confirm* again in a minute.")
		return
	}
	b.later("close draft", func(ctx context.Context) error {
		return b.closeDraft(ctx, c, rec.Request, fmt.Sprintf(":white_check_mark: Submitted by <@%s>: request %s. Progress follows in this thread.", cb.User.ID, rec.ID()))
	})
}

// submit hands a draft to the pipeline; the conversation id makes it
// idempotent (a double click, or the card and the form both submitting).
func (b *Bot) submit(ctx context.Context, c *conversation, r request.DatabaseRequest) (store.Record, error) {
	pipe, err := b.pipe()
	if err != nil {
		return store.Record{}, err
	}
	r.Origin = slackOrigin(c.Draft.Origin.SlackTeam, c.Channel, c.cardThread())
	if r.Requester.ID == "" {
		r.Requester = request.Requester{ID: c.User}
	}
	rec, _, err := pipe.Submit(ctx, r, store.Idempotency{Scope: "slack", Key: "conversation/" + c.ID})
	return rec, err
}

// closeDraft replaces the card with the outcome and forgets the draft.
func (b *Bot) closeDraft(ctx context.Context, c *conversation, r request.DatabaseRequest, outcome string) error {
	if resolved, err := b.policy.Resolve(r); err == nil {
		r = resolved
	}
	var errs []error
	if c.CardTS != "" {
		errs = append(errs, b.update(ctx, c.Channel, c.CardTS, closedCard(b.policy, r, outcome)))
	}
	errs = append(errs, b.store.DeleteConversation(ctx, c.ID))
	return errors.Join(errs...)
}

func (b *Bot) cancelDraft(ctx context.Context, cb slack.InteractionCallback, convID string) error {
	c, ok := b.draftOf(ctx, cb, convID, "cancel")
	if !ok {
		return nil
	}
	if c.CardTS == "" {
		c.CardTS = cb.Container.MessageTs
	}
	return b.closeDraft(ctx, c, c.Draft, fmt.Sprintf(":no_entry_sign: Cancelled by <@%s>: nothing was asked for.", cb.User.ID))
}

// editDraft opens the form prefilled with the draft; views.open comes
// first, within the click's 3 s.
func (b *Bot) editDraft(ctx context.Context, cb slack.InteractionCallback, convID string) {
	c, ok := b.draftOf(ctx, cb, convID, "edit")
	if !ok {
		return
	}
	d := c.Draft
	if resolved, err := b.policy.Resolve(d); err == nil {
		// Prefill what the user chose and the fixed defaults; what the
		// policy derives stays derived (see requestView).
		d.Load, d.ClientType, d.PostgresVersion = resolved.Load, resolved.ClientType, resolved.PostgresVersion
	}
	if err := b.openView(ctx, cb.TriggerID, b.requestView(d, viewMeta{Conv: c.ID, Channel: c.Channel})); err != nil {
		b.log.Warn().Err(err).Msg("edit form not opened")
		b.tell(cb, "I could not open the form ("+err.Error()+"); press *Edit* again.")
	}
}

// submitRequestView validates the request form: problems go back inline,
// on their blocks; a valid request is submitted before the form closes.
func (b *Bot) submitRequestView(ctx context.Context, cb slack.InteractionCallback) any {
	meta := decodeMeta(cb.View.PrivateMetadata)
	r, pr := b.readRequestView(cb.View.State)
	if len(pr) > 0 {
		return viewErrors(cb.View.State, pr)
	}
	r.Requester = request.Requester{ID: cb.User.ID, Name: cb.User.Name}
	resolved, err := b.policy.Resolve(r)
	if errors.As(err, &pr) {
		return viewErrors(cb.View.State, pr)
	}
	if err != nil {
		return viewErrors(cb.View.State, request.Problems{{Field: "name", Message: err.Error()}})
	}
	if msg, err := b.refusal(ctx, resolved.Environment, meta.Channel, cb.User.ID); msg != "" {
		if err != nil {
			b.log.Warn().Err(err).Msg("access not checked")
		}
		return viewErrors(cb.View.State, request.Problems{{Field: "environment", Message: msg}})
	}
	c := &conversation{ID: "view" + cb.View.ID, User: cb.User.ID, Channel: meta.Channel}
	c.Draft.Origin.SlackTeam = cb.Team.ID
	if meta.Conv != "" {
		if draft, err := b.loadConversation(ctx, meta.Conv); err == nil && draft.User == cb.User.ID {
			c = draft
		}
	}
	rec, err := b.submit(ctx, c, r)
	if errors.As(err, &pr) {
		return viewErrors(cb.View.State, pr)
	}
	if err != nil {
		b.log.Error().Err(err).Msg("form not submitted")
		return viewErrors(cb.View.State, request.Problems{{Field: "name", Message: "The service could not take the request (the error is logged); submit again in a minute."}})
	}
	if c.Kind != "" {
		b.later("close draft", func(ctx context.Context) error {
			return b.closeDraft(ctx, c, rec.Request, fmt.Sprintf(":white_check_mark: Submitted from the form by <@%s>: request %s. Progress follows in this thread.", cb.User.ID, rec.ID()))
		})
	}
	return nil
}

// submitDeleteView checks the typed name and asks for the deletion.
func (b *Bot) submitDeleteView(ctx context.Context, cb slack.InteractionCallback) any {
	meta := decodeMeta(cb.View.PrivateMetadata)
	fail := func(msg string) any { return slack.NewErrorsViewSubmissionResponse(map[string]string{"confirm": msg}) }
	typed := ""
	if cb.View.State != nil {
		typed = strings.TrimSpace(cb.View.State.Values["confirm"]["confirm"].Value)
	}
	if typed != meta.Name {
		return fail(fmt.Sprintf("Type %s exactly to delete it.", meta.Name))
	}
	pipe, err := b.pipe()
	if err != nil {
		return fail("The request pipeline is not running here; try again later.")
	}
	rec, msg, err := b.findDatabase(ctx, "delete", target{name: meta.Name, env: meta.Env, team: meta.Team})
	if err != nil {
		b.log.Error().Err(err).Msg("database not found for delete")
		return fail("I could not read the requests; try again in a minute.")
	}
	if msg != "" {
		return fail(msg)
	}
	spec := rec.Request.Spec
	if msg, err := b.refusal(ctx, spec.Environment, meta.Channel, cb.User.ID); msg != "" {
		if err != nil {
			b.log.Warn().Err(err).Msg("access not checked")
		}
		return fail(msg)
	}
	who := request.Requester{ID: cb.User.ID, Name: cb.User.Name}
	_, _, err = pipe.Change(ctx, request.Change{Kind: request.Destroy, Environment: spec.Environment, Team: spec.Team, Name: spec.Name,
		Requester: who, Origin: slackOrigin(cb.Team.ID, meta.Channel, "")}, store.Idempotency{Scope: "slack", Key: "view/" + cb.View.ID})
	var pr request.Problems
	if errors.As(err, &pr) {
		return fail(pr.Error())
	}
	if err != nil {
		b.log.Error().Err(err).Msg("delete not asked")
		return fail("The service could not take the request (the error is logged); try again in a minute.")
	}
	return nil
}
