package callstate

import (
	"strings"
	"time"

	"github.com/ringside/ringside/pkg/events"
)

// Options configure a Machine.
type Options struct {
	IDPrefix      string // call_id = IDPrefix + origin leg id (main passes node_id+"-")
	Node          string // copied into events.Call.Node
	DefaultTenant string // used when no signal names a tenant ("default" if empty)
	// Remember is how many ended legs are remembered to absorb late signals
	// and attach late recordings (default 8192); the oldest is forgotten
	// first.
	Remember int
}

// DefaultRemember is the number of ended legs remembered when
// Options.Remember is not set.
const DefaultRemember = 8192

// idBlock is how many message ids of a call are built in one allocation.
const idBlock = 9

// Machine is the call state machine. The zero value is not usable; see New.
type Machine struct {
	o     Options
	legs  map[string]*leg // live legs and remembered ended legs
	calls []*call         // calls in progress (started or not)
	stats Stats

	// gone remembers ended legs, oldest first, as a ring of len ≤ o.Remember.
	gone     []*leg
	goneHead int

	freeLegs  []*leg
	freeCalls []*call
}

// New returns an empty Machine.
func New(o Options) *Machine {
	if o.DefaultTenant == "" || !events.ValidToken(o.DefaultTenant) {
		o.DefaultTenant = "default"
	}
	if o.Remember <= 0 {
		o.Remember = DefaultRemember
	}
	return &Machine{o: o, legs: make(map[string]*leg, 1024)}
}

// leg is one PBX channel.
type leg struct {
	id         string
	call       *call
	party      Party
	number     string
	name       string
	dialed     string
	tenant     string
	at         time.Time // created
	originated bool
	ringing    bool  // ringing or early media seen
	rang       bool  // a ringing event was emitted for this leg
	stopped    bool  // a ring_stopped was emitted for this leg
	answered   bool  // the leg answered
	ended      bool  // the leg hung up
	outcome    Cause // how its offer ended without an answer; CauseUnknown while open
	cause      Cause // its hangup cause
}

// call is one call, in progress or ended (then kept while legs of it are
// remembered).
type call struct {
	id   string // the call id; empty until the first event (or restored)
	ids  string // id+":1"…id+":9" packed, built with the first event
	seq  uint32
	ev   events.Call // the call as it stands; per-event fields stay empty
	legs []*leg      // legs[0] is the origin; emptied when the call ends
	live int         // legs not ended
	idx  int         // index in Machine.calls while in progress
	refs int         // remembered legs pointing here once ended

	started  bool
	silent   bool // dialled a feature code before starting: never starts
	ended    bool
	answered bool
	terminal bool // terminal_set emitted
	outRang  bool // outbound: the ringing event was emitted
	gaveUp   bool // the origin hung up while a callee leg was still offered

	tenantVar   string
	blind       bool   // a blind transfer is pending
	blindLeg    string // the transferer's leg id
	blindFrom   string // the transferer's extension
	blindTarget string
	lastEnd     time.Time // latest hangup
}

func (c *call) origin() *leg { return c.legs[0] }

// Apply feeds one signal and appends the call events it causes to out,
// returning out. It allocates nothing when out has room, except when a call
// emits its first event (its id), an agent is added to Agents or a transfer
// to Transfers, and for the bookkeeping of new legs.
func (m *Machine) Apply(s Signal, out []events.Call) []events.Call {
	m.stats.Signals++
	n := len(out)
	out = m.apply(s, out)
	m.stats.Events += uint64(len(out) - n)
	return out
}

