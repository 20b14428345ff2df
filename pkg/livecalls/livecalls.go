// Package livecalls owns the live calls view model: a bounded in-memory
// board, per tenant, of the calls ringing or answered right now, built from
// the call events the pipeline publishes (pkg/events). The web portal's live
// view renders it.
//
// The board follows a core (at-most-once) subscription on
// events.CallSubjects: it is a view, not a record. An event it misses is
// not replayed; each event carries the whole call, so the next one repairs
// the row, and a call whose end was missed is dropped once it has been
// silent for Options.StaleAfter. Ended calls stay on the board for
// Options.KeepEnded (about a minute), so a glance at the view still shows
// how a call just ended, then go.
//
// Times that drive the board (how long a call rings or talks, when an
// ended call goes) are the board's own clock at the moment an event
// arrived, never the PBX's timestamps: a PBX whose clock is off does not
// make calls vanish early or show negative durations.
//
// NATS is reached through Subscriber, which main implements on a
// *nats.Conn: this package imports no network client.
package livecalls

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/ringside/ringside/pkg/events"
)

// State is where a call on the board stands.
type State string

// States of a call on the board.
const (
	// Ringing: started, nobody answered yet.
	Ringing State = "ringing"
	// Answered: someone is talking (answered, or transferred after).
	Answered State = "answered"
	// Ended: the call is over; it leaves the board after KeepEnded.
	Ended State = "ended"
)

// Call is one row of the board: a copy, safe to keep and read.
type Call struct {
	CallID    string
	Tenant    string
	State     State
	Direction events.Direction
	// External is the customer's number, ExternalName its name when known.
	External     string
	ExternalName string
	// Dialed is the number dialled (the DID of an inbound call).
	Dialed string
	// Caller is the extension that placed an outbound or internal call.
	Caller string
	// RingingAt lists the extensions ringing now, first ring first.
	RingingAt []string
	// Agent is the extension talking (answered) or that talked (ended).
	Agent string
	// Disposition is how an ended call ended.
	Disposition events.Disposition
	// Since is when the board first saw the call; AnsweredSince when it
	// saw it answered (zero before); EndedSince when it saw it end.
	Since, AnsweredSince, EndedSince time.Time
	// Updated is when the board last heard of the call.
	Updated time.Time

	seq uint32
}

