package screen

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ringside/ringside/pkg/events"
	"github.com/ringside/ringside/pkg/store"
)

func TestBlocked(t *testing.T) {
	list := []string{"+4930123456", "+4990*", "+1*"}
	for _, tc := range []struct {
		number, entry string
		blocked       bool
	}{
		{"+4930123456", "+4930123456", true},
		{"+49301234567", "", false}, // an exact entry is not a prefix
		{"+4930123", "", false},
		{"+4990012345", "+4990*", true},
		{"+4990", "+4990*", true},
		{"+499", "", false},
		{"+12125550100", "+1*", true},
		{"", "", false},
		{"+4989123", "", false},
	} {
		e, ok := Blocked(list, tc.number)
		if ok != tc.blocked || e != tc.entry {
			t.Errorf("Blocked(%q) = %q, %v; want %q, %v", tc.number, e, ok, tc.entry, tc.blocked)
		}
	}
	if _, ok := Blocked(nil, "+4930123456"); ok {
		t.Error("an empty blacklist blocks")
	}
}

func features(names ...string) map[string]bool {
	m := map[string]bool{}
	for _, n := range names {
		m[n] = true
	}
	return m
}

func TestDecide(t *testing.T) {
	eva := Record{Module: "Contacts", ID: "4711", Name: "Eva Meyer", Owner: "9002"}
	owners := map[string]string{"9001": "1001", "9002": "1002"}
	both := features(FeatureCallerName, FeatureOwnerRouting)
	for _, tc := range []struct {
		name string
		in   Input
		want Verdict
	}{
		{"nothing on", Input{Number: "+4930123456", Lookup: LookupHit, Record: eva},
			Verdict{Outcome: OutcomeOff}},
		{"withheld number", Input{Settings: store.Settings{Features: both, Blacklist: []string{"+49*"}}, Lookup: LookupHit, Record: eva},
			Verdict{Outcome: OutcomeOff}},
		{"blacklisted number, busy by default", Input{Number: "+4930123456", Settings: store.Settings{Blacklist: []string{"+4930123456"}}},
			Verdict{Outcome: OutcomeBlacklisted, Reject: store.BlockBusy, Blocked: "+4930123456"}},
		{"blacklisted prefix, congestion", Input{Number: "+4990012345",
			Settings: store.Settings{Blacklist: []string{"+4930123456", "+4990*"}, BlacklistReason: store.BlockCongestion}},
			Verdict{Outcome: OutcomeBlacklisted, Reject: store.BlockCongestion, Blocked: "+4990*"}},
		{"blacklist wins over a known record", Input{Number: "+4930123456",
			Settings: store.Settings{Features: both, Blacklist: []string{"+4930*"}, BlacklistReason: store.BlockHangup},
			Lookup:   LookupHit, Record: eva, Owners: owners},
			Verdict{Outcome: OutcomeBlacklisted, Reject: store.BlockHangup, Blocked: "+4930*"}},
		{"not blacklisted: rings", Input{Number: "+4930123456", Settings: store.Settings{Blacklist: []string{"+4990*"}}},
			Verdict{Outcome: OutcomeOff}},
		{"cold cache: no name, refresh", Input{Number: "+4930123456", Settings: store.Settings{Features: features(FeatureCallerName)}, Lookup: LookupMiss},
			Verdict{Outcome: OutcomeMiss, Refresh: true}},
		{"cache late: rings as it is", Input{Number: "+4930123456", Settings: store.Settings{Features: both}, Lookup: LookupLate},
			Verdict{Outcome: OutcomeLate}},
		{"cached miss", Input{Number: "+4930123456", Settings: store.Settings{Features: both}, Lookup: LookupNoRecord},
			Verdict{Outcome: OutcomeNoRecord}},
		{"warm cache: name", Input{Number: "+4930123456", Settings: store.Settings{Features: features(FeatureCallerName)}, Lookup: LookupHit, Record: eva},
			Verdict{Outcome: OutcomeNamed, Name: "Eva Meyer", Record: "Contacts/4711"}},
		{"owner routing only", Input{Number: "+4930123456", Settings: store.Settings{Features: features(FeatureOwnerRouting)},
			Lookup: LookupHit, Record: eva, Owners: owners},
			Verdict{Outcome: OutcomeOwner, Owner: "1002", Record: "Contacts/4711"}},
		{"name and owner", Input{Number: "+4930123456", Settings: store.Settings{Features: both}, Lookup: LookupHit, Record: eva, Owners: owners},
			Verdict{Outcome: OutcomeOwner, Name: "Eva Meyer", Owner: "1002", Record: "Contacts/4711"}},
		{"owner not linked: name only", Input{Number: "+4930123456", Settings: store.Settings{Features: both}, Lookup: LookupHit,
			Record: Record{Module: "Leads", ID: "7", Name: "Max", Owner: "9999"}, Owners: owners},
			Verdict{Outcome: OutcomeNamed, Name: "Max", Record: "Leads/7"}},
		{"owner not linked, no name feature", Input{Number: "+4930123456", Settings: store.Settings{Features: features(FeatureOwnerRouting)},
			Lookup: LookupHit, Record: Record{Module: "Leads", ID: "7", Name: "Max", Owner: "9999"}, Owners: owners},
			Verdict{Outcome: OutcomeNoRecord}},
		{"record without a name", Input{Number: "+4930123456", Settings: store.Settings{Features: features(FeatureCallerName)},
			Lookup: LookupHit, Record: Record{Module: "Accounts", ID: "8", Name: " \t "}},
			Verdict{Outcome: OutcomeNoRecord}},
		{"hit without an id", Input{Number: "+4930123456", Settings: store.Settings{Features: both}, Lookup: LookupHit},
			Verdict{Outcome: OutcomeNoRecord}},
		{"features switched off explicitly", Input{Number: "+4930123456",
			Settings: store.Settings{Features: map[string]bool{FeatureCallerName: false}}, Lookup: LookupHit, Record: eva},
			Verdict{Outcome: OutcomeOff}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Decide(tc.in); got != tc.want {
				t.Errorf("Decide = %+v\nwant      %+v", got, tc.want)
			}
		})
	}
}

