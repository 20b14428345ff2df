// Package freeswitch owns Ringside's link to FreeSWITCH's Event Socket
// (mod_event_socket, inbound mode): it reads the channel events of the
// switch, translates them into PBX-neutral callstate signals for the call
// pipeline, reconciles after every (re)connect, and sends the commands later
// features need (click-to-call originate, hang up, set variables, transfer).
//
// Layout: frame.go parses the wire format (pure, fuzzed), translate.go maps
// events onto signals (pure, tested against real FreeSWITCH 1.11 captures),
// conn.go is the connection (one reader goroutine, serialised commands),
// adapter.go the reconnect loop, processor and reconciliation, commands.go
// the commands, extensions.go the directory's users (bgapi list_users),
// screen.go the screening of inbound calls before they ring.
//
// # Why not eslgo's client
//
// The design fixes github.com/percipia/eslgo v1.5.1 as the ESL library. Its
// command builders (package command) are used here for auth, event and api
// lines, where they are plain string formatting and safe. Its connection
// (eslgo.Dial, Conn, listeners) is not used, because each pitfall of spec
// §5.2 would need a guard bigger than the client it guards:
//   - every event is handed to each listener in a new goroutine, so order
//     is lost and restoring it needs a reorder buffer keyed on a global
//     counter with normal gaps (when do you stop waiting?); one reader
//     goroutine keeps FreeSWITCH's order for free;
//   - its receive loop stops silently on any error but a clean EOF, and
//     reads Content-Length bodies without a bound (a corrupt length is a
//     huge allocation) — the frame parser here has limits and reports every
//     failure, and a read deadline is the HEARTBEAT watchdog;
//   - concurrent SendCommand replies can cross, and a reply that arrives
//     after its caller gave up stalls the reader for 5 s and may be taken by
//     the next command — here commands are queued with their waiter under
//     one lock, and a late reply goes to its own (abandoned) waiter;
//   - Dial has no timeout and hangs on an ACL rejection; it parses events
//     into textproto.MIMEHeader (canonicalised names, one bad name drops the
//     whole event); BackgroundOriginateCall is broken and OriginateCall
//     drops origination_uuid — here `bgapi originate` is written directly,
//     with pre-assigned uuids and a Job-UUID header.
//
// What is left is a small client (auth, event plain, api/bgapi, replies,
// events) that the simulator in integration/sim/esl and the fault tests hold
// to the wire format.
package freeswitch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/percipia/eslgo/command"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/ringside/ringside/pkg/backoff"
	"github.com/ringside/ringside/pkg/callstate"
	"github.com/ringside/ringside/pkg/clicktocall"
	"github.com/ringside/ringside/pkg/config"
	"github.com/ringside/ringside/pkg/fault"
	"github.com/ringside/ringside/pkg/screen"
)

// Sink takes the signals of the adapter: *pipeline.Pipeline satisfies it.
// Submit may block (back-pressure); the adapter waits and never drops.
type Sink interface {
	Submit(ctx context.Context, s callstate.Signal) error
	LiveLegs() []string
}

// Subscription is the `event plain …` command Ringside sends: the events
// that matter, then CUSTOM and its subclasses last (FreeSWITCH reads every
// word after CUSTOM as a subclass): the feature-code and screening ones.
func Subscription(subclasses ...string) string {
	return command.Event{Format: "plain", Listen: append([]string{
		"CHANNEL_CREATE", "CHANNEL_PROGRESS", "CHANNEL_PROGRESS_MEDIA", "CHANNEL_ANSWER",
		"CHANNEL_BRIDGE", "CHANNEL_UNBRIDGE", "CHANNEL_HANGUP_COMPLETE", "CHANNEL_DESTROY",
		"RECORD_START", "RECORD_STOP", "BACKGROUND_JOB", "HEARTBEAT", "CUSTOM",
	}, subclasses...)}.BuildMessage()
}

