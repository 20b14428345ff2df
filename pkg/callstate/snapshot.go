package callstate

import (
	"errors"
	"fmt"
	"time"

	"github.com/ringside/ringside/pkg/events"
)

// Snapshot is one call in progress, as Snapshot saves it at shutdown and
// Restore loads it back. Its JSON form is what is persisted; fields are only
// ever added.
type Snapshot struct {
	// Call is the call as it stands: Seq is the last event's (0 if none yet)
	// and CallID is set once the call emitted an event. ID, Type, Agent,
	// Reason and Terminal are empty.
	Call events.Call `json:"call"`

	Started      bool   `json:"started,omitempty"`
	Silent       bool   `json:"silent,omitempty"` // dialled a feature code; never starts
	Answered     bool   `json:"answered,omitempty"`
	TerminalSet  bool   `json:"terminal_set,omitempty"`
	OutboundRang bool   `json:"outbound_rang,omitempty"`
	GaveUp       bool   `json:"gave_up,omitempty"`
	TenantVar    string `json:"tenant_var,omitempty"`

	BlindPending bool      `json:"blind_pending,omitempty"`
	BlindLeg     string    `json:"blind_leg,omitempty"`
	BlindFrom    string    `json:"blind_from,omitempty"`
	BlindTarget  string    `json:"blind_target,omitempty"`
	LastHangup   time.Time `json:"last_hangup,omitzero"`

	Legs []LegSnapshot `json:"legs"` // Legs[0] is the origin
}

// LegSnapshot is one leg of a call in a Snapshot.
type LegSnapshot struct {
	ID         string    `json:"id"`
	Party      Party     `json:"party"`
	Number     string    `json:"number,omitempty"`
	Name       string    `json:"name,omitempty"`
	Dialed     string    `json:"dialed,omitempty"`
	Tenant     string    `json:"tenant,omitempty"`
	CreatedAt  time.Time `json:"created_at,omitzero"`
	Originated bool      `json:"originated,omitempty"`
	Ringing    bool      `json:"ringing,omitempty"`
	Rang       bool      `json:"rang,omitempty"`
	Stopped    bool      `json:"stopped,omitempty"`
	Answered   bool      `json:"answered,omitempty"`
	Ended      bool      `json:"ended,omitempty"`
	Outcome    Cause     `json:"outcome,omitempty"`
	Cause      Cause     `json:"cause,omitempty"`
}

// Snapshot returns every call in progress, for persisting at shutdown.
// Remembered ended legs are not included.
func (m *Machine) Snapshot() []Snapshot {
	snaps := make([]Snapshot, 0, len(m.calls))
	for _, c := range m.calls {
		s := Snapshot{
			Call:    c.ev,
			Started: c.started, Silent: c.silent, Answered: c.answered, TerminalSet: c.terminal,
			OutboundRang: c.outRang, GaveUp: c.gaveUp, TenantVar: c.tenantVar,
			BlindPending: c.blind, BlindLeg: c.blindLeg, BlindFrom: c.blindFrom, BlindTarget: c.blindTarget,
			LastHangup: c.lastEnd,
			Legs:       make([]LegSnapshot, len(c.legs)),
		}
		s.Call.CallID = c.id
		s.Call.Seq = c.seq
		s.Call.Agents = append([]string(nil), c.ev.Agents...)
		s.Call.Transfers = append([]events.Transfer(nil), c.ev.Transfers...)
		for i, l := range c.legs {
			s.Legs[i] = LegSnapshot{
				ID: l.id, Party: l.party, Number: l.number, Name: l.name, Dialed: l.dialed,
				Tenant: l.tenant, CreatedAt: l.at, Originated: l.originated, Ringing: l.ringing,
				Rang: l.rang, Stopped: l.stopped, Answered: l.answered, Ended: l.ended,
				Outcome: l.outcome, Cause: l.cause,
			}
		}
		snaps = append(snaps, s)
	}
	return snaps
}

// Errors of Restore.
var (
	errNotEmpty = errors.New("machine already has calls")
	errNoLegs   = errors.New("no legs")
	errNoLive   = errors.New("every leg has ended")
	errNoCallID = errors.New("events emitted but no call id")
)

// Restore loads calls saved by Snapshot into a machine that has applied no
// signal yet. Call ids and sequence numbers continue where they stopped. It
// loads nothing if any snapshot is inconsistent.
func (m *Machine) Restore(snaps []Snapshot) error {
	if len(m.legs) > 0 || len(m.calls) > 0 {
		return fmt.Errorf("callstate: restore: %w", errNotEmpty)
	}
	seen := make(map[string]bool)
	for i, s := range snaps {
		if err := checkSnapshot(s, seen); err != nil {
			return fmt.Errorf("callstate: restore call %d (%q): %w", i, s.Call.CallID, err)
		}
	}
	for _, s := range snaps {
		c := &call{
			id: s.Call.CallID, seq: s.Call.Seq, ev: s.Call,
			started: s.Started, silent: s.Silent, answered: s.Answered, terminal: s.TerminalSet,
			outRang: s.OutboundRang, gaveUp: s.GaveUp, tenantVar: s.TenantVar,
			blind: s.BlindPending, blindLeg: s.BlindLeg, blindFrom: s.BlindFrom, blindTarget: s.BlindTarget,
			lastEnd: s.LastHangup,
			legs:    make([]*leg, 0, len(s.Legs)+2),
		}
		if c.seq == 0 {
			c.id = ""
		}
		c.ev.V, c.ev.ID, c.ev.Type, c.ev.CallID, c.ev.Seq = 0, "", "", "", 0
		c.ev.At, c.ev.Agent, c.ev.Reason, c.ev.Terminal = time.Time{}, "", "", nil
		c.ev.Agents = s.Call.Agents[:len(s.Call.Agents):len(s.Call.Agents)]
		c.ev.Transfers = s.Call.Transfers[:len(s.Call.Transfers):len(s.Call.Transfers)]
		for _, ls := range s.Legs {
			l := &leg{
				id: ls.ID, call: c, party: ls.Party, number: ls.Number, name: ls.Name,
				dialed: ls.Dialed, tenant: ls.Tenant, at: ls.CreatedAt, originated: ls.Originated,
				ringing: ls.Ringing, rang: ls.Rang, stopped: ls.Stopped, answered: ls.Answered,
				ended: ls.Ended, outcome: ls.Outcome, cause: ls.Cause,
			}
			if !l.ended {
				c.live++
			}
			c.legs = append(c.legs, l)
			m.legs[l.id] = l
		}
		c.idx = len(m.calls)
		m.calls = append(m.calls, c)
	}
	return nil
}

func checkSnapshot(s Snapshot, seen map[string]bool) error {
	if len(s.Legs) == 0 {
		return errNoLegs
	}
	if s.Call.Seq > 0 && s.Call.CallID == "" {
		return errNoCallID
	}
	live := 0
	for _, l := range s.Legs {
		switch {
		case l.ID == "":
			return errors.New("a leg has no id")
		case seen[l.ID]:
			return fmt.Errorf("leg %q appears twice", l.ID)
		case l.Party > PartyExternal:
			return fmt.Errorf("leg %q: party %d", l.ID, l.Party)
		case l.Outcome >= causeCount || l.Cause >= causeCount:
			return fmt.Errorf("leg %q: cause out of range", l.ID)
		}
		seen[l.ID] = true
		if !l.Ended {
			live++
		}
	}
	if live == 0 {
		return errNoLive
	}
	return nil
}
