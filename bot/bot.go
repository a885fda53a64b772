package bot

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/slack-go/slack"

	"github.com/clustropg/clustro/config"
	"github.com/clustropg/clustro/request"
	"github.com/clustropg/clustro/store"
)

// Pipeline is what the bot asks of the pipeline: the only way to create or
// change requests. *pipeline.Pipeline implements it.
type Pipeline interface {
	Submit(ctx context.Context, r request.DatabaseRequest, key store.Idempotency) (store.Record, bool, error)
	Change(ctx context.Context, c request.Change, key store.Idempotency) (store.Record, bool, error)
	Retry(ctx context.Context, id string, who request.Requester, origin string) (store.Record, error)
	// Reconcile starts a reconcile of a ready database (confirm "": it is
	// planned and the plan posted in the database's thread), or applies
	// the planned one whose id confirm names. Refusals are
	// request.Problems.
	Reconcile(ctx context.Context, key store.DatabaseKey, who request.Requester, origin request.Origin, confirm string) (request.Reconcile, error)
	// Backups reads the base backups and the recovery window of a ready
	// database. Refusals (no such database, not ready) are
	// request.Problems.
	Backups(ctx context.Context, key store.DatabaseKey) (request.BackupSet, error)
	// TakeBackup starts an on-demand base backup of a ready database; its
	// progress and result are told in the database's thread. idem makes
	// it idempotent. Refusals are request.Problems.
	TakeBackup(ctx context.Context, key store.DatabaseKey, who request.Requester, origin request.Origin, idem store.Idempotency) (request.BaseBackup, error)
}

// Store is the part of the store the bot uses: requests to read (and the
// progress message to remember), conversations, idempotency records (each
// Slack payload claimed once, each credentials DM sent once) and the watch
// records (health, drift and reconcile, for /pg status and /pg drift).
// store.Store implements it.
type Store interface {
	store.Requests
	store.Conversations
	store.Idempotent
	store.Watches
}

// Credentials reads the connection URI and password of a ready database
// (the <cluster>-app secret) from the cluster of its environment. The bot
// calls it only to send them to the requester by direct message; they are
// never logged or posted in a channel.
type Credentials func(ctx context.Context, env, namespace, cluster string) (uri, password string, err error)

// Deps are the bot's collaborators.
type Deps struct {
	Store Store
	// Pipeline takes the requests; without it the commands that ask for
	// one answer that the pipeline is not running.
	Pipeline Pipeline
	Policy   *request.Policy
	// Config holds the tokens and the access and routing settings.
	Config config.Slack
	// Credentials may be nil: the ready message then tells how to read the
	// secret instead of sending it.
	Credentials Credentials
	Log         zerolog.Logger
	// HTTPClient reaches Slack's Web API and response_url; nil takes a
	// client with a 15 s timeout.
	HTTPClient *http.Client
	// Workers is how many tasks after acknowledgements (answers on
	// response_urls, cards, notes) run at once, and Queue how many more
	// may wait; a command that finds them all taken is answered "busy"
	// at once (see pool.go). Zero takes DefaultWorkers and DefaultQueue.
	Workers, Queue int
}

// Bot is the Slack app. Make one with New, serve Handler over HTTP or call
// Run for Socket Mode; its Notify delivers the pipeline's notices (the
// wiring registers it as the notify jobs' handler).
type Bot struct {
	store       Store
	policy      *request.Policy
	cfg         config.Slack
	credentials Credentials
	log         zerolog.Logger
	api         *slack.Client
	httpClient  *http.Client

	pipeline Pipeline

	access *accessChecker
	locks  *keyedMutex

	// work runs what follows an acknowledgement, bounded; reads bounds
	// its store reads (see pool.go).
	work  *pool
	reads chan struct{}

	selfMu sync.Mutex
	self   string // the bot's user id, from auth.test

	// now and sleep are the clock, replaced in tests.
	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) error
	// maxAttempts and maxWait bound the retries of one Slack call.
	maxAttempts int
	maxWait     time.Duration
}

