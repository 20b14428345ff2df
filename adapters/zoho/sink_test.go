package zoho

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	zohosim "github.com/ringside/ringside/integration/sim/zoho"
	"github.com/ringside/ringside/pkg/callgen"
	"github.com/ringside/ringside/pkg/events"
	"github.com/ringside/ringside/pkg/store"
)

func callInbound(number string, agents ...string) callgen.Call {
	return callgen.Call{Scenario: callgen.InboundAnswered, External: number, DID: "+4930999000", Agents: agents, Talk: 95 * time.Second}
}

func byCallID(recs []zohosim.Record) map[string]zohosim.Record {
	out := map[string]zohosim.Record{}
	for _, r := range recs {
		d, _ := r["Description"].(string)
		id, _, _ := strings.Cut(strings.TrimPrefix(d, "Ringside call "), "\n")
		out[id] = r
	}
	return out
}

func ownerOf(r zohosim.Record) string {
	if o, ok := r["Owner"].(map[string]any); ok {
		return o["id"].(string)
	}
	return ""
}

func callIDs(evs []events.Call) []string {
	var out []string
	seen := map[string]bool{}
	for _, e := range evs {
		if e.Direction != events.Internal && e.Direction != "" && !seen[e.CallID] {
			seen[e.CallID] = true
			out = append(out, e.CallID)
		}
	}
	return out
}

func TestRESTOneRecordPerCall(t *testing.T) {
	e := newEnv(t, envOpt{})
	contact := e.sim.AddRecord(org, "Contacts", zohosim.Record{"Last_Name": "Meyer", "Full_Name": "Eva Meyer", "Phone": "030 111111"})
	lead := e.sim.AddRecord(org, "Leads", zohosim.Record{"Last_Name": "Lead", "Full_Name": "Leo Lead", "Mobile": "+4930222222"})
	calls := []callgen.Call{
		{Scenario: callgen.InboundAnswered, External: "+4930111111", Agents: []string{"1001"}, Talk: 95 * time.Second, Recording: callgen.RecordingAfterEnd},
		{Scenario: callgen.InboundRingGroup, External: "+4930222222", Agents: []string{"1001", "1002", "1003"}, Winner: 2, Talk: 61 * time.Second},
		{Scenario: callgen.InboundMissed, External: "+4930333333", Agents: []string{"1001", "1002"}},
		{Scenario: callgen.OutboundAnswered, External: "+4930111111", Agents: []string{"1002"}, Talk: 4500 * time.Second},
		{Scenario: callgen.BlindTransfer, External: "+4930444444", Agents: []string{"1001", "1003"}, Talk: 30 * time.Second, Recording: callgen.RecordingBeforeEnd},
		{Scenario: callgen.OutboundBusy, External: "+4930555555", Agents: []string{"1003"}},
		{Scenario: callgen.InternalAnswered, Agents: []string{"1001", "1002"}},
	}
	evs := script(calls...)
	if dead := e.deliver(evs); len(dead) > 0 {
		t.Fatal(dead)
	}
	ids := callIDs(evs)
	ended := map[string]events.Call{}
	for _, ev := range evs {
		if ev.Type == events.Ended {
			ended[ev.CallID] = ev
		}
	}
	recs := e.sim.Records(org, "Calls")
	if len(recs) != len(ids) {
		t.Fatalf("%d Calls records for %d external calls", len(recs), len(ids))
	}
	got := byCallID(recs)
	want := []struct {
		typ, owner, who, what, mod, dur string
		rec                             bool
	}{
		{"Inbound", "9001", contact, "", "", "01:35", true},
		{"Inbound", "9003", "", lead, "Leads", "01:01", false},
		{"Missed", "9009", "", "", "", "", false},
		{"Outbound", "9002", contact, "", "", "75:00", false},
		{"Inbound", "9003", "", "", "", "", true},
		{"Outbound", "9003", "", "", "", "00:00", false},
	}
	for i, w := range want {
		r, ok := got[ids[i]]
		if !ok {
			t.Fatalf("call %d (%s) not logged", i, ids[i])
		}
		if r["Call_Type"] != w.typ || ownerOf(r) != w.owner {
			t.Errorf("call %d: type %v owner %v, want %s %s", i, r["Call_Type"], ownerOf(r), w.typ, w.owner)
		}
		if who, _ := r["Who_Id"].(map[string]any); (who == nil) != (w.who == "") || who != nil && who["id"] != w.who {
			t.Errorf("call %d: Who_Id %v, want %q", i, r["Who_Id"], w.who)
		}
		if what, _ := r["What_Id"].(map[string]any); (what == nil) != (w.what == "") || what != nil && (what["id"] != w.what || r["$se_module"] != w.mod) {
			t.Errorf("call %d: What_Id %v %v, want %q %q", i, r["What_Id"], r["$se_module"], w.what, w.mod)
		}
		if w.dur == "" && w.typ != "Missed" {
			w.dur = mmss(ended[ids[i]].TalkSeconds)
		}
		if d, _ := r["Call_Duration"].(string); d != w.dur {
			t.Errorf("call %d: duration %q, want %q", i, d, w.dur)
		}
		st, _ := r["Call_Start_Time"].(string)
		if ts, err := time.Parse(time.RFC3339, st); err != nil || !strings.HasSuffix(st, "+00:00") || ts.Before(t0) || ts.After(t0.Add(2*time.Hour)) {
			t.Errorf("call %d: start %q", i, st)
		}
		d, _ := r["Description"].(string)
		if strings.Contains(d, "/recordings/") != w.rec || !strings.Contains(d, ids[i]) {
			t.Errorf("call %d: description %q (recording link wanted: %v)", i, d, w.rec)
		}
	}
	// The recording after the hang-up was waited for: no update request.
	if n := len(e.sim.Requests("PUT /crm/v8/Calls")); n != 0 {
		t.Errorf("%d updates; the recording should have been in the insert", n)
	}
	// Everything in batches: fewer insert requests than calls.
	if n := len(e.sim.Requests("POST /crm/v8/Calls")); n >= len(ids) {
		t.Logf("%d insert requests for %d calls (batches fill only with concurrent handlers)", n, len(ids))
	}
	// Redelivering everything changes nothing.
	if dead := e.deliver(evs); len(dead) > 0 {
		t.Fatal(dead)
	}
	if n := len(e.sim.Records(org, "Calls")); n != len(ids) {
		t.Fatalf("redelivery: %d records, want %d", n, len(ids))
	}
}

