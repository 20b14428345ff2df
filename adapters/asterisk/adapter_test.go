package asterisk

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"
	"go.uber.org/zap/zaptest"

	arisim "github.com/ringside/ringside/integration/sim/ari"
	"github.com/ringside/ringside/pkg/backoff"
	"github.com/ringside/ringside/pkg/callstate"
	"github.com/ringside/ringside/pkg/config"
	"github.com/ringside/ringside/pkg/events"
	"github.com/ringside/ringside/pkg/fault"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// machineSink feeds a real state machine, like the pipeline does.
type machineSink struct {
	mu      sync.Mutex
	m       *callstate.Machine
	events  []events.Call
	signals []callstate.Signal
	slow    func(callstate.Signal) // called outside the lock before applying
}

func newSink() *machineSink {
	return &machineSink{m: callstate.New(callstate.Options{IDPrefix: "pbx-", DefaultTenant: "default"})}
}

func (s *machineSink) Submit(ctx context.Context, sig callstate.Signal) error {
	if s.slow != nil {
		s.slow(sig)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.signals = append(s.signals, sig)
	s.events = s.m.Apply(sig, s.events)
	return ctx.Err()
}

func (s *machineSink) LiveLegs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m.LiveLegs()
}

func (s *machineSink) snapshot() ([]events.Call, []callstate.Signal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]events.Call(nil), s.events...), append([]callstate.Signal(nil), s.signals...)
}

// byType counts events by type, per call.
func byType(evs []events.Call, typ events.Type) map[string]int {
	out := map[string]int{}
	for _, e := range evs {
		if e.Type == typ {
			out[e.CallID]++
		}
	}
	return out
}

type rig struct {
	sim  *arisim.Server
	ad   *Adapter
	sink *machineSink
	reg  *prometheus.Registry
	stop func() error
}

func testOptions(t *testing.T, url string) Options {
	return Options{
		PBX: config.PBX{
			Tenant:    config.TenantRule{From: config.TenantContextPrefix, Separator: "-"},
			Asterisk:  config.Asterisk{URL: url, Username: "ringside", Password: "secret", App: "ringside"},
			Reconnect: backoff.Policy{Initial: 10 * time.Millisecond, Max: 50 * time.Millisecond},
		},
		RequestTimeout: 2 * time.Second,
		Logger:         zaptest.NewLogger(t),
	}
}

// start runs an adapter against a started simulator (or against url when sim
// is not started) and stops both when the test ends.
func start(t *testing.T, sim *arisim.Server, url string, mutate func(*Options)) *rig {
	t.Helper()
	o := testOptions(t, url)
	reg := prometheus.NewRegistry()
	o.Registerer = reg
	if mutate != nil {
		mutate(&o)
	}
	ad, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{sim: sim, ad: ad, sink: newSink(), reg: reg}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ad.Run(ctx, r.sink) }()
	var once sync.Once
	var runErr error
	r.stop = func() error {
		once.Do(func() { cancel(); runErr = <-done })
		return runErr
	}
	t.Cleanup(func() {
		if err := r.stop(); err != nil {
			t.Errorf("Run: %v", err)
		}
		sim.Close()
	})
	return r
}

