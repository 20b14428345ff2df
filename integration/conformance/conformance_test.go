package conformance

import (
	"testing"
	"time"

	"github.com/ringside/ringside/pkg/callgen"
	"github.com/ringside/ringside/pkg/callstate"
	"github.com/ringside/ringside/pkg/events"
)

// reference plays the scenarios from PBX-neutral scripts straight into the
// state machine: what a perfect adapter would feed it. It checks the suite's
// own expectations before any PBX adapter is held to them.
type reference struct{ flavor callgen.Flavor }

var referenceCalls = map[string]callgen.Call{
	"inbound_answered":       {Scenario: callgen.InboundAnswered, Agents: []string{"1001"}},
	"ring_group_one_answers": {Scenario: callgen.InboundRingGroup, Agents: []string{"1001", "1002", "1003"}, Winner: 1},
	"hunt_second_answers":    {Scenario: callgen.InboundHunt, Agents: []string{"1001", "1002"}},
	"inbound_missed":         {Scenario: callgen.InboundMissed, Agents: []string{"1001", "1002"}},
	"inbound_abandoned":      {Scenario: callgen.InboundAbandoned, Agents: []string{"1001", "1002"}},
	"inbound_busy":           {Scenario: callgen.InboundBusy, Agents: []string{"1001"}},
	"outbound_answered":      {Scenario: callgen.OutboundAnswered, Agents: []string{"1001"}},
	"outbound_no_answer":     {Scenario: callgen.OutboundNoAnswer, Agents: []string{"1001"}},
	"outbound_busy":          {Scenario: callgen.OutboundBusy, Agents: []string{"1001"}},
	"internal_answered":      {Scenario: callgen.InternalAnswered, Agents: []string{"1001", "1002"}},
	"blind_transfer":         {Scenario: callgen.BlindTransfer, Agents: []string{"1001", "1003"}},
	"click_to_call":          {Scenario: callgen.ClickToCallAnswered, Agents: []string{"1001"}},
	"inbound_recorded":       {Scenario: callgen.InboundAnswered, Agents: []string{"1001"}, Recording: callgen.RecordingAfterEnd},
	"feature_code_desk":      {Scenario: callgen.FeatureCodeDesk, Agents: []string{"1001"}},
}

func (r reference) Play(t *testing.T, scenario string) []events.Call {
	c, ok := referenceCalls[scenario]
	if !ok {
		t.Fatalf("no reference script for %s", scenario)
	}
	c.Flavor, c.Tenant, c.External, c.DID = r.flavor, Tenant, Customer, DID
	m := callstate.New(callstate.Options{IDPrefix: "ref-", DefaultTenant: Tenant})
	var out []events.Call
	for _, s := range callgen.Script(c, &callgen.IDs{Prefix: "leg"}, time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)) {
		out = m.Apply(s, out)
	}
	return out
}

func TestSuiteAgreesWithTheStateMachine(t *testing.T) {
	if len(referenceCalls) != len(Scenarios) {
		t.Fatalf("%d reference scripts for %d scenarios", len(referenceCalls), len(Scenarios))
	}
	t.Run("asterisk-order", func(t *testing.T) { Run(t, reference{callgen.Asterisk}) })
	t.Run("freeswitch-order", func(t *testing.T) { Run(t, reference{callgen.FreeSWITCH}) })
}

// TestCheckCatchesWrongAdapters makes sure the suite fails an adapter that
// gets a user-visible detail wrong.
func TestCheckCatchesWrongAdapters(t *testing.T) {
	good := reference{callgen.Asterisk}.Play(t, "ring_group_one_answers")
	sc := Scenarios[1]
	for name, mutate := range map[string]func([]events.Call) []events.Call{
		"loser reported missed": func(e []events.Call) []events.Call { e[5].Reason = "no_answer"; return e },
		"wrong winner":          func(e []events.Call) []events.Call { e[len(e)-1].AnsweredBy = "1001"; return e },
		"duplicate call": func(e []events.Call) []events.Call {
			d := e[len(e)-1]
			d.CallID = "other"
			return append(e, d)
		},
		"missing ended": func(e []events.Call) []events.Call { return e[:len(e)-1] },
	} {
		t.Run(name, func(t *testing.T) {
			if Verify(sc, mutate(append([]events.Call(nil), good...))) == nil {
				t.Error("Verify accepted it")
			}
		})
	}
}