func TestRESTRecordingArrivesLate(t *testing.T) {
	e := newEnv(t, envOpt{sink: func(o *SinkOptions) { o.RecordingWait = -1 }})
	evs := script(callgen.Call{Scenario: callgen.InboundAnswered, External: "+4930111111", Agents: []string{"1001"}, Recording: callgen.RecordingAfterEnd})
	if evs[len(evs)-1].Type != events.Recording {
		t.Fatalf("last event %s, want recording", evs[len(evs)-1].Type)
	}
	if dead := e.deliver(evs); len(dead) > 0 {
		t.Fatal(dead)
	}
	recs := e.sim.Records(org, "Calls")
	if len(recs) != 1 || !strings.Contains(recs[0]["Description"].(string), "https://pbx.example.com/recordings/") {
		t.Fatalf("records = %v", recs)
	}
	if n := len(e.sim.Requests("PUT /crm/v8/Calls")); n != 1 {
		t.Fatalf("%d updates, want 1", n)
	}
}

func TestRESTNoDuplicatesUnderFaults(t *testing.T) {
	for _, f := range []zohosim.Fault{
		{Match: "POST /crm/v8/Calls", Count: 3, Status: 500},
		{Match: "POST /crm/v8/Calls", Count: 3, Status: 502, After: true},
		{Match: "POST /crm/v8/Calls", Count: 2, Hang: true, After: true},
		{Match: "POST /crm/v8/Calls", Count: 2, Hang: true},
		{Match: "POST /crm/v8/Calls", Count: 3, Status: 429},
		{Match: "GET /crm/v8/Contacts/search", Count: 2, Status: 503},
		{Match: "POST /crm/v8/coql", Count: 1, Status: 500},
	} {
		t.Run(fmt.Sprintf("%s-%d-after=%v-hang=%v", strings.Fields(f.Match)[1], f.Status, f.After, f.Hang), func(t *testing.T) {
			e := newEnv(t, envOpt{client: func(o *Options) { o.Timeout = 300 * time.Millisecond }})
			e.sim.Inject(f)
			if f.Match == "POST /crm/v8/coql" { // the check after an ambiguous failure fails too
				e.sim.Inject(zohosim.Fault{Match: "POST /crm/v8/Calls", Count: 1, Status: 500, After: true})
			}
			var calls []callgen.Call
			for i := range 5 {
				calls = append(calls, callInbound(fmt.Sprintf("+49301000%02d", i), "1001"))
			}
			evs := script(calls...)
			if dead := e.deliver(evs); len(dead) > 0 {
				t.Fatal(dead)
			}
			recs := e.sim.Records(org, "Calls")
			if len(recs) != 5 || len(byCallID(recs)) != 5 {
				t.Fatalf("%d records for 5 calls", len(recs))
			}
		})
	}
}