func newSim(t *testing.T, o arisim.Options) *arisim.Server {
	t.Helper()
	if o.Tenant == "" {
		o.Tenant = "acme"
	}
	sim := arisim.New(o)
	if err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	return sim
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func connected(t *testing.T, r *rig, sockets int) {
	t.Helper()
	ctx := ctxT(t)
	if err := r.sim.WaitSockets(ctx, sockets); err != nil {
		t.Fatalf("waiting for socket %d: %v", sockets, err)
	}
	if err := r.sim.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

func settle(t *testing.T, r *rig) {
	t.Helper()
	ctx := ctxT(t)
	if err := r.sim.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	if err := r.sim.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

// eventually polls cond (a state with no event to wait on, such as
// readiness) until it holds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestUnknownEventTypesAreCountedNotFatal(t *testing.T) {
	sim := newSim(t, arisim.Options{})
	r := start(t, sim, sim.URL(), nil)
	connected(t, r, 1)
	sim.InjectEvent("ChannelToneDetected", map[string]any{"channel": map[string]any{"id": "x", "name": "PJSIP/1001-00000001", "state": "Up"}})
	sim.InjectEvent("SomethingAsterisk30Invents", map[string]any{"payload": []int{1, 2}})
	sim.InjectEvent("CallBroadcast", map[string]any{})
	if err := sim.Play("inbound_answered"); err != nil {
		t.Fatal(err)
	}
	settle(t, r)
	if got := testutil.ToFloat64(r.ad.m.events.WithLabelValues("other")); got != 1 {
		t.Errorf("events_received_total{type=other} = %v, want 1", got)
	}
	if got := testutil.ToFloat64(r.ad.m.events.WithLabelValues("ChannelToneDetected")); got != 1 {
		t.Errorf("events_received_total{type=ChannelToneDetected} = %v, want 1", got)
	}
	evs, _ := r.sink.snapshot()
	if n := len(byType(evs, events.Ended)); n != 1 || sim.Accepted() != 1 {
		t.Fatalf("%d calls ended on %d connections; want the call after the unknown events, on one connection", n, sim.Accepted())
	}
}

func TestMalformedFramesAreSkippedAndCounted(t *testing.T) {
	sim := newSim(t, arisim.Options{})
	r := start(t, sim, sim.URL(), nil)
	connected(t, r, 1)
	sim.InjectRaw([]byte(`{"type":"ChannelCreated","channel":`)) // cut short
	sim.InjectRaw([]byte(`not json at all`))
	sim.InjectRaw([]byte(`{"channel":{"id":"1"}}`)) // no type
	sim.InjectRaw([]byte(`{"type":"Dial","timestamp":"yesterday","peer":{"id":"nobody"}}`))
	if err := sim.Play("inbound_answered"); err != nil {
		t.Fatal(err)
	}
	settle(t, r)
	if got := testutil.ToFloat64(r.ad.m.undecodable); got != 3 {
		t.Errorf("events_undecodable_total = %v, want 3", got)
	}
	evs, _ := r.sink.snapshot()
	if n := len(byType(evs, events.Ended)); n != 1 || sim.Accepted() != 1 {
		t.Fatalf("%d calls ended on %d connections; want the call, on the same connection", n, sim.Accepted())
	}
	if err := r.ad.Ready(); err != nil {
		t.Fatalf("Ready = %v", err)
	}
}

// TestBurstLosesNothing: 300 calls' worth of events (over 10,000) arrive at
// once while the sink is slow now and then; every call is complete.
func TestBurstLosesNothing(t *testing.T) {
	sim := newSim(t, arisim.Options{ChannelVars: []string{"CHANNEL(linkedid)"}})
	r := start(t, sim, sim.URL(), nil)
	n := 0
	r.sink.slow = func(callstate.Signal) {
		if n++; n%2000 == 0 {
			time.Sleep(20 * time.Millisecond) // a publisher catching its breath
		}
	}
	connected(t, r, 1)
	before := sim.Emitted()
	const calls = 300
	for i := 0; i < calls; i++ {
		if err := sim.Play([]string{"inbound_answered", "ring_group_one_answers", "outbound_answered"}[i%3]); err != nil {
			t.Fatal(err)
		}
	}
	emitted := sim.Emitted() - before
	if emitted < 10000 {
		t.Fatalf("burst of %d events, want at least 10,000", emitted)
	}
	settle(t, r)
	evs, _ := r.sink.snapshot()
	started, ended := byType(evs, events.Started), byType(evs, events.Ended)
	if len(started) != calls || len(ended) != calls {
		t.Fatalf("%d calls started, %d ended; want %d each", len(started), len(ended), calls)
	}
	for _, e := range evs {
		if e.Type == events.Ended && e.Disposition != events.DispositionAnswered {
			t.Fatalf("call %s ended %s", e.CallID, e.Disposition)
		}
	}
	var received float64
	for _, typ := range []string{"ChannelCreated", "ChannelDestroyed", "ChannelVarset", "ChannelDialplan", "Dial", "ChannelStateChange",
		"ChannelCallerId", "ChannelConnectedLine", "ChannelHangupRequest", "ChannelEnteredBridge", "ChannelLeftBridge",
		"BridgeCreated", "BridgeDestroyed", "DeviceStateChanged"} {
		received += testutil.ToFloat64(r.ad.m.events.WithLabelValues(typ))
	}
	if int(received) != emitted {
		t.Fatalf("received %v events, the simulator sent %d", received, emitted)
	}
}

// TestReconnectReconciles drops the link mid-call: a call that ended during
// the outage is closed as link_lost, a call that started during it is
// adopted, a call that lived through it is neither duplicated nor closed.
func TestReconnectReconciles(t *testing.T) {
	sim := newSim(t, arisim.Options{ChannelVars: []string{"CHANNEL(linkedid)", "MIXMONITOR_FILENAME"}})
	r := start(t, sim, sim.URL(), nil)
	connected(t, r, 1)
	ta, pa, ba := sim.StartInbound("1001") // lives through the outage
	tb, pb, bb := sim.StartInbound("1002") // ends during it
	if err := sim.Flush(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	evs, _ := r.sink.snapshot()
	if n := len(byType(evs, events.Answered)); n != 2 {
		t.Fatalf("%d calls answered before the outage, want 2", n)
	}

	sim.RejectSockets(true)
	sim.DropSockets()
	eventually(t, "readiness to report the outage", func() bool { return r.ad.Ready() != nil })
	if !strings.HasPrefix(r.ad.Ready().Error(), "disconnected: ") {
		t.Fatalf("Ready = %v", r.ad.Ready())
	}
	sim.EndCall(bb, tb, pb)
	tc, pc, bc := sim.StartInbound("1003") // starts during it
	sim.RejectSockets(false)
	connected(t, r, 2)

	evs, sigs := r.sink.snapshot()
	for _, s := range sigs {
		if s.Kind == callstate.LegCreated && (s.Leg == ta || s.Leg == pa) {
			if n := countLeg(sigs, s.Leg, callstate.LegCreated); n != 1 {
				t.Fatalf("leg %s announced %d times", s.Leg, n)
			}
		}
	}
	callB, callC := "pbx-"+tb, "pbx-"+tc
	var endedB *events.Call
	for i, e := range evs {
		if e.CallID == callB && e.Type == events.Ended {
			endedB = &evs[i]
		}
	}
	if endedB == nil || !endedB.LinkLost {
		t.Fatalf("call that ended during the outage: %+v, want ended with link_lost", endedB)
	}
	if byType(evs, events.Started)[callC] != 1 || byType(evs, events.Answered)[callC] != 1 {
		t.Fatalf("call started during the outage not adopted: %v", render2(evs))
	}

	sim.EndCall(ba, ta, pa)
	sim.EndCall(bc, tc, pc)
	settle(t, r)
	evs, _ = r.sink.snapshot()
	started, ended := byType(evs, events.Started), byType(evs, events.Ended)
	if len(started) != 3 || len(ended) != 3 {
		t.Fatalf("started %v ended %v; want 3 calls, once each", started, ended)
	}
	for _, e := range evs {
		if e.Type == events.Ended && e.CallID != callB && (e.LinkLost || e.Disposition != events.DispositionAnswered) {
			t.Fatalf("call %s ended link_lost=%v %s", e.CallID, e.LinkLost, e.Disposition)
		}
	}
	if testutil.ToFloat64(r.ad.m.reconciled.WithLabelValues("lost")) != 2 {
		t.Errorf("reconciled lost = %v, want 2 legs", testutil.ToFloat64(r.ad.m.reconciled.WithLabelValues("lost")))
	}
	if err := r.ad.Ready(); err != nil {
		t.Fatalf("Ready after reconnect = %v", err)
	}
}

func countLeg(sigs []callstate.Signal, leg string, k callstate.Kind) int {
	n := 0
	for _, s := range sigs {
		if s.Leg == leg && s.Kind == k {
			n++
		}
	}
	return n
}

func render2(evs []events.Call) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.CallID+" "+string(e.Type)+" "+e.Agent)
	}
	return out
}

