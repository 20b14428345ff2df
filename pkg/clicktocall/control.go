package clicktocall

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/ringside/ringside/pkg/events"
)

// PhoneBridge call control (spec zoho.md §1.7): Zoho calls the URIs
// registered per user with callrefid (the callnotify id of the call) and,
// for keypress, digit. Control answers "success", or "invalid" for a call
// it does not know or an action the PBX cannot do for that call.
//
// What each PBX can do, on the call's origin leg (the leg Ringside knows):
//
//	action         inbound call (origin = customer)     outbound / click-to-call (origin = user)
//	hangup         hang up (both PBXes)                  hang up (both PBXes)
//	hold, unhold   hold the customer (ARI hold,           invalid: it would hold the user
//	               FreeSWITCH uuid_hold)
//	mute, unmute   the customer stops hearing the user    the user's audio is muted
//	               (ARI mute out, FreeSWITCH uuid_audio)  (ARI mute in, FreeSWITCH uuid_audio)
//	keypress       DTMF to the customer (ARI dtmf,        invalid: it would play DTMF to the user
//	               FreeSWITCH uuid_send_dtmf)
//	answer         invalid: a PBX cannot pick up a desk phone (no auto-answer)

// Op is one call-control operation on a leg.
type Op struct {
	Action string // events.Action*
	Digits string // keypress
	// Direction of mute/unmute: "in" mutes what the leg sends, "out" what
	// it receives.
	Direction string
}

// CallController acts on a PBX leg. The adapters implement it
// (asterisk.(*Adapter).Control, freeswitch.(*Adapter).Control); an action
// the PBX cannot do returns ErrUnsupported.
type CallController interface {
	Control(ctx context.Context, leg string, op Op) error
}

// ErrUnsupported: the PBX cannot do this.
var ErrUnsupported = errors.New("not supported by this PBX")

// Plan says what an action means for a call of the given direction, or
// ok=false when it cannot be done (see the table above).
func Plan(action, digits string, d events.Direction) (Op, bool) {
	inbound := d == events.Inbound
	switch action {
	case events.ActionHangup:
		return Op{Action: action}, true
	case events.ActionHold, events.ActionUnhold:
		return Op{Action: action}, inbound
	case events.ActionMute, events.ActionUnmute:
		dir := "in"
		if inbound {
			dir = "out"
		}
		return Op{Action: action, Direction: dir}, true
	case events.ActionKeypress:
		ok := inbound && digits != "" && len(digits) <= 32 && strings.Trim(digits, "0123456789*#ABCDabcd") == ""
		return Op{Action: action, Digits: digits}, ok
	}
	return Op{}, false
}

// Calls remembers the calls in progress by their PhoneBridge id, from the
// call events (a consumer of ringside.v1.*.call.*), so Control can find
// the node and call of a callrefid.
type Calls struct {
	refID func(callID string, segment int) string // zoho.PhoneBridgeCallID
	mu    sync.Mutex
	byRef map[string]CallRef
	refs  map[string][]string // call id → its refs
}

// CallRef is what Control needs of a call.
type CallRef struct {
	Tenant, Node, CallID string
	Direction            events.Direction
	Agents               []string
}

// NewCalls returns an empty registry; refID is zoho.PhoneBridgeCallID.
func NewCalls(refID func(callID string, segment int) string) *Calls {
	return &Calls{refID: refID, byRef: map[string]CallRef{}, refs: map[string][]string{}}
}

// Observe records a call event: every id the call had (one per transfer
// segment) points at it until it ends.
func (c *Calls) Observe(ev events.Call) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ev.Type == events.Ended {
		for _, r := range c.refs[ev.CallID] {
			delete(c.byRef, r)
		}
		delete(c.refs, ev.CallID)
		return
	}
	if ev.CallID == "" || ev.Type == events.TerminalSet || ev.Type == events.Recording {
		return
	}
	ref := CallRef{Tenant: ev.Tenant, Node: ev.Node, CallID: ev.CallID, Direction: ev.Direction, Agents: ev.Agents}
	for seg := len(c.refs[ev.CallID]); seg <= len(ev.Transfers)+1; seg++ {
		c.refs[ev.CallID] = append(c.refs[ev.CallID], c.refID(ev.CallID, seg))
	}
	for _, r := range c.refs[ev.CallID] {
		c.byRef[r] = ref
	}
}

// Find returns the call a callrefid names.
func (c *Calls) Find(ref string) (CallRef, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.byRef[ref]
	return r, ok
}

// ControlOptions configure Control.
type ControlOptions struct {
	Users      Users
	Calls      *Calls
	Commander  Commander
	AuthParam  string
	Logger     *zap.Logger
	Registerer prometheus.Registerer
}

// Control serves the call-control URIs. Mount it with
//
//	srv.Handle("GET /zoho/{tenant}/callcontrol/{action}", ctl)
//	srv.Handle("POST /zoho/{tenant}/callcontrol/{action}", ctl)
//
// and register CallControlURLs for each linked user.
type Control struct {
	o   ControlOptions
	log *zap.Logger
	m   *prometheus.CounterVec
}

