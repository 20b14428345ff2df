// Package callgen writes realistic call scripts: the PBX-neutral signals an
// Asterisk (ARI) or FreeSWITCH (ESL) adapter sends for a call, modelled on
// the event sequences of the PBX fact sheet (spec §6). It owns the scenarios
// the call state machine is tested against, and a Generator that interleaves
// many concurrent calls for benchmarks and for `ringside demo`.
//
// Everything is deterministic: Script depends only on its arguments, and a
// Generator only on its Config (including the *rand.Rand it draws from).
package callgen

import (
	"strconv"
	"strings"
	"time"

	"github.com/ringside/ringside/pkg/callstate"
)

// Scenario is a kind of call.
type Scenario uint8

// Scenarios. Agents refers to Call.Agents.
const (
	// InboundAnswered: a customer calls, Agents[0] rings and answers.
	InboundAnswered Scenario = iota
	// InboundRingGroup: every agent rings at once; Agents[Winner] answers,
	// the others stop ringing.
	InboundRingGroup
	// InboundHunt: a queue answers the trunk, then the agents ring one
	// after another; all but the last ring out, the last answers.
	InboundHunt
	// InboundMissed: every agent rings out; the caller then leaves a
	// voicemail.
	InboundMissed
	// InboundAbandoned: the caller hangs up while the agents ring.
	InboundAbandoned
	// InboundBusy: every agent is busy.
	InboundBusy
	// OutboundAnswered: Agents[0] dials the customer, who answers.
	OutboundAnswered
	// OutboundNoAnswer: the customer's phone rings out.
	OutboundNoAnswer
	// OutboundBusy: the customer is busy.
	OutboundBusy
	// OutboundFailed: the trunk reports congestion.
	OutboundFailed
	// OutboundCancelled: Agents[0] hangs up while the customer's phone rings.
	OutboundCancelled
	// InternalAnswered: Agents[0] calls Agents[1], who answers.
	InternalAnswered
	// BlindTransfer: a customer's call answered by Agents[0] is
	// blind-transferred to Agents[1], who answers.
	BlindTransfer
	// AttendedTransfer: a customer's call answered by Agents[0]; Agents[0]
	// calls Agents[1] (the consultation call), then hands the customer over.
	AttendedTransfer
	// ClickToCallAnswered: Ringside rings Agents[0] (leg A), who answers;
	// then dials the customer (leg B), who answers.
	ClickToCallAnswered
	// ClickToCallUnanswered: leg A (Agents[0]) rings out; leg B never
	// happens.
	ClickToCallUnanswered
	// FeatureCodeDesk: Agents[0] dials *037 from a desk phone.
	FeatureCodeDesk
	// FeatureCodeMobile: Agents[0] dials 3037 from the mobile in Call.Mobile.
	FeatureCodeMobile
	// Scenarios is the number of scenarios.
	Scenarios
)

var scenarioNames = [...]string{
	InboundAnswered:       "inbound_answered",
	InboundRingGroup:      "inbound_ring_group",
	InboundHunt:           "inbound_hunt",
	InboundMissed:         "inbound_missed",
	InboundAbandoned:      "inbound_abandoned",
	InboundBusy:           "inbound_busy",
	OutboundAnswered:      "outbound_answered",
	OutboundNoAnswer:      "outbound_no_answer",
	OutboundBusy:          "outbound_busy",
	OutboundFailed:        "outbound_failed",
	OutboundCancelled:     "outbound_cancelled",
	InternalAnswered:      "internal_answered",
	BlindTransfer:         "blind_transfer",
	AttendedTransfer:      "attended_transfer",
	ClickToCallAnswered:   "click_to_call_answered",
	ClickToCallUnanswered: "click_to_call_unanswered",
	FeatureCodeDesk:       "feature_code_desk",
	FeatureCodeMobile:     "feature_code_mobile",
}

func (s Scenario) String() string {
	if s < Scenarios {
		return scenarioNames[s]
	}
	return "unknown"
}

// Flavor is the PBX whose event order and causes a script follows.
type Flavor uint8

