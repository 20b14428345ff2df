package integration

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ringside/ringside/adapters/natskv"
	"github.com/ringside/ringside/adapters/zoho"
	arisim "github.com/ringside/ringside/integration/sim/ari"
	eslsim "github.com/ringside/ringside/integration/sim/esl"
	zohosim "github.com/ringside/ringside/integration/sim/zoho"
	"github.com/ringside/ringside/pkg/events"
	"github.com/ringside/ringside/pkg/store"
)

// screenDeadline is screen.deadline of these daemons (the default), and
// screenMargin what the REST round trips, the event socket and a loaded
// test machine may add to it.
const (
	screenDeadline = 150 * time.Millisecond
	screenMargin   = 350 * time.Millisecond
)

// screenCall plays one screened call at the ARI simulator and waits until
// it ended.
func (w *zohoE2E) screenCall(from string) arisim.Screening {
	w.t.Helper()
	trunk := w.ari.StartScreened(arisim.ScreenedCall{From: from})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sc, err := w.ari.WaitScreened(ctx, trunk)
	if err != nil {
		w.t.Fatalf("screened call from %s: %v", from, err)
	}
	return sc
}

// endedOf waits for the ended event of a screened call.
func (w *zohoE2E) endedOf(sc arisim.Screening) events.Call {
	w.t.Helper()
	id := "pbx-01-" + sc.Trunk
	var e events.Call
	eventually(w.t, 30*time.Second, "the ended event of "+id, func() bool {
		var ok bool
		e, ok = w.endedEvents()[id]
		return ok
	})
	return e
}

// within asserts the call left the application (went on, or was
// rejected) within the deadline (plus margin) after it entered it.
func within(t *testing.T, what string, sc arisim.Screening) {
	t.Helper()
	if sc.Entered.IsZero() || sc.Left.IsZero() {
		t.Fatalf("%s: not screened: %+v", what, sc)
	}
	if d := sc.Left.Sub(sc.Entered); d > screenDeadline+screenMargin {
		t.Errorf("%s: the call waited %v before ringing, want at most %v + %v", what, d, screenDeadline, screenMargin)
	} else {
		t.Logf("%s: added ringing delay %v", what, d)
	}
}

func names(rang []arisim.Rung) []string {
	var out []string
	for _, r := range rang {
		out = append(out, r.Extension+"="+r.Connected.Name)
	}
	return out
}

// apiToken makes an operator login and an API token for it.
func (w *zohoE2E) apiToken() string {
	w.t.Helper()
	if code, out := runIn(w.t, w.env, "operator password\n", "accounts", "add", "-config", w.cfg, "-username", "ops", "-role", "operator"); code != 0 {
		w.t.Fatalf("accounts add: %d\n%s", code, out)
	}
	code, out := runIn(w.t, w.env, "", "tokens", "create", "-config", w.cfg, "-username", "ops")
	tok := regexp.MustCompile(`(?m)^rsk_[A-Za-z0-9_-]{43}$`).FindString(out)
	if code != 0 || tok == "" {
		w.t.Fatalf("tokens create: %d\n%s", code, out)
	}
	return tok
}