// TestAsteriskDownAtStart: Run does not wait for Asterisk; Ready says why
// it is not connected; once Asterisk is up the adapter connects.
func TestAsteriskDownAtStart(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	sim := arisim.New(arisim.Options{Tenant: "acme"})
	r := start(t, sim, "http://"+addr+"/ari", nil)
	eventually(t, "a connection attempt to fail", func() bool {
		err := r.ad.Ready()
		return err != nil && strings.Contains(err.Error(), "connection refused")
	})
	if !strings.HasPrefix(r.ad.Ready().Error(), "disconnected: connect: ") {
		t.Fatalf("Ready = %v", r.ad.Ready())
	}
	if err := sim.StartAt(addr); err != nil {
		t.Skipf("port taken meanwhile: %v", err)
	}
	connected(t, r, 1)
	if err := r.ad.Ready(); err != nil {
		t.Fatalf("Ready = %v", err)
	}
	if testutil.ToFloat64(r.ad.m.reconnects) < 1 || testutil.ToFloat64(r.ad.m.connected) != 1 {
		t.Fatalf("reconnects %v connected %v", testutil.ToFloat64(r.ad.m.reconnects), testutil.ToFloat64(r.ad.m.connected))
	}
}

func TestWrongPasswordSaysSo(t *testing.T) {
	sim := newSim(t, arisim.Options{Password: "other"})
	r := start(t, sim, sim.URL(), nil)
	eventually(t, "the refusal", func() bool {
		err := r.ad.Ready()
		return err != nil && strings.Contains(err.Error(), "unauthorized")
	})
}

