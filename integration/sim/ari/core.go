package arisim

import (
	"fmt"
	"net/http"
	"strings"
	"time"
)

// The simulated Asterisk core: channel and bridge life cycles and the events
// they publish. Every function here is called with s.mu held.

var causeText = map[int]string{
	0: "Unknown", 1: "Unallocated (unassigned) number", 16: "Normal Clearing", 17: "User busy",
	18: "No user responding", 19: "User alerting, no answer", 21: "Call Rejected",
	26: "Answered elsewhere", 32: "Circuit/channel congestion", 34: "Circuit/channel congestion",
	127: "Interworking, unspecified",
}

// reasonCause maps DELETE /channels reasons onto causes (resource_channels.c).
var reasonCause = map[string]int{
	"normal": 16, "busy": 17, "congestion": 34, "no_answer": 19, "timeout": 18, "rejected": 21,
	"unallocated": 1, "normal_unspecified": 31, "number_incomplete": 28, "codec_mismatch": 58,
	"interworking": 127, "failure": 38, "answered_elsewhere": 26,
}

func (s *Server) context(kind string) string {
	if s.o.Tenant != "" {
		return s.o.Tenant + "-" + kind
	}
	return kind
}

// endpointOf turns a dial target into the endpoint the channel is named
// after: PJSIP/1001 → PJSIP/1001, PJSIP/+4930123456@trunk → PJSIP/trunk.
func endpointOf(target string) string {
	tech, res, _ := strings.Cut(target, "/")
	if _, ep, ok := strings.Cut(res, "@"); ok {
		return tech + "/" + ep
	}
	return target
}

// resourceOf is what Dial events carry as dialstring: the part after tech/.
func resourceOf(target string) string {
	_, res, _ := strings.Cut(target, "/")
	return res
}

