package webhooks

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"

	"github.com/ringside/ringside/pkg/events"
)

// TypeVerify is the envelope type of the handshake.
const TypeVerify = "ringside.verify"

// Envelope is the body of a delivery: the call event (events.Call v1 JSON,
// as published on the bus) with what a receiver routes and de-duplicates
// by. Fields are only ever added.
type Envelope struct {
	// ID is stable across redeliveries of the event: EventID of its
	// message id. Receivers de-duplicate on it.
	ID string `json:"id"`
	// Type is "call.<event type>" ("call.ended").
	Type   string `json:"type"`
	Tenant string `json:"tenant"`
	// CreatedAt is when the PBX saw what the event reports (the event's
	// "at"), in UTC: the same on every attempt.
	CreatedAt time.Time       `json:"created_at"`
	Data      json.RawMessage `json:"data"`
}

// Verification is the body of a handshake. The receiver answers 2xx with
// the challenge echoed: {"challenge": "<challenge>"} or the plain token.
type Verification struct {
	ID        string    `json:"id"`
	Type      string    `json:"type"` // TypeVerify
	Tenant    string    `json:"tenant"`
	CreatedAt time.Time `json:"created_at"`
	Challenge string    `json:"challenge"`
}

// EventID is the envelope id of the event with message id msgID
// (events.MsgID, "<call_id>:<seq>"): "evt_" and 32 hex digits of its
// SHA-256. The same event always gets the same id, whichever node or
// attempt delivers it.
func EventID(msgID string) string {
	sum := sha256.Sum256([]byte("ringside.v1 " + msgID))
	return "evt_" + hex.EncodeToString(sum[:16])
}

// CallType is the envelope type of a call event of type t.
func CallType(t events.Type) string { return "call." + string(t) }

// NewEnvelope wraps a call event: raw is its JSON as published, e the same
// decoded, msgID its message id ("" derives it from the event).
func NewEnvelope(msgID string, e events.Call, raw []byte) Envelope {
	if msgID == "" {
		msgID = events.MsgID(e.CallID, e.Seq)
	}
	return Envelope{ID: EventID(msgID), Type: CallType(e.Type), Tenant: e.Tenant, CreatedAt: e.At.UTC(), Data: raw}
}
