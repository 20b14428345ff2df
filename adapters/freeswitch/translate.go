package freeswitch

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ringside/ringside/pkg/callstate"
	"github.com/ringside/ringside/pkg/config"
)

// Channel variables Ringside sets on the legs it originates, so that their
// CHANNEL_CREATE says what they are even after a reconnect or a restart.
const (
	varOriginated      = "ringside_originated" // "true" on click-to-call leg A
	varOriginDialed    = "ringside_dialed"     // the customer leg A will call
	varOriginExtension = "ringside_extension"  // the user's extension
)

// DefaultFeatureSubclass is the Event-Subclass of the CUSTOM event the
// dialplan fires for *037 / 3037 (deploy/freeswitch/dialplan).
const DefaultFeatureSubclass = "ringside::feature"

// Headers of the feature-code event (set by the dialplan's event app).
const (
	hdrFeatureCode      = "Feature-Code"
	hdrFeatureExtension = "Feature-Extension"
	hdrFeatureDevice    = "Feature-Device"
	hdrFeatureMobile    = "Feature-Mobile"
)

// TranslateOptions say how events map onto signals.
type TranslateOptions struct {
	// DefaultTenant is the tenant of calls the rule cannot place.
	DefaultTenant string
	// Tenant is the rule: fixed (DefaultTenant), variable (the channel
	// variable Tenant.Variable on CHANNEL_CREATE, e.g. FusionPBX's
	// domain_name) or context_prefix (Caller-Context up to the separator).
	Tenant config.TenantRule
	// ExternalProfiles are the sofia profiles whose legs are the outside
	// world (trunks). Legs on other profiles are phones (extensions); legs
	// through sofia/gateway/ are always external, loopback/ legs are helpers.
	// Default: ["external"].
	ExternalProfiles []string
	// RecordingVariable, when set, is the channel variable holding the final
	// path of a recording; RECORD_STOP's Record-File-Path otherwise.
	RecordingVariable string
	// FeatureSubclass is the CUSTOM subclass of feature-code events
	// (DefaultFeatureSubclass).
	FeatureSubclass string
}

// maxMemo bounds the translator's per-leg memory. Entries leave at
// CHANNEL_DESTROY; a link loss can leak a few, and past this bound the whole
// memory is dropped (only blind-transfer de-duplication depends on it).
const maxMemo = 1 << 16

// legMemo is what the translator remembers of a live leg.
type legMemo struct {
	partner  string // the leg it was last bridged with
	xfer     string // the transfer_source already reported for it
	xferSent bool   // a blind transfer by this leg was reported
	hungUp   bool   // its CHANNEL_HANGUP_COMPLETE was translated
}

// Translator turns parsed events into callstate signals. It is pure (no
// I/O, no clock) and keeps a small per-leg memory for correlation; it is not
// safe for concurrent use.
type Translator struct {
	o            TranslateOptions
	tenantHeader string
	recHeader    string
	legs         map[string]*legMemo
}

// NewTranslator returns a translator with o's rules.
func NewTranslator(o TranslateOptions) *Translator {
	if len(o.ExternalProfiles) == 0 {
		o.ExternalProfiles = []string{"external"}
	}
	if o.FeatureSubclass == "" {
		o.FeatureSubclass = DefaultFeatureSubclass
	}
	t := &Translator{o: o, legs: make(map[string]*legMemo)}
	if o.Tenant.From == config.TenantVariable && o.Tenant.Variable != "" {
		t.tenantHeader = "variable_" + o.Tenant.Variable
	}
	if o.RecordingVariable != "" {
		t.recHeader = "variable_" + o.RecordingVariable
	}
	return t
}

// Forget drops the memory of every leg not in keep (after a reconnect's
// reconciliation: legs FreeSWITCH no longer has).
func (t *Translator) Forget(keep func(leg string) bool) {
	for id := range t.legs {
		if !keep(id) {
			delete(t.legs, id)
		}
	}
}

func (t *Translator) memo(leg string) *legMemo {
	m := t.legs[leg]
	if m == nil {
		if len(t.legs) >= maxMemo {
			clear(t.legs)
		}
		m = &legMemo{}
		t.legs[leg] = m
	}
	return m
}