// Options configure a Board. Zero values take the defaults.
type Options struct {
	// MaxCalls bounds the calls kept per tenant (default 500). When a
	// tenant's board is full, its oldest ended call makes room; if none
	// has ended, the new call is not shown (Dropped counts it).
	MaxCalls int
	// MaxTenants bounds the tenants with a board (default 10,000); calls
	// of further tenants are not shown (Dropped counts them).
	MaxTenants int
	// KeepEnded is how long an ended call stays (default 1m).
	KeepEnded time.Duration
	// StaleAfter drops a call not heard of for this long (default 6h): its
	// end was missed.
	StaleAfter time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Board is the live calls of every tenant. It is safe for concurrent use;
// the zero value is not usable: create it with New.
type Board struct {
	o Options

	mu      sync.Mutex
	tenants map[string]map[string]*Call // tenant → call id → call
	dropped uint64
}

// New returns an empty board.
func New(o Options) *Board {
	if o.MaxCalls <= 0 {
		o.MaxCalls = 500
	}
	if o.MaxTenants <= 0 {
		o.MaxTenants = 10_000
	}
	if o.KeepEnded <= 0 {
		o.KeepEnded = time.Minute
	}
	if o.StaleAfter <= 0 {
		o.StaleAfter = 6 * time.Hour
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Board{o: o, tenants: map[string]map[string]*Call{}}
}

// Apply puts what an event says onto the board. Events of a call older than
// the last one applied (redeliveries, reordering) are ignored, as are
// events that are not about a call's progress (terminal_set) and late ones
// (a recording after the call left the board).
func (b *Board) Apply(e events.Call) {
	if e.CallID == "" || e.Tenant == "" || e.Type == events.TerminalSet {
		return
	}
	now := b.o.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	calls := b.tenants[e.Tenant]
	c := calls[e.CallID]
	if c == nil {
		if e.Type == events.Recording {
			return // the call is gone already; nothing live about it
		}
		if calls == nil {
			if len(b.tenants) >= b.o.MaxTenants {
				b.pruneAll(now)
			}
			if len(b.tenants) >= b.o.MaxTenants {
				b.dropped++
				return
			}
			calls = map[string]*Call{}
			b.tenants[e.Tenant] = calls
		}
		if !b.room(calls, now) {
			b.dropped++
			return
		}
		c = &Call{CallID: e.CallID, Tenant: e.Tenant, Since: now}
		calls[e.CallID] = c
	} else if e.Seq != 0 && e.Seq <= c.seq {
		return
	}
	c.seq = e.Seq
	c.Updated = now
	apply(c, e, now)
}

// apply updates c from e (the whole call as it stands) at now.
func apply(c *Call, e events.Call, now time.Time) {
	c.Direction = cmp.Or(e.Direction, c.Direction)
	c.External = cmp.Or(e.External, c.External)
	c.ExternalName = cmp.Or(e.ExternalName, c.ExternalName)
	c.Dialed = cmp.Or(e.Dialed, c.Dialed)
	c.Caller = cmp.Or(e.Caller, c.Caller)
	c.Agent = cmp.Or(e.AnsweredBy, c.Agent)
	switch e.Type {
	case events.Ringing:
		if e.Agent != "" && !slices.Contains(c.RingingAt, e.Agent) {
			c.RingingAt = append(c.RingingAt, e.Agent)
		}
	case events.RingStopped:
		c.RingingAt = slices.DeleteFunc(c.RingingAt, func(x string) bool { return x == e.Agent })
	case events.Ended:
		c.State, c.Disposition, c.RingingAt = Ended, e.Disposition, nil
		if c.EndedSince.IsZero() {
			c.EndedSince = now
		}
		return
	}
	if c.State == Ended {
		return // a recording event after the end
	}
	if e.AnsweredBy != "" || !e.AnsweredAt.IsZero() || e.Type == events.Answered {
		c.Agent = cmp.Or(e.AnsweredBy, e.Agent, c.Agent)
		c.State, c.RingingAt = Answered, nil
		if c.AnsweredSince.IsZero() {
			c.AnsweredSince = now
		}
		return
	}
	c.State = Ringing
}

// room makes room for one more call in calls if it can. Caller holds b.mu.
func (b *Board) room(calls map[string]*Call, now time.Time) bool {
	if len(calls) < b.o.MaxCalls {
		return true
	}
	b.prune(calls, now)
	if len(calls) < b.o.MaxCalls {
		return true
	}
	var oldest *Call
	for _, c := range calls {
		if c.State == Ended && (oldest == nil || c.EndedSince.Before(oldest.EndedSince)) {
			oldest = c
		}
	}
	if oldest == nil {
		return false
	}
	delete(calls, oldest.CallID)
	return true
}

// prune drops the ended calls older than KeepEnded and the stale ones.
// Caller holds b.mu.
func (b *Board) prune(calls map[string]*Call, now time.Time) {
	for id, c := range calls {
		if c.State == Ended && now.Sub(c.EndedSince) >= b.o.KeepEnded || now.Sub(c.Updated) >= b.o.StaleAfter {
			delete(calls, id)
		}
	}
}

// pruneAll prunes every tenant and forgets tenants left without calls.
// Caller holds b.mu.
func (b *Board) pruneAll(now time.Time) {
	for t, calls := range b.tenants {
		b.prune(calls, now)
		if len(calls) == 0 {
			delete(b.tenants, t)
		}
	}
}

// Calls returns the tenant's calls: ringing and answered ones first, in
// the order they started, then the ended ones, the latest first.
func (b *Board) Calls(tenant string) []Call {
	now := b.o.Now()
	b.mu.Lock()
	calls := b.tenants[tenant]
	b.prune(calls, now)
	if len(calls) == 0 {
		delete(b.tenants, tenant)
	}
	out := make([]Call, 0, len(calls))
	for _, c := range calls {
		cp := *c
		cp.RingingAt = slices.Clone(c.RingingAt)
		out = append(out, cp)
	}
	b.mu.Unlock()
	slices.SortFunc(out, func(x, y Call) int {
		if (x.State == Ended) != (y.State == Ended) {
			if x.State == Ended {
				return 1
			}
			return -1
		}
		if x.State == Ended {
			return cmp.Or(y.EndedSince.Compare(x.EndedSince), cmp.Compare(x.CallID, y.CallID))
		}
		return cmp.Or(x.Since.Compare(y.Since), cmp.Compare(x.CallID, y.CallID))
	})
	return out
}

// Dropped is how many new calls were not shown because a board was full.
func (b *Board) Dropped() uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.dropped
}

// Handle decodes one call event (its JSON as published) and applies it.
func (b *Board) Handle(data []byte) error {
	var e events.Call
	if err := json.Unmarshal(data, &e); err != nil {
		return fmt.Errorf("livecalls: decode call event: %w", err)
	}
	b.Apply(e)
	return nil
}

// Subscriber delivers the messages published on a subject, as a NATS core
// subscription does; handle is called from one goroutine at a time.
type Subscriber interface {
	Subscribe(subject string, handle func(data []byte)) (unsubscribe func() error, err error)
}

// Follow subscribes the board to every tenant's call events
// (events.CallSubjects) and returns the function that ends the
// subscription. Undecodable messages are skipped.
func (b *Board) Follow(s Subscriber) (stop func() error, err error) {
	stop, err = s.Subscribe(events.CallSubjects, func(data []byte) { _ = b.Handle(data) })
	if err != nil {
		return nil, fmt.Errorf("livecalls: subscribe %s: %w", events.CallSubjects, err)
	}
	return stop, nil
}