func TestRESTConcurrentHandlersBatch(t *testing.T) {
	e := newEnv(t, envOpt{sink: func(o *SinkOptions) { o.BatchDelay = 200 * time.Millisecond }})
	var calls []callgen.Call
	for i := range 40 {
		calls = append(calls, callInbound(fmt.Sprintf("+49302000%02d", i), "1002"))
	}
	evs := script(calls...)
	// One worker per call, as JetStream consumers with enough concurrency.
	perCall := map[string][]events.Call{}
	for _, ev := range evs {
		perCall[ev.CallID] = append(perCall[ev.CallID], ev)
	}
	var wg sync.WaitGroup
	for _, evs := range perCall {
		wg.Go(func() {
			for _, ev := range evs {
				for i := 0; ; i++ {
					err := e.sink.Handle(e.ctx, ev)
					if err == nil {
						break
					}
					if i > 50 {
						t.Errorf("call %s: %v", ev.CallID, err)
						return
					}
					time.Sleep(10 * time.Millisecond)
				}
			}
		})
	}
	wg.Wait()
	if n := len(e.sim.Records(org, "Calls")); n != 40 {
		t.Fatalf("%d records, want 40", n)
	}
	if n := len(e.sim.Requests("POST /crm/v8/Calls")); n > 3 {
		t.Errorf("%d insert requests for 40 concurrent calls; want batches", n)
	}
}

func TestPhoneBridgeRingGroup(t *testing.T) {
	for _, tc := range []struct {
		loser       string
		wantRecords int
	}{{LoserNone, 1}, {LoserMissed, 3}} {
		t.Run(tc.loser, func(t *testing.T) {
			e := newEnv(t, envOpt{mode: store.ModePhoneBridge, sink: func(o *SinkOptions) { o.LoserState = tc.loser }})
			evs := script(callgen.Call{Scenario: callgen.InboundRingGroup, External: "+4930222222", DID: "+4930999000",
				Agents: []string{"1001", "1002", "1003"}, Winner: 1, Talk: 42 * time.Second, Recording: callgen.RecordingAfterEnd})
			if dead := e.deliver(evs); len(dead) > 0 {
				t.Fatal(dead)
			}
			ns := e.sim.Notifications(org)
			byState := map[string][]string{}
			ids := map[string]bool{}
			for _, n := range ns {
				byState[n.Get("state")] = append(byState[n.Get("state")], n.Get("zohouser"))
				ids[n.Get("id")] = true
				if n.Get("type") != "received" || n.Get("from") != "+4930222222" || n.Get("to") != "+4930999000" {
					t.Errorf("notify %v", n)
				}
			}
			if len(byState["ringing"]) != 3 || strings.Join(byState["answered"], ",") != "pb-1002" || strings.Join(byState["ended"], ",") != "pb-1002" {
				t.Fatalf("states = %v", byState)
			}
			if len(ids) != 1 {
				t.Errorf("%d ids for one call", len(ids))
			}
			if tc.loser == LoserMissed && len(byState["missed"]) != 2 {
				t.Errorf("losers got %v", byState["missed"])
			}
			for _, n := range ns {
				if n.Get("state") == "ended" {
					if n.Get("duration") != "42" || !strings.HasPrefix(n.Get("voiceuri"), "https://pbx.example.com/recordings/") {
						t.Errorf("ended = %v", n)
					}
					if _, err := time.Parse("2006-01-02 15:04:05", n.Get("start_time")); err != nil || n.Get("start_time") != StartTime(t0) && !strings.HasPrefix(n.Get("start_time"), t0.Format("2006-01-02 15:04")) {
						t.Errorf("start_time %q, want UTC near %s", n.Get("start_time"), StartTime(t0))
					}
				}
			}
			// The "+" went over the wire encoded.
			for _, r := range e.sim.Requests("POST /phonebridge/v3/callnotify") {
				if strings.Contains(r.Form.Get("from"), " ") {
					t.Fatal("+ sent unencoded")
				}
			}
			if n := len(e.sim.Records(org, "Calls")); n != tc.wantRecords {
				t.Fatalf("%d Calls logged by Zoho, want %d", n, tc.wantRecords)
			}
			if dead := e.deliver(evs); len(dead) > 0 { // redelivery
				t.Fatal(dead)
			}
			if n := len(e.sim.Records(org, "Calls")); n != tc.wantRecords {
				t.Fatalf("after redelivery %d Calls, want %d", n, tc.wantRecords)
			}
		})
	}
}

