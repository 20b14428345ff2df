package callstate_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/ringside/ringside/pkg/callstate"
	"github.com/ringside/ringside/pkg/events"
)

// fuzzLegs is the fuzz alphabet of legs: eight letters in three
// generations, so that calls keep happening after the first legs ended.
var fuzzLegs = func() []string {
	var legs []string
	for gen := 0; gen < 3; gen++ {
		for _, c := range "abcdefgh" {
			legs = append(legs, string(c)+string(rune('0'+gen)))
		}
	}
	return legs
}()

// decodeSignals turns fuzz bytes into signals, four bytes each: kind, leg
// (letter and generation), peer/target (within the leg's generation), then
// party, cause, originated, variable and path.
func decodeSignals(data []byte) []callstate.Signal {
	var out []callstate.Signal
	for i := 0; i+4 <= len(data); i += 4 {
		k, l, p, x := data[i], data[i+1], data[i+2], data[i+3]
		gen := int(l>>3) % 3
		leg := fuzzLegs[gen*8+int(l%8)]
		peer := ""
		if p%9 < 8 {
			peer = fuzzLegs[gen*8+int(p%9)]
		}
		party := callstate.Party(x % 3)
		number := "+4930" + leg
		if party == callstate.PartyExtension {
			number = "100" + string(rune('1'+l%8))
		}
		s := callstate.Signal{
			Kind:       callstate.Kind(k % 17),
			At:         t0.Add(time.Duration(i/4)*time.Second + time.Duration(l>>4)*time.Millisecond),
			Leg:        leg,
			Peer:       peer,
			Party:      party,
			Number:     number,
			Dialed:     "+4930999",
			Originated: x&0x80 != 0,
			Cause:      callstate.Cause((x >> 2) % 13),
			Var:        callstate.Var(x % 4),
			Value:      []string{"acme", "bad.tenant", "globex", ""}[(x>>4)%4],
			Path:       []string{"/r1.wav", "/r2.wav", ""}[(x>>5)%3],
			Code:       "*037",
			Target:     fuzzLegs[gen*8+int(p>>4)%8],
		}
		if l == 0xff {
			s.Leg = "" // an invalid signal now and then
		}
		if s.Kind == callstate.TransferBlind {
			s.Target = "100" + string(rune('1'+p%8))
		}
		out = append(out, s)
	}
	return out
}

// tracker checks the invariants of an event stream, call by call.
type tracker struct {
	t     *testing.T
	calls map[string]*tracked
}

type tracked struct {
	seq     uint32
	silent  bool // first event was terminal_set
	started bool
	ended   bool
	rang    map[string]int
	stopped map[string]int
}

func (tr *tracker) check(e events.Call) {
	t := tr.t
	t.Helper()
	if e.V != events.Version || e.CallID == "" || e.ID != events.MsgID(e.CallID, e.Seq) {
		t.Fatalf("bad ids: v=%d call=%q seq=%d id=%q", e.V, e.CallID, e.Seq, e.ID)
	}
	if !events.ValidToken(e.Tenant) {
		t.Fatalf("%s: tenant %q", line(e), e.Tenant)
	}
	c := tr.calls[e.CallID]
	if c == nil {
		if e.Seq != 1 || (e.Type != events.Started && e.Type != events.TerminalSet) {
			t.Fatalf("first event of %s is %s", e.CallID, line(e))
		}
		c = &tracked{silent: e.Type == events.TerminalSet, rang: map[string]int{}, stopped: map[string]int{}}
		tr.calls[e.CallID] = c
	} else if e.Seq != c.seq+1 {
		t.Fatalf("%s follows seq %d", line(e), c.seq)
	}
	c.seq = e.Seq
	if c.ended && e.Type != events.Recording {
		t.Fatalf("%s after ended", line(e))
	}
	switch e.Type {
	case events.Started:
		if c.started || c.silent || e.Seq != 1 {
			t.Fatalf("%s: started is not the first event", line(e))
		}
		c.started = true
	case events.Ended:
		if c.ended || c.silent {
			t.Fatalf("%s: ended twice or on a feature-code call", line(e))
		}
		c.ended = true
		if e.Disposition == "" || e.EndedAt.IsZero() {
			t.Fatalf("%s without disposition or time", line(e))
		}
	case events.Recording:
		if !c.ended {
			t.Fatalf("%s before ended", line(e))
		}
	case events.Ringing:
		c.rang[e.Agent]++
	case events.RingStopped:
		c.stopped[e.Agent]++
		if c.stopped[e.Agent] > c.rang[e.Agent] {
			t.Fatalf("%s: more ring_stopped than ringing for %s", line(e), e.Agent)
		}
	case events.Answered:
		if e.AnsweredBy == "" && e.Agent != "" || e.AnsweredAt.IsZero() {
			t.Fatalf("%s without answer data", line(e))
		}
	}
	if e.Type != events.TerminalSet && (c.silent || !c.started) {
		t.Fatalf("%s on a call that did not start", line(e))
	}
}

