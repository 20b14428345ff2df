package livecalls

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ringside/ringside/pkg/events"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// clock is a settable test clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newBoard(o Options) (*Board, *clock) {
	c := &clock{now: time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)}
	o.Now = c.Now
	return New(o), c
}

// ev is an event of call id in tenant acme.
func ev(id string, seq uint32, typ events.Type, f func(*events.Call)) events.Call {
	e := events.Call{V: 1, ID: events.MsgID(id, seq), Type: typ, CallID: id, Seq: seq, Tenant: "acme",
		Direction: events.Inbound, External: "+4930123456", Dialed: "+4930999000"}
	if f != nil {
		f(&e)
	}
	return e
}

func agent(a string) func(*events.Call) { return func(e *events.Call) { e.Agent = a } }

func TestRingGroupCallLifecycle(t *testing.T) {
	b, clk := newBoard(Options{})
	steps := []struct {
		e       events.Call
		state   State
		ringing []string
		agent   string
	}{
		{ev("c1", 1, events.Started, nil), Ringing, nil, ""},
		{ev("c1", 2, events.Ringing, agent("1001")), Ringing, []string{"1001"}, ""},
		{ev("c1", 3, events.Ringing, agent("1002")), Ringing, []string{"1001", "1002"}, ""},
		{ev("c1", 4, events.RingStopped, agent("1001")), Ringing, []string{"1002"}, ""},
		{ev("c1", 5, events.Answered, func(e *events.Call) { e.Agent, e.AnsweredBy = "1002", "1002" }), Answered, nil, "1002"},
		{ev("c1", 6, events.Transferred, func(e *events.Call) { e.Agent, e.AnsweredBy = "1003", "1003" }), Answered, nil, "1003"},
		{ev("c1", 7, events.Ended, func(e *events.Call) { e.AnsweredBy, e.Disposition = "1003", events.DispositionAnswered }), Ended, nil, "1003"},
	}
	for i, s := range steps {
		clk.Add(time.Second)
		b.Apply(s.e)
		calls := b.Calls("acme")
		if len(calls) != 1 {
			t.Fatalf("step %d: %d calls", i, len(calls))
		}
		c := calls[0]
		if c.State != s.state || !slices.Equal(c.RingingAt, s.ringing) || c.Agent != s.agent {
			t.Errorf("step %d (%s): state %s ringing %v agent %q, want %s %v %q", i, s.e.Type, c.State, c.RingingAt, c.Agent, s.state, s.ringing, s.agent)
		}
		if c.External != "+4930123456" || c.Direction != events.Inbound {
			t.Errorf("step %d: %+v", i, c)
		}
	}
	c := b.Calls("acme")[0]
	start := time.Date(2025, 3, 1, 9, 0, 1, 0, time.UTC)
	if !c.Since.Equal(start) || !c.AnsweredSince.Equal(start.Add(4*time.Second)) || !c.EndedSince.Equal(start.Add(6*time.Second)) {
		t.Errorf("times: since %v answered %v ended %v", c.Since, c.AnsweredSince, c.EndedSince)
	}
	if c.Disposition != events.DispositionAnswered {
		t.Errorf("disposition %q", c.Disposition)
	}
}

func TestEndedCallsLeaveAfterKeepEnded(t *testing.T) {
	b, clk := newBoard(Options{KeepEnded: time.Minute})
	b.Apply(ev("c1", 1, events.Started, nil))
	b.Apply(ev("c1", 2, events.Ended, func(e *events.Call) { e.Disposition = events.DispositionMissed }))
	clk.Add(59 * time.Second)
	if n := len(b.Calls("acme")); n != 1 {
		t.Fatalf("after 59s: %d calls, want the ended one", n)
	}
	// A recording event after the end changes nothing and keeps nothing.
	b.Apply(ev("c1", 3, events.Recording, func(e *events.Call) { e.Recording = "/var/spool/x.wav" }))
	clk.Add(time.Second)
	if n := len(b.Calls("acme")); n != 0 {
		t.Fatalf("after 60s: %d calls, want none", n)
	}
	b.Apply(ev("c1", 4, events.Recording, nil))
	if n := len(b.Calls("acme")); n != 0 {
		t.Errorf("a late recording event brought the call back")
	}
}

