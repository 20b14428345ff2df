package webhooks

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/ringside/ringside/pkg/backoff"
	"github.com/ringside/ringside/pkg/events"
	"github.com/ringside/ringside/pkg/fault"
	"github.com/ringside/ringside/pkg/store"
)

// Subscriptions are the subscriptions a Dispatcher delivers to and keeps
// up to date (state, failures). store.Store satisfies it.
type Subscriptions interface {
	ListWebhooks(ctx context.Context, tenant string) ([]store.Webhook, error)
	Webhook(ctx context.Context, tenant, id string) (store.Webhook, error)
	UpdateWebhook(ctx context.Context, w store.Webhook) (store.Webhook, error)
}

// DeliveryLog keeps every attempt. store.Store satisfies it.
type DeliveryLog interface {
	AppendDelivery(ctx context.Context, d store.Delivery) (store.Delivery, error)
}

// Auditor records what the Dispatcher decides on its own: a subscription
// disabled. store.Store satisfies it.
type Auditor interface {
	AppendAudit(ctx context.Context, e store.AuditEntry) (store.AuditEntry, error)
}

// Poster sends one HTTP POST. adapters/webhook implements it.
type Poster interface {
	// Post sends r and returns the answer: its status and at most
	// MaxAnswer bytes of its body. An error means there is no answer; one
	// caused by a deadline (ctx's or the transport's) wraps ErrTimeout.
	// Redirects are not followed: a 3xx is an answer.
	Post(ctx context.Context, r Request) (Response, error)
}

// ErrInProgress: another attempt (another worker or process) is deciding
// the subscription's current round; its outcome is stored soon.
var ErrInProgress = errors.New("another attempt is deciding this round")

// ErrTimeout is wrapped by a Poster's error when the receiver did not
// answer in time.
var ErrTimeout = errors.New("timeout")

// MaxAnswer bounds the bytes of an answer a Poster reads: enough for an
// echoed challenge and the start of an error page.
const MaxAnswer = 4 << 10

// Request is one POST to send.
type Request struct {
	URL     string
	Headers map[string]string
	Body    []byte
}

// Response is a receiver's answer.
type Response struct {
	Status int
	Body   []byte
}

// Event is a call event as the stream delivers it.
type Event struct {
	// MsgID is the message id (events.MsgID): the envelope id derives
	// from it. Empty: derived from the event.
	MsgID string
	// Data is the events.Call v1 JSON as published.
	Data []byte
	// Published is when the stream stored it: a subscription gets the
	// events published after its receiver was last verified. Zero: unknown,
	// not filtered.
	Published time.Time
	// Attempt is the stream's delivery count, from 1.
	Attempt int
}

// Options configure a Dispatcher. Subscriptions, Keys, Log, Audit and
// Poster are required.
type Options struct {
	Subscriptions Subscriptions
	// Keys hold the done marker of each subscription and event (PutRecord,
	// for DoneTTL), the claim of an attempt in flight and the claim of a
	// failing subscription's next probe.
	Keys   store.Keys
	Log    DeliveryLog
	Audit  Auditor
	Poster Poster
	// Timeout bounds one attempt (webhooks.timeout); 0: 10s.
	Timeout time.Duration
	// MaxFailures consecutive failed rounds disable a subscription
	// (webhooks.max_failures); 0: 30.
	MaxFailures int
	// Backoff spaces the rounds of a failing subscription
	// (webhooks.backoff); zero: 1s doubling up to 10m.
	Backoff backoff.Policy
	// AllowInsecure lets http:// URLs to loopback and private addresses
	// receive deliveries (webhooks.allow_insecure; CheckURL).
	AllowInsecure bool
	// DoneTTL is how long a subscription's done marker for an event is
	// kept: at least as long as the stream keeps events (nats.max_age);
	// 0: 7 days.
	DoneTTL time.Duration
	// SweepInterval is how often Run looks for pending subscriptions to
	// verify; 0: 2s.
	SweepInterval time.Duration
	// UserAgent is sent with every request ("Ringside/1.4.0"); "":
	// "Ringside".
	UserAgent string
	Logger    *zap.Logger
	// Registerer takes the ringside_webhook_* metrics; nil: not exported.
	Registerer prometheus.Registerer
	// Now is the clock; nil: time.Now.
	Now func() time.Time
}

