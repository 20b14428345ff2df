package zoho

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/ringside/ringside/pkg/events"
	"github.com/ringside/ringside/pkg/fault"
	"github.com/ringside/ringside/pkg/store"
)

// Links is the store's extension ↔ Zoho user links, read-only.
type Links interface {
	LinkByExtension(ctx context.Context, tenant, extension string) (store.Link, error)
}

// What users who rang but did not answer a ring-group call receive
// (phonebridge.loser_state).
const (
	// LoserNone sends them nothing more: their pop shows the call ringing
	// until Zoho sees the call's id answered or ended. The CRM gets one log.
	LoserNone = "none"
	// LoserMissed sends them state=missed: each gets a missed entry of its
	// own (one extra log per non-answering user).
	LoserMissed = "missed"
	// LoserEnded sends them state=ended with duration 0 (closes the pop;
	// Zoho may log a zero-length call for each).
	LoserEnded = "ended"
)

// When a missed or unattended-outgoing state falls back to ended with
// duration 0 (phonebridge.fallback).
const (
	FallbackAuto   = "auto"   // after Zoho answers 400 to such a state; remembered per tenant
	FallbackAlways = "always" // never send those states
	FallbackNever  = "never"  // send them as documented; a 400 dead-letters the event
)

// SinkOptions configure a Sink.
type SinkOptions struct {
	Client  *Client
	Links   Links
	Records Records
	Claims  Claims
	Lookup  *Lookup // linking REST calls to Contacts/Leads/Accounts, leads and tasks; nil: none of them
	// CRM configures the records the CRM-side features write (crm.go).
	CRM CRMOptions
	// RecordingLink turns a call's final recording into the public link
	// Zoho stores (voiceuri, Description); nil: logs carry no link.
	RecordingLink func(ctx context.Context, ev events.Call) (string, error)
	LoserState    string // LoserNone (default), LoserMissed, LoserEnded
	Fallback      string // FallbackAuto (default), FallbackAlways, FallbackNever
	// RecordingWait holds an ended call whose recording is pending for up to
	// this long, so the log carries the link without an extra update
	// (default 30s; the event is retried meanwhile).
	RecordingWait time.Duration
	// BatchSize and BatchDelay bound REST inserts: up to BatchSize records
	// (≤100) per request, a record waiting at most BatchDelay (default 100,
	// 2s). The consumer must run at least BatchSize handlers at once for
	// batches to fill.
	BatchSize  int
	BatchDelay time.Duration
	// ResendTerminal sends a call's terminal PhoneBridge state again after
	// an ambiguous failure (no answer, 5xx). Off (default): such a call is
	// never logged twice, but its log is missing if the request really
	// failed. On: never missing, logged twice unless Zoho de-duplicates
	// callnotify by id (UNCONFIRMED). A 429 or 4xx is always retried.
	ResendTerminal bool
	// KeyTTL is how long call ids are remembered with their CRM record
	// (default 30 days).
	KeyTTL time.Duration
	// UsersTTL is how long a tenant's CRM user list is cached (default 10m).
	UsersTTL time.Duration
}

// Sink turns call events into Zoho writes for each tenant's mode: PhoneBridge
// callnotify (pops, and Zoho logs the call) or REST Calls records. Handle
// is at-least-once safe: every terminal write is keyed by call id in the
// store, and a retry after an ambiguous failure checks Zoho before writing
// again.
type Sink struct {
	o   SinkOptions
	c   *Client
	log *zap.Logger

	crm CRMOptions

	mu      sync.Mutex
	batches batcher[map[string]any, []RecordResult] // Calls writes, by tenant and operation
	users   map[string]usersEntry
	waiting map[string]time.Time // call id -> when its pending recording was first waited for
	refused map[string]time.Time // tenant, module -> when Zoho refused it for scope or permission
	rejects map[string]time.Time // tenant, module, code -> when a record was last reported rejected
}

type usersEntry struct {
	byEmail map[string]string
	ids     map[string]bool
	zones   map[string]string // CRM user id -> time zone
	at      time.Time
}

