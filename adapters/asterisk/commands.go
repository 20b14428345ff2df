package asterisk

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/CyCoreSystems/ari/v5"

	"github.com/ringside/ringside/pkg/callstate"
	"github.com/ringside/ringside/pkg/fault"
)

// Every command takes a context, is bounded by Options.RequestTimeout, and
// returns errors wrapped "asterisk: <command> <id>: …" and classified:
// fault.IsPermanent for ARI's 4xx answers (404 no such channel, 409 not in
// Stasis or duplicate id, 422, 400), retryable (fault.Retryable) for 5xx,
// timeouts and connection errors. StatusOf(err) gives the HTTP status.

// ClickToCall marks an originated leg as leg A of a click-to-call: the
// extension's phone is rung first, the customer dialled once it answers.
type ClickToCall struct {
	Extension string // the user's extension (the call's caller)
	Customer  string // the number leg B will dial (E.164)
}

// OriginateRequest originates one channel with a pre-assigned id.
type OriginateRequest struct {
	ChannelID string // required: Ringside knows the leg by it before its first event
	Endpoint  string // e.g. PJSIP/1001
	CallerID  string // `"Name" <number>`
	// Either App (default: the adapter's application) and AppArgs, or
	// Context, Extension and Priority (the dialplan runs once it answers).
	App       string
	AppArgs   []string
	Context   string
	Extension string
	Priority  int
	Timeout   time.Duration // ring time before giving up (Asterisk's default 30s if zero)
	Variables map[string]string
	// Originator is a channel whose linkedid (call) and codecs the new one
	// inherits.
	Originator  string
	ClickToCall *ClickToCall
}

// Originate places a channel (POST /channels/{id}). With ClickToCall set the
// leg opens an outbound click_to_call call as soon as Asterisk creates it.
func (a *Adapter) Originate(ctx context.Context, req OriginateRequest) error {
	if req.ChannelID == "" || req.Endpoint == "" {
		return fault.Permanent(errors.New("asterisk: originate: channel id and endpoint are required"))
	}
	body := ari.OriginateRequest{
		Endpoint: req.Endpoint, CallerID: req.CallerID, ChannelID: req.ChannelID,
		Originator: req.Originator, Variables: req.Variables,
		Context: req.Context, Extension: req.Extension, Priority: int64(req.Priority),
	}
	if req.Timeout > 0 {
		body.Timeout, _ = strconv.Atoi(secs(req.Timeout))
	}
	if req.Context == "" {
		body.App = req.App
		if body.App == "" {
			body.App = a.app
		}
		body.AppArgs = joinArgs(req.AppArgs)
	} else if body.Priority == 0 {
		body.Priority = 1
	}
	if c := req.ClickToCall; c != nil {
		a.expect.add(req.ChannelID, Expectation{Originated: true, Dialed: c.Customer,
			Party: callstate.PartyExtension, Number: c.Extension}, time.Now())
	}
	if err := a.rest.do(ctx, "originate", http.MethodPost, "/channels/"+esc(req.ChannelID), nil, body, nil); err != nil {
		a.expect.remove(req.ChannelID)
		return fmt.Errorf("asterisk: originate %s: %w", req.ChannelID, err)
	}
	return nil
}

// SecondLeg dials the customer for a click-to-call whose leg A answered and
// sits in the Stasis application.
type SecondLeg struct {
	BridgeID  string // the mixing bridge to create for the call (pre-assigned)
	Caller    string // leg A's channel id
	ChannelID string // leg B's pre-assigned id
	Endpoint  string // e.g. PJSIP/+4930123456@trunk
	Customer  string // the number dialled (E.164), for the call record
	// CallerNumber and CallerName are shown to the customer (the user's
	// outbound caller id); empty keeps what the endpoint sets.
	CallerNumber string
	CallerName   string
	AppArgs      []string
	Timeout      time.Duration
	Variables    map[string]string
}

