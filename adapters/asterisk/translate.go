package asterisk

import (
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ringside/ringside/pkg/callstate"
	"github.com/ringside/ringside/pkg/screen"
)

// Translator turns the ARI events of one WebSocket connection into callstate
// signals. It is pure (no I/O, no clock: times come from the events, or from
// the now its caller passes), not safe for concurrent use, and keeps only the
// correlation state the translation needs:
//
//   - which channel belongs to which call: a channel is announced to the
//     machine (LegCreated) with a Peer that names a leg of its call, found in
//     this order: the Dial event's caller, the other half of a Local channel
//     (";2" hangs off ";1"), the leg Ringside said it originated it for, the
//     linkedid (channelvars CHANNEL(linkedid)), a bridge partner. An inbound
//     channel (not Down when created) is announced at once and starts a call;
//     a channel created Down (a Dial or originate peer) waits for its Dial,
//     StasisStart, state change or bridge, so that its caller and number are
//     known when it is announced;
//   - bridge membership, for Bridged (once both sides are Up: a channel put
//     into a bridge before it answers, for early media, has not answered)
//     and Unbridged;
//   - the MixMonitor file of each channel (ChannelVarset
//     MIXMONITOR_FILENAME): RecordingStarted at once, RecordingFinished when
//     that channel is destroyed (MixMonitor closes the file then);
//   - ARI live recordings (RecordingStarted/Finished arrive twice with
//     subscribeAll on a Stasis bridge: the second is dropped).
//
// Translate never fails on an event it cannot use: unknown types, events
// about channels it never saw and global variables give no signal.
type Translator struct {
	parties      Parties
	tenants      Tenants
	recordingDir string
	expect       *expectations

	chans   map[string]*chanState
	locals  map[string]*[2]string // Local channel key → ids of its ;1 and ;2 halves
	bridges map[string][]string   // bridge id → member channel ids, in order of entry
	recs    map[string]string     // live recording name → the leg it records

	ev Event // decoded in place, reused
}

// chanState is what the translator knows of one channel.
type chanState struct {
	id       string
	tech     string
	endpoint string
	localKey string
	half     byte
	created  string // creationtime, for ordering adopted channels

	party  callstate.Party
	number string
	name   string
	dialed string
	tenant string
	link   string // linkedid, if channelvars carries it
	state  string
	exp    *Expectation

	announced  bool
	announcing bool
	parent     string
	rang       bool
	up         bool
	bridge     string
	bridgedTo  string // the partner a Bridged was sent for
	lastPeer   string // the last bridge partner, for transfers
	recording  string // MIXMONITOR_FILENAME
	dialCaller string
}

// ActionKind names something the adapter must do for an event.
type ActionKind uint8

// Actions.
const (
	ActionNone ActionKind = iota
	// ActionFeature: a feature code reached the app on Channel; confirm it
	// (play a beep) and let the channel go.
	ActionFeature
	// ActionPlaybackDone: playback ID finished.
	ActionPlaybackDone
	// ActionReplaced: another connection registered our application; this
	// socket receives nothing more.
	ActionReplaced
	// ActionScreen: an inbound call waits in the application to be
	// screened before it rings (Stasis(<app>,screen)); Screen describes it.
	ActionScreen
)

// Action is what the adapter must do for an event besides submitting its
// signals.
type Action struct {
	Kind    ActionKind
	Channel string
	ID      string
	Screen  screen.Call
}

// Expectation describes a leg Ringside is about to originate, so that its
// LegCreated says so (click-to-call leg A: Originated and the customer in
// Dialed; leg B: its Peer is leg A and it is the customer).
type Expectation struct {
	Originated bool
	Dialed     string
	Party      callstate.Party
	Number     string
	Peer       string
}

// expectations holds the legs Ringside originated and has not seen created
// yet. The command goroutines add, the reader takes: it has its own lock.
type expectations struct {
	mu sync.Mutex
	m  map[string]expectEntry
}

type expectEntry struct {
	x     Expectation
	added time.Time
}