// NewSink returns a Sink.
func NewSink(o SinkOptions) (*Sink, error) {
	if o.Client == nil || o.Links == nil || o.Records == nil || o.Claims == nil {
		return nil, errors.New("zoho: sink needs Client, Links, Records and Claims")
	}
	switch o.LoserState {
	case "":
		o.LoserState = LoserNone
	case LoserNone, LoserMissed, LoserEnded:
	default:
		return nil, fmt.Errorf("zoho: loser state %q", o.LoserState)
	}
	switch o.Fallback {
	case "":
		o.Fallback = FallbackAuto
	case FallbackAuto, FallbackAlways, FallbackNever:
	default:
		return nil, fmt.Errorf("zoho: fallback %q", o.Fallback)
	}
	if o.RecordingWait < 0 {
		o.RecordingWait = 0
	} else if o.RecordingWait == 0 {
		o.RecordingWait = 30 * time.Second
	}
	if o.BatchSize <= 0 || o.BatchSize > 100 {
		o.BatchSize = 100
	}
	if o.BatchDelay <= 0 {
		o.BatchDelay = 2 * time.Second
	}
	if o.KeyTTL <= 0 {
		o.KeyTTL = 30 * 24 * time.Hour
	}
	if o.UsersTTL <= 0 {
		o.UsersTTL = 10 * time.Minute
	}
	return &Sink{o: o, c: o.Client, log: o.Client.log.Named("sink"), users: map[string]usersEntry{},
		waiting: map[string]time.Time{}, crm: o.CRM.withDefaults(), refused: map[string]time.Time{}, rejects: map[string]time.Time{}}, nil
}

// errWaitRecording asks for a retry while a pending recording may arrive.
var errWaitRecording = errors.New("zoho: waiting for the call's recording")

// Handle processes one call event: nil once Zoho accepted what the event
// needs (or nothing is needed), fault.Permanent when Zoho rejects it for
// good (dead-letter it with the reason), another error to retry later
// (fault.RetryAfter tells when; a disconnected tenant asks for
// SinkOptions' PausedRetry, so its events wait instead of being dropped).
func (s *Sink) Handle(ctx context.Context, ev events.Call) error {
	if ev.Type == events.TerminalSet || ev.Direction == "" ||
		ev.Screen != nil && ev.Screen.Blacklisted { // rejected before ringing: nothing for the CRM
		return nil
	}
	t, err := s.c.o.Tenants.Tenant(ctx, ev.Tenant)
	switch {
	case errors.Is(err, store.ErrNotFound):
		s.c.m.events.WithLabelValues("off", "skipped").Inc()
		return nil
	case err != nil:
		return fault.Retryable(fmt.Errorf("zoho: read tenant %s: %w", ev.Tenant, err), 0)
	}
	mode := string(t.Settings.Mode)
	r := routeOf(t.Settings, ev) // internal-call policy, technical extensions (internal.go)
	switch {
	case t.Settings.Mode != store.ModePhoneBridge && t.Settings.Mode != store.ModeREST:
		s.c.m.events.WithLabelValues("off", "skipped").Inc()
		return nil
	case r == routeSkip || r == routeTechnical: // no pop, no log
		s.c.m.events.WithLabelValues(mode, "skipped").Inc()
		s.countInternal(ev, r)
		return nil
	case r != routeExternal:
		err = s.internal(ctx, t, ev, r)
	case t.Settings.Mode == store.ModePhoneBridge:
		err = s.phoneBridge(ctx, t, ev)
	default:
		err = s.rest(ctx, t, ev)
	}
	switch {
	case err == nil:
		s.c.m.events.WithLabelValues(mode, "ok").Inc()
		s.countInternal(ev, r)
	case errors.Is(err, ErrDisconnected):
		s.c.m.events.WithLabelValues(mode, "paused").Inc()
	case fault.IsPermanent(err):
		s.c.m.events.WithLabelValues(mode, "dead_letter").Inc()
		s.log.Warn("zoho rejected a call event", zap.String("tenant", ev.Tenant), zap.String("call_id", ev.CallID),
			zap.String("type", string(ev.Type)), zap.Error(err))
	default:
		s.c.m.events.WithLabelValues(mode, "retry").Inc()
	}
	return err
}

// countInternal counts an internal call at its ended event (handled
// without error; a redelivery counts again), by what its tenant's policy
// made of it.
func (s *Sink) countInternal(ev events.Call, r route) {
	if ev.Direction == events.Internal && ev.Type == events.Ended {
		s.c.m.internal.WithLabelValues(r.policyLabel()).Inc()
	}
}