func TestStaleCallsAreDropped(t *testing.T) {
	b, clk := newBoard(Options{StaleAfter: time.Hour})
	b.Apply(ev("c1", 1, events.Answered, func(e *events.Call) { e.AnsweredBy = "1001" }))
	clk.Add(59 * time.Minute)
	b.Apply(ev("c2", 1, events.Started, nil))
	clk.Add(time.Minute)
	calls := b.Calls("acme")
	if len(calls) != 1 || calls[0].CallID != "c2" {
		t.Errorf("calls %+v, want only c2 (c1's end was missed an hour ago)", calls)
	}
}

func TestOldAndDuplicateEventsAreIgnored(t *testing.T) {
	b, _ := newBoard(Options{})
	b.Apply(ev("c1", 2, events.Answered, func(e *events.Call) { e.AnsweredBy = "1001" }))
	b.Apply(ev("c1", 1, events.Ringing, agent("1002"))) // late
	b.Apply(ev("c1", 2, events.Answered, func(e *events.Call) { e.AnsweredBy = "1009" }))
	c := b.Calls("acme")[0]
	if c.State != Answered || c.Agent != "1001" || len(c.RingingAt) != 0 {
		t.Errorf("%+v", c)
	}
}

func TestIgnoredEvents(t *testing.T) {
	b, _ := newBoard(Options{})
	b.Apply(events.Call{Type: events.TerminalSet, CallID: "t1", Seq: 1, Tenant: "acme", Terminal: &events.Terminal{Extension: "1001"}})
	b.Apply(events.Call{Type: events.Started, Seq: 1, Tenant: "acme"}) // no call id
	b.Apply(events.Call{Type: events.Started, CallID: "x", Seq: 1})    // no tenant
	b.Apply(events.Call{Type: events.Recording, CallID: "y", Seq: 9, Tenant: "acme"})
	if n := len(b.Calls("acme")); n != 0 {
		t.Errorf("%d calls from events that are no live call", n)
	}
}

func TestTenantsAreSeparate(t *testing.T) {
	b, _ := newBoard(Options{})
	b.Apply(ev("c1", 1, events.Started, nil))
	b.Apply(ev("c2", 1, events.Started, func(e *events.Call) { e.Tenant = "globex" }))
	if a, g := b.Calls("acme"), b.Calls("globex"); len(a) != 1 || a[0].CallID != "c1" || len(g) != 1 || g[0].CallID != "c2" {
		t.Errorf("acme %+v globex %+v", a, g)
	}
	if n := len(b.Calls("initech")); n != 0 {
		t.Errorf("initech has %d calls", n)
	}
}

func TestOrder(t *testing.T) {
	b, clk := newBoard(Options{})
	for i, id := range []string{"a", "b", "c", "d"} {
		clk.Add(time.Second)
		b.Apply(ev(id, 1, events.Started, nil))
		if i%2 == 0 {
			clk.Add(time.Second)
			b.Apply(ev(id, 2, events.Ended, nil))
		}
	}
	var got []string
	for _, c := range b.Calls("acme") {
		got = append(got, c.CallID)
	}
	// live first by start, then ended, the latest ended first
	if want := []string{"b", "d", "c", "a"}; !slices.Equal(got, want) {
		t.Errorf("order %v, want %v", got, want)
	}
}