// expectTTL bounds how long an expectation waits for its channel: an
// originate that never created one must not be remembered forever.
const expectTTL = 10 * time.Minute

func newExpectations() *expectations { return &expectations{m: make(map[string]expectEntry)} }

func (e *expectations) add(id string, x Expectation, now time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for k, v := range e.m {
		if now.Sub(v.added) > expectTTL {
			delete(e.m, k)
		}
	}
	e.m[id] = expectEntry{x: x, added: now}
}

func (e *expectations) take(id string) (Expectation, bool) {
	if e == nil {
		return Expectation{}, false
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	v, ok := e.m[id]
	if ok {
		delete(e.m, id)
	}
	return v.x, ok
}

func (e *expectations) remove(id string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.m, id)
}

// TranslatorOptions configure a Translator.
type TranslatorOptions struct {
	Parties Parties
	Tenants Tenants
	// RecordingDir is where ARI recordings are stored
	// (/var/spool/asterisk/recording by default).
	RecordingDir string
}

// NewTranslator returns a translator for one connection.
func NewTranslator(o TranslatorOptions) *Translator {
	return newTranslator(o, nil)
}

func newTranslator(o TranslatorOptions, exp *expectations) *Translator {
	o.Parties.defaults()
	if o.RecordingDir == "" {
		o.RecordingDir = "/var/spool/asterisk/recording"
	}
	return &Translator{
		parties:      o.Parties,
		tenants:      o.Tenants,
		recordingDir: strings.TrimSuffix(o.RecordingDir, "/"),
		expect:       exp,
		chans:        make(map[string]*chanState, 256),
		locals:       make(map[string]*[2]string),
		bridges:      make(map[string][]string),
		recs:         make(map[string]string),
	}
}

// Translate decodes one event frame and appends the signals it causes to
// out. typ is the event's type ("" if undecodable); err wraps ErrUndecodable
// when the frame is not an ARI event. now stands in for a missing or
// malformed timestamp.
func (t *Translator) Translate(data []byte, now time.Time, out []callstate.Signal) (_ []callstate.Signal, typ string, act Action, err error) {
	if err := Decode(data, &t.ev); err != nil {
		return out, "", Action{}, err
	}
	out, act = t.Apply(&t.ev, now, out)
	return out, t.ev.Type, act, nil
}

// Apply translates one decoded event.
func (t *Translator) Apply(ev *Event, now time.Time, out []callstate.Signal) ([]callstate.Signal, Action) {
	at, ok := parseTime(ev.Timestamp)
	if !ok {
		at = now
	}
	switch ev.Type {
	case "ChannelCreated":
		return t.created(ev.Channel, at, out), Action{}
	case "ChannelStateChange":
		return t.stateChange(ev.Channel, at, out), Action{}
	case "Dial":
		return t.dial(ev, at, out), Action{}
	case "ChannelDestroyed":
		return t.destroyed(ev, at, out), Action{}
	case "ChannelEnteredBridge":
		return t.entered(ev, at, out), Action{}
	case "ChannelLeftBridge":
		return t.left(ev, at, out), Action{}
	case "BridgeCreated":
		if ev.Bridge != nil {
			if _, ok := t.bridges[ev.Bridge.ID]; !ok {
				t.bridges[ev.Bridge.ID] = nil
			}
		}
	case "BridgeDestroyed":
		if ev.Bridge != nil {
			for _, id := range t.bridges[ev.Bridge.ID] {
				if c := t.chans[id]; c != nil && c.bridge == ev.Bridge.ID {
					c.bridge = ""
				}
			}
			delete(t.bridges, ev.Bridge.ID)
		}
	case "ChannelVarset":
		return t.varset(ev, at, out), Action{}
	case "ChannelCallerId":
		return t.callerID(ev.Channel, at, out), Action{}
	case "BridgeBlindTransfer":
		return t.blindTransfer(ev, at, out), Action{}
	case "BridgeAttendedTransfer":
		if ev.Result == "Success" && ev.FirstLeg != nil && ev.SecondLeg != nil && ev.Target != nil {
			out = append(out, callstate.Signal{Kind: callstate.TransferAttended, At: at,
				Leg: ev.FirstLeg.ID, Peer: ev.SecondLeg.ID, Target: ev.Target.ID})
		}
	case "StasisStart":
		return t.stasisStart(ev, at, out)
	case "RecordingStarted":
		return t.recordingStarted(ev.Recording, at, out), Action{}
	case "RecordingFinished", "RecordingFailed":
		return t.recordingFinished(ev.Type, ev.Recording, at, out), Action{}
	case "PlaybackFinished":
		if ev.Playback != nil {
			return out, Action{Kind: ActionPlaybackDone, ID: ev.Playback.ID}
		}
	case "ApplicationReplaced":
		return out, Action{Kind: ActionReplaced}
	}
	return out, Action{}
}