// Flavors.
const (
	// Asterisk: ARI with Dial events (DialBegin/DialEnd), Dial CANCEL for
	// ring-group losers and for a caller who gives up, cause 26 on losers.
	Asterisk Flavor = iota
	// FreeSWITCH: ESL without Dial events; outcomes travel as hangup causes
	// (LOSE_RACE, ORIGINATOR_CANCEL, NO_ANSWER, USER_BUSY).
	FreeSWITCH
)

func (f Flavor) String() string {
	if f == FreeSWITCH {
		return "freeswitch"
	}
	return "asterisk"
}

// Recording says whether and when an answered call's recording is final.
type Recording uint8

// Recording modes.
const (
	NoRecording        Recording = iota
	RecordingBeforeEnd           // the file is final before the last hangup
	RecordingAfterEnd            // the file is final just after the last hangup
)

// Call describes one scripted call.
type Call struct {
	Scenario  Scenario
	Flavor    Flavor
	Tenant    string
	External  string   // the customer's E.164 number
	Name      string   // the customer's caller-id name (inbound)
	DID       string   // the number the customer dialled (inbound)
	Agents    []string // extensions, as the Scenario says
	Winner    int      // InboundRingGroup: index in Agents of the one who answers
	Mobile    string   // FeatureCodeMobile: the mobile number
	Recording Recording
	Ring      time.Duration // how long phones ring before the outcome (default 6s)
	Talk      time.Duration // how long each answered part lasts (default 60s)
}

// IDs hands out leg ids unique within a run: Prefix followed by a counter.
type IDs struct {
	Prefix string
	n      uint64
}

// Next returns a new leg id.
func (g *IDs) Next() string {
	g.n++
	return g.Prefix + strconv.FormatUint(g.n, 10)
}

// Q.850 codes for the record.
const (
	q850Normal     = 16
	q850Busy       = 17
	q850NoAnswer   = 19
	q850Rejected   = 21
	q850Elsewhere  = 26
	q850Congestion = 34
	q850Interwork  = 127
)

// script accumulates the signals of one call.
type script struct {
	c   Call
	ids *IDs
	at  time.Time
	out []callstate.Signal
}

func (b *script) wait(d time.Duration) { b.at = b.at.Add(d) }

// add appends s at the current time, then lets 10ms pass.
func (b *script) add(s callstate.Signal) {
	s.At = b.at
	b.out = append(b.out, s)
	b.wait(10 * time.Millisecond)
}

func (b *script) ast() bool { return b.c.Flavor == Asterisk }

func (b *script) agent(i int) string {
	if i < len(b.c.Agents) {
		return b.c.Agents[i]
	}
	return "10" + strconv.Itoa(1+i%9) + strconv.Itoa(i%10)
}

// Script returns the signals of c, starting at at, with leg ids from ids.
func Script(c Call, ids *IDs, at time.Time) []callstate.Signal {
	if c.Ring <= 0 {
		c.Ring = 6 * time.Second
	}
	if c.Talk <= 0 {
		c.Talk = 60 * time.Second
	}
	if c.External == "" {
		c.External = "+4930123456"
	}
	b := &script{c: c, ids: ids, at: at, out: make([]callstate.Signal, 0, 24)}
	switch c.Scenario {
	case InboundAnswered:
		b.inboundAnswered(1, 0)
	case InboundRingGroup:
		b.inboundAnswered(max(len(c.Agents), 1), c.Winner)
	case InboundHunt:
		b.inboundHunt()
	case InboundMissed, InboundAbandoned, InboundBusy:
		b.inboundUnanswered()
	case OutboundAnswered, OutboundNoAnswer, OutboundBusy, OutboundFailed, OutboundCancelled, InternalAnswered:
		b.outbound()
	case BlindTransfer:
		b.blindTransfer()
	case AttendedTransfer:
		b.attendedTransfer()
	case ClickToCallAnswered, ClickToCallUnanswered:
		b.clickToCall()
	case FeatureCodeDesk, FeatureCodeMobile:
		b.featureCode()
	}
	return b.out
}