func TestVerdictMark(t *testing.T) {
	for _, tc := range []struct {
		v    Verdict
		want *events.Screen
	}{
		{Verdict{Outcome: OutcomeMiss, Refresh: true}, nil},
		{Verdict{Outcome: OutcomeOff}, nil},
		{Verdict{Outcome: OutcomeBlacklisted, Reject: "busy", Blocked: "+49*"}, &events.Screen{Blacklisted: true}},
		{Verdict{Outcome: OutcomeOwner, Name: "Eva", Owner: "1002", Record: "Contacts/1"},
			&events.Screen{CallerName: "Eva", OwnerExtension: "1002", Record: "Contacts/1"}},
	} {
		got := tc.v.Mark()
		if (got == nil) != (tc.want == nil) || got != nil && *got != *tc.want {
			t.Errorf("%+v.Mark() = %+v, want %+v", tc.v, got, tc.want)
		}
	}
}

func TestDisplayName(t *testing.T) {
	for in, want := range map[string]string{
		"Eva Meyer":                 "Eva Meyer",
		"  Eva \t\n  Meyer  ":       "Eva Meyer",
		`Eva "the boss" Meyer`:      "Eva the boss Meyer",
		"Eva\x00\x1bMeyer":          "EvaMeyer",
		"José Núñez":                "José Núñez",
		"":                          "",
		strings.Repeat("x", 60):     strings.Repeat("x", 48),
		strings.Repeat("ab ", 30):   strings.TrimSpace(strings.Repeat("ab ", 16)),
		"Müller & Söhne GmbH, Köln": "Müller & Söhne GmbH, Köln",
	} {
		if got := DisplayName(in); got != want {
			t.Errorf("DisplayName(%q) = %q, want %q", in, got, want)
		}
		if n := len([]rune(DisplayName(in))); n > maxName {
			t.Errorf("DisplayName(%q) has %d characters", in, n)
		}
	}
}