// New checks the dependencies and makes a bot. It calls nothing: Slack is
// first reached when a request arrives or Run starts.
func New(d Deps) (*Bot, error) {
	var missing []string
	if d.Store == nil {
		missing = append(missing, "Store")
	}
	if d.Policy == nil {
		missing = append(missing, "Policy")
	}
	if !d.Config.BotToken.IsSet() {
		missing = append(missing, "Config.BotToken (CLUSTRO_SLACK_BOT_TOKEN)")
	} else if !strings.HasPrefix(d.Config.BotToken.Value(), "xoxb-") {
		return nil, errors.New("bot: the bot token must be a bot token (xoxb-...)")
	}
	if !d.Config.SigningSecret.IsSet() && !d.Config.AppToken.IsSet() {
		missing = append(missing, "Config.SigningSecret (HTTP) or Config.AppToken (Socket Mode)")
	}
	if d.Config.AppToken.IsSet() && !strings.HasPrefix(d.Config.AppToken.Value(), "xapp-") {
		return nil, errors.New("bot: the app token must be an app-level token (xapp-...)")
	}
	if d.Workers < 0 || d.Queue < 0 {
		return nil, errors.New("bot: Workers and Queue cannot be negative")
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("bot: missing %s", strings.Join(missing, ", "))
	}
	workers, queue := d.Workers, d.Queue
	if workers == 0 {
		workers = DefaultWorkers
	}
	if queue == 0 {
		queue = DefaultQueue
	}
	hc := d.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 15 * time.Second}
	}
	opts := []slack.Option{slack.OptionHTTPClient(hc)}
	if u := d.Config.APIURL; u != "" {
		opts = append(opts, slack.OptionAPIURL(strings.TrimSuffix(u, "/")+"/"))
	}
	log := d.Log.With().Str("component", "slack").Logger()
	b := &Bot{
		store:       d.Store,
		policy:      d.Policy,
		cfg:         d.Config,
		credentials: d.Credentials,
		log:         log,
		api:         slack.New(d.Config.BotToken.Value(), opts...),
		httpClient:  hc,
		pipeline:    d.Pipeline,
		locks:       newKeyedMutex(),
		work:        newPool(workers, queue, log),
		reads:       make(chan struct{}, readSlots()),
		now:         time.Now,
		sleep:       sleepContext,
		maxAttempts: 5,
		maxWait:     2 * time.Minute,
	}
	b.access = newAccessChecker(b, time.Minute)
	return b, nil
}

// errNoPipeline is returned while the bot has no pipeline.
var errNoPipeline = errors.New("the request pipeline is not running")

func (b *Bot) pipe() (Pipeline, error) {
	if b.pipeline == nil {
		return nil, errNoPipeline
	}
	return b.pipeline, nil
}

// Run runs Socket Mode when an app token is set, reconnecting with backoff
// until ctx is done; without one it waits for ctx (the HTTP Handler does
// the work). Either way, once ctx is done the bot takes no more work after
// an acknowledgement (commands are answered "busy"), and Run returns when
// the work already taken has finished.
func (b *Bot) Run(ctx context.Context) error {
	defer b.work.close(closeGrace)
	go b.forgetClaims(ctx)
	if !b.cfg.AppToken.IsSet() {
		<-ctx.Done()
		return nil
	}
	return b.runSocketMode(ctx)
}

// later runs f after the acknowledgement of a click or an event, on the
// pool, with its own context (the request's ends with the HTTP answer). It
// waits for a place up to admitWait; when none frees, f is dropped and
// logged, and later reports false.
func (b *Bot) later(what string, f func(ctx context.Context) error) bool {
	if b.work.wait(what, admitWait, f) {
		return true
	}
	b.log.Error().Str("work", what).Msg("slack work dropped: every worker is busy")
	return false
}

// answerLater runs f, a command's answer on its response_url, on the pool,
// and returns the acknowledgement: nothing, or, when the pool is full, a
// short ephemeral "busy" at once.
func (b *Bot) answerLater(what string, f func(ctx context.Context) error) any {
	if b.work.try(what, f) {
		return nil
	}
	b.log.Warn().Str("work", what).Msg("slack command answered busy: every worker is busy")
	return ephemeralReply(text(busyText))
}

// busyText answers a command that finds the pool full.
const busyText = "I am busy answering other commands; try again in a few seconds."