// trunk creates the customer's inbound leg.
func (b *script) trunk() string {
	t := b.ids.Next()
	b.add(callstate.Signal{Kind: callstate.LegCreated, Leg: t, Party: callstate.PartyExternal,
		Number: b.c.External, Name: b.c.Name, Dialed: b.c.DID, Tenant: b.c.Tenant})
	return t
}

// dial creates a leg dialled by caller: the Asterisk Dial begins too.
func (b *script) dial(caller string, party callstate.Party, number string) string {
	p := b.ids.Next()
	b.add(callstate.Signal{Kind: callstate.LegCreated, Leg: p, Peer: caller, Party: party, Number: number, Tenant: b.c.Tenant})
	if b.ast() {
		b.add(callstate.Signal{Kind: callstate.DialBegin, Leg: p, Peer: caller})
	}
	return p
}

// answerAndBridge: callee answers and is bridged with caller.
func (b *script) answerAndBridge(caller, callee string) {
	b.add(callstate.Signal{Kind: callstate.Answered, Leg: callee})
	if b.ast() {
		b.add(callstate.Signal{Kind: callstate.DialEnd, Leg: callee, Peer: caller, Cause: callstate.CauseNormal})
	}
	b.add(callstate.Signal{Kind: callstate.Answered, Leg: caller})
	b.add(callstate.Signal{Kind: callstate.Bridged, Leg: caller, Peer: callee})
}

// talk lets the answered part run, with the recording if any, then both
// legs hang up, a first.
func (b *script) talk(a, z string) {
	rec := ""
	if b.c.Recording != NoRecording {
		rec = b.recordingPath(a)
		b.add(callstate.Signal{Kind: callstate.RecordingStarted, Leg: a, Path: rec})
	}
	b.wait(b.c.Talk)
	if b.c.Recording == RecordingBeforeEnd {
		b.add(callstate.Signal{Kind: callstate.RecordingFinished, Leg: a, Path: rec})
	}
	b.add(callstate.Signal{Kind: callstate.Unbridged, Leg: a, Peer: z})
	b.hangup(a, callstate.CauseNormal, q850Normal)
	b.hangup(z, callstate.CauseNormal, q850Normal)
	if b.c.Recording == RecordingAfterEnd {
		b.wait(400 * time.Millisecond)
		b.add(callstate.Signal{Kind: callstate.RecordingFinished, Leg: a, Path: rec})
	}
}

func (b *script) recordingPath(leg string) string {
	tenant := b.c.Tenant
	if tenant == "" {
		tenant = "default"
	}
	if b.ast() {
		return "/var/spool/asterisk/monitor/" + tenant + "/" + leg + ".wav"
	}
	return "/var/lib/freeswitch/recordings/" + tenant + "/" + leg + ".wav"
}

func (b *script) hangup(leg string, cause callstate.Cause, code int) {
	b.add(callstate.Signal{Kind: callstate.Hangup, Leg: leg, Cause: cause, CauseCode: code})
}

// dialEnd reports an Asterisk Dial outcome (nothing on FreeSWITCH).
func (b *script) dialEnd(caller, callee string, cause callstate.Cause) {
	if b.ast() {
		b.add(callstate.Signal{Kind: callstate.DialEnd, Leg: callee, Peer: caller, Cause: cause})
	}
}

// ringAll creates n agent legs dialled by t and lets them ring (unless they
// are busy: a busy phone does not ring).
func (b *script) ringAll(t string, n int) []string {
	legs := make([]string, n)
	for i := range legs {
		legs[i] = b.dial(t, callstate.PartyExtension, b.agent(i))
	}
	b.wait(80 * time.Millisecond)
	if b.c.Scenario == InboundBusy {
		return legs
	}
	for _, p := range legs {
		b.add(callstate.Signal{Kind: callstate.Ringing, Leg: p})
	}
	if !b.ast() {
		b.add(callstate.Signal{Kind: callstate.Ringing, Leg: t}) // ring-ready passed to the caller
	}
	b.wait(b.c.Ring)
	return legs
}

