package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"

	"github.com/ringside/ringside/pkg/backoff"
	"github.com/ringside/ringside/pkg/callstate"
	"github.com/ringside/ringside/pkg/events"
	"github.com/ringside/ringside/pkg/fault"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// bus stands in for JetStream at the Publisher boundary: it keeps what was
// accepted, can be made unavailable (retryable errors) or to refuse one
// subject for good, and de-duplicates by message id like JetStream does.
type bus struct {
	mu        sync.Mutex
	down      bool
	refuse    string // msg id answered with a permanent error
	seen      map[string]bool
	published []events.Call
	attempts  int
}

func newBus() *bus { return &bus{seen: map[string]bool{}} }

func (b *bus) Publish(ctx context.Context, subject, msgID string, data []byte) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.attempts++
	if b.down {
		return fault.Retryable(errors.New("nats: no responders"), 0)
	}
	if msgID == b.refuse {
		return fault.Permanent(errors.New("nats: invalid subject"))
	}
	var e events.Call
	if err := json.Unmarshal(data, &e); err != nil {
		return fault.Permanent(err)
	}
	if subject != events.CallSubject(e.Tenant, e.Type) || msgID != e.ID {
		return fault.Permanent(fmt.Errorf("subject %q / id %q do not match the payload", subject, msgID))
	}
	if !b.seen[msgID] {
		b.seen[msgID] = true
		b.published = append(b.published, e)
	}
	return nil
}

func (b *bus) setDown(v bool) { b.mu.Lock(); b.down = v; b.mu.Unlock() }

func (b *bus) events() []events.Call {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]events.Call(nil), b.published...)
}

// inboundCall is the signal script of one inbound call answered by 1001:
// four events (started, ringing, answered, ended).
func inboundCall(id string, at time.Time) []callstate.Signal {
	trunk, phone := id+"-t", id+"-p"
	return []callstate.Signal{
		{Kind: callstate.LegCreated, At: at, Leg: trunk, Party: callstate.PartyExternal, Number: "+4930123456", Dialed: "4930999000", Tenant: "acme"},
		{Kind: callstate.LegCreated, At: at.Add(10 * time.Millisecond), Leg: phone, Peer: trunk, Party: callstate.PartyExtension, Number: "1001", Tenant: "acme"},
		{Kind: callstate.Ringing, At: at.Add(20 * time.Millisecond), Leg: phone},
		{Kind: callstate.Answered, At: at.Add(3 * time.Second), Leg: phone},
		{Kind: callstate.Hangup, At: at.Add(60 * time.Second), Leg: trunk, Cause: callstate.CauseNormal},
		{Kind: callstate.Hangup, At: at.Add(60 * time.Second), Leg: phone, Cause: callstate.CauseNormal},
	}
}

var wantTypes = []events.Type{events.Started, events.Ringing, events.Answered, events.Ended}

func newPipeline(t *testing.T, b Publisher, o Options) (*Pipeline, *prometheus.Registry, chan error) {
	t.Helper()
	reg := prometheus.NewRegistry()
	o.Registerer = reg
	if o.Retry == (backoff.Policy{}) {
		o.Retry = backoff.Policy{Initial: time.Millisecond, Max: 5 * time.Millisecond}
	}
	p := New(callstate.New(callstate.Options{IDPrefix: "n1-", Node: "n1"}), b, o)
	done := make(chan error, 1)
	go func() { done <- p.Run(context.Background()) }()
	return p, reg, done
}

// stop closes intake and waits for the queues to drain.
func stop(t *testing.T, p *Pipeline, done chan error) []callstate.Snapshot {
	t.Helper()
	snaps, err := p.Close(context.Background())
	if err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after Close")
	}
	return snaps
}

// byCall groups published events per call, in publish order.
func byCall(evs []events.Call) map[string][]events.Call {
	out := map[string][]events.Call{}
	for _, e := range evs {
		out[e.CallID] = append(out[e.CallID], e)
	}
	return out
}

func TestEveryCallIsPublishedInOrder(t *testing.T) {
	b := newBus()
	p, reg, done := newPipeline(t, b, Options{Shards: 4, Queue: 4})
	const calls = 200
	// Interleave the calls: signal i of every call before signal i+1 of any.
	t0 := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	scripts := make([][]callstate.Signal, calls)
	for i := range scripts {
		scripts[i] = inboundCall(fmt.Sprintf("c%03d", i), t0.Add(time.Duration(i)*time.Second))
	}
	for step := range scripts[0] {
		for _, s := range scripts {
			if err := p.Submit(context.Background(), s[step]); err != nil {
				t.Fatal(err)
			}
		}
	}
	stop(t, p, done)

	got := byCall(b.events())
	if len(got) != calls {
		t.Fatalf("published events of %d calls, want %d", len(got), calls)
	}
	for id, evs := range got {
		if len(evs) != len(wantTypes) {
			t.Fatalf("call %s: %d events, want %d", id, len(evs), len(wantTypes))
		}
		for i, e := range evs {
			if e.Type != wantTypes[i] || e.Seq != uint32(i+1) {
				t.Fatalf("call %s event %d = %s seq %d, want %s seq %d", id, i, e.Type, e.Seq, wantTypes[i], i+1)
			}
		}
		if end := evs[3]; end.Disposition != events.DispositionAnswered || end.AnsweredBy != "1001" || end.TalkSeconds != 57 {
			t.Fatalf("call %s ended = %+v", id, end)
		}
	}
	if n := testutil.ToFloat64(p.metrics.ended.WithLabelValues("inbound", "answered")); n != calls {
		t.Errorf("ringside_calls_ended_total{inbound,answered} = %v, want %d", n, calls)
	}
	if n := testutil.ToFloat64(p.metrics.published.WithLabelValues("ok")); n != calls*4 {
		t.Errorf("publish ok = %v, want %d", n, calls*4)
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("metric lint: %v %v", problems, err)
	}
}

