package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ringside/ringside/adapters/natskv"
	"github.com/ringside/ringside/adapters/zoho"
	arisim "github.com/ringside/ringside/integration/sim/ari"
	zohosim "github.com/ringside/ringside/integration/sim/zoho"
	"github.com/ringside/ringside/integration/teststore"
	"github.com/ringside/ringside/pkg/events"
	"github.com/ringside/ringside/pkg/store"
)

// The Zoho org of tenant acme, in the EU data centre: extensions 1001..1003
// are linked to Ana, Ben and Cleo; Boss is the tenant's default user.
const e2eOrg = "org-acme"

var e2eUsers = []zohosim.User{
	{ID: "9001", ZohoUser: "pb-1001", Email: "ana@acme.example", Name: "Ana", Admin: true},
	{ID: "9002", ZohoUser: "pb-1002", Email: "ben@acme.example", Name: "Ben"},
	{ID: "9003", ZohoUser: "pb-1003", Email: "cleo@acme.example", Name: "Cleo"},
	{ID: "9009", ZohoUser: "pb-9", Email: "boss@acme.example", Name: "Boss"},
}

// crmUserOf is the CRM user id of a linked extension.
var crmUserOf = map[string]string{"1001": "9001", "1002": "9002", "1003": "9003"}

// zohoE2E is one end-to-end world: the ARI simulator as the PBX of tenant
// acme, the Zoho simulator, and `ringside serve` between them, on Redis (a
// test prefix) or on the embedded store (reached through nats.listen).
type zohoE2E struct {
	t       *testing.T
	ari     *arisim.Server
	sim     *zohosim.Server
	dir     string
	cfg     string
	env     []string
	natsURL string
	redis   bool
	prefix  string
	contact string // the customer's Contact record

	p    *process
	base string
	nc   *nats.Conn

	mu    sync.Mutex
	ended map[string]events.Call // call id -> its ended event, as published
}

type e2eOpts struct {
	mode  store.ZohoMode
	redis bool
	sim   zohosim.Options
	yaml  string // extra zoho keys (indented under zoho:)
	// listen is http.listen (default 127.0.0.1:0); the OAuth redirect URI
	// needs a known port.
	listen string
	// recordings is where the ARI simulator records and recordings.dirs
	// (default: Asterisk's monitor directory, where no file exists).
	recordings string
}