func (b *script) inboundAnswered(n, winner int) {
	if winner < 0 || winner >= n {
		winner = 0
	}
	t := b.trunk()
	legs := b.ringAll(t, n)
	p := legs[winner]
	b.add(callstate.Signal{Kind: callstate.Answered, Leg: p})
	for i, x := range legs {
		if i == winner {
			continue
		}
		b.dialEnd(t, x, callstate.CauseCancelled)
		b.hangup(x, callstate.CauseAnsweredElsewhere, q850Elsewhere)
	}
	b.dialEnd(t, p, callstate.CauseNormal)
	b.add(callstate.Signal{Kind: callstate.Answered, Leg: t})
	b.add(callstate.Signal{Kind: callstate.Bridged, Leg: t, Peer: p})
	b.talk(t, p)
}

func (b *script) inboundHunt() {
	t := b.trunk()
	b.add(callstate.Signal{Kind: callstate.Answered, Leg: t}) // the queue picks up
	b.wait(2 * time.Second)
	n := max(len(b.c.Agents), 1)
	for i := 0; i < n; i++ {
		p := b.dial(t, callstate.PartyExtension, b.agent(i))
		b.add(callstate.Signal{Kind: callstate.Ringing, Leg: p})
		if i < n-1 {
			b.wait(b.c.Ring)
			b.dialEnd(t, p, callstate.CauseNoAnswer)
			b.hangup(p, callstate.CauseNoAnswer, q850NoAnswer)
			b.wait(time.Second)
			continue
		}
		b.wait(b.c.Ring / 2)
		b.add(callstate.Signal{Kind: callstate.Answered, Leg: p})
		b.dialEnd(t, p, callstate.CauseNormal)
		b.add(callstate.Signal{Kind: callstate.Bridged, Leg: t, Peer: p})
		b.talk(t, p)
	}
}

func (b *script) inboundUnanswered() {
	t := b.trunk()
	legs := b.ringAll(t, max(len(b.c.Agents), 1))
	switch b.c.Scenario {
	case InboundMissed:
		for _, p := range legs {
			b.dialEnd(t, p, callstate.CauseNoAnswer)
			b.hangup(p, callstate.CauseNoAnswer, q850NoAnswer)
		}
		// The caller goes to voicemail and leaves a message.
		b.add(callstate.Signal{Kind: callstate.Answered, Leg: t})
		b.wait(25 * time.Second)
		b.hangup(t, callstate.CauseNormal, q850Normal)
	case InboundAbandoned:
		if b.ast() {
			for _, p := range legs {
				b.dialEnd(t, p, callstate.CauseCancelled)
			}
			for _, p := range legs {
				b.hangup(p, callstate.CauseNormal, q850Normal)
			}
			b.hangup(t, callstate.CauseUnknown, q850Interwork)
			return
		}
		b.hangup(t, callstate.CauseCancelled, q850Normal)
		for _, p := range legs {
			b.hangup(p, callstate.CauseCancelled, q850Normal)
		}
	case InboundBusy:
		for _, p := range legs {
			b.dialEnd(t, p, callstate.CauseBusy)
			b.hangup(p, callstate.CauseBusy, q850Busy)
		}
		b.wait(3 * time.Second)
		b.hangup(t, callstate.CauseBusy, q850Busy)
	}
}

// dialledForm is what a phone dials for an E.164 number: 00 instead of +.
func dialledForm(e164 string) string {
	if rest, ok := strings.CutPrefix(e164, "+"); ok {
		return "00" + rest
	}
	return e164
}

