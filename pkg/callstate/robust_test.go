package callstate_test

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/ringside/ringside/pkg/callgen"
	"github.com/ringside/ringside/pkg/callstate"
	"github.com/ringside/ringside/pkg/events"
)

// everyScript returns one script per scenario and flavor, recorded when the
// scenario can be.
func everyScript() map[string][]callstate.Signal {
	out := map[string][]callstate.Signal{}
	for sc := callgen.Scenario(0); sc < callgen.Scenarios; sc++ {
		for _, fl := range []callgen.Flavor{callgen.Asterisk, callgen.FreeSWITCH} {
			for _, rec := range []callgen.Recording{callgen.NoRecording, callgen.RecordingAfterEnd} {
				c := callgen.Call{Scenario: sc, Flavor: fl, Tenant: "acme", Agents: []string{"1001", "1002", "1003"},
					Winner: 2, Mobile: "+491701234567", Recording: rec}
				out[sc.String()+"/"+fl.String()+"/"+map[bool]string{true: "rec", false: "plain"}[rec != 0]] = script(c)
			}
		}
	}
	return out
}

func encode(t *testing.T, evs []events.Call) string {
	t.Helper()
	var b strings.Builder
	for _, e := range evs {
		j, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(j)
		b.WriteByte('\n')
	}
	return b.String()
}

func TestDuplicatedSignalsGiveTheSameEvents(t *testing.T) {
	for name, sigs := range everyScript() {
		t.Run(name, func(t *testing.T) {
			once := apply(newMachine(), sigs)
			twice := make([]callstate.Signal, 0, 2*len(sigs))
			for _, s := range sigs {
				twice = append(twice, s, s)
			}
			m := newMachine()
			got := apply(m, twice)
			if encode(t, got) != encode(t, once) {
				t.Fatalf("doubled signals gave\n%v\nwant\n%v", lines(got), lines(once))
			}
			st := m.Stats()
			ignored := st.Ignored[callstate.IgnoredDuplicate] + st.Ignored[callstate.IgnoredLate]
			if ignored == 0 || st.Signals != uint64(len(twice)) {
				t.Errorf("stats %+v: duplicates not counted", st)
			}
		})
	}
}

func TestSnapshotRestoreMidCall(t *testing.T) {
	for name, sigs := range everyScript() {
		t.Run(name, func(t *testing.T) {
			want := encode(t, apply(newMachine(), sigs))
			cuts := 0
			for k := 1; k < len(sigs); k++ {
				m := newMachine()
				before := apply(m, sigs[:k])
				if m.Active() == 0 {
					continue // not mid-call
				}
				cuts++
				data, err := json.Marshal(m.Snapshot())
				if err != nil {
					t.Fatal(err)
				}
				var snaps []callstate.Snapshot
				if err := json.Unmarshal(data, &snaps); err != nil {
					t.Fatal(err)
				}
				m2 := newMachine()
				if err := m2.Restore(snaps); err != nil {
					t.Fatalf("restore after %d signals: %v", k, err)
				}
				if m2.Active() != m.Active() {
					t.Fatalf("restored %d calls, had %d", m2.Active(), m.Active())
				}
				after := apply(m2, sigs[k:])
				if got := encode(t, append(before, after...)); got != want {
					t.Fatalf("restart after signal %d changed the events:\n%s\nwant\n%s", k, got, want)
				}
			}
			if cuts == 0 && !strings.HasPrefix(name, "feature_code") {
				t.Fatal("no mid-call cut point")
			}
		})
	}
}