func TestBounded(t *testing.T) {
	b, clk := newBoard(Options{MaxCalls: 3, MaxTenants: 2})
	for i := range 3 {
		b.Apply(ev(fmt.Sprint("live", i), 1, events.Started, nil))
	}
	b.Apply(ev("more", 1, events.Started, nil))
	if n, d := len(b.Calls("acme")), b.Dropped(); n != 3 || d != 1 {
		t.Fatalf("full of live calls: %d calls, %d dropped; want 3 and 1", n, d)
	}
	// An ended call makes room for a new one.
	clk.Add(time.Second)
	b.Apply(ev("live0", 2, events.Ended, nil))
	b.Apply(ev("new", 1, events.Started, nil))
	calls := b.Calls("acme")
	if len(calls) != 3 || slices.ContainsFunc(calls, func(c Call) bool { return c.CallID == "live0" }) {
		t.Errorf("after an end: %+v", calls)
	}
	// Updates to calls on the board always apply.
	b.Apply(ev("live1", 2, events.Answered, func(e *events.Call) { e.AnsweredBy = "1001" }))
	if c := b.Calls("acme"); c[0].CallID != "live1" || c[0].State != Answered {
		t.Errorf("update on a full board: %+v", c[0])
	}
	// Tenants are bounded too.
	b.Apply(ev("g", 1, events.Started, func(e *events.Call) { e.Tenant = "globex" }))
	b.Apply(ev("i", 1, events.Started, func(e *events.Call) { e.Tenant = "initech" }))
	if n, d := len(b.Calls("initech")), b.Dropped(); n != 0 || d != 2 {
		t.Errorf("third tenant: %d calls, %d dropped", n, d)
	}
}

func TestCallsReturnsCopies(t *testing.T) {
	b, _ := newBoard(Options{})
	b.Apply(ev("c1", 1, events.Ringing, agent("1001")))
	c := b.Calls("acme")
	c[0].RingingAt[0] = "9999"
	c[0].State = Ended
	if got := b.Calls("acme")[0]; got.RingingAt[0] != "1001" || got.State != Ringing {
		t.Errorf("the board changed through a returned call: %+v", got)
	}
}

// fakeSub is a Subscriber delivering what the test publishes.
type fakeSub struct {
	mu      sync.Mutex
	subject string
	handle  func([]byte)
	fail    error
}

func (f *fakeSub) Subscribe(subject string, handle func([]byte)) (func() error, error) {
	if f.fail != nil {
		return nil, f.fail
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.subject, f.handle = subject, handle
	return func() error {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.handle = nil
		return nil
	}, nil
}

func (f *fakeSub) publish(data []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.handle != nil {
		f.handle(data)
	}
}

func TestFollow(t *testing.T) {
	b, _ := newBoard(Options{})
	sub := &fakeSub{}
	stop, err := b.Follow(sub)
	if err != nil {
		t.Fatal(err)
	}
	if sub.subject != events.CallSubjects {
		t.Errorf("subscribed to %q", sub.subject)
	}
	data, _ := json.Marshal(ev("c1", 1, events.Ringing, agent("1001")))
	sub.publish([]byte("not json"))
	sub.publish(data)
	if c := b.Calls("acme"); len(c) != 1 || c[0].RingingAt[0] != "1001" {
		t.Fatalf("after a published event: %+v", c)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	data, _ = json.Marshal(ev("c2", 1, events.Started, nil))
	sub.publish(data)
	if n := len(b.Calls("acme")); n != 1 {
		t.Errorf("an event after stop reached the board")
	}
	if _, err := b.Follow(&fakeSub{fail: errors.New("nats: connection closed")}); err == nil {
		t.Error("Follow hid a subscribe error")
	}
	if err := b.Handle([]byte("{")); err == nil {
		t.Error("Handle accepted broken JSON")
	}
}

func TestConcurrentUse(t *testing.T) {
	b := New(Options{MaxCalls: 50})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := range 500 {
				id := fmt.Sprintf("w%d-%d", w, i%80)
				b.Apply(ev(id, uint32(i), events.Ringing, agent("1001")))
				if i%3 == 0 {
					b.Apply(ev(id, uint32(i+1), events.Ended, nil))
				}
			}
		}()
		go func() {
			defer wg.Done()
			for range 200 {
				for _, c := range b.Calls("acme") {
					_ = len(c.RingingAt)
				}
			}
		}()
	}
	wg.Wait()
	if n := len(b.Calls("acme")); n > 50 {
		t.Errorf("%d calls on a board bounded to 50", n)
	}
}