func TestPhoneBridgeTransferAndOutbound(t *testing.T) {
	e := newEnv(t, envOpt{mode: store.ModePhoneBridge})
	evs := script(
		callgen.Call{Scenario: callgen.BlindTransfer, External: "+4930444444", Agents: []string{"1001", "1003"}},
		callgen.Call{Scenario: callgen.OutboundNoAnswer, External: "+4930555555", Agents: []string{"1002"}},
	)
	if dead := e.deliver(evs); len(dead) > 0 {
		t.Fatal(dead)
	}
	var transferred, unattended bool
	for _, n := range e.sim.Notifications(org) {
		if n.Get("transferredcallid") != "" && n.Get("state") == "ringing" && n.Get("zohouser") == "pb-1003" {
			transferred = true
		}
		if n.Get("type") == "dialed" && n.Get("state") == "noanswer" && n.Get("to") == "+4930555555" && n.Get("zohouser") == "pb-1002" {
			unattended = true
		}
	}
	if !transferred || !unattended {
		t.Fatalf("transferred pop %v, unattended outgoing %v: %v", transferred, unattended, e.sim.Notifications(org))
	}
	if n := len(e.sim.Records(org, "Calls")); n != 2 {
		t.Fatalf("%d logs for 2 calls", n)
	}
}

func TestPhoneBridgeMissedFallback(t *testing.T) {
	for _, tc := range []struct {
		strict   bool
		fallback string
		state    string
		dead     bool
	}{
		{false, FallbackAuto, "missed", false},
		{true, FallbackAuto, "ended", false},
		{false, FallbackAlways, "ended", false},
		{true, FallbackNever, "", true},
	} {
		t.Run(fmt.Sprintf("strict=%v/%s", tc.strict, tc.fallback), func(t *testing.T) {
			e := newEnv(t, envOpt{mode: store.ModePhoneBridge, sim: zohosim.Options{StrictStates: tc.strict},
				sink: func(o *SinkOptions) { o.Fallback = tc.fallback }})
			missed := callgen.Call{Scenario: callgen.InboundMissed, External: "+4930333333", Agents: []string{"1001", "1002"}}
			dead := e.deliver(script(missed, missed))
			if (len(dead) > 0) != tc.dead {
				t.Fatalf("dead letters %v", dead)
			}
			if tc.dead {
				return
			}
			var terminal []string
			for _, n := range e.sim.Notifications(org) {
				if s := n.Get("state"); s != "ringing" {
					terminal = append(terminal, s+"/"+n.Get("duration")+"/"+n.Get("zohouser"))
				}
			}
			want := tc.state + "//pb-1001"
			if tc.state == "ended" {
				want = "ended/0/pb-1001"
			}
			if len(terminal) != 2 || terminal[0] != want || terminal[1] != want {
				t.Fatalf("terminal states %v, want 2 × %s", terminal, want)
			}
			// Detected once: the second call went straight to ended.
			rejected := 0
			for _, r := range e.sim.Requests("POST /phonebridge/v3/callnotify") {
				if r.Status == 400 {
					rejected++
				}
			}
			if tc.strict && rejected != 1 {
				t.Errorf("%d rejected notifies, want 1", rejected)
			}
		})
	}
}

