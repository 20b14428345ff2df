package zoho

import (
	"testing"
	"time"

	"github.com/ringside/ringside/pkg/events"
	"github.com/ringside/ringside/pkg/store"
)

// ended is an ended call of tenant acme for the decision tables.
func ended(dir events.Direction, disp events.Disposition) events.Call {
	at := time.Date(2025, 6, 1, 14, 3, 0, 0, time.UTC)
	ev := events.Call{Type: events.Ended, CallID: "c1", Tenant: "acme", Direction: dir, Disposition: disp,
		StartedAt: at, EndedAt: at.Add(time.Minute), Agents: []string{"1001", "1002"}}
	switch dir {
	case events.Inbound:
		ev.External, ev.Dialed = "+4930123456", "+4930999000"
	case events.Outbound:
		ev.External, ev.Caller = "+4930123456", "1001"
	case events.Internal:
		ev.Caller, ev.Dialed, ev.Agents = "1001", "1002", []string{"1002"}
	}
	if disp == events.DispositionAnswered {
		ev.AnsweredBy = ev.Agents[0]
	}
	return ev
}

func features(names ...string) store.Settings {
	st := store.Settings{Region: "DE", Features: map[string]bool{}}
	for _, n := range names {
		st.Features[n] = true
	}
	return st
}

