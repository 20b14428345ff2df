package arisim

import (
	"fmt"
	"strings"
	"time"
)

// The cast of every script (the conformance suite's): the customer calls
// the DID from the trunk endpoint "trunk"; extensions are PJSIP endpoints
// named by their number; outbound calls dial PJSIP/<number>@trunk.
const (
	Customer = "+4930123456"
	DID      = "+4930999000"
	Trunk    = "PJSIP/trunk"
)

// Scenarios lists the scripts Play knows, named like the conformance
// scenarios. click_to_call is not among them: Ringside drives it through
// REST (originate, create, dial, bridges) and the simulator answers.
var Scenarios = []string{
	"inbound_answered", "ring_group_one_answers", "hunt_second_answers", "inbound_missed",
	"inbound_abandoned", "inbound_busy", "outbound_answered", "outbound_no_answer", "outbound_busy",
	"internal_answered", "blind_transfer", "attended_transfer", "inbound_recorded", "feature_code_desk",
	"feature_code_mobile",
}

// Play runs a script to its end on the virtual clock (the sequences of the
// fact sheet §6, with the interleaving and the noise of the captures).
func (s *Server) Play(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch name {
	case "inbound_answered":
		s.inbound([]string{"1001"}, 0, false)
	case "inbound_recorded":
		s.inbound([]string{"1001"}, 0, true)
	case "ring_group_one_answers":
		s.inbound([]string{"1001", "1002", "1003"}, 1, false)
	case "hunt_second_answers":
		s.hunt()
	case "inbound_missed", "inbound_abandoned", "inbound_busy":
		s.inboundUnanswered(name)
	case "outbound_answered", "outbound_no_answer", "outbound_busy":
		s.outbound(name)
	case "internal_answered":
		a := s.phone("1001", "1002")
		ps := s.dialPeers(a, []string{"1002"}, "Dial")
		s.ringPeers(a, ps)
		s.now = s.now.Add(4 * time.Second)
		b := s.answerPeer(a, ps[0], nil)
		s.now = s.now.Add(45 * time.Second)
		s.hangupBridged(b, a, ps[0])
	case "blind_transfer":
		s.blindTransfer()
	case "attended_transfer":
		s.attendedTransfer()
	case "feature_code_desk":
		s.featureCode("1001", "*037", "")
	case "feature_code_mobile":
		s.featureCode("1001", "3037", "+491701234567")
	default:
		return fmt.Errorf("arisim: no script %q", name)
	}
	return nil
}

// StartInbound starts an inbound call answered by ext and leaves it up; it
// returns the trunk and agent channel ids and the bridge (for EndCall).
func (s *Server) StartInbound(ext string) (trunk, agent, bridge string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.trunkCall(false)
	ps := s.dialPeers(t, []string{ext}, "Dial")
	s.ringPeers(t, ps)
	s.now = s.now.Add(3 * time.Second)
	b := s.answerPeer(t, ps[0], nil)
	s.now = s.now.Add(20 * time.Second)
	return t.ID, ps[0].ID, b.ID
}

// EndCall ends a bridged two-party call: first hangs up, the other follows.
func (s *Server) EndCall(bridge, first, second string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, f, o := s.bridges[bridge], s.channels[first], s.channels[second]
	if b == nil || f == nil || o == nil {
		return
	}
	s.hangupBridged(b, f, o)
}

// RemoteHangup is the far end of a channel hanging up with cause.
func (s *Server) RemoteHangup(id string, cause int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.channels[id]; c != nil {
		s.remoteHangup(c, cause)
	}
}

// trunkCall creates the customer's inbound channel (state Ring).
func (s *Server) trunkCall(record bool) *Channel { return s.trunkCallFrom(Customer, record) }

// trunkCallFrom is trunkCall from another number.
func (s *Server) trunkCallFrom(number string, record bool) *Channel {
	t := s.newChannel("", Trunk, "Ring", CallerID{Number: number}, DID, "")
	s.deviceState(Trunk, "INUSE")
	if record {
		s.dialplan(t, "MixMonitor", "${UNIQUEID}.wav")
		dir := s.o.RecordingDir
		if dir == "" {
			dir = "/var/spool/asterisk/monitor"
		}
		s.varset(t, "MIXMONITOR_FILENAME", fmt.Sprintf("%s/%s/%s.wav", strings.TrimRight(dir, "/"), s.o.Tenant, t.ID))
	}
	return t
}