func TestMarks(t *testing.T) {
	t0 := time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)
	k := NewMarks(time.Hour, 3)
	k.Set("c1", events.Screen{Blacklisted: true}, t0)
	k.Set("c2", events.Screen{CallerName: "Eva"}, t0.Add(time.Minute))
	if s, ok := k.Get("c1", t0.Add(59*time.Minute)); !ok || !s.Blacklisted {
		t.Fatalf("c1 = %+v, %v", s, ok)
	}
	if _, ok := k.Get("c1", t0.Add(time.Hour)); ok {
		t.Error("c1 kept past its TTL")
	}
	if _, ok := k.Get("c2", t0.Add(time.Hour)); !ok {
		t.Error("c2 expired early")
	}
	for i, id := range []string{"c3", "c4", "c5"} {
		k.Set(id, events.Screen{OwnerExtension: "100" + id[1:]}, t0.Add(time.Duration(2+i)*time.Minute))
	}
	if k.Len() != 3 {
		t.Errorf("%d marks, want at most 3", k.Len())
	}
	if _, ok := k.Get("c2", t0.Add(5*time.Minute)); ok {
		t.Error("the oldest mark survived the bound")
	}
	k.Set("c5", events.Screen{OwnerExtension: "1009"}, t0.Add(6*time.Minute))
	if s, _ := k.Get("c5", t0.Add(6*time.Minute)); s.OwnerExtension != "1009" || k.Len() != 3 {
		t.Errorf("c5 = %+v after update, %d marks", s, k.Len())
	}

	ended := events.Call{CallID: "c3", Type: events.Ended}
	if !k.Apply(&ended, t0.Add(7*time.Minute)) || ended.Screen == nil || ended.Screen.OwnerExtension != "1003" || ended.Reason != "" {
		t.Errorf("applied %+v", ended)
	}
	k.Set("bl", events.Screen{Blacklisted: true}, t0.Add(7*time.Minute))
	started := events.Call{CallID: "bl", Type: events.Started}
	ended = events.Call{CallID: "bl", Type: events.Ended}
	k.Apply(&started, t0.Add(7*time.Minute))
	k.Apply(&ended, t0.Add(7*time.Minute))
	if started.Reason != "" || !started.Screen.Blacklisted || ended.Reason != events.ReasonBlacklisted {
		t.Errorf("blacklisted: started %+v, ended %+v", started, ended)
	}
	other := events.Call{CallID: "unknown", Type: events.Ended}
	if k.Apply(&other, t0) || other.Screen != nil {
		t.Error("an unmarked call got a mark")
	}
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	m.Observe(OutcomeNamed, 3*time.Millisecond)
	m.Observe(OutcomeMiss, time.Millisecond)
	if n := testutil.ToFloat64(m.calls.WithLabelValues("named")); n != 1 {
		t.Errorf("named = %v", n)
	}
	if n, err := testutil.GatherAndCount(reg, "ringside_screen_delay_seconds", "ringside_screen_calls_total"); err != nil || n != 2*len(Outcomes) {
		t.Errorf("%d series, %v; want every outcome of both", n, err)
	}
}

func BenchmarkDecide(b *testing.B) {
	in := Input{Number: "+4930123456", Lookup: LookupHit,
		Settings: store.Settings{Features: features(FeatureCallerName, FeatureOwnerRouting), Blacklist: []string{"+4990*", "+4930999999"}},
		Record:   Record{Module: "Contacts", ID: "4711", Name: "Eva Meyer", Owner: "9002"}, Owners: map[string]string{"9002": "1002"}}
	b.ReportAllocs()
	for b.Loop() {
		if Decide(in).Owner != "1002" {
			b.Fatal("wrong verdict")
		}
	}
}
