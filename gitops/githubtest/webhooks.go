package githubtest

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Delivery is one webhook delivery attempt, as GitHub's "Recent Deliveries"
// shows it.
type Delivery struct {
	ID          string // X-GitHub-Delivery; a redelivery keeps the original's
	HookID      int64  // X-GitHub-Hook-ID
	Event       string // X-GitHub-Event
	Action      string // the payload's "action", if any
	Redelivery  bool
	URL         string
	Header      http.Header // the request headers as sent
	Payload     []byte
	StatusCode  int    // the receiver's answer; 0 if there was none
	Response    []byte // the receiver's body, at most 64 KiB
	Err         error  // why there was no answer
	DeliveredAt time.Time
}

// ErrNoWebhookURL is a Delivery's Err when no webhook URL is configured.
var ErrNoWebhookURL = errors.New("githubtest: no webhook URL configured")

const (
	hookID        = 480000001
	hookUserAgent = "GitHub-Hookshot/5f2ea2b"
	maxResponse   = 64 << 10
)

// hookQueue sends webhooks: in order, one at a time, from its own goroutine
// (as GitHub does), or right away for synchronous and crafted deliveries. It
// has its own lock so that no delivery ever waits on the Server's.
type hookQueue struct {
	client     *http.Client
	now        func() time.Time
	all        bool
	events     map[string]bool
	targetType string
	targetID   int64
	ctx        context.Context
	cancel     context.CancelFunc
	stopped    chan struct{}

	mu      sync.Mutex
	cond    *sync.Cond
	url     string
	secret  string
	queue   []*Delivery
	sending bool
	closed  bool
	log     []Delivery
}

func newHookQueue(opts Options, now func() time.Time) *hookQueue {
	h := &hookQueue{
		client:     &http.Client{Timeout: opts.WebhookTimeout},
		now:        now,
		events:     make(map[string]bool),
		targetType: "repository",
		targetID:   repoID,
		url:        opts.WebhookURL,
		secret:     opts.WebhookSecret,
		stopped:    make(chan struct{}),
	}
	for _, e := range opts.WebhookEvents {
		h.all = h.all || e == "*"
		h.events[e] = true
	}
	if opts.App != nil {
		h.targetType, h.targetID = "integration", opts.App.ID
	}
	h.cond = sync.NewCond(&h.mu)
	h.ctx, h.cancel = context.WithCancel(context.Background())
	go h.run()
	return h
}

func (h *hookQueue) subscribed(event string) bool {
	return h.all || h.events[event] || event == "ping"
}

func (h *hookQueue) run() {
	defer close(h.stopped)
	h.mu.Lock()
	defer h.mu.Unlock()
	for {
		for len(h.queue) == 0 && !h.closed {
			h.cond.Wait()
		}
		if h.closed {
			return
		}
		d := h.queue[0]
		h.queue = h.queue[1:]
		h.sending = true
		h.mu.Unlock()
		h.send(d)
		h.mu.Lock()
		h.sending = false
		h.cond.Broadcast()
	}
}

func (h *hookQueue) enqueue(d *Delivery) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	h.queue = append(h.queue, d)
	h.cond.Broadcast()
}

// flush waits until every queued delivery was attempted.
func (h *hookQueue) flush() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for (len(h.queue) > 0 || h.sending) && !h.closed {
		h.cond.Wait()
	}
}

func (h *hookQueue) close() {
	h.mu.Lock()
	h.closed = true
	h.queue = nil
	h.cond.Broadcast()
	h.mu.Unlock()
	h.cancel()
	<-h.stopped
}

// headers are the headers GitHub sends with a delivery of body.
func (h *hookQueue) headers(d *Delivery, secret string) http.Header {
	hdr := make(http.Header)
	hdr.Set("Accept", "*/*")
	hdr.Set("Content-Type", "application/json")
	hdr.Set("User-Agent", hookUserAgent)
	hdr.Set("X-GitHub-Delivery", d.ID)
	hdr.Set("X-GitHub-Event", d.Event)
	hdr.Set("X-GitHub-Hook-ID", strconv.FormatInt(d.HookID, 10))
	hdr.Set("X-GitHub-Hook-Installation-Target-ID", strconv.FormatInt(h.targetID, 10))
	hdr.Set("X-GitHub-Hook-Installation-Target-Type", h.targetType)
	if secret != "" {
		hdr.Set("X-Hub-Signature", "sha1="+sign(sha1.New, secret, d.Payload))
		hdr.Set("X-Hub-Signature-256", "sha256="+sign(sha256.New, secret, d.Payload))
	}
	return hdr
}

func sign(h func() hash.Hash, secret string, body []byte) string {
	m := hmac.New(h, []byte(secret))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// send delivers d now, with override replacing (or, when empty, removing)
// headers, and logs the attempt.
func (h *hookQueue) send(d *Delivery, override ...http.Header) Delivery {
	h.mu.Lock()
	url, secret := h.url, h.secret
	h.mu.Unlock()

	d.HookID = hookID
	d.URL = url
	d.Header = h.headers(d, secret)
	for _, o := range override {
		for k, v := range o {
			if len(v) == 0 {
				d.Header.Del(k)
				continue
			}
			d.Header[http.CanonicalHeaderKey(k)] = append([]string(nil), v...)
		}
	}
	h.post(d)
	d.DeliveredAt = h.now()

	h.mu.Lock()
	defer h.mu.Unlock()
	h.log = append(h.log, *d)
	return d.clone()
}

func (h *hookQueue) post(d *Delivery) {
	if d.URL == "" {
		d.Err = ErrNoWebhookURL
		return
	}
	req, err := http.NewRequestWithContext(h.ctx, http.MethodPost, d.URL, bytes.NewReader(d.Payload))
	if err != nil {
		d.Err = fmt.Errorf("githubtest: webhook request: %w", err)
		return
	}
	req.Header = d.Header.Clone()
	resp, err := h.client.Do(req)
	if err != nil {
		d.Err = fmt.Errorf("githubtest: deliver %s %s: %w", d.Event, d.ID, err)
		return
	}
	defer resp.Body.Close()
	d.StatusCode = resp.StatusCode
	d.Response, err = io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		d.Err = fmt.Errorf("githubtest: read webhook response: %w", err)
	}
}