func (m *Machine) apply(s Signal, out []events.Call) []events.Call {
	if s.Leg == "" || s.Kind == KindUnknown || s.Kind >= kindCount {
		return m.skip(IgnoredInvalid, out)
	}
	switch s.Kind {
	case LegCreated:
		return m.legCreated(s, out)
	case DialBegin:
		return m.dialBegin(s, out)
	case FeatureCode:
		return m.featureCode(s, out)
	}
	l := m.legs[s.Leg]
	if l == nil {
		return m.skip(IgnoredUnknownLeg, out)
	}
	c := l.call
	if c.ended {
		if s.Kind == RecordingFinished {
			return m.lateRecording(c, s, out)
		}
		return m.skip(IgnoredLate, out)
	}
	switch s.Kind {
	case Ringing, EarlyMedia:
		return m.ringing(c, l, s, out)
	case Answered:
		if l.answered || l.ended {
			return m.skip(IgnoredDuplicate, out)
		}
		l.answered = true
		return m.answer(c, l, s.At, out)
	case Bridged:
		return m.bridged(c, l, s, out)
	case Unbridged:
		return out
	case DialEnd:
		return m.dialEnd(c, l, s, out)
	case Hangup:
		return m.hangup(c, l, s, out)
	case TransferBlind:
		return m.transferBlind(c, l, s, out)
	case TransferAttended:
		return m.transferAttended(c, l, s, out)
	case RecordingStarted:
		if c.ev.RecordingPending {
			return m.skip(IgnoredDuplicate, out)
		}
		c.ev.RecordingPending = true
		return out
	case RecordingFinished:
		if s.Path == "" {
			return m.skip(IgnoredInvalid, out)
		}
		if s.Path == c.ev.Recording {
			return m.skip(IgnoredDuplicate, out)
		}
		c.ev.Recording = s.Path
		c.ev.RecordingPending = false
		return out
	case SetVar:
		return m.setVar(c, s, out)
	}
	return m.skip(IgnoredInvalid, out)
}

func (m *Machine) skip(r IgnoreReason, out []events.Call) []events.Call {
	m.stats.Ignored[r]++
	return out
}

// Active returns the number of calls in progress: calls with a leg that has
// not hung up, whether they started yet or not.
func (m *Machine) Active() int { return len(m.calls) }

// Stats returns the machine's counters.
func (m *Machine) Stats() Stats { return m.stats }

// LiveLegs returns the ids of the legs of calls in progress that have not
// hung up, for reconciliation after a PBX reconnect: a leg the PBX no longer
// has should get a Hangup with CauseLost.
func (m *Machine) LiveLegs() []string {
	var ids []string
	for _, c := range m.calls {
		for _, l := range c.legs {
			if !l.ended {
				ids = append(ids, l.id)
			}
		}
	}
	return ids
}

// legCreated opens a call or adds a leg to one.
func (m *Machine) legCreated(s Signal, out []events.Call) []events.Call {
	if m.legs[s.Leg] != nil {
		return m.skip(IgnoredDuplicate, out)
	}
	var peer *leg
	if s.Peer != "" && s.Peer != s.Leg {
		peer = m.legs[s.Peer]
	}
	if peer == nil {
		return m.newCall(s, out)
	}
	c := peer.call
	l := m.newLeg(s, c)
	if c.ended {
		l.ended = true
		m.remember(l)
		return m.skip(IgnoredLate, out)
	}
	c.legs = append(c.legs, l)
	c.live++
	if c.started || c.silent {
		return out
	}
	// The first party to join an extension's call decides its direction.
	o := c.origin()
	switch l.party {
	case PartyExternal:
		c.ev.External = l.number
		c.ev.Caller = o.number
		c.ev.Dialed = o.dialed
		if o.number != "" {
			c.ev.Agents = append(make([]string, 0, 4), o.number)
		}
		return m.start(c, events.Outbound, events.OriginPBX, s.At, out)
	case PartyExtension:
		c.ev.Caller = o.number
		c.ev.Dialed = l.number
		return m.start(c, events.Internal, events.OriginPBX, s.At, out)
	}
	return out
}

// dialBegin adds an unknown callee to its caller's call.
func (m *Machine) dialBegin(s Signal, out []events.Call) []events.Call {
	if l := m.legs[s.Leg]; l != nil {
		if l.call.ended {
			return m.skip(IgnoredLate, out)
		}
		return out
	}
	s.Kind = LegCreated
	s.Originated = false
	return m.legCreated(s, out)
}