// Options configure an Adapter. Zero values take the defaults in brackets.
type Options struct {
	FreeSWITCH config.FreeSWITCH
	// PBX gives the tenant rule, the default tenant and the reconnect
	// backoff (pbx.reconnect).
	PBX config.PBX

	Logger     *zap.Logger           // nil: no logs
	Registerer prometheus.Registerer // nil: metrics kept but not exported

	// DialTimeout bounds connecting and authenticating (5s).
	DialTimeout time.Duration
	// CommandTimeout bounds one api command when the caller's context has
	// no deadline (10s).
	CommandTimeout time.Duration
	// HeartbeatInterval is FreeSWITCH's event-heartbeat-interval (20s); the
	// link is declared dead after MissedHeartbeats (3) intervals of silence.
	HeartbeatInterval time.Duration
	MissedHeartbeats  int
	// ExternalProfiles are the sofia profiles of trunks (["external"]).
	ExternalProfiles []string
	// FeatureSubclass is the CUSTOM subclass the dialplan fires for *037 /
	// 3037 (ringside::feature).
	FeatureSubclass string
	// ScreenSubclass is the CUSTOM subclass the dialplan fires for an
	// inbound call to screen before it rings (ringside::screen; screen.go).
	ScreenSubclass string
	// MaxHeldEvents bounds the events held while reconciling (10000); more
	// fail the session, which reconnects.
	MaxHeldEvents int
	// Limits bound one frame (64 KiB of headers, 32 MiB of body).
	Limits Limits
	// Now is the clock (time.Now); tests may replace it.
	Now func() time.Time
}

// Adapter is the FreeSWITCH event-socket client. Run owns its connection;
// the commands may be called from any goroutine while Run runs.
type Adapter struct {
	o       Options
	log     *zap.Logger
	m       *metrics
	subs    string // the `event plain …` command
	cur     atomic.Pointer[conn]
	status  atomic.Pointer[error] // nil pointer: ready
	jobsMu  sync.Mutex
	jobs    map[string]*Origination
	apiJobs map[string]*apiJob    // other bgapi commands waiting for their result (extensions.go)
	legs    *clicktocall.LegWatch // click-to-call legs waited for (clicktocall.go)
	running atomic.Bool

	screener screen.Gate // no screener until SetScreener (screen.go)
	sm       *screen.Metrics
	actions  sync.WaitGroup // screenings in flight
}

var errStarting = errors.New("connecting")

// New checks o and returns an adapter that is not connected yet.
func New(o Options) (*Adapter, error) {
	if o.FreeSWITCH.Address == "" {
		return nil, errors.New("freeswitch: no address")
	}
	if strings.ContainsAny(o.FreeSWITCH.Password.Value(), "\r\n") {
		return nil, errors.New("freeswitch: the password contains a line break")
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = 5 * time.Second
	}
	if o.CommandTimeout <= 0 {
		o.CommandTimeout = 10 * time.Second
	}
	if o.HeartbeatInterval <= 0 {
		o.HeartbeatInterval = 20 * time.Second
	}
	if o.MissedHeartbeats <= 0 {
		o.MissedHeartbeats = 3
	}
	if o.FeatureSubclass == "" {
		o.FeatureSubclass = DefaultFeatureSubclass
	}
	if o.ScreenSubclass == "" {
		o.ScreenSubclass = DefaultScreenSubclass
	}
	if o.MaxHeldEvents <= 0 {
		o.MaxHeldEvents = 10000
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	o.Limits = o.Limits.withDefaults()
	m, err := newMetrics(o.Registerer, o.Now)
	if err != nil {
		return nil, err
	}
	reg := o.Registerer
	if reg == nil {
		reg = prometheus.NewRegistry() // kept, not exported
	}
	a := &Adapter{o: o, log: o.Logger, m: m, jobs: make(map[string]*Origination), apiJobs: make(map[string]*apiJob),
		legs: clicktocall.NewLegWatch(), subs: Subscription(o.FeatureSubclass, o.ScreenSubclass), sm: screen.NewMetrics(reg)}
	a.setStatus(errStarting)
	return a, nil
}

func (a *Adapter) setStatus(err error) {
	if err == nil {
		a.status.Store(nil)
		return
	}
	a.status.Store(&err)
}

// Ready is nil while the event socket is connected and reconciled, else
// says why not ("connecting", "disconnected: …", "authentication failed: …").
func (a *Adapter) Ready() error {
	if p := a.status.Load(); p != nil {
		return *p
	}
	return nil
}

func (a *Adapter) translateOptions() TranslateOptions {
	return TranslateOptions{
		DefaultTenant: a.o.PBX.DefaultTenant, Tenant: a.o.PBX.Tenant,
		ExternalProfiles: a.o.ExternalProfiles, RecordingVariable: a.o.FreeSWITCH.RecordingVariable,
		FeatureSubclass: a.o.FeatureSubclass,
	}
}

// Run connects, feeds sink and reconnects forever with capped, jittered
// backoff until ctx ends (then it returns nil). It fails only when the sink
// refuses a signal for a reason other than ctx (the pipeline was closed).
// Run must not be called twice at once.
func (a *Adapter) Run(ctx context.Context, sink Sink) error {
	if !a.running.CompareAndSwap(false, true) {
		return errors.New("freeswitch: Run called twice")
	}
	defer a.running.Store(false)
	defer a.actions.Wait()
	tr := NewTranslator(a.translateOptions())
	policy := a.o.PBX.Reconnect
	if policy.Initial <= 0 {
		policy = backoff.Policy{Initial: 500 * time.Millisecond, Max: 30 * time.Second}
	}
	attempt, connects := 0, 0
	for {
		established, err := a.session(ctx, sink, tr, connects > 0)
		if established {
			connects++
			attempt = 0
		}
		if ctx.Err() != nil {
			a.setStatus(errors.New("stopped"))
			return nil
		}
		var sinkErr *sinkError
		if errors.As(err, &sinkErr) {
			a.setStatus(err)
			return err
		}
		a.setStatus(fmt.Errorf("disconnected: %w", err))
		if errors.Is(err, ErrAuth) {
			a.setStatus(err)
		}
		delay := policy.Delay(attempt)
		a.log.Warn("freeswitch: event socket down", zap.String("address", a.o.FreeSWITCH.Address),
			zap.Error(err), zap.Duration("retry_in", delay), zap.Int("attempt", attempt+1))
		attempt++
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			a.setStatus(errors.New("stopped"))
			return nil
		case <-t.C:
		}
	}
}