// phone creates an extension's own call (state Ring, dialling exten).
func (s *Server) phone(ext, exten string) *Channel {
	return s.newChannel("", "PJSIP/"+ext, "Ring", CallerID{Name: "Ext " + ext, Number: ext}, exten, "")
}

// dialPeers runs Dial (or Queue, whose dialstring is the whole interface)
// from caller to each extension at once.
func (s *Server) dialPeers(caller *Channel, exts []string, app string) []*Channel {
	var targets []string
	for _, e := range exts {
		targets = append(targets, "PJSIP/"+e)
	}
	if app == "Dial" {
		s.dialplan(caller, "Dial", strings.Join(targets, "&")+",30")
		for _, v := range []string{"DIALSTATUS", "DIALEDPEERNUMBER", "DIALEDPEERNAME", "ANSWEREDTIME", "DIALEDTIME", "RINGTIME"} {
			s.varset(caller, v, "")
		}
	}
	peers := make([]*Channel, len(exts))
	for i, e := range exts {
		p := s.newChannel("", "PJSIP/"+e, "Down", CallerID{}, "s", caller.Linkedid)
		s.dialplan(p, "AppDial", "(Outgoing Line)")
		s.callerID(p, CallerID{Number: caller.Exten})
		s.connectedLine(p, caller.Caller)
		ds := e
		if app != "Dial" {
			ds = "PJSIP/" + e
		}
		s.dialEvent(caller, p, ds, "")
		peers[i] = p
	}
	return peers
}

func dialstring(p *Channel) string { return resourceOf(p.Endpoint) }

func (s *Server) ringPeers(caller *Channel, peers []*Channel) {
	for _, p := range peers {
		s.setState(p, "Ringing")
		s.dialEvent(caller, p, dialstring(p), "RINGING")
		s.deviceState(p.Endpoint, "RINGING")
	}
	s.varset(caller, "RINGTIME", "0")
}

// answerPeer: winner answers, the others are cancelled (cause 26), the
// caller is answered and both enter a basic bridge.
func (s *Server) answerPeer(caller, winner *Channel, losers []*Channel) *Bridge {
	s.setState(winner, "Up")
	for _, l := range losers {
		s.dialEvent(caller, l, dialstring(l), "CANCEL")
	}
	for _, l := range losers {
		s.destroy(l, 26)
	}
	s.varset(caller, "DIALSTATUS", "ANSWER")
	s.varset(caller, "DIALEDPEERNAME", winner.Name)
	s.dialEvent(caller, winner, dialstring(winner), "ANSWER")
	s.setState(caller, "Up")
	s.connectedLine(caller, CallerID{Number: resourceOf(winner.Endpoint)})
	b := s.newBridge("", "basic")
	s.enter(b, winner)
	s.enter(b, caller)
	s.deviceState(winner.Endpoint, "INUSE")
	return b
}

// hangupBridged: first hangs up, the bridge breaks, the other leg's Dial
// returns and it hangs up too (the order of capture 01).
func (s *Server) hangupBridged(b *Bridge, first, other *Channel) {
	s.hangupRequest(first, 16, false)
	s.varset(first, "RTPAUDIOQOS", "ssrc=1881983269;themssrc=0;lp=0;rxjitter=0.000000;rxcount=0;txjitter=0.000000;txcount=0")
	s.destroy(first, 16)
	if other.Bridge == b.ID {
		s.leave(b, other)
	}
	s.varset(other, "ANSWEREDTIME", "60")
	s.hangupRequest(other, 16, true)
	s.destroy(other, 16)
	s.destroyBridge(b)
}

func (s *Server) inbound(exts []string, winner int, record bool) {
	t := s.trunkCall(record)
	peers := s.dialPeers(t, exts, "Dial")
	s.ringPeers(t, peers)
	s.now = s.now.Add(6 * time.Second)
	var losers []*Channel
	for i, p := range peers {
		if i != winner {
			losers = append(losers, p)
		}
	}
	b := s.answerPeer(t, peers[winner], losers)
	s.now = s.now.Add(60 * time.Second)
	if record {
		s.hangupBridged(b, peers[winner], t) // the trunk (recorded) goes last
		return
	}
	s.hangupBridged(b, t, peers[winner])
}