// newCall opens a call with s's leg as its origin.
func (m *Machine) newCall(s Signal, out []events.Call) []events.Call {
	c := m.newCallStruct()
	l := m.newLeg(s, c)
	c.legs = append(c.legs, l)
	c.live = 1
	c.idx = len(m.calls)
	m.calls = append(m.calls, c)
	switch {
	case s.Originated:
		c.ev.External = s.Dialed
		c.ev.Dialed = s.Dialed
		c.ev.Caller = s.Number
		if s.Number != "" {
			c.ev.Agents = append(make([]string, 0, 4), s.Number)
		}
		return m.start(c, events.Outbound, events.OriginClickToCall, s.At, out)
	case s.Party == PartyExternal:
		c.ev.External = s.Number
		c.ev.ExternalName = s.Name
		c.ev.Dialed = s.Dialed
		return m.start(c, events.Inbound, events.OriginPBX, s.At, out)
	}
	return out
}

func (m *Machine) newCallStruct() *call {
	if n := len(m.freeCalls); n > 0 {
		c := m.freeCalls[n-1]
		m.freeCalls = m.freeCalls[:n-1]
		return c
	}
	return &call{legs: make([]*leg, 0, 4)}
}

func (m *Machine) newLeg(s Signal, c *call) *leg {
	var l *leg
	if n := len(m.freeLegs); n > 0 {
		l = m.freeLegs[n-1]
		m.freeLegs = m.freeLegs[:n-1]
	} else {
		l = new(leg)
	}
	*l = leg{
		id: s.Leg, call: c, party: s.Party, number: s.Number, name: s.Name,
		dialed: s.Dialed, tenant: s.Tenant, at: s.At, originated: s.Originated,
	}
	m.legs[s.Leg] = l
	return l
}

// start emits started.
func (m *Machine) start(c *call, d events.Direction, o events.Origin, at time.Time, out []events.Call) []events.Call {
	c.started = true
	c.ev.Direction = d
	c.ev.Origin = o
	c.ev.StartedAt = c.origin().at
	return m.emit(out, c, events.Started, at, "", "")
}

// tenant resolves the tenant of c.
func (m *Machine) tenant(c *call) string {
	if t := events.TenantToken(c.origin().tenant); t != "" {
		return t
	}
	if c.tenantVar != "" {
		return c.tenantVar
	}
	return m.o.DefaultTenant
}

// emit appends an event of c: the call as it stands plus the per-event
// fields.
func (m *Machine) emit(out []events.Call, c *call, t events.Type, at time.Time, agent, reason string) []events.Call {
	if c.seq == 0 && c.ev.Tenant == "" {
		c.ev.Tenant = m.tenant(c)
		c.ev.Node = m.o.Node
	}
	if c.ids == "" {
		m.buildIDs(c)
	}
	c.seq++
	out = append(out, c.ev)
	e := &out[len(out)-1]
	e.V = events.Version
	e.CallID = c.id
	e.Seq = c.seq
	if c.seq <= idBlock {
		n := len(c.id) + 2
		e.ID = c.ids[int(c.seq-1)*n : int(c.seq)*n]
	} else {
		e.ID = events.MsgID(c.id, c.seq)
	}
	e.Type = t
	e.At = at
	e.Agent = agent
	e.Reason = reason
	e.Agents = e.Agents[:len(e.Agents):len(e.Agents)]
	e.Transfers = e.Transfers[:len(e.Transfers):len(e.Transfers)]
	return out
}

// buildIDs builds the call id and the message ids of its first idBlock
// events in one string, so that most calls allocate once for all their ids.
func (m *Machine) buildIDs(c *call) {
	var b strings.Builder
	if c.id != "" {
		b.Grow(idBlock * (len(c.id) + 2))
		for i := 1; i <= idBlock; i++ {
			b.WriteString(c.id)
			b.WriteByte(':')
			b.WriteByte(byte('0' + i))
		}
	} else {
		o := c.origin().id
		b.Grow(idBlock * (len(m.o.IDPrefix) + len(o) + 2))
		for i := 1; i <= idBlock; i++ {
			b.WriteString(m.o.IDPrefix)
			b.WriteString(o)
			b.WriteByte(':')
			b.WriteByte(byte('0' + i))
		}
	}
	c.ids = b.String()
	c.id = c.ids[:len(c.ids)/idBlock-2]
}