// track returns the state of ch, creating it on first sight.
func (t *Translator) track(ch *Channel) *chanState {
	if ch == nil || ch.ID == "" {
		return nil
	}
	if c := t.chans[ch.ID]; c != nil {
		return c
	}
	c := &chanState{id: ch.ID, state: ch.State, created: ch.CreationTime}
	c.tech, c.endpoint, c.localKey, c.half = splitName(ch.Name)
	c.party, c.number = t.parties.classify(c.tech, c.endpoint, ch)
	c.name = ch.Caller.Name
	c.dialed = ch.Dialplan.Exten
	c.tenant = t.tenants.fromChannel(ch)
	c.link = ch.ChannelVars["CHANNEL(linkedid)"]
	if f := ch.ChannelVars["MIXMONITOR_FILENAME"]; f != "" {
		c.recording = f
	}
	if x, ok := t.expect.take(ch.ID); ok {
		c.exp = &x
	}
	if c.localKey != "" {
		pair := t.locals[c.localKey]
		if pair == nil {
			pair = new([2]string)
			t.locals[c.localKey] = pair
		}
		pair[c.half-1] = c.id
	}
	t.chans[c.id] = c
	return c
}

func (t *Translator) created(ch *Channel, at time.Time, out []callstate.Signal) []callstate.Signal {
	if ch == nil || t.chans[ch.ID] != nil {
		return out // a known channel: adopted at reconnect, or a duplicate
	}
	c := t.track(ch)
	switch {
	case c == nil:
		return out
	case c.exp != nil:
		return t.announce(c, "", at, out)
	case c.localKey != "":
		// ;2 hangs off ;1; ;1 waits for whoever dials it.
		if c.half == 2 {
			if one := t.half(c.localKey, 1); one != nil && one.announced {
				return t.announce(c, one.id, at, out)
			}
		}
		return out
	case c.state != "Down":
		return t.announce(c, "", at, out) // inbound: the origin of a call
	}
	return out
}

func (t *Translator) half(key string, n byte) *chanState {
	if pair := t.locals[key]; pair != nil && pair[n-1] != "" {
		return t.chans[pair[n-1]]
	}
	return nil
}

// parentOf picks the leg c's LegCreated names as Peer.
func (t *Translator) parentOf(c *chanState, hint string) string {
	known := func(id string) bool {
		p := t.chans[id]
		return id != "" && id != c.id && p != nil && !p.announcing
	}
	switch {
	case known(hint):
		return hint
	case c.half == 2 && t.half(c.localKey, 1) != nil && known(t.half(c.localKey, 1).id):
		return t.half(c.localKey, 1).id
	case c.exp != nil && known(c.exp.Peer):
		return c.exp.Peer
	case known(c.link):
		return c.link
	}
	if c.bridge != "" {
		for _, id := range t.bridges[c.bridge] {
			if known(id) && t.chans[id].announced {
				return id
			}
		}
	}
	return ""
}