// Keys in the store, namespaced per tenant and call.
func logKey(t, call string) string  { return "zoho/" + t + "/log/" + call }
func tryKey(t, call string) string  { return "zoho/" + t + "/try/" + call }
func lockKey(t, call string) string { return "zoho/" + t + "/lock/" + call }

// logged returns what was logged for the call: "" (nothing yet),
// "pb" (PhoneBridge terminal state sent) or "rest:<record id>[:rec]".
func (s *Sink) logged(ctx context.Context, tenant, call string) (string, error) {
	v, err := s.o.Records.GetRecord(ctx, logKey(tenant, call))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return "", nil
	case err != nil:
		return "", fault.Retryable(fmt.Errorf("zoho: read log key: %w", err), 0)
	}
	return v, nil
}

// lock claims the right to write the call's log (one writer across
// workers and nodes); the claim expires on its own if the holder dies.
func (s *Sink) lock(ctx context.Context, tenant, call string) (func(), error) {
	got, err := s.o.Claims.Claim(ctx, lockKey(tenant, call), 2*time.Minute)
	if err != nil {
		return nil, fault.Retryable(fmt.Errorf("zoho: claim %s: %w", call, err), 0)
	}
	if !got {
		return nil, fault.Retryable(fmt.Errorf("zoho: call %s is being logged by another worker", call), 2*time.Second)
	}
	return func() { _ = s.o.Claims.Release(context.WithoutCancel(ctx), lockKey(tenant, call)) }, nil
}

// waitRecording reports whether an ended call should wait for its
// recording before it is logged.
// The wait counts from the hang-up on the PBX's clock, or from when this
// sink first saw the event, whichever is later: a PBX clock behind ours (or
// an event read late) still gets the whole wait.
func (s *Sink) waitRecording(ev events.Call) bool {
	if ev.Type != events.Ended || !ev.RecordingPending || s.o.RecordingWait <= 0 {
		return false
	}
	now := s.c.o.Now()
	if now.Sub(ev.EndedAt) < s.o.RecordingWait {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, at := range s.waiting { // forget waits long over (bounded map)
		if now.Sub(at) > 2*s.o.RecordingWait {
			delete(s.waiting, id)
		}
	}
	first, seen := s.waiting[ev.CallID]
	if !seen {
		first = now
		s.waiting[ev.CallID] = now
	}
	return now.Sub(first) < s.o.RecordingWait
}

func (s *Sink) recordingLink(ctx context.Context, ev events.Call) string {
	if ev.Recording == "" || ev.RecordingPending || s.o.RecordingLink == nil {
		return ""
	}
	l, err := s.o.RecordingLink(ctx, ev)
	if err != nil {
		s.log.Warn("zoho: no recording link", zap.String("call_id", ev.CallID), zap.Error(err))
		return ""
	}
	return l
}

// PhoneBridgeCallID is the callnotify id of a call (segment 0) or of the
// part after its n-th transfer: alphanumeric, stable, derived from the
// call id (Zoho sends it back as callrefid).
func PhoneBridgeCallID(callID string, segment int) string {
	h := sha256.Sum256([]byte(callID + "#" + strconv.Itoa(segment)))
	return "rs" + hex.EncodeToString(h[:12])
}

// StartTime formats a time as PhoneBridge's start_time (UTC).
func StartTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05") }

// zohoUser returns the PhoneBridge user of an extension with notifications
// on, or "".
func (s *Sink) zohoUser(ctx context.Context, tenant, ext string) (string, error) {
	if ext == "" {
		return "", nil
	}
	l, err := s.o.Links.LinkByExtension(ctx, tenant, ext)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return "", nil
	case err != nil:
		return "", fault.Retryable(fmt.Errorf("zoho: link of %s: %w", ext, err), 0)
	case !l.Switches.Notifications:
		return "", nil
	}
	return l.ZohoUser, nil
}