// sinkError marks a refusal by the sink, which ends Run.
type sinkError struct{ err error }

func (e *sinkError) Error() string { return "freeswitch: sink: " + e.err.Error() }
func (e *sinkError) Unwrap() error { return e.err }

// session runs one connection: dial, authenticate, subscribe, reconcile,
// then process events until the link fails or ctx ends. established says
// whether it got as far as reconciling.
func (a *Adapter) session(ctx context.Context, sink Sink, tr *Translator, reconnect bool) (established bool, err error) {
	dctx, cancel := context.WithTimeout(ctx, a.o.DialTimeout)
	nc, err := (&net.Dialer{}).DialContext(dctx, "tcp", a.o.FreeSWITCH.Address)
	cancel()
	if err != nil {
		return false, fmt.Errorf("freeswitch: dial: %w", err)
	}
	watchdog := a.o.HeartbeatInterval * time.Duration(a.o.MissedHeartbeats)
	c := &conn{
		nc:      nc,
		fr:      newFrameReader(deadlineConn{Conn: nc, timeout: watchdog}, a.o.Limits, 64<<10),
		waiters: make(chan chan Frame, maxPendingCommands),
		events:  make(chan Event),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
		invalid: a.m.framesInvalid.Inc,
	}
	if err := handshake(nc, c.fr, a.o.FreeSWITCH.Password.Value(), a.subs, time.Now().Add(a.o.DialTimeout)); err != nil {
		_ = nc.Close()
		if isFramingErr(err) {
			a.m.framesInvalid.Inc()
		}
		return false, fmt.Errorf("freeswitch: connect: %w", err)
	}
	c.start()
	defer func() {
		a.cur.CompareAndSwap(c, nil)
		a.m.connected.Set(0)
		c.close()
		a.failJobs()
	}()
	a.cur.Store(c)
	if reconnect {
		a.m.reconnects.Inc()
	}
	a.log.Info("freeswitch: connected", zap.String("address", a.o.FreeSWITCH.Address))

	if err := a.reconcile(ctx, c, sink, tr); err != nil {
		return false, err
	}
	a.m.connected.Set(1)
	a.setStatus(nil)
	for {
		select {
		case ev := <-c.events:
			if err := a.handle(ctx, sink, tr, &ev); err != nil {
				return true, err
			}
		case <-c.done:
			err := c.err
			if errors.Is(err, ErrWatchdog) {
				a.m.watchdog.Inc()
			}
			return true, fmt.Errorf("freeswitch: read: %w", err)
		case <-ctx.Done():
			return true, ctx.Err()
		}
	}
}