// announce sends c's LegCreated (once), announcing its parent first if
// needed, then the ;2 half of a Local channel waiting on it.
func (t *Translator) announce(c *chanState, hint string, at time.Time, out []callstate.Signal) []callstate.Signal {
	if c == nil || c.announced || c.announcing {
		return out
	}
	c.announcing = true
	parent := t.parentOf(c, hint)
	if p := t.chans[parent]; p != nil && !p.announced {
		out = t.announce(p, "", at, out)
	}
	c.announcing = false
	c.announced = true
	c.parent = parent
	s := callstate.Signal{Kind: callstate.LegCreated, At: at, Leg: c.id, Peer: parent,
		Party: c.party, Number: c.number, Name: c.name, Dialed: c.dialed, Tenant: c.tenant}
	if x := c.exp; x != nil {
		s.Originated = x.Originated
		if x.Dialed != "" {
			s.Dialed = x.Dialed
		}
		if x.Party != callstate.PartyUnknown {
			s.Party = x.Party
			c.party = x.Party
		}
		if x.Number != "" {
			s.Number = x.Number
			c.number = x.Number
		}
	}
	out = append(out, s)
	if c.half == 1 {
		if two := t.half(c.localKey, 2); two != nil && !two.announced {
			out = t.announce(two, c.id, at, out)
		}
	}
	return out
}

func (t *Translator) stateChange(ch *Channel, at time.Time, out []callstate.Signal) []callstate.Signal {
	c := t.track(ch)
	if c == nil {
		return out
	}
	c.state = ch.State
	out = t.announce(c, "", at, out)
	switch ch.State {
	case "Ringing":
		return t.ring(c, callstate.Ringing, at, out)
	case "Up":
		return t.answered(c, at, out)
	}
	return out
}

func (t *Translator) ring(c *chanState, k callstate.Kind, at time.Time, out []callstate.Signal) []callstate.Signal {
	if c.rang || c.up || !c.announced {
		return out
	}
	c.rang = true
	return append(out, callstate.Signal{Kind: k, At: at, Leg: c.id})
}

func (t *Translator) answered(c *chanState, at time.Time, out []callstate.Signal) []callstate.Signal {
	if c.up || !c.announced {
		return out
	}
	c.up = true
	out = append(out, callstate.Signal{Kind: callstate.Answered, At: at, Leg: c.id})
	return t.bridgeIfTalking(c, at, out)
}

// bridgeIfTalking sends Bridged for c and its first partner in its bridge
// once both are Up.
func (t *Translator) bridgeIfTalking(c *chanState, at time.Time, out []callstate.Signal) []callstate.Signal {
	if c.bridge == "" || !c.up || !c.announced {
		return out
	}
	for _, id := range t.bridges[c.bridge] {
		p := t.chans[id]
		if id == c.id || p == nil || !p.up || !p.announced {
			continue
		}
		if c.bridgedTo != id && p.bridgedTo != c.id {
			c.bridgedTo = id
			out = append(out, callstate.Signal{Kind: callstate.Bridged, At: at, Leg: c.id, Peer: id})
		}
		return out
	}
	return out
}

func (t *Translator) dial(ev *Event, at time.Time, out []callstate.Signal) []callstate.Signal {
	peer := t.track(ev.Peer)
	if peer == nil {
		return out
	}
	caller := ""
	if c := t.track(ev.Caller); c != nil {
		caller = c.id
		peer.dialCaller = caller
	}
	if !peer.announced {
		if peer.party == callstate.PartyExternal {
			if n := t.parties.dialedNumber(ev.DialString); n != "" {
				peer.number = n
			} else if n := t.parties.normalize(ev.Peer.Caller.Number); n != "" {
				peer.number = n // Dial() sets the peer's caller number to what the caller dialled
			}
		}
		out = t.announce(peer, caller, at, out)
	}
	switch ev.DialStatus {
	case "":
		return append(out, callstate.Signal{Kind: callstate.DialBegin, At: at, Leg: peer.id, Peer: caller})
	case "RINGING":
		return t.ring(peer, callstate.Ringing, at, out)
	case "PROGRESS":
		return t.ring(peer, callstate.EarlyMedia, at, out)
	case "ANSWER":
		// The peer's state change to Up says the same (and comes first):
		// one Answered, not an Answered and a DialEnd the machine would
		// count as a duplicate.
		return t.answered(peer, at, out)
	}
	cause, final := causeFromDialStatus(ev.DialStatus)
	if !final {
		return out
	}
	return append(out, callstate.Signal{Kind: callstate.DialEnd, At: at, Leg: peer.id, Peer: caller, Cause: cause})
}