func TestRestoreRefusesBadSnapshots(t *testing.T) {
	m := newMachine()
	apply(m, script(callgen.Call{Scenario: callgen.InboundAnswered, Agents: []string{"1001"}})[:3])
	good := m.Snapshot()
	if len(good) != 1 {
		t.Fatalf("snapshot has %d calls, want 1", len(good))
	}
	tests := []struct {
		name  string
		mod   func(s *callstate.Snapshot)
		fresh bool
	}{
		{"no legs", func(s *callstate.Snapshot) { s.Legs = nil }, true},
		{"leg without id", func(s *callstate.Snapshot) { s.Legs[1].ID = "" }, true},
		{"every leg ended", func(s *callstate.Snapshot) {
			for i := range s.Legs {
				s.Legs[i].Ended = true
			}
		}, true},
		{"events but no call id", func(s *callstate.Snapshot) { s.Call.CallID = "" }, true},
		{"same leg twice", func(s *callstate.Snapshot) { s.Legs[1].ID = s.Legs[0].ID }, true},
		{"machine in use", func(s *callstate.Snapshot) {}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := good[0]
			s.Legs = append([]callstate.LegSnapshot(nil), s.Legs...)
			tt.mod(&s)
			target := newMachine()
			if !tt.fresh {
				target = m
			}
			if err := target.Restore([]callstate.Snapshot{s}); err == nil {
				t.Fatal("Restore accepted it")
			} else if !strings.HasPrefix(err.Error(), "callstate: restore") {
				t.Errorf("error %q lacks context", err)
			}
			if tt.fresh && target.Active() != 0 {
				t.Errorf("a refused restore loaded %d calls", target.Active())
			}
		})
	}
}

func sig(k callstate.Kind, leg string, at time.Duration) callstate.Signal {
	return callstate.Signal{Kind: k, Leg: leg, At: t0.Add(at)}
}

func TestUnknownAndMalformedSignalsChangeNothing(t *testing.T) {
	m := newMachine()
	var out []events.Call
	for _, s := range []callstate.Signal{
		{},
		{Kind: callstate.Hangup},
		{Kind: callstate.Kind(200), Leg: "x"},
		sig(callstate.Hangup, "ghost", 0),
		sig(callstate.Ringing, "ghost", 0),
		sig(callstate.Answered, "ghost", 0),
		sig(callstate.RecordingFinished, "ghost", 0),
		sig(callstate.SetVar, "ghost", 0),
		{Kind: callstate.Bridged, Leg: "ghost", Peer: "ghost2"},
	} {
		out = m.Apply(s, out)
	}
	if len(out) != 0 || m.Active() != 0 {
		t.Fatalf("signals for unknown legs emitted %v, active %d", lines(out), m.Active())
	}
	st := m.Stats()
	if st.Ignored[callstate.IgnoredInvalid] != 3 || st.Ignored[callstate.IgnoredUnknownLeg] != 6 {
		t.Errorf("ignored = %v, want 3 invalid and 6 unknown_leg", st.Ignored)
	}
	for r := callstate.IgnoreReason(0); r < callstate.IgnoreReasons; r++ {
		if r.String() == "unknown" || strings.ContainsAny(r.String(), " -") {
			t.Errorf("reason %d has label %q", r, r)
		}
	}
}

func TestLateSignalsAfterTheEnd(t *testing.T) {
	sigs := script(callgen.Call{Scenario: callgen.InboundAnswered, Agents: []string{"1001"}, Tenant: "acme"})
	m := newMachine()
	evs := apply(m, sigs)
	late := []callstate.Signal{
		sig(callstate.Hangup, "L1", time.Hour),
		sig(callstate.Ringing, "L2", time.Hour),
		sig(callstate.Answered, "L2", time.Hour),
		{Kind: callstate.DialEnd, Leg: "L2", Cause: callstate.CauseBusy, At: t0.Add(time.Hour)},
		{Kind: callstate.LegCreated, Leg: "L9", Peer: "L1", Party: callstate.PartyExtension, Number: "1009", At: t0.Add(time.Hour)},
		sig(callstate.Ringing, "L9", time.Hour),
		{Kind: callstate.DialBegin, Leg: "L10", Peer: "L2", At: t0.Add(time.Hour)},
		{Kind: callstate.SetVar, Leg: "L1", Var: callstate.VarTenant, Value: "other", At: t0.Add(time.Hour)},
		{Kind: callstate.FeatureCode, Leg: "L1", Code: "*037", At: t0.Add(time.Hour)},
	}
	more := apply(m, late)
	if len(more) != 0 {
		t.Fatalf("late signals emitted %v after %v", lines(more), lines(evs))
	}
	if st := m.Stats(); st.Ignored[callstate.IgnoredLate] != uint64(len(late)) {
		t.Errorf("late = %d, want %d", st.Ignored[callstate.IgnoredLate], len(late))
	}
	if m.Active() != 0 {
		t.Errorf("a late leg opened a call: Active() = %d", m.Active())
	}
	// A recording still attaches, once.
	rec := callstate.Signal{Kind: callstate.RecordingFinished, Leg: "L9", Path: "/r.wav", At: t0.Add(time.Hour)}
	out := apply(m, []callstate.Signal{rec, rec})
	if len(out) != 1 || line(out[0]) != "n1-L1#5 recording" || out[0].Recording != "/r.wav" {
		t.Fatalf("late recording gave %v", lines(out))
	}
}