type createBody struct {
	Endpoint   string            `json:"endpoint"`
	App        string            `json:"app"`
	AppArgs    string            `json:"appArgs,omitempty"`
	ChannelID  string            `json:"channelId,omitempty"`
	Originator string            `json:"originator,omitempty"`
	Variables  map[string]string `json:"variables,omitempty"`
}

// DialSecondLeg creates a mixing bridge with leg A in it, creates leg B
// (POST /channels/create, originator A so both share a call), adds it to the
// bridge at once (the customer's ringback and early media reach the user) and
// dials it (POST /channels/{b}/dial?caller=A). The caller hangs up the other
// leg and deletes the bridge when one side ends (ARI bridges never do).
func (a *Adapter) DialSecondLeg(ctx context.Context, l SecondLeg) error {
	if l.BridgeID == "" || l.Caller == "" || l.ChannelID == "" || l.Endpoint == "" {
		return fault.Permanent(errors.New("asterisk: dial second leg: bridge, caller, channel id and endpoint are required"))
	}
	wrap := func(step string, err error) error {
		return fmt.Errorf("asterisk: dial second leg %s: %s: %w", l.ChannelID, step, err)
	}
	if err := a.CreateBridge(ctx, l.BridgeID); err != nil {
		return wrap("bridge", err)
	}
	if err := a.AddToBridge(ctx, l.BridgeID, l.Caller); err != nil {
		return wrap("add caller", err)
	}
	vars := make(map[string]string, len(l.Variables)+2)
	for k, v := range l.Variables {
		vars[k] = v
	}
	if l.CallerNumber != "" {
		vars["CALLERID(num)"] = l.CallerNumber
	}
	if l.CallerName != "" {
		vars["CALLERID(name)"] = l.CallerName
	}
	a.expect.add(l.ChannelID, Expectation{Peer: l.Caller, Party: callstate.PartyExternal, Number: l.Customer}, time.Now())
	body := createBody{Endpoint: l.Endpoint, App: a.app, AppArgs: joinArgs(l.AppArgs), ChannelID: l.ChannelID,
		Originator: l.Caller, Variables: vars}
	if err := a.rest.do(ctx, "create", http.MethodPost, "/channels/create", nil, body, nil); err != nil {
		a.expect.remove(l.ChannelID)
		return wrap("create", err)
	}
	if err := a.AddToBridge(ctx, l.BridgeID, l.ChannelID); err != nil {
		return wrap("add callee", err)
	}
	q := url.Values{"caller": {l.Caller}}
	if l.Timeout > 0 {
		q.Set("timeout", secs(l.Timeout))
	}
	if err := a.rest.do(ctx, "dial", http.MethodPost, "/channels/"+esc(l.ChannelID)+"/dial", q, nil, nil); err != nil {
		return wrap("dial", err)
	}
	return nil
}

// Hangup hangs a channel up (DELETE /channels/{id}); reason is an ARI
// reason (normal, busy, congestion, no_answer, rejected…), normal if empty.
func (a *Adapter) Hangup(ctx context.Context, id, reason string) error {
	if reason == "" {
		reason = "normal"
	}
	if err := a.rest.do(ctx, "hangup", http.MethodDelete, "/channels/"+esc(id), url.Values{"reason": {reason}}, nil, nil); err != nil {
		return fmt.Errorf("asterisk: hangup %s: %w", id, err)
	}
	return nil
}

// SetVariable sets a channel variable or function, e.g. CALLERID(name).
func (a *Adapter) SetVariable(ctx context.Context, id, name, value string) error {
	q := url.Values{"variable": {name}, "value": {value}}
	if err := a.rest.do(ctx, "set_variable", http.MethodPost, "/channels/"+esc(id)+"/variable", q, nil, nil); err != nil {
		return fmt.Errorf("asterisk: set %s on %s: %w", name, id, err)
	}
	return nil
}

// GetVariable reads a channel variable or function, e.g. CHANNEL(linkedid).
func (a *Adapter) GetVariable(ctx context.Context, id, name string) (string, error) {
	var out struct {
		Value string `json:"value"`
	}
	if err := a.rest.do(ctx, "get_variable", http.MethodGet, "/channels/"+esc(id)+"/variable", url.Values{"variable": {name}}, nil, &out); err != nil {
		return "", fmt.Errorf("asterisk: get %s on %s: %w", name, id, err)
	}
	return out.Value, nil
}

