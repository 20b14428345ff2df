package callstate_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ringside/ringside/pkg/callgen"
	"github.com/ringside/ringside/pkg/callstate"
	"github.com/ringside/ringside/pkg/events"
)

var t0 = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

const customer = "+4930123456"

func newMachine() *callstate.Machine {
	return callstate.New(callstate.Options{IDPrefix: "n1-", Node: "n1", DefaultTenant: "acme"})
}

// script returns the signals of c with leg ids L1, L2, … from t0.
func script(c callgen.Call) []callstate.Signal {
	if c.External == "" {
		c.External = customer
	}
	if c.DID == "" {
		c.DID = "+4930999000"
	}
	return callgen.Script(c, &callgen.IDs{Prefix: "L"}, t0)
}

func apply(m *callstate.Machine, sigs []callstate.Signal) []events.Call {
	var out []events.Call
	for _, s := range sigs {
		out = m.Apply(s, out)
	}
	return out
}

// line renders an event as "<call>#<seq> <type> [agent] [reason]".
func line(e events.Call) string {
	s := fmt.Sprintf("%s#%d %s", e.CallID, e.Seq, e.Type)
	if e.Agent != "" {
		s += " " + e.Agent
	}
	if e.Reason != "" {
		s += " " + e.Reason
	}
	return s
}

func lines(evs []events.Call) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = line(e)
	}
	return out
}

// ending is what a user sees of a call in its ended event.
type ending struct {
	Direction        events.Direction
	Origin           events.Origin
	Disposition      events.Disposition
	External         string
	Caller           string
	Dialed           string
	Agents           string // comma-separated
	AnsweredBy       string
	TalkSeconds      int
	Transfers        string // kind:from>to, comma-separated
	Recording        string
	RecordingPending bool
}

func endingOf(e events.Call) ending {
	var tr []string
	for _, t := range e.Transfers {
		tr = append(tr, t.Kind+":"+t.From+">"+t.To)
	}
	return ending{
		Direction: e.Direction, Origin: e.Origin, Disposition: e.Disposition,
		External: e.External, Caller: e.Caller, Dialed: e.Dialed,
		Agents: strings.Join(e.Agents, ","), AnsweredBy: e.AnsweredBy, TalkSeconds: e.TalkSeconds,
		Transfers: strings.Join(tr, ","), Recording: e.Recording, RecordingPending: e.RecordingPending,
	}
}

func findEnded(evs []events.Call, callID string) (events.Call, bool) {
	for _, e := range evs {
		if e.Type == events.Ended && e.CallID == callID {
			return e, true
		}
	}
	return events.Call{}, false
}

const (
	astRec = "/var/spool/asterisk/monitor/acme/"
	fsRec  = "/var/lib/freeswitch/recordings/acme/"
)

