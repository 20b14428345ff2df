package asterisk

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/CyCoreSystems/ari/v5"

	"github.com/ringside/ringside/pkg/callstate"
)

// The captures in testdata/captures are real Asterisk 22.10.1 traffic,
// copied from the team's spec (spec/asterisk-captures): every line must go
// through decoding and translation without error or panic, and give the
// signals a user would expect from what happened on the PBX.

func readCapture(t testing.TB, name string) [][]byte {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "captures", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines [][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if l := bytes.TrimSpace(sc.Bytes()); len(l) > 0 {
			lines = append(lines, bytes.Clone(l))
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return lines
}

// playCapture translates a capture and feeds a state machine with it.
func playCapture(t *testing.T, name string) ([]callstate.Signal, *callstate.Machine) {
	t.Helper()
	tr := NewTranslator(TranslatorOptions{})
	m := callstate.New(callstate.Options{})
	var sigs []callstate.Signal
	for i, line := range readCapture(t, name) {
		n := len(sigs)
		var err error
		var typ string
		sigs, typ, _, err = tr.Translate(line, time.Time{}, sigs)
		if err != nil || typ == "" {
			t.Fatalf("%s line %d: type %q, %v", name, i+1, typ, err)
		}
		for _, s := range sigs[n:] {
			if s.At.IsZero() {
				t.Fatalf("%s line %d: signal %v without a time", name, i+1, s.Kind)
			}
			m.Apply(s, nil)
		}
	}
	return sigs, m
}

func render(s callstate.Signal) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", s.Kind, s.Leg)
	if s.Peer != "" {
		fmt.Fprintf(&b, " peer=%s", s.Peer)
	}
	switch s.Kind {
	case callstate.LegCreated:
		fmt.Fprintf(&b, " party=%d number=%q", s.Party, s.Number)
	case callstate.DialEnd, callstate.Hangup:
		fmt.Fprintf(&b, " cause=%s", s.Cause)
	case callstate.RecordingStarted, callstate.RecordingFinished:
		fmt.Fprintf(&b, " path=%s", s.Path)
	}
	return b.String()
}

// wantSignals checks that want appears in sigs in this order (other signals
// may come between).
func wantSignals(t *testing.T, sigs []callstate.Signal, want ...string) {
	t.Helper()
	i := 0
	for _, s := range sigs {
		if i < len(want) && render(s) == want[i] {
			i++
		}
	}
	if i < len(want) {
		var got []string
		for _, s := range sigs {
			got = append(got, render(s))
		}
		t.Fatalf("missing %q (after %d of %d expected)\ngot:\n  %s", want[i], i, len(want), strings.Join(got, "\n  "))
	}
}

func count(sigs []callstate.Signal, k callstate.Kind) int {
	n := 0
	for _, s := range sigs {
		if s.Kind == k {
			n++
		}
	}
	return n
}

func TestCapturesTranslate(t *testing.T) {
	for _, tc := range []struct {
		file    string
		invalid uint64 // signals the machine rightly refuses
		want    []string
	}{
		{"01-local-dial-answer.jsonl", 0, []string{
			// An originated Local channel (;1) runs Dial from its ;2 half to
			// a Local "phone" that rings and answers.
			`leg_created 1795247194.0 party=0 number=""`,
			`leg_created 1795247194.1 peer=1795247194.0 party=0 number=""`,
			`dial_begin 1795247194.0`,
			`leg_created 1795247194.2 peer=1795247194.1 party=0 number=""`,
			`leg_created 1795247194.3 peer=1795247194.2 party=0 number=""`,
			`dial_begin 1795247194.2 peer=1795247194.1`,
			`ringing 1795247194.2`,
			`answered 1795247194.2`,
			`answered 1795247194.1`,
			`bridged 1795247194.1 peer=1795247194.2`,
			`hangup 1795247194.3 cause=normal`,
			`unbridged 1795247194.2 peer=1795247194.1`,
			`hangup 1795247194.2 cause=normal`,
			`hangup 1795247194.1 cause=normal`,
			`hangup 1795247194.0 cause=normal`,
		}},
		{"02-local-dial-busy.jsonl", 0, []string{
			`leg_created 1795247204.6 peer=1795247204.5 party=0 number=""`,
			`dial_end 1795247204.6 peer=1795247204.5 cause=busy`,
			`hangup 1795247204.7 cause=busy`,
			`dial_end 1795247204.4 cause=no_answer`, // the originate itself was never answered
		}},
		{"03-local-dial-noanswer.jsonl", 0, []string{
			`dial_begin 1795247209.10 peer=1795247209.9`,
			`ringing 1795247209.10`,
			`dial_end 1795247209.10 peer=1795247209.9 cause=no_answer`,
			`hangup 1795247209.10 cause=unknown`,
		}},
		// Two legs the app created separately, then bridged: two calls, and
		// the machine refuses to merge calls on a bridge alone.
		{"05-ari-bridge-dial-play-record.jsonl", 1, []string{
			`leg_created leg-b-1 party=0 number=""`,
			`leg_created leg-b-1;2 peer=leg-b-1 party=0 number=""`,
			`answered leg-b-1`,
			`leg_created leg-c-1 party=0 number=""`,
			`answered leg-c-1`,
			`bridged leg-c-1 peer=leg-b-1`,
			`recording_started leg-b-1 path=/var/spool/asterisk/recording/rec-1.wav`,
			`recording_finished leg-b-1 path=/var/spool/asterisk/recording/rec-1.wav`,
			`unbridged leg-c-1 peer=leg-b-1`,
			`hangup leg-c-1 cause=normal`,
			`hangup leg-b-1 cause=busy`,
		}},
		{"08-ari-originate-pjsip-uas.jsonl", 0, []string{
			// ARI originates to the PJSIP endpoint "uas" (not an extension
			// name: the outside world), which rings and answers.
			`leg_created out-uas-1 party=2 number="5550000"`,
			`dial_begin out-uas-1`,
			`ringing out-uas-1`,
			`answered out-uas-1`,
			`hangup out-uas-1 cause=normal`,
		}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			sigs, m := playCapture(t, tc.file)
			wantSignals(t, sigs, tc.want...)
			if n := m.Active(); n != 0 {
				t.Errorf("%d calls still in progress after the capture; every channel was destroyed", n)
			}
			if st := m.Stats(); st.Ignored[callstate.IgnoredUnknownLeg] != 0 || st.Ignored[callstate.IgnoredInvalid] != tc.invalid ||
				st.Ignored[callstate.IgnoredDuplicate] != 0 {
				t.Errorf("machine ignored signals: %+v", st.Ignored)
			}
			if c, h := count(sigs, callstate.LegCreated), count(sigs, callstate.Hangup); c != h {
				t.Errorf("%d legs created, %d hung up", c, h)
			}
		})
	}
}