func TestRememberIsBounded(t *testing.T) {
	m := callstate.New(callstate.Options{IDPrefix: "n1-", Remember: 4})
	ids := &callgen.IDs{Prefix: "L"}
	for i := 0; i < 10; i++ {
		apply(m, callgen.Script(callgen.Call{Scenario: callgen.InboundAnswered, Agents: []string{"1001"}}, ids, t0))
	}
	// The first call's legs are forgotten: a signal for them is unknown.
	apply(m, []callstate.Signal{sig(callstate.Hangup, "L1", time.Hour)})
	// The last call's legs are remembered: late.
	apply(m, []callstate.Signal{sig(callstate.Hangup, "L20", time.Hour)})
	st := m.Stats()
	if st.Ignored[callstate.IgnoredUnknownLeg] != 1 || st.Ignored[callstate.IgnoredLate] != 1 {
		t.Errorf("ignored %v: want the oldest legs forgotten and the newest remembered", st.Ignored)
	}
}

func TestTenantAndCallerName(t *testing.T) {
	t.Run("outbound tenant from SetVar before start", func(t *testing.T) {
		m := newMachine()
		out := apply(m, []callstate.Signal{
			{Kind: callstate.LegCreated, Leg: "a", Party: callstate.PartyExtension, Number: "1001", Dialed: "0049301111", At: t0},
			{Kind: callstate.SetVar, Leg: "a", Var: callstate.VarTenant, Value: "globex", At: t0},
			{Kind: callstate.LegCreated, Leg: "b", Peer: "a", Party: callstate.PartyExternal, Number: "+49301111", At: t0},
			{Kind: callstate.SetVar, Leg: "a", Var: callstate.VarTenant, Value: "late", At: t0},
		})
		if len(out) != 1 || out[0].Tenant != "globex" || out[0].Direction != events.Outbound {
			t.Fatalf("got %+v", out)
		}
		if m.Stats().Ignored[callstate.IgnoredLate] != 1 {
			t.Error("tenant after start not counted late")
		}
	})
	t.Run("origin tenant wins, default otherwise", func(t *testing.T) {
		m := callstate.New(callstate.Options{})
		out := apply(m, []callstate.Signal{
			{Kind: callstate.LegCreated, Leg: "t1", Party: callstate.PartyExternal, Number: "+1", Tenant: "initech", At: t0},
			{Kind: callstate.LegCreated, Leg: "t2", Party: callstate.PartyExternal, Number: "+2", At: t0},
			{Kind: callstate.LegCreated, Leg: "t3", Party: callstate.PartyExternal, Number: "+3", Tenant: "acme.example.com", At: t0},
			{Kind: callstate.LegCreated, Leg: "t4", Party: callstate.PartyExternal, Number: "+4", Tenant: "bad*tenant", At: t0},
		})
		if len(out) != 4 || out[0].Tenant != "initech" || out[1].Tenant != "default" || out[2].Tenant != "acme_example_com" || out[3].Tenant != "default" {
			t.Fatalf("tenants %q %q %q %q", out[0].Tenant, out[1].Tenant, out[2].Tenant, out[3].Tenant)
		}
		if out[0].CallID != "t1" {
			t.Errorf("call id %q without prefix", out[0].CallID)
		}
	})
	t.Run("caller name", func(t *testing.T) {
		out := apply(newMachine(), []callstate.Signal{
			{Kind: callstate.LegCreated, Leg: "t", Party: callstate.PartyExternal, Number: "+4930", Name: "ANON", At: t0},
			{Kind: callstate.SetVar, Leg: "t", Var: callstate.VarCallerName, Value: "Anna Schmidt", At: t0},
			{Kind: callstate.LegCreated, Leg: "p", Peer: "t", Party: callstate.PartyExtension, Number: "1001", At: t0},
			sig(callstate.Ringing, "p", time.Second),
		})
		if out[0].ExternalName != "ANON" || out[1].ExternalName != "Anna Schmidt" {
			t.Fatalf("names %q then %q", out[0].ExternalName, out[1].ExternalName)
		}
	})
}