func TestScenarios(t *testing.T) {
	inbound := func(d events.Disposition, agents, by string, talk int) ending {
		return ending{Direction: events.Inbound, Origin: events.OriginPBX, Disposition: d,
			External: customer, Dialed: "+4930999000", Agents: agents, AnsweredBy: by, TalkSeconds: talk}
	}
	outbound := func(d events.Disposition, by string, talk int) ending {
		return ending{Direction: events.Outbound, Origin: events.OriginPBX, Disposition: d,
			External: customer, Caller: "1001", Dialed: "004930123456", Agents: "1001", AnsweredBy: by, TalkSeconds: talk}
	}
	withRecording := func(e ending, path string, pending bool) ending {
		e.Recording, e.RecordingPending = path, pending
		return e
	}
	withTransfer := func(e ending, tr string) ending {
		e.Transfers = tr
		return e
	}
	tests := []struct {
		name string
		call callgen.Call
		want []string
		// end is the ended event of n1-L1; rec is the recording path's
		// file name when the call is recorded (the folder depends on the
		// flavor).
		end     ending
		recFile string
	}{
		{
			name: "single extension answered",
			call: callgen.Call{Scenario: callgen.InboundAnswered, Agents: []string{"1001"}},
			want: []string{"n1-L1#1 started", "n1-L1#2 ringing 1001", "n1-L1#3 answered 1001", "n1-L1#4 ended"},
			end:  inbound(events.DispositionAnswered, "1001", "1001", 60),
		},
		{
			name: "ring group of three, 1002 answers",
			call: callgen.Call{Scenario: callgen.InboundRingGroup, Agents: []string{"1001", "1002", "1003"}, Winner: 1},
			want: []string{"n1-L1#1 started", "n1-L1#2 ringing 1001", "n1-L1#3 ringing 1002", "n1-L1#4 ringing 1003",
				"n1-L1#5 answered 1002", "n1-L1#6 ring_stopped 1001 answered_elsewhere",
				"n1-L1#7 ring_stopped 1003 answered_elsewhere", "n1-L1#8 ended"},
			end: inbound(events.DispositionAnswered, "1001,1002,1003", "1002", 60),
		},
		{
			name: "queue hunts: 1001 rings out, 1002 answers",
			call: callgen.Call{Scenario: callgen.InboundHunt, Agents: []string{"1001", "1002"}},
			want: []string{"n1-L1#1 started", "n1-L1#2 ringing 1001", "n1-L1#3 ring_stopped 1001 no_answer",
				"n1-L1#4 ringing 1002", "n1-L1#5 answered 1002", "n1-L1#6 ended"},
			end: inbound(events.DispositionAnswered, "1001,1002", "1002", 60),
		},
		{
			name: "nobody answers, caller leaves a voicemail",
			call: callgen.Call{Scenario: callgen.InboundMissed, Agents: []string{"1001", "1002"}},
			want: []string{"n1-L1#1 started", "n1-L1#2 ringing 1001", "n1-L1#3 ringing 1002",
				"n1-L1#4 ring_stopped 1001 no_answer", "n1-L1#5 ring_stopped 1002 no_answer", "n1-L1#6 ended"},
			end: inbound(events.DispositionMissed, "1001,1002", "", 0),
		},
		{
			name: "caller abandons while ringing",
			call: callgen.Call{Scenario: callgen.InboundAbandoned, Agents: []string{"1001", "1002"}},
			want: []string{"n1-L1#1 started", "n1-L1#2 ringing 1001", "n1-L1#3 ringing 1002",
				"n1-L1#4 ring_stopped 1001 cancelled", "n1-L1#5 ring_stopped 1002 cancelled", "n1-L1#6 ended"},
			end: inbound(events.DispositionAbandoned, "1001,1002", "", 0),
		},
		{
			name: "all agents busy",
			call: callgen.Call{Scenario: callgen.InboundBusy, Agents: []string{"1001", "1002"}},
			want: []string{"n1-L1#1 started", "n1-L1#2 ended"},
			end:  inbound(events.DispositionBusy, "", "", 0),
		},
		{
			name: "outbound answered",
			call: callgen.Call{Scenario: callgen.OutboundAnswered, Agents: []string{"1001"}},
			want: []string{"n1-L1#1 started", "n1-L1#2 ringing 1001", "n1-L1#3 answered 1001", "n1-L1#4 ended"},
			end:  outbound(events.DispositionAnswered, "1001", 60),
		},
		{
			name: "outbound no answer",
			call: callgen.Call{Scenario: callgen.OutboundNoAnswer, Agents: []string{"1001"}},
			want: []string{"n1-L1#1 started", "n1-L1#2 ringing 1001", "n1-L1#3 ended"},
			end:  outbound(events.DispositionNoAnswer, "", 0),
		},
		{
			name: "outbound busy",
			call: callgen.Call{Scenario: callgen.OutboundBusy, Agents: []string{"1001"}},
			want: []string{"n1-L1#1 started", "n1-L1#2 ended"},
			end:  outbound(events.DispositionBusy, "", 0),
		},
		{
			name: "outbound fails on congestion",
			call: callgen.Call{Scenario: callgen.OutboundFailed, Agents: []string{"1001"}},
			want: []string{"n1-L1#1 started", "n1-L1#2 ended"},
			end:  outbound(events.DispositionFailed, "", 0),
		},
		{
			name: "outbound cancelled by the agent",
			call: callgen.Call{Scenario: callgen.OutboundCancelled, Agents: []string{"1001"}},
			want: []string{"n1-L1#1 started", "n1-L1#2 ringing 1001", "n1-L1#3 ended"},
			end:  outbound(events.DispositionCancelled, "", 0),
		},
		{
			name: "internal 1001 calls 1002",
			call: callgen.Call{Scenario: callgen.InternalAnswered, Agents: []string{"1001", "1002"}},
			want: []string{"n1-L1#1 started", "n1-L1#2 ringing 1002", "n1-L1#3 answered 1002", "n1-L1#4 ended"},
			end: ending{Direction: events.Internal, Origin: events.OriginPBX, Disposition: events.DispositionAnswered,
				Caller: "1001", Dialed: "1002", Agents: "1002", AnsweredBy: "1002", TalkSeconds: 60},
		},
		{
			name: "blind transfer 1001 to 1003",
			call: callgen.Call{Scenario: callgen.BlindTransfer, Agents: []string{"1001", "1003"}},
			want: []string{"n1-L1#1 started", "n1-L1#2 ringing 1001", "n1-L1#3 answered 1001",
				"n1-L1#4 ringing 1003", "n1-L1#5 transferred 1003 blind", "n1-L1#6 ended"},
			end: withTransfer(inbound(events.DispositionAnswered, "1001,1003", "1003", 96), "blind:1001>1003"),
		},
		{
			name: "attended transfer 1001 to 1003",
			call: callgen.Call{Scenario: callgen.AttendedTransfer, Agents: []string{"1001", "1003"}},
			want: []string{"n1-L1#1 started", "n1-L1#2 ringing 1001", "n1-L1#3 answered 1001",
				"n1-L3#1 started", "n1-L3#2 ringing 1003", "n1-L3#3 answered 1003",
				"n1-L1#4 transferred 1003 attended", "n1-L3#4 ended", "n1-L1#5 ended"},
			end: withTransfer(inbound(events.DispositionAnswered, "1001,1003", "1003", 116), "attended:1001>1003"),
		},
		{
			name: "click-to-call answered",
			call: callgen.Call{Scenario: callgen.ClickToCallAnswered, Agents: []string{"1001"}},
			want: []string{"n1-L1#1 started", "n1-L1#2 ringing 1001", "n1-L1#3 answered 1001", "n1-L1#4 ended"},
			end: ending{Direction: events.Outbound, Origin: events.OriginClickToCall, Disposition: events.DispositionAnswered,
				External: customer, Caller: "1001", Dialed: customer, Agents: "1001", AnsweredBy: "1001", TalkSeconds: 60},
		},
		{
			name: "click-to-call leg A not answered",
			call: callgen.Call{Scenario: callgen.ClickToCallUnanswered, Agents: []string{"1001"}},
			want: []string{"n1-L1#1 started", "n1-L1#2 ended agent_leg"},
			end: ending{Direction: events.Outbound, Origin: events.OriginClickToCall, Disposition: events.DispositionNoAnswer,
				External: customer, Caller: "1001", Dialed: customer, Agents: "1001"},
		},
		{
			name: "recording finished before the end",
			call: callgen.Call{Scenario: callgen.InboundAnswered, Agents: []string{"1001"}, Recording: callgen.RecordingBeforeEnd},
			want: []string{"n1-L1#1 started", "n1-L1#2 ringing 1001", "n1-L1#3 answered 1001", "n1-L1#4 ended"},
			end:  withRecording(inbound(events.DispositionAnswered, "1001", "1001", 60), "L1.wav", false),
		},
		{
			name: "recording attached after the end",
			call: callgen.Call{Scenario: callgen.InboundAnswered, Agents: []string{"1001"}, Recording: callgen.RecordingAfterEnd},
			want: []string{"n1-L1#1 started", "n1-L1#2 ringing 1001", "n1-L1#3 answered 1001", "n1-L1#4 ended",
				"n1-L1#5 recording"},
			end: withRecording(inbound(events.DispositionAnswered, "1001", "1001", 60), "", true),
		},
		{
			name: "recording of a blind-transferred call",
			call: callgen.Call{Scenario: callgen.BlindTransfer, Agents: []string{"1001", "1003"}, Recording: callgen.RecordingBeforeEnd},
			want: []string{"n1-L1#1 started", "n1-L1#2 ringing 1001", "n1-L1#3 answered 1001",
				"n1-L1#4 ringing 1003", "n1-L1#5 transferred 1003 blind", "n1-L1#6 ended"},
			end: withRecording(withTransfer(inbound(events.DispositionAnswered, "1001,1003", "1003", 96), "blind:1001>1003"), "L1.wav", false),
		},
	}
	for _, tt := range tests {
		for _, fl := range []callgen.Flavor{callgen.Asterisk, callgen.FreeSWITCH} {
			t.Run(tt.name+"/"+fl.String(), func(t *testing.T) {
				c := tt.call
				c.Flavor = fl
				c.Tenant = "acme"
				m := newMachine()
				evs := apply(m, script(c))
				if got := lines(evs); strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
					t.Fatalf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
				}
				end, ok := findEnded(evs, "n1-L1")
				if !ok {
					t.Fatal("no ended event for n1-L1")
				}
				want := tt.end
				if want.Recording != "" {
					want.Recording = map[callgen.Flavor]string{callgen.Asterisk: astRec, callgen.FreeSWITCH: fsRec}[fl] + want.Recording
				}
				if got := endingOf(end); got != want {
					t.Errorf("ended:\n got %+v\nwant %+v", got, want)
				}
				checkCommon(t, evs, "acme")
				if m.Active() != 0 {
					t.Errorf("Active() = %d after every leg hung up", m.Active())
				}
				if n := len(m.LiveLegs()); n != 0 {
					t.Errorf("LiveLegs() = %d legs after every leg hung up", n)
				}
			})
		}
	}
}