// TestWatchdogClosesHalfOpenSocket: a socket that neither sends nor answers
// pings is closed and replaced.
func TestWatchdogClosesHalfOpenSocket(t *testing.T) {
	sim := newSim(t, arisim.Options{})
	r := start(t, sim, sim.URL(), func(o *Options) {
		o.PingInterval, o.PingTimeout = 30*time.Millisecond, 50*time.Millisecond
	})
	connected(t, r, 1)
	sim.Freeze(true)
	connected(t, r, 2)
	if got := testutil.ToFloat64(r.ad.m.disconnects.WithLabelValues("watchdog")); got < 1 {
		t.Fatalf("disconnects{reason=watchdog} = %v", got)
	}
	if err := sim.Play("inbound_answered"); err != nil {
		t.Fatal(err)
	}
	settle(t, r)
	evs, _ := r.sink.snapshot()
	if len(byType(evs, events.Ended)) != 1 {
		t.Fatalf("no call after the watchdog reconnected: %v", render2(evs))
	}
}

// TestApplicationReplaced: another connection taking the application over
// is noticed (ari/v5 never delivers this event) and the adapter reconnects.
func TestApplicationReplaced(t *testing.T) {
	sim := newSim(t, arisim.Options{})
	r := start(t, sim, sim.URL(), nil)
	connected(t, r, 1)
	ctx := ctxT(t)
	ws := "ws" + strings.TrimPrefix(sim.URL(), "http") + "/events?app=ringside&subscribeAll=true"
	other, _, err := websocket.Dial(ctx, ws, &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {arisim.Base64Auth("ringside", "secret")}}})
	if err != nil {
		t.Fatal(err)
	}
	defer other.CloseNow()
	connected(t, r, 3) // ours, the intruder, ours again
	if got := testutil.ToFloat64(r.ad.m.disconnects.WithLabelValues("replaced")); got != 1 {
		t.Fatalf("disconnects{reason=replaced} = %v, want 1", got)
	}
}