func (t *Translator) destroyed(ev *Event, at time.Time, out []callstate.Signal) []callstate.Signal {
	if ev.Channel == nil {
		return out
	}
	c := t.chans[ev.Channel.ID]
	if c == nil {
		return out
	}
	if c.announced {
		out = append(out, callstate.Signal{Kind: callstate.Hangup, At: at, Leg: c.id,
			Cause: causeFromQ850(ev.Cause), CauseCode: ev.Cause})
		if c.recording != "" {
			out = append(out, callstate.Signal{Kind: callstate.RecordingFinished, At: at, Leg: c.id, Path: c.recording})
		}
	}
	t.forget(c)
	return out
}

// forget drops a destroyed channel from every index.
func (t *Translator) forget(c *chanState) {
	delete(t.chans, c.id)
	if c.bridge != "" {
		t.bridges[c.bridge] = removeID(t.bridges[c.bridge], c.id)
	}
	if pair := t.locals[c.localKey]; pair != nil {
		pair[c.half-1] = ""
		if pair[0] == "" && pair[1] == "" {
			delete(t.locals, c.localKey)
		}
	}
}

func removeID(ids []string, id string) []string {
	if i := slices.Index(ids, id); i >= 0 {
		return slices.Delete(ids, i, i+1)
	}
	return ids
}

func (t *Translator) entered(ev *Event, at time.Time, out []callstate.Signal) []callstate.Signal {
	c := t.track(ev.Channel)
	if c == nil || ev.Bridge == nil {
		return out
	}
	b := ev.Bridge.ID
	if !slices.Contains(t.bridges[b], c.id) {
		t.bridges[b] = append(t.bridges[b], c.id)
	}
	c.bridge = b
	if ev.Channel.State == "Up" && !c.up && c.announced {
		out = t.answered(c, at, out) // Up without a state change seen (adopted)
	}
	out = t.announce(c, "", at, out)
	return t.bridgeIfTalking(c, at, out)
}

func (t *Translator) left(ev *Event, at time.Time, out []callstate.Signal) []callstate.Signal {
	if ev.Channel == nil || ev.Bridge == nil {
		return out
	}
	c := t.chans[ev.Channel.ID]
	if c == nil {
		return out
	}
	members := removeID(t.bridges[ev.Bridge.ID], c.id)
	if _, ok := t.bridges[ev.Bridge.ID]; ok {
		t.bridges[ev.Bridge.ID] = members
	}
	if c.bridge == ev.Bridge.ID {
		c.bridge = ""
	}
	peer := ""
	if len(members) > 0 {
		peer = members[0]
	}
	if peer != "" {
		c.lastPeer = peer
	} else if c.bridgedTo != "" {
		c.lastPeer = c.bridgedTo
	}
	c.bridgedTo = ""
	if !c.announced {
		return out
	}
	return append(out, callstate.Signal{Kind: callstate.Unbridged, At: at, Leg: c.id, Peer: peer})
}