// recordingKey signs the recording links of the e2e daemons (hex).
var recordingKey = strings.Repeat("cd", 32)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func newZohoE2E(t *testing.T, o e2eOpts) *zohoE2E {
	t.Helper()
	w := &zohoE2E{t: t, dir: t.TempDir(), redis: o.redis, ended: map[string]events.Call{}}
	w.ari = arisim.New(arisim.Options{Username: "ringside", Password: "ari-secret", Tenant: "acme",
		ChannelVars: []string{"CHANNEL(linkedid)", "MIXMONITOR_FILENAME", "TENANT"}, App: "ringside",
		Start: time.Now().UTC().Add(-2 * time.Hour).Truncate(time.Second), RecordingDir: o.recordings})
	if err := w.ari.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.ari.Close)
	w.sim = zohosim.New(o.sim)
	if err := w.sim.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.sim.Close)
	w.sim.AddOrg(e2eOrg, "eu", e2eUsers...)
	w.contact = w.sim.AddRecord(e2eOrg, "Contacts", zohosim.Record{"Last_Name": "Meyer", "Full_Name": "Eva Meyer", "Phone": "030 123456"})

	key := filepath.Join(w.dir, "token.key")
	if err := os.WriteFile(key, []byte(strings.Repeat("ab", 32)), 0o600); err != nil {
		t.Fatal(err)
	}
	recKey := filepath.Join(w.dir, "recordings.key")
	if err := os.WriteFile(recKey, []byte(recordingKey), 0o600); err != nil {
		t.Fatal(err)
	}
	recordings := "recordings:\n  key_file: " + recKey + "\n"
	if o.recordings != "" {
		recordings += "  dirs: " + o.recordings + "\n"
	}
	natsAddr := freeAddr(t)
	w.natsURL = "nats://" + natsAddr
	store := ""
	if o.redis {
		w.prefix = teststore.Prefix(t)
		store = "redis:\n  addr: " + teststore.RedisAddr + "\n  prefix: \"" + w.prefix + "\"\n"
	}
	if o.listen == "" {
		o.listen = "127.0.0.1:0"
	}
	yaml := "node_id: pbx-01\ndata_dir: " + w.dir + "/state\nhttp:\n  listen: " + o.listen + "\n" +
		"pbx:\n  kind: asterisk\n  default_tenant: acme\n  tenant: {from: variable, variable: TENANT}\n  asterisk:\n    url: " + w.ari.URL() + "\n" +
		"nats:\n  listen: " + natsAddr + "\n" + store + recordings +
		"zoho:\n  accounts_url: " + w.sim.AccountsURL("us") + "\n  api_url: " + w.sim.APIDomain("us") + "\n" +
		"  client_id: " + w.sim.ClientID() + "\n  token_key_file: " + key + "\n  timeout: 500ms\n  paused_retry: 1s\n" +
		"  recording_wait: 10s\n  rest: {batch_delay: 200ms}\n" + o.yaml
	w.cfg = filepath.Join(w.dir, "ringside.yaml")
	if err := os.WriteFile(w.cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	w.env = []string{"RINGSIDE_LOG_FORMAT=json", "RINGSIDE_PBX_ASTERISK_PASSWORD=ari-secret",
		"RINGSIDE_ZOHO_CLIENT_SECRET=" + w.sim.ClientSecret(), "RINGSIDE_NATS_TOKEN=nats-secret"}

	// Connect the tenant as an admin would: a Self Client refresh token of
	// the EU data centre, from a file; the mode and region with it.
	w.connect(string(o.mode))
	if o.redis {
		st, _ := teststore.RedisAt(t, w.prefix)
		w.seed(st)
	}
	w.serve()
	if !o.redis {
		js, err := jetstream.New(w.nc)
		if err != nil {
			t.Fatal(err)
		}
		st, err := natskv.New(context.Background(), js, "ringside")
		if err != nil {
			t.Fatal(err)
		}
		w.seed(st)
	}
	return w
}

// connect runs `ringside zoho connect -import-token @FILE` with a fresh
// Self Client token; it works whether or not the daemon runs.
func (w *zohoE2E) connect(mode string) {
	w.t.Helper()
	rt := w.sim.SelfClientToken(e2eOrg, "ZohoCRM.modules.ALL,ZohoCRM.users.READ,ZohoCRM.coql.READ,PhoneBridge.call.log")
	file := filepath.Join(w.dir, "refresh-token")
	if err := os.WriteFile(file, []byte(rt+"\n"), 0o600); err != nil {
		w.t.Fatal(err)
	}
	args := []string{"zoho", "connect", "-config", w.cfg, "-import-token", "@" + file,
		"-accounts-url", w.sim.AccountsURL("eu"), "-region", "de"}
	if mode != "" {
		args = append(args, "-mode", mode)
	}
	p := start(w.t, w.env, args...)
	if code := p.waitExit(60 * time.Second); code != 0 {
		w.t.Fatalf("zoho connect: exit %d\n%s%s", code, p.out(), p.errOut())
	}
	out := p.out() + p.errOut()
	if !strings.Contains(out, "connected") || !strings.Contains(out, "/api/eu") {
		w.t.Errorf("zoho connect output lacks the connection and its data centre:\n%s", out)
	}
	if strings.Contains(out, rt) || strings.Contains(out, w.sim.ClientSecret()) {
		w.t.Error("zoho connect printed a secret")
	}
}

// seed links the extensions to their Zoho users and sets the default user.
func (w *zohoE2E) seed(st store.Store) {
	w.t.Helper()
	ctx := context.Background()
	for i, ext := range []string{"1001", "1002", "1003"} {
		if _, err := st.UpsertExtension(ctx, store.Extension{Tenant: "acme", Number: ext, Device: "PJSIP/" + ext}); err != nil {
			w.t.Fatal(err)
		}
		if _, err := st.Link(ctx, store.Link{Tenant: "acme", Extension: ext, ZohoUser: e2eUsers[i].ZohoUser,
			Email: e2eUsers[i].Email, Name: e2eUsers[i].Name, Switches: store.Switches{Notifications: true}}); err != nil {
			w.t.Fatal(err)
		}
	}
	for range 5 {
		t, err := st.Tenant(ctx, "acme")
		if err != nil {
			w.t.Fatal(err)
		}
		t.Settings.DefaultUser = "9009"
		if _, err = st.UpdateTenant(ctx, t); err == nil {
			return
		}
	}
	w.t.Fatal("cannot set the default user")
}

