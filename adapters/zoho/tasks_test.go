package zoho

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	zohosim "github.com/ringside/ringside/integration/sim/zoho"
	"github.com/ringside/ringside/pkg/callgen"
	"github.com/ringside/ringside/pkg/events"
	"github.com/ringside/ringside/pkg/store"
)

func tasksCount(e *env, result string) float64 {
	return testutil.ToFloat64(e.c.m.tasks.WithLabelValues(result))
}

// renamed gives the events of a script call ids of their own (script
// starts its ids afresh).
func renamed(evs []events.Call, suffix string) []events.Call {
	for i := range evs {
		evs[i].CallID += suffix
	}
	return evs
}

func TestMissedCallTasks(t *testing.T) {
	for _, mode := range []store.ZohoMode{store.ModeREST, store.ModePhoneBridge} {
		t.Run(string(mode), func(t *testing.T) {
			e := newEnv(t, envOpt{mode: mode})
			e.on(FeatureMissedCallTask)
			contact := e.sim.AddRecord(org, "Contacts", zohosim.Record{"Last_Name": "Meyer", "Full_Name": "Eva Meyer",
				"Phone": "+4930111111", "Owner": map[string]any{"id": "9002"}})
			evs := script(
				// A ring group nobody answers: one task, not one per agent, for the contact's owner.
				callgen.Call{Scenario: callgen.InboundMissed, External: "+4930111111", DID: "+4930999000", Agents: []string{"1001", "1002", "1003"}},
				// An unknown caller hangs up while it rings: the default user's.
				callgen.Call{Scenario: callgen.InboundAbandoned, External: "+4930800001", DID: "+4930999000", Agents: []string{"1001"}},
				callgen.Call{Scenario: callgen.InboundBusy, External: "+4930800002", DID: "+4930999000", Agents: []string{"1003"}},
				callInbound("+4930111111", "1001"), // answered: no task
				callgen.Call{Scenario: callgen.OutboundNoAnswer, External: "+4930800003", Agents: []string{"1002"}}, // outbound: none
			)
			e.deliverAll(evs)
			e.deliverAll(evs) // redelivered: nothing more
			tasks := e.sim.Records(org, "Tasks")
			if len(tasks) != 3 {
				t.Fatalf("%d tasks, want 3: %v", len(tasks), tasks)
			}
			byCall := byCallID(tasks)
			end := endedOf(evs)
			first := byCall[end[0].CallID]
			due, _ := dueDate(end[0].EndedAt, "Europe/Berlin")
			if first["Subject"] != "Call back Eva Meyer (+4930111111)" || ownerOf(first) != "9002" || lookupIDOf(first["Who_Id"]) != contact ||
				first["What_Id"] != nil || first["Priority"] != "High" || first["Status"] != "Not Started" || first["Due_Date"] != due ||
				!strings.Contains(first["Description"].(string), "Rang: 1001, 1002, 1003") {
				t.Errorf("ring-group task %v", first)
			}
			for _, ev := range end[1:3] {
				k := byCall[ev.CallID]
				if ownerOf(k) != "9009" || k["Subject"] != "Call back "+ev.External || k["Who_Id"] != nil || k["What_Id"] != nil {
					t.Errorf("task of %s: %v", ev.Disposition, k)
				}
			}
			if c := tasksCount(e, "created"); c != 3 {
				t.Errorf("created metric %v", c)
			}
			// Every call is still logged once (by PhoneBridge or REST).
			if n := len(e.sim.Records(org, "Calls")); n != 5 {
				t.Errorf("%d call logs for 5 calls", n)
			}
		})
	}
}

// With leads on, the missed call of an unknown caller creates the lead
// first; the task is linked to it and owned by its owner.
func TestMissedCallTaskForANewLead(t *testing.T) {
	e := newEnv(t, envOpt{})
	e.on(FeatureMissedCallTask, FeatureLeadsInbound)
	evs := script(callgen.Call{Scenario: callgen.InboundMissed, External: "+4930800004", Agents: []string{"1003"}})
	e.deliverAll(evs)
	leads, tasks := e.sim.Records(org, "Leads"), e.sim.Records(org, "Tasks")
	if len(leads) != 1 || len(tasks) != 1 {
		t.Fatalf("%d leads, %d tasks", len(leads), len(tasks))
	}
	k := tasks[0]
	if lookupIDOf(k["What_Id"]) != leads[0]["id"] || k["$se_module"] != "Leads" || ownerOf(k) != ownerOf(leads[0]) || ownerOf(k) != "9003" ||
		k["Subject"] != "Call back Unknown caller +4930800004 (+4930800004)" {
		t.Errorf("task %v for lead %v", k, leads[0])
	}
}