func TestBackPressureWaitsInsteadOfDropping(t *testing.T) {
	b := newBus()
	b.setDown(true)
	p, _, done := newPipeline(t, b, Options{Shards: 1, Queue: 2})
	t0 := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

	// NATS is down: the shard publisher holds one event and retries, the
	// queue fills, then the pending events wait; a Submit that finds events
	// still waiting when its ctx ends is refused, without applying its signal.
	var script []callstate.Signal
	for i := range 3 {
		script = append(script, inboundCall(fmt.Sprintf("c%d", i), t0)...)
	}
	refused := -1
	for i, s := range script {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		err := p.Submit(ctx, s)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			refused = i
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if refused < 0 {
		t.Fatal("every signal was accepted while NATS was down: no back-pressure")
	}
	if w := testutil.ToFloat64(p.metrics.blocked); w <= 0 {
		t.Errorf("backpressure seconds = %v, want > 0", w)
	}
	if len(b.events()) != 0 {
		t.Fatal("events published while NATS was down")
	}

	// NATS comes back; the refused signal is submitted again, then the rest.
	b.setDown(false)
	for _, s := range script[refused:] {
		if err := p.Submit(context.Background(), s); err != nil {
			t.Fatal(err)
		}
	}
	stop(t, p, done)
	evs := b.events()
	if b.attempts <= len(evs) {
		t.Errorf("no publish was retried (attempts %d, published %d)", b.attempts, len(evs))
	}
	got := byCall(evs)
	if len(got) != 3 {
		t.Fatalf("published events of %d calls, want 3", len(got))
	}
	for id, evs := range got {
		for i, e := range evs {
			if e.Type != wantTypes[i] || e.Seq != uint32(i+1) {
				t.Fatalf("call %s: event %d = %s seq %d", id, i, e.Type, e.Seq)
			}
		}
		if len(evs) != len(wantTypes) {
			t.Fatalf("call %s: %d events, want %d", id, len(evs), len(wantTypes))
		}
	}
}

func TestPermanentErrorSkipsOnlyThatEvent(t *testing.T) {
	b := newBus()
	b.refuse = "n1-c1-t:2" // the ringing event
	p, _, done := newPipeline(t, b, Options{Shards: 2, Queue: 8})
	for _, s := range inboundCall("c1", time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)) {
		if err := p.Submit(context.Background(), s); err != nil {
			t.Fatal(err)
		}
	}
	stop(t, p, done)
	var got []events.Type
	for _, e := range b.events() {
		got = append(got, e.Type)
	}
	if fmt.Sprint(got) != fmt.Sprint([]events.Type{events.Started, events.Answered, events.Ended}) {
		t.Fatalf("published %v", got)
	}
	if n := testutil.ToFloat64(p.metrics.published.WithLabelValues("permanent_error")); n != 1 {
		t.Errorf("permanent errors counted %v, want 1", n)
	}
}

func TestCloseReturnsCallsInProgressAndRefusesIntake(t *testing.T) {
	b := newBus()
	p, _, done := newPipeline(t, b, Options{})
	script := inboundCall("c1", time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC))
	for _, s := range script[:4] { // answered, not hung up
		if err := p.Submit(context.Background(), s); err != nil {
			t.Fatal(err)
		}
	}
	if p.Active() != 1 {
		t.Fatalf("Active = %d, want 1", p.Active())
	}
	snaps := stop(t, p, done)
	if len(snaps) != 1 {
		t.Fatalf("Close returned %d calls in progress, want 1", len(snaps))
	}
	if err := p.Submit(context.Background(), script[4]); !errors.Is(err, ErrClosed) {
		t.Fatalf("Submit after Close = %v, want ErrClosed", err)
	}

	// The snapshot survives a restart: saved, taken back, and the call ends
	// in a new pipeline with the next seq.
	dir := t.TempDir()
	if err := SaveCalls(dir, snaps); err != nil {
		t.Fatal(err)
	}
	back, err := TakeCalls(dir)
	if err != nil || len(back) != 1 {
		t.Fatalf("TakeCalls = %d calls, %v", len(back), err)
	}
	if again, _ := TakeCalls(dir); len(again) != 0 {
		t.Fatal("calls were restored twice")
	}
	m := callstate.New(callstate.Options{IDPrefix: "n1-", Node: "n1"})
	if err := m.Restore(back); err != nil {
		t.Fatal(err)
	}
	b2 := newBus()
	p2 := New(m, b2, Options{Registerer: prometheus.NewRegistry()})
	done2 := make(chan error, 1)
	go func() { done2 <- p2.Run(context.Background()) }()
	for _, s := range script[4:] {
		if err := p2.Submit(context.Background(), s); err != nil {
			t.Fatal(err)
		}
	}
	stop(t, p2, done2)
	evs := b2.events()
	if len(evs) != 1 || evs[0].Type != events.Ended || evs[0].Seq != 4 || evs[0].AnsweredBy != "1001" {
		t.Fatalf("after restore published %+v, want one ended event with seq 4", evs)
	}
}

func TestTakeCallsKeepsACorruptFileAside(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, callsFile), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := TakeCalls(dir); err == nil {
		t.Fatal("corrupt file accepted")
	}
	if _, err := os.Stat(filepath.Join(dir, callsFile+".bad")); err != nil {
		t.Fatalf("corrupt file not kept aside: %v", err)
	}
	if calls, err := TakeCalls(dir); err != nil || calls != nil {
		t.Fatalf("second start = %v, %v; want a clean start", calls, err)
	}
}
