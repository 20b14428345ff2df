package screen

import (
	"strings"
	"unicode"

	"github.com/ringside/ringside/pkg/events"
	"github.com/ringside/ringside/pkg/store"
)

// Feature switches of a tenant (store.Settings.Features). The blacklist
// needs none: a tenant with entries rejects the callers they match.
const (
	// FeatureCallerName shows the CRM record's name on the ringing phones.
	FeatureCallerName = "caller_name"
	// FeatureOwnerRouting offers the call first to the extension linked to
	// the record's owner.
	FeatureOwnerRouting = "owner_routing"
)

// Call is an inbound call waiting to be screened, as a PBX adapter sees it.
type Call struct {
	Channel string // the waiting leg (ARI channel id, FreeSWITCH Unique-ID)
	Tenant  string // "" when the leg names none (the default tenant)
	Number  string // the caller as the leg has it ("" when not a caller from outside)
	Name    string // the caller name the leg has
	Dialed  string // the number called (the DID)
}

// Lookup is what the caller-lookup cache said within the deadline.
type Lookup uint8

// Lookup results.
const (
	// LookupSkipped: not asked (no feature needs it, or no number to ask).
	LookupSkipped Lookup = iota
	// LookupHit: cached, the caller's record is in Record.
	LookupHit
	// LookupNoRecord: cached, the caller matches no record.
	LookupNoRecord
	// LookupMiss: not cached; the CRM is asked in the background so that
	// the next call finds it.
	LookupMiss
	// LookupLate: the cache did not answer within the deadline (or failed).
	LookupLate
)

// Record is the CRM record a caller matched.
type Record struct {
	Module string // Contacts, Leads, Accounts
	ID     string
	Name   string
	// Owner is the record owner's CRM user id.
	Owner string
}

// Input is everything a decision is taken from.
type Input struct {
	// Number is the caller in E.164; "" when withheld or not a phone
	// number (such a caller is never blacklisted nor looked up).
	Number   string
	Settings store.Settings
	Lookup   Lookup
	Record   Record // with LookupHit
	// Owners maps CRM user ids to the extension linked to each (owner
	// routing); nil when the feature is off.
	Owners map[string]string
}

// Outcome classifies a decision; it is the outcome label of the metrics.
type Outcome string

// Outcomes.
const (
	OutcomeBlacklisted Outcome = "blacklisted" // rejected
	OutcomeOwner       Outcome = "owner"       // offered first to the record owner's extension
	OutcomeNamed       Outcome = "named"       // the record's name shown
	OutcomeNoRecord    Outcome = "no_record"   // cached: no record for the caller
	OutcomeMiss        Outcome = "miss"        // not cached: rings with no name, refreshed in the background
	OutcomeLate        Outcome = "late"        // the deadline passed (cache slow or failing): rings as it is
	OutcomeOff         Outcome = "off"         // nothing to do: no feature on, no number, no screener
)

// Outcomes lists every outcome, for metrics.
var Outcomes = []Outcome{OutcomeBlacklisted, OutcomeOwner, OutcomeNamed, OutcomeNoRecord, OutcomeMiss, OutcomeLate, OutcomeOff}

// Verdict is what happens to the call.
type Verdict struct {
	Outcome Outcome
	// Reject is how the call is rejected (store.BlockBusy,
	// BlockCongestion, BlockHangup); "" lets it ring.
	Reject string
	// Blocked is the blacklist entry the caller matched.
	Blocked string
	// Name is the caller name to show on the ringing phones ("" keeps the
	// PBX's).
	Name string
	// Owner is the extension to offer the call to first ("" none).
	Owner string
	// Record is the matched record, "<module>/<id>".
	Record string
	// Refresh asks for a background lookup of the caller (cache miss).
	Refresh bool
}

// Mark is what the call's events carry (events.Screen), nil when there is
// nothing to say.
func (v Verdict) Mark() *events.Screen {
	if v.Reject == "" && v.Name == "" && v.Owner == "" {
		return nil
	}
	return &events.Screen{Blacklisted: v.Reject != "", CallerName: v.Name, Record: v.Record, OwnerExtension: v.Owner}
}

// NeedsLookup reports whether the settings need the caller's record.
func NeedsLookup(s store.Settings) bool {
	return s.Features[FeatureCallerName] || s.Features[FeatureOwnerRouting]
}

// Blocked returns the first blacklist entry number matches: an entry
// ending in "*" is a prefix, any other an exact E.164 number.
func Blocked(list []string, number string) (string, bool) {
	if number == "" {
		return "", false
	}
	for _, e := range list {
		p, prefix := strings.CutSuffix(e, "*")
		if prefix && strings.HasPrefix(number, p) || !prefix && e == number {
			return e, true
		}
	}
	return "", false
}

// Decide takes the decision. The blacklist goes first and needs no lookup;
// the name and the owner need a cached record. It is pure: no I/O, no
// clock.
func Decide(in Input) Verdict {
	if e, ok := Blocked(in.Settings.Blacklist, in.Number); ok {
		reason := in.Settings.BlacklistReason
		if reason == "" {
			reason = store.BlockBusy
		}
		return Verdict{Outcome: OutcomeBlacklisted, Reject: reason, Blocked: e}
	}
	if in.Number == "" || !NeedsLookup(in.Settings) {
		return Verdict{Outcome: OutcomeOff}
	}
	switch in.Lookup {
	case LookupMiss:
		return Verdict{Outcome: OutcomeMiss, Refresh: true}
	case LookupLate:
		return Verdict{Outcome: OutcomeLate}
	case LookupHit:
	default:
		return Verdict{Outcome: OutcomeNoRecord}
	}
	r := in.Record
	if r.ID == "" {
		return Verdict{Outcome: OutcomeNoRecord}
	}
	v := Verdict{Outcome: OutcomeNoRecord, Record: r.Module + "/" + r.ID}
	if in.Settings.Features[FeatureCallerName] {
		if v.Name = DisplayName(r.Name); v.Name != "" {
			v.Outcome = OutcomeNamed
		}
	}
	if in.Settings.Features[FeatureOwnerRouting] && r.Owner != "" {
		if ext := in.Owners[r.Owner]; ext != "" {
			v.Owner, v.Outcome = ext, OutcomeOwner
		}
	}
	if v.Outcome == OutcomeNoRecord {
		v.Record = "" // nothing was done with it
	}
	return v
}

// maxName bounds a displayed name: phones show a few dozen characters, and
// SIP display names longer than this are cut by many.
const maxName = 48

// DisplayName makes a CRM name fit a caller id: control characters and
// double quotes dropped, blanks collapsed, at most 48 characters.
func DisplayName(name string) string {
	var b strings.Builder
	n, space := 0, false
	for _, r := range strings.TrimSpace(name) {
		switch {
		case n == maxName:
			return strings.TrimSpace(b.String())
		case unicode.IsSpace(r):
			space = true
			continue
		case unicode.IsControl(r), r == '"', r == unicode.ReplacementChar:
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
			n++
			if n == maxName {
				return strings.TrimSpace(b.String())
			}
		}
		space = false
		b.WriteRune(r)
		n++
	}
	return b.String()
}
