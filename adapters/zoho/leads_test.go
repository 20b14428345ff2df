package zoho

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	zohosim "github.com/ringside/ringside/integration/sim/zoho"
	"github.com/ringside/ringside/pkg/callgen"
	"github.com/ringside/ringside/pkg/events"
	"github.com/ringside/ringside/pkg/store"
)

// settings changes the tenant's settings.
func (e *env) settings(fn func(*store.Settings)) {
	e.t.Helper()
	tn, err := e.st.Tenant(e.ctx, "acme")
	if err != nil {
		e.t.Fatal(err)
	}
	fn(&tn.Settings)
	if _, err := e.st.UpdateTenant(e.ctx, tn); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) on(names ...string) {
	e.settings(func(s *store.Settings) {
		if s.Features == nil {
			s.Features = map[string]bool{}
		}
		for _, n := range names {
			s.Features[n] = true
		}
	})
}

// endedOf returns the ended events by call id, in order.
func endedOf(evs []events.Call) []events.Call {
	var out []events.Call
	for _, ev := range evs {
		if ev.Type == events.Ended {
			out = append(out, ev)
		}
	}
	return out
}

func (e *env) deliverAll(evs []events.Call) {
	e.t.Helper()
	if dead := e.deliver(evs); len(dead) > 0 {
		e.t.Fatal(dead)
	}
}

func leadsCount(e *env, result string) float64 {
	return testutil.ToFloat64(e.c.m.leads.WithLabelValues(result))
}

func TestLeadsForUnknownCallers(t *testing.T) {
	e := newEnv(t, envOpt{sink: func(o *SinkOptions) { o.CRM.LeadSource = "Cold Call" }})
	e.on(FeatureLeadsInbound, FeatureLeadsOutbound)
	e.settings(func(s *store.Settings) {
		s.OwnNumbers = []string{"+4930700009"}
		s.Blacklist = []string{"+4930666*"}
	})
	contact := e.sim.AddRecord(org, "Contacts", zohosim.Record{"Last_Name": "Meyer", "Full_Name": "Eva Meyer", "Phone": "+4930111111"})
	calls := []callgen.Call{
		{Scenario: callgen.InboundMissed, External: "+4930700001", DID: "+4930999000", Agents: []string{"1001", "1002"}}, // lead, default user
		callInbound("+4930700001", "1001"), // the same caller again: no second lead
		{Scenario: callgen.OutboundAnswered, External: "+4930700002", Agents: []string{"1002"}, Talk: 30 * time.Second}, // lead, Ben's
		{Scenario: callgen.OutboundBusy, External: "+4930700003", Agents: []string{"1003"}},                             // maybe a misdial
		callInbound("+4930111111", "1001"),                                     // a known contact
		callInbound("+4930700009", "1001"),                                     // the tenant's own number
		callInbound("+4930666123", "1001"),                                     // blacklisted
		{Scenario: callgen.InternalAnswered, Agents: []string{"1001", "1002"}}, // internal
	}
	evs := script(calls...)
	e.deliverAll(evs)
	leads := e.sim.Records(org, "Leads")
	if len(leads) != 2 {
		t.Fatalf("%d leads, want 2: %v", len(leads), leads)
	}
	byPhone := map[string]zohosim.Record{}
	for _, l := range leads {
		byPhone[l["Phone"].(string)] = l
	}
	in, out := byPhone["+4930700001"], byPhone["+4930700002"]
	if in == nil || out == nil {
		t.Fatalf("leads %v", leads)
	}
	if in["Last_Name"] != "Unknown caller +4930700001" || in["Company"] != "Unknown company" || in["Lead_Source"] != "Cold Call" ||
		ownerOf(in) != "9009" || !strings.Contains(in["Description"].(string), "inbound call") {
		t.Errorf("inbound lead %v", in)
	}
	if ownerOf(out) != "9002" {
		t.Errorf("outbound lead owned by %s, want Ben (9002)", ownerOf(out))
	}
	// Every call log links to its record, the new ones included.
	logs := byCallID(e.sim.Records(org, "Calls"))
	for i, ev := range endedOf(evs)[:5] {
		r := logs[ev.CallID]
		want := []string{in["id"].(string), in["id"].(string), out["id"].(string), "", contact}[i]
		got := lookupIDOf(r["What_Id"]) + lookupIDOf(r["Who_Id"])
		if got != want {
			t.Errorf("call %d: linked to %q, want %q (%v)", i, got, want, r)
		}
	}
	if c := leadsCount(e, "created"); c != 2 {
		t.Errorf("leads created metric %v, want 2", c)
	}

	// Redelivery changes nothing.
	e.deliverAll(evs)
	if n := len(e.sim.Records(org, "Leads")); n != 2 {
		t.Fatalf("%d leads after redelivery", n)
	}
	if n := len(e.sim.Requests("POST /crm/v8/Leads/upsert")); n != 2 {
		t.Errorf("%d upserts for 2 leads", n)
	}
}