// Translate appends the signals e means to out. now stands in for events
// without Event-Date-Timestamp. Events that mean nothing for calls
// (HEARTBEAT, BACKGROUND_JOB, CHANNEL_STATE…) append nothing.
func (t *Translator) Translate(e *Event, now time.Time, out []callstate.Signal) []callstate.Signal {
	at := now
	if us, err := strconv.ParseInt(e.known[hEventTimestamp], 10, 64); err == nil && us > 0 {
		at = time.UnixMicro(us).UTC()
	}
	leg := e.known[hUniqueID]
	switch e.Name() {
	case "CHANNEL_CREATE":
		if leg == "" {
			return out
		}
		return append(out, t.legCreated(e, leg, at))
	case "CHANNEL_PROGRESS":
		return appendLeg(out, callstate.Ringing, leg, at)
	case "CHANNEL_PROGRESS_MEDIA":
		return appendLeg(out, callstate.EarlyMedia, leg, at)
	case "CHANNEL_ANSWER":
		return appendLeg(out, callstate.Answered, leg, at)
	case "CHANNEL_BRIDGE":
		a, b := bridgeLegs(e)
		if a == "" || b == "" {
			return out
		}
		t.memo(a).partner, t.memo(b).partner = b, a
		return append(out, callstate.Signal{Kind: callstate.Bridged, At: at, Leg: a, Peer: b})
	case "CHANNEL_UNBRIDGE":
		a, b := bridgeLegs(e)
		if a == "" {
			return out
		}
		out = t.blindFromTransferee(e, a, b, at, out)
		return append(out, callstate.Signal{Kind: callstate.Unbridged, At: at, Leg: a, Peer: b})
	case "CHANNEL_HANGUP_COMPLETE":
		if leg == "" {
			return out
		}
		out = t.blindFromTransferor(e, leg, at, out)
		t.memo(leg).hungUp = true
		return append(out, hangup(e, leg, at))
	case "CHANNEL_DESTROY":
		if leg == "" {
			return out
		}
		m := t.legs[leg]
		delete(t.legs, leg)
		if m != nil && m.hungUp {
			return out
		}
		// Its HANGUP_COMPLETE was missed (sent while we reconnected).
		return append(out, hangup(e, leg, at))
	case "RECORD_START":
		if leg == "" || e.known[hRecordFilePath] == "" {
			return out
		}
		return append(out, callstate.Signal{Kind: callstate.RecordingStarted, At: at, Leg: leg, Path: e.known[hRecordFilePath]})
	case "RECORD_STOP":
		path := e.known[hRecordFilePath]
		if t.recHeader != "" {
			if v := e.Get(t.recHeader); v != "" {
				path = v
			}
		}
		if leg == "" || path == "" {
			return out
		}
		return append(out, callstate.Signal{Kind: callstate.RecordingFinished, At: at, Leg: leg, Path: path})
	case "CUSTOM":
		if e.known[hEventSubclass] == t.o.FeatureSubclass && leg != "" {
			return append(out, featureCode(e, leg, at))
		}
	}
	return out
}

func appendLeg(out []callstate.Signal, k callstate.Kind, leg string, at time.Time) []callstate.Signal {
	if leg == "" {
		return out
	}
	return append(out, callstate.Signal{Kind: k, At: at, Leg: leg})
}

// bridgeLegs returns the A (originator) and B legs of a (un)bridge.
func bridgeLegs(e *Event) (a, b string) {
	a, b = e.known[hBridgeA], e.known[hBridgeB]
	if a == "" {
		a = e.known[hUniqueID]
	}
	if b == "" {
		b = e.known[hOtherLegUniqueID]
	}
	return a, b
}

