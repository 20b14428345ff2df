package arisim

import (
	"context"
	"strings"
	"time"
)

// Screened calls: the inbound dialplan of deploy/asterisk/extensions.conf
// sends every call from the trunk into the application before anything
// rings, so that Ringside can name, reject or route it:
//
//	exten => _+X.,1,NoOp(Ringside screens ${CALLERID(num)})
//	 same => n,Stasis(ringside,screen)
//	 same => n,GotoIf($["${RINGSIDE_OWNER}" = ""]?group)
//	 same => n,Dial(PJSIP/${RINGSIDE_OWNER},15)
//	 same => n(group),Dial(PJSIP/1001&PJSIP/1002,30)
//	 same => n,Hangup()
//
// The simulator plays it as Asterisk does (apps/app_stasis.c app_exec,
// res/ari/resource_channels.c): Stasis() sets STASISSTATUS to "" and, with
// the application registered and its socket up, puts the channel in the
// application (StasisStart, args ["screen"]) where it waits — no timeout —
// for the application to continue it (StasisEnd, STASISSTATUS=SUCCESS, the
// next priority runs) or hang it up (DELETE /channels/{id}?reason=busy:
// cause 17, the caller hears busy). With no registered application or its
// socket gone, Stasis() fails at once: STASISSTATUS=FAILED and the
// dialplan carries on with the next priority. While the channel waits,
// POST /channels/{id}/variable sets CALLERID(name) (ChannelCallerId, and
// the Dial peers' connected line: what their phones show) or RINGSIDE_OWNER
// (ChannelVarset), which the rest of the dialplan reads.

// ScreenedCall is an inbound call that goes through screening.
type ScreenedCall struct {
	// From is the caller (Customer when empty).
	From string
	// Group is what the dialplan rings after screening (1001 and 1002 when
	// empty); its first extension answers.
	Group []string
	// OwnerRing is how long the owner's extension rings before the group
	// does (15s when zero). The owner answers if its Behavior's outcome is
	// answer (the default), after its Ring time.
	OwnerRing time.Duration
	// Talk is how long the call lasts once answered (60s when zero).
	Talk time.Duration
}

// Screening is what became of a screened call.
type Screening struct {
	Trunk string
	// Entered is when the channel entered the application (wall clock); the
	// zero time when Stasis() failed.
	Entered time.Time
	// Left is when the channel left the application (wall clock): the
	// application continued it or hung it up, or the caller hung up.
	Left time.Time
	// Resumed is when the dialplan went on after Stasis() (wall clock): the
	// application continued the channel, or Stasis() failed.
	Resumed time.Time
	// Status is STASISSTATUS when the dialplan went on: SUCCESS or FAILED
	// ("" if it did not).
	Status string
	// HangupCause is the cause the channel ended with while in the
	// application (17 for reason=busy), 0 otherwise.
	HangupCause int
	// CallerName and Owner are CALLERID(name) and RINGSIDE_OWNER when the
	// dialplan went on.
	CallerName, Owner string
	// Rang are the extensions the dialplan dialled afterwards, in order,
	// with the connected line their phones were given.
	Rang []Rung
	// AnsweredBy is the extension that answered ("" for none).
	AnsweredBy string
	// Ended is set once the call is over.
	Ended bool
}

// Rung is one extension dialled after screening.
type Rung struct {
	Extension string
	// Connected is the peer channel's connected line: what the phone shows
	// as the caller (app_dial copies the caller's CALLERID to it).
	Connected CallerID
}

type screenState struct {
	Screening
	call ScreenedCall
}

