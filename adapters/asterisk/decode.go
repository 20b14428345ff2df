package asterisk

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// The decoding here is our own rather than ari/v5's DecodeEvent, which
// returns nil for an event type it does not know (and v5.3.1's client then
// panics on it), drops channel fields (protocol_id, dialplan app_name and
// app_data, tenantid, caller_rdnis, tech_cause), parses every frame twice
// (once for the type, once for the typed event), and keeps timestamps as
// gogo-protobuf values. One pass into one flat struct holding only what the
// translation reads is both complete for our needs and about twice as fast.
// TestDecodeAgreesWithAriV5 checks that both read the captures alike.

// timeLayout is Asterisk's ISO 8601 format (AST_ISO8601_FORMAT): milliseconds
// and a numeric zone, e.g. 2026-11-21T07:46:34.710+0000.
const timeLayout = "2006-01-02T15:04:05.000-0700"

// ErrUndecodable marks a frame that is not an ARI event: not JSON, or no type.
var ErrUndecodable = errors.New("undecodable ARI event")

// CallerID is a caller or connected-line identity.
type CallerID struct {
	Name   string `json:"name"`
	Number string `json:"number"`
}

// Dialplan is a channel's dialplan location.
type Dialplan struct {
	Context string `json:"context"`
	Exten   string `json:"exten"`
	AppName string `json:"app_name"`
	AppData string `json:"app_data"`
}

// Channel is the part of an ARI channel snapshot the adapter reads (events,
// GET /channels).
type Channel struct {
	ID           string            `json:"id"`
	Name         string            `json:"name"`
	State        string            `json:"state"`
	ProtocolID   string            `json:"protocol_id"`
	Caller       CallerID          `json:"caller"`
	Connected    CallerID          `json:"connected"`
	Dialplan     Dialplan          `json:"dialplan"`
	CreationTime string            `json:"creationtime"`
	ChannelVars  map[string]string `json:"channelvars"`
}

// Bridge is the part of an ARI bridge the adapter reads.
type Bridge struct {
	ID       string   `json:"id"`
	Class    string   `json:"bridge_class"`
	Type     string   `json:"bridge_type"`
	Channels []string `json:"channels"`
}

// LiveRecording is an ARI live recording (RecordingStarted/Finished).
type LiveRecording struct {
	Name      string `json:"name"`
	Format    string `json:"format"`
	TargetURI string `json:"target_uri"`
}

// Playback is an ARI playback (PlaybackStarted/Finished).
type Playback struct {
	ID string `json:"id"`
}

// Event is one decoded ARI event: the union of the fields of the event types
// the translation reads. Fields a type does not carry stay zero.
type Event struct {
	Type        string `json:"type"`
	Timestamp   string `json:"timestamp"`
	Application string `json:"application"`

	Channel *Channel `json:"channel"`
	Bridge  *Bridge  `json:"bridge"`

	// Dial
	Peer       *Channel `json:"peer"`
	Caller     *Channel `json:"caller"`
	DialStatus string   `json:"dialstatus"`
	DialString string   `json:"dialstring"`

	// ChannelDestroyed, ChannelHangupRequest
	Cause    int    `json:"cause"`
	CauseTxt string `json:"cause_txt"`

	// ChannelVarset
	Variable string `json:"variable"`
	Value    string `json:"value"`

	// StasisStart
	Args []string `json:"args"`

	// BridgeBlindTransfer (Channel is the transferer)
	Transferee *Channel `json:"transferee"`
	Exten      string   `json:"exten"`
	Context    string   `json:"context"`
	Result     string   `json:"result"`

	// BridgeAttendedTransfer
	FirstLeg  *Channel `json:"transferer_first_leg"`
	SecondLeg *Channel `json:"transferer_second_leg"`
	Target    *Channel `json:"transfer_target"`

	Recording *LiveRecording `json:"recording"`
	Playback  *Playback      `json:"playback"`
}

// Decode parses one event frame. It fails (wrapping ErrUndecodable) only
// when the frame is not a JSON object with a type; unknown types decode.
func Decode(data []byte, ev *Event) error {
	*ev = Event{}
	if err := json.Unmarshal(data, ev); err != nil {
		return fmt.Errorf("%w: %v", ErrUndecodable, err)
	}
	if ev.Type == "" {
		return fmt.Errorf("%w: no type", ErrUndecodable)
	}
	return nil
}

// parseTime reads an ARI timestamp; ok is false when it is missing or
// malformed (the caller then uses its own clock).
func parseTime(s string) (time.Time, bool) {
	if s == "" {
		return time.Time{}, false
	}
	t, err := time.Parse(timeLayout, s)
	if err != nil {
		return time.Time{}, false
	}
	return t, true
}