// isAgent reports whether l is an agent leg of c: an extension other than
// the origin.
func isAgent(c *call, l *leg) bool {
	return l.party == PartyExtension && l != c.origin()
}

// isCallee reports whether l is on the called side of c: the agent legs of
// inbound and internal calls, the external legs of outbound calls.
func isCallee(c *call, l *leg) bool {
	if c.ev.Direction == events.Outbound {
		return l.party == PartyExternal && l != c.origin()
	}
	return isAgent(c, l)
}

func (c *call) addAgent(ext string) {
	for _, a := range c.ev.Agents {
		if a == ext {
			return
		}
	}
	if c.ev.Agents == nil {
		c.ev.Agents = make([]string, 0, 4)
	}
	c.ev.Agents = append(c.ev.Agents, ext)
}

func (m *Machine) ringing(c *call, l *leg, s Signal, out []events.Call) []events.Call {
	if l.ended || l.answered || l.ringing || l.outcome != CauseUnknown {
		return m.skip(IgnoredDuplicate, out)
	}
	l.ringing = true
	if !c.started || c.silent {
		return out
	}
	switch {
	case isAgent(c, l):
		l.rang = true
		c.addAgent(l.number)
		return m.emit(out, c, events.Ringing, s.At, l.number, "")
	case c.ev.Direction == events.Outbound && isCallee(c, l) && !c.outRang && !c.answered:
		c.outRang = true
		return m.emit(out, c, events.Ringing, s.At, c.ev.Caller, "")
	}
	return out
}

// answer handles l answering (Answered, DialEnd normal, or a bridge that
// shows it); l.answered is already set.
func (m *Machine) answer(c *call, l *leg, at time.Time, out []events.Call) []events.Call {
	if !c.started || c.silent || l == c.origin() {
		return out
	}
	agent := isAgent(c, l)
	if agent && l.outcome != CauseUnknown {
		return out // closed already: another leg won the race
	}
	if !c.answered {
		if c.ev.Direction == events.Outbound {
			if !isCallee(c, l) {
				return out
			}
			c.answered = true
			c.ev.AnsweredAt = at
			c.ev.AnsweredBy = c.ev.Caller
			return m.emit(out, c, events.Answered, at, c.ev.Caller, "")
		}
		if !agent {
			return out
		}
		c.answered = true
		c.blind = false
		c.ev.AnsweredAt = at
		c.ev.AnsweredBy = l.number
		c.addAgent(l.number)
		out = m.emit(out, c, events.Answered, at, l.number, "")
		return m.closeOthers(c, l, at, out)
	}
	if agent && c.blind && l.id != c.blindLeg {
		c.blind = false
		c.ev.AnsweredBy = l.number
		c.addAgent(l.number)
		c.ev.Transfers = append(c.ev.Transfers, events.Transfer{Kind: "blind", From: c.blindFrom, To: l.number, At: at})
		out = m.emit(out, c, events.Transferred, at, l.number, "blind")
		return m.closeOthers(c, l, at, out)
	}
	return out
}

// closeOthers closes every other agent leg still offered when winner
// answered: those that rang get ring_stopped answered_elsewhere.
func (m *Machine) closeOthers(c *call, winner *leg, at time.Time, out []events.Call) []events.Call {
	for _, l := range c.legs {
		if l == winner || !isAgent(c, l) || l.ended || l.answered || l.outcome != CauseUnknown {
			continue
		}
		l.outcome = CauseAnsweredElsewhere
		if l.rang && !l.stopped {
			l.stopped = true
			out = m.emit(out, c, events.RingStopped, at, l.number, CauseAnsweredElsewhere.String())
		}
	}
	return out
}