func (b *script) outbound() {
	a := b.ids.Next()
	ext := b.agent(0)
	party, number, dialled := callstate.PartyExternal, b.c.External, dialledForm(b.c.External)
	if b.c.Scenario == InternalAnswered {
		party, number, dialled = callstate.PartyExtension, b.agent(1), b.agent(1)
	}
	b.add(callstate.Signal{Kind: callstate.LegCreated, Leg: a, Party: callstate.PartyExtension,
		Number: ext, Name: "Ext " + ext, Dialed: dialled, Tenant: b.c.Tenant})
	z := b.dial(a, party, number)
	ring := callstate.EarlyMedia // a trunk sends 183 with SDP
	if party == callstate.PartyExtension || b.c.Scenario == OutboundNoAnswer {
		ring = callstate.Ringing
	}
	fail := func(cause callstate.Cause, code int) {
		b.dialEnd(a, z, cause)
		b.hangup(z, cause, code)
		b.wait(time.Second)
		if b.ast() {
			b.hangup(a, callstate.CauseNormal, q850Normal)
		} else {
			b.hangup(a, cause, code)
		}
	}
	switch b.c.Scenario {
	case OutboundBusy:
		b.wait(900 * time.Millisecond)
		fail(callstate.CauseBusy, q850Busy)
		return
	case OutboundFailed:
		b.wait(1500 * time.Millisecond)
		fail(callstate.CauseCongestion, q850Congestion)
		return
	}
	b.wait(700 * time.Millisecond)
	b.add(callstate.Signal{Kind: ring, Leg: z})
	if !b.ast() {
		b.add(callstate.Signal{Kind: ring, Leg: a})
	}
	b.wait(b.c.Ring)
	switch b.c.Scenario {
	case OutboundNoAnswer:
		fail(callstate.CauseNoAnswer, q850NoAnswer)
	case OutboundCancelled:
		if b.ast() {
			b.dialEnd(a, z, callstate.CauseCancelled)
			b.hangup(z, callstate.CauseNormal, q850Normal)
			b.hangup(a, callstate.CauseNormal, q850Normal)
			return
		}
		b.hangup(a, callstate.CauseNormal, q850Normal)
		b.hangup(z, callstate.CauseCancelled, q850Normal)
	default:
		b.answerAndBridge(a, z)
		b.talk(a, z)
	}
}

// answeredToAgent scripts a customer's call answered by Agents[0]; it
// returns the trunk and agent legs.
func (b *script) answeredToAgent() (t, p string) {
	t = b.trunk()
	p = b.ringAll(t, 1)[0]
	b.add(callstate.Signal{Kind: callstate.Answered, Leg: p})
	b.dialEnd(t, p, callstate.CauseNormal)
	b.add(callstate.Signal{Kind: callstate.Answered, Leg: t})
	b.add(callstate.Signal{Kind: callstate.Bridged, Leg: t, Peer: p})
	if b.c.Recording != NoRecording {
		// MixMonitor on the trunk leg survives the transfer.
		b.add(callstate.Signal{Kind: callstate.RecordingStarted, Leg: t, Path: b.recordingPath(t)})
	}
	b.wait(b.c.Talk / 2)
	return t, p
}

// finishTransferred ends a transferred call: talk, then hang up.
func (b *script) finishTransferred(t, q string) {
	rec := b.recordingPath(t)
	b.wait(b.c.Talk)
	if b.c.Recording == RecordingBeforeEnd {
		b.add(callstate.Signal{Kind: callstate.RecordingFinished, Leg: t, Path: rec})
	}
	b.hangup(t, callstate.CauseNormal, q850Normal)
	b.hangup(q, callstate.CauseNormal, q850Normal)
	if b.c.Recording == RecordingAfterEnd {
		b.wait(400 * time.Millisecond)
		b.add(callstate.Signal{Kind: callstate.RecordingFinished, Leg: t, Path: rec})
	}
}

func (b *script) blindTransfer() {
	t, p := b.answeredToAgent()
	target := b.agent(1)
	b.add(callstate.Signal{Kind: callstate.TransferBlind, Leg: p, Peer: t, Target: target})
	b.add(callstate.Signal{Kind: callstate.Unbridged, Leg: t, Peer: p})
	if b.ast() {
		b.hangup(p, callstate.CauseNormal, q850Normal)
	} else {
		b.hangup(p, callstate.CauseTransferred, q850Normal)
	}
	q := b.dial(t, callstate.PartyExtension, target)
	b.add(callstate.Signal{Kind: callstate.Ringing, Leg: q})
	b.wait(b.c.Ring)
	b.add(callstate.Signal{Kind: callstate.Answered, Leg: q})
	b.dialEnd(t, q, callstate.CauseNormal)
	b.add(callstate.Signal{Kind: callstate.Bridged, Leg: t, Peer: q})
	b.finishTransferred(t, q)
}