// checkCommon checks what every event must carry.
func checkCommon(t *testing.T, evs []events.Call, tenant string) {
	t.Helper()
	for _, e := range evs {
		if e.V != events.Version || e.ID != events.MsgID(e.CallID, e.Seq) || e.Tenant != tenant || e.Node != "n1" || e.At.IsZero() {
			t.Errorf("event %s: v=%d id=%q tenant=%q node=%q at=%v", line(e), e.V, e.ID, e.Tenant, e.Node, e.At)
		}
		if e.Type != events.TerminalSet && (e.Direction == "" || e.Origin == "" || e.StartedAt.IsZero()) {
			t.Errorf("event %s lacks direction, origin or start: %+v", line(e), e)
		}
		if e.Type == events.Ended && e.EndedAt.IsZero() {
			t.Errorf("event %s has no ended_at", line(e))
		}
	}
}

func TestRecordingAfterEndCarriesTheFile(t *testing.T) {
	c := callgen.Call{Scenario: callgen.InboundAnswered, Agents: []string{"1001"}, Recording: callgen.RecordingAfterEnd, Tenant: "acme"}
	evs := apply(newMachine(), script(c))
	last := evs[len(evs)-1]
	if last.Type != events.Recording || last.Recording != astRec+"L1.wav" || last.RecordingPending {
		t.Fatalf("last event %s recording=%q pending=%v", line(last), last.Recording, last.RecordingPending)
	}
	if last.Disposition != events.DispositionAnswered || last.TalkSeconds != 60 || last.AnsweredBy != "1001" {
		t.Errorf("recording event lost the call's outcome: %+v", last)
	}
}