// hunt: a queue answers the trunk, rings 1001 until its timeout, then 1002,
// who answers.
func (s *Server) hunt() {
	t := s.trunkCall(false)
	s.dialplan(t, "Answer", "")
	s.setState(t, "Up")
	s.dialplan(t, "Queue", "support,t")
	s.now = s.now.Add(2 * time.Second)
	p1 := s.dialPeers(t, []string{"1001"}, "Queue")[0]
	s.ringPeers(t, []*Channel{p1})
	s.now = s.now.Add(15 * time.Second)
	s.dialEvent(t, p1, "PJSIP/1001", "NOANSWER")
	s.hangupRequest(p1, 0, false)
	s.destroy(p1, 0)
	s.now = s.now.Add(2 * time.Second)
	p2 := s.dialPeers(t, []string{"1002"}, "Queue")[0]
	s.ringPeers(t, []*Channel{p2})
	s.now = s.now.Add(4 * time.Second)
	s.setState(p2, "Up")
	s.dialEvent(t, p2, "PJSIP/1002", "ANSWER")
	b := s.newBridge("", "basic")
	s.enter(b, p2)
	s.enter(b, t)
	s.now = s.now.Add(50 * time.Second)
	s.hangupBridged(b, p2, t)
}

func (s *Server) inboundUnanswered(name string) {
	t := s.trunkCall(false)
	exts := []string{"1001", "1002"}
	if name == "inbound_busy" {
		exts = exts[:1]
	}
	peers := s.dialPeers(t, exts, "Dial")
	switch name {
	case "inbound_missed":
		s.ringPeers(t, peers)
		s.now = s.now.Add(30 * time.Second)
		for _, p := range peers {
			s.dialEvent(t, p, dialstring(p), "NOANSWER")
		}
		for _, p := range peers {
			s.hangupRequest(p, 0, false)
			s.destroy(p, 0)
		}
		s.varset(t, "DIALSTATUS", "NOANSWER")
		s.dialplan(t, "Hangup", "")
		s.hangupRequest(t, 16, false)
		s.destroy(t, 16)
	case "inbound_abandoned":
		s.ringPeers(t, peers)
		s.now = s.now.Add(8 * time.Second)
		s.hangupRequest(t, 127, false) // the caller's CANCEL
		for _, p := range peers {
			s.dialEvent(t, p, dialstring(p), "CANCEL")
		}
		for _, p := range peers {
			s.destroy(p, 16)
		}
		s.varset(t, "DIALSTATUS", "CANCEL")
		s.destroy(t, 127)
	case "inbound_busy":
		p := peers[0]
		s.setState(p, "Busy")
		s.dialEvent(t, p, dialstring(p), "BUSY")
		s.hangupRequest(p, 17, false)
		s.destroy(p, 17)
		s.varset(t, "DIALSTATUS", "BUSY")
		s.dialplan(t, "Busy", "10")
		s.setState(t, "Busy")
		s.now = s.now.Add(3 * time.Second)
		s.hangupRequest(t, 17, false)
		s.destroy(t, 17)
	}
}

// outbound: 1001 dials the customer through the trunk, which sends 183
// with SDP (no Ringing state) when the customer answers, 180 otherwise.
func (s *Server) outbound(name string) {
	a := s.phone("1001", Customer)
	target := "PJSIP/" + Customer + "@trunk"
	s.dialplan(a, "Dial", target+",60")
	s.varset(a, "DIALSTATUS", "")
	b := s.newChannel("", target, "Down", CallerID{}, "s", a.Linkedid)
	s.dialplan(b, "AppDial", "(Outgoing Line)")
	s.callerID(b, CallerID{Number: a.Exten})
	s.connectedLine(b, a.Caller)
	ds := resourceOf(target)
	s.dialEvent(a, b, ds, "")
	s.now = s.now.Add(700 * time.Millisecond)
	switch name {
	case "outbound_busy":
		s.dialEvent(a, b, ds, "BUSY")
		s.hangupRequest(b, 17, false)
		s.destroy(b, 17)
		s.varset(a, "DIALSTATUS", "BUSY")
		s.hangupRequest(a, 16, false)
		s.destroy(a, 16)
	case "outbound_no_answer":
		s.setState(b, "Ringing")
		s.dialEvent(a, b, ds, "RINGING")
		s.now = s.now.Add(60 * time.Second)
		s.dialEvent(a, b, ds, "NOANSWER")
		s.hangupRequest(b, 16, false)
		s.destroy(b, 16)
		s.varset(a, "DIALSTATUS", "NOANSWER")
		s.hangupRequest(a, 16, false)
		s.destroy(a, 16)
	default:
		s.dialEvent(a, b, ds, "PROGRESS")
		s.now = s.now.Add(6 * time.Second)
		s.setState(b, "Up")
		s.dialEvent(a, b, ds, "ANSWER")
		s.setState(a, "Up")
		br := s.newBridge("", "basic")
		s.enter(br, b)
		s.enter(br, a)
		s.now = s.now.Add(60 * time.Second)
		s.hangupBridged(br, b, a)
	}
}