// closeLeg records how l's offer ended without an answer.
func (m *Machine) closeLeg(c *call, l *leg, cause Cause, at time.Time, out []events.Call) []events.Call {
	if l.answered || l.outcome != CauseUnknown {
		return out
	}
	l.outcome = cause
	if l.rang && !l.stopped && c.started && !c.silent {
		l.stopped = true
		out = m.emit(out, c, events.RingStopped, at, l.number, cause.String())
	}
	return out
}

func (m *Machine) bridged(c *call, l *leg, s Signal, out []events.Call) []events.Call {
	if s.Peer == "" || s.Peer == s.Leg {
		return m.skip(IgnoredInvalid, out)
	}
	p := m.legs[s.Peer]
	if p == nil {
		return m.skip(IgnoredUnknownLeg, out)
	}
	if p.call != c {
		return m.skip(IgnoredInvalid, out)
	}
	if !c.started || c.silent {
		return out
	}
	// A callee bridged with the other side has answered, seen or not.
	for i, x := range [2]*leg{l, p} {
		other := p
		if i == 1 {
			other = l
		}
		if x.ended || x.answered {
			continue
		}
		if (isAgent(c, x) && !isAgent(c, other)) || (c.ev.Direction == events.Outbound && isCallee(c, x)) {
			x.answered = true
			out = m.answer(c, x, s.At, out)
		}
	}
	return out
}

func (m *Machine) dialEnd(c *call, l *leg, s Signal, out []events.Call) []events.Call {
	if l.ended {
		return m.skip(IgnoredDuplicate, out)
	}
	if s.Cause == CauseNormal {
		if l.answered {
			return m.skip(IgnoredDuplicate, out)
		}
		l.answered = true
		return m.answer(c, l, s.At, out)
	}
	if l.answered || l.outcome != CauseUnknown {
		return m.skip(IgnoredDuplicate, out)
	}
	cause := s.Cause
	if cause == CauseUnknown || cause >= causeCount {
		cause = CauseFailed
	}
	return m.closeLeg(c, l, cause, s.At, out)
}

func (m *Machine) hangup(c *call, l *leg, s Signal, out []events.Call) []events.Call {
	if l.ended {
		return m.skip(IgnoredDuplicate, out)
	}
	cause := s.Cause
	if cause >= causeCount {
		cause = CauseUnknown
	}
	l.ended = true
	l.cause = cause
	c.live--
	if cause == CauseLost {
		c.ev.LinkLost = true
	}
	if s.At.After(c.lastEnd) || c.lastEnd.IsZero() {
		c.lastEnd = s.At
	}
	o := c.origin()
	if l == o {
		if c.started && !c.answered {
			for _, x := range c.legs {
				if isCallee(c, x) && !x.ended && !x.answered && x.outcome == CauseUnknown {
					c.gaveUp = true
				}
			}
		}
	} else if !l.answered && l.outcome == CauseUnknown {
		switch cause {
		case CauseNormal, CauseUnknown:
			cause = CauseNoAnswer
			if o.ended {
				cause = CauseCancelled
			}
		}
		out = m.closeLeg(c, l, cause, s.At, out)
	}
	if c.live == 0 {
		out = m.end(c, s.At, out)
	}
	return out
}

// end closes c: emits ended if it started and remembers its legs.
func (m *Machine) end(c *call, at time.Time, out []events.Call) []events.Call {
	c.ended = true
	last := len(m.calls) - 1
	m.calls[c.idx] = m.calls[last]
	m.calls[c.idx].idx = c.idx
	m.calls[last] = nil
	m.calls = m.calls[:last]
	if c.started && !c.silent {
		d, reason := disposition(c)
		c.ev.Disposition = d
		c.ev.EndedAt = c.lastEnd
		if c.answered {
			if talk := c.lastEnd.Sub(c.ev.AnsweredAt); talk > 0 {
				c.ev.TalkSeconds = int(talk / time.Second)
			}
		}
		c.ev.HangupCause = c.origin().cause.String()
		out = m.emit(out, c, events.Ended, at, "", reason)
	}
	for i, l := range c.legs {
		m.remember(l)
		c.legs[i] = nil
	}
	c.legs = c.legs[:0]
	return out
}

