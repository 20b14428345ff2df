package integration

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"

	zohosim "github.com/ringside/ringside/integration/sim/zoho"
	"github.com/ringside/ringside/pkg/events"
	"github.com/ringside/ringside/pkg/store"
)

// crmCallID is the call id the daemon gives a call started at the ARI
// simulator on trunk channel trunk.
func crmCallID(trunk string) string { return "pbx-01-" + trunk }

// crmWaitEnded waits until the daemon published the ended event of each
// call (by trunk channel) and returns them.
func (w *zohoE2E) crmWaitEnded(trunks ...string) []events.Call {
	w.t.Helper()
	out := make([]events.Call, len(trunks))
	for i, tr := range trunks {
		eventually(w.t, 30*time.Second, "the ended event of "+tr, func() bool {
			var ok bool
			out[i], ok = w.endedEvents()[crmCallID(tr)]
			return ok
		})
	}
	return out
}

// crmMissed plays an inbound call from number ringing exts that the
// caller gives up on (abandoned), and returns its ended event.
func (w *zohoE2E) crmMissed(number string, exts ...string) events.Call {
	w.t.Helper()
	trunk, agents := w.ari.RingFrom(number, exts...)
	w.ari.Abandon(trunk, agents)
	return w.crmWaitEnded(trunk)[0]
}

// crmAnswered plays an inbound call from number that ext answers and then
// ends, and returns its ended event.
func (w *zohoE2E) crmAnswered(number, ext string) events.Call {
	w.t.Helper()
	trunk, agents := w.ari.RingFrom(number, ext)
	bridge := w.ari.AnswerBy(trunk, agents[0], nil)
	w.ari.EndCall(bridge, trunk, agents[0])
	return w.crmWaitEnded(trunk)[0]
}

// crmByMarker indexes records by the PBX call id their Description starts
// with.
func crmByMarker(recs []zohosim.Record) map[string]zohosim.Record {
	out := map[string]zohosim.Record{}
	for _, r := range recs {
		d, _ := r["Description"].(string)
		id, _, _ := strings.Cut(strings.TrimPrefix(d, "Ringside call "), "\n")
		out[id] = r
	}
	return out
}

// crmLogged waits until the calls are logged (REST) and returns the Calls
// records by call id.
func (w *zohoE2E) crmLogged(calls ...events.Call) map[string]zohosim.Record {
	w.t.Helper()
	var recs map[string]zohosim.Record
	eventually(w.t, 30*time.Second, fmt.Sprintf("%d calls logged", len(calls)), func() bool {
		recs = crmByMarker(w.sim.Records(e2eOrg, "Calls"))
		for _, c := range calls {
			if _, ok := recs[c.CallID]; !ok {
				return false
			}
		}
		return true
	})
	return recs
}

// crmDue is the due date of a task for a call that ended at at, for an
// owner in the simulator's time zone (Europe/Berlin; UTC without the zone
// database).
func crmDue(at time.Time) string {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		loc = time.UTC
	}
	return at.In(loc).Format("2006-01-02")
}

