package asterisk

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/ringside/ringside/pkg/callstate"
	"github.com/ringside/ringside/pkg/config"
)

// Parties says who is on a channel. A channel's endpoint is the resource
// part of its name: "PJSIP/1001-0000000a" is endpoint 1001 of technology
// PJSIP.
//
//   - Local, and every technology that is not a phone line (Snoop,
//     Announcer, Recorder, UnicastRTP, AudioSocket…), is a helper: part of
//     a call, never an agent or the customer.
//   - A PJSIP, SIP or IAX2 endpoint listed in Trunks, or whose channel was
//     created in a context matching TrunkContext, is external.
//   - Otherwise a PJSIP, SIP or IAX2 endpoint matching Extension is an
//     extension; the number is the pattern's first group (or the whole
//     name). Other endpoints of those technologies are external (trunks).
//   - DAHDI and other PSTN technologies are external.
type Parties struct {
	// Extension matches extension endpoint names (default ^([0-9]{2,6})$).
	// A first capture group, if any, is the extension number, so that
	// tenant-prefixed endpoints like "acme-1001" can still be extensions
	// with `^[a-z0-9]+-([0-9]{2,6})$`.
	Extension *regexp.Regexp
	// Trunks are endpoint names that are always external, even when they
	// look like an extension.
	Trunks []string
	// TrunkContext, when set, marks channels created in a matching context
	// (the endpoint's context in pjsip.conf, e.g. "from-trunk") as external.
	TrunkContext *regexp.Regexp
	// InternationalPrefix is rewritten to "+" in external numbers ("00" by
	// default; "-" disables the rewrite), so that 004930123456 and
	// +4930123456 are the same customer.
	InternationalPrefix string
}

// defaultExtension is the default extension endpoint pattern (compiled once,
// read-only).
var defaultExtension = regexp.MustCompile(`^([0-9]{2,6})$`)

func (p *Parties) defaults() {
	if p.Extension == nil {
		p.Extension = defaultExtension
	}
	if p.InternationalPrefix == "" {
		p.InternationalPrefix = "00"
	}
}

// splitName splits a channel name into technology, endpoint and, for Local
// channels, the key both halves share and which half this is (1 or 2).
//
//	PJSIP/1001-0000000a             → PJSIP, 1001
//	PJSIP/trunk-0000002a            → PJSIP, trunk
//	Local/101@dialer-00000000;2     → Local, 101@dialer, key "Local/101@dialer-00000000", half 2
//	DAHDI/i1/0301234567-5           → DAHDI, i1/0301234567
func splitName(name string) (tech, endpoint, localKey string, half byte) {
	tech, rest, ok := strings.Cut(name, "/")
	if !ok {
		return name, "", "", 0
	}
	if tech == "Local" {
		if n := len(rest); n > 2 && rest[n-2] == ';' && (rest[n-1] == '1' || rest[n-1] == '2') {
			localKey = name[:len(name)-2]
			half = rest[n-1] - '0'
			rest = rest[:n-2]
		}
	}
	// The suffix after the last '-' is the channel's sequence number.
	if i := strings.LastIndexByte(rest, '-'); i > 0 {
		rest = rest[:i]
	}
	return tech, rest, localKey, half
}

func phoneTech(tech string) bool {
	switch tech {
	case "PJSIP", "SIP", "IAX2":
		return true
	}
	return false
}

func pstnTech(tech string) bool {
	switch tech {
	case "DAHDI", "ooh323", "H323":
		return true
	}
	return false
}

// classify says who is on a channel and which number is theirs as far as the
// channel alone tells (an external leg's number may be refined by its Dial).
func (p *Parties) classify(tech, endpoint string, ch *Channel) (callstate.Party, string) {
	switch {
	case phoneTech(tech):
		if number, ok := p.extensionOf(tech, endpoint, ch.Dialplan.Context); ok {
			return callstate.PartyExtension, number
		}
		return callstate.PartyExternal, p.normalize(ch.Caller.Number)
	case pstnTech(tech):
		return callstate.PartyExternal, p.normalize(ch.Caller.Number)
	}
	return callstate.PartyUnknown, ""
}

// extensionOf says whether an endpoint of technology tech, whose channels
// are created in context ("" if unknown), is an extension, and its number:
// the rules above, for channels (classify) and for the endpoints Asterisk
// lists (Extensions) alike.
func (p *Parties) extensionOf(tech, endpoint, context string) (string, bool) {
	if !phoneTech(tech) || p.isTrunk(endpoint, context) {
		return "", false
	}
	m := p.Extension.FindStringSubmatch(endpoint)
	switch {
	case m == nil:
		return "", false
	case len(m) > 1 && m[1] != "":
		return m[1], true
	}
	return endpoint, true
}

func (p *Parties) isTrunk(endpoint, context string) bool {
	for _, t := range p.Trunks {
		if t == endpoint {
			return true
		}
	}
	return p.TrunkContext != nil && context != "" && p.TrunkContext.MatchString(context)
}

// normalize rewrites the international prefix to "+".
func (p *Parties) normalize(number string) string {
	if p.InternationalPrefix != "-" && len(number) > len(p.InternationalPrefix) && strings.HasPrefix(number, p.InternationalPrefix) && isDigits(number[len(p.InternationalPrefix):]) {
		return "+" + number[len(p.InternationalPrefix):]
	}
	return number
}

