package eslsim

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The cast of the scripts (the conformance suite's).
const (
	Customer = "+4930123456"
	DID      = "+4930999000"
	Domain   = "acme" // variable_domain_name of every channel (the tenant)
	Gateway  = "trunk"
)

// Player plays channel events on the server's virtual clock. Use it inside
// Server.Do, which holds the server for the whole script.
type Player struct{ s *Server }

// Do runs f with a Player, atomically with respect to the other clients'
// commands; events go out in the order f makes them.
func (s *Server) Do(f func(p *Player)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(&Player{s: s})
}

// Wait lets virtual time pass.
func (p *Player) Wait(d time.Duration) { p.s.now = p.s.now.Add(d) }

// step lets 10ms pass between events, as a switch would.
func (p *Player) step() { p.s.now = p.s.now.Add(10 * time.Millisecond) }

func (p *Player) newChan(name, direction, cidName, cidNum, dest, username, context string) *Chan {
	s := p.s
	id := s.newUUID()
	c := &Chan{UUID: id, Name: name, Direction: direction, CIDName: cidName, CIDNum: cidNum, Dest: dest,
		Username: username, Context: context, callUUID: id, state: "CS_INIT", callState: "DOWN",
		answer: "ringing", created: s.now}
	c.vars = []header{h("direction", direction), h("uuid", id), h("call_uuid", id),
		h("session_id", strconv.Itoa(s.ids)), h("channel_name", name), h("domain_name", Domain)}
	return c
}

// add registers c and plays its creation: CHANNEL_STATE, CHANNEL_CREATE,
// CHANNEL_ORIGINATE (outbound), then routing noise.
func (p *Player) add(c *Chan) {
	s := p.s
	s.chans[c.UUID] = c
	s.order = append(s.order, c.UUID)
	s.emit(s.channelEvent("CHANNEL_STATE", c, false, nil))
	s.emit(s.channelEvent("CHANNEL_CREATE", c, true, nil))
	if c.Direction == "outbound" {
		s.emit(s.channelEvent("CHANNEL_ORIGINATE", c, true, nil))
	}
	c.state = "CS_ROUTING"
	s.emit(s.channelEvent("CHANNEL_STATE", c, false, nil))
	p.step()
}

// Trunk: the customer calls the DID through the external profile.
func (p *Player) Trunk() *Chan {
	c := p.newChan("sofia/external/"+Customer+"@198.51.100.7", "inbound", "Customer", Customer, DID, Customer, "public")
	c.setVar("sip_from_user", Customer)
	c.setVar("sip_to_user", DID)
	p.add(c)
	p.execute(c, "bridge", "user/1001@"+Domain)
	return c
}

// Phone: an extension's phone calls dest through the internal profile.
func (p *Player) Phone(ext, dest string) *Chan {
	c := p.newChan("sofia/internal/"+ext+"@192.0.2.11:5060", "inbound", "Ext "+ext, ext, dest, ext, "default")
	c.setVar("sip_from_user", ext)
	c.setVar("user_name", ext)
	p.add(c)
	return c
}

// Dial: a's bridge rings extension ext (user/ext): an outbound leg with
// Other-Type originator, showing a's caller id (effective_caller_id_name
// when a has it: it is exported to the B legs).
func (p *Player) Dial(a *Chan, ext string) *Chan {
	name := a.CIDName
	if v, ok := a.getVar("effective_caller_id_name"); ok && v != "" {
		name = v
	}
	c := p.newChan("sofia/internal/"+ext+"@192.0.2.1"+ext[len(ext)-1:]+":5060", "outbound", name, a.CIDNum, ext, "", "default")
	c.setVar("dialed_user", ext)
	c.setVar("dialed_domain", Domain)
	c.setVar("originating_leg_uuid", a.UUID)
	p.link(a, c)
	p.add(c)
	return c
}

// DialOut: a's bridge dials number through the gateway.
func (p *Player) DialOut(a *Chan, number string) *Chan {
	c := p.newChan("sofia/gateway/"+Gateway+"/"+number, "outbound", a.CIDName, a.CIDNum, number, "", "default")
	c.setVar("originating_leg_uuid", a.UUID)
	p.link(a, c)
	p.add(c)
	return c
}

func (p *Player) link(a, b *Chan) {
	b.other, b.otherType = a, "originator"
}

func (p *Player) execute(c *Chan, app, data string) {
	s := p.s
	c.state = "CS_EXECUTE"
	s.emit(s.channelEvent("CHANNEL_EXECUTE", c, true, nil, h("Application", app), h("Application-Data", data),
		h("Application-UUID", s.newUUID())))
	p.step()
}

func (p *Player) callstate(c *Chan, st string) {
	s := p.s
	old := c.callState
	c.callState = st
	s.emit(s.channelEvent("CHANNEL_CALLSTATE", c, false, nil, h("Original-Channel-Call-State", old)))
}

// Ring: the leg rings (180): CHANNEL_PROGRESS.
func (p *Player) Ring(c *Chan) {
	s := p.s
	p.callstate(c, "RINGING")
	s.emit(s.channelEvent("CHANNEL_PROGRESS", c, true, nil))
	p.step()
}

// EarlyMedia: 183 with SDP: CHANNEL_PROGRESS_MEDIA.
func (p *Player) EarlyMedia(c *Chan) {
	s := p.s
	c.answer = "early"
	p.callstate(c, "EARLY")
	s.emit(s.channelEvent("CHANNEL_PROGRESS_MEDIA", c, true, nil))
	p.step()
}

// Answer: CHANNEL_ANSWER.
func (p *Player) Answer(c *Chan) {
	s := p.s
	c.answer, c.answered = "answered", s.now
	p.callstate(c, "ACTIVE")
	s.emit(s.channelEvent("CHANNEL_ANSWER", c, true, nil))
	p.step()
}

// Bridge: a (the originator) and b talk: CHANNEL_BRIDGE on a only; b's
// Channel-Call-UUID becomes a's.
func (p *Player) Bridge(a, b *Chan) {
	s := p.s
	b.callUUID = a.callUUID
	b.setVar("call_uuid", a.callUUID)
	a.other, a.otherType = b, "originatee"
	b.other, b.otherType = a, "originator"
	a.setVar("bridge_partner_uuid", b.UUID)
	b.setVar("bridge_partner_uuid", a.UUID)
	a.state, b.state = "CS_EXCHANGE_MEDIA", "CS_EXCHANGE_MEDIA"
	s.emit(s.channelEvent("CHANNEL_BRIDGE", a, true, nil, h("Bridge-A-Unique-ID", a.UUID), h("Bridge-B-Unique-ID", b.UUID)))
	p.step()
}

// Unbridge: CHANNEL_UNBRIDGE on a.
func (p *Player) Unbridge(a, b *Chan) {
	s := p.s
	s.emit(s.channelEvent("CHANNEL_UNBRIDGE", a, true, nil, h("Bridge-A-Unique-ID", a.UUID), h("Bridge-B-Unique-ID", b.UUID)))
	p.step()
}

// startHangup plays CHANNEL_HANGUP (not what Ringside subscribes to).
func (p *Player) startHangup(c *Chan, cause, disposition string) {
	s := p.s
	c.cause = cause
	c.answer = "hangup"
	c.state = "CS_HANGUP"
	c.setVar("sip_hangup_disposition", disposition)
	s.emit(s.channelEvent("CHANNEL_HANGUP", c, true, []header{h("Hangup-Cause", cause)}))
	p.callstate(c, "HANGUP")
}

// finishHangup plays CHANNEL_HANGUP_COMPLETE and CHANNEL_DESTROY, and the
// channel is gone.
func (p *Player) finishHangup(c *Chan) {
	s := p.s
	q850 := map[string]int{"NORMAL_CLEARING": 16, "USER_BUSY": 17, "NO_USER_RESPONSE": 18, "NO_ANSWER": 19,
		"CALL_REJECTED": 21, "LOSE_RACE": 26, "ORIGINATOR_CANCEL": 487, "BLIND_TRANSFER": 16}[c.cause]
	billsec := 0
	if !c.answered.IsZero() {
		billsec = int(s.now.Sub(c.answered) / time.Second)
	}
	c.setVar("hangup_cause", c.cause)
	c.setVar("hangup_cause_q850", strconv.Itoa(q850))
	c.setVar("billsec", strconv.Itoa(billsec))
	c.setVar("duration", strconv.Itoa(int(s.now.Sub(c.created)/time.Second)))
	c.state = "CS_REPORTING"
	s.emit(s.channelEvent("CHANNEL_HANGUP_COMPLETE", c, true, []header{h("Hangup-Cause", c.cause)}))
	c.state = "CS_DESTROY"
	s.emit(s.channelEvent("CHANNEL_DESTROY", c, true, []header{h("Hangup-Cause", c.cause)}))
	s.emit(s.channelEvent("CHANNEL_STATE", c, false, []header{h("Hangup-Cause", c.cause)}))
	delete(s.chans, c.UUID)
	for i, id := range s.order {
		if id == c.UUID {
			s.order = append(s.order[:i], s.order[i+1:]...)
			break
		}
	}
	p.step()
}

// Hangup ends one leg with a FreeSWITCH cause and SIP disposition.
func (p *Player) Hangup(c *Chan, cause, disposition string) { p.hangup(c, cause, disposition) }

func (p *Player) hangup(c *Chan, cause, disposition string) {
	if p.s.chans[c.UUID] == nil {
		return
	}
	p.startHangup(c, cause, disposition)
	p.finishHangup(c)
}

// HangupPair ends a bridged call: first hangs up (its phone sent BYE), the
// bridge breaks (UNBRIDGE on the originator), the other leg follows.
func (p *Player) HangupPair(first, second *Chan) {
	p.hangupPair(first, second, "NORMAL_CLEARING", "recv_bye")
}

func (p *Player) hangupPair(first, second *Chan, cause, disposition string) {
	a, b := first, second
	if a.otherType != "originatee" {
		a, b = b, a
	}
	p.startHangup(first, cause, disposition)
	p.Unbridge(a, b)
	p.startHangup(second, "NORMAL_CLEARING", "send_bye")
	p.finishHangup(first)
	p.finishHangup(second)
}

// Record starts record_session on c; it stops when c hangs up.
func (p *Player) Record(c *Chan) string {
	s := p.s
	path := "/var/lib/freeswitch/recordings/" + Domain + "/" + c.UUID + ".wav"
	p.execute(c, "record_session", path)
	c.setVar("ringside_recording", path)
	s.emit(s.channelEvent("RECORD_START", c, true, nil, h("Record-File-Path", path)))
	p.step()
	return path
}

// StopRecording plays RECORD_STOP for the recording at path.
func (p *Player) StopRecording(c *Chan, path string) {
	s := p.s
	c.setVar("record_seconds", "60")
	s.emit(s.channelEvent("RECORD_STOP", c, true, nil, h("Record-File-Path", path), h("Record-Completion-Cause", "success")))
	p.step()
}

// FeatureCode plays the dialplan of *037/3037: the event app fires the
// CUSTOM ringside::feature event, then answer, a confirmation, hang-up.
func (p *Player) FeatureCode(c *Chan, code, ext, device, mobile string) {
	s := p.s
	p.execute(c, "event", "Event-Subclass=ringside::feature,Event-Name=CUSTOM,Feature-Code="+code)
	extra := []header{h("Feature-Code", code), h("Feature-Extension", ext), h("Feature-Device", device)}
	if mobile != "" {
		extra = append(extra, h("Feature-Mobile", mobile))
	}
	e := s.channelEvent("CUSTOM", c, true, []header{}, extra...)
	// The event app's event: Event-Subclass first, as in the captures.
	e.subclass = "ringside::feature"
	e.headers = append([]header{h("Event-Subclass", "ringside::feature")}, e.headers...)
	s.emit(e)
	p.step()
	p.Answer(c)
	p.execute(c, "playback", "ivr/ivr-you_are_now_logged_in.wav")
	p.Wait(2 * time.Second)
	p.hangup(c, "NORMAL_CLEARING", "send_bye")
}

// BlindTransfer: the phone on leg by sends REFER to ext while bridged with
// the originator a: a unbridges with transfer_source bl_xfer, by hangs up,
// a is routed to ext.
func (p *Player) BlindTransfer(a, by *Chan, ext string) {
	s := p.s
	a.setVar("transfer_source", fmt.Sprintf("%d:%s:bl_xfer:%s/default/XML", s.now.Unix(), a.UUID, ext))
	a.setVar("transfer_history", a.vars[len(a.vars)-1].value)
	a.Dest = ext
	by.setVar("endpoint_disposition", "BLIND_TRANSFER")
	by.setVar("sip_refer_to", "<sip:"+ext+"@"+Domain+">")
	p.startHangup(by, "NORMAL_CLEARING", "recv_bye")
	p.Unbridge(a, by)
	a.other, a.otherType = nil, ""
	p.finishHangup(by)
	a.state = "CS_ROUTING"
	s.emit(s.channelEvent("CHANNEL_STATE", a, false, nil))
	p.execute(a, "bridge", "user/"+ext+"@"+Domain)
}

// Originate outcomes for the next `bgapi originate`.
const (
	OutcomeAnswered = "answered" // A answers, B answers, they talk a minute, B hangs up
	OutcomeNoAnswer = "no_answer"
	OutcomeBusy     = "busy"
	// A answers, then B (the customer) is busy / does not answer: the
	// bridge fails and A hangs up.
	OutcomeCustomerBusy     = "customer_busy"
	OutcomeCustomerNoAnswer = "customer_no_answer"
)

// SetOriginateOutcome says what the next originates do with leg A (and,
// for the customer outcomes, with leg B).
func (s *Server) SetOriginateOutcome(outcome string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outcome = outcome
}

// bgapi runs a background job. s.mu held; the job itself runs after the
// reply went out.
func (s *Server) bgapi(job, line string) {
	cmd, args, hasArgs := strings.Cut(line, " ")
	outcome := s.outcome
	s.jobs.Add(1)
	go func() {
		defer s.jobs.Done()
		s.mu.Lock()
		defer s.mu.Unlock()
		select {
		case <-s.done:
			return
		default:
		}
		result := ""
		if cmd == "originate" {
			result = (&Player{s: s}).originate(args, outcome)
		} else {
			result = s.api(line)
		}
		e := s.event("BACKGROUND_JOB", "mod_event_socket.c", "api_exec", 1580, h("Job-UUID", job), h("Job-Command", cmd))
		if hasArgs { // api_exec adds it only when the command had an argument
			e.headers = append(e.headers, h("Job-Command-Arg", args))
		}
		e.body = result
		s.emit(e)
	}()
}

// parseVars splits "{a=b,c='d e'}rest" into the variables and rest.
func parseVars(s string) (vars []header, rest string) {
	if !strings.HasPrefix(s, "{") {
		return nil, s
	}
	end := strings.IndexByte(s, '}')
	if end < 0 {
		return nil, s
	}
	for _, kv := range strings.Split(s[1:end], ",") {
		k, v, _ := strings.Cut(kv, "=")
		vars = append(vars, h(k, strings.Trim(v, "'")))
	}
	return vars, s[end+1:]
}

func lookup(vars []header, name string) string {
	for _, v := range vars {
		if v.name == name {
			return v.value
		}
	}
	return ""
}

// endpointChan makes the channel a dial string reaches: user/<ext>[@dom]
// is a phone on the internal profile, sofia/gateway/<gw>/<n> the trunk.
func (p *Player) endpointChan(endpoint string, vars []header) *Chan {
	var c *Chan
	cidName, cidNum := lookup(vars, "origination_caller_id_name"), lookup(vars, "origination_caller_id_number")
	if rest, ok := strings.CutPrefix(endpoint, "user/"); ok {
		ext, _, _ := strings.Cut(rest, "@")
		c = p.newChan("sofia/internal/"+ext+"@192.0.2.11:5060", "outbound", cidName, cidNum, ext, "", "default")
		c.setVar("dialed_user", ext)
	} else {
		dest := endpoint[strings.LastIndexByte(endpoint, '/')+1:]
		c = p.newChan(endpoint, "outbound", cidName, cidNum, dest, "", "default")
	}
	if id := lookup(vars, "origination_uuid"); id != "" {
		c.vars[1].value, c.vars[2].value = id, id
		c.UUID, c.callUUID = id, id
	}
	for _, v := range vars {
		c.setVar(v.name, v.value)
	}
	return c
}

// originate plays `originate {…}A &bridge({…}B)` and returns the job's
// result. s.mu held.
func (p *Player) originate(args, outcome string) string {
	aVars, rest := parseVars(strings.TrimSpace(args))
	aEnd, app, _ := strings.Cut(rest, " ")
	if aEnd == "" {
		return "-ERR INVALID_URL\n"
	}
	a := p.endpointChan(aEnd, aVars)
	if p.s.chans[a.UUID] != nil {
		return "-ERR DESTINATION_OUT_OF_ORDER\n" // uuid in use
	}
	p.add(a)
	p.Ring(a)
	p.Wait(4 * time.Second)
	switch outcome {
	case OutcomeNoAnswer:
		p.Wait(26 * time.Second)
		p.hangup(a, "NO_ANSWER", "send_cancel")
		return "-ERR NO_ANSWER\n"
	case OutcomeBusy:
		p.hangup(a, "USER_BUSY", "recv_refuse")
		return "-ERR USER_BUSY\n"
	}
	p.Answer(a)
	result := "+OK " + a.UUID + "\n"
	// The job result goes out as soon as A answers; the app runs after.
	inner, ok := strings.CutPrefix(app, "&bridge(")
	if !ok {
		return result
	}
	inner = strings.TrimSuffix(inner, ")")
	p.s.jobs.Add(1)
	go func() {
		// B is dialled after the BACKGROUND_JOB went out.
		defer p.s.jobs.Done()
		p.s.mu.Lock()
		defer p.s.mu.Unlock()
		p.bridgeTo(a, inner, outcome)
	}()
	return result
}

// bridgeTo plays the &bridge app of an originated leg a.
func (p *Player) bridgeTo(a *Chan, dial, outcome string) {
	if p.s.chans[a.UUID] == nil {
		return
	}
	bVars, bEnd := parseVars(dial)
	p.execute(a, "bridge", dial)
	b := p.endpointChan(bEnd, bVars)
	p.link(a, b)
	p.add(b)
	switch outcome {
	case OutcomeCustomerBusy, OutcomeCustomerNoAnswer:
		p.Ring(b)
		cause, disp := "USER_BUSY", "recv_refuse"
		if outcome == OutcomeCustomerNoAnswer {
			p.Wait(45 * time.Second)
			cause, disp = "NO_ANSWER", "send_cancel"
		}
		p.hangup(b, cause, disp)
		p.hangup(a, "NORMAL_CLEARING", "send_bye") // the &bridge app failed: A's originate ends
		return
	}
	p.EarlyMedia(b)
	p.Wait(5 * time.Second)
	p.Answer(b)
	p.Bridge(a, b)
	p.Wait(60 * time.Second)
	p.HangupPair(b, a)
}