func TestLeadDecision(t *testing.T) {
	both := features(FeatureLeadsInbound, FeatureLeadsOutbound)
	with := func(st store.Settings, fn func(*store.Settings)) store.Settings {
		st.Features = map[string]bool{FeatureLeadsInbound: true, FeatureLeadsOutbound: true}
		fn(&st)
		return st
	}
	recording := ended(events.Inbound, events.DispositionAnswered)
	recording.Type = events.Recording
	running := ended(events.Inbound, events.DispositionAnswered)
	running.Type, running.EndedAt = events.Answered, time.Time{}
	screened := ended(events.Inbound, events.DispositionMissed)
	screened.Screen = &events.Screen{Blacklisted: true}
	loop := ended(events.Inbound, events.DispositionAnswered)
	loop.External = "030 999000" // the call's own DID, nationally written
	for _, tc := range []struct {
		name string
		st   store.Settings
		ev   events.Call
		e164 string
		want string
	}{
		{"inbound answered", both, ended(events.Inbound, events.DispositionAnswered), "+4930123456", ""},
		{"inbound missed", both, ended(events.Inbound, events.DispositionMissed), "+4930123456", ""},
		{"inbound abandoned", both, ended(events.Inbound, events.DispositionAbandoned), "+4930123456", ""},
		{"a late recording event carries the whole call", both, recording, "+4930123456", ""},
		{"outbound answered", both, ended(events.Outbound, events.DispositionAnswered), "+4930123456", ""},
		{"outbound busy: maybe a misdial", both, ended(events.Outbound, events.DispositionBusy), "+4930123456", noLeadUnanswered},
		{"outbound failed", both, ended(events.Outbound, events.DispositionFailed), "+4930123456", noLeadUnanswered},
		{"inbound, only outbound on", features(FeatureLeadsOutbound), ended(events.Inbound, events.DispositionMissed), "+4930123456", noLeadFeatureOff},
		{"outbound, only inbound on", features(FeatureLeadsInbound), ended(events.Outbound, events.DispositionAnswered), "+4930123456", noLeadFeatureOff},
		{"features off", features(), ended(events.Inbound, events.DispositionMissed), "+4930123456", noLeadFeatureOff},
		{"internal", both, ended(events.Internal, events.DispositionAnswered), "", noLeadInternal},
		{"not ended yet", both, running, "+4930123456", noLeadNotEnded},
		{"withheld number", both, ended(events.Inbound, events.DispositionMissed), "", noLeadNoNumber},
		{"own number", with(both, func(s *store.Settings) { s.OwnNumbers = []string{"+4930123456"} }),
			ended(events.Inbound, events.DispositionMissed), "+4930123456", noLeadOwnNumber},
		{"own number prefix", with(both, func(s *store.Settings) { s.OwnNumbers = []string{"+4930123*"} }),
			ended(events.Inbound, events.DispositionMissed), "+4930123456", noLeadOwnNumber},
		{"the DID it dialled", both, loop, "+4930999000", noLeadOwnNumber},
		{"blacklisted number", with(both, func(s *store.Settings) { s.Blacklist = []string{"+4930123456"} }),
			ended(events.Inbound, events.DispositionMissed), "+4930123456", noLeadBlacklisted},
		{"blacklisted prefix", with(both, func(s *store.Settings) { s.Blacklist = []string{"+49301*"} }),
			ended(events.Outbound, events.DispositionAnswered), "+4930123456", noLeadBlacklisted},
		{"rejected by screening", both, screened, "+4930123456", noLeadBlacklisted},
	} {
		if got := leadDecision(tc.st, tc.ev, tc.e164); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestTaskDecision(t *testing.T) {
	on := features(FeatureMissedCallTask)
	own := features(FeatureMissedCallTask)
	own.OwnNumbers = []string{"+4930123456"}
	black := features(FeatureMissedCallTask)
	black.Blacklist = []string{"+4930*"}
	for _, tc := range []struct {
		name string
		st   store.Settings
		ev   events.Call
		e164 string
		want string
	}{
		{"missed (the agents rang out)", on, ended(events.Inbound, events.DispositionMissed), "+4930123456", ""},
		{"abandoned (the caller hung up first)", on, ended(events.Inbound, events.DispositionAbandoned), "+4930123456", ""},
		{"busy (every agent busy)", on, ended(events.Inbound, events.DispositionBusy), "+4930123456", ""},
		{"no answer", on, ended(events.Inbound, events.DispositionNoAnswer), "+4930123456", ""},
		{"answered", on, ended(events.Inbound, events.DispositionAnswered), "+4930123456", noTaskNotMissed},
		{"failed: no customer waiting", on, ended(events.Inbound, events.DispositionFailed), "+4930123456", noTaskNotMissed},
		{"outbound no answer", on, ended(events.Outbound, events.DispositionNoAnswer), "+4930123456", noTaskNotInbound},
		{"internal missed", on, ended(events.Internal, events.DispositionNoAnswer), "", noTaskNotInbound},
		{"feature off", features(FeatureLeadsInbound), ended(events.Inbound, events.DispositionMissed), "+4930123456", noTaskFeatureOff},
		{"withheld: nobody to call back", on, ended(events.Inbound, events.DispositionMissed), "", noTaskNoNumber},
		{"own number", own, ended(events.Inbound, events.DispositionMissed), "+4930123456", noTaskOwnNumber},
		{"blacklisted", black, ended(events.Inbound, events.DispositionMissed), "+4930123456", noTaskBlacklisted},
	} {
		if got := taskDecision(tc.st, tc.ev, tc.e164); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestTaskOwner(t *testing.T) {
	active := map[string]bool{"9001": true, "9002": true}
	for _, tc := range []struct {
		name        string
		m           Match
		defaultUser string
		want        string
	}{
		{"the record's owner", Match{ID: "1", Owner: "9002"}, "9009", "9002"},
		{"an inactive owner: the default user", Match{ID: "1", Owner: "9555"}, "9009", "9009"},
		{"a record without owner", Match{ID: "1"}, "9009", "9009"},
		{"no record", Match{}, "9009", "9009"},
		{"nobody", Match{}, "", ""},
		{"an inactive owner and no default", Match{ID: "1", Owner: "9555"}, "", ""},
	} {
		if got := taskOwner(tc.m, active, tc.defaultUser); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestDueDate(t *testing.T) {
	if _, err := time.LoadLocation("Europe/Berlin"); err != nil {
		t.Skip("no time zone database:", err)
	}
	late := time.Date(2025, 6, 1, 22, 30, 0, 0, time.UTC) // 00:30 on June 2 in Berlin
	for _, tc := range []struct {
		zone, date, used string
	}{
		{"Europe/Berlin", "2025-06-02", "Europe/Berlin"},
		{"America/New_York", "2025-06-01", "America/New_York"},
		{"", "2025-06-01", "UTC"},
		{"Mars/Olympus", "2025-06-01", "UTC"},
	} {
		if d, z := dueDate(late, tc.zone); d != tc.date || z != tc.used {
			t.Errorf("zone %q: %s in %s, want %s in %s", tc.zone, d, z, tc.date, tc.used)
		}
	}
}

func TestRouteOf(t *testing.T) {
	policy := func(p store.InternalPolicy, technical ...string) store.Settings {
		return store.Settings{InternalPolicy: p, TechnicalExtensions: technical}
	}
	faxIn := ended(events.Inbound, events.DispositionAnswered)
	faxIn.Agents, faxIn.AnsweredBy = []string{"8000"}, "8000"
	groupWithFax := ended(events.Inbound, events.DispositionAnswered)
	groupWithFax.Agents, groupWithFax.AnsweredBy = []string{"8000", "1001"}, "1001"
	faxOut := ended(events.Outbound, events.DispositionAnswered)
	faxOut.Caller, faxOut.Agents, faxOut.AnsweredBy = "8000", []string{"8000"}, "8000"
	transferredToFax := ended(events.Inbound, events.DispositionAnswered)
	transferredToFax.Agents, transferredToFax.AnsweredBy = []string{"1001"}, "8000"
	transferredToFax.Transfers = []events.Transfer{{Kind: "blind", From: "1001", To: "8000"}}
	ivrFirst := ended(events.Inbound, events.DispositionAbandoned)
	ivrFirst.Agents = nil
	toPaging := ended(events.Internal, events.DispositionAnswered)
	toPaging.Dialed, toPaging.Agents, toPaging.AnsweredBy = "FAX", []string{"FAX"}, "FAX"
	ringing := ended(events.Internal, events.DispositionAnswered)
	ringing.Type, ringing.EndedAt, ringing.Agent = events.Ringing, time.Time{}, "1002"
	for _, tc := range []struct {
		name string
		st   store.Settings
		ev   events.Call
		want route
	}{
		{"internal, no policy: skip", policy(""), ended(events.Internal, events.DispositionAnswered), routeSkip},
		{"internal, skip", policy(store.InternalSkip), ended(events.Internal, events.DispositionAnswered), routeSkip},
		{"internal, log", policy(store.InternalLog), ended(events.Internal, events.DispositionAnswered), routeLog},
		{"internal, light", policy(store.InternalLight), ended(events.Internal, events.DispositionNoAnswer), routeLight},
		{"internal ringing follows the policy too", policy(store.InternalLog), ringing, routeLog},
		{"internal to a technical extension", policy(store.InternalLog, "8*", "fax"), toPaging, routeTechnical},
		{"internal from a technical extension", policy(store.InternalLight, "100[0-1]"), ended(events.Internal, events.DispositionAnswered), routeTechnical},
		{"internal, pattern matches neither", policy(store.InternalLog, "8*", "10"), ended(events.Internal, events.DispositionAnswered), routeLog},
		{"external", policy(""), ended(events.Inbound, events.DispositionAnswered), routeExternal},
		{"external to the fax line only", policy("", "8*"), faxIn, routeTechnical},
		{"external from the fax line", policy("", "8*"), faxOut, routeTechnical},
		{"external, a person rang too", policy("", "8*"), groupWithFax, routeExternal},
		{"external, answered, then sent to the fax", policy("", "8*"), transferredToFax, routeExternal},
		{"external, no extension rang", policy("", "*"), ivrFirst, routeExternal},
	} {
		if got := routeOf(tc.st, tc.ev); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
}

func TestTechnical(t *testing.T) {
	patterns := []string{"8*", "fax", "60?", "7[0-4]0", "[bad"}
	for ext, want := range map[string]bool{
		"8": true, "8001": true, "fax": true, "FAX": true, "601": true, "6001": false, "720": true, "750": false,
		"1001": false, "faxes": false, "[bad": false, "": false,
	} {
		if got := Technical(patterns, ext); got != want {
			t.Errorf("Technical(%q) = %v, want %v", ext, got, want)
		}
	}
}

func TestMayWrite(t *testing.T) {
	for _, tc := range []struct {
		scopes []string
		module string
		upsert bool
		want   bool
	}{
		{nil, "Leads", true, true}, // not stored: unknown, Zoho decides
		{[]string{"ZohoCRM.modules.ALL"}, "Tasks", false, true},
		{[]string{"ZohoCRM.modules.tasks.ALL"}, "Tasks", false, true},
		{[]string{"ZohoCRM.modules.tasks.CREATE"}, "Tasks", false, true},
		{[]string{"ZohoCRM.modules.calls.ALL", "ZohoCRM.coql.READ"}, "Tasks", false, false},
		{[]string{"ZohoCRM.modules.leads.CREATE"}, "Leads", true, false},
		{[]string{"ZohoCRM.modules.leads.CREATE", "ZohoCRM.modules.leads.UPDATE"}, "Leads", true, true},
	} {
		if got := mayWrite(tc.scopes, tc.module, tc.upsert); got != tc.want {
			t.Errorf("mayWrite(%v, %s, upsert %v) = %v, want %v", tc.scopes, tc.module, tc.upsert, got, tc.want)
		}
	}
}