// TestCRMFeaturesEndToEnd: `ringside serve` between the ARI simulator and
// the Zoho simulator (REST mode, embedded store). With the features off no
// Lead or Task appears; switched on with `ringside tenants set`:
//   - a missed ring-group call from a known contact: one Task for the
//     contact's owner, however many agents rang;
//   - an unknown caller: one Lead (owned by the agent's user), the call
//     log and the missed-call Task linked to it; calling again creates no
//     second Lead;
//   - two concurrent calls from one unknown number: one Lead, both logs
//     linked to it, one Task per missed call;
//   - a missed ring-group call from a contact without owner: the default
//     user's Task;
//   - the tenant's own number: nothing.
func TestCRMFeaturesEndToEnd(t *testing.T) {
	// crm.tasks from the configuration reach the tasks.
	w := newZohoE2E(t, e2eOpts{mode: store.ModeREST, yaml: "crm:\n  tasks:\n    subject: \"Ring back {caller}\"\n    priority: Highest\n"})
	w.sim.Org(e2eOrg, func(o *zohosim.Org) { o.Modules["Contacts"][w.contact]["Owner"] = map[string]any{"id": "9002"} })
	noOwner := w.sim.AddRecord(e2eOrg, "Contacts", zohosim.Record{"Last_Name": "Ohne", "Full_Name": "Otto Ohne", "Phone": "+4930777004"})

	// Features off: calls are logged, nothing else.
	w.play("inbound_missed")
	off := w.crmMissed("+4930777009", "1001")
	w.crmLogged(off)
	time.Sleep(time.Second)
	if n := len(w.sim.Records(e2eOrg, "Leads")) + len(w.sim.Records(e2eOrg, "Tasks")); n != 0 {
		t.Fatalf("%d leads and tasks with the features off", n)
	}

	out := w.ringside(0, "tenants", "set", "-tenant", "acme", "-feature", "leads_inbound=on", "-feature", "missed_call_task=on",
		"-own-numbers", "+49 30 555000")
	for _, want := range []string{"leads_inbound,missed_call_task", "+4930555000", "internal calls        skip"} {
		if !strings.Contains(out, want) {
			t.Errorf("tenants set output lacks %q:\n%s", want, out)
		}
	}

	// A known contact's missed ring-group call: one task for its owner.
	w.play("inbound_missed")
	var tasks map[string]zohosim.Record
	eventually(t, 30*time.Second, "the ring group's task", func() bool {
		tasks = crmByMarker(w.sim.Records(e2eOrg, "Tasks"))
		return len(tasks) == 1
	})
	for id, k := range tasks {
		group := w.endedEvents()[id]
		if len(group.Agents) < 2 || lookupID(k["Owner"]) != "9002" || lookupID(k["Who_Id"]) != w.contact ||
			k["Subject"] != "Ring back Eva Meyer (+4930123456)" || k["Priority"] != "Highest" || k["Status"] != "Not Started" ||
			k["Due_Date"] != crmDue(group.EndedAt) {
			t.Errorf("ring-group task %v for call %+v", k, group)
		}
	}

	// An unknown caller: a lead owned by the agent's user, linked from the
	// call log and the task; calling again makes no second lead.
	first := w.crmMissed("+4930777001", "1001")
	w.crmLogged(first) // handled before the caller calls again
	again := w.crmAnswered("+4930777001", "1002")
	logs := w.crmLogged(first, again)
	leads := w.sim.Records(e2eOrg, "Leads")
	if len(leads) != 1 || leads[0]["Phone"] != "+4930777001" || leads[0]["Last_Name"] != "Unknown caller +4930777001" ||
		leads[0]["Company"] != "Unknown company" || lookupID(leads[0]["Owner"]) != "9001" {
		t.Fatalf("leads %v", leads)
	}
	lead := leads[0]["id"].(string)
	for _, c := range []events.Call{first, again} {
		if r := logs[c.CallID]; lookupID(r["What_Id"]) != lead || r["$se_module"] != "Leads" {
			t.Errorf("call %s logged %v, not linked to the lead", c.CallID, r)
		}
	}
	eventually(t, 30*time.Second, "the unknown caller's task", func() bool {
		_, ok := crmByMarker(w.sim.Records(e2eOrg, "Tasks"))[first.CallID]
		return ok
	})
	if k := crmByMarker(w.sim.Records(e2eOrg, "Tasks"))[first.CallID]; lookupID(k["What_Id"]) != lead || lookupID(k["Owner"]) != "9001" {
		t.Errorf("task %v, want it on the lead for its owner", k)
	}

	// Two calls from one unknown number at once: one lead.
	t1, a1 := w.ari.RingFrom("+4930777002", "1001")
	t2, a2 := w.ari.RingFrom("+4930777002", "1002", "1003")
	w.ari.Abandon(t1, a1)
	w.ari.Abandon(t2, a2)
	both := w.crmWaitEnded(t1, t2)
	logs = w.crmLogged(both...)
	var same []zohosim.Record
	for _, l := range w.sim.Records(e2eOrg, "Leads") {
		if l["Phone"] == "+4930777002" {
			same = append(same, l)
		}
	}
	if len(same) != 1 {
		t.Fatalf("%d leads for one number calling twice at once", len(same))
	}
	for _, c := range both {
		if lookupID(logs[c.CallID]["What_Id"]) != same[0]["id"] {
			t.Errorf("call %s not linked to the lead: %v", c.CallID, logs[c.CallID])
		}
	}

	// A contact without owner: the default user's task, once.
	ownerless := w.crmMissed("+4930777004", "1001", "1002", "1003")
	own := w.crmMissed("+4930555000", "1001") // the tenant's own number
	w.crmLogged(ownerless, own)
	eventually(t, 30*time.Second, "every task", func() bool { return len(w.sim.Records(e2eOrg, "Tasks")) >= 5 })
	time.Sleep(time.Second) // a duplicate would come now
	tasks = crmByMarker(w.sim.Records(e2eOrg, "Tasks"))
	if len(w.sim.Records(e2eOrg, "Tasks")) != 5 || len(tasks) != 5 {
		t.Fatalf("%d tasks (%d calls), want 5: ring group, unknown caller, two concurrent, ownerless", len(w.sim.Records(e2eOrg, "Tasks")), len(tasks))
	}
	if k := tasks[ownerless.CallID]; lookupID(k["Owner"]) != "9009" || lookupID(k["Who_Id"]) != noOwner {
		t.Errorf("ownerless contact's task %v", k)
	}
	if _, ok := tasks[own.CallID]; ok {
		t.Error("a task for the tenant's own number")
	}
	for _, l := range w.sim.Records(e2eOrg, "Leads") {
		if l["Phone"] == "+4930555000" {
			t.Error("a lead for the tenant's own number")
		}
	}
	if n := len(w.sim.Records(e2eOrg, "Leads")); n != 2 {
		t.Errorf("%d leads, want 2", n)
	}

	_, scrape := get(t, w.base+"/metrics")
	if v := metricSum(scrape, "ringside_zoho_leads_created_total", `result="created"`); v != 2 {
		t.Errorf("ringside_zoho_leads_created_total{result=created} = %v, want 2", v)
	}
	if v := metricSum(scrape, "ringside_zoho_tasks_created_total", `result="created"`); v != 5 {
		t.Errorf("ringside_zoho_tasks_created_total{result=created} = %v, want 5", v)
	}
	if problems, err := promlint.New(strings.NewReader(scrape)).Lint(); err != nil || len(problems) > 0 {
		t.Errorf("metric lint with the CRM features' metrics: %v %v", problems, err)
	}
	w.stop()
}

