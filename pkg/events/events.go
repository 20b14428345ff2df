// Package events owns Ringside's wire contract on NATS: the versioned JSON
// payload of a call event, the subjects events and commands travel on, and the
// message ids JetStream de-duplicates by.
//
// Version 1 only ever grows: fields may be added, none is renamed, retyped or
// removed. Golden files in testdata/ pin the JSON.
package events

import (
	"strconv"
	"strings"
	"time"
)

// Version is the payload version carried in every event ("v") and subject.
const Version = 1

// Type names what happened to a call. It is the last token of the subject.
type Type string

// The call event types, in the order a call usually produces them.
const (
	// Started opens a call: direction and numbers are known.
	Started Type = "started"
	// Ringing: the extension in Agent started ringing (inbound, internal), or
	// the customer's phone started ringing for the agent in Agent (outbound).
	Ringing Type = "ringing"
	// RingStopped: Agent's phone stopped ringing without taking the call;
	// Reason says why (answered_elsewhere closes a pop, it is not a miss).
	RingStopped Type = "ring_stopped"
	// Answered: the call was answered; Agent is the extension talking.
	Answered Type = "answered"
	// Transferred: the call moved to the extension in Agent; Transfers grew.
	Transferred Type = "transferred"
	// Ended is the one terminal event of a call; Disposition is set.
	Ended Type = "ended"
	// Recording: the final recording file is known. It may follow Ended.
	Recording Type = "recording"
	// TerminalSet: an extension chose its default terminal with a feature
	// code (*037 from a desk phone or softphone, 3037 from a mobile seat).
	TerminalSet Type = "terminal_set"
)

// Types lists every event type, for allow-lists and documentation.
var Types = []Type{Started, Ringing, RingStopped, Answered, Transferred, Ended, Recording, TerminalSet}

// Direction of a call, seen from the tenant's side.
type Direction string

// Directions.
const (
	Inbound  Direction = "inbound"
	Outbound Direction = "outbound"
	Internal Direction = "internal"
)

// Disposition is how a call ended.
type Disposition string

// Dispositions. Inbound calls end answered, missed (the agents rang out),
// abandoned (the caller hung up first), busy or failed; outbound and internal
// calls end answered, busy, no_answer, cancelled (the caller hung up first)
// or failed.
const (
	DispositionAnswered  Disposition = "answered"
	DispositionMissed    Disposition = "missed"
	DispositionAbandoned Disposition = "abandoned"
	DispositionBusy      Disposition = "busy"
	DispositionNoAnswer  Disposition = "no_answer"
	DispositionCancelled Disposition = "cancelled"
	DispositionFailed    Disposition = "failed"
)

// Origin says who placed the call.
type Origin string

// Origins.
const (
	OriginPBX         Origin = "pbx"           // dialled on the PBX
	OriginClickToCall Origin = "click_to_call" // originated by Ringside for a CRM user
)

// Transfer is one hop of a call from one extension to another.
type Transfer struct {
	Kind string    `json:"kind"` // blind | attended
	From string    `json:"from"` // extension that transferred
	To   string    `json:"to"`   // extension that took the call
	At   time.Time `json:"at"`
}

// Terminal is the device an extension chose as its default terminal.
type Terminal struct {
	Extension string `json:"extension"`
	Code      string `json:"code"`             // the feature code dialled: *037 or 3037
	Device    string `json:"device"`           // PBX endpoint the code was dialled from, e.g. PJSIP/1001
	Mobile    string `json:"mobile,omitempty"` // the mobile number, for 3037
}