// StartScreened starts a screened call and returns its trunk channel id.
// Without the application it plays to the end at once; with it, it waits in
// the application, and the rest plays when the application continues it.
func (s *Server) StartScreened(c ScreenedCall) string {
	if c.From == "" {
		c.From = Customer
	}
	if len(c.Group) == 0 {
		c.Group = []string{"1001", "1002"}
	}
	if c.OwnerRing <= 0 {
		c.OwnerRing = 15 * time.Second
	}
	if c.Talk <= 0 {
		c.Talk = 60 * time.Second
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.trunkCallFrom(c.From, false)
	st := &screenState{Screening: Screening{Trunk: t.ID}, call: c}
	s.screens[t.ID] = st
	s.dialplan(t, "NoOp", "Ringside screens "+c.From)
	s.dialplan(t, "Stasis", s.o.App+",screen")
	if !s.appActive(s.o.App) {
		// app_exec: "Stasis app '%s' doesn't exist" (not registered, or its
		// socket is gone); STASISSTATUS=FAILED, the dialplan goes on.
		s.varset(t, "STASISSTATUS", "")
		s.varset(t, "STASISSTATUS", "FAILED")
		st.Status = "FAILED"
		s.screenedDialplan(t, st)
		return t.ID
	}
	s.stasisStart(t, s.o.App, []string{"screen"})
	st.Entered = time.Now()
	s.onCont[t.ID] = func() {
		st.Left = time.Now()
		st.Status = "SUCCESS"
		s.screenedDialplan(t, st)
	}
	return t.ID
}

// appActive reports whether app is registered with a live socket: what
// Stasis() needs to put a channel in it. s.mu held.
func (s *Server) appActive(app string) bool {
	k := s.owner[app]
	if k == nil || k.replaced {
		return false
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	return !k.closed
}

// screenedDialplan runs the priorities after Stasis(): the owner first when
// RINGSIDE_OWNER is set, then the group. s.mu held.
func (s *Server) screenedDialplan(t *Channel, st *screenState) {
	st.Resumed = time.Now()
	st.CallerName, st.Owner = t.Caller.Name, t.Vars["RINGSIDE_OWNER"]
	s.dialplan(t, "GotoIf", `$["${RINGSIDE_OWNER}" = ""]?group`)
	if st.Owner != "" {
		b := s.behave("PJSIP/" + st.Owner)
		p := s.screenedDial(t, st, []string{st.Owner})[0]
		switch {
		case b.Outcome == "answer" && b.Ring < st.call.OwnerRing:
			s.now = s.now.Add(b.Ring)
			s.talk(t, p, nil, st)
			return
		case b.Outcome == "busy":
			s.now = s.now.Add(b.Ring)
			s.dialEvent(t, p, dialstring(p), "BUSY")
			s.hangupRequest(p, 17, false)
			s.destroy(p, 17)
			s.varset(t, "DIALSTATUS", "BUSY")
		default: // rings out: Dial's timeout
			s.now = s.now.Add(st.call.OwnerRing)
			s.dialEvent(t, p, dialstring(p), "NOANSWER")
			s.hangupRequest(p, 0, false)
			s.destroy(p, 0)
			s.varset(t, "DIALSTATUS", "NOANSWER")
		}
	}
	ps := s.screenedDial(t, st, st.call.Group)
	s.now = s.now.Add(6 * time.Second)
	s.talk(t, ps[0], ps[1:], st)
}

// screenedDial runs Dial to exts and lets them ring. s.mu held.
func (s *Server) screenedDial(t *Channel, st *screenState, exts []string) []*Channel {
	ps := s.dialPeers(t, exts, "Dial")
	for i, p := range ps {
		st.Rang = append(st.Rang, Rung{Extension: exts[i], Connected: p.Connected})
	}
	s.ringPeers(t, ps)
	return ps
}

// talk: winner answers, the losers stop ringing, the call lasts its talk
// time and the caller hangs up. s.mu held.
func (s *Server) talk(t, winner *Channel, losers []*Channel, st *screenState) {
	b := s.answerPeer(t, winner, losers)
	st.AnsweredBy = resourceOf(winner.Endpoint)
	s.now = s.now.Add(st.call.Talk)
	s.hangupBridged(b, t, winner)
}

// screenGone notes a screened channel's end. s.mu held (destroy).
func (s *Server) screenGone(c *Channel, cause int) {
	st := s.screens[c.ID]
	if st == nil {
		return
	}
	delete(s.onCont, c.ID)
	if st.Status == "" {
		st.HangupCause = cause // ended in the application: rejected, or the caller hung up
		st.Left = time.Now()
	}
	st.Ended = true
	s.changed.broadcast()
}

// Screening returns what became of the screened call whose trunk channel
// is trunk.
func (s *Server) Screening(trunk string) (Screening, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.screens[trunk]
	if st == nil {
		return Screening{}, false
	}
	out := st.Screening
	out.Rang = append([]Rung(nil), st.Rang...)
	return out, true
}

// WaitScreened waits until the screened call of trunk ended.
func (s *Server) WaitScreened(ctx context.Context, trunk string) (Screening, error) {
	err := s.waitFor(ctx, func() bool { st := s.screens[trunk]; return st != nil && st.Ended })
	if err != nil {
		return Screening{}, err
	}
	sc, _ := s.Screening(trunk)
	return sc, nil
}

// InStasis lists the channels waiting in the application with args
// starting with prefix (e.g. "screen"), oldest first.
func (s *Server) InStasis(prefix string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, c := range s.sortedChannels() {
		if c.Stasis != "" && strings.HasPrefix(c.AppData, c.Stasis+","+prefix) {
			out = append(out, c.ID)
		}
	}
	return out
}