// blindTransfer: the customer's call answered by 1001, who sends a REFER to
// 1003 (fact sheet §6 e); 1003 answers.
func (s *Server) blindTransfer() {
	t := s.trunkCall(false)
	p := s.dialPeers(t, []string{"1001"}, "Dial")[0]
	s.ringPeers(t, []*Channel{p})
	s.now = s.now.Add(5 * time.Second)
	b1 := s.answerPeer(t, p, nil)
	s.now = s.now.Add(30 * time.Second)
	s.varset(t, "BLINDTRANSFER", p.Name)
	s.varset(t, "SIPTRANSFER", "yes")
	s.varset(t, "SIPREFERTOHDR", "<sip:1003@pbx>")
	s.leave(b1, p)
	s.emit("BridgeBlindTransfer", nil, obj{{"channel", s.snapshot(p)}, {"transferee", s.snapshot(t)},
		{"bridge", s.bridgeJSON(b1)}, {"context", s.context("internal")}, {"exten", "1003"},
		{"result", "Success"}, {"is_external", true}})
	s.leave(b1, t)
	delete(s.bridges, b1.ID)
	s.emit("BridgeDestroyed", nil, obj{{"bridge", s.bridgeJSON(b1)}})
	s.hangupRequest(p, 16, false)
	s.destroy(p, 16)
	t.Context, t.Exten, t.Priority = s.context("internal"), "1003", 0
	q := s.dialPeers(t, []string{"1003"}, "Dial")[0]
	s.ringPeers(t, []*Channel{q})
	s.now = s.now.Add(5 * time.Second)
	b2 := s.answerPeer(t, q, nil)
	s.now = s.now.Add(40 * time.Second)
	s.hangupBridged(b2, t, q)
}

// attendedTransfer: the customer's call answered by 1001; 1001 calls 1002
// (consultation), then completes the transfer: the customer talks to 1002.
func (s *Server) attendedTransfer() {
	t := s.trunkCall(false)
	p := s.dialPeers(t, []string{"1001"}, "Dial")[0]
	s.ringPeers(t, []*Channel{p})
	s.now = s.now.Add(5 * time.Second)
	b1 := s.answerPeer(t, p, nil)
	s.now = s.now.Add(20 * time.Second)
	p2 := s.phone("1001", "1002")
	q := s.dialPeers(p2, []string{"1002"}, "Dial")[0]
	s.ringPeers(p2, []*Channel{q})
	s.now = s.now.Add(4 * time.Second)
	b2 := s.answerPeer(p2, q, nil)
	s.now = s.now.Add(15 * time.Second)
	// Asterisk moves q into the customer's bridge and hangs up both of
	// 1001's legs.
	s.leave(b2, q)
	s.leave(b1, p)
	s.enter(b1, q)
	s.emit("BridgeAttendedTransfer", nil, obj{{"transferer_first_leg", s.snapshot(p)}, {"transferer_second_leg", s.snapshot(p2)},
		{"result", "Success"}, {"is_external", true}, {"transferee", s.snapshot(t)}, {"transfer_target", s.snapshot(q)},
		{"transferer_first_leg_bridge", s.bridgeJSON(b1)}, {"transferer_second_leg_bridge", s.bridgeJSON(b2)},
		{"destination_type", "bridge"}, {"destination_bridge", b1.ID}})
	s.destroyBridge(b2)
	s.hangupRequest(p, 16, false)
	s.destroy(p, 16)
	s.hangupRequest(p2, 16, false)
	s.destroy(p2, 16)
	s.now = s.now.Add(30 * time.Second)
	s.hangupBridged(b1, t, q)
}

// featureCode: ext dials code; the dialplan sends it into Stasis
// (Stasis(ringside,feature,<code>,${CALLERID(num)}[,<mobile>])); the
// application answers, confirms and lets it continue to Hangup().
func (s *Server) featureCode(ext, code, mobile string) {
	x := s.newChannel("", "PJSIP/"+ext, "Ring", CallerID{Name: "Ext " + ext, Number: ext}, code, "")
	args := []string{"feature", code, ext}
	if mobile != "" {
		args = append(args, mobile)
	}
	s.dialplan(x, "Stasis", s.o.App+","+strings.Join(args, ","))
	s.stasisStart(x, s.o.App, args)
}