// serve starts the daemon, waits until it is ready and listens to the
// ended events it publishes.
func (w *zohoE2E) serve() {
	w.t.Helper()
	w.p = start(w.t, w.env, "serve", "-config", w.cfg)
	re := regexp.MustCompile(`"logger":"http","msg":"listening","addr":"([0-9.:]+)"`)
	eventually(w.t, 60*time.Second, "the http address in the log", func() bool {
		m := re.FindStringSubmatch(w.p.errOut())
		if m != nil {
			w.base = "http://" + m[1]
		}
		return m != nil
	})
	eventually(w.t, 30*time.Second, "/readyz 200", func() bool { code, _ := get(w.t, w.base+"/readyz"); return code == 200 })
	nc, err := nats.Connect(w.natsURL, nats.Token("nats-secret"))
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(nc.Close)
	w.nc = nc
	// The ended event, with the recording of a later recording event.
	if _, err := nc.Subscribe(events.Prefix+".*.call.*", func(m *nats.Msg) {
		var e events.Call
		if json.Unmarshal(m.Data, &e) != nil || e.Type != events.Ended && e.Type != events.Recording {
			return
		}
		w.mu.Lock()
		defer w.mu.Unlock()
		if old, ok := w.ended[e.CallID]; ok && e.Type == events.Recording {
			old.Recording = e.Recording
			e = old
		}
		if e.Type == events.Ended {
			w.ended[e.CallID] = e
		}
	}); err != nil {
		w.t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		w.t.Fatal(err)
	}
}

func (w *zohoE2E) stop() {
	w.t.Helper()
	w.p.terminate()
	logs := w.p.errOut() + w.p.out()
	for _, secret := range []string{w.sim.ClientSecret(), "ari-secret", "nats-secret", strings.Repeat("ab", 32), recordingKey} {
		if strings.Contains(logs, secret) {
			w.t.Errorf("a secret reached the log: %q", secret)
		}
	}
	// The simulator's grant codes, refresh and access tokens.
	if tok := regexp.MustCompile(`100[04]\.[0-9a-f]{16}\.[0-9a-f]{16}`).FindString(logs); tok != "" {
		w.t.Errorf("a Zoho token reached the log: %s", tok)
	}
}

// play plays ARI scripts and waits until each call has ended.
func (w *zohoE2E) play(names ...string) {
	w.t.Helper()
	for _, n := range names {
		before := w.endedCount()
		if err := w.ari.Play(n); err != nil {
			w.t.Fatal(err)
		}
		eventually(w.t, 30*time.Second, n+" to end", func() bool { return w.endedCount() > before })
	}
}

func (w *zohoE2E) endedCount() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.ended)
}

func (w *zohoE2E) endedEvents() map[string]events.Call {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make(map[string]events.Call, len(w.ended))
	for k, v := range w.ended {
		out[k] = v
	}
	return out
}

// calls returns the Calls records by the PBX call id in their description
// (REST mode).
func (w *zohoE2E) restRecords() (map[string]zohosim.Record, int) {
	recs := w.sim.Records(e2eOrg, "Calls")
	out := map[string]zohosim.Record{}
	for _, r := range recs {
		d, _ := r["Description"].(string)
		id, _, _ := strings.Cut(strings.TrimPrefix(d, "Ringside call "), "\n")
		out[id] = r
	}
	return out, len(recs)
}

func mmss(sec int) string { return fmt.Sprintf("%02d:%02d", sec/60, sec%60) }

func lookupID(v any) string {
	if m, ok := v.(map[string]any); ok {
		s, _ := m["id"].(string)
		return s
	}
	return ""
}