// TestCaptureRecordingOnce: with subscribeAll, recording events on a Stasis
// bridge arrive twice; the recording is reported once.
func TestCaptureRecordingOnce(t *testing.T) {
	sigs, _ := playCapture(t, "05-ari-bridge-dial-play-record.jsonl")
	if s, f := count(sigs, callstate.RecordingStarted), count(sigs, callstate.RecordingFinished); s != 1 || f != 1 {
		t.Fatalf("recording started %d, finished %d times; want once each", s, f)
	}
}

// TestDecodeAgreesWithAriV5 checks our decoding against the library's on
// every capture line whose type ari/v5 knows: same type, same channel id.
func TestDecodeAgreesWithAriV5(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "captures", "*.jsonl"))
	if len(files) == 0 {
		t.Fatal("no captures")
	}
	for _, f := range files {
		for i, line := range readCapture(t, filepath.Base(f)) {
			var ev Event
			if err := Decode(line, &ev); err != nil {
				t.Fatalf("%s:%d: %v", f, i+1, err)
			}
			lib, err := ari.DecodeEvent(line)
			if err != nil {
				continue // a type ari/v5 does not know (or a field it cannot parse)
			}
			if lib.GetType() != ev.Type {
				t.Errorf("%s:%d: type %q, ari/v5 %q", f, i+1, ev.Type, lib.GetType())
			}
			var ch *ari.ChannelData
			switch e := lib.(type) {
			case *ari.ChannelCreated:
				ch = &e.Channel
			case *ari.ChannelStateChange:
				ch = &e.Channel
			case *ari.ChannelDestroyed:
				ch = &e.Channel
				if e.Cause != ev.Cause {
					t.Errorf("%s:%d: cause %d, ari/v5 %d", f, i+1, ev.Cause, e.Cause)
				}
			case *ari.StasisStart:
				ch = &e.Channel
			case *ari.Dial:
				if e.Peer.ID != ev.Peer.ID || e.Dialstatus != ev.DialStatus {
					t.Errorf("%s:%d: dial %s %s, ari/v5 %s %s", f, i+1, ev.Peer.ID, ev.DialStatus, e.Peer.ID, e.Dialstatus)
				}
			}
			if ch != nil && (ev.Channel == nil || ch.ID != ev.Channel.ID || ch.State != ev.Channel.State) {
				t.Errorf("%s:%d: channel %+v, ari/v5 %s/%s", f, i+1, ev.Channel, ch.ID, ch.State)
			}
		}
	}
}
