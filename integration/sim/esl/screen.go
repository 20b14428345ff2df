package eslsim

import (
	"context"
	"strconv"
	"time"
)

// Screened calls: the inbound dialplan of
// deploy/freeswitch/dialplan/ringside_screen.xml holds every call from the
// trunk for a moment before anything rings, so that Ringside can name,
// reject or route it:
//
//	<extension name="ringside_screen">
//	  <condition field="${ringside_screened}" expression="^$"/>
//	  <condition field="destination_number" expression="^(\+4930999000)$">
//	    <action application="set" data="ringside_screened=true"/>
//	    <action application="event" data="Event-Subclass=ringside::screen,Event-Name=CUSTOM"/>
//	    <action application="sleep" data="300"/>
//	    <action application="transfer" data="$1 XML public"/>
//	  </condition>
//	</extension>
//
// after which the call is routed again: with ringside_owner set, the owner's
// extension is bridged first, else (and after it) the group. The simulator
// plays it as FreeSWITCH does: the event application fires CUSTOM
// ringside::screen with the channel's headers and variables
// (mod_dptools event_function); sleep waits in real time, and ends early
// when uuid_break sets CF_BREAK (mod_commands break_function,
// switch_ivr_sleep checks CF_BREAK while the channel has no media yet);
// uuid_break answers with no output, which the event socket's api sends as
// "-ERR no reply"; uuid_setvar sets effective_caller_id_name (exported to
// the B legs: their Caller-Caller-ID-Name) or ringside_owner, read when the
// call is routed again; uuid_kill <uuid> USER_BUSY refuses the call
// (send_refuse). Without Ringside the sleep runs out and the call rings.

// ScreenedCall is an inbound call that goes through screening.
type ScreenedCall struct {
	// From is the caller (Customer when empty).
	From string
	// Group is what rings after screening (1001 and 1002 when empty); its
	// first extension answers.
	Group []string
	// Sleep is the dialplan's sleep (300ms when zero).
	Sleep time.Duration
}

// Screening is what became of a screened call.
type Screening struct {
	Trunk string
	// Entered is when the CUSTOM ringside::screen event went out (wall
	// clock); Left when the sleep ended: broken by uuid_break (Broken), run
	// out, or the channel was killed.
	Entered, Left time.Time
	Broken        bool
	// HangupCause is the cause of a uuid_kill during the sleep.
	HangupCause string
	// CallerName and Owner are effective_caller_id_name and ringside_owner
	// when the call was routed again.
	CallerName, Owner string
	// Rang are the extensions bridged afterwards, with the caller name their
	// phones were given.
	Rang []Rung
	// AnsweredBy is the extension that answered ("" for none).
	AnsweredBy string
	Ended      bool
}

// Rung is one extension rung after screening.
type Rung struct {
	Extension    string
	CallerIDName string // the B leg's Caller-Caller-ID-Name
}

type screenState struct {
	Screening
	call     ScreenedCall
	sleeping bool
	timer    *time.Timer
	done     chan struct{} // closed when the call ended
}

// StartScreened starts a screened call and returns its channel's uuid. The
// call sleeps in the dialplan; the rest plays when the sleep ends.
func (s *Server) StartScreened(c ScreenedCall) string {
	if c.From == "" {
		c.From = Customer
	}
	if len(c.Group) == 0 {
		c.Group = []string{"1001", "1002"}
	}
	if c.Sleep <= 0 {
		c.Sleep = 300 * time.Millisecond
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := &Player{s: s}
	a := p.newChan("sofia/external/"+c.From+"@198.51.100.7", "inbound", c.From, c.From, DID, c.From, "public")
	a.setVar("sip_from_user", c.From)
	a.setVar("sip_to_user", DID)
	p.add(a)
	p.execute(a, "set", "ringside_screened=true")
	a.setVar("ringside_screened", "true")
	p.execute(a, "event", "Event-Subclass=ringside::screen,Event-Name=CUSTOM")
	e := s.channelEvent("CUSTOM", a, true, []header{})
	e.subclass = "ringside::screen"
	e.headers = append([]header{h("Event-Subclass", "ringside::screen")}, e.headers...)
	s.emit(e)
	p.step()
	p.execute(a, "sleep", strconv.Itoa(int(c.Sleep/time.Millisecond)))
	st := &screenState{Screening: Screening{Trunk: a.UUID, Entered: time.Now()}, call: c, sleeping: true, done: make(chan struct{})}
	if s.screens == nil {
		s.screens = map[string]*screenState{}
	}
	s.screens[a.UUID] = st
	s.jobs.Add(1) // done when the sleep ends (wake)
	st.timer = time.AfterFunc(c.Sleep, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.wake(st, false)
	})
	return a.UUID
}