func TestFeatureCodes(t *testing.T) {
	tests := []struct {
		name string
		call callgen.Call
		want events.Terminal
	}{
		{"desk *037", callgen.Call{Scenario: callgen.FeatureCodeDesk, Agents: []string{"1001"}},
			events.Terminal{Extension: "1001", Code: "*037", Device: "PJSIP/1001"}},
		{"mobile 3037", callgen.Call{Scenario: callgen.FeatureCodeMobile, Agents: []string{"1001"}, Mobile: "+491701234567"},
			events.Terminal{Extension: "1001", Code: "3037", Device: "PJSIP/1001-mobile", Mobile: "+491701234567"}},
	}
	for _, tt := range tests {
		for _, fl := range []callgen.Flavor{callgen.Asterisk, callgen.FreeSWITCH} {
			t.Run(tt.name+"/"+fl.String(), func(t *testing.T) {
				c := tt.call
				c.Flavor, c.Tenant = fl, "acme"
				m := newMachine()
				evs := apply(m, script(c))
				if len(evs) != 1 || line(evs[0]) != "n1-L1#1 terminal_set 1001" {
					t.Fatalf("events %v, want only n1-L1#1 terminal_set 1001", lines(evs))
				}
				if evs[0].Terminal == nil || *evs[0].Terminal != tt.want {
					t.Errorf("terminal = %+v, want %+v", evs[0].Terminal, tt.want)
				}
				if evs[0].Tenant != "acme" || evs[0].ID != "n1-L1:1" {
					t.Errorf("tenant %q id %q", evs[0].Tenant, evs[0].ID)
				}
				if m.Active() != 0 {
					t.Errorf("Active() = %d", m.Active())
				}
			})
		}
	}
}
