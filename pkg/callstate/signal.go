package callstate

import "time"

// Kind names a PBX-neutral signal. Adapters translate ARI and ESL events into
// these; the machine never sees a PBX-specific event.
type Kind uint8

// Signal kinds. The comment of each says which Signal fields it reads.
const (
	KindUnknown Kind = iota
	// LegCreated: a channel appeared. Leg, Party, Number, Name, Dialed,
	// Tenant; Peer names a leg of the call it belongs to (the caller of a
	// Dial, the A-leg of a bridge, the originator), empty for a new call;
	// Originated and Dialed mark the first leg of a click-to-call.
	LegCreated
	// Ringing: the leg's phone rings (SIP 180). Leg.
	Ringing
	// EarlyMedia: the leg sends early media (SIP 183); treated as ringing. Leg.
	EarlyMedia
	// Answered: the leg answered. Leg.
	Answered
	// Bridged: Leg and Peer were bridged (they talk to each other).
	Bridged
	// Unbridged: Leg left its bridge with Peer (Peer may be empty).
	Unbridged
	// DialBegin: Peer (the caller) started dialling Leg (the callee).
	DialBegin
	// DialEnd: the dial of Leg ended with Cause; CauseNormal means answered.
	DialEnd
	// Hangup: Leg ended with Cause (and CauseCode, the PBX's own code).
	// CauseLost means the leg ended while Ringside was not connected.
	Hangup
	// TransferBlind: Leg (the transferer) sent Peer (the transferee) to the
	// extension in Target.
	TransferBlind
	// TransferAttended: Leg (the transferer's leg in this call) handed the
	// call to Target (the leg that answered the consultation call), whose
	// call the transferer placed from Peer (the transferer's second leg).
	TransferAttended
	// RecordingStarted: a recording of Leg's call started, into Path.
	RecordingStarted
	// RecordingFinished: the recording in Path is final.
	RecordingFinished
	// FeatureCode: Leg dialled Code (*037, 3037); Number is the extension,
	// Device the endpoint it dialled from, Dialed the mobile number for 3037.
	FeatureCode
	// SetVar: Var on Leg's call takes Value.
	SetVar
	kindCount
)

var kindNames = [...]string{
	KindUnknown:       "unknown",
	LegCreated:        "leg_created",
	Ringing:           "ringing",
	EarlyMedia:        "early_media",
	Answered:          "answered",
	Bridged:           "bridged",
	Unbridged:         "unbridged",
	DialBegin:         "dial_begin",
	DialEnd:           "dial_end",
	Hangup:            "hangup",
	TransferBlind:     "transfer_blind",
	TransferAttended:  "transfer_attended",
	RecordingStarted:  "recording_started",
	RecordingFinished: "recording_finished",
	FeatureCode:       "feature_code",
	SetVar:            "set_var",
}

func (k Kind) String() string {
	if k < kindCount {
		return kindNames[k]
	}
	return "unknown"
}

// Party says who is on a leg.
type Party uint8

// Parties.
const (
	PartyUnknown   Party = iota // a helper channel (Local halves, snoops): part of a call, never an agent
	PartyExtension              // a phone of the tenant; Number is the extension
	PartyExternal               // the outside world (a trunk); Number is the remote number
)

// Cause is a PBX-neutral hangup or dial outcome. Adapters map Q.850 codes,
// FreeSWITCH cause names and ARI dial statuses onto it.
type Cause uint8

// Causes.
const (
	CauseUnknown           Cause = iota
	CauseNormal                  // normal clearing; on DialEnd: answered
	CauseBusy                    // user busy
	CauseNoAnswer                // rang out, no answer
	CauseCancelled               // the caller gave up before an answer
	CauseAnsweredElsewhere       // another leg of a ring group answered
	CauseRejected                // declined on the phone
	CauseUnreachable             // not registered, unallocated, no route
	CauseCongestion              // network or trunk congestion
	CauseFailed                  // any other failure
	CauseTransferred             // left the call through a transfer
	CauseLost                    // ended while the PBX link was down
	causeCount
)

var causeNames = [...]string{
	CauseUnknown:           "unknown",
	CauseNormal:            "normal",
	CauseBusy:              "busy",
	CauseNoAnswer:          "no_answer",
	CauseCancelled:         "cancelled",
	CauseAnsweredElsewhere: "answered_elsewhere",
	CauseRejected:          "rejected",
	CauseUnreachable:       "unreachable",
	CauseCongestion:        "congestion",
	CauseFailed:            "failed",
	CauseTransferred:       "transferred",
	CauseLost:              "link_lost",
}

func (c Cause) String() string {
	if c < causeCount {
		return causeNames[c]
	}
	return "unknown"
}

// Var names a call variable a SetVar signal carries.
type Var uint8

// Variables.
const (
	VarNone       Var = iota
	VarTenant         // the tenant the call belongs to (only before the call starts)
	VarCallerName     // the external party's display name
)

// Signal is one PBX-neutral input to the machine. It is a plain value so that
// applying it allocates nothing; which fields matter depends on Kind.
type Signal struct {
	Kind Kind
	At   time.Time // when the PBX saw it (event timestamp)
	Leg  string    // the PBX's id of the leg (ARI channel id, FreeSWITCH Unique-ID)
	Peer string    // the other leg, see Kind

	Party  Party
	Number string // extension or external number of the leg
	Name   string // caller-id name of the leg
	Dialed string // what the leg dialled (DID, outbound number, feature code target)
	Tenant string

	Originated bool // LegCreated: the leg was originated by Ringside (click-to-call leg A)

	Cause     Cause
	CauseCode int // the PBX's own cause (Q.850 code), for the record

	Target string // TransferBlind: extension; TransferAttended: leg id
	Path   string // recording file
	Code   string // FeatureCode: the code dialled
	Device string // FeatureCode: the endpoint it was dialled from

	Var   Var
	Value string
}