func (b *script) attendedTransfer() {
	t, p := b.answeredToAgent()
	// The agent puts the customer on hold and calls a colleague.
	p2 := b.ids.Next()
	target := b.agent(1)
	b.add(callstate.Signal{Kind: callstate.LegCreated, Leg: p2, Party: callstate.PartyExtension,
		Number: b.agent(0), Dialed: target, Tenant: b.c.Tenant})
	q := b.dial(p2, callstate.PartyExtension, target)
	b.add(callstate.Signal{Kind: callstate.Ringing, Leg: q})
	b.wait(b.c.Ring)
	b.answerAndBridge(p2, q)
	b.wait(20 * time.Second)
	b.add(callstate.Signal{Kind: callstate.TransferAttended, Leg: p, Peer: p2, Target: q})
	b.hangup(p, callstate.CauseTransferred, q850Normal)
	b.hangup(p2, callstate.CauseTransferred, q850Normal)
	b.add(callstate.Signal{Kind: callstate.Bridged, Leg: t, Peer: q})
	b.finishTransferred(t, q)
}

func (b *script) clickToCall() {
	a := b.ids.Next()
	ext := b.agent(0)
	b.add(callstate.Signal{Kind: callstate.LegCreated, Leg: a, Party: callstate.PartyExtension,
		Number: ext, Dialed: b.c.External, Originated: true, Tenant: b.c.Tenant})
	if b.ast() {
		b.add(callstate.Signal{Kind: callstate.DialBegin, Leg: a}) // ARI originate: no caller
	}
	b.add(callstate.Signal{Kind: callstate.Ringing, Leg: a})
	b.wait(b.c.Ring)
	if b.c.Scenario == ClickToCallUnanswered {
		b.hangup(a, callstate.CauseNoAnswer, q850NoAnswer)
		return
	}
	b.add(callstate.Signal{Kind: callstate.Answered, Leg: a})
	b.dialEnd("", a, callstate.CauseNormal)
	z := b.ids.Next()
	b.add(callstate.Signal{Kind: callstate.LegCreated, Leg: z, Peer: a, Party: callstate.PartyExternal,
		Number: b.c.External, Tenant: b.c.Tenant})
	if b.ast() {
		b.add(callstate.Signal{Kind: callstate.DialBegin, Leg: z})
		b.add(callstate.Signal{Kind: callstate.Ringing, Leg: z})
	} else {
		b.add(callstate.Signal{Kind: callstate.EarlyMedia, Leg: z})
	}
	b.wait(b.c.Ring)
	b.add(callstate.Signal{Kind: callstate.Answered, Leg: z})
	b.dialEnd("", z, callstate.CauseNormal)
	b.add(callstate.Signal{Kind: callstate.Bridged, Leg: a, Peer: z})
	b.talk(z, a)
}

func (b *script) featureCode() {
	x := b.ids.Next()
	ext := b.agent(0)
	code, device, mobile := "*037", "PJSIP/"+ext, ""
	if b.c.Scenario == FeatureCodeMobile {
		code, device, mobile = "3037", "PJSIP/"+ext+"-mobile", b.c.Mobile
	}
	b.add(callstate.Signal{Kind: callstate.LegCreated, Leg: x, Party: callstate.PartyExtension,
		Number: ext, Dialed: code, Tenant: b.c.Tenant})
	b.add(callstate.Signal{Kind: callstate.FeatureCode, Leg: x, Code: code, Number: ext, Device: device, Dialed: mobile})
	b.add(callstate.Signal{Kind: callstate.Answered, Leg: x}) // the confirmation prompt
	b.wait(2 * time.Second)
	b.hangup(x, callstate.CauseNormal, q850Normal)
}