// Slack signs each request it sends, but a signed request can come again:
// Slack retries an event it thinks was lost (X-Slack-Retry-Num), Socket
// Mode redelivers an envelope that was not acknowledged, and whoever saw a
// request can replay it while its signature is fresh (5 minutes). The bot
// acts on each payload once: before it acts it claims, in the store
// (durable, shared by every replica), the id Slack minted for that payload,
// and a payload whose claim is taken changes nothing (/pg help and /pg
// sizes, which only answer from the policy, claim nothing). The ids:
//
//	slash command     trigger_id
//	block_actions     trigger_id and the action's action_ts
//	view_submission   trigger_id (a form submitted again after inline
//	                  errors keeps its view id and hash, not its trigger_id)
//	event_callback    event_id (Slack's retries keep it)
//
// A payload that cannot be claimed (the store did not answer, or it carries
// no id) is not acted on either: at most once, never twice. Claims are kept
// as long as the store keeps idempotency records; they need to outlive the
// signature's 5 minutes plus Slack's last event retry (about 5 minutes
// after the first delivery).

// claimTimeout bounds the claim, which comes before the acknowledgement:
// Slack waits 3 s for it.
const claimTimeout = 2 * time.Second

// errNoID refuses a payload without the id Slack always sends.
var errNoID = errors.New("the payload carries no id to claim")

// claim records key, the id of one Slack payload, and reports whether this
// call recorded it: false with a nil error means the payload was seen
// before, by this replica or another, and must not be acted on again.
func (b *Bot) claim(ctx context.Context, key store.Idempotency) (bool, error) {
	if key.Key == "" {
		return false, errNoID
	}
	ctx, cancel := context.WithTimeout(ctx, claimTimeout)
	defer cancel()
	_, first, err := b.store.Remember(ctx, key, []byte("claimed"))
	if err != nil {
		return false, err
	}
	if !first {
		b.log.Info().Str("claim", key.String()).Msg("slack payload seen before: not acted on again")
	}
	return first, nil
}

func commandClaim(cmd slack.SlashCommand) store.Idempotency {
	return store.Idempotency{Scope: scopeCommand, Key: cmd.TriggerID}
}

func interactionClaim(cb slack.InteractionCallback) store.Idempotency {
	key := store.Idempotency{Scope: scopeInteraction}
	if cb.TriggerID == "" {
		return key
	}
	key.Key = cb.TriggerID
	if acts := cb.ActionCallback.BlockActions; cb.Type == slack.InteractionTypeBlockActions && len(acts) > 0 {
		key.Key += "/" + acts[0].ActionTs
	}
	return key
}

func eventClaim(eventID string) store.Idempotency {
	return store.Idempotency{Scope: scopeEvent, Key: eventID}
}

// The scopes of the claims, and how long they are kept: a replay is
// refused for as long as Slack's signature is good (5 minutes) and Slack
// retries an event (within the hour).
const (
	scopeCommand     = "slack-command"
	scopeInteraction = "slack-interaction"
	scopeEvent       = "slack-event"
	claimsKept       = time.Hour
)

// forgetClaims deletes, every claimsKept, the claims older than claimsKept,
// until ctx is done: without it they would pile up forever.
func (b *Bot) forgetClaims(ctx context.Context) {
	t := time.NewTicker(claimsKept)
	defer t.Stop()
	for {
		for _, scope := range []string{scopeCommand, scopeInteraction, scopeEvent} {
			if _, err := b.store.Forget(ctx, scope, b.now().Add(-claimsKept)); err != nil && ctx.Err() == nil {
				b.log.Warn().Err(err).Str("scope", scope).Msg("old Slack claims not deleted")
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// settle waits for the work started after acknowledgements (tests).
func (b *Bot) settle() { b.work.settle() }

func sleepContext(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// keyedMutex serialises the handling of one conversation within a process.
type keyedMutex struct {
	mu    sync.Mutex
	locks map[string]*keyedLock
}

type keyedLock struct {
	mu   sync.Mutex
	refs int
}

func newKeyedMutex() *keyedMutex { return &keyedMutex{locks: map[string]*keyedLock{}} }

// lock locks key and returns its unlock.
func (k *keyedMutex) lock(key string) func() {
	k.mu.Lock()
	l, ok := k.locks[key]
	if !ok {
		l = &keyedLock{}
		k.locks[key] = l
	}
	l.refs++
	k.mu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		k.mu.Lock()
		l.refs--
		if l.refs == 0 {
			delete(k.locks, key)
		}
		k.mu.Unlock()
	}
}