func (d Delivery) clone() Delivery {
	d.Header = d.Header.Clone()
	return d
}

// newGUID is a random (version 4) UUID, the shape of X-GitHub-Delivery.
func newGUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// outbox holds the webhooks an operation caused, when they are delivered
// synchronously (Options.SyncWebhooks): the operation delivers them once it
// released the Server's lock.
type outbox []*Delivery

// emit sends event (if the hook subscribes to it) after the current
// operation, or queues it. Callers hold s.mu, so queued deliveries keep the
// order of the changes.
func (s *Server) emit(out *outbox, event, action string, payload any) error {
	if !s.hooks.subscribed(event) {
		return nil
	}
	body, err := marshal(payload)
	if err != nil {
		return fmt.Errorf("webhook %s payload: %w", event, err)
	}
	d := &Delivery{ID: newGUID(), Event: event, Action: action, Payload: body}
	if s.opts.SyncWebhooks {
		*out = append(*out, d)
		return nil
	}
	s.hooks.enqueue(d)
	return nil
}

// deliver sends what an operation left in out. Callers do not hold s.mu:
// operations defer it before locking, so that it runs after the unlock.
func (s *Server) deliver(out *outbox) {
	for _, d := range *out {
		s.hooks.send(d)
	}
}

// SetWebhook points the webhook at url, signed with secret, for the
// deliveries that follow (and redeliveries).
func (s *Server) SetWebhook(url, secret string) {
	s.hooks.mu.Lock()
	defer s.hooks.mu.Unlock()
	s.hooks.url, s.hooks.secret = url, secret
}

// Flush waits until every webhook queued so far was attempted. With
// Options.SyncWebhooks there is never anything to wait for.
func (s *Server) Flush() { s.hooks.flush() }

// Deliveries lists the delivery attempts so far, oldest first.
func (s *Server) Deliveries() []Delivery {
	s.hooks.mu.Lock()
	defer s.hooks.mu.Unlock()
	out := make([]Delivery, len(s.hooks.log))
	for i, d := range s.hooks.log {
		out[i] = d.clone()
	}
	return out
}

// Redeliver sends a past delivery again, now, as GitHub's "Redeliver" does:
// the same payload and X-GitHub-Delivery, signed with the current secret.
func (s *Server) Redeliver(id string) (Delivery, error) {
	var orig *Delivery
	for _, d := range s.Deliveries() {
		if d.ID == id {
			orig = &d
		}
	}
	if orig == nil {
		return Delivery{}, fmt.Errorf("githubtest: no delivery %s", id)
	}
	d := s.hooks.send(&Delivery{ID: orig.ID, Event: orig.Event, Action: orig.Action, Payload: orig.Payload, Redelivery: true})
	return d, d.Err
}

// Deliver sends an event now with payload (a go-github event, a map, or raw
// JSON bytes), signed as GitHub would.
func (s *Server) Deliver(event string, payload any) (Delivery, error) {
	body, ok := payload.([]byte)
	if !ok {
		var err error
		if body, err = marshal(payload); err != nil {
			return Delivery{}, fmt.Errorf("githubtest: %w", err)
		}
	}
	return s.DeliverRaw(event, body, nil)
}

// DeliverRaw sends body as event now, with GitHub's headers computed over it
// and then header applied on top: a value replaces GitHub's, an empty value
// removes it. Use it for tampered payloads and forged signatures.
func (s *Server) DeliverRaw(event string, body []byte, header http.Header) (Delivery, error) {
	d := &Delivery{ID: newGUID(), Event: event, Action: actionOf(body), Payload: body}
	sent := s.hooks.send(d, header)
	return sent, sent.Err
}

// Ping sends the ping event GitHub sends when a hook is created.
func (s *Server) Ping() (Delivery, error) {
	s.hooks.mu.Lock()
	url := s.hooks.url
	s.hooks.mu.Unlock()
	s.mu.Lock()
	payload := map[string]any{
		"zen":     "Design for failure.",
		"hook_id": hookID,
		"hook": map[string]any{
			"type":   "Repository",
			"id":     hookID,
			"name":   "web",
			"active": true,
			"events": s.opts.WebhookEvents,
			"config": map[string]any{"content_type": "json", "insecure_ssl": "0", "url": url},
		},
		"repository": s.repoJSON(),
		"sender":     s.userJSON(s.opts.Owner),
	}
	s.mu.Unlock()
	return s.Deliver("ping", payload)
}

func actionOf(body []byte) string {
	var p struct {
		Action string `json:"action"`
	}
	_ = json.Unmarshal(body, &p) // crafted payloads need not be JSON
	return p.Action
}