func isExtension(endpoint string) bool {
	_, res, _ := strings.Cut(endpoint, "/")
	if res == "" {
		return false
	}
	for _, r := range res {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

func (s *Server) contextOf(endpoint string) string {
	if isExtension(endpoint) {
		return s.context("internal")
	}
	return s.context("from-trunk")
}

func (s *Server) newChannel(id, target, state string, caller CallerID, exten, linkedid string) *Channel {
	if id == "" {
		id = s.newID()
	}
	ep := endpointOf(target)
	s.nameSeq++
	c := &Channel{ID: id, Name: fmt.Sprintf("%s-%08x", ep, s.nameSeq), State: state, Endpoint: ep, target: target,
		Caller: caller, Context: s.contextOf(ep), Exten: exten, Priority: 1, Created: s.stamp(),
		Linkedid: linkedid, Vars: map[string]string{}}
	if c.Linkedid == "" {
		c.Linkedid = id
	}
	if s.o.Tenant != "" {
		c.Vars["TENANT"] = s.o.Tenant
	}
	s.channels[id] = c
	s.emit("ChannelCreated", nil, obj{{"channel", s.snapshot(c)}})
	return c
}

func (s *Server) dialplan(c *Channel, app, data string) {
	c.AppName, c.AppData = app, data
	c.Priority++
	s.emit("ChannelDialplan", nil, obj{{"dialplan_app", app}, {"dialplan_app_data", data}, {"channel", s.snapshot(c)}})
}

func (s *Server) varset(c *Channel, name, value string) {
	c.Vars[name] = value
	s.emit("ChannelVarset", obj{{"variable", name}, {"value", value}}, obj{{"channel", s.snapshot(c)}})
}

func (s *Server) setState(c *Channel, state string) {
	if c.State == state {
		return
	}
	c.State = state
	s.emit("ChannelStateChange", nil, obj{{"channel", s.snapshot(c)}})
}

func (s *Server) callerID(c *Channel, id CallerID) {
	c.Caller = id
	s.emit("ChannelCallerId", nil, obj{{"caller_presentation", 0}, {"caller_presentation_txt", "Presentation Allowed, Not Screened"},
		{"channel", s.snapshot(c)}})
}

func (s *Server) connectedLine(c *Channel, id CallerID) {
	c.Connected = id
	s.emit("ChannelConnectedLine", nil, obj{{"channel", s.snapshot(c)}})
}

func (s *Server) deviceState(name, state string) {
	s.emit("DeviceStateChanged", nil, obj{{"device_state", obj{{"name", name}, {"state", state}}}})
}

// dialEvent publishes a Dial event; caller is nil for ARI dials.
func (s *Server) dialEvent(caller, peer *Channel, dialstring, status string) {
	f := obj{{"dialstatus", status}, {"forward", ""}, {"dialstring", dialstring}}
	if caller != nil {
		f = append(f, kv{"caller", s.snapshot(caller)})
	}
	f = append(f, kv{"peer", s.snapshot(peer)})
	s.emit("Dial", nil, f)
}

func (s *Server) hangupRequest(c *Channel, cause int, soft bool) {
	lead := obj{{"cause", cause}}
	if soft {
		lead = append(lead, kv{"soft", true})
	}
	s.emit("ChannelHangupRequest", lead, obj{{"channel", s.snapshot(c)}})
}

// destroy ends a channel: it leaves its bridge and the application first.
func (s *Server) destroy(c *Channel, cause int) {
	if s.channels[c.ID] != c {
		return
	}
	if b := s.bridges[c.Bridge]; b != nil {
		s.leave(b, c)
	}
	if c.Stasis != "" {
		s.emit("StasisEnd", nil, obj{{"channel", s.snapshot(c)}})
		c.Stasis = ""
		s.varset(c, "STASISSTATUS", "SUCCESS")
	}
	delete(s.channels, c.ID)
	s.screenGone(c, cause)
	c.AppName, c.AppData = "", ""
	s.emit("ChannelDestroyed", nil, obj{{"cause", cause}, {"cause_txt", causeText[cause]}, {"channel", s.snapshot(c)}})
	if isExtension(c.Endpoint) {
		s.deviceState(c.Endpoint, "NOT_INUSE")
	}
	s.changed.broadcast()
}

// remoteHangup is the far end hanging up.
func (s *Server) remoteHangup(c *Channel, cause int) {
	s.hangupRequest(c, cause, false)
	s.destroy(c, cause)
}

func (s *Server) newBridge(id, class string) *Bridge {
	if id == "" {
		id = fmt.Sprintf("b%04d-61a7-4fef-ab4f-cbc7042aa7eb", s.seq)
		s.seq++
	}
	b := &Bridge{ID: id, Class: class, Type: "mixing", Technology: "simple_bridge", Created: s.stamp()}
	if class == "stasis" {
		b.Creator = "Stasis"
	}
	s.bridges[id] = b
	s.emit("BridgeCreated", nil, obj{{"bridge", s.bridgeJSON(b)}})
	return b
}

func (s *Server) enter(b *Bridge, c *Channel) {
	if old := s.bridges[c.Bridge]; old != nil && old != b {
		s.leave(old, c)
	}
	b.Channels = append(b.Channels, c.ID)
	c.Bridge = b.ID
	s.emit("ChannelEnteredBridge", nil, obj{{"bridge", s.bridgeJSON(b)}, {"channel", s.snapshot(c)}})
	if len(b.Channels) > 1 {
		for _, id := range b.Channels {
			var peers []string
			for _, o := range b.Channels {
				if o != id {
					peers = append(peers, s.channels[o].Name)
				}
			}
			s.varset(s.channels[id], "BRIDGEPEER", strings.Join(peers, ","))
		}
	}
}

func (s *Server) leave(b *Bridge, c *Channel) {
	for i, id := range b.Channels {
		if id == c.ID {
			b.Channels = append(b.Channels[:i:i], b.Channels[i+1:]...)
			break
		}
	}
	c.Bridge = ""
	s.varset(c, "BRIDGEPEER", "")
	s.emit("ChannelLeftBridge", nil, obj{{"bridge", s.bridgeJSON(b)}, {"channel", s.snapshot(c)}})
}

func (s *Server) destroyBridge(b *Bridge) {
	for len(b.Channels) > 0 {
		s.leave(b, s.channels[b.Channels[0]])
	}
	delete(s.bridges, b.ID)
	s.emit("BridgeDestroyed", nil, obj{{"bridge", s.bridgeJSON(b)}})
}

func (s *Server) behave(target string) Behavior {
	b, ok := s.behavior[target]
	if !ok {
		b = s.behavior[endpointOf(target)]
	}
	if b.Ring <= 0 {
		b.Ring = 3 * time.Second
	}
	if b.Outcome == "" {
		b.Outcome = "answer"
	}
	return b
}

// progress plays an ARI-dialled channel (originate or dial: no Dial caller)
// to its outcome; it reports whether it answered.
func (s *Server) progress(c *Channel) bool {
	b := s.behave(c.target)
	ds := resourceOf(c.target)
	if b.EarlyMedia {
		s.dialEvent(nil, c, ds, "PROGRESS")
	} else {
		s.dialEvent(nil, c, ds, "RINGING")
		s.setState(c, "Ringing")
	}
	s.now = s.now.Add(b.Ring)
	switch b.Outcome {
	case "busy":
		s.dialEvent(nil, c, ds, "BUSY")
		s.remoteHangup(c, 17)
		return false
	case "noanswer":
		// An originate timing out publishes no final Dial event.
		s.remoteHangup(c, 19)
		return false
	}
	s.setState(c, "Up")
	s.dialEvent(nil, c, ds, "ANSWER")
	return true
}

func (s *Server) stasisStart(c *Channel, app string, args []string) {
	s.varset(c, "STASISSTATUS", "")
	c.Stasis = app
	c.AppName, c.AppData = "Stasis", strings.Join(append([]string{app}, args...), ",")
	if args == nil {
		args = []string{}
	}
	s.emit("StasisStart", nil, obj{{"args", args}, {"channel", s.snapshot(c)}})
}

func splitArgs(s string) []string {
	if s == "" {
		return []string{}
	}
	return strings.Split(s, ",")
}

// parseCallerID reads `"Name" <number>`, `<number>` or `number`.
func parseCallerID(s string) CallerID {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '<'); i >= 0 {
		name := strings.Trim(strings.TrimSpace(s[:i]), `"`)
		num := strings.TrimSuffix(s[i+1:], ">")
		return CallerID{Name: name, Number: num}
	}
	return CallerID{Number: s}
}

func (s *Server) applyVars(c *Channel, vars map[string]string) {
	for k, v := range vars {
		switch k {
		case "CALLERID(name)":
			s.callerID(c, CallerID{Name: v, Number: c.Caller.Number})
		case "CALLERID(num)":
			s.callerID(c, CallerID{Name: c.Caller.Name, Number: v})
		default:
			s.varset(c, k, v)
		}
	}
}

// --- REST: channels ---

func (s *Server) originate(w http.ResponseWriter, r *http.Request) {
	p, vars := params(r)
	id := r.PathValue("id")
	if id == "" {
		id = p["channelId"]
	}
	target, app := p["endpoint"], p["app"]
	switch {
	case target == "":
		writeJSON(w, http.StatusBadRequest, obj{{"message", "Endpoint must be specified"}})
		return
	case app == "" && p["extension"] == "":
		writeJSON(w, http.StatusBadRequest, obj{{"message", "Application or extension must be specified"}})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if id != "" && s.channels[id] != nil {
		writeJSON(w, http.StatusConflict, obj{{"message", "Channel with given unique ID already exists"}})
		return
	}
	linked := ""
	if o := s.channels[p["originator"]]; o != nil {
		linked = o.Linkedid
	}
	c := s.newChannel(id, target, "Down", CallerID{}, "s", linked)
	s.dialplan(c, "AppDial2", "(Outgoing Line)")
	if cid := p["callerId"]; cid != "" {
		s.callerID(c, parseCallerID(cid))
		s.connectedLine(c, parseCallerID(cid))
	}
	s.applyVars(c, vars)
	s.dialEvent(nil, c, resourceOf(target), "")
	snap := s.snapshot(c)
	if s.progress(c) {
		if app != "" {
			s.stasisStart(c, app, splitArgs(p["appArgs"]))
		} else {
			c.Context, c.Exten = p["context"], p["extension"]
			s.dialplan(c, "NoOp", "")
		}
		snap = s.snapshot(c)
	}
	writeJSON(w, http.StatusOK, snap)
}

func (s *Server) create(w http.ResponseWriter, r *http.Request) {
	p, vars := params(r)
	if p["endpoint"] == "" || p["app"] == "" {
		writeJSON(w, http.StatusBadRequest, obj{{"message", "Endpoint and app must be specified"}})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if id := p["channelId"]; id != "" && s.channels[id] != nil {
		writeJSON(w, http.StatusConflict, obj{{"message", "Channel with given unique ID already exists"}})
		return
	}
	linked := ""
	if o := s.channels[p["originator"]]; o != nil {
		linked = o.Linkedid
	}
	c := s.newChannel(p["channelId"], p["endpoint"], "Down", CallerID{}, "s", linked)
	s.applyVars(c, vars)
	s.stasisStart(c, p["app"], splitArgs(p["appArgs"]))
	writeJSON(w, http.StatusOK, s.snapshot(c))
}

// stateInvalid refuses to move a channel that is Down, Rsrvd or Ringing
// (an outbound channel not answered yet) with 412, as
// resource_channels.c channel_state_invalid does for continue, redirect,
// answer and the like; an inbound channel is Ring or Up.
func stateInvalid(w http.ResponseWriter, c *Channel) bool {
	switch c.State {
	case "Down", "Rsrvd", "Ringing":
		writeJSON(w, http.StatusPreconditionFailed, obj{{"message", "Channel in invalid state"}})
		return true
	}
	return false
}

// inStasis finds a channel that must be in the application: 404 or 409
// (resource_channels.c find_control).
func (s *Server) inStasis(w http.ResponseWriter, id string) *Channel {
	c := s.channels[id]
	if c == nil {
		notFound(w, "Channel")
		return nil
	}
	if c.Stasis == "" {
		writeJSON(w, http.StatusConflict, obj{{"message", "Channel not in Stasis application"}})
		return nil
	}
	return c
}

func (s *Server) dial(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.inStasis(w, r.PathValue("id"))
	if c == nil {
		return
	}
	if c.dialed || c.State != "Down" {
		writeJSON(w, http.StatusConflict, obj{{"message", "Channel is not in a state where it can be dialed"}})
		return
	}
	c.dialed = true
	s.dialEvent(nil, c, resourceOf(c.target), "")
	s.progress(c)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) answer(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.inStasis(w, r.PathValue("id")); c != nil {
		s.setState(c, "Up")
		w.WriteHeader(http.StatusNoContent)
	}
}

func (s *Server) play(w http.ResponseWriter, r *http.Request) {
	p, _ := params(r)
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.inStasis(w, r.PathValue("id"))
	if c == nil {
		return
	}
	id := r.PathValue("pb")
	if id == "" {
		id = p["playbackId"]
	}
	if id == "" {
		id = fmt.Sprintf("pb-%d", s.seq)
		s.seq++
	}
	pb := obj{{"id", id}, {"media_uri", p["media"]}, {"target_uri", "channel:" + c.ID}, {"language", "en"}, {"state", "playing"}}
	s.emit("PlaybackStarted", nil, obj{{"playback", pb}})
	s.now = s.now.Add(time.Second)
	pb[4] = kv{"state", "done"}
	s.emit("PlaybackFinished", nil, obj{{"playback", pb}})
	writeJSON(w, http.StatusCreated, pb)
}

func (s *Server) cont(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.inStasis(w, r.PathValue("id"))
	if c == nil {
		return
	}
	if stateInvalid(w, c) {
		return
	}
	s.emit("StasisEnd", nil, obj{{"channel", s.snapshot(c)}})
	c.Stasis = ""
	s.varset(c, "STASISSTATUS", "SUCCESS")
	w.WriteHeader(http.StatusNoContent)
	if f := s.onCont[c.ID]; f != nil {
		delete(s.onCont, c.ID)
		f()
		return
	}
	s.dialplan(c, "Hangup", "")
	s.hangupRequest(c, 16, false)
	s.destroy(c, 16)
}

func (s *Server) redirect(w http.ResponseWriter, r *http.Request) {
	p, _ := params(r)
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.inStasis(w, r.PathValue("id")); c != nil {
		if p["endpoint"] == "" {
			writeJSON(w, http.StatusBadRequest, obj{{"message", "Endpoint parameter not provided"}})
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

func (s *Server) getVar(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("variable")
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.channels[r.PathValue("id")]
	if c == nil {
		notFound(w, "Channel")
		return
	}
	var v string
	var ok bool
	switch name {
	case "CHANNEL(linkedid)":
		v, ok = c.Linkedid, true
	case "CALLERID(name)":
		v, ok = c.Caller.Name, true
	case "CALLERID(num)":
		v, ok = c.Caller.Number, true
	default:
		v, ok = c.Vars[name]
	}
	if !ok {
		writeJSON(w, http.StatusNotFound, obj{{"message", "Provided variable was not found"}})
		return
	}
	writeJSON(w, http.StatusOK, obj{{"value", v}})
}

func (s *Server) setVar(w http.ResponseWriter, r *http.Request) {
	p, _ := params(r)
	if p["variable"] == "" {
		writeJSON(w, http.StatusBadRequest, obj{{"message", "Variable name is required"}})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// Setting needs the channel in the application (find_control), unlike
	// reading (fact sheet §1.6).
	c := s.inStasis(w, r.PathValue("id"))
	if c == nil {
		return
	}
	s.applyVars(c, map[string]string{p["variable"]: p["value"]})
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) hangup(w http.ResponseWriter, r *http.Request) {
	reason := r.URL.Query().Get("reason")
	cause, ok := reasonCause[reason]
	if !ok {
		cause = 16
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.channels[r.PathValue("id")]
	if c == nil {
		notFound(w, "Channel")
		return
	}
	s.remoteHangup(c, cause)
	w.WriteHeader(http.StatusNoContent)
}

// --- REST: bridges ---

func (s *Server) createBridge(w http.ResponseWriter, r *http.Request) {
	p, _ := params(r)
	id := r.PathValue("id")
	if id == "" {
		id = p["bridgeId"]
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.bridges[id]
	if b == nil {
		b = s.newBridge(id, "stasis")
	}
	writeJSON(w, http.StatusOK, s.bridgeJSON(b))
}

func (s *Server) addChannel(w http.ResponseWriter, r *http.Request) {
	p, _ := params(r)
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.bridges[r.PathValue("id")]
	if b == nil {
		notFound(w, "Bridge")
		return
	}
	var chans []*Channel
	for _, id := range strings.Split(p["channel"], ",") {
		c := s.channels[id]
		switch {
		case c == nil:
			writeJSON(w, http.StatusBadRequest, obj{{"message", "Channel not found"}})
			return
		case c.Stasis == "":
			writeJSON(w, http.StatusUnprocessableEntity, obj{{"message", "Channel not in Stasis application"}})
			return
		}
		chans = append(chans, c)
	}
	for _, c := range chans {
		s.enter(b, c)
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) removeChannel(w http.ResponseWriter, r *http.Request) {
	p, _ := params(r)
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.bridges[r.PathValue("id")]
	if b == nil {
		notFound(w, "Bridge")
		return
	}
	c := s.channels[p["channel"]]
	if c == nil || c.Bridge != b.ID {
		writeJSON(w, http.StatusUnprocessableEntity, obj{{"message", "Channel not in this bridge"}})
		return
	}
	s.leave(b, c)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) deleteBridge(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.bridges[r.PathValue("id")]
	if b == nil {
		notFound(w, "Bridge")
		return
	}
	s.destroyBridge(b)
	w.WriteHeader(http.StatusNoContent)
}