// checkREST asserts one Calls record per ended external call, with the
// right type, owner, linked record, time with offset, duration and
// recording link, and no other record.
func (w *zohoE2E) checkREST() {
	w.t.Helper()
	ended := w.endedEvents()
	external := 0
	for _, e := range ended {
		if e.Direction != events.Internal {
			external++
		}
	}
	var recs map[string]zohosim.Record
	var n int
	eventually(w.t, 30*time.Second, fmt.Sprintf("%d Calls records", external), func() bool {
		recs, n = w.restRecords()
		return n >= external
	})
	time.Sleep(500 * time.Millisecond) // a duplicate would come now
	if recs, n = w.restRecords(); n != external || len(recs) != external {
		w.t.Fatalf("%d Calls records (%d distinct calls) for %d external calls", n, len(recs), external)
	}
	for id, e := range ended {
		if e.Direction == events.Internal {
			continue
		}
		r, ok := recs[id]
		if !ok {
			w.t.Errorf("call %s (%s %s) not logged", id, e.Direction, e.Disposition)
			continue
		}
		typ, owner := "Inbound", crmUserOf[e.AnsweredBy]
		switch {
		case e.Direction == events.Outbound:
			typ, owner = "Outbound", crmUserOf[e.Caller]
		case e.Disposition != events.DispositionAnswered:
			typ, owner = "Missed", "9009"
			if len(e.Agents) == 1 {
				owner = crmUserOf[e.Agents[0]]
			}
		}
		if r["Call_Type"] != typ || lookupID(r["Owner"]) != owner {
			w.t.Errorf("call %s: type %v owner %v, want %s %s", id, r["Call_Type"], r["Owner"], typ, owner)
		}
		if lookupID(r["Who_Id"]) != w.contact {
			w.t.Errorf("call %s: Who_Id %v, want the contact %s", id, r["Who_Id"], w.contact)
		}
		if want := e.StartedAt.UTC().Format("2006-01-02T15:04:05") + "+00:00"; r["Call_Start_Time"] != want {
			w.t.Errorf("call %s: start %v, want %s", id, r["Call_Start_Time"], want)
		}
		if typ != "Missed" {
			if d := mmss(e.TalkSeconds); r["Call_Duration"] != d || e.TalkSeconds == 0 && e.Disposition == events.DispositionAnswered {
				w.t.Errorf("call %s: duration %v, want %s", id, r["Call_Duration"], d)
			}
		}
		desc, _ := r["Description"].(string)
		if e.Recording != "" != strings.Contains(desc, "/recordings/") {
			w.t.Errorf("call %s: recording %q, description %q", id, e.Recording, desc)
		}
	}
}

// TestZohoRESTEndToEnd: calls on the PBX become one Calls record each in
// the tenant's Zoho CRM (REST mode, embedded store): ring group, missed,
// outbound, blind transfer, a recorded call; an internal call is not
// logged; one search credit for the one customer.
func TestZohoRESTEndToEnd(t *testing.T) {
	w := newZohoE2E(t, e2eOpts{mode: store.ModeREST})
	w.play("inbound_answered", "ring_group_one_answers", "inbound_missed", "outbound_answered",
		"blind_transfer", "inbound_recorded", "internal_answered", "outbound_busy")
	w.checkREST()
	ended := w.endedEvents()
	for id, e := range ended {
		if len(e.Transfers) == 1 {
			if r, _ := w.restRecords(); !strings.Contains(r[id]["Description"].(string), "Transferred (blind) from 1001 to 1003") {
				t.Errorf("transferred call's description: %q", r[id]["Description"])
			}
		}
	}
	lookups := 0
	for _, r := range w.sim.Requests("") {
		if strings.HasSuffix(r.Path, "/search") || r.Path == "/crm/v8/coql" && strings.Contains(string(r.Body), "from Contacts") {
			lookups++
		}
	}
	if lookups != 1 {
		t.Errorf("%d lookups for one customer, want 1 (cached)", lookups)
	}
	if n := len(w.sim.Notifications(e2eOrg)); n != 0 {
		t.Errorf("%d PhoneBridge notifications in REST mode", n)
	}
	_, scrape := get(t, w.base+"/metrics")
	if metricSum(scrape, "ringside_zoho_sink_events_total", `mode="rest"`, `result="ok"`) == 0 {
		t.Error("no zoho sink metrics")
	}
	w.stop()
}