// Call is one versioned call event. Every event carries the whole call as it
// stands, so a consumer that sees only some events still has what it needs.
type Call struct {
	V      int       `json:"v"`
	ID     string    `json:"id"` // <call_id>:<seq>, stable across redeliveries
	Type   Type      `json:"type"`
	CallID string    `json:"call_id"`
	Seq    uint32    `json:"seq"` // strictly increasing per call, from 1
	Tenant string    `json:"tenant"`
	Node   string    `json:"node,omitempty"`
	At     time.Time `json:"at"` // when the PBX saw what this event reports

	Direction Direction `json:"direction,omitempty"`
	Origin    Origin    `json:"origin,omitempty"`
	// External is the customer's number: the caller on inbound calls, the
	// number dialled on outbound calls. Empty on internal calls.
	External     string `json:"external_number,omitempty"`
	ExternalName string `json:"external_name,omitempty"`
	// Dialed is the number the caller dialled: the DID of an inbound call,
	// the callee's extension on an internal call.
	Dialed string `json:"dialed_number,omitempty"`
	// Caller is the extension that placed an outbound or internal call.
	Caller string `json:"caller_extension,omitempty"`

	Agent  string `json:"agent,omitempty"`  // the extension this event is about
	Reason string `json:"reason,omitempty"` // why (ring_stopped, transferred, ended)

	Agents     []string `json:"agents,omitempty"`      // every extension that rang, first ring first
	AnsweredBy string   `json:"answered_by,omitempty"` // the extension handling the call now

	StartedAt  time.Time `json:"started_at,omitzero"`
	AnsweredAt time.Time `json:"answered_at,omitzero"`
	EndedAt    time.Time `json:"ended_at,omitzero"`

	Disposition Disposition `json:"disposition,omitempty"`
	TalkSeconds int         `json:"talk_seconds,omitempty"`
	HangupCause string      `json:"hangup_cause,omitempty"`
	// LinkLost marks a call closed because it ended while Ringside was not
	// connected to the PBX: times and disposition are Ringside's best view.
	LinkLost bool `json:"link_lost,omitempty"`

	Transfers        []Transfer `json:"transfers,omitempty"`
	Recording        string     `json:"recording,omitempty"`         // final file on the PBX
	RecordingPending bool       `json:"recording_pending,omitempty"` // a recording runs; a Recording event follows

	Terminal *Terminal `json:"terminal,omitempty"`

	// Screen is what the screening of an inbound call decided before it
	// rang (caller name, blacklist, owner routing); nil when the call was
	// not screened. Events published before the decision (started) lack it.
	Screen *Screen `json:"screen,omitempty"`
}

// ReasonBlacklisted is the Reason of the ended event of a call rejected
// because its caller is on the tenant's blacklist.
const ReasonBlacklisted = "blacklisted"

// Screen is the screening decision of an inbound call, taken while it
// waited to ring (README, "Caller name, blacklist and owner routing").
type Screen struct {
	// Blacklisted: the caller matched the tenant's blacklist and the call
	// was rejected before ringing. Sinks log nothing in the CRM for it.
	Blacklisted bool `json:"blacklisted,omitempty"`
	// CallerName is the CRM record's name the ringing phones showed.
	CallerName string `json:"caller_name,omitempty"`
	// Record is the CRM record the caller matched, "<module>/<id>"
	// (Contacts/4150868000000225013).
	Record string `json:"record,omitempty"`
	// OwnerExtension is the extension the call was offered to first: the
	// one linked to the record's owner (owner routing).
	OwnerExtension string `json:"owner_extension,omitempty"`
}

// MsgID is the JetStream de-duplication id of an event: <call_id>:<seq>.
func MsgID(callID string, seq uint32) string {
	return callID + ":" + strconv.FormatUint(uint64(seq), 10)
}

// Subject prefixes and tokens.
const (
	Prefix = "ringside.v1"
	// CallSubjects matches every call event of every tenant.
	CallSubjects = Prefix + ".*.call.*"
	// CommandToken is the tenant position word reserved for commands.
	CommandToken = "cmd"
)

// reserved words cannot name a tenant or a node: a tenant "cmd" would read as
// a command subject, a node "call" would put commands
// (ringside.v1.cmd.call.<x>) into the call stream, and "deadletter" is the
// dead-letter subjects' own word.
var reserved = map[string]bool{CommandToken: true, "call": true, "deadletter": true}

// CallSubject is the subject of a call event: ringside.v1.<tenant>.call.<type>.
func CallSubject(tenant string, t Type) string {
	return Prefix + "." + tenant + ".call." + string(t)
}

// CommandSubject is the subject of a command for one node:
// ringside.v1.cmd.<node>.<command>.
func CommandSubject(node, command string) string {
	return Prefix + "." + CommandToken + "." + node + "." + command
}

// ValidToken reports whether s can stand as one subject token (a tenant or a
// node id): 1 to 64 bytes, no dots, wildcards or whitespace, not a reserved
// word.
func ValidToken(s string) bool {
	if s == "" || reserved[s] || len(s) > 64 {
		return false
	}
	return !strings.ContainsAny(s, ".*> \t\r\n")
}

// TenantToken turns the name a PBX gives a tenant into a tenant id: dots
// become underscores, so a domain names a tenant ("acme.example.com", a
// FreeSWITCH or FusionPBX domain, is tenant acme_example_com). It returns ""
// when the result is still not a valid token.
func TenantToken(name string) string {
	t := strings.ReplaceAll(name, ".", "_")
	if !ValidToken(t) {
		return ""
	}
	return t
}