// SetCallerName shows name as the caller of a channel (CALLERID(name)), e.g.
// the CRM's name of an inbound caller while the agents' phones ring.
func (a *Adapter) SetCallerName(ctx context.Context, id, name string) error {
	return a.SetVariable(ctx, id, "CALLERID(name)", name)
}

// Redirect sends a channel to another endpoint (POST /channels/{id}/redirect).
func (a *Adapter) Redirect(ctx context.Context, id, endpoint string) error {
	if err := a.rest.do(ctx, "redirect", http.MethodPost, "/channels/"+esc(id)+"/redirect", url.Values{"endpoint": {endpoint}}, nil, nil); err != nil {
		return fmt.Errorf("asterisk: redirect %s: %w", id, err)
	}
	return nil
}

// Continue lets a channel in the application continue in the dialplan: at
// context/extension/priority, or (all empty) at the next priority.
func (a *Adapter) Continue(ctx context.Context, id, dpContext, extension string, priority int) error {
	q := url.Values{}
	if dpContext != "" {
		q.Set("context", dpContext)
	}
	if extension != "" {
		q.Set("extension", extension)
	}
	if priority > 0 {
		q.Set("priority", strconv.Itoa(priority))
	}
	if err := a.rest.do(ctx, "continue", http.MethodPost, "/channels/"+esc(id)+"/continue", q, nil, nil); err != nil {
		return fmt.Errorf("asterisk: continue %s: %w", id, err)
	}
	return nil
}

// Answer answers a channel in the application.
func (a *Adapter) Answer(ctx context.Context, id string) error {
	if err := a.rest.do(ctx, "answer", http.MethodPost, "/channels/"+esc(id)+"/answer", nil, nil, nil); err != nil {
		return fmt.Errorf("asterisk: answer %s: %w", id, err)
	}
	return nil
}

// Play plays media (e.g. sound:beep) to a channel as playback playbackID.
func (a *Adapter) Play(ctx context.Context, id, playbackID, media string) error {
	if err := a.rest.do(ctx, "play", http.MethodPost, "/channels/"+esc(id)+"/play/"+esc(playbackID), url.Values{"media": {media}}, nil, nil); err != nil {
		return fmt.Errorf("asterisk: play %s: %w", id, err)
	}
	return nil
}

// CreateBridge creates (or finds) a mixing bridge with a pre-assigned id.
func (a *Adapter) CreateBridge(ctx context.Context, id string) error {
	if err := a.rest.do(ctx, "create_bridge", http.MethodPost, "/bridges/"+esc(id), url.Values{"type": {"mixing"}}, nil, nil); err != nil {
		return fmt.Errorf("asterisk: create bridge %s: %w", id, err)
	}
	return nil
}

// AddToBridge puts a channel of the application into a bridge.
func (a *Adapter) AddToBridge(ctx context.Context, bridge, channel string) error {
	if err := a.rest.do(ctx, "add_channel", http.MethodPost, "/bridges/"+esc(bridge)+"/addChannel", url.Values{"channel": {channel}}, nil, nil); err != nil {
		return fmt.Errorf("asterisk: add %s to bridge %s: %w", channel, bridge, err)
	}
	return nil
}

// DestroyBridge deletes a bridge (its channels stay up).
func (a *Adapter) DestroyBridge(ctx context.Context, id string) error {
	if err := a.rest.do(ctx, "delete_bridge", http.MethodDelete, "/bridges/"+esc(id), nil, nil, nil); err != nil {
		return fmt.Errorf("asterisk: delete bridge %s: %w", id, err)
	}
	return nil
}

// Info asks Asterisk who it is (GET /asterisk/info).
func (a *Adapter) Info(ctx context.Context) (AsteriskInfo, error) {
	info, err := a.rest.info(ctx)
	if err != nil {
		return info, fmt.Errorf("asterisk: info: %w", err)
	}
	return info, nil
}