func TestExtensionCallsWithoutSecondPartyEmitNothing(t *testing.T) {
	m := newMachine()
	out := apply(m, []callstate.Signal{
		{Kind: callstate.LegCreated, Leg: "vm", Party: callstate.PartyExtension, Number: "1001", Dialed: "*97", At: t0},
		sig(callstate.Answered, "vm", time.Second),
		{Kind: callstate.LegCreated, Leg: "local", Peer: "vm", Party: callstate.PartyUnknown, At: t0},
		sig(callstate.Hangup, "local", 30*time.Second),
		sig(callstate.Hangup, "vm", 30*time.Second),
	})
	if len(out) != 0 || m.Active() != 0 {
		t.Fatalf("voicemail call emitted %v, active %d", lines(out), m.Active())
	}
}

func TestInboundAnsweredByIVROnlyIsAbandoned(t *testing.T) {
	out := apply(newMachine(), []callstate.Signal{
		{Kind: callstate.LegCreated, Leg: "t", Party: callstate.PartyExternal, Number: customer, At: t0},
		sig(callstate.Answered, "t", time.Second),
		{Kind: callstate.Hangup, Leg: "t", Cause: callstate.CauseNormal, At: t0.Add(20 * time.Second)},
	})
	if got := strings.Join(lines(out), ","); got != "n1-t#1 started,n1-t#2 ended" {
		t.Fatalf("events %s", got)
	}
	if out[1].Disposition != events.DispositionAbandoned || out[1].AnsweredBy != "" || out[1].HangupCause != "normal" {
		t.Errorf("ended %+v", out[1])
	}
}

func TestCrossCallBridgeIsInvalid(t *testing.T) {
	m := newMachine()
	out := apply(m, []callstate.Signal{
		{Kind: callstate.LegCreated, Leg: "t1", Party: callstate.PartyExternal, Number: "+1", At: t0},
		{Kind: callstate.LegCreated, Leg: "t2", Party: callstate.PartyExternal, Number: "+2", At: t0},
		{Kind: callstate.LegCreated, Leg: "p", Peer: "t2", Party: callstate.PartyExtension, Number: "1001", At: t0},
		{Kind: callstate.Bridged, Leg: "t1", Peer: "p", At: t0},
	})
	if len(out) != 2 || m.Stats().Ignored[callstate.IgnoredInvalid] != 1 {
		t.Fatalf("events %v, stats %+v", lines(out), m.Stats())
	}
}

func TestBridgeCountsAsAnswer(t *testing.T) {
	out := apply(newMachine(), []callstate.Signal{
		{Kind: callstate.LegCreated, Leg: "t", Party: callstate.PartyExternal, Number: customer, At: t0},
		{Kind: callstate.LegCreated, Leg: "p", Peer: "t", Party: callstate.PartyExtension, Number: "1001", At: t0},
		sig(callstate.Ringing, "p", time.Second),
		{Kind: callstate.Bridged, Leg: "t", Peer: "p", At: t0.Add(5 * time.Second)},
		sig(callstate.Answered, "p", 5*time.Second),
		{Kind: callstate.Hangup, Leg: "p", Cause: callstate.CauseNormal, At: t0.Add(65 * time.Second)},
		{Kind: callstate.Hangup, Leg: "t", Cause: callstate.CauseNormal, At: t0.Add(66 * time.Second)},
	})
	if got := strings.Join(lines(out), ","); got != "n1-t#1 started,n1-t#2 ringing 1001,n1-t#3 answered 1001,n1-t#4 ended" {
		t.Fatalf("events %s", got)
	}
	if e := out[3]; e.TalkSeconds != 61 || !e.EndedAt.Equal(t0.Add(66*time.Second)) {
		t.Errorf("talk %d ended %v", e.TalkSeconds, e.EndedAt)
	}
}