func (t *Translator) varset(ev *Event, at time.Time, out []callstate.Signal) []callstate.Signal {
	if ev.Channel == nil {
		return out // a global variable
	}
	switch {
	case ev.Variable == "MIXMONITOR_FILENAME":
		c := t.track(ev.Channel)
		if c == nil || ev.Value == "" || ev.Value == c.recording {
			return out
		}
		c.recording = ev.Value
		out = t.announce(c, "", at, out)
		return append(out, callstate.Signal{Kind: callstate.RecordingStarted, At: at, Leg: c.id, Path: ev.Value})
	case ev.Variable != "" && ev.Variable == t.tenants.variable():
		c := t.chans[ev.Channel.ID]
		if c == nil || ev.Value == "" || ev.Value == c.tenant {
			return out
		}
		c.tenant = ev.Value
		if !c.announced {
			return out
		}
		return append(out, callstate.Signal{Kind: callstate.SetVar, At: at, Leg: c.id, Var: callstate.VarTenant, Value: ev.Value})
	}
	return out
}

// callerID passes a new caller name of the customer's own leg (an inbound
// call's origin) on as the call's external name.
func (t *Translator) callerID(ch *Channel, at time.Time, out []callstate.Signal) []callstate.Signal {
	if ch == nil {
		return out
	}
	c := t.chans[ch.ID]
	if c == nil || ch.Caller.Name == c.name {
		return out
	}
	c.name = ch.Caller.Name
	if !c.announced || c.parent != "" || c.party != callstate.PartyExternal || c.name == "" {
		return out
	}
	return append(out, callstate.Signal{Kind: callstate.SetVar, At: at, Leg: c.id, Var: callstate.VarCallerName, Value: c.name})
}

func (t *Translator) blindTransfer(ev *Event, at time.Time, out []callstate.Signal) []callstate.Signal {
	if ev.Result != "Success" || ev.Channel == nil {
		return out
	}
	c := t.chans[ev.Channel.ID]
	if c == nil || !c.announced {
		return out
	}
	peer := c.lastPeer
	if ev.Transferee != nil && ev.Transferee.ID != "" {
		peer = ev.Transferee.ID
	}
	return append(out, callstate.Signal{Kind: callstate.TransferBlind, At: at, Leg: c.id, Peer: peer, Target: ev.Exten})
}

// stasisStart announces a channel entering the app (POST /channels/create
// puts it there while still Down), asks for the screening of an inbound
// call sent with the argument "screen", and turns the feature-code
// arguments "feature,<code>,<extension>[,<mobile>]" into a FeatureCode
// signal.
func (t *Translator) stasisStart(ev *Event, at time.Time, out []callstate.Signal) ([]callstate.Signal, Action) {
	c := t.track(ev.Channel)
	if c == nil {
		return out, Action{}
	}
	out = t.announce(c, "", at, out)
	if len(ev.Args) > 0 && ev.Args[0] == ScreenArg {
		number := c.number
		if c.party != callstate.PartyExternal {
			number = "" // not a caller from outside: nothing to look up or block
		}
		return out, Action{Kind: ActionScreen, Channel: c.id,
			Screen: screen.Call{Channel: c.id, Tenant: c.tenant, Number: number, Name: c.name, Dialed: c.dialed}}
	}
	if len(ev.Args) < 2 || ev.Args[0] != "feature" {
		return out, Action{}
	}
	ext := c.number
	if len(ev.Args) > 2 && ev.Args[2] != "" {
		ext = ev.Args[2]
	}
	mobile := ""
	if len(ev.Args) > 3 {
		mobile = ev.Args[3]
	}
	out = append(out, callstate.Signal{Kind: callstate.FeatureCode, At: at, Leg: c.id, Code: ev.Args[1],
		Number: ext, Device: c.tech + "/" + c.endpoint, Dialed: mobile, Tenant: c.tenant})
	return out, Action{Kind: ActionFeature, Channel: c.id}
}

// recordingLeg finds the leg an ARI recording's target_uri records:
// "channel:<id>", or the first known member of "bridge:<id>".
func (t *Translator) recordingLeg(uri string) string {
	kind, id, _ := strings.Cut(uri, ":")
	switch kind {
	case "channel":
		if c := t.chans[id]; c != nil && c.announced {
			return id
		}
	case "bridge":
		for _, m := range t.bridges[id] {
			if c := t.chans[m]; c != nil && c.announced {
				return m
			}
		}
	}
	return ""
}