// TestZohoPhoneBridgeEndToEnd: in PhoneBridge mode (Redis store) every
// ringing linked user gets a pop, the one who answers the timer, the call
// is logged once by Zoho (with the recording link), and a blind transfer
// continues under a new id that names the previous one.
func TestZohoPhoneBridgeEndToEnd(t *testing.T) {
	w := newZohoE2E(t, e2eOpts{mode: store.ModePhoneBridge, redis: true})
	w.play("ring_group_one_answers")
	var call events.Call
	for _, e := range w.endedEvents() {
		call = e
	}
	id := zoho.PhoneBridgeCallID(call.CallID, 0)
	eventually(t, 30*time.Second, "the call logged by PhoneBridge", func() bool { return len(w.sim.Records(e2eOrg, "Calls")) == 1 })
	pops := map[string][]string{}
	for _, n := range w.sim.Notifications(e2eOrg) {
		if n.Get("id") != id {
			t.Errorf("notification for id %s, want %s", n.Get("id"), id)
		}
		if n.Get("type") != "received" || n.Get("from") != arisim.Customer || n.Get("to") != arisim.DID {
			t.Errorf("notification %v: want received from %s to %s", n, arisim.Customer, arisim.DID)
		}
		pops[n.Get("zohouser")] = append(pops[n.Get("zohouser")], n.Get("state"))
	}
	want := map[string][]string{"pb-1001": {"ringing"}, "pb-1002": {"ringing", "answered", "ended"}, "pb-1003": {"ringing"}}
	if fmt.Sprint(pops) != fmt.Sprint(want) {
		t.Errorf("pops %v, want %v", pops, want)
	}
	rec := w.sim.Records(e2eOrg, "Calls")[0]
	if rec["PhoneBridge_User"] != "pb-1002" || rec["Call_Duration"] != mmss(call.TalkSeconds) ||
		rec["Call_Start_Time"] != call.StartedAt.UTC().Format(time.RFC3339) {
		t.Errorf("PhoneBridge log %v; call %+v", rec, call)
	}
	for _, n := range w.sim.Notifications(e2eOrg) {
		if n.Get("state") == "ended" && n.Get("start_time") != call.StartedAt.UTC().Format(zohosim.StartTimeLayout) {
			t.Errorf("start_time %q, want UTC %s", n.Get("start_time"), call.StartedAt.UTC())
		}
	}

	// A blind transfer: 1001 answers and transfers to 1003; the call goes on
	// under a new id naming the first; one log, by Cleo.
	w.play("blind_transfer")
	var tr events.Call
	for _, e := range w.endedEvents() {
		if len(e.Transfers) > 0 {
			tr = e
		}
	}
	first, second := zoho.PhoneBridgeCallID(tr.CallID, 0), zoho.PhoneBridgeCallID(tr.CallID, 1)
	eventually(t, 30*time.Second, "the transferred call logged", func() bool { return len(w.sim.Records(e2eOrg, "Calls")) == 2 })
	var seen []string
	for _, n := range w.sim.Notifications(e2eOrg) {
		switch n.Get("id") {
		case first:
			seen = append(seen, n.Get("zohouser")+":"+n.Get("state"))
		case second:
			if n.Get("transferredcallid") != first {
				t.Errorf("second part %v lacks transferredcallid %s", n, first)
			}
			seen = append(seen, n.Get("zohouser")+":"+n.Get("state")+"*")
		}
	}
	if s := strings.Join(seen, " "); !strings.Contains(s, "pb-1001:ringing pb-1001:answered") || !strings.Contains(s, "pb-1003:ended*") ||
		strings.Contains(s, "pb-1001:ended") {
		t.Errorf("transfer notifications: %s", s)
	}

	// A recorded call carries its recording link as voiceuri.
	w.play("inbound_recorded")
	eventually(t, 30*time.Second, "the recorded call logged", func() bool { return len(w.sim.Records(e2eOrg, "Calls")) == 3 })
	var voice int
	for _, r := range w.sim.Records(e2eOrg, "Calls") {
		if u, _ := r["Voice_Recording__s"].(string); strings.Contains(u, "/recordings/") {
			voice++
		}
	}
	if voice != 1 {
		t.Errorf("%d logs with a recording link, want 1", voice)
	}
	w.stop()
}