// wake ends a screened call's sleep (once) and plays the rest of its
// dialplan after the command that woke it answered. s.mu held.
func (s *Server) wake(st *screenState, broken bool) {
	if !st.sleeping {
		return
	}
	st.sleeping = false
	st.timer.Stop()
	st.Left, st.Broken = time.Now(), broken
	go func() {
		defer s.jobs.Done()
		s.mu.Lock()
		defer s.mu.Unlock()
		select {
		case <-s.done:
			return
		default:
		}
		s.afterScreen(st)
	}()
}

// afterScreen routes the call again after its sleep: the owner first, else
// the group. s.mu held.
func (s *Server) afterScreen(st *screenState) {
	defer func() {
		st.Ended = true
		close(st.done)
	}()
	a := s.chans[st.Trunk]
	if a == nil {
		return // killed during the sleep
	}
	p := &Player{s: s}
	p.execute(a, "transfer", DID+" XML public")
	a.state = "CS_ROUTING"
	s.emit(s.channelEvent("CHANNEL_STATE", a, false, nil))
	st.CallerName, _ = a.getVar("effective_caller_id_name")
	st.Owner, _ = a.getVar("ringside_owner")
	rung := func(legs ...*Chan) {
		for _, b := range legs {
			st.Rang = append(st.Rang, Rung{Extension: b.Dest, CallerIDName: b.CIDName})
		}
	}
	if st.Owner != "" {
		p.execute(a, "bridge", "[leg_timeout=15]user/"+st.Owner+"@"+Domain)
		b := p.Dial(a, st.Owner)
		rung(b)
		p.Ring(b)
		p.Ring(a)
		p.Wait(ring / 2)
		p.Answer(b)
		p.Answer(a)
		p.Bridge(a, b)
		st.AnsweredBy = st.Owner
		p.Wait(talk)
		p.HangupPair(a, b)
		return
	}
	dial := ""
	for i, x := range st.call.Group {
		if i > 0 {
			dial += ","
		}
		dial += "user/" + x + "@" + Domain
	}
	p.execute(a, "bridge", dial)
	legs := p.ringAll(a, st.call.Group...)
	rung(legs...)
	p.Wait(ring)
	w := legs[0]
	p.Answer(w)
	for _, b := range legs[1:] {
		b.setVar("group_dial_status", "loser")
		p.Hangup(b, "LOSE_RACE", "send_cancel")
	}
	p.Answer(a)
	p.Bridge(a, w)
	st.AnsweredBy = w.Dest
	p.Wait(talk)
	p.HangupPair(a, w)
}

// Screening returns what became of the screened call of channel uuid.
func (s *Server) Screening(uuid string) (Screening, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.screens[uuid]
	if st == nil {
		return Screening{}, false
	}
	out := st.Screening
	out.Rang = append([]Rung(nil), st.Rang...)
	return out, true
}

// WaitScreened waits until the screened call of channel uuid ended.
func (s *Server) WaitScreened(ctx context.Context, uuid string) (Screening, error) {
	s.mu.Lock()
	st := s.screens[uuid]
	s.mu.Unlock()
	if st == nil {
		return Screening{}, context.Canceled
	}
	select {
	case <-st.done:
	case <-ctx.Done():
		return Screening{}, ctx.Err()
	}
	sc, _ := s.Screening(uuid)
	return sc, nil
}