// phoneBridge sends the event's callnotify (spec §1.8).
func (s *Sink) phoneBridge(ctx context.Context, t store.Tenant, ev events.Call) error {
	typ := "received"
	if ev.Direction == events.Outbound {
		typ = "dialed"
	}
	customer, ok := Normalize(ev.External, t.Settings.Region)
	if !ok {
		customer = ev.External
	}
	// After a transfer the call continues under a new id that names the
	// previous one (transferredcallid). The target rings before the
	// transfer completes, so a ringing of someone else while the call is
	// answered already belongs to the next segment.
	segment := len(ev.Transfers)
	if ev.Type == events.Ringing && !ev.AnsweredAt.IsZero() && ev.AnsweredBy != "" && ev.Agent != ev.AnsweredBy {
		segment++
	}
	n := Notify{Type: typ, ID: PhoneBridgeCallID(ev.CallID, segment)}
	if segment > 0 {
		n.TransferredCallID = PhoneBridgeCallID(ev.CallID, segment-1)
	}
	side := func(ext string) string { // the agent's side of the call
		if typ == "received" {
			if d, ok := Normalize(ev.Dialed, t.Settings.Region); ok {
				return d
			}
		}
		return ext
	}
	setNumbers := func(n *Notify, ext string) {
		if typ == "received" {
			n.From, n.To = customer, side(ext)
		} else {
			n.From, n.To = ext, customer
		}
	}
	switch ev.Type {
	case events.Ringing, events.Answered, events.Transferred:
		if done, err := s.logged(ctx, t.ID, ev.CallID); err != nil || done != "" {
			return err // the call is over: a late pop would never close
		}
		zu, err := s.zohoUser(ctx, t.ID, ev.Agent)
		if err != nil || zu == "" {
			return err
		}
		n.State, n.ZohoUser = string(ev.Type), zu
		if ev.Type == events.Transferred {
			n.State = "answered" // the target talks now, under the new id
		}
		setNumbers(&n, ev.Agent)
		return s.c.CallNotify(ctx, t.ID, n)
	case events.RingStopped:
		if ev.Reason != "answered_elsewhere" || s.o.LoserState == LoserNone {
			return nil
		}
		zu, err := s.zohoUser(ctx, t.ID, ev.Agent)
		if err != nil || zu == "" {
			return err
		}
		key := "zoho/" + t.ID + "/loser/" + ev.CallID + "/" + ev.Agent
		if done, err := s.logged(ctx, t.ID, ev.CallID); err != nil || done != "" {
			return err
		}
		if _, err := s.o.Records.GetRecord(ctx, key); err == nil {
			return nil // sent before
		}
		n.State, n.ZohoUser, n.StartTime = s.o.LoserState, zu, StartTime(ev.StartedAt)
		if n.State == LoserEnded {
			n.Duration = "0"
		}
		setNumbers(&n, ev.Agent)
		if err := s.notifyTerminal(ctx, t.ID, n); err != nil {
			return err
		}
		return s.o.Records.PutRecord(ctx, key, "sent", s.o.KeyTTL)
	case events.Ended, events.Recording:
		if ev.EndedAt.IsZero() {
			return nil // a recording that became final during the call: ended carries it
		}
		return s.pbTerminal(ctx, t, ev, n, setNumbers)
	}
	return nil
}