func lookupIDOf(v any) string {
	if m, ok := v.(map[string]any); ok {
		s, _ := m["id"].(string)
		return s
	}
	return ""
}

func TestLeadsFeatureOffCreatesNothing(t *testing.T) {
	e := newEnv(t, envOpt{})
	e.on(FeatureMissedCallTask) // another feature on: no lead either
	e.settings(func(s *store.Settings) { s.DefaultUser = "" })
	evs := script(callInbound("+4930700001", "1001"),
		callgen.Call{Scenario: callgen.OutboundAnswered, External: "+4930700002", Agents: []string{"1002"}})
	e.deliverAll(evs)
	if n := len(e.sim.Records(org, "Leads")) + len(e.sim.Records(org, "Contacts")); n != 0 {
		t.Fatalf("%d records with the leads features off", n)
	}
	if n := len(e.sim.Records(org, "Calls")); n != 2 {
		t.Fatalf("%d call logs", n)
	}
}

func TestLeadsAsContacts(t *testing.T) {
	e := newEnv(t, envOpt{})
	e.on(FeatureLeadsInbound)
	e.settings(func(s *store.Settings) { s.LeadModule = "Contacts" })
	evs := script(callInbound("+4930700001", "1003"))
	e.deliverAll(evs)
	cs := e.sim.Records(org, "Contacts")
	if len(cs) != 1 || cs[0]["Company"] != nil || cs[0]["Phone"] != "+4930700001" || ownerOf(cs[0]) != "9003" ||
		cs[0]["Full_Name"] != "Unknown caller +4930700001" {
		t.Fatalf("contacts %v", cs)
	}
	if n := len(e.sim.Records(org, "Leads")); n != 0 {
		t.Fatalf("%d leads", n)
	}
	log := byCallID(e.sim.Records(org, "Calls"))[endedOf(evs)[0].CallID]
	if lookupIDOf(log["Who_Id"]) != cs[0]["id"] {
		t.Errorf("call log %v not linked to the new contact", log)
	}
}

// Two calls from one unknown number at once, each on its own worker:
// one lead, both logs linked to it.
func TestLeadsConcurrentCallsOneNumber(t *testing.T) {
	e := newEnv(t, envOpt{sim: zohosim.Options{Latency: 30 * time.Millisecond}})
	e.on(FeatureLeadsInbound)
	evs := script(callInbound("+4930700005", "1001"), callInbound("+4930700005", "1002"),
		callgen.Call{Scenario: callgen.InboundMissed, External: "+4930700005", Agents: []string{"1003"}})
	perCall := map[string][]events.Call{}
	for _, ev := range evs {
		perCall[ev.CallID] = append(perCall[ev.CallID], ev)
	}
	var wg sync.WaitGroup
	for _, evs := range perCall {
		wg.Go(func() {
			for _, ev := range evs {
				for i := 0; ; i++ {
					if err := e.sink.Handle(e.ctx, ev); err == nil {
						break
					} else if i > 100 {
						t.Errorf("call %s: %v", ev.CallID, err)
						return
					}
					time.Sleep(20 * time.Millisecond)
				}
			}
		})
	}
	wg.Wait()
	leads := e.sim.Records(org, "Leads")
	if len(leads) != 1 {
		t.Fatalf("%d leads for one caller calling three times at once", len(leads))
	}
	for id, r := range byCallID(e.sim.Records(org, "Calls")) {
		if lookupIDOf(r["What_Id"]) != leads[0]["id"] {
			t.Errorf("call %s linked to %v, want the lead", id, r["What_Id"])
		}
	}
}