func TestFeatureCodeIsConfirmed(t *testing.T) {
	sim := newSim(t, arisim.Options{})
	r := start(t, sim, sim.URL(), nil)
	connected(t, r, 1)
	if err := sim.Play("feature_code_mobile"); err != nil {
		t.Fatal(err)
	}
	settle(t, r)
	r.ad.actions.Wait() // the confirmation's last answer may still be on its way back
	evs, _ := r.sink.snapshot()
	if len(evs) != 1 || evs[0].Type != events.TerminalSet {
		t.Fatalf("events %v, want one terminal_set", render2(evs))
	}
	term := evs[0].Terminal
	if term.Extension != "1001" || term.Code != "3037" || term.Mobile != "+491701234567" || term.Device != "PJSIP/1001" || evs[0].Tenant != "acme" {
		t.Fatalf("terminal %+v tenant %s", term, evs[0].Tenant)
	}
	for _, op := range []string{"answer", "play", "continue"} {
		if got := testutil.ToFloat64(r.ad.m.requests.WithLabelValues(op, "ok")); got != 1 {
			t.Errorf("requests{op=%s,result=ok} = %v, want 1", op, got)
		}
	}
}

func TestCommandErrorsAreClassified(t *testing.T) {
	sim := newSim(t, arisim.Options{})
	r := start(t, sim, sim.URL(), nil)
	connected(t, r, 1)
	ctx := ctxT(t)
	sim.FailREST(1, http.StatusServiceUnavailable)
	err := r.ad.Hangup(ctx, "nobody", "")
	if err == nil || fault.IsPermanent(err) || StatusOf(err) != 503 || !strings.HasPrefix(err.Error(), "asterisk: hangup nobody: ") {
		t.Fatalf("5xx: %v (permanent %v)", err, fault.IsPermanent(err))
	}
	err = r.ad.Hangup(ctx, "nobody", "")
	if !fault.IsPermanent(err) || StatusOf(err) != 404 || !strings.Contains(err.Error(), "Channel not found") {
		t.Fatalf("404: %v", err)
	}
	req := OriginateRequest{ChannelID: "c2c-9-a", Endpoint: "PJSIP/1001", AppArgs: []string{"c2c", "9"}}
	if err := r.ad.Originate(ctx, req); err != nil {
		t.Fatal(err)
	}
	if err := r.ad.Originate(ctx, req); !fault.IsPermanent(err) || StatusOf(err) != 409 {
		t.Fatalf("duplicate id: %v", err)
	}
	if err := r.ad.AddToBridge(ctx, "no-bridge", "c2c-9-a"); !fault.IsPermanent(err) || StatusOf(err) != 404 {
		t.Fatalf("missing bridge: %v", err)
	}
	if err := r.ad.SetCallerName(ctx, "c2c-9-a", "Jane Customer"); err != nil {
		t.Fatal(err)
	}
	if v, err := r.ad.GetVariable(ctx, "c2c-9-a", "CALLERID(name)"); err != nil || v != "Jane Customer" {
		t.Fatalf("caller name %q, %v", v, err)
	}
	if v, err := r.ad.GetVariable(ctx, "c2c-9-a", "CHANNEL(linkedid)"); err != nil || v != "c2c-9-a" {
		t.Fatalf("linkedid %q, %v", v, err)
	}
	if err := r.ad.Redirect(ctx, "c2c-9-a", "PJSIP/1002"); err != nil {
		t.Fatal(err)
	}
	if err := r.ad.Hangup(ctx, "c2c-9-a", "normal"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.ad.Info(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestCommandTimeoutIsRetryable: an ARI that accepts and never answers.
func TestCommandTimeoutIsRetryable(t *testing.T) {
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer hang.Close()
	defer close(release)
	o := testOptions(t, hang.URL+"/ari")
	o.RequestTimeout = 50 * time.Millisecond
	ad, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	err = ad.Hangup(context.Background(), "x", "")
	if err == nil || fault.IsPermanent(err) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("timeout: %v", err)
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	for _, url := range []string{"", "ftp://x/ari", "http:///ari", "::"} {
		o := testOptions(t, url)
		if _, err := New(o); err == nil {
			t.Errorf("url %q accepted", url)
		}
	}
	o := testOptions(t, "http://127.0.0.1:8088/ari")
	o.PBX.Asterisk.App = ""
	if _, err := New(o); err == nil {
		t.Error("empty app accepted")
	}
}