// TestInternalCallsEndToEnd: in PhoneBridge mode (Redis store) an internal
// call sends no callnotify whatever the policy; with skip (the default)
// nothing reaches the CRM, with log one Calls record (written through
// REST), with light a short one; a call involving a technical extension
// leaves nothing. The policy is switched with `ringside tenants set` while
// the daemon runs.
func TestInternalCallsEndToEnd(t *testing.T) {
	w := newZohoE2E(t, e2eOpts{mode: store.ModePhoneBridge, redis: true})
	internal := func() events.Call {
		t.Helper()
		before := w.endedEvents()
		w.play("internal_answered")
		for id, e := range w.endedEvents() {
			if _, old := before[id]; !old {
				return e
			}
		}
		t.Fatal("no new call")
		return events.Call{}
	}
	records := func() map[string]zohosim.Record { return crmByMarker(w.sim.Records(e2eOrg, "Calls")) }

	skipped := internal()
	time.Sleep(2 * time.Second)
	if n := len(w.sim.Records(e2eOrg, "Calls")); n != 0 {
		t.Fatalf("%d records under the skip policy", n)
	}

	w.ringside(0, "tenants", "set", "-tenant", "acme", "-internal-policy", "log")
	logged := internal()
	eventually(t, 30*time.Second, "the internal call logged", func() bool { _, ok := records()[logged.CallID]; return ok })
	r := records()[logged.CallID]
	d, _ := r["Description"].(string)
	if r["Subject"] != "Internal call from 1001 to 1002" || r["Call_Type"] != "Outbound" || lookupID(r["Owner"]) != "9001" ||
		r["Call_Duration"] != mmss(logged.TalkSeconds) || !strings.Contains(d, "Answered by extension 1002") {
		t.Errorf("logged internal call %v", r)
	}

	w.ringside(0, "tenants", "set", "-tenant", "acme", "-internal-policy", "light")
	light := internal()
	eventually(t, 30*time.Second, "the light record", func() bool { _, ok := records()[light.CallID]; return ok })
	if r := records()[light.CallID]; r["Description"] != "Ringside call "+light.CallID || r["Dialled_Number"] != nil ||
		r["Subject"] != "Internal call from 1001 to 1002" {
		t.Errorf("light record %v", r)
	}

	out := w.ringside(0, "tenants", "set", "-tenant", "acme", "-technical-extensions", "10[0-9][2-9]")
	if !strings.Contains(out, "10[0-9][2-9]") {
		t.Errorf("tenants set output:\n%s", out)
	}
	technical := internal()
	time.Sleep(2 * time.Second)
	recs := records()
	if _, ok := recs[technical.CallID]; ok || len(recs) != 2 {
		t.Errorf("%d records; the technical extension's call logged: %v", len(recs), ok)
	}
	if _, ok := recs[skipped.CallID]; ok {
		t.Error("the skipped call was logged")
	}
	if n := len(w.sim.Notifications(e2eOrg)); n != 0 {
		t.Errorf("%d callnotify requests for internal calls", n)
	}
	_, scrape := get(t, w.base+"/metrics")
	for _, p := range []string{"skip", "log", "light", "technical"} {
		if v := metricSum(scrape, "ringside_calls_internal_total", `policy="`+p+`"`); v != 1 {
			t.Errorf("ringside_calls_internal_total{policy=%q} = %v, want 1", p, v)
		}
	}
	w.stop()
}