func (t *Translator) recordingPath(r *LiveRecording) string {
	if r.Format == "" {
		return t.recordingDir + "/" + r.Name
	}
	return t.recordingDir + "/" + r.Name + "." + r.Format
}

func (t *Translator) recordingStarted(r *LiveRecording, at time.Time, out []callstate.Signal) []callstate.Signal {
	if r == nil || r.Name == "" {
		return out
	}
	if _, dup := t.recs[r.Name]; dup {
		return out
	}
	leg := t.recordingLeg(r.TargetURI)
	if leg == "" {
		return out
	}
	t.recs[r.Name] = leg
	return append(out, callstate.Signal{Kind: callstate.RecordingStarted, At: at, Leg: leg, Path: t.recordingPath(r)})
}

func (t *Translator) recordingFinished(typ string, r *LiveRecording, at time.Time, out []callstate.Signal) []callstate.Signal {
	if r == nil {
		return out
	}
	leg, ok := t.recs[r.Name]
	if !ok {
		return out
	}
	delete(t.recs, r.Name)
	if typ != "RecordingFinished" {
		return out
	}
	return append(out, callstate.Signal{Kind: callstate.RecordingFinished, At: at, Leg: leg, Path: t.recordingPath(r)})
}

// Adopt seeds the translator of a new connection with what the PBX has now
// (GET /channels and /bridges) and returns the signals that bring the state
// machine in line: a LegCreated (then Ringing or Answered, and Bridged) for
// every channel the machine does not know, and a Hangup with CauseLost for
// every leg in live (the machine's live legs) the PBX no longer has. Legs
// the machine already knows get no signal at all.
func (t *Translator) Adopt(chans []Channel, bridges []Bridge, live []string, now time.Time, out []callstate.Signal) []callstate.Signal {
	known := make(map[string]bool, len(live))
	for _, id := range live {
		known[id] = true
	}
	// Oldest first: an origin is created before the legs it dials.
	order := make([]*Channel, len(chans))
	for i := range chans {
		order[i] = &chans[i]
	}
	slices.SortStableFunc(order, func(a, b *Channel) int { return strings.Compare(a.CreationTime, b.CreationTime) })
	present := make(map[string]bool, len(chans))
	for _, ch := range order {
		c := t.track(ch)
		if c == nil {
			continue
		}
		present[c.id] = true
		if known[c.id] {
			c.announced = true
			c.rang = ch.State == "Ringing" || ch.State == "Up"
			c.up = ch.State == "Up"
		}
	}
	for _, b := range bridges {
		ids := make([]string, 0, len(b.Channels))
		for _, id := range b.Channels {
			if c := t.chans[id]; c != nil {
				ids = append(ids, id)
				c.bridge = b.ID
			}
		}
		t.bridges[b.ID] = ids
		// Partners the machine already knows are bridged already.
		for _, id := range ids {
			for _, other := range ids {
				if id != other && known[id] && known[other] && t.chans[id].up && t.chans[other].up {
					t.chans[id].bridgedTo = other
				}
			}
		}
	}
	for _, ch := range order {
		c := t.chans[ch.ID]
		if c == nil || c.announced {
			continue
		}
		out = t.announce(c, "", now, out)
	}
	for _, ch := range order {
		c := t.chans[ch.ID]
		if c == nil || known[c.id] {
			continue
		}
		switch ch.State {
		case "Ringing":
			out = t.ring(c, callstate.Ringing, now, out)
		case "Up":
			out = t.answered(c, now, out)
		}
		if c.recording != "" {
			out = append(out, callstate.Signal{Kind: callstate.RecordingStarted, At: now, Leg: c.id, Path: c.recording})
		}
	}
	for _, id := range live {
		if !present[id] {
			out = append(out, callstate.Signal{Kind: callstate.Hangup, At: now, Leg: id, Cause: callstate.CauseLost})
		}
	}
	return out
}

// Channels is the number of channels the translator tracks.
func (t *Translator) Channels() int { return len(t.chans) }
