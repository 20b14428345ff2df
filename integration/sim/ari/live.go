package arisim

// Live calls are inbound calls whose steps the caller drives one at a
// time, at its own pace (with Options.Clock, in real time): the demo's
// stream of calls. Each step emits the same events as the scripts'
// steps. A step on a call that is gone does nothing.

// RingFrom starts an inbound call from number (E.164) to the DID that
// rings exts at once, and returns the trunk channel and the ringing
// agents' channels.
func (s *Server) RingFrom(number string, exts ...string) (trunk string, agents []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.trunkCallFrom(number, false)
	peers := s.dialPeers(t, exts, "Dial")
	s.ringPeers(t, peers)
	for _, p := range peers {
		agents = append(agents, p.ID)
	}
	return t.ID, agents
}

// AnswerBy: agent answers the call of trunk, the other agents stop
// ringing, and trunk and agent are bridged. It returns the bridge ("" if
// the call is gone).
func (s *Server) AnswerBy(trunk, agent string, others []string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, a := s.channels[trunk], s.channels[agent]
	if t == nil || a == nil {
		return ""
	}
	var losers []*Channel
	for _, id := range others {
		if c := s.channels[id]; c != nil && id != agent {
			losers = append(losers, c)
		}
	}
	return s.answerPeer(t, a, losers).ID
}

// Abandon: the caller hangs up while the agents ring (a missed call).
func (s *Server) Abandon(trunk string, agents []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.channels[trunk]
	if t == nil {
		return
	}
	s.hangupRequest(t, 127, false) // the caller's CANCEL
	var peers []*Channel
	for _, id := range agents {
		if p := s.channels[id]; p != nil {
			s.dialEvent(t, p, dialstring(p), "CANCEL")
			peers = append(peers, p)
		}
	}
	for _, p := range peers {
		s.destroy(p, 16)
	}
	s.varset(t, "DIALSTATUS", "CANCEL")
	s.destroy(t, 127)
}
