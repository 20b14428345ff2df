// Package conformance is the one suite both PBX adapters pass: each scenario
// is a call a user would make on a real PBX, and declares the call events a
// correct adapter (with the state machine behind it) must produce. The
// Asterisk harness plays the scenarios on the ARI simulator, the FreeSWITCH
// harness on the ESL simulator; the expectations are the same for both.
//
// Every scenario uses the same cast, so both simulators script the same call:
// the customer +4930123456 calls the DID +4930999000 (tenant "acme"), the
// extensions are 1001, 1002 and 1003, and outbound calls dial +4930123456.
package conformance

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/ringside/ringside/pkg/events"
)

// The cast every scenario uses.
const (
	Tenant   = "acme"
	Customer = "+4930123456"
	DID      = "+4930999000"
)

// Expect is one expected call event: its type, and for per-agent events the
// extension and the reason.
type Expect struct {
	Type   events.Type
	Agent  string
	Reason string
}

func (e Expect) String() string {
	return strings.TrimSpace(fmt.Sprintf("%s %s %s", e.Type, e.Agent, e.Reason))
}

// Ending is what a user sees of the call in its ended event.
type Ending struct {
	Direction   events.Direction
	Origin      events.Origin
	Disposition events.Disposition
	External    string
	Caller      string
	AnsweredBy  string
	Agents      []string
	Transfers   []string // "kind from->to"
	Recording   bool     // a recording path is known by the end (or a recording event follows)
	Talked      bool     // talk_seconds > 0
}

// Scenario is one call and what it must produce.
type Scenario struct {
	Name string
	// Want lists the events of the call in order. Events whose relative
	// order the PBX does not fix (ring_stopped of several losers, ringing of
	// parallel legs) are compared as a set within a run of the same type.
	Want   []Expect
	Ending Ending
	// Terminal is set for feature-code scenarios, which produce only a
	// terminal_set event (Want is then that single event).
	Terminal *events.Terminal
}