// handle processes one event: bookkeeping, translation, submission.
func (a *Adapter) handle(ctx context.Context, sink Sink, tr *Translator, ev *Event) error {
	now := a.o.Now()
	switch ev.Name() {
	case "HEARTBEAT":
		a.m.lastHeartbeat.Store(now.UnixNano())
	case "BACKGROUND_JOB":
		a.finishJob(ev.known[hJobUUID], ev.Body)
	case "CUSTOM":
		if ev.known[hEventSubclass] == a.o.ScreenSubclass && ev.known[hUniqueID] != "" {
			c := screenCall(tr, ev)
			a.actions.Go(func() { a.screen(ctx, c, now) })
		}
	}
	observeLeg(a.legs, ev)
	var buf [4]callstate.Signal
	for _, s := range tr.Translate(ev, now, buf[:0]) {
		if err := sink.Submit(ctx, s); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return &sinkError{err}
		}
	}
	a.m.events.WithLabelValues(eventLabel(ev.Name())).Inc()
	return nil
}

// channelRow is one row of `show channels as json` (all values strings).
type channelRow struct {
	UUID      string `json:"uuid"`
	Direction string `json:"direction"`
	Created   string `json:"created_epoch"`
	Name      string `json:"name"`
	CIDName   string `json:"cid_name"`
	CIDNum    string `json:"cid_num"`
	Dest      string `json:"dest"`
	Context   string `json:"context"`
	CallState string `json:"callstate"`
	CallUUID  string `json:"call_uuid"`
}

// callRow is the part of a `show calls as json` row that links two legs.
type callRow struct {
	UUID  string `json:"uuid"`
	BUUID string `json:"b_uuid"`
}

// reconcile runs after every connect, before normal processing: it reads
// the live channels and calls, adopts live legs the sink does not know
// (LegCreated, then Ringing/Answered as their state says), closes the
// sink's legs FreeSWITCH no longer has with CauseLost, and then processes
// the events that arrived meanwhile, in order. Events about a leg decide
// over the snapshot: a leg whose CHANNEL_CREATE arrived is not adopted, a
// leg whose hangup arrived is not reported lost.
func (a *Adapter) reconcile(ctx context.Context, c *conn, sink Sink, tr *Translator) error {
	var held []Event
	chans, err := a.apiHolding(ctx, c, "show", "channels as json", &held)
	if err != nil {
		return err
	}
	calls, err := a.apiHolding(ctx, c, "show", "calls as json", &held)
	if err != nil {
		return err
	}
	var cr struct {
		Rows []channelRow `json:"rows"`
	}
	var kr struct {
		Rows []callRow `json:"rows"`
	}
	if err := json.Unmarshal([]byte(chans), &cr); err != nil {
		return fmt.Errorf("freeswitch: reconcile: show channels: %w", err)
	}
	if err := json.Unmarshal([]byte(calls), &kr); err != nil {
		return fmt.Errorf("freeswitch: reconcile: show calls: %w", err)
	}
	created, ended := map[string]bool{}, map[string]bool{}
	for i := range held {
		switch held[i].Name() {
		case "CHANNEL_CREATE":
			created[held[i].known[hUniqueID]] = true
		case "CHANNEL_HANGUP_COMPLETE", "CHANNEL_DESTROY":
			ended[held[i].known[hUniqueID]] = true
		}
	}
	live := map[string]bool{}
	for _, l := range sink.LiveLegs() {
		live[l] = true
	}
	peer := map[string]string{}
	for _, r := range kr.Rows {
		if r.BUUID != "" && r.UUID != "" {
			peer[r.BUUID] = r.UUID
		}
	}
	present := map[string]bool{}
	var adopt []channelRow
	for _, r := range cr.Rows {
		present[r.UUID] = true
		if r.UUID == "" || created[r.UUID] || ended[r.UUID] {
			continue
		}
		if p := peer[r.UUID]; p == "" && r.CallUUID != "" && r.CallUUID != r.UUID {
			peer[r.UUID] = r.CallUUID
		}
		if live[r.UUID] {
			// Known leg: only catch up on an answer missed meanwhile (the
			// machine ignores it when it already knew).
			if answeredState(r.CallState) {
				if err := a.submit(ctx, sink, callstate.Signal{Kind: callstate.Answered, At: a.o.Now(), Leg: r.UUID}); err != nil {
					return err
				}
			}
			continue
		}
		adopt = append(adopt, r)
	}
	// Originators first, so that a leg's peer is known when it is adopted.
	for pass := 0; pass < 2; pass++ {
		for _, r := range adopt {
			if (peer[r.UUID] == "") != (pass == 0) {
				continue
			}
			for _, s := range a.adoptSignals(ctx, c, tr, r, peer[r.UUID], &held) {
				if err := a.submit(ctx, sink, s); err != nil {
					return err
				}
			}
			a.m.reconciled.WithLabelValues("adopted").Inc()
		}
	}
	lost := 0
	for l := range live {
		if present[l] || ended[l] {
			continue
		}
		if err := a.submit(ctx, sink, callstate.Signal{Kind: callstate.Hangup, At: a.o.Now(), Leg: l, Cause: callstate.CauseLost}); err != nil {
			return err
		}
		a.m.reconciled.WithLabelValues("lost").Inc()
		lost++
	}
	tr.Forget(func(leg string) bool { return present[leg] || created[leg] })
	a.log.Info("freeswitch: reconciled", zap.Int("channels", len(cr.Rows)), zap.Int("adopted", len(adopt)),
		zap.Int("lost", lost), zap.Int("held_events", len(held)))
	for i := range held {
		if err := a.handle(ctx, sink, tr, &held[i]); err != nil {
			return err
		}
	}
	return nil
}