func TestBlindTransferNobodyAnswers(t *testing.T) {
	out := apply(newMachine(), []callstate.Signal{
		{Kind: callstate.LegCreated, Leg: "t", Party: callstate.PartyExternal, Number: customer, At: t0},
		{Kind: callstate.LegCreated, Leg: "p", Peer: "t", Party: callstate.PartyExtension, Number: "1001", At: t0},
		sig(callstate.Answered, "p", time.Second),
		{Kind: callstate.TransferBlind, Leg: "p", Peer: "t", Target: "1003", At: t0.Add(10 * time.Second)},
		{Kind: callstate.Hangup, Leg: "p", Cause: callstate.CauseNormal, At: t0.Add(10 * time.Second)},
		{Kind: callstate.LegCreated, Leg: "q", Peer: "t", Party: callstate.PartyExtension, Number: "1003", At: t0.Add(11 * time.Second)},
		sig(callstate.Ringing, "q", 11*time.Second),
		{Kind: callstate.Hangup, Leg: "q", Cause: callstate.CauseNoAnswer, At: t0.Add(40 * time.Second)},
		{Kind: callstate.Hangup, Leg: "t", Cause: callstate.CauseNormal, At: t0.Add(41 * time.Second)},
	})
	want := "n1-t#1 started,n1-t#2 answered 1001,n1-t#3 ringing 1003,n1-t#4 ring_stopped 1003 no_answer,n1-t#5 ended"
	if got := strings.Join(lines(out), ","); got != want {
		t.Fatalf("events %s\nwant   %s", got, want)
	}
	if e := out[4]; e.Disposition != events.DispositionAnswered || e.AnsweredBy != "1001" || len(e.Transfers) != 0 {
		t.Errorf("ended %+v", e)
	}
}

func TestLinkLostClosesTheCall(t *testing.T) {
	m := newMachine()
	apply(m, []callstate.Signal{
		{Kind: callstate.LegCreated, Leg: "t", Party: callstate.PartyExternal, Number: customer, At: t0},
		{Kind: callstate.LegCreated, Leg: "p", Peer: "t", Party: callstate.PartyExtension, Number: "1001", At: t0},
		sig(callstate.Answered, "p", time.Second),
	})
	legs := m.LiveLegs()
	if strings.Join(legs, ",") != "t,p" {
		t.Fatalf("LiveLegs() = %v", legs)
	}
	var out []events.Call
	for _, l := range legs {
		out = m.Apply(callstate.Signal{Kind: callstate.Hangup, Leg: l, Cause: callstate.CauseLost, At: t0.Add(time.Minute)}, out)
	}
	if len(out) != 1 || !out[0].LinkLost || out[0].Disposition != events.DispositionAnswered || out[0].HangupCause != "link_lost" {
		t.Fatalf("got %+v", out)
	}
}

func TestEventsDoNotShareWritableSlices(t *testing.T) {
	out := apply(newMachine(), script(callgen.Call{Scenario: callgen.InboundRingGroup, Agents: []string{"1001", "1002", "1003"}}))
	ringing := out[1] // Agents [1001]
	_ = append(ringing.Agents, "9999")
	if got := strings.Join(out[2].Agents, ","); got != "1001,1002" {
		t.Fatalf("a consumer's append changed a later event: %s", got)
	}
}

func TestMixLeavesNothingBehind(t *testing.T) {
	m := newMachine()
	sigs := callgen.Mix(callgen.Config{Rand: rand.New(rand.NewPCG(1, 2)), Concurrent: 40, Calls: 2000})
	var out []events.Call
	ended := map[string]int{}
	for _, s := range sigs {
		out = m.Apply(s, out[:0])
		for _, e := range out {
			if e.Type == events.Ended {
				ended[e.CallID]++
			}
		}
	}
	if m.Active() != 0 {
		t.Fatalf("Active() = %d after the mix", m.Active())
	}
	st := m.Stats()
	if st.Ignored[callstate.IgnoredUnknownLeg] != 0 || st.Ignored[callstate.IgnoredInvalid] != 0 {
		t.Errorf("a realistic mix had ignored signals: %v", st.Ignored)
	}
	for id, n := range ended {
		if n != 1 {
			t.Errorf("call %s ended %d times", id, n)
		}
	}
	if len(ended) < 1800 {
		t.Errorf("only %d of 2000 calls ended", len(ended))
	}
}