// Scenarios is the suite. A harness must be able to play every one; names
// are stable (simulators key their scripts by them).
var Scenarios = []Scenario{
	{
		Name: "inbound_answered",
		Want: []Expect{{Type: events.Started}, {Type: events.Ringing, Agent: "1001"}, {Type: events.Answered, Agent: "1001"}, {Type: events.Ended}},
		Ending: Ending{Direction: events.Inbound, Origin: events.OriginPBX, Disposition: events.DispositionAnswered,
			External: Customer, AnsweredBy: "1001", Agents: []string{"1001"}, Talked: true},
	},
	{
		Name: "ring_group_one_answers", // 1001, 1002, 1003 ring at once; 1002 answers
		Want: []Expect{{Type: events.Started},
			{Type: events.Ringing, Agent: "1001"}, {Type: events.Ringing, Agent: "1002"}, {Type: events.Ringing, Agent: "1003"},
			{Type: events.Answered, Agent: "1002"},
			{Type: events.RingStopped, Agent: "1001", Reason: "answered_elsewhere"}, {Type: events.RingStopped, Agent: "1003", Reason: "answered_elsewhere"},
			{Type: events.Ended}},
		Ending: Ending{Direction: events.Inbound, Origin: events.OriginPBX, Disposition: events.DispositionAnswered,
			External: Customer, AnsweredBy: "1002", Agents: []string{"1001", "1002", "1003"}, Talked: true},
	},
	{
		Name: "hunt_second_answers", // 1001 rings out (no answer), then 1002 rings and answers
		Want: []Expect{{Type: events.Started}, {Type: events.Ringing, Agent: "1001"}, {Type: events.RingStopped, Agent: "1001", Reason: "no_answer"},
			{Type: events.Ringing, Agent: "1002"}, {Type: events.Answered, Agent: "1002"}, {Type: events.Ended}},
		Ending: Ending{Direction: events.Inbound, Origin: events.OriginPBX, Disposition: events.DispositionAnswered,
			External: Customer, AnsweredBy: "1002", Agents: []string{"1001", "1002"}, Talked: true},
	},
	{
		Name: "inbound_missed", // 1001 and 1002 ring until the dial times out; the caller then hangs up
		Want: []Expect{{Type: events.Started}, {Type: events.Ringing, Agent: "1001"}, {Type: events.Ringing, Agent: "1002"},
			{Type: events.RingStopped, Agent: "1001", Reason: "no_answer"}, {Type: events.RingStopped, Agent: "1002", Reason: "no_answer"},
			{Type: events.Ended}},
		Ending: Ending{Direction: events.Inbound, Origin: events.OriginPBX, Disposition: events.DispositionMissed,
			External: Customer, Agents: []string{"1001", "1002"}},
	},
	{
		Name: "inbound_abandoned", // the caller hangs up while 1001 and 1002 ring
		Want: []Expect{{Type: events.Started}, {Type: events.Ringing, Agent: "1001"}, {Type: events.Ringing, Agent: "1002"},
			{Type: events.RingStopped, Agent: "1001", Reason: "cancelled"}, {Type: events.RingStopped, Agent: "1002", Reason: "cancelled"},
			{Type: events.Ended}},
		Ending: Ending{Direction: events.Inbound, Origin: events.OriginPBX, Disposition: events.DispositionAbandoned,
			External: Customer, Agents: []string{"1001", "1002"}},
	},
	{
		Name: "inbound_busy", // 1001 answers busy (486) without ringing
		Want: []Expect{{Type: events.Started}, {Type: events.Ended}},
		Ending: Ending{Direction: events.Inbound, Origin: events.OriginPBX, Disposition: events.DispositionBusy,
			External: Customer},
	},
	{
		Name: "outbound_answered", // 1001 dials the customer, who answers
		Want: []Expect{{Type: events.Started}, {Type: events.Ringing, Agent: "1001"}, {Type: events.Answered, Agent: "1001"}, {Type: events.Ended}},
		Ending: Ending{Direction: events.Outbound, Origin: events.OriginPBX, Disposition: events.DispositionAnswered,
			External: Customer, Caller: "1001", AnsweredBy: "1001", Agents: []string{"1001"}, Talked: true},
	},
	{
		Name: "outbound_no_answer",
		Want: []Expect{{Type: events.Started}, {Type: events.Ringing, Agent: "1001"}, {Type: events.Ended}},
		Ending: Ending{Direction: events.Outbound, Origin: events.OriginPBX, Disposition: events.DispositionNoAnswer,
			External: Customer, Caller: "1001", Agents: []string{"1001"}},
	},
	{
		Name: "outbound_busy",
		Want: []Expect{{Type: events.Started}, {Type: events.Ended}},
		Ending: Ending{Direction: events.Outbound, Origin: events.OriginPBX, Disposition: events.DispositionBusy,
			External: Customer, Caller: "1001", Agents: []string{"1001"}},
	},
	{
		Name: "internal_answered", // 1001 calls 1002
		Want: []Expect{{Type: events.Started}, {Type: events.Ringing, Agent: "1002"}, {Type: events.Answered, Agent: "1002"}, {Type: events.Ended}},
		Ending: Ending{Direction: events.Internal, Origin: events.OriginPBX, Disposition: events.DispositionAnswered,
			Caller: "1001", AnsweredBy: "1002", Agents: []string{"1002"}, Talked: true},
	},
	{
		Name: "blind_transfer", // customer → 1001 answers → 1001 blind-transfers to 1003, who answers
		Want: []Expect{{Type: events.Started}, {Type: events.Ringing, Agent: "1001"}, {Type: events.Answered, Agent: "1001"},
			{Type: events.Ringing, Agent: "1003"}, {Type: events.Transferred, Agent: "1003", Reason: "blind"}, {Type: events.Ended}},
		Ending: Ending{Direction: events.Inbound, Origin: events.OriginPBX, Disposition: events.DispositionAnswered,
			External: Customer, AnsweredBy: "1003", Agents: []string{"1001", "1003"}, Transfers: []string{"blind 1001->1003"}, Talked: true},
	},
	{
		Name: "click_to_call", // Ringside originates leg A to 1001 (answers), then leg B to the customer (answers)
		Want: []Expect{{Type: events.Started}, {Type: events.Ringing, Agent: "1001"}, {Type: events.Answered, Agent: "1001"}, {Type: events.Ended}},
		Ending: Ending{Direction: events.Outbound, Origin: events.OriginClickToCall, Disposition: events.DispositionAnswered,
			External: Customer, Caller: "1001", AnsweredBy: "1001", Agents: []string{"1001"}, Talked: true},
	},
	{
		Name: "inbound_recorded", // as inbound_answered, recorded (MixMonitor / record_session)
		Want: []Expect{{Type: events.Started}, {Type: events.Ringing, Agent: "1001"}, {Type: events.Answered, Agent: "1001"}, {Type: events.Ended}},
		Ending: Ending{Direction: events.Inbound, Origin: events.OriginPBX, Disposition: events.DispositionAnswered,
			External: Customer, AnsweredBy: "1001", Agents: []string{"1001"}, Talked: true, Recording: true},
	},
	{
		Name:     "feature_code_desk", // 1001 dials *037
		Want:     []Expect{{Type: events.TerminalSet, Agent: "1001"}},
		Terminal: &events.Terminal{Extension: "1001", Code: "*037"},
	},
}