func FuzzApply(f *testing.F) {
	// Seeds: an inbound call answered, a ring group, a click-to-call, a
	// transfer mix and some noise.
	f.Add([]byte{
		1, 0, 8, 2, // a: LegCreated external
		1, 1, 0, 1, // b: LegCreated extension, peer a
		2, 1, 0, 0, // b ringing
		4, 1, 0, 0, // b answered
		9, 0, 8, 4, // a hangup normal
		9, 1, 8, 4, // b hangup normal
	})
	f.Add([]byte{
		1, 0, 8, 2, 1, 1, 0, 1, 1, 2, 0, 1, 1, 3, 0, 1,
		2, 1, 0, 0, 2, 2, 0, 0, 2, 3, 0, 0,
		4, 2, 0, 0, 8, 1, 0, 16, 9, 1, 8, 20, 9, 3, 8, 20,
		9, 0, 8, 4, 9, 2, 8, 4,
	})
	f.Add([]byte{
		1, 0, 8, 0x81, 2, 0, 8, 0, 4, 0, 8, 0, 1, 1, 0, 2, 3, 1, 0, 0, 4, 1, 0, 0,
		9, 1, 8, 4, 9, 0, 8, 4, 13, 0, 8, 0, 14, 0, 8, 0,
	})
	f.Add([]byte{
		1, 0, 8, 2, 1, 1, 0, 1, 4, 1, 0, 0, 1, 2, 8, 1, 1, 3, 2, 1, 4, 3, 0, 0,
		11, 1, 0x32, 0, 10, 1, 0, 0, 9, 1, 8, 40, 9, 2, 8, 40, 9, 0, 8, 4, 9, 3, 8, 4,
		15, 4, 8, 0x11, 1, 5, 8, 1, 14, 5, 8, 0x20, 0, 0, 0, 0, 16, 0xff, 0, 0,
	})
	f.Fuzz(func(t *testing.T, data []byte) {
		m := callstate.New(callstate.Options{IDPrefix: "n1-", Node: "n1"})
		tr := &tracker{t: t, calls: map[string]*tracked{}}
		var out []events.Call
		sigs := decodeSignals(data)
		for _, s := range sigs {
			out = m.Apply(s, out[:0])
			for _, e := range out {
				tr.check(e)
			}
			if m.Active() < 0 {
				t.Fatalf("Active() = %d", m.Active())
			}
		}
		// What is in progress can be saved and loaded back.
		snap, err := json.Marshal(m.Snapshot())
		if err != nil {
			t.Fatal(err)
		}
		var back []callstate.Snapshot
		if err := json.Unmarshal(snap, &back); err != nil {
			t.Fatal(err)
		}
		if err := callstate.New(callstate.Options{}).Restore(back); err != nil {
			t.Fatalf("Restore(Snapshot()): %v", err)
		}
		// Every leg hangs up: nothing may stay in progress, every started
		// call ends.
		end := t0.Add(time.Duration(len(sigs)+1) * time.Second)
		for _, l := range fuzzLegs {
			out = m.Apply(callstate.Signal{Kind: callstate.Hangup, Leg: l, Cause: callstate.CauseNormal, At: end}, out[:0])
			for _, e := range out {
				tr.check(e)
			}
		}
		if m.Active() != 0 || len(m.LiveLegs()) != 0 {
			t.Fatalf("Active() = %d, LiveLegs() = %v after every leg hung up", m.Active(), m.LiveLegs())
		}
		for id, c := range tr.calls {
			if c.started && !c.ended {
				t.Fatalf("call %s started but never ended", id)
			}
		}
		st := m.Stats()
		if st.Signals != uint64(len(sigs)+len(fuzzLegs)) {
			t.Fatalf("Signals = %d, applied %d", st.Signals, len(sigs)+len(fuzzLegs))
		}
	})
}