// TestZohoNoDuplicatesUnderFaults: 5xx before and after the write, 429
// and timeouts on the Calls inserts, 5xx on COQL: every call is logged
// exactly once.
func TestZohoNoDuplicatesUnderFaults(t *testing.T) {
	w := newZohoE2E(t, e2eOpts{mode: store.ModeREST, redis: true})
	for _, f := range []zohosim.Fault{
		{Match: "POST /crm/v8/coql", Count: 2, Status: 503}, // lookups and duplicate checks
		{Match: "POST /crm/v8/Calls", Count: 2, Status: 500},
		{Match: "POST /crm/v8/Calls", Count: 2, Status: 502, After: true},
		{Match: "POST /crm/v8/Calls", Count: 2, Status: 429},
		{Match: "POST /crm/v8/Calls", Count: 1, Hang: true, After: true},
		{Match: "POST /crm/v8/Calls", Count: 1, Hang: true},
	} {
		w.sim.Inject(f)
	}
	// Calls until every fault has hit (the inserts are batched, so a fault
	// may hit several calls at once), then the log must be exact.
	faulted := func() int {
		n := 0
		for _, r := range w.sim.Requests("") {
			if r.Fault != "" {
				n++
			}
		}
		return n
	}
	scripts := []string{"inbound_answered", "ring_group_one_answers", "inbound_missed", "outbound_answered", "blind_transfer", "hunt_second_answers"}
	for i := 0; faulted() < 10 && i < 30; i++ {
		w.play(scripts[i%len(scripts)])
		if i%len(scripts) == len(scripts)-1 {
			_, _ = w.restRecords()
			time.Sleep(time.Second) // let retries run into the next faults
		}
	}
	if n := faulted(); n != 10 {
		t.Errorf("%d requests hit a fault, want all 10", n)
	}
	w.checkREST()
	w.stop()
}

// TestZohoRevokedTenantReconnects: a tenant whose refresh token is revoked
// shows on /readyz, its calls wait, and they are logged once an admin
// reconnects it with `ringside zoho connect` while the daemon runs (on the
// embedded store, through nats.listen).
func TestZohoRevokedTenantReconnects(t *testing.T) {
	w := newZohoE2E(t, e2eOpts{mode: store.ModeREST})
	w.play("inbound_answered")
	eventually(t, 30*time.Second, "the first call logged", func() bool { _, n := w.restRecords(); return n == 1 })

	w.sim.RevokeOrgTokens(e2eOrg)
	w.play("ring_group_one_answers")
	var body string
	eventually(t, 30*time.Second, "readiness to name the revoked tenant", func() bool {
		var code int
		code, body = get(t, w.base+"/readyz")
		return code == 503 && strings.Contains(body, "zoho: tenants disconnected: acme: revoked")
	})
	if strings.Count(body, "\n") != 1 {
		t.Errorf("/readyz = %q, want one line", body)
	}
	_, scrape := get(t, w.base+"/metrics")
	if metricSum(scrape, "ringside_zoho_tenants_disconnected") != 1 {
		t.Error("ringside_zoho_tenants_disconnected is not 1")
	}
	if !strings.Contains(w.p.errOut(), "zoho connection lost") {
		t.Error("no loud log of the lost connection")
	}
	st := start(t, w.env, "zoho", "status", "-config", w.cfg, "-tenant", "acme")
	if code := st.waitExit(30 * time.Second); code != 0 || !strings.Contains(st.out(), "revoked") {
		t.Errorf("zoho status: exit %d\n%s%s", code, st.out(), st.errOut())
	}
	time.Sleep(time.Second)
	if _, n := w.restRecords(); n != 1 {
		t.Fatalf("%d records while disconnected", n)
	}

	w.connect("") // the admin reconnects, the daemon running
	eventually(t, 30*time.Second, "the waiting call logged", func() bool { _, n := w.restRecords(); return n == 2 })
	eventually(t, 30*time.Second, "/readyz 200 again", func() bool { code, _ := get(t, w.base+"/readyz"); return code == 200 })
	w.checkREST()
	w.stop()
}