// Defaults of Options.
const (
	DefaultTimeout       = 10 * time.Second
	DefaultMaxFailures   = 30
	DefaultDoneTTL       = 7 * 24 * time.Hour
	DefaultSweepInterval = 2 * time.Second
)

// DefaultBackoff spaces the rounds of a failing subscription.
var DefaultBackoff = backoff.Policy{Initial: time.Second, Max: 10 * time.Minute}

// listTTL is how long the subscriptions of a tenant are cached between
// events. A subscription added, removed or re-enabled elsewhere (the CLI,
// another node) is seen within it; what this Dispatcher changes itself is
// seen at once.
const listTTL = time.Second

// claimMargin is added to Timeout for the claims of an attempt, so a claim
// outlives its attempt.
const claimMargin = 5 * time.Second

// sweepConcurrency bounds the handshakes of one sweep running at once.
const sweepConcurrency = 8

// Dispatcher delivers call events to the tenants' webhook subscriptions.
// Safe for concurrent use: the consumer runs Handle on several workers.
type Dispatcher struct {
	o   Options
	log *zap.Logger
	m   *metrics
	now func() time.Time

	mu    sync.Mutex
	cache map[string]cachedSubs // tenant → its subscriptions, briefly
}

type cachedSubs struct {
	at   time.Time
	subs []store.Webhook
}