// pbTerminal sends the call's one terminal state.
func (s *Sink) pbTerminal(ctx context.Context, t store.Tenant, ev events.Call, n Notify, setNumbers func(*Notify, string)) error {
	done, err := s.logged(ctx, t.ID, ev.CallID)
	if err != nil || done != "" {
		if ev.Type == events.Recording && done == "pb" {
			s.log.Info("zoho: recording arrived after the PhoneBridge log; it cannot carry it", zap.String("call_id", ev.CallID))
		}
		return err // logged already (by either mode: never both)
	}
	if s.waitRecording(ev) {
		return fault.Retryable(errWaitRecording, min(s.o.RecordingWait/3, 10*time.Second))
	}
	unlock, err := s.lock(ctx, t.ID, ev.CallID)
	if err != nil {
		return err
	}
	defer unlock()
	// A record for the caller first: Zoho links its log by the number.
	if err := s.crmExtras(ctx, t, ev); err != nil {
		return err
	}
	// Who the log belongs to: the user talking at the end; for a call
	// nobody answered, the first linked user that rang (or the caller).
	var zu string
	agent := ev.AnsweredBy
	cands := []string{ev.AnsweredBy}
	if ev.Disposition != events.DispositionAnswered {
		cands = append([]string{ev.Caller}, ev.Agents...)
	}
	for _, ext := range cands {
		if zu, err = s.zohoUser(ctx, t.ID, ext); err != nil {
			return err
		}
		if zu != "" {
			agent = ext
			break
		}
	}
	if agent == "" {
		agent = ev.Caller
	}
	n.ZohoUser, n.StartTime = zu, StartTime(ev.StartedAt)
	setNumbers(&n, agent)
	n.VoiceURI = s.recordingLink(ctx, ev)
	switch {
	case ev.Disposition == events.DispositionAnswered:
		n.State, n.Duration = "ended", strconv.Itoa(ev.TalkSeconds)
	case n.Type == "received":
		n.State = "missed"
	default:
		n.State = map[events.Disposition]string{events.DispositionBusy: "busy", events.DispositionNoAnswer: "noanswer",
			events.DispositionCancelled: "noanswer", events.DispositionFailed: "notavailable"}[ev.Disposition]
		if n.State == "" {
			n.State = "noanswer"
		}
	}
	// Zoho logs the call when it receives the terminal state. After an
	// ambiguous failure (no answer, 5xx) sending it again may log it twice
	// (Zoho de-duplicating callnotify by id is UNCONFIRMED, spec §7), so it
	// is sent again only with ResendTerminal.
	try, err := s.o.Records.GetRecord(ctx, tryKey(t.ID, ev.CallID))
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return fault.Retryable(fmt.Errorf("zoho: read try key: %w", err), 0)
	}
	if try == tryUnknown && !s.o.ResendTerminal {
		s.log.Warn("zoho: the call's terminal state may not have reached PhoneBridge; not sent again, so it is never logged twice",
			zap.String("tenant", t.ID), zap.String("call_id", ev.CallID), zap.String("state", n.State))
		return s.o.Records.PutRecord(ctx, logKey(t.ID, ev.CallID), "pb", s.o.KeyTTL)
	}
	if err := s.o.Records.PutRecord(ctx, tryKey(t.ID, ev.CallID), tryUnknown, s.o.KeyTTL); err != nil {
		return fault.Retryable(err, 0)
	}
	if err := s.notifyTerminal(ctx, t.ID, n); err != nil {
		if !ambiguous(err) {
			_ = s.o.Records.PutRecord(ctx, tryKey(t.ID, ev.CallID), tryNotDone, s.o.KeyTTL)
		}
		return err
	}
	if err := s.o.Records.PutRecord(ctx, logKey(t.ID, ev.CallID), "pb", s.o.KeyTTL); err != nil {
		// Sent but not remembered: a retry would send it again. Say so.
		s.log.Warn("zoho: call logged but not remembered", zap.String("call_id", ev.CallID), zap.Error(err))
		return fault.Retryable(err, 0)
	}
	return nil
}

// notifyTerminal sends a terminal state, falling back from missed and the
// unattended outgoing states to ended with duration 0 where Zoho refuses
// them (spec §1.8: some providers report 400; UNCONFIRMED).
func (s *Sink) notifyTerminal(ctx context.Context, tenant string, n Notify) error {
	fallback := func() {
		n.State, n.Duration = "ended", "0"
	}
	cn := s.c.conn(tenant)
	cn.mu.Lock()
	strict := cn.strictState
	cn.mu.Unlock()
	if n.State != "ended" && (s.o.Fallback == FallbackAlways || s.o.Fallback == FallbackAuto && strict) {
		fallback()
	}
	err := s.c.CallNotify(ctx, tenant, n)
	var ae *APIError
	if err != nil && n.State != "ended" && s.o.Fallback == FallbackAuto && errors.As(err, &ae) && ae.Status == 400 &&
		(ae.Code == "INVALID_DATA" || ae.Code == "INVALID_STATE" || ae.Code == "") {
		s.log.Info("zoho refuses callnotify state; falling back to ended with duration 0 for this tenant",
			zap.String("tenant", tenant), zap.String("state", n.State))
		cn.mu.Lock()
		cn.strictState = true
		cn.mu.Unlock()
		fallback()
		err = s.c.CallNotify(ctx, tenant, n)
	}
	return err
}