func TestNeverBothModes(t *testing.T) {
	e := newEnv(t, envOpt{mode: store.ModePhoneBridge})
	evs := script(callInbound("+4930111111", "1001"))
	if dead := e.deliver(evs); len(dead) > 0 {
		t.Fatal(dead)
	}
	tn, _ := e.st.Tenant(e.ctx, "acme")
	tn.Settings.Mode = store.ModeREST
	e.st.putTenant(tn)
	if dead := e.deliver(evs); len(dead) > 0 {
		t.Fatal(dead)
	}
	if n := len(e.sim.Requests("POST /crm/v8/Calls")); n != 0 {
		t.Fatalf("a call logged by PhoneBridge was inserted by REST too")
	}
}

func TestPhoneBridgeUsersAndRegistration(t *testing.T) {
	e := newEnv(t, envOpt{mode: store.ModePhoneBridge})
	if err := e.c.Integrate(e.ctx, "acme", true); err != nil {
		t.Fatal(err)
	}
	us, err := e.c.Users(e.ctx, "acme")
	if err != nil || len(us) != 4 || us[1].ZohoUser != "pb-1002" || us[1].CRMUserID != "9002" {
		t.Fatalf("Users = %+v, %v", us, err)
	}
	srv := newDialTarget(t)
	secret := NewSecret()
	if err := e.c.RegisterUser(e.ctx, "acme", Registration{ZohoUser: "pb-1002", ClickToDial: srv.url, Secret: secret,
		CallControl:   map[string]string{"answeruri": srv.url + "/answer", "hungupuri": srv.url + "/hangup"},
		ClickToDialEx: map[string]string{"extension": "1002"}}); err != nil {
		t.Fatal(err)
	}
	code, err := e.sim.ClickToDial(e.ctx, org, "pb-1002", "+4930777777")
	if err != nil || code != 200 {
		t.Fatalf("click-to-dial = %d, %v", code, err)
	}
	got := srv.last()
	if got.Get("tonumber") != "+4930777777" || got.Get("ringside_auth") != secret || got.Get("extension") != "1002" {
		t.Fatalf("Zoho called click-to-dial with %v", got)
	}
	if err := e.c.ClickToDialError(e.ctx, "acme", "pb-1002", "busy", "1002", "+4930777777", "Line busy"); err != nil {
		t.Fatal(err)
	}
	if err := e.c.UnregisterUser(e.ctx, "acme", "pb-1002"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.sim.ClickToDial(e.ctx, org, "pb-1002", "+4930777777"); err == nil {
		t.Fatal("click-to-dial still registered after unregister")
	}
	if err := e.c.RegisterUser(e.ctx, "acme", Registration{ZohoUser: "nobody", ClickToDial: srv.url, Secret: "x"}); err == nil {
		t.Fatal("unknown zohouser accepted")
	}
}

// TestRESTCheckMatchesTheExactCallID: the check after an ambiguous failure
// finds records by a like on the call id, which also matches longer ids
// (….4 and ….43); only the record of the call itself counts.
func TestRESTCheckMatchesTheExactCallID(t *testing.T) {
	e := newEnv(t, envOpt{})
	evs := script(callInbound("+4930500001", "1001"))
	id := evs[0].CallID
	longer := e.sim.AddRecord(org, "Calls", zohosim.Record{"Subject": "x", "Call_Type": "Inbound",
		"Description": "Ringside call " + id + "3\nDisposition: answered"})
	if err := e.st.PutRecord(e.ctx, tryKey("acme", id), tryUnknown, time.Hour); err != nil {
		t.Fatal(err)
	}
	if dead := e.deliver(evs); len(dead) > 0 {
		t.Fatal(dead)
	}
	recs := byCallID(e.sim.Records(org, "Calls"))
	if r, ok := recs[id]; !ok || r["id"] == longer {
		t.Fatalf("call %s not logged on its own: %v", id, recs)
	}
	if len(e.sim.Requests("POST /crm/v8/coql")) == 0 {
		t.Error("no check before inserting again")
	}
}