// Harness plays a scenario on one PBX's simulator, with the adapter under
// test connected to a state machine, and returns the call events produced,
// in order (a trailing recording event included).
type Harness interface {
	Play(t *testing.T, scenario string) []events.Call
}

// Run plays every scenario on h and checks what a user would notice.
func Run(t *testing.T, h Harness) {
	for _, sc := range Scenarios {
		t.Run(sc.Name, func(t *testing.T) {
			if err := Verify(sc, h.Play(t, sc.Name)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// Verify compares the events of one played scenario with its expectations
// and says what a user would see wrong.
func Verify(sc Scenario, got []events.Call) error {
	calls := map[string]bool{}
	var main []events.Call
	for _, e := range got {
		calls[e.CallID] = true
		if e.Type != events.Recording {
			main = append(main, e)
		}
	}
	if len(calls) != 1 {
		return fmt.Errorf("events of %d calls, want exactly one: %v", len(calls), render(got))
	}
	if !sameRuns(sc.Want, main) {
		return fmt.Errorf("events\n got: %v\nwant: %v", render(main), sc.Want)
	}
	for i, e := range got {
		if e.Seq != uint32(i+1) || e.Tenant != Tenant {
			return fmt.Errorf("event %d: seq %d tenant %q, want seq %d tenant %q", i, e.Seq, e.Tenant, i+1, Tenant)
		}
	}
	if sc.Terminal != nil {
		term := main[0].Terminal
		if term == nil || term.Extension != sc.Terminal.Extension || term.Code != sc.Terminal.Code || term.Device == "" {
			return fmt.Errorf("terminal = %+v, want extension %s code %s and a device", term, sc.Terminal.Extension, sc.Terminal.Code)
		}
		return nil
	}
	end := main[len(main)-1]
	w := sc.Ending
	var transfers []string
	for _, tr := range end.Transfers {
		transfers = append(transfers, fmt.Sprintf("%s %s->%s", tr.Kind, tr.From, tr.To))
	}
	recorded := end.Recording != "" || (end.RecordingPending && got[len(got)-1].Type == events.Recording && got[len(got)-1].Recording != "")
	switch {
	case end.Direction != w.Direction, end.Origin != w.Origin, end.Disposition != w.Disposition:
		return fmt.Errorf("ended %s/%s/%s, want %s/%s/%s", end.Direction, end.Origin, end.Disposition, w.Direction, w.Origin, w.Disposition)
	case end.External != w.External, end.Caller != w.Caller, end.AnsweredBy != w.AnsweredBy:
		return fmt.Errorf("ended external %q caller %q answered_by %q, want %q %q %q", end.External, end.Caller, end.AnsweredBy, w.External, w.Caller, w.AnsweredBy)
	case !slices.Equal(end.Agents, w.Agents), !slices.Equal(transfers, w.Transfers):
		return fmt.Errorf("ended agents %v transfers %v, want %v %v", end.Agents, transfers, w.Agents, w.Transfers)
	case (end.TalkSeconds > 0) != w.Talked:
		return fmt.Errorf("talk_seconds = %d, want talked=%v", end.TalkSeconds, w.Talked)
	case recorded != w.Recording:
		return fmt.Errorf("recording %q (pending %v), want recorded=%v", end.Recording, end.RecordingPending, w.Recording)
	case end.StartedAt.IsZero(), end.EndedAt.Before(end.StartedAt), w.Talked && end.AnsweredAt.IsZero():
		return fmt.Errorf("times started %v answered %v ended %v", end.StartedAt, end.AnsweredAt, end.EndedAt)
	case end.LinkLost:
		return errors.New("ended marked link_lost in a scenario without a link loss")
	}
	return nil
}

// sameRuns compares got with want, treating consecutive events of the same
// type as a set (parallel legs ring and stop in an order no PBX guarantees).
func sameRuns(want []Expect, got []events.Call) bool {
	if len(want) != len(got) {
		return false
	}
	for i := 0; i < len(want); {
		j := i
		for j < len(want) && want[j].Type == want[i].Type {
			j++
		}
		var w, g []string
		for k := i; k < j; k++ {
			w = append(w, want[k].String())
			g = append(g, Expect{Type: got[k].Type, Agent: got[k].Agent, Reason: got[k].Reason}.String())
		}
		slices.Sort(w)
		slices.Sort(g)
		if !slices.Equal(w, g) {
			return false
		}
		i = j
	}
	return true
}

func render(evs []events.Call) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = Expect{Type: e.Type, Agent: e.Agent, Reason: e.Reason}.String()
	}
	return out
}