// New returns a Dispatcher.
func New(o Options) (*Dispatcher, error) {
	if o.Subscriptions == nil || o.Keys == nil || o.Log == nil || o.Audit == nil || o.Poster == nil {
		return nil, errors.New("webhooks: Subscriptions, Keys, Log, Audit and Poster are required")
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxFailures <= 0 {
		o.MaxFailures = DefaultMaxFailures
	}
	if o.Backoff == (backoff.Policy{}) {
		o.Backoff = DefaultBackoff
	}
	if o.DoneTTL <= 0 {
		o.DoneTTL = DefaultDoneTTL
	}
	if o.SweepInterval <= 0 {
		o.SweepInterval = DefaultSweepInterval
	}
	if o.UserAgent == "" {
		o.UserAgent = "Ringside"
	}
	m, err := newMetrics(o.Registerer)
	if err != nil {
		return nil, fmt.Errorf("webhooks: metrics: %w", err)
	}
	d := &Dispatcher{o: o, log: o.Logger, m: m, now: o.Now, cache: map[string]cachedSubs{}}
	if d.log == nil {
		d.log = zap.NewNop()
	}
	if d.now == nil {
		d.now = time.Now
	}
	return d, nil
}

// held is a subscription's event kept for later: the subscription is in
// backoff, another worker decides its round, or the attempt failed.
type held struct {
	after time.Duration // when it may go again
	err   error
}

func (h *held) Error() string { return h.err.Error() }
func (h *held) Unwrap() error { return h.err }

// Handle delivers one call event to every active subscription of its
// tenant that wants it, was verified before the event was published, and
// has not got it yet. Pending subscriptions are left to the sweep (Run):
// an event is held only for a verified receiver that fails, never for one
// that may never answer. nil: every one got it (or is now disabled);
// a fault.Retryable error, with the delay until the earliest of them may be
// tried again: some did not, retry the event (those that got it are not
// sent it again); fault.Permanent: the event cannot be read.
func (d *Dispatcher) Handle(ctx context.Context, ev Event) error {
	var call events.Call
	if err := json.Unmarshal(ev.Data, &call); err != nil {
		return fault.Permanent(fmt.Errorf("webhooks: decode call event %s: %w", ev.MsgID, err))
	}
	if !events.ValidToken(call.Tenant) {
		return fault.Permanent(fmt.Errorf("webhooks: call event %s: tenant %q", ev.MsgID, call.Tenant))
	}
	subs, err := d.subscriptions(ctx, call.Tenant)
	if err != nil {
		return fmt.Errorf("webhooks: subscriptions of %s: %w", call.Tenant, err)
	}
	var targets []store.Webhook
	for _, w := range subs {
		if w.State == store.WebhookActive && w.Wants(string(call.Type)) &&
			(ev.Published.IsZero() || !ev.Published.Before(w.CreatedAt) && !ev.Published.Before(w.VerifiedAt)) {
			targets = append(targets, w)
		}
	}
	if len(targets) == 0 {
		return nil
	}
	env := NewEnvelope(ev.MsgID, call, ev.Data)
	body, err := json.Marshal(env)
	if err != nil {
		return fault.Permanent(fmt.Errorf("webhooks: envelope of %s: %w", ev.MsgID, err))
	}
	attempt := max(ev.Attempt, 1)
	errs := make([]error, len(targets))
	if len(targets) == 1 {
		errs[0] = d.deliver(ctx, targets[0], env, body, attempt)
	} else {
		var wg sync.WaitGroup
		for i, w := range targets {
			wg.Go(func() { errs[i] = d.deliver(ctx, w, env, body, attempt) })
		}
		wg.Wait()
	}
	var after time.Duration
	var failed []error
	for _, err := range errs {
		if err == nil {
			continue
		}
		var h *held
		if errors.As(err, &h) && (len(failed) == 0 || h.after < after) {
			after = h.after
		}
		failed = append(failed, err)
	}
	if len(failed) == 0 {
		return nil
	}
	return fault.Retryable(fmt.Errorf("webhooks: event %s of %s: %w", env.ID, call.Tenant, errors.Join(failed...)), after)
}

// Keys of the store's Keys, per subscription.
func doneKey(w store.Webhook, evID string) string {
	return "webhook/" + w.Tenant + "/" + w.ID + "/done/" + evID
}

func sendingKey(w store.Webhook, evID string) string {
	return "webhook/" + w.Tenant + "/" + w.ID + "/sending/" + evID
}

// roundKey names a round of a failing or pending subscription: the
// version it was read at. Every change (a failure counted, a success, an
// admin's enable) starts a new round.
func roundKey(w store.Webhook) string {
	return "webhook/" + w.Tenant + "/" + w.ID + "/round/" + strconv.FormatUint(w.Version, 10)
}

// deliver sends the event to one subscription unless it got it already.
// nil: it has it (or the subscription is no longer active); *held: not
// now; any other error: the store failed.
func (d *Dispatcher) deliver(ctx context.Context, w store.Webhook, env Envelope, body []byte, attempt int) error {
	if w.State != store.WebhookActive {
		return nil
	}
	done := doneKey(w, env.ID)
	if _, err := d.o.Keys.GetRecord(ctx, done); err == nil {
		return nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("subscription %s: done marker: %w", w.ID, err)
	}
	w, err := d.ready(ctx, w)
	if err != nil || w.State != store.WebhookActive {
		return err
	}
	// One attempt at a time per subscription and event, whichever worker
	// or node has the event.
	sending := sendingKey(w, env.ID)
	got, err := d.o.Keys.Claim(ctx, sending, d.o.Timeout+claimMargin)
	if err != nil {
		return fmt.Errorf("subscription %s: claim: %w", w.ID, err)
	}
	if !got {
		return &held{after: d.o.Timeout, err: fmt.Errorf("subscription %s: being delivered by another worker", w.ID)}
	}
	o := d.attempt(ctx, w, env.ID, env.Type, body, attempt, nil)
	if o.result != store.DeliveryOK {
		if err := d.o.Keys.Release(context.WithoutCancel(ctx), sending); err != nil {
			d.log.Warn("webhook claim not released", zap.String("tenant", w.Tenant), zap.String("webhook", w.ID), zap.Error(err))
		}
		return d.failed(ctx, w, o)
	}
	if err := d.o.Keys.PutRecord(context.WithoutCancel(ctx), done, d.now().UTC().Format(time.RFC3339), d.o.DoneTTL); err != nil {
		// Delivered; a redelivery of the event may send it again, and the
		// receiver de-duplicates it by its id.
		d.log.Warn("webhook done marker not stored", zap.String("tenant", w.Tenant), zap.String("webhook", w.ID),
			zap.String("event_id", env.ID), zap.Error(err))
	}
	d.succeeded(ctx, w)
	return nil
}

// ready decides whether w may be attempted now, running its handshake
// first while it is pending. It returns w as it now stands: active (go on),
// disabled (skip: nil error), or a *held error (not now).
func (d *Dispatcher) ready(ctx context.Context, w store.Webhook) (store.Webhook, error) {
	if w.State == store.WebhookDisabled {
		return w, nil
	}
	if err := CheckURL(w.URL, d.o.AllowInsecure); err != nil {
		return d.disable(ctx, w, fmt.Sprintf("URL not allowed: %s", strings.TrimSuffix(err.Error(), ": "+store.ErrInvalid.Error())))
	}
	if w.Failures == 0 && w.State == store.WebhookActive {
		return w, nil
	}
	// A failing or unverified subscription: one probe per round, once its
	// backoff has passed; the others wait for the outcome.
	if wait := w.RetryAt.Sub(d.now()); wait > 0 {
		return w, &held{after: wait, err: fmt.Errorf("subscription %s: %d failed rounds, next at %s", w.ID, w.Failures, w.RetryAt.UTC().Format(time.RFC3339))}
	}
	got, err := d.o.Keys.Claim(ctx, roundKey(w), 2*d.o.Timeout+claimMargin)
	if err != nil {
		return w, fmt.Errorf("subscription %s: claim round: %w", w.ID, err)
	}
	if !got {
		return w, &held{after: d.o.Timeout, err: fmt.Errorf("subscription %s: %w", w.ID, ErrInProgress)}
	}
	if w.State == store.WebhookPending {
		return d.verify(ctx, w)
	}
	return w, nil
}

// verify runs the handshake with a pending subscription. Passed, it
// returns the subscription active; failed, a *held error (the failure
// counted) or, when that was the last allowed round, the subscription
// disabled.
func (d *Dispatcher) verify(ctx context.Context, w store.Webhook) (store.Webhook, error) {
	v := Verification{ID: "vrf_" + random(16), Type: TypeVerify, Tenant: w.Tenant, CreatedAt: d.now().UTC(), Challenge: random(24)}
	body, err := json.Marshal(v)
	if err != nil {
		return w, err
	}
	o := d.attempt(ctx, w, v.ID, v.Type, body, w.Failures+1, func(r Response) string {
		if echoed(r.Body, v.Challenge) {
			return ""
		}
		return "answered without the challenge echoed"
	})
	if o.result != store.DeliveryOK {
		return w, d.failed(ctx, w, o)
	}
	now := d.now().UTC()
	nw, err := store.ModifyWebhook(context.WithoutCancel(ctx), d.o.Subscriptions, w.Tenant, w.ID, func(x *store.Webhook) error {
		if x.State != store.WebhookPending {
			return errNoChange // disabled or verified meanwhile
		}
		x.State, x.VerifiedAt, x.Failures, x.RetryAt, x.Reason = store.WebhookActive, now, 0, time.Time{}, ""
		return nil
	})
	switch {
	case errors.Is(err, errNoChange), errors.Is(err, store.ErrNotFound):
		return d.fresh(ctx, w)
	case err != nil:
		return w, fmt.Errorf("subscription %s: verified, but not stored: %w", w.ID, err)
	}
	d.remember(nw)
	d.log.Info("webhook verified", zap.String("tenant", w.Tenant), zap.String("webhook", w.ID), zap.String("url", w.URL))
	return nw, nil
}

// Verify runs the handshake of the subscription now if it is pending (and
// its backoff has passed), and returns it as it then stands: the CLI calls
// it right after enabling one. An error says why it is not active
// (ErrInProgress: another process is running the handshake).
func (d *Dispatcher) Verify(ctx context.Context, tenant, id string) (store.Webhook, error) {
	w, err := d.o.Subscriptions.Webhook(ctx, tenant, id)
	if err != nil {
		return w, err
	}
	w, err = d.ready(ctx, w)
	if err != nil {
		if now, rerr := d.o.Subscriptions.Webhook(ctx, tenant, id); rerr == nil {
			w = now // with the failure counted
		}
		return w, err
	}
	if w.State == store.WebhookDisabled {
		return w, errors.New(w.Reason)
	}
	return w, nil
}

// echoed reports whether a handshake answer echoes challenge: as the JSON
// {"challenge": ...} or as the plain token.
func echoed(body []byte, challenge string) bool {
	var v struct {
		Challenge string `json:"challenge"`
	}
	if json.Unmarshal(body, &v) == nil && v.Challenge == challenge {
		return true
	}
	return string(bytes.TrimSpace(body)) == challenge
}

// outcome is how an attempt ended.
type outcome struct {
	result string // store.Delivery*
	status int
	err    string
}

// attempt signs and posts body once, classifies the answer (check, for a
// handshake, may refuse a 2xx answer), counts it and appends it to the
// delivery log.
func (d *Dispatcher) attempt(ctx context.Context, w store.Webhook, evID, evType string, body []byte, n int, check func(Response) string) outcome {
	start := d.now()
	actx, cancel := context.WithTimeout(ctx, d.o.Timeout)
	resp, err := d.o.Poster.Post(actx, Request{URL: w.URL, Body: body, Headers: map[string]string{
		"Content-Type":  "application/json",
		"User-Agent":    d.o.UserAgent,
		HeaderEventID:   evID,
		HeaderEventType: evType,
		HeaderTimestamp: strconv.FormatInt(start.Unix(), 10),
		HeaderSignature: Sign(w.Secret, start, body),
	}})
	timedOut := errors.Is(actx.Err(), context.DeadlineExceeded)
	cancel()
	took := max(d.now().Sub(start), 0)
	var o outcome
	switch {
	case err != nil && (errors.Is(err, ErrTimeout) || errors.Is(err, context.DeadlineExceeded) || timedOut):
		o = outcome{result: store.DeliveryTimeout, err: fmt.Sprintf("no answer within %s", d.o.Timeout)}
	case err != nil:
		o = outcome{result: store.DeliveryNetworkError, err: clip(err.Error(), store.MaxAuditDetail)}
	case resp.Status < 200 || resp.Status > 299:
		o = outcome{result: store.DeliveryHTTPError, status: resp.Status, err: answerSummary(resp)}
	default:
		o = outcome{result: store.DeliveryOK, status: resp.Status}
		if check != nil {
			if msg := check(resp); msg != "" {
				o = outcome{result: store.DeliveryHTTPError, status: resp.Status, err: fmt.Sprintf("HTTP %d %s", resp.Status, msg)}
			}
		}
	}
	if evType == TypeVerify {
		d.m.verifications.WithLabelValues(o.result).Inc()
	} else {
		d.m.deliveries.WithLabelValues(o.result).Inc()
		d.m.duration.Observe(took.Seconds())
	}
	lctx, lcancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer lcancel()
	if _, err := d.o.Log.AppendDelivery(lctx, store.Delivery{Time: start, Tenant: w.Tenant, Webhook: w.ID, EventID: evID,
		EventType: evType, Attempt: n, Result: o.result, Status: o.status, Error: o.err, Duration: took}); err != nil {
		d.log.Warn("webhook delivery log append failed", zap.String("tenant", w.Tenant), zap.String("webhook", w.ID), zap.Error(err))
	}
	return o
}

// answerSummary describes a non-2xx answer: its status and the start of
// its body, on one line.
func answerSummary(r Response) string {
	s := "HTTP " + strconv.Itoa(r.Status)
	body := strings.Map(func(c rune) rune {
		if unicode.IsControl(c) || c == unicode.ReplacementChar {
			return ' '
		}
		return c
	}, string(bytes.ToValidUTF8(r.Body, nil)))
	if body = strings.Join(strings.Fields(body), " "); body != "" {
		s += ": " + clip(body, 200)
	}
	return s
}

// errNoChange stops a ModifyWebhook that has nothing to write.
var errNoChange = errors.New("no change")

// failed counts a failed round of w (once, however many attempts of the
// round failed: only one that finds w as it read it, same version, counts
// it), sets its next round by the backoff and disables it after
// MaxFailures rounds. It returns the *held error of the event, or nil when
// the subscription is now disabled (nothing more to deliver).
func (d *Dispatcher) failed(ctx context.Context, w store.Webhook, o outcome) error {
	now := d.now()
	why := o.err
	if why == "" {
		why = o.result
	}
	counted, disabled := false, false
	nw, err := store.ModifyWebhook(context.WithoutCancel(ctx), d.o.Subscriptions, w.Tenant, w.ID, func(x *store.Webhook) error {
		if x.State == store.WebhookDisabled || x.Version != w.Version {
			return errNoChange // counted by another attempt, or changed meanwhile
		}
		x.Failures++
		x.RetryAt = now.Add(d.o.Backoff.Delay(x.Failures - 1)).UTC()
		x.Reason = clip(fmt.Sprintf("%d consecutive failed attempts; last: %s", x.Failures, why), store.MaxAuditDetail)
		if x.State == store.WebhookPending {
			x.Reason = clip(fmt.Sprintf("verification failed, %d in a row; last: %s", x.Failures, why), store.MaxAuditDetail)
		}
		counted, disabled = true, x.Failures >= d.o.MaxFailures
		if disabled {
			x.State = store.WebhookDisabled
			x.Reason = clip(fmt.Sprintf("disabled after %d consecutive failed attempts; last: %s", x.Failures, why), store.MaxAuditDetail)
		}
		return nil
	})
	switch {
	case errors.Is(err, errNoChange):
		if nw, err = d.fresh(ctx, w); err != nil {
			return err
		}
	case errors.Is(err, store.ErrNotFound):
		d.forget(w)
		return nil // removed meanwhile
	case err != nil:
		return fmt.Errorf("subscription %s: %s; failure not counted: %w", w.ID, why, err)
	}
	d.remember(nw)
	log := d.log.With(zap.String("tenant", w.Tenant), zap.String("webhook", w.ID), zap.String("url", w.URL),
		zap.Int("failures", nw.Failures), zap.String("result", o.result), zap.String("error", why))
	switch {
	case disabled:
		d.disabled(ctx, nw, log)
		return nil
	case nw.State == store.WebhookDisabled:
		return nil
	case counted:
		log.Warn("webhook delivery failed", zap.Time("retry_at", nw.RetryAt))
	}
	return &held{after: max(nw.RetryAt.Sub(now), time.Millisecond), err: fmt.Errorf("subscription %s: %s", w.ID, why)}
}

// disable disables w at once (a URL the policy refuses).
func (d *Dispatcher) disable(ctx context.Context, w store.Webhook, reason string) (store.Webhook, error) {
	disabled := false
	nw, err := store.ModifyWebhook(context.WithoutCancel(ctx), d.o.Subscriptions, w.Tenant, w.ID, func(x *store.Webhook) error {
		if x.State == store.WebhookDisabled {
			return errNoChange
		}
		x.State, x.Reason, disabled = store.WebhookDisabled, clip(reason, store.MaxAuditDetail), true
		return nil
	})
	switch {
	case errors.Is(err, errNoChange):
		return d.fresh(ctx, w)
	case errors.Is(err, store.ErrNotFound):
		d.forget(w)
		w.State = store.WebhookDisabled
		return w, nil
	case err != nil:
		return w, fmt.Errorf("subscription %s: disable: %w", w.ID, err)
	}
	d.remember(nw)
	if disabled {
		d.disabled(ctx, nw, d.log.With(zap.String("tenant", w.Tenant), zap.String("webhook", w.ID), zap.String("url", w.URL)))
	}
	return nw, nil
}

// disabled reports a subscription the Dispatcher disabled: an error log
// line, the metric and an audit entry.
func (d *Dispatcher) disabled(ctx context.Context, w store.Webhook, log *zap.Logger) {
	log.Error("webhook subscription disabled", zap.String("reason", w.Reason))
	d.m.disabled.Inc()
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if _, err := d.o.Audit.AppendAudit(actx, store.AuditEntry{Actor: "ringside", Via: store.ViaDaemon, Tenant: w.Tenant,
		Action: "webhook.disable", Target: w.ID, Detail: w.Reason}); err != nil {
		log.Error("audit log append failed", zap.String("action", "webhook.disable"), zap.Error(err))
	}
}

// succeeded clears the failures of w after a delivery went through.
func (d *Dispatcher) succeeded(ctx context.Context, w store.Webhook) {
	if w.Failures == 0 && w.Reason == "" {
		return
	}
	nw, err := store.ModifyWebhook(context.WithoutCancel(ctx), d.o.Subscriptions, w.Tenant, w.ID, func(x *store.Webhook) error {
		if x.State != store.WebhookActive || x.Failures == 0 && x.Reason == "" {
			return errNoChange
		}
		x.Failures, x.RetryAt, x.Reason = 0, time.Time{}, ""
		return nil
	})
	switch {
	case err == nil:
		d.remember(nw)
		d.log.Info("webhook delivering again", zap.String("tenant", w.Tenant), zap.String("webhook", w.ID), zap.Int("failed_rounds", w.Failures))
	case errors.Is(err, errNoChange), errors.Is(err, store.ErrNotFound):
		d.forget(w) // read it again at the next event
	default:
		d.log.Warn("webhook failures not cleared", zap.String("tenant", w.Tenant), zap.String("webhook", w.ID), zap.Error(err))
	}
}

// fresh reads w again (someone else changed it) and caches it.
func (d *Dispatcher) fresh(ctx context.Context, w store.Webhook) (store.Webhook, error) {
	nw, err := d.o.Subscriptions.Webhook(context.WithoutCancel(ctx), w.Tenant, w.ID)
	if errors.Is(err, store.ErrNotFound) {
		d.forget(w)
		w.State = store.WebhookDisabled // gone: nothing to deliver
		return w, nil
	}
	if err != nil {
		return w, fmt.Errorf("subscription %s: %w", w.ID, err)
	}
	d.remember(nw)
	if nw.State == store.WebhookActive && nw.Failures == 0 {
		return nw, nil
	}
	if nw.State == store.WebhookDisabled {
		return nw, nil
	}
	return nw, &held{after: max(nw.RetryAt.Sub(d.now()), time.Millisecond), err: fmt.Errorf("subscription %s: %s", w.ID, cmp.Or(nw.Reason, string(nw.State)))}
}

// subscriptions returns the tenant's subscriptions, cached for listTTL.
func (d *Dispatcher) subscriptions(ctx context.Context, tenant string) ([]store.Webhook, error) {
	now := d.now()
	d.mu.Lock()
	c, ok := d.cache[tenant]
	d.mu.Unlock()
	if ok && now.Sub(c.at) < listTTL && !now.Before(c.at) {
		return c.subs, nil
	}
	subs, err := d.o.Subscriptions.ListWebhooks(ctx, tenant)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	d.cache[tenant] = cachedSubs{at: now, subs: subs}
	d.mu.Unlock()
	return subs, nil
}

// remember replaces w in the cache of its tenant, if cached.
func (d *Dispatcher) remember(w store.Webhook) {
	d.mu.Lock()
	defer d.mu.Unlock()
	c, ok := d.cache[w.Tenant]
	if !ok {
		return
	}
	subs := make([]store.Webhook, len(c.subs))
	copy(subs, c.subs)
	for i := range subs {
		if subs[i].ID == w.ID {
			subs[i] = w
		}
	}
	d.cache[w.Tenant] = cachedSubs{at: c.at, subs: subs}
}

// forget drops the cache of w's tenant: it is read again at the next event.
func (d *Dispatcher) forget(w store.Webhook) {
	d.mu.Lock()
	delete(d.cache, w.Tenant)
	d.mu.Unlock()
}

// Run verifies pending subscriptions until ctx is done: every
// SweepInterval it runs the handshake of those whose backoff has passed,
// so a subscription becomes active without waiting for a call.
func (d *Dispatcher) Run(ctx context.Context) {
	t := time.NewTicker(d.o.SweepInterval)
	defer t.Stop()
	for {
		d.sweep(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// sweep verifies the pending subscriptions due, a few at a time.
func (d *Dispatcher) sweep(ctx context.Context) {
	subs, err := d.o.Subscriptions.ListWebhooks(ctx, "")
	if err != nil {
		if ctx.Err() == nil {
			d.log.Warn("webhook sweep: list subscriptions", zap.Error(err))
		}
		return
	}
	now := d.now()
	sem := make(chan struct{}, sweepConcurrency) // bounds the handshakes in flight
	var wg sync.WaitGroup
	for _, w := range subs {
		if w.State != store.WebhookPending || w.RetryAt.After(now) {
			continue
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return
		}
		wg.Go(func() {
			defer func() { <-sem }()
			if _, err := d.ready(ctx, w); err != nil && !isHeld(err) {
				d.log.Warn("webhook sweep", zap.String("tenant", w.Tenant), zap.String("webhook", w.ID), zap.Error(err))
			}
		})
	}
	wg.Wait()
}

func isHeld(err error) bool {
	var h *held
	return errors.As(err, &h)
}

// clip cuts s to at most n bytes without splitting a UTF-8 sequence.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}