// api sends one admin API request.
func (w *zohoE2E) api(token, method, path, body string) (int, map[string]any) {
	w.t.Helper()
	req, _ := http.NewRequest(method, w.base+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return resp.StatusCode, m
}

// TestScreenEndToEnd: `ringside serve` between the ARI simulator and the
// Zoho simulator (REST mode, embedded store), every inbound call screened
// (Stasis(ringside,screen)):
//   - a cold cache: the call rings at once with no name (within the
//     deadline), and the caller is looked up in the background;
//   - a warm cache: the extensions' phones show the CRM name;
//   - a blacklisted caller (added with the CLI): rejected busy before
//     anything rings, its ended event marked, nothing written in Zoho;
//   - owner routing: RINGSIDE_OWNER is the record owner's extension, which
//     rings first, and the call log's description says so;
//   - the blacklist through the admin API;
//   - Ringside down: Stasis() fails, STASISSTATUS=FAILED, the dialplan
//     carries on and the call rings.
func TestScreenEndToEnd(t *testing.T) {
	w := newZohoE2E(t, e2eOpts{mode: store.ModeREST, yaml: "screen:\n  settings_ttl: 100ms\n"})
	owner := w.sim.AddRecord(e2eOrg, "Contacts", zohosim.Record{"Last_Name": "Owner", "Full_Name": "Otto Owner", "Phone": "030 777777",
		"Owner": map[string]any{"id": "9002", "name": "Ben"}})
	const ottoNumber = "+4930777777"

	// Ben (1002) is linked by his CRM user id, as `ringside users link`
	// does in REST mode.
	js, err := jetstream.New(w.nc)
	if err != nil {
		t.Fatal(err)
	}
	st, err := natskv.New(context.Background(), js, "ringside")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := st.Unlink(ctx, "acme", "1002"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Link(ctx, store.Link{Tenant: "acme", Extension: "1002", ZohoUser: "pb-1002", CRMUser: "9002",
		Email: "ben@acme.example", Name: "Ben", Switches: store.Switches{Notifications: true}}); err != nil {
		t.Fatal(err)
	}
	ringside := func(args ...string) string {
		t.Helper()
		code, out := runIn(t, w.env, "", append(args[:2:2], append([]string{"-config", w.cfg}, args[2:]...)...)...)
		if code != 0 {
			t.Fatalf("ringside %v: exit %d\n%s", args, code, out)
		}
		return out
	}
	ringside("tenants", "set", "-tenant", "acme", "-feature", "caller_name=on", "-feature", "owner_routing=on")
	if out := ringside("blacklist", "add", "-tenant", "acme", "-number", "0049 90*"); !strings.Contains(out, "+4990* blacklisted in tenant acme") {
		t.Errorf("blacklist add:\n%s", out)
	}
	if out := ringside("blacklist", "list", "-tenant", "acme"); !strings.Contains(out, "+4990*") || !strings.Contains(out, "rejected: busy") {
		t.Errorf("blacklist list:\n%s", out)
	}
	time.Sleep(200 * time.Millisecond) // screen.settings_ttl

	// Cold cache: rings at once without a name; looked up meanwhile.
	cold := w.screenCall(arisim.Customer)
	within(t, "cold cache", cold)
	if cold.Status != "SUCCESS" || cold.CallerName != "" || cold.Owner != "" || cold.AnsweredBy != "1001" {
		t.Errorf("cold cache: %+v", cold)
	}
	eventually(t, 30*time.Second, "the background lookup", func() bool {
		_, scrape := get(t, w.base+"/metrics")
		return metricSum(scrape, "ringside_screen_refreshes_total", `result="ok"`) >= 1
	})

	// Warm cache: the phones show the CRM name.
	warm := w.screenCall(arisim.Customer)
	within(t, "warm cache", warm)
	if warm.CallerName != "Eva Meyer" || !slices.Equal(names(warm.Rang), []string{"1001=Eva Meyer", "1002=Eva Meyer"}) {
		t.Errorf("warm cache: %+v", warm)
	}
	if e := w.endedOf(warm); e.ExternalName != "Eva Meyer" || e.Screen == nil || e.Screen.CallerName != "Eva Meyer" ||
		e.Screen.Record != "Contacts/"+w.contact || e.Screen.OwnerExtension != "" {
		t.Errorf("warm call's ended event %+v (screen %+v)", e, e.Screen)
	}

	// Blacklisted: rejected busy, nothing in Zoho.
	searches := len(w.sim.Requests(""))
	bl := w.screenCall("+4990012345")
	within(t, "blacklisted", bl)
	if bl.HangupCause != 17 || len(bl.Rang) != 0 || bl.Status != "" {
		t.Errorf("blacklisted call: %+v", bl)
	}
	blEnded := w.endedOf(bl)
	if blEnded.Screen == nil || !blEnded.Screen.Blacklisted || blEnded.Reason != events.ReasonBlacklisted || len(blEnded.Agents) != 0 {
		t.Errorf("blacklisted call's ended event %+v", blEnded)
	}

	// Owner routing: cold first (looked up), then the owner rings first.
	w.screenCall(ottoNumber)
	eventually(t, 30*time.Second, "Otto's background lookup", func() bool {
		_, scrape := get(t, w.base+"/metrics")
		return metricSum(scrape, "ringside_screen_refreshes_total", `result="ok"`) >= 2
	})
	routed := w.screenCall(ottoNumber)
	within(t, "owner routing", routed)
	if routed.Owner != "1002" || routed.CallerName != "Otto Owner" || routed.AnsweredBy != "1002" ||
		!slices.Equal(names(routed.Rang), []string{"1002=Otto Owner"}) {
		t.Errorf("owner routing: %+v", routed)
	}
	rEnded := w.endedOf(routed)
	if rEnded.Screen == nil || rEnded.Screen.OwnerExtension != "1002" || rEnded.Screen.Record != "Contacts/"+owner {
		t.Errorf("routed call's ended event screen %+v", rEnded.Screen)
	}
	eventually(t, 30*time.Second, "the routed call's log", func() bool { recs, _ := w.restRecords(); _, ok := recs[rEnded.CallID]; return ok })
	recs, _ := w.restRecords()
	if d, _ := recs[rEnded.CallID]["Description"].(string); !strings.Contains(d, "Routed first to extension 1002, the record owner's") ||
		lookupID(recs[rEnded.CallID]["Who_Id"]) != owner {
		t.Errorf("routed call's log: %v", recs[rEnded.CallID])
	}
	// Every call but the blacklisted one is logged, once.
	eventually(t, 30*time.Second, "4 call logs", func() bool { _, n := w.restRecords(); return n >= 4 })
	time.Sleep(500 * time.Millisecond)
	if recs, n := w.restRecords(); n != 4 || len(recs) != 4 {
		t.Errorf("%d Calls records for 4 logged calls", n)
	} else if _, ok := recs[blEnded.CallID]; ok {
		t.Error("the blacklisted call was logged in Zoho")
	}
	for _, r := range w.sim.Requests("")[searches:] {
		if strings.Contains(string(r.Body), "90012345") || strings.Contains(r.Path+r.Query.Encode(), "90012345") {
			t.Errorf("Zoho was asked about the blacklisted caller: %s %s", r.Path, r.Query)
		}
	}

	// The blacklist through the admin API.
	tok := w.apiToken()
	if code, b := w.api(tok, "POST", "/api/v1/tenants/acme/blacklist", `{"number":"+49 30 555 0100"}`); code != 201 ||
		!slices.Equal(anyStrings(b["entries"]), []string{"+4990*", "+49305550100"}) {
		t.Errorf("POST blacklist: %d %v", code, b)
	}
	if code, b := w.api(tok, "PUT", "/api/v1/tenants/acme/blacklist/reason", `{"reason":"congestion"}`); code != 200 || b["reason"] != "congestion" {
		t.Errorf("PUT reason: %d %v", code, b)
	}
	if code, _ := w.api(tok, "POST", "/api/v1/tenants/acme/blacklist", `{"number":"0301234"}`); code != 400 {
		t.Errorf("POST a national number: %d, want 400", code)
	}
	if code, b := w.api(tok, "DELETE", "/api/v1/tenants/acme/blacklist?number="+url.QueryEscape("+4990*"), ""); code != 200 ||
		!slices.Equal(anyStrings(b["entries"]), []string{"+49305550100"}) {
		t.Errorf("DELETE blacklist: %d %v", code, b)
	}
	if code, b := w.api(tok, "GET", "/api/v1/tenants/acme/blacklist", ""); code != 200 || b["reason"] != "congestion" {
		t.Errorf("GET blacklist: %d %v", code, b)
	}
	time.Sleep(200 * time.Millisecond)
	if cg := w.screenCall("+49305550100"); cg.HangupCause != 34 {
		t.Errorf("blacklisted with reason congestion: cause %d, want 34", cg.HangupCause)
	}
	if ok := w.screenCall("+4990012345"); ok.Status != "SUCCESS" || ok.HangupCause != 0 {
		t.Errorf("a caller taken off the blacklist: %+v", ok)
	}
	_, scrape := get(t, w.base+"/metrics")
	for _, o := range []string{"blacklisted", "named", "owner", "miss"} {
		if metricSum(scrape, "ringside_screen_calls_total", `outcome="`+o+`"`) == 0 {
			t.Errorf("no screened call counted as %s", o)
		}
	}
	if metricSum(scrape, "ringside_screen_delay_seconds_count") == 0 {
		t.Error("no screening delay observed")
	}

	// Ringside down: Stasis() fails and the dialplan carries on.
	w.stop()
	down := w.screenCall(arisim.Customer)
	if down.Status != "FAILED" || !down.Entered.IsZero() || down.AnsweredBy != "1001" || len(down.Rang) != 2 {
		t.Errorf("Ringside down: %+v", down)
	}
}

func anyStrings(v any) []string {
	var out []string
	s, _ := v.([]any)
	for _, x := range s {
		str, _ := x.(string)
		out = append(out, str)
	}
	return out
}

// TestScreenFreeSWITCHEndToEnd: `ringside serve` on the ESL simulator (no
// Zoho, embedded store): the dialplan fires CUSTOM ringside::screen and
// sleeps 2 s; Ringside ends the sleep within the deadline with the caller's
// cached name and owner (the B leg shows the name), or unnamed for a caller
// not in the cache, or refuses a blacklisted caller USER_BUSY (its ended
// event marked); with Ringside down the sleep runs out and the call rings.
func TestScreenFreeSWITCHEndToEnd(t *testing.T) {
	sim, err := eslsim.Start(eslsim.Options{Password: "esl-secret", HeartbeatInterval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	dir := t.TempDir()
	natsAddr := freeAddr(t)
	cfg := filepath.Join(dir, "ringside.yaml")
	yaml := "node_id: pbx-01\ndata_dir: " + dir + "/state\nhttp:\n  listen: 127.0.0.1:0\nnats:\n  listen: " + natsAddr + "\n" +
		"pbx:\n  kind: freeswitch\n  default_tenant: acme\n  tenant: {from: variable, variable: domain_name}\n  freeswitch:\n    address: " + sim.Addr() + "\n" +
		"screen:\n  settings_ttl: 100ms\n"
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"RINGSIDE_LOG_FORMAT=json", "RINGSIDE_PBX_FREESWITCH_PASSWORD=esl-secret", "RINGSIDE_NATS_TOKEN=nats-secret"}
	p := start(t, env, "serve", "-config", cfg)
	re := regexp.MustCompile(`"logger":"http","msg":"listening","addr":"([0-9.:]+)"`)
	var base string
	eventually(t, 60*time.Second, "the http address in the log", func() bool {
		if m := re.FindStringSubmatch(p.errOut()); m != nil {
			base = "http://" + m[1]
		}
		return base != ""
	})
	eventually(t, 30*time.Second, "/readyz 200", func() bool { code, _ := get(t, base+"/readyz"); return code == 200 })

	nc, err := nats.Connect("nats://"+natsAddr, nats.Token("nats-secret"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	var mu sync.Mutex
	ended := map[string]events.Call{}
	if _, err := nc.Subscribe(events.Prefix+".*.call.ended", func(m *nats.Msg) {
		var e events.Call
		if json.Unmarshal(m.Data, &e) == nil {
			mu.Lock()
			ended[e.CallID] = e
			mu.Unlock()
		}
	}); err != nil {
		t.Fatal(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	st, err := natskv.New(context.Background(), js, "ringside")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := st.UpsertExtension(ctx, store.Extension{Tenant: "acme", Number: "1002"}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Link(ctx, store.Link{Tenant: "acme", Extension: "1002", ZohoUser: "pb-1002", CRMUser: "9002"}); err != nil {
		t.Fatal(err)
	}
	eva, _ := json.Marshal(zoho.Match{Module: "Contacts", ID: "4711", Name: "Eva Meyer", Owner: "9002"})
	if err := st.PutLookup(ctx, "acme", eslsim.Customer, eva, time.Hour); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"tenants", "set", "-config", cfg, "-tenant", "acme", "-feature", "caller_name=on", "-feature", "owner_routing=on"},
		{"blacklist", "add", "-config", cfg, "-tenant", "acme", "-number", "+4990*"},
	} {
		if code, out := runIn(t, env, "", args...); code != 0 {
			t.Fatalf("ringside %v: %d\n%s", args, code, out)
		}
	}
	time.Sleep(200 * time.Millisecond) // screen.settings_ttl

	call := func(from string, sleep time.Duration) eslsim.Screening {
		t.Helper()
		uuid := sim.StartScreened(eslsim.ScreenedCall{From: from, Sleep: sleep})
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		sc, err := sim.WaitScreened(wctx, uuid)
		if err != nil {
			t.Fatal(err)
		}
		return sc
	}
	quick := func(what string, sc eslsim.Screening) {
		t.Helper()
		if d := sc.Left.Sub(sc.Entered); d > screenDeadline+screenMargin {
			t.Errorf("%s: the call waited %v, want at most %v + %v", what, d, screenDeadline, screenMargin)
		} else {
			t.Logf("%s: added ringing delay %v", what, d)
		}
	}

	warm := call(eslsim.Customer, 2*time.Second)
	quick("warm cache", warm)
	if !warm.Broken || warm.CallerName != "Eva Meyer" || warm.Owner != "1002" || warm.AnsweredBy != "1002" ||
		!slices.Equal(warm.Rang, []eslsim.Rung{{Extension: "1002", CallerIDName: "Eva Meyer"}}) {
		t.Errorf("warm cache: %+v", warm)
	}
	cold := call("+4930555555", 2*time.Second)
	quick("cold cache", cold)
	if !cold.Broken || cold.CallerName != "" || cold.Owner != "" || cold.AnsweredBy != "1001" {
		t.Errorf("cold cache: %+v", cold)
	}
	bl := call("+4990012345", 2*time.Second)
	quick("blacklisted", bl)
	if bl.HangupCause != "USER_BUSY" || len(bl.Rang) != 0 {
		t.Errorf("blacklisted: %+v", bl)
	}
	var blEnded events.Call
	eventually(t, 30*time.Second, "the blacklisted call's ended event", func() bool {
		mu.Lock()
		defer mu.Unlock()
		var ok bool
		blEnded, ok = ended["pbx-01-"+bl.Trunk]
		return ok
	})
	if blEnded.Reason != events.ReasonBlacklisted || blEnded.Screen == nil || !blEnded.Screen.Blacklisted {
		t.Errorf("blacklisted call's ended event %+v", blEnded)
	}
	_, scrape := get(t, base+"/metrics")
	for _, o := range []string{"blacklisted", "owner", "miss"} {
		if metricSum(scrape, "ringside_screen_calls_total", `outcome="`+o+`"`) != 1 {
			t.Errorf("screened calls counted as %s: %v", o, metricSum(scrape, "ringside_screen_calls_total", `outcome="`+o+`"`))
		}
	}

	// Ringside down: the sleep runs out and the call rings.
	p.terminate()
	down := call(eslsim.Customer, 300*time.Millisecond)
	if down.Broken || down.Left.Sub(down.Entered) < 300*time.Millisecond || down.CallerName != "" || down.AnsweredBy != "1001" {
		t.Errorf("Ringside down: %+v", down)
	}
}