func TestMissedCallTaskWithoutOwner(t *testing.T) {
	e := newEnv(t, envOpt{})
	e.on(FeatureMissedCallTask)
	e.settings(func(s *store.Settings) { s.DefaultUser = "" })
	e.sim.AddRecord(org, "Contacts", zohosim.Record{"Last_Name": "Nobody's", "Phone": "+4930800005"})
	evs := script(callgen.Call{Scenario: callgen.InboundMissed, External: "+4930800005", Agents: []string{"1001", "1002"}},
		callgen.Call{Scenario: callgen.InboundMissed, External: "+4930800006", Agents: []string{"1001"}})
	e.deliverAll(evs)
	e.deliverAll(evs)
	if n := len(e.sim.Records(org, "Tasks")); n != 0 {
		t.Fatalf("%d tasks without an owner", n)
	}
	if c := tasksCount(e, "no_owner"); c != 2 {
		t.Errorf("no_owner metric %v, want 2 (once per call)", c)
	}
	if n := strings.Count(e.logs.String(), "missed call without an owner"); n != 2 {
		t.Errorf("%d log lines, want one per call", n)
	}
	if n := len(e.sim.Records(org, "Calls")); n != 2 {
		t.Errorf("%d call logs", n)
	}
}

// A task whose insert was applied but not answered is found by its marker,
// not created twice.
func TestMissedCallTaskAmbiguousFailure(t *testing.T) {
	for _, f := range []zohosim.Fault{
		{Match: "POST /crm/v8/Tasks", Count: 1, Status: 502, After: true},
		{Match: "POST /crm/v8/Tasks", Count: 1, Hang: true, After: true},
		{Match: "POST /crm/v8/Tasks", Count: 2, Status: 500},
		{Match: "POST /crm/v8/Tasks", Count: 2, Status: 429},
	} {
		e := newEnv(t, envOpt{client: func(o *Options) { o.Timeout = 300 * time.Millisecond }})
		e.on(FeatureMissedCallTask)
		e.sim.Inject(f)
		evs := script(callgen.Call{Scenario: callgen.InboundMissed, External: "+4930800007", Agents: []string{"1001", "1002"}})
		e.deliverAll(evs)
		if n := len(e.sim.Records(org, "Tasks")); n != 1 {
			t.Errorf("fault %d after=%v hang=%v: %d tasks", f.Status, f.After, f.Hang, n)
		}
	}
}

func TestMissedCallTaskWithoutScope(t *testing.T) {
	e := newEnv(t, envOpt{})
	e.on(FeatureMissedCallTask)
	rt := e.sim.SelfClientToken(org, "ZohoCRM.modules.calls.ALL,ZohoCRM.modules.contacts.READ,ZohoCRM.modules.leads.READ,"+
		"ZohoCRM.modules.accounts.READ,ZohoCRM.users.READ,ZohoCRM.coql.READ")
	if err := e.c.ImportRefreshToken(e.ctx, "acme", rt, e.sim.AccountsURL("eu")); err != nil {
		t.Fatal(err)
	}
	tn, _ := e.st.Tenant(e.ctx, "acme")
	tn.Zoho.Scopes = nil // not stored: Zoho answers 401
	if _, err := e.st.UpdateTenant(e.ctx, tn); err != nil {
		t.Fatal(err)
	}
	var calls []callgen.Call
	for range 3 {
		calls = append(calls, callgen.Call{Scenario: callgen.InboundMissed, External: "+4930800008", Agents: []string{"1001"}})
	}
	evs := script(calls...)
	e.deliverAll(evs)
	if n := len(e.sim.Records(org, "Calls")); n != 3 {
		t.Fatalf("%d calls logged", n)
	}
	if n := len(e.sim.Requests("POST /crm/v8/Tasks")); n != 1 {
		t.Errorf("%d task requests: the refusal should hold for a while", n)
	}
	if c := tasksCount(e, "scope_error"); c != 3 {
		t.Errorf("scope_error metric %v, want 3", c)
	}
	if n := strings.Count(e.logs.String(), "may not write Tasks"); n != 1 {
		t.Errorf("reported %d times, want once", n)
	}
}
