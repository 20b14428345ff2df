package freeswitch

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	eslsim "github.com/ringside/ringside/integration/sim/esl"
	"github.com/ringside/ringside/pkg/callstate"
	"github.com/ringside/ringside/pkg/config"
	"github.com/ringside/ringside/pkg/events"
	"github.com/ringside/ringside/pkg/fault"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// machineSink feeds a real state machine, optionally slowly.
type machineSink struct {
	mu     sync.Mutex
	m      *callstate.Machine
	events []events.Call
	delay  time.Duration
}

func newSink() *machineSink {
	return &machineSink{m: callstate.New(callstate.Options{IDPrefix: "t-", DefaultTenant: "default"})}
}

func (s *machineSink) Submit(ctx context.Context, sig callstate.Signal) error {
	if s.delay > 0 {
		time.Sleep(s.delay)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = s.m.Apply(sig, s.events)
	return ctx.Err()
}

func (s *machineSink) LiveLegs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m.LiveLegs()
}

func (s *machineSink) snapshot() []events.Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]events.Call(nil), s.events...)
}

// ended returns the ended events by call id.
func (s *machineSink) ended() map[string]events.Call {
	out := map[string]events.Call{}
	for _, e := range s.snapshot() {
		if e.Type == events.Ended {
			out[e.CallID] = e
		}
	}
	return out
}

type rig struct {
	a    *Adapter
	sink *machineSink
	reg  *prometheus.Registry
	logs *observer.ObservedLogs
	stop func()
}

const testPassword = "s3cret-pw"

// startAdapter runs an adapter against addr with a fast watchdog.
func startAdapter(t *testing.T, addr, password string, sink *machineSink) *rig {
	t.Helper()
	core, logs := observer.New(zap.DebugLevel)
	reg := prometheus.NewRegistry()
	a, err := New(Options{
		FreeSWITCH: config.FreeSWITCH{Address: addr, Password: config.Secret(password)},
		PBX:        config.PBX{DefaultTenant: "default", Tenant: config.TenantRule{From: config.TenantVariable, Variable: "domain_name"}},
		Logger:     zap.New(core), Registerer: reg,
		HeartbeatInterval: 20 * time.Millisecond, MissedHeartbeats: 5, DialTimeout: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	a.o.PBX.Reconnect.Initial, a.o.PBX.Reconnect.Max = 10*time.Millisecond, 50*time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx, sink) }()
	r := &rig{a: a, sink: sink, reg: reg, logs: logs}
	var once sync.Once
	r.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(r.stop)
	return r
}