// disposition says how c ended.
func disposition(c *call) (events.Disposition, string) {
	if c.answered {
		return events.DispositionAnswered, ""
	}
	o := c.origin()
	if c.ev.Origin == events.OriginClickToCall && !o.answered {
		cause := o.outcome
		if cause == CauseUnknown {
			cause = o.cause
		}
		switch cause {
		case CauseBusy, CauseRejected:
			return events.DispositionBusy, "agent_leg"
		case CauseNoAnswer:
			return events.DispositionNoAnswer, "agent_leg"
		case CauseCancelled:
			return events.DispositionCancelled, "agent_leg"
		}
		return events.DispositionFailed, "agent_leg"
	}
	var n, busy, failed, noAnswer, cancelled, decided int
	for _, l := range c.legs {
		if !isCallee(c, l) {
			continue
		}
		n++
		if l.outcome != CauseUnknown {
			decided++
		}
		switch l.outcome {
		case CauseBusy, CauseRejected:
			busy++
		case CauseFailed, CauseUnreachable, CauseCongestion:
			failed++
		case CauseNoAnswer:
			noAnswer++
		case CauseCancelled:
			cancelled++
		}
	}
	if c.ev.Direction == events.Inbound {
		switch {
		case n == 0 || c.gaveUp || cancelled > 0:
			return events.DispositionAbandoned, ""
		case busy == n:
			return events.DispositionBusy, ""
		case failed == n:
			return events.DispositionFailed, ""
		}
		return events.DispositionMissed, ""
	}
	switch {
	case c.gaveUp || cancelled > 0 || decided == 0:
		return events.DispositionCancelled, ""
	case noAnswer > 0:
		return events.DispositionNoAnswer, ""
	case busy > 0:
		return events.DispositionBusy, ""
	}
	return events.DispositionFailed, ""
}

// remember keeps an ended leg to absorb late signals, forgetting the oldest
// when full.
func (m *Machine) remember(l *leg) {
	l.call.refs++
	if len(m.gone) < m.o.Remember {
		m.gone = append(m.gone, l)
		return
	}
	old := m.gone[m.goneHead]
	m.gone[m.goneHead] = l
	m.goneHead = (m.goneHead + 1) % len(m.gone)
	m.forget(old)
}

// forget drops a remembered leg, and its call with its last leg.
func (m *Machine) forget(l *leg) {
	if m.legs[l.id] == l {
		delete(m.legs, l.id)
	}
	c := l.call
	c.refs--
	if c.refs == 0 && c.ended {
		legs := c.legs[:0]
		*c = call{legs: legs}
		m.freeCalls = append(m.freeCalls, c)
	}
	*l = leg{}
	m.freeLegs = append(m.freeLegs, l)
}

func (m *Machine) transferBlind(c *call, l *leg, s Signal, out []events.Call) []events.Call {
	if s.Peer == "" || s.Peer == s.Leg {
		return m.skip(IgnoredInvalid, out)
	}
	t := m.legs[s.Peer]
	if t == nil {
		return m.skip(IgnoredUnknownLeg, out)
	}
	if t.call != c || !c.started || c.silent {
		return m.skip(IgnoredInvalid, out)
	}
	if c.blindLeg == l.id && c.blindTarget == s.Target {
		return m.skip(IgnoredDuplicate, out)
	}
	c.blind = true
	c.blindLeg = l.id
	c.blindFrom = l.number
	c.blindTarget = s.Target
	return out
}