// TestZohoPhoneBridgeNoDuplicatesUnderFaults: callnotify answered with
// 5xx, 429 or nothing. With ambiguous_terminal: skip (default) a terminal
// state that may have arrived is not sent again; with resend it is, and
// Zoho (here the simulator with DedupeNotify, UNCONFIRMED live) logs an id
// once. Either way every call is logged exactly once.
func TestZohoPhoneBridgeNoDuplicatesUnderFaults(t *testing.T) {
	ended := url.Values{"state": {"ended"}}
	for _, tc := range []struct {
		name   string
		yaml   string
		sim    zohosim.Options
		faults []zohosim.Fault
	}{
		{name: "skip", faults: []zohosim.Fault{ // every ambiguous fault applied the request
			{Match: "POST /phonebridge/v3/callnotify", Form: ended, Count: 1, Status: 502, After: true},
			{Match: "POST /phonebridge/v3/callnotify", Form: ended, Count: 1, Hang: true, After: true},
			{Match: "POST /phonebridge/v3/callnotify", Count: 3, Status: 429},
			{Match: "POST /phonebridge/v3/callnotify", Count: 2, Status: 502, After: true},
		}},
		{name: "resend", yaml: "  phonebridge: {ambiguous_terminal: resend}\n", sim: zohosim.Options{DedupeNotify: true},
			faults: []zohosim.Fault{
				{Match: "POST /phonebridge/v3/callnotify", Form: ended, Count: 1, Status: 500},
				{Match: "POST /phonebridge/v3/callnotify", Form: ended, Count: 1, Status: 502, After: true},
				{Match: "POST /phonebridge/v3/callnotify", Form: ended, Count: 1, Hang: true},
				{Match: "POST /phonebridge/v3/callnotify", Form: ended, Count: 1, Hang: true, After: true},
				{Match: "POST /phonebridge/v3/callnotify", Count: 2, Status: 500},
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newZohoE2E(t, e2eOpts{mode: store.ModePhoneBridge, redis: true, sim: tc.sim, yaml: tc.yaml})
			want := 0
			for _, f := range tc.faults {
				w.sim.Inject(f)
				want += f.Count
			}
			faulted := func() int {
				n := 0
				for _, r := range w.sim.Requests("") {
					if r.Fault != "" {
						n++
					}
				}
				return n
			}
			scripts := []string{"inbound_answered", "inbound_missed", "outbound_answered", "ring_group_one_answers", "blind_transfer"}
			for i := 0; faulted() < want && i < 30; i++ {
				w.play(scripts[i%len(scripts)])
			}
			if n := faulted(); n != want {
				t.Errorf("%d requests hit a fault, want %d", n, want)
			}
			calls := w.endedCount()
			eventually(t, 30*time.Second, fmt.Sprintf("%d PhoneBridge logs", calls), func() bool {
				return len(w.sim.Records(e2eOrg, "Calls")) >= calls
			})
			time.Sleep(time.Second) // a duplicate would come now
			ids := map[string]int{}
			for _, r := range w.sim.Records(e2eOrg, "Calls") {
				ids[fmt.Sprint(r["PhoneBridge_Id"])]++
			}
			if n := len(w.sim.Records(e2eOrg, "Calls")); n != calls || len(ids) != calls {
				t.Errorf("%d PhoneBridge logs (%d ids) for %d calls: %v", n, len(ids), calls, ids)
			}
			terminal := 0 // terminal states Zoho received (a resent one twice)
			for _, n := range w.sim.Notifications(e2eOrg) {
				if s := n.Get("state"); s != "ringing" && s != "answered" {
					terminal++
				}
			}
			switch tc.name {
			case "skip":
				if !strings.Contains(w.p.errOut(), "not sent again") {
					t.Error("no terminal state hit an ambiguous fault")
				}
			case "resend":
				if terminal <= calls {
					t.Errorf("%d terminal states for %d calls: none was resent", terminal, calls)
				}
			}
			w.stop()
		})
	}
}
