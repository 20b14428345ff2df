package eslsim

import (
	"fmt"
	"time"
)

const (
	ring = 6 * time.Second
	talk = 60 * time.Second
)

// scripts are the conformance scenarios as FreeSWITCH plays them (spec §6
// ESL sequences), by name. click_to_call is not here: it is what `bgapi
// originate` does.
func scripts() map[string]func(p *Player) {
	return map[string]func(p *Player){
		"inbound_answered":       func(p *Player) { p.inboundAnswered([]string{"1001"}, 0, false) },
		"ring_group_one_answers": func(p *Player) { p.inboundAnswered([]string{"1001", "1002", "1003"}, 1, false) },
		"inbound_recorded":       func(p *Player) { p.inboundAnswered([]string{"1001"}, 0, true) },
		"hunt_second_answers": func(p *Player) {
			a := p.Trunk()
			p.Answer(a) // the queue picks up and plays ringback
			p.Wait(2 * time.Second)
			b1 := p.Dial(a, "1001")
			p.Ring(b1)
			p.Wait(ring)
			p.Hangup(b1, "NO_ANSWER", "send_cancel")
			p.Wait(time.Second)
			p.execute(a, "bridge", "user/1002@"+Domain)
			b2 := p.Dial(a, "1002")
			p.Ring(b2)
			p.Wait(ring / 2)
			p.Answer(b2)
			p.Bridge(a, b2)
			p.Wait(talk)
			p.HangupPair(a, b2)
		},
		"inbound_missed": func(p *Player) {
			a := p.Trunk()
			legs := p.ringAll(a, "1001", "1002")
			p.Wait(30 * time.Second)
			for _, b := range legs {
				b.setVar("group_dial_status", "loser")
				p.Hangup(b, "NO_ANSWER", "send_cancel")
			}
			p.execute(a, "voicemail", "default "+Domain+" 1001")
			p.Answer(a)
			p.Wait(25 * time.Second)
			p.Hangup(a, "NORMAL_CLEARING", "recv_bye")
		},
		"inbound_abandoned": func(p *Player) {
			a := p.Trunk()
			legs := p.ringAll(a, "1001", "1002")
			p.Wait(ring)
			p.startHangup(a, "ORIGINATOR_CANCEL", "recv_cancel")
			for _, b := range legs {
				p.startHangup(b, "ORIGINATOR_CANCEL", "send_cancel")
			}
			p.finishHangup(a)
			for _, b := range legs {
				p.finishHangup(b)
			}
		},
		"inbound_busy": func(p *Player) {
			a := p.Trunk()
			b := p.Dial(a, "1001")
			p.Wait(300 * time.Millisecond)
			p.Hangup(b, "USER_BUSY", "recv_refuse")
			a.setVar("originate_failed_cause", "USER_BUSY")
			p.Wait(3 * time.Second)
			p.Hangup(a, "USER_BUSY", "send_refuse")
		},
		"outbound_answered":  func(p *Player) { p.outbound("answered") },
		"outbound_no_answer": func(p *Player) { p.outbound("no_answer") },
		"outbound_busy":      func(p *Player) { p.outbound("busy") },
		"internal_answered": func(p *Player) {
			a := p.Phone("1001", "1002")
			p.execute(a, "bridge", "user/1002@"+Domain)
			b := p.Dial(a, "1002")
			p.Ring(b)
			p.Ring(a)
			p.Wait(ring)
			p.Answer(b)
			p.Answer(a)
			p.Bridge(a, b)
			p.Wait(talk)
			p.HangupPair(b, a)
		},
		"blind_transfer": func(p *Player) {
			a := p.Trunk()
			b := p.Dial(a, "1001")
			p.Ring(b)
			p.Ring(a)
			p.Wait(ring)
			p.Answer(b)
			p.Answer(a)
			p.Bridge(a, b)
			p.Wait(talk / 2)
			p.BlindTransfer(a, b, "1003")
			c := p.Dial(a, "1003")
			p.Ring(c)
			p.Wait(ring)
			p.Answer(c)
			p.Bridge(a, c)
			p.Wait(talk)
			p.HangupPair(a, c)
		},
		"feature_code_desk": func(p *Player) {
			a := p.Phone("1001", "*037")
			p.FeatureCode(a, "*037", "1001", "user/1001@"+Domain, "")
		},
	}
}

// Play plays a scenario script to completion (every event queued).
func (s *Server) Play(name string) error {
	f, ok := scripts()[name]
	if !ok {
		return fmt.Errorf("eslsim: no script %q", name)
	}
	s.Do(f)
	return nil
}

// ringAll: a's bridge rings every extension at once; each rings, then the
// caller hears ringback.
func (p *Player) ringAll(a *Chan, exts ...string) []*Chan {
	var legs []*Chan
	for _, x := range exts {
		legs = append(legs, p.Dial(a, x))
	}
	p.Wait(80 * time.Millisecond)
	for _, b := range legs {
		p.Ring(b)
	}
	p.Ring(a)
	return legs
}

// inboundAnswered: the customer calls, exts ring, exts[winner] answers, the
// others lose the race; with record, the call is recorded.
func (p *Player) inboundAnswered(exts []string, winner int, record bool) {
	a := p.Trunk()
	legs := p.ringAll(a, exts...)
	p.Wait(ring)
	w := legs[winner]
	p.Answer(w)
	for i, b := range legs {
		if i != winner {
			b.setVar("group_dial_status", "loser")
			p.Hangup(b, "LOSE_RACE", "send_cancel")
		}
	}
	p.Answer(a)
	p.Bridge(a, w)
	path := ""
	if record {
		path = p.Record(a)
	}
	p.Wait(talk)
	if !record {
		p.HangupPair(a, w)
		return
	}
	p.startHangup(a, "NORMAL_CLEARING", "recv_bye")
	p.Unbridge(a, w)
	p.StopRecording(a, path)
	p.startHangup(w, "NORMAL_CLEARING", "send_bye")
	p.finishHangup(a)
	p.finishHangup(w)
}

// outbound: 1001 dials the customer through the gateway.
func (p *Player) outbound(outcome string) {
	a := p.Phone("1001", "00"+Customer[1:])
	p.execute(a, "bridge", "sofia/gateway/"+Gateway+"/"+Customer)
	b := p.DialOut(a, Customer)
	p.Wait(700 * time.Millisecond)
	switch outcome {
	case "busy":
		p.Wait(200 * time.Millisecond)
		p.Hangup(b, "USER_BUSY", "recv_refuse")
		p.Wait(time.Second)
		p.Hangup(a, "USER_BUSY", "send_refuse")
		return
	case "no_answer":
		p.Ring(b)
		p.Ring(a)
		p.Wait(30 * time.Second)
		p.Hangup(b, "NO_ANSWER", "send_cancel")
		p.Wait(time.Second)
		p.Hangup(a, "NO_ANSWER", "send_refuse")
		return
	}
	p.EarlyMedia(b)
	p.EarlyMedia(a)
	p.Wait(ring)
	p.Answer(b)
	p.Answer(a)
	p.Bridge(a, b)
	p.Wait(talk)
	p.HangupPair(a, b)
}