func (m *Machine) transferAttended(c *call, l *leg, s Signal, out []events.Call) []events.Call {
	if s.Target == "" || s.Target == s.Leg {
		return m.skip(IgnoredInvalid, out)
	}
	q := m.legs[s.Target]
	if q == nil {
		return m.skip(IgnoredUnknownLeg, out)
	}
	qc := q.call
	switch {
	case qc == c:
		return m.skip(IgnoredDuplicate, out)
	case qc.ended:
		return m.skip(IgnoredLate, out)
	case q.ended || q == qc.origin() || !c.started || c.silent || q.party != PartyExtension:
		return m.skip(IgnoredInvalid, out)
	}
	// Move q from the consultation call into this one.
	for i, x := range qc.legs {
		if x == q {
			copy(qc.legs[i:], qc.legs[i+1:])
			qc.legs[len(qc.legs)-1] = nil
			qc.legs = qc.legs[:len(qc.legs)-1]
			break
		}
	}
	qc.live--
	q.call = c
	q.outcome = CauseUnknown
	q.answered = true
	q.stopped = true
	c.legs = append(c.legs, q)
	c.live++

	c.blind = false
	if !c.answered {
		c.answered = true
		c.ev.AnsweredAt = s.At
	}
	c.ev.AnsweredBy = q.number
	c.addAgent(q.number)
	c.ev.Transfers = append(c.ev.Transfers, events.Transfer{Kind: "attended", From: l.number, To: q.number, At: s.At})
	out = m.emit(out, c, events.Transferred, s.At, q.number, "attended")
	out = m.closeOthers(c, q, s.At, out)
	if qc.live == 0 {
		out = m.end(qc, s.At, out)
	}
	return out
}

// lateRecording attaches a recording to a call that already ended.
func (m *Machine) lateRecording(c *call, s Signal, out []events.Call) []events.Call {
	switch {
	case !c.started || c.silent:
		return m.skip(IgnoredLate, out)
	case s.Path == "":
		return m.skip(IgnoredInvalid, out)
	case s.Path == c.ev.Recording:
		return m.skip(IgnoredDuplicate, out)
	}
	c.ev.Recording = s.Path
	c.ev.RecordingPending = false
	return m.emit(out, c, events.Recording, s.At, "", "")
}

func (m *Machine) setVar(c *call, s Signal, out []events.Call) []events.Call {
	switch s.Var {
	case VarTenant:
		t := events.TenantToken(s.Value)
		switch {
		case t == "":
			return m.skip(IgnoredInvalid, out)
		case c.seq > 0 || c.started:
			return m.skip(IgnoredLate, out)
		case c.tenantVar == t:
			return m.skip(IgnoredDuplicate, out)
		}
		c.tenantVar = t
	case VarCallerName:
		if c.ev.ExternalName == s.Value {
			return m.skip(IgnoredDuplicate, out)
		}
		c.ev.ExternalName = s.Value
	default:
		return m.skip(IgnoredInvalid, out)
	}
	return out
}

// featureCode emits terminal_set; a call that had not started never will.
func (m *Machine) featureCode(s Signal, out []events.Call) []events.Call {
	l := m.legs[s.Leg]
	if l == nil {
		// A feature code on a leg never seen: a call of its own, over at once.
		c := m.newCallStruct()
		s.Party = PartyExtension
		l = m.newLeg(s, c)
		l.ended = true
		c.legs = append(c.legs, l)
		c.silent = true
		c.terminal = true
		out = m.emitTerminal(out, c, s)
		c.ended = true
		c.legs[0] = nil
		c.legs = c.legs[:0]
		m.remember(l)
		return out
	}
	c := l.call
	switch {
	case c.ended:
		return m.skip(IgnoredLate, out)
	case c.terminal:
		return m.skip(IgnoredDuplicate, out)
	}
	c.terminal = true
	if !c.started {
		c.silent = true
	}
	return m.emitTerminal(out, c, s)
}

func (m *Machine) emitTerminal(out []events.Call, c *call, s Signal) []events.Call {
	out = m.emit(out, c, events.TerminalSet, s.At, s.Number, "")
	out[len(out)-1].Terminal = &events.Terminal{Extension: s.Number, Code: s.Code, Device: s.Device, Mobile: s.Dialed}
	return out
}