func await(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func startSim(t *testing.T, o eslsim.Options) *eslsim.Server {
	t.Helper()
	if o.Password == "" {
		o.Password = testPassword
	}
	if o.HeartbeatInterval == 0 {
		o.HeartbeatInterval = 20 * time.Millisecond
	}
	s, err := eslsim.Start(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func (r *rig) handled() uint64 {
	var n float64
	for _, l := range eventLabels {
		n += testutil.ToFloat64(r.a.m.events.WithLabelValues(l))
	}
	return uint64(n)
}

// settle waits until the adapter handled every event the sim sent.
func (r *rig) settle(t *testing.T, sim *eslsim.Server) {
	t.Helper()
	sent := sim.EventsSent()
	await(t, "events handled", func() bool { return r.handled() >= sent })
}

// answeredCall plays an inbound call from the customer to ext, answered
// and bridged, and returns its legs.
func answeredCall(p *eslsim.Player, ext string) (a, b *eslsim.Chan) {
	a = p.Trunk()
	b = p.Dial(a, ext)
	p.Ring(b)
	p.Wait(3 * time.Second)
	p.Answer(b)
	p.Answer(a)
	p.Bridge(a, b)
	return a, b
}

// TestResetWithoutEOF: the link goes silent (no EOF, no heartbeat) while
// one call ends and another starts. The watchdog reconnects; reconciliation
// closes the ended call with link_lost and adopts the live one, which then
// ends normally: one ended per call, nothing twice.
func TestResetWithoutEOF(t *testing.T) {
	sim := startSim(t, eslsim.Options{})
	r := startAdapter(t, sim.Addr(), testPassword, newSink())
	await(t, "ready", func() bool { return r.a.Ready() == nil })

	var x1, x2, y1, y2 *eslsim.Chan
	sim.Do(func(p *eslsim.Player) { x1, x2 = answeredCall(p, "1001") })
	r.settle(t, sim)
	sim.Freeze()
	sim.Do(func(p *eslsim.Player) {
		p.Wait(10 * time.Second)
		p.HangupPair(x1, x2)
		y1, y2 = answeredCall(p, "1002")
	})
	await(t, "watchdog reconnect", func() bool {
		return testutil.ToFloat64(r.a.m.watchdog) >= 1 && testutil.ToFloat64(r.a.m.reconnects) >= 1 && r.a.Ready() == nil
	})
	await(t, "lost call closed, live call adopted", func() bool { return len(r.sink.ended()) == 1 && r.sink.m.Active() == 1 })
	sim.Do(func(p *eslsim.Player) { p.HangupPair(y1, y2) })
	await(t, "adopted call ended", func() bool { return len(r.sink.ended()) == 2 })
	r.settle(t, sim)

	seqs := map[string]uint32{}
	types := map[string][]string{}
	for _, e := range r.sink.snapshot() {
		seqs[e.CallID]++
		if e.Seq != seqs[e.CallID] {
			t.Fatalf("call %s: seq %d after %d", e.CallID, e.Seq, seqs[e.CallID]-1)
		}
		types[e.CallID] = append(types[e.CallID], string(e.Type)+" "+e.Agent)
	}
	lost, adopted := r.sink.ended()["t-"+x1.UUID], r.sink.ended()["t-"+y1.UUID]
	if !lost.LinkLost || lost.AnsweredBy != "1001" || lost.Tenant != "acme" {
		t.Errorf("call ended while disconnected: %+v", lost)
	}
	if adopted.LinkLost || adopted.AnsweredBy != "1002" || adopted.Disposition != events.DispositionAnswered ||
		adopted.External != eslsim.Customer || adopted.Tenant != "acme" {
		t.Errorf("adopted call: %+v\n%v", adopted, types["t-"+y1.UUID])
	}
	if got := testutil.ToFloat64(r.a.m.reconciled.WithLabelValues("lost")); got != 2 {
		t.Errorf("lost legs = %v, want 2", got)
	}
}

// TestBadBytesReconnect: garbage, a huge Content-Length, frames cut in
// pieces: no panic, counted, reconnected, and the call in progress survives
// (adopted back or kept) and ends normally.
func TestBadBytesReconnect(t *testing.T) {
	for name, raw := range map[string]string{
		"garbage":             "\x00\x01garbage without a colon\n\n",
		"huge content-length": "Content-Length: 99999999999999\nContent-Type: text/event-plain\n\n",
		"bad content-length":  "Content-Length: 12x\nContent-Type: text/event-plain\n\n",
	} {
		t.Run(name, func(t *testing.T) {
			sim := startSim(t, eslsim.Options{SplitWrites: true})
			r := startAdapter(t, sim.Addr(), testPassword, newSink())
			await(t, "ready", func() bool { return r.a.Ready() == nil })
			var a, b *eslsim.Chan
			sim.Do(func(p *eslsim.Player) { a, b = answeredCall(p, "1001") })
			r.settle(t, sim)
			sim.Inject([]byte(raw))
			await(t, "reconnect", func() bool {
				return testutil.ToFloat64(r.a.m.framesInvalid) >= 1 && testutil.ToFloat64(r.a.m.reconnects) >= 1 && r.a.Ready() == nil
			})
			sim.Do(func(p *eslsim.Player) { p.Wait(time.Minute); p.HangupPair(a, b) })
			await(t, "call ended", func() bool { return len(r.sink.ended()) == 1 })
			e := r.sink.ended()["t-"+a.UUID]
			if e.LinkLost || e.AnsweredBy != "1001" || e.TalkSeconds < 60 {
				t.Errorf("ended %+v", e)
			}
		})
	}
}

// TestDownAtStart: FreeSWITCH is not there yet: Run keeps trying, Ready
// says why, and the adapter connects once the switch comes up.
func TestDownAtStart(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	r := startAdapter(t, addr, testPassword, newSink())
	await(t, "a failed attempt", func() bool {
		err := r.a.Ready()
		return err != nil && strings.Contains(err.Error(), "disconnected") && strings.Contains(err.Error(), "refused")
	})
	sim := startSim(t, eslsim.Options{Addr: addr})
	await(t, "connected", func() bool { return r.a.Ready() == nil })
	if err := sim.Play("inbound_answered"); err != nil {
		t.Fatal(err)
	}
	await(t, "call ended", func() bool { return len(r.sink.ended()) == 1 })
}

// TestWrongPassword: Ready and the log say authentication failed; the
// password never appears in the log.
func TestWrongPassword(t *testing.T) {
	sim := startSim(t, eslsim.Options{})
	r := startAdapter(t, sim.Addr(), "not-the-password", newSink())
	await(t, "auth failure reported", func() bool { return errors.Is(r.a.Ready(), ErrAuth) })
	if !strings.Contains(r.a.Ready().Error(), "-ERR invalid") {
		t.Errorf("Ready = %v", r.a.Ready())
	}
	r.stop()
	logged := false
	for _, e := range r.logs.All() {
		for _, f := range e.Context {
			s := f.String
			if f.Interface != nil {
				if err, ok := f.Interface.(error); ok {
					s = err.Error()
				}
			}
			if strings.Contains(s, "not-the-password") || strings.Contains(e.Message, "not-the-password") {
				t.Fatalf("password logged: %v", e)
			}
			logged = logged || strings.Contains(s, "authentication failed")
		}
	}
	if !logged {
		t.Error("the failure was not logged")
	}
}

// TestSlowSinkLosesNothing: the sink applies back-pressure (and the link is
// slow and fragmented): every call still ends, none twice.
func TestSlowSinkLosesNothing(t *testing.T) {
	sim := startSim(t, eslsim.Options{SplitWrites: true, WriteDelay: 10 * time.Microsecond})
	sink := newSink()
	sink.delay = 50 * time.Microsecond
	r := startAdapter(t, sim.Addr(), testPassword, sink)
	await(t, "ready", func() bool { return r.a.Ready() == nil })
	const calls = 20
	for i := 0; i < calls; i++ {
		if err := sim.Play("ring_group_one_answers"); err != nil {
			t.Fatal(err)
		}
	}
	await(t, "every call ended", func() bool { return len(r.sink.ended()) == calls })
	r.settle(t, sim)
	if n := len(r.sink.ended()); n != calls || r.sink.m.Active() != 0 {
		t.Fatalf("%d ended, %d active", n, r.sink.m.Active())
	}
	if testutil.ToFloat64(r.a.m.reconnects) != 0 {
		t.Fatal("reconnected under back-pressure")
	}
}

// TestEventSequenceRestored: two events that FreeSWITCH numbered in one
// order but wrote in the other (as the captures show) are handled in
// Event-Sequence order when they arrive together.
func TestEventSequenceRestored(t *testing.T) {
	sim := startSim(t, eslsim.Options{})
	r := startAdapter(t, sim.Addr(), testPassword, newSink())
	await(t, "ready", func() bool { return r.a.Ready() == nil })
	var a *eslsim.Chan
	sim.Do(func(p *eslsim.Player) { a = p.Trunk() })
	r.settle(t, sim)
	frame := func(seq int, name string, hs ...Header) []byte {
		base := []Header{{"Event-Name", name}, {"Event-Date-Timestamp", "1795248000000000"},
			{"Event-Sequence", strconv.Itoa(seq)}, {"Unique-ID", "b-leg"}, {"Call-Direction", "outbound"},
			{"Channel-Name", "sofia/internal/1002@192.0.2.12:5060"}, {"Other-Type", "originator"},
			{"Other-Leg-Unique-ID", a.UUID}, {"variable_dialed_user", "1002"}}
		body := AppendEvent(nil, append(base, hs...), "")
		return AppendFrame(nil, Frame{Headers: []Header{{"Content-Length", strconv.Itoa(len(body))}, {"Content-Type", TypeEventPlain}}, Body: string(body)})
	}
	raw := append(frame(900002, "CHANNEL_PROGRESS"), frame(900001, "CHANNEL_CREATE")...)
	sim.Inject(raw)
	await(t, "ringing", func() bool {
		for _, e := range r.sink.snapshot() {
			if e.Type == events.Ringing && e.Agent == "1002" {
				return true
			}
		}
		return false
	})
}

// TestCommands: uuid_kill, uuid_setvar, uuid_transfer and a click-to-call
// whose leg A does not answer; errors are classified.
func TestCommands(t *testing.T) {
	sim := startSim(t, eslsim.Options{})
	ctx := context.Background()
	// Not connected: retryable.
	idle, err := New(Options{FreeSWITCH: config.FreeSWITCH{Address: "127.0.0.1:1"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := idle.Hangup(ctx, "x", ""); err == nil || fault.IsPermanent(err) || !errors.Is(err, ErrNotConnected) {
		t.Fatalf("hangup while down: %v", err)
	}

	r := startAdapter(t, sim.Addr(), testPassword, newSink())
	await(t, "ready", func() bool { return r.a.Ready() == nil })
	var a, b *eslsim.Chan
	sim.Do(func(p *eslsim.Player) { a, b = answeredCall(p, "1001") })
	r.settle(t, sim)

	if err := r.a.SetCallerName(ctx, a.UUID, "Jane Doe (ACME)"); err != nil {
		t.Fatal(err)
	}
	if err := r.a.Transfer(ctx, a.UUID, "1003", "default"); err != nil {
		t.Fatal(err)
	}
	if err := r.a.Hangup(ctx, "no-such-uuid", "NORMAL_CLEARING"); !fault.IsPermanent(err) {
		t.Fatalf("hangup of an unknown channel: %v", err)
	}
	if err := r.a.Hangup(ctx, a.UUID, ""); err != nil {
		t.Fatal(err)
	}
	await(t, "call ended", func() bool { return len(r.sink.ended()) == 1 })
	_ = b

	sim.SetOriginateOutcome(eslsim.OutcomeNoAnswer)
	o, err := r.a.Originate(ctx, ClickToCall{Endpoint: "user/1002@acme", Extension: "1002",
		CustomerEndpoint: "sofia/gateway/trunk/+4930123456", Customer: "+4930123456", CustomerName: "Smith, John",
		Tenant: "acme", JobID: "job-1"})
	if err != nil {
		t.Fatal(err)
	}
	var oe *OriginateError
	if err := o.Wait(ctx); !fault.IsPermanent(err) || !errors.As(err, &oe) || oe.Cause != "NO_ANSWER" {
		t.Fatalf("originate result: %v", err)
	}
	sim.Quiesce()
	await(t, "click-to-call ended", func() bool { return len(r.sink.ended()) == 2 })
	c2c := r.sink.ended()["t-"+o.LegA]
	if c2c.Origin != events.OriginClickToCall || c2c.Disposition != events.DispositionNoAnswer || c2c.Caller != "1002" || c2c.Tenant != "acme" {
		t.Errorf("click-to-call ended %+v", c2c)
	}
	var sawJob, sawName bool
	for _, c := range sim.Commands() {
		sawJob = sawJob || strings.HasPrefix(c, "bgapi originate {origination_uuid="+o.LegA) && strings.Contains(c, "&bridge({origination_uuid="+o.LegB)
		sawName = sawName || strings.Contains(c, "origination_caller_id_name='Smith John'")
		if strings.Contains(c, testPassword) {
			t.Fatal("password in the command log")
		}
	}
	if !sawJob || !sawName {
		t.Errorf("commands: %q", sim.Commands())
	}
}