// Search does not find a fresh record (index lag): the recent-creation
// memory does, and a record made elsewhere is found by the upsert on Phone.
func TestLeadsMemoryAndUpsert(t *testing.T) {
	e := newEnv(t, envOpt{sim: zohosim.Options{SearchLag: 2 * time.Hour}})
	e.on(FeatureLeadsInbound)
	evs := script(callInbound("+4930700006", "1001"))
	e.deliverAll(evs)
	// The lookup cache forgets the number (expiry, another node's store):
	// search cannot see the new lead yet.
	if err := e.sopts.Lookup.Forget(e.ctx, "acme", "DE", "+4930700006"); err != nil {
		t.Fatal(err)
	}
	e.deliverAll(renamed(script(callInbound("+4930700006", "1002")), "-again"))
	if n := len(e.sim.Records(org, "Leads")); n != 1 || leadsCount(e, "existing") != 1 {
		t.Fatalf("%d leads, existing metric %v", n, leadsCount(e, "existing"))
	}
	if n := len(e.sim.Requests("POST /crm/v8/Leads/upsert")); n != 1 {
		t.Errorf("%d upserts: the memory should have answered", n)
	}

	// A lead with the number made a moment ago by someone else, which
	// search does not show: the upsert updates it instead of doubling it.
	other := e.sim.AddRecord(org, "Leads", zohosim.Record{"Last_Name": "Web form", "Company": "X", "Phone": "+4930700007"})
	e.deliverAll(renamed(script(callInbound("+4930700007", "1001")), "-other"))
	leads := e.sim.Records(org, "Leads")
	if len(leads) != 2 || leadsCount(e, "existing") != 2 {
		t.Fatalf("%d leads (existing %v): %v", len(leads), leadsCount(e, "existing"), leads)
	}
	for _, l := range leads {
		if l["Phone"] == "+4930700007" && l["id"] != other {
			t.Errorf("the upsert made a new lead %v", l)
		}
	}
}

// A token that may not write Leads: reported once, counted, the calls
// logged anyway, nothing dead-lettered or retried forever.
func TestLeadsWithoutScope(t *testing.T) {
	e := newEnv(t, envOpt{})
	e.on(FeatureLeadsInbound)
	rt := e.sim.SelfClientToken(org, "ZohoCRM.modules.calls.ALL,ZohoCRM.modules.contacts.READ,ZohoCRM.modules.leads.READ,"+
		"ZohoCRM.modules.accounts.READ,ZohoCRM.users.READ,ZohoCRM.coql.READ")
	if err := e.c.ImportRefreshToken(e.ctx, "acme", rt, e.sim.AccountsURL("eu")); err != nil {
		t.Fatal(err)
	}
	for _, known := range []bool{true, false} {
		if !known { // scopes not stored: Zoho says no
			tn, _ := e.st.Tenant(e.ctx, "acme")
			tn.Zoho.Scopes = nil
			if _, err := e.st.UpdateTenant(e.ctx, tn); err != nil {
				t.Fatal(err)
			}
			e.sink.mu.Lock()
			clear(e.sink.refused)
			e.sink.mu.Unlock()
		}
		e.deliverAll(renamed(script(callInbound("+4930710001", "1001"), callInbound("+4930710002", "1002")),
			map[bool]string{true: "-k", false: "-u"}[known]))
	}
	if n := len(e.sim.Records(org, "Calls")); n != 4 {
		t.Fatalf("%d calls logged, want 4", n)
	}
	if n := len(e.sim.Records(org, "Leads")); n != 0 {
		t.Fatalf("%d leads without the scope", n)
	}
	if n := len(e.sim.Requests("POST /crm/v8/Leads/upsert")); n != 1 {
		t.Errorf("%d upserts: one when the scopes are not known, then none", n)
	}
	if c := leadsCount(e, "scope_error"); c != 4 {
		t.Errorf("scope_error metric %v, want 4", c)
	}
	if n := strings.Count(e.logs.String(), "may not write Leads"); n != 2 {
		t.Errorf("reported %d times, want once per discovery (2)", n)
	}
}