// NewControl checks the options.
func NewControl(o ControlOptions) (*Control, error) {
	if o.Users == nil || o.Calls == nil || o.Commander == nil {
		return nil, errors.New("clicktocall: call control needs Users, Calls and Commander")
	}
	if o.AuthParam == "" {
		o.AuthParam = "ringside_auth"
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	m, err := counter(o.Registerer, "callcontrol_requests_total",
		"Call-control requests from Zoho, by action and result (ok, invalid, unauthorized, error).", "action", "result")
	if err != nil {
		return nil, err
	}
	return &Control{o: o, log: o.Logger.Named("callcontrol"), m: m}, nil
}

// CallControlURLs are the call-control URIs to register for a tenant's
// users (zoho.Registration.CallControl).
func CallControlURLs(publicURL, tenant string) map[string]string {
	base := strings.TrimRight(publicURL, "/") + "/zoho/" + tenant + "/callcontrol/"
	return map[string]string{"answeruri": base + "answer", "hungupuri": base + "hangup", "holduri": base + "hold",
		"unholduri": base + "unhold", "muteuri": base + "mute", "unmuteuri": base + "unmute", "keypressuri": base + "keypress"}
}

func (c *Control) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	action := r.PathValue("action")
	label := action
	if _, ok := Plan(action, "1", events.Inbound); !ok && action != events.ActionAnswer {
		label = "other"
	}
	if err := params(w, r); err != nil {
		c.m.WithLabelValues(label, "invalid").Inc()
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	tenant := r.PathValue("tenant")
	link, ok := authenticate(r.Context(), w, r, c.o.Users, c.o.AuthParam, tenant, r.Form.Get("zohouser"), c.log)
	if !ok {
		c.m.WithLabelValues(label, "unauthorized").Inc()
		return
	}
	invalid := func(why string) {
		c.m.WithLabelValues(label, "invalid").Inc()
		c.log.Info("call control refused", zap.String("tenant", tenant), zap.String("action", action), zap.String("why", why))
		_, _ = w.Write([]byte("invalid"))
	}
	call, found := c.o.Calls.Find(r.Form.Get("callrefid"))
	if !found || call.Tenant != tenant {
		invalid("unknown call")
		return
	}
	digits := firstOf(r, "digit", "digits")
	op, ok := Plan(action, digits, call.Direction)
	if !ok {
		invalid("not possible for this call")
		return
	}
	cmd := events.CallControl{V: events.Version, ID: newID(), Tenant: tenant, CallID: call.CallID, Action: op.Action,
		Digits: op.Digits, Direction: op.Direction, Extension: link.Extension}
	payload, _ := json.Marshal(cmd)
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	out, err := c.o.Commander.Command(ctx, events.CommandSubject(call.Node, events.CommandCallControl), payload)
	var rep events.CommandReply
	if err == nil {
		err = json.Unmarshal(out, &rep)
	}
	switch {
	case err != nil:
		c.m.WithLabelValues(label, "error").Inc()
		c.log.Warn("call control: node did not answer", zap.String("call_id", call.CallID), zap.Error(err))
		http.Error(w, "temporarily unavailable", http.StatusServiceUnavailable)
	case !rep.OK:
		invalid(rep.Code + ": " + rep.Error)
	default:
		c.m.WithLabelValues(label, "ok").Inc()
		_, _ = w.Write([]byte("success"))
	}
}

// Controller executes call-control commands on the node: the call id's
// origin leg is call id minus the node's id prefix (node_id + "-").
type Controller struct {
	PBX      CallController
	IDPrefix string
	Timeout  time.Duration // one PBX command (5s)
}

// HandleCommand is the handler of ringside.v1.cmd.<node>.callcontrol: it
// runs the command and returns the reply (JSON events.CommandReply).
func (c Controller) HandleCommand(ctx context.Context, payload []byte) []byte {
	rep := c.run(ctx, payload)
	b, _ := json.Marshal(rep)
	return b
}

func (c Controller) run(ctx context.Context, payload []byte) events.CommandReply {
	var cmd events.CallControl
	if err := json.Unmarshal(payload, &cmd); err != nil || cmd.V != events.Version {
		return events.CommandReply{Code: "invalid", Error: "not a v1 callcontrol command"}
	}
	leg := cmd.Leg
	if leg == "" {
		var ok bool
		if leg, ok = strings.CutPrefix(cmd.CallID, c.IDPrefix); !ok || leg == "" {
			return events.CommandReply{Code: "unknown_call", Error: "call of another node"}
		}
	}
	op := Op{Action: cmd.Action, Digits: cmd.Digits, Direction: cmd.Direction}
	t := c.Timeout
	if t <= 0 {
		t = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, t)
	defer cancel()
	if err := c.PBX.Control(ctx, leg, op); err != nil {
		if errors.Is(err, ErrUnsupported) {
			return events.CommandReply{Code: "unsupported", Error: err.Error()}
		}
		return events.CommandReply{Code: "unknown_call", Error: err.Error()}
	}
	return events.CommandReply{OK: true}
}