// legCreated classifies a new channel.
func (t *Translator) legCreated(e *Event, leg string, at time.Time) callstate.Signal {
	s := callstate.Signal{Kind: callstate.LegCreated, At: at, Leg: leg, Tenant: t.tenant(e)}
	name := e.known[hChannelName]
	inbound := e.known[hCallDirection] == "inbound"
	s.Party = t.party(name, e.known[hVarDialedUser] != "")
	if inbound {
		s.Number = e.known[hCallerIDNumber]
		if s.Party == callstate.PartyExtension && e.known[hCallerUsername] != "" {
			s.Number = e.known[hCallerUsername]
		}
		s.Name = e.known[hCallerIDName]
		s.Dialed = e.known[hCallerDestination]
	} else {
		s.Number = e.known[hVarDialedUser]
		if s.Number == "" {
			s.Number = e.known[hCallerDestination]
		}
	}
	// The leg it belongs to: the originator of an outgoing leg, else the
	// call it was put into, else the other half of a loopback pair.
	switch {
	case e.known[hOtherLegUniqueID] != "" && e.known[hOtherType] != "originatee":
		s.Peer = e.known[hOtherLegUniqueID]
	case e.known[hChannelCallUUID] != "" && e.known[hChannelCallUUID] != leg:
		s.Peer = e.known[hChannelCallUUID]
	case strings.HasPrefix(name, "loopback/") && inbound:
		s.Peer = e.known[hVarOtherLoopback]
	}
	if e.known[hVarOriginated] == "true" {
		s.Originated = true
		s.Party = callstate.PartyExtension
		s.Peer = ""
		s.Name = ""
		s.Dialed = e.known[hVarOriginDialed]
		if x := e.known[hVarOriginExtension]; x != "" {
			s.Number = x
		}
	}
	return s
}

// party says who is on a channel from its name: sofia/gateway/… is a trunk,
// sofia/<profile>/… a trunk when the profile is external, loopback/ a
// helper, anything else (a phone on an internal profile, user/, verto) an
// extension.
func (t *Translator) party(name string, dialedUser bool) callstate.Party {
	if dialedUser {
		return callstate.PartyExtension
	}
	tech, rest, _ := strings.Cut(name, "/")
	switch tech {
	case "loopback":
		return callstate.PartyUnknown
	case "sofia":
		profile, _, _ := strings.Cut(rest, "/")
		if profile == "gateway" || slices.Contains(t.o.ExternalProfiles, profile) {
			return callstate.PartyExternal
		}
	case "freetdm", "gsmopen":
		return callstate.PartyExternal
	}
	return callstate.PartyExtension
}

// tenant applies the tenant rule to a new channel ("" lets the machine use
// its default).
func (t *Translator) tenant(e *Event) string {
	switch t.o.Tenant.From {
	case config.TenantVariable:
		if t.tenantHeader != "" {
			return e.Get(t.tenantHeader)
		}
	case config.TenantContextPrefix:
		ctx := e.known[hCallerContext]
		if sep := t.o.Tenant.Separator; sep != "" {
			if p, _, ok := strings.Cut(ctx, sep); ok {
				return p
			}
		}
		return ""
	}
	return t.o.DefaultTenant
}

// blindFromTransferee reports a blind transfer when the transferee's
// CHANNEL_UNBRIDGE carries a new transfer_source of kind bl_xfer
// ("<epoch>:<uuid>:bl_xfer:<exten>/<context>/<dialplan>"): the transferor is
// the leg it was bridged with.
func (t *Translator) blindFromTransferee(e *Event, a, b string, at time.Time, out []callstate.Signal) []callstate.Signal {
	src := e.known[hVarTransferSource]
	_, target, ok := strings.Cut(src, ":bl_xfer:")
	if !ok || b == "" {
		return out
	}
	m := t.memo(a)
	if m.xfer == src {
		return out // an old transfer, seen on a later unbridge
	}
	m.xfer = src
	tm := t.memo(b)
	if tm.xferSent {
		return out
	}
	tm.xferSent = true
	target, _, _ = strings.Cut(target, "/")
	return append(out, callstate.Signal{Kind: callstate.TransferBlind, At: at, Leg: b, Peer: a, Target: target})
}