func answeredState(s string) bool {
	switch s {
	case "ACTIVE", "HELD", "UNHELD":
		return true
	}
	return false
}

func (a *Adapter) submit(ctx context.Context, sink Sink, s callstate.Signal) error {
	if err := sink.Submit(ctx, s); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &sinkError{err}
	}
	return nil
}

// adoptSignals describes a live channel found at reconnect as the signals
// its events would have given: LegCreated (party, numbers and tenant as
// CHANNEL_CREATE would say), then Ringing, EarlyMedia or Answered.
func (a *Adapter) adoptSignals(ctx context.Context, c *conn, tr *Translator, r channelRow, peer string, held *[]Event) []callstate.Signal {
	at := a.o.Now()
	if sec, err := strconv.ParseInt(r.Created, 10, 64); err == nil && sec > 0 {
		at = time.Unix(sec, 0).UTC()
	}
	s := callstate.Signal{Kind: callstate.LegCreated, At: at, Leg: r.UUID, Peer: peer, Party: tr.party(r.Name, false)}
	if r.Direction == "inbound" {
		s.Number, s.Name, s.Dialed = r.CIDNum, r.CIDName, r.Dest
	} else {
		s.Number = r.Dest
	}
	switch a.o.PBX.Tenant.From {
	case config.TenantVariable:
		if v := a.o.PBX.Tenant.Variable; v != "" {
			s.Tenant, _ = a.getVar(ctx, c, r.UUID, v, held)
		}
	case config.TenantContextPrefix:
		if p, _, ok := strings.Cut(r.Context, a.o.PBX.Tenant.Separator); ok && a.o.PBX.Tenant.Separator != "" {
			s.Tenant = p
		}
	default:
		s.Tenant = a.o.PBX.DefaultTenant
	}
	if r.Direction == "outbound" && peer == "" {
		if v, _ := a.getVar(ctx, c, r.UUID, varOriginated, held); v == "true" {
			s.Originated, s.Party, s.Name = true, callstate.PartyExtension, ""
			s.Dialed, _ = a.getVar(ctx, c, r.UUID, varOriginDialed, held)
			if x, _ := a.getVar(ctx, c, r.UUID, varOriginExtension, held); x != "" {
				s.Number = x
			}
		}
	}
	out := []callstate.Signal{s}
	now := a.o.Now()
	switch r.CallState {
	case "RINGING":
		out = append(out, callstate.Signal{Kind: callstate.Ringing, At: now, Leg: r.UUID})
	case "EARLY":
		out = append(out, callstate.Signal{Kind: callstate.EarlyMedia, At: now, Leg: r.UUID})
	default:
		if answeredState(r.CallState) {
			out = append(out, callstate.Signal{Kind: callstate.Answered, At: now, Leg: r.UUID})
		}
	}
	return out
}