func TestFeatureCodeEdges(t *testing.T) {
	t.Run("unknown leg", func(t *testing.T) {
		m := newMachine()
		fc := callstate.Signal{Kind: callstate.FeatureCode, Leg: "x", Code: "*037", Number: "1001", Device: "PJSIP/1001", Tenant: "globex", At: t0}
		out := apply(m, []callstate.Signal{fc, fc, sig(callstate.Hangup, "x", time.Second)})
		if len(out) != 1 || line(out[0]) != "n1-x#1 terminal_set 1001" || out[0].Tenant != "globex" {
			t.Fatalf("events %v", lines(out))
		}
		st := m.Stats()
		if st.Ignored[callstate.IgnoredLate] != 2 || m.Active() != 0 {
			t.Errorf("stats %v, active %d", st.Ignored, m.Active())
		}
	})
	t.Run("during a started call", func(t *testing.T) {
		out := apply(newMachine(), []callstate.Signal{
			{Kind: callstate.LegCreated, Leg: "t", Party: callstate.PartyExternal, Number: customer, At: t0},
			{Kind: callstate.FeatureCode, Leg: "t", Code: "3037", Number: "1001", Dialed: "+4917012345", At: t0},
			{Kind: callstate.Hangup, Leg: "t", Cause: callstate.CauseNormal, At: t0.Add(time.Second)},
		})
		if got := strings.Join(lines(out), ","); got != "n1-t#1 started,n1-t#2 terminal_set 1001,n1-t#3 ended" {
			t.Fatalf("events %s", got)
		}
		if out[1].Terminal == nil || out[1].Terminal.Mobile != "+4917012345" || out[2].Terminal != nil {
			t.Errorf("terminal on the wrong events: %+v / %+v", out[1].Terminal, out[2].Terminal)
		}
	})
}

func TestAttendedTransferAfterTheConsultingLegHungUp(t *testing.T) {
	out := apply(newMachine(), []callstate.Signal{
		{Kind: callstate.LegCreated, Leg: "t", Party: callstate.PartyExternal, Number: customer, At: t0},
		{Kind: callstate.LegCreated, Leg: "p", Peer: "t", Party: callstate.PartyExtension, Number: "1001", At: t0},
		sig(callstate.Answered, "p", time.Second),
		{Kind: callstate.LegCreated, Leg: "p2", Party: callstate.PartyExtension, Number: "1001", At: t0.Add(10 * time.Second)},
		{Kind: callstate.LegCreated, Leg: "q", Peer: "p2", Party: callstate.PartyExtension, Number: "1003", At: t0.Add(10 * time.Second)},
		sig(callstate.Answered, "q", 12*time.Second),
		{Kind: callstate.Hangup, Leg: "p2", Cause: callstate.CauseTransferred, At: t0.Add(20 * time.Second)},
		{Kind: callstate.TransferAttended, Leg: "p", Peer: "p2", Target: "q", At: t0.Add(20 * time.Second)},
		{Kind: callstate.Hangup, Leg: "p", Cause: callstate.CauseTransferred, At: t0.Add(20 * time.Second)},
		{Kind: callstate.Hangup, Leg: "q", Cause: callstate.CauseNormal, At: t0.Add(80 * time.Second)},
		{Kind: callstate.Hangup, Leg: "t", Cause: callstate.CauseNormal, At: t0.Add(81 * time.Second)},
	})
	want := "n1-t#1 started,n1-t#2 answered 1001,n1-p2#1 started,n1-p2#2 answered 1003," +
		"n1-t#3 transferred 1003 attended,n1-p2#3 ended,n1-t#4 ended"
	if got := strings.Join(lines(out), ","); got != want {
		t.Fatalf("events %s\nwant   %s", got, want)
	}
	consult, main := out[5], out[6]
	if consult.Disposition != events.DispositionAnswered || consult.Direction != events.Internal || consult.TalkSeconds != 8 {
		t.Errorf("consultation ended %+v", consult)
	}
	if main.AnsweredBy != "1003" || main.TalkSeconds != 80 || !main.EndedAt.Equal(t0.Add(81*time.Second)) {
		t.Errorf("main call ended %+v", main)
	}
}