// blindFromTransferor reports a blind transfer from the transferor's hangup
// (endpoint_disposition BLIND_TRANSFER, target in sip_refer_to), unless the
// transferee's unbridge already did: it covers the transferee being the
// originator's B leg, whose unbridge carries no transfer_source.
func (t *Translator) blindFromTransferor(e *Event, leg string, at time.Time, out []callstate.Signal) []callstate.Signal {
	if e.known[hHangupCause] != "BLIND_TRANSFER" && e.Get("variable_endpoint_disposition") != "BLIND_TRANSFER" {
		return out
	}
	m := t.memo(leg)
	if m.xferSent || m.partner == "" {
		return out
	}
	target := referUser(e.Get("variable_sip_refer_to"))
	if target == "" {
		return out
	}
	m.xferSent = true
	return append(out, callstate.Signal{Kind: callstate.TransferBlind, At: at, Leg: leg, Peer: m.partner, Target: target})
}

// referUser extracts the user of a Refer-To URI: "<sip:1003@pbx>" → "1003".
func referUser(v string) string {
	v = strings.Trim(v, "<> ")
	if i := strings.IndexByte(v, ':'); i >= 0 && strings.HasPrefix(strings.ToLower(v[:i]), "sip") {
		v = v[i+1:]
	}
	user, _, _ := strings.Cut(v, "@")
	user, _, _ = strings.Cut(user, ";")
	return user
}

func hangup(e *Event, leg string, at time.Time) callstate.Signal {
	name := e.known[hHangupCause]
	code, _ := strconv.Atoi(e.known[hVarHangupQ850])
	return callstate.Signal{Kind: callstate.Hangup, At: at, Leg: leg, Cause: MapCause(name), CauseCode: code}
}

// MapCause maps a FreeSWITCH hangup cause name (spec §4.5) onto a
// PBX-neutral cause.
func MapCause(name string) callstate.Cause {
	switch name {
	case "":
		return callstate.CauseUnknown
	case "NORMAL_CLEARING", "NORMAL_UNSPECIFIED", "MANAGER_REQUEST", "SUCCESS":
		return callstate.CauseNormal
	case "USER_BUSY", "BUSY_EVERYWHERE":
		return callstate.CauseBusy
	case "NO_ANSWER", "NO_USER_RESPONSE", "ALLOTTED_TIMEOUT":
		return callstate.CauseNoAnswer
	case "ORIGINATOR_CANCEL":
		return callstate.CauseCancelled
	case "LOSE_RACE", "PICKED_OFF":
		return callstate.CauseAnsweredElsewhere
	case "CALL_REJECTED", "DECLINE":
		return callstate.CauseRejected
	case "USER_NOT_REGISTERED", "UNALLOCATED_NUMBER", "NO_ROUTE_DESTINATION", "NO_ROUTE_TRANSIT_NET",
		"SUBSCRIBER_ABSENT", "NUMBER_CHANGED", "INVALID_NUMBER_FORMAT", "DESTINATION_OUT_OF_ORDER",
		"RECOVERY_ON_TIMER_EXPIRE":
		return callstate.CauseUnreachable
	case "NORMAL_CIRCUIT_CONGESTION", "SWITCH_CONGESTION", "NETWORK_OUT_OF_ORDER", "NORMAL_TEMPORARY_FAILURE",
		"REQUESTED_CHAN_UNAVAIL", "GATEWAY_DOWN", "EXCHANGE_ROUTING_ERROR":
		return callstate.CauseCongestion
	case "BLIND_TRANSFER", "ATTENDED_TRANSFER":
		return callstate.CauseTransferred
	}
	return callstate.CauseFailed
}

// featureCode reads the dialplan's feature-code event. The extension falls
// back to the caller's SIP user, the device to the channel name.
func featureCode(e *Event, leg string, at time.Time) callstate.Signal {
	s := callstate.Signal{Kind: callstate.FeatureCode, At: at, Leg: leg,
		Code: e.Get(hdrFeatureCode), Number: e.Get(hdrFeatureExtension),
		Device: e.Get(hdrFeatureDevice), Dialed: e.Get(hdrFeatureMobile)}
	if s.Code == "" {
		s.Code = e.known[hCallerDestination]
	}
	if s.Number == "" {
		s.Number = e.known[hCallerUsername]
	}
	if s.Number == "" {
		s.Number = e.known[hCallerIDNumber]
	}
	if s.Device == "" {
		s.Device = e.known[hChannelName]
	}
	return s
}