// dialedNumber extracts the number from a Dial event's dialstring (the part
// after "tech/"): "+4930123456@trunk", "trunk/sip:+4930123456@host",
// "004930123456@trunk". It returns "" when no number is in it.
func (p *Parties) dialedNumber(dialstring string) string {
	s := dialstring
	if i := strings.IndexByte(s, '/'); i >= 0 {
		s = s[i+1:]
	}
	s = strings.TrimPrefix(strings.TrimPrefix(strings.TrimPrefix(s, "sip:"), "sips:"), "tel:")
	if i := strings.IndexAny(s, "@;,"); i >= 0 {
		s = s[:i]
	}
	if !isPhoneNumber(s) {
		return ""
	}
	return p.normalize(s)
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func isPhoneNumber(s string) bool {
	return isDigits(strings.TrimPrefix(s, "+"))
}

// Tenants finds the tenant of a channel by the configured rule.
type Tenants struct {
	Rule config.TenantRule
}

// fromChannel is the tenant a channel names at creation, "" if none (the
// state machine then uses pbx.default_tenant).
func (t Tenants) fromChannel(ch *Channel) string {
	switch t.Rule.From {
	case config.TenantVariable:
		if t.Rule.Variable != "" {
			return ch.ChannelVars[t.Rule.Variable]
		}
	case config.TenantContextPrefix:
		return t.fromContext(ch.Dialplan.Context)
	}
	return ""
}

func (t Tenants) fromContext(context string) string {
	sep := t.Rule.Separator
	if sep == "" {
		sep = "-"
	}
	prefix, _, ok := strings.Cut(context, sep)
	if !ok {
		return ""
	}
	return prefix
}

// causeFromQ850 maps a hangup cause (ChannelDestroyed.cause) onto a
// callstate cause. 127 (interworking) is what chan_pjsip reports for a
// caller's CANCEL (487): it says nothing reliable, so it is unknown and the
// machine decides from the order of hangups.
func causeFromQ850(code int) callstate.Cause {
	switch code {
	case 16, 31: // normal clearing, normal unspecified
		return callstate.CauseNormal
	case 17: // user busy
		return callstate.CauseBusy
	case 18, 19: // no user responding, no answer
		return callstate.CauseNoAnswer
	case 21: // call rejected
		return callstate.CauseRejected
	case 26: // answered elsewhere
		return callstate.CauseAnsweredElsewhere
	case 1, 2, 3, 20, 22, 27, 28: // unallocated, no route, subscriber absent, number changed, out of order, bad format
		return callstate.CauseUnreachable
	case 34, 38, 41, 42, 44, 47: // congestion, network out of order, temporary failure…
		return callstate.CauseCongestion
	case 0, 127:
		return callstate.CauseUnknown
	}
	return callstate.CauseFailed
}

// causeFromDialStatus maps a final Dial status onto a callstate cause;
// final is false for progress statuses ("", RINGING, PROGRESS, PROCEEDING).
func causeFromDialStatus(status string) (c callstate.Cause, final bool) {
	switch status {
	case "", "RINGING", "PROGRESS", "PROCEEDING":
		return callstate.CauseUnknown, false
	case "ANSWER":
		return callstate.CauseNormal, true
	case "BUSY":
		return callstate.CauseBusy, true
	case "NOANSWER":
		return callstate.CauseNoAnswer, true
	case "CANCEL":
		return callstate.CauseCancelled, true
	case "CONGESTION":
		return callstate.CauseCongestion, true
	case "CHANUNAVAIL":
		return callstate.CauseUnreachable, true
	case "DONTCALL", "TORTURE":
		return callstate.CauseRejected, true
	}
	return callstate.CauseFailed, true
}

// typeLabel is the metric label of an event type: itself if it is one of
// Asterisk 22's event types (events.json), else "other", so that a PBX
// sending new or bogus types cannot grow the label set.
func typeLabel(t string) string {
	switch t {
	case "ApplicationMoveFailed", "ApplicationReplaced", "ApplicationRegistered", "ApplicationUnregistered",
		"BridgeAttendedTransfer", "BridgeBlindTransfer", "BridgeCreated", "BridgeDestroyed", "BridgeMerged",
		"BridgeVideoSourceChanged", "CallBroadcast", "CallClaimed", "ChannelCallerId", "ChannelConnectedLine",
		"ChannelCreated", "ChannelDestroyed", "ChannelDialplan", "ChannelDtmfReceived", "ChannelEnteredBridge",
		"ChannelHangupRequest", "ChannelHold", "ChannelLeftBridge", "ChannelStateChange", "ChannelTalkingFinished",
		"ChannelTalkingStarted", "ChannelToneDetected", "ChannelTransfer", "ChannelUnhold", "ChannelUserevent",
		"ChannelVarset", "ContactStatusChange", "DeviceStateChanged", "Dial", "EndpointStateChange",
		"PeerStatusChange", "PlaybackContinuing", "PlaybackFinished", "PlaybackStarted", "RecordingFailed",
		"RecordingFinished", "RecordingStarted", "RESTResponse", "StasisEnd", "StasisStart", "TextMessageReceived":
		return t
	}
	return "other"
}

func (p Parties) String() string {
	return fmt.Sprintf("extension=%v trunks=%v trunk_context=%v", p.Extension, p.Trunks, p.TrunkContext)
}

// variable is the channel variable naming the tenant, "" unless the rule
// reads one.
func (t Tenants) variable() string {
	if t.Rule.From == config.TenantVariable {
		return t.Rule.Variable
	}
	return ""
}
