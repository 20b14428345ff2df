package zoho

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ringside/ringside/pkg/callgen"
	"github.com/ringside/ringside/pkg/store"
)

func internalCount(e *env, policy string) float64 {
	return testutil.ToFloat64(e.c.m.internal.WithLabelValues(policy))
}

func TestInternalCallPolicy(t *testing.T) {
	internal := callgen.Call{Scenario: callgen.InternalAnswered, Agents: []string{"1001", "1002"}, Recording: callgen.RecordingAfterEnd}
	for _, tc := range []struct {
		name      string
		mode      store.ZohoMode
		policy    store.InternalPolicy
		technical []string
		records   int
		label     string
	}{
		{"rest default", store.ModeREST, "", nil, 0, "skip"},
		{"rest skip", store.ModeREST, store.InternalSkip, nil, 0, "skip"},
		{"rest log", store.ModeREST, store.InternalLog, nil, 1, "log"},
		{"rest light", store.ModeREST, store.InternalLight, nil, 1, "light"},
		{"rest log, technical callee", store.ModeREST, store.InternalLog, []string{"100[2-9]"}, 0, "technical"},
		{"phonebridge skip", store.ModePhoneBridge, store.InternalSkip, nil, 0, "skip"},
		{"phonebridge log", store.ModePhoneBridge, store.InternalLog, nil, 1, "log"},
		{"phonebridge light, technical caller", store.ModePhoneBridge, store.InternalLight, []string{"1001"}, 0, "technical"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envOpt{mode: tc.mode})
			e.settings(func(s *store.Settings) { s.InternalPolicy, s.TechnicalExtensions = tc.policy, tc.technical })
			evs := script(internal)
			e.deliverAll(evs)
			e.deliverAll(evs) // redelivery
			recs := e.sim.Records(org, "Calls")
			if len(recs) != tc.records {
				t.Fatalf("%d records, want %d: %v", len(recs), tc.records, recs)
			}
			if n := len(e.sim.Notifications(org)); n != 0 {
				t.Errorf("%d PhoneBridge notifications for an internal call", n)
			}
			if c := internalCount(e, tc.label); c != 2 { // once per delivery of the ended event
				t.Errorf("ringside_calls_internal_total{policy=%q} = %v, want 2", tc.label, c)
			}
			if tc.records == 0 {
				return
			}
			r, ev := recs[0], endedOf(evs)[0]
			d, _ := r["Description"].(string)
			if r["Call_Type"] != "Outbound" || r["Outgoing_Call_Status"] != "Completed" || ownerOf(r) != "9001" ||
				r["Subject"] != "Internal call from 1001 to 1002" || r["Call_Duration"] != mmss(ev.TalkSeconds) {
				t.Errorf("record %v", r)
			}
			switch tc.policy {
			case store.InternalLog:
				if !strings.Contains(d, "Answered by extension 1002") || !strings.Contains(d, "/recordings/") || r["Dialled_Number"] != "1002" {
					t.Errorf("full record %v", r)
				}
			case store.InternalLight:
				if d != marker(ev.CallID) || r["Dialled_Number"] != nil {
					t.Errorf("light record %v", r)
				}
			}
			if n := len(e.sim.Requests("GET /crm/v8/")) + len(e.sim.Requests("POST /crm/v8/coql")); n > 1 { // the users list only
				t.Errorf("%d lookups for an internal call", n)
			}
		})
	}
}

// An external call that only technical extensions handled (the fax line)
// is not logged; one a person handled is.
func TestTechnicalExtensionsExternal(t *testing.T) {
	for _, mode := range []store.ZohoMode{store.ModeREST, store.ModePhoneBridge} {
		t.Run(string(mode), func(t *testing.T) {
			e := newEnv(t, envOpt{mode: mode})
			e.settings(func(s *store.Settings) { s.TechnicalExtensions = []string{"1003"} }) // Cleo's extension is the fax here
			evs := script(callInbound("+4930900001", "1003"), callInbound("+4930900002", "1001"),
				callgen.Call{Scenario: callgen.OutboundAnswered, External: "+4930900003", Agents: []string{"1003"}})
			e.deliverAll(evs)
			if n := len(e.sim.Records(org, "Calls")); n != 1 {
				t.Fatalf("%d call logs, want 1 (the call 1001 answered)", n)
			}
			for _, n := range e.sim.Notifications(org) {
				if n.Get("zohouser") == "pb-1003" {
					t.Errorf("a pop for the technical extension: %v", n)
				}
			}
		})
	}
}
