package events

import "time"

// Commands travel on ringside.v1.cmd.<node>.<command> (CommandSubject) to
// the node that owns the PBX, as request/reply on NATS core: the node
// answers once it accepted the command (not when the work is done), so a
// sender learns at once that no node is there to take it. Like call events
// their payloads are versioned ("v": 1) and only ever grow; golden files in
// testdata/ pin them.

// Command names: the last token of a command subject.
const (
	// CommandOriginate places a click-to-call (Originate).
	CommandOriginate = "originate"
	// CommandCallControl acts on a call in progress (CallControl).
	CommandCallControl = "callcontrol"
)

// Terminal kinds of an Originate: which phone leg A rings.
const (
	TerminalDesk      = "desk"      // the device registered with *037
	TerminalMobile    = "mobile"    // the mobile number registered with 3037
	TerminalExtension = "extension" // no registration: the extension itself
)

// Originate asks the node to ring a user's default terminal (leg A) and,
// once answered, the customer (leg B), and to bridge them.
type Originate struct {
	V int `json:"v"`
	// ID is unique per click; it names the legs and makes a redelivered
	// command a no-op.
	ID        string `json:"id"`
	Tenant    string `json:"tenant"`
	Extension string `json:"extension"` // the user's extension: the call's caller
	// ZohoUser is who clicked, so failures reach them (clicktodialerror).
	ZohoUser string `json:"zoho_user,omitempty"`
	// TerminalKind is TerminalDesk, TerminalMobile or TerminalExtension;
	// Device is the PBX endpoint of a desk terminal or the extension's own
	// device (empty: the node's desk endpoint rule), Mobile the number of a
	// mobile terminal.
	TerminalKind string `json:"terminal_kind"`
	Device       string `json:"device,omitempty"`
	Mobile       string `json:"mobile,omitempty"`
	// Customer is the number to call (E.164 when known), CustomerName what
	// the user's phone shows with it.
	Customer     string    `json:"customer"`
	CustomerName string    `json:"customer_name,omitempty"`
	RequestedAt  time.Time `json:"requested_at"`
}

// Call-control actions (PhoneBridge callcontrol URIs).
const (
	ActionAnswer   = "answer"
	ActionHangup   = "hangup"
	ActionHold     = "hold"
	ActionUnhold   = "unhold"
	ActionMute     = "mute"
	ActionUnmute   = "unmute"
	ActionKeypress = "keypress"
)

// CallControl asks the node to act on a call in progress.
type CallControl struct {
	V      int    `json:"v"`
	ID     string `json:"id"`
	Tenant string `json:"tenant"`
	CallID string `json:"call_id"`
	// Leg is the PBX leg to act on (the call's origin leg when empty).
	Leg    string `json:"leg,omitempty"`
	Action string `json:"action"`
	Digits string `json:"digits,omitempty"` // keypress
	// Direction of mute/unmute on Leg: "in" (what it sends) or "out"
	// (what it receives).
	Direction string `json:"direction,omitempty"`
	Extension string `json:"extension,omitempty"` // the user who asked
}

// CommandReply is a node's answer to a command: OK, or why it refused.
type CommandReply struct {
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
	// Code classifies a refusal: "invalid" (bad command), "unknown_call",
	// "unsupported" (the PBX cannot do it), "unavailable" (try later).
	Code string `json:"code,omitempty"`
}