// getVar reads a channel variable during reconciliation ("" when unset).
func (a *Adapter) getVar(ctx context.Context, c *conn, uuid, name string, held *[]Event) (string, error) {
	if !safeArg(uuid) || !safeArg(name) {
		return "", errors.New("freeswitch: unsafe argument")
	}
	v, err := a.apiHolding(ctx, c, "uuid_getvar", uuid+" "+name, held)
	if err != nil {
		return "", err
	}
	v = strings.TrimSpace(v)
	if v == "_undef_" || strings.HasPrefix(v, "-ERR") {
		return "", nil
	}
	return v, nil
}

// apiHolding sends an api command while the processor waits for it,
// keeping the events that arrive meanwhile (at most MaxHeldEvents) in held,
// so the reader never blocks on an event while the reply waits behind it.
func (a *Adapter) apiHolding(ctx context.Context, c *conn, name, args string, held *[]Event) (string, error) {
	cctx, cancel := context.WithTimeout(ctx, a.o.CommandTimeout)
	defer cancel()
	type reply struct {
		f   Frame
		err error
	}
	res := make(chan reply, 1)
	go func() {
		f, err := c.roundTrip(cctx, command.API{Command: name, Arguments: args}.BuildMessage())
		res <- reply{f, err}
	}()
	for {
		select {
		case ev := <-c.events:
			if len(*held) >= a.o.MaxHeldEvents {
				cancel()
				<-res
				return "", fmt.Errorf("freeswitch: reconcile: more than %d events while waiting for %q", a.o.MaxHeldEvents, name)
			}
			*held = append(*held, ev)
		case r := <-res:
			if r.err != nil {
				a.m.commands.WithLabelValues(commandLabel(name), resultError).Inc()
				return "", fmt.Errorf("freeswitch: reconcile: %s: %w", name, r.err)
			}
			a.m.commands.WithLabelValues(commandLabel(name), resultOK).Inc()
			return r.f.Body, nil
		}
	}
}

// safeArg reports whether s can stand as one word of a command line.
func safeArg(s string) bool {
	return s != "" && !strings.ContainsAny(s, " \t\r\n")
}

// failJobs ends the originations still waiting for their BACKGROUND_JOB:
// the link dropped, their outcome will not be heard.
func (a *Adapter) failJobs() {
	a.jobsMu.Lock()
	defer a.jobsMu.Unlock()
	for id, o := range a.jobs {
		o.finish(fault.Retryable(fmt.Errorf("freeswitch: originate %s: %w", o.LegA, ErrJobLost), 0))
		delete(a.jobs, id)
	}
	for id, j := range a.apiJobs {
		j.res <- apiResult{err: fault.Retryable(fmt.Errorf("freeswitch: %s: link lost before the result: %w", j.cmd, ErrNotConnected), 0)}
		delete(a.apiJobs, id)
	}
}

// finishJob resolves the origination waiting for job.
func (a *Adapter) finishJob(job, body string) {
	if job == "" {
		return
	}
	a.jobsMu.Lock()
	o := a.jobs[job]
	delete(a.jobs, job)
	j := a.apiJobs[job]
	delete(a.apiJobs, job)
	a.jobsMu.Unlock()
	if j != nil {
		j.res <- apiResult{body: body} // buffered: never blocks the event loop
	}
	if o == nil {
		return
	}
	body = strings.TrimSpace(body)
	if strings.HasPrefix(body, "+OK") {
		o.finish(nil)
		return
	}
	cause := strings.TrimSpace(strings.TrimPrefix(body, "-ERR"))
	o.finish(fault.Permanent(&OriginateError{Leg: o.LegA, Cause: cause}))
}
