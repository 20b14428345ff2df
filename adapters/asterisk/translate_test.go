package asterisk

import (
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/ringside/ringside/pkg/callstate"
	"github.com/ringside/ringside/pkg/config"
)

func TestPartyClassification(t *testing.T) {
	def := Parties{}
	def.defaults()
	custom := Parties{Extension: regexp.MustCompile(`^[a-z]+-([0-9]{3,4})$`), Trunks: []string{"5000"},
		TrunkContext: regexp.MustCompile(`from-(trunk|pstn)$`)}
	custom.defaults()
	for _, tc := range []struct {
		p       Parties
		name    string
		context string
		caller  string
		party   callstate.Party
		number  string
	}{
		{def, "PJSIP/1001-0000000a", "from-internal", "1001", callstate.PartyExtension, "1001"},
		{def, "PJSIP/trunk-0000002a", "from-trunk", "+4930123456", callstate.PartyExternal, "+4930123456"},
		{def, "PJSIP/telekom-00000001", "from-trunk", "004930123456", callstate.PartyExternal, "+4930123456"},
		{def, "SIP/201-00000001", "default", "", callstate.PartyExtension, "201"},
		{def, "IAX2/provider-1234", "from-iax", "0301234", callstate.PartyExternal, "0301234"},
		{def, "DAHDI/i1/0301234567-5", "from-pstn", "0301234567", callstate.PartyExternal, "0301234567"},
		{def, "Local/1001@from-queue-00000001;1", "from-queue", "", callstate.PartyUnknown, ""},
		{def, "Snoop/1795247194.1-00000000", "", "", callstate.PartyUnknown, ""},
		{custom, "PJSIP/acme-1001-00000003", "acme-phones", "", callstate.PartyExtension, "1001"},
		{custom, "PJSIP/5000-00000004", "x", "+4930", callstate.PartyExternal, "+4930"},
		{custom, "PJSIP/acme-2001-00000005", "acme-from-trunk", "+4930", callstate.PartyExternal, "+4930"},
	} {
		tech, ep, _, _ := splitName(tc.name)
		party, number := tc.p.classify(tech, ep, &Channel{Name: tc.name, Caller: CallerID{Number: tc.caller}, Dialplan: Dialplan{Context: tc.context}})
		if party != tc.party || number != tc.number {
			t.Errorf("%s in %s: party %d number %q, want %d %q", tc.name, tc.context, party, number, tc.party, tc.number)
		}
	}
}

func TestDialedNumber(t *testing.T) {
	p := Parties{}
	p.defaults()
	for in, want := range map[string]string{
		"+4930123456@trunk": "+4930123456", "004930123456@trunk": "+4930123456", "trunk/sip:+4930123456@sip.example.com": "+4930123456",
		"1001": "1001", "trunk": "", "uas": "", "": "",
	} {
		if got := p.dialedNumber(in); got != want {
			t.Errorf("dialedNumber(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCauses(t *testing.T) {
	for code, want := range map[int]callstate.Cause{16: callstate.CauseNormal, 17: callstate.CauseBusy, 19: callstate.CauseNoAnswer,
		18: callstate.CauseNoAnswer, 21: callstate.CauseRejected, 26: callstate.CauseAnsweredElsewhere, 1: callstate.CauseUnreachable,
		34: callstate.CauseCongestion, 127: callstate.CauseUnknown, 0: callstate.CauseUnknown, 58: callstate.CauseFailed} {
		if got := causeFromQ850(code); got != want {
			t.Errorf("cause %d → %s, want %s", code, got, want)
		}
	}
	for status, want := range map[string]callstate.Cause{"ANSWER": callstate.CauseNormal, "BUSY": callstate.CauseBusy,
		"NOANSWER": callstate.CauseNoAnswer, "CANCEL": callstate.CauseCancelled, "CONGESTION": callstate.CauseCongestion,
		"CHANUNAVAIL": callstate.CauseUnreachable, "DONTCALL": callstate.CauseRejected, "INVALIDARGS": callstate.CauseFailed} {
		if got, final := causeFromDialStatus(status); got != want || !final {
			t.Errorf("dial %s → %s %v, want %s", status, got, final, want)
		}
	}
	for _, s := range []string{"", "RINGING", "PROGRESS", "PROCEEDING"} {
		if _, final := causeFromDialStatus(s); final {
			t.Errorf("dial %q is not final", s)
		}
	}
}

func TestTenantRules(t *testing.T) {
	ch := &Channel{Dialplan: Dialplan{Context: "acme-from-trunk"}, ChannelVars: map[string]string{"TENANT": "globex"}}
	for _, tc := range []struct {
		rule config.TenantRule
		want string
	}{
		{config.TenantRule{From: config.TenantFixed}, ""},
		{config.TenantRule{From: config.TenantContextPrefix, Separator: "-"}, "acme"},
		{config.TenantRule{From: config.TenantContextPrefix, Separator: "_"}, ""},
		{config.TenantRule{From: config.TenantVariable, Variable: "TENANT"}, "globex"},
		{config.TenantRule{From: config.TenantVariable, Variable: "domain"}, ""},
	} {
		if got := (Tenants{Rule: tc.rule}).fromChannel(ch); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.rule, got, tc.want)
		}
	}
	// A variable set by the dialplan after the channel was created.
	tr := NewTranslator(TranslatorOptions{Tenants: Tenants{Rule: config.TenantRule{From: config.TenantVariable, Variable: "TENANT"}}})
	out := feed(t, tr,
		`{"type":"ChannelCreated","timestamp":"2026-11-21T10:00:00.000+0000","channel":{"id":"a","name":"PJSIP/1001-00000001","state":"Ring","dialplan":{"context":"phones","exten":"1002"}}}`,
		`{"variable":"TENANT","value":"acme","type":"ChannelVarset","timestamp":"2026-11-21T10:00:00.001+0000","channel":{"id":"a","name":"PJSIP/1001-00000001","state":"Ring"}}`)
	if len(out) != 2 || out[1].Kind != callstate.SetVar || out[1].Var != callstate.VarTenant || out[1].Value != "acme" {
		t.Fatalf("signals %v", out)
	}
}

func feed(t *testing.T, tr *Translator, frames ...string) []callstate.Signal {
	t.Helper()
	var out []callstate.Signal
	for _, f := range frames {
		var err error
		out, _, _, err = tr.Translate([]byte(f), time.Time{}, out)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
	}
	return out
}

func ch(id, name, state string) string {
	return fmt.Sprintf(`{"id":%q,"name":%q,"state":%q,"caller":{"name":"","number":"+4930123456"},"dialplan":{"context":"from-trunk","exten":"+4930999000"},"creationtime":"2026-11-21T10:00:00.000+0000"}`, id, name, state)
}

// TestLocalChannelsChainTheCall: a queue that rings members through Local
// channels (FreePBX style), without linkedid: the member's phone belongs to
// the customer's call through Dial caller → Local ;1 → ;2 → Dial caller.
func TestLocalChannelsChainTheCall(t *testing.T) {
	tr := NewTranslator(TranslatorOptions{})
	out := feed(t, tr,
		`{"type":"ChannelCreated","channel":`+ch("t", "PJSIP/trunk-00000001", "Ring")+`}`,
		`{"type":"ChannelCreated","channel":`+ch("l1", "Local/1001@from-queue-00000002;1", "Down")+`}`,
		`{"type":"ChannelCreated","channel":`+ch("l2", "Local/1001@from-queue-00000002;2", "Ring")+`}`,
		`{"type":"Dial","dialstatus":"","dialstring":"Local/1001@from-queue","caller":`+ch("t", "PJSIP/trunk-00000001", "Ring")+`,"peer":`+ch("l1", "Local/1001@from-queue-00000002;1", "Down")+`}`,
		`{"type":"ChannelCreated","channel":`+ch("p", "PJSIP/1001-00000003", "Down")+`}`,
		`{"type":"Dial","dialstatus":"","dialstring":"1001","caller":`+ch("l2", "Local/1001@from-queue-00000002;2", "Ring")+`,"peer":`+ch("p", "PJSIP/1001-00000003", "Down")+`}`,
		`{"type":"ChannelStateChange","channel":`+ch("p", "PJSIP/1001-00000003", "Ringing")+`}`,
	)
	m := callstate.New(callstate.Options{})
	var evs []string
	for _, s := range out {
		for _, e := range m.Apply(s, nil) {
			evs = append(evs, string(e.Type)+" "+e.CallID+" "+e.Agent)
		}
	}
	want := []string{"started t ", "ringing t 1001"}
	if fmt.Sprint(evs) != fmt.Sprint(want) {
		t.Fatalf("events %v, want %v", evs, want)
	}
}

// TestAdoptNeverDuplicates: after a reconnect, legs the machine knows get no
// signal, new ones are adopted with their parent, vanished ones are lost.
func TestAdoptNeverDuplicates(t *testing.T) {
	chans := []Channel{
		{ID: "t1", Name: "PJSIP/trunk-00000001", State: "Up", CreationTime: "2026-11-21T10:00:00.000+0000", Caller: CallerID{Number: "+4930123456"}},
		{ID: "p1", Name: "PJSIP/1001-00000002", State: "Up", CreationTime: "2026-11-21T10:00:01.000+0000", ChannelVars: map[string]string{"CHANNEL(linkedid)": "t1"}},
		{ID: "p2", Name: "PJSIP/1002-00000004", State: "Up", CreationTime: "2026-11-21T10:00:03.000+0000", ChannelVars: map[string]string{"CHANNEL(linkedid)": "t2", "MIXMONITOR_FILENAME": "/rec/t2.wav"}},
		{ID: "t2", Name: "PJSIP/trunk-00000003", State: "Up", CreationTime: "2026-11-21T10:00:02.000+0000", Caller: CallerID{Number: "+4930777"}},
	}
	bridges := []Bridge{{ID: "b1", Channels: []string{"t1", "p1"}}, {ID: "b2", Channels: []string{"p2", "t2"}}}
	now := time.Date(2026, 11, 21, 10, 5, 0, 0, time.UTC)
	tr := NewTranslator(TranslatorOptions{})
	var got []string
	for _, s := range tr.Adopt(chans, bridges, []string{"t1", "p1", "gone"}, now, nil) {
		got = append(got, render(s))
	}
	want := []string{
		`leg_created t2 party=2 number="+4930777"`,
		`leg_created p2 peer=t2 party=1 number="1002"`,
		`answered t2`,
		`answered p2`,
		`bridged p2 peer=t2`,
		`recording_started p2 path=/rec/t2.wav`,
		`hangup gone cause=link_lost`,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("adopt:\n got %q\nwant %q", got, want)
	}
	// Events queued during the reconcile about known channels change nothing.
	out := feed(t, tr, `{"type":"ChannelCreated","channel":`+ch("t1", "PJSIP/trunk-00000001", "Up")+`}`,
		`{"type":"ChannelStateChange","channel":`+ch("p1", "PJSIP/1001-00000002", "Up")+`}`)
	if len(out) != 0 {
		t.Fatalf("known channels announced again: %v", out)
	}
}

// TestBridgedOnlyWhenBothTalk: a callee put into the bridge before it
// answers (early media) has not answered yet.
func TestBridgedOnlyWhenBothTalk(t *testing.T) {
	tr := NewTranslator(TranslatorOptions{})
	br := `{"id":"br","bridge_class":"stasis","channels":[]}`
	out := feed(t, tr,
		`{"type":"ChannelCreated","channel":`+ch("a", "PJSIP/1001-00000001", "Up")+`}`,
		`{"type":"ChannelEnteredBridge","bridge":`+br+`,"channel":`+ch("a", "PJSIP/1001-00000001", "Up")+`}`,
		`{"type":"ChannelCreated","channel":`+ch("b", "PJSIP/trunk-00000002", "Down")+`}`,
		`{"type":"StasisStart","args":[],"channel":`+ch("b", "PJSIP/trunk-00000002", "Down")+`}`,
		`{"type":"ChannelEnteredBridge","bridge":`+br+`,"channel":`+ch("b", "PJSIP/trunk-00000002", "Down")+`}`,
		`{"type":"ChannelStateChange","channel":`+ch("b", "PJSIP/trunk-00000002", "Ringing")+`}`,
	)
	if count(out, callstate.Bridged) != 0 {
		t.Fatalf("bridged before the callee answered: %v", out)
	}
	out = feed(t, tr, `{"type":"ChannelStateChange","channel":`+ch("b", "PJSIP/trunk-00000002", "Up")+`}`)
	if len(out) != 2 || render(out[1]) != "bridged b peer=a" {
		t.Fatalf("after answer: %v", out)
	}
}

func TestTransfers(t *testing.T) {
	tr := NewTranslator(TranslatorOptions{})
	out := feed(t, tr,
		`{"type":"ChannelCreated","channel":`+ch("t", "PJSIP/trunk-00000001", "Ring")+`}`,
		`{"type":"ChannelCreated","channel":`+ch("p", "PJSIP/1001-00000002", "Down")+`}`,
		`{"type":"Dial","dialstatus":"","dialstring":"1001","caller":`+ch("t", "PJSIP/trunk-00000001", "Ring")+`,"peer":`+ch("p", "PJSIP/1001-00000002", "Down")+`}`,
		`{"type":"ChannelEnteredBridge","bridge":{"id":"b"},"channel":`+ch("p", "PJSIP/1001-00000002", "Up")+`}`,
		`{"type":"ChannelEnteredBridge","bridge":{"id":"b"},"channel":`+ch("t", "PJSIP/trunk-00000001", "Up")+`}`,
		`{"type":"ChannelLeftBridge","bridge":{"id":"b"},"channel":`+ch("p", "PJSIP/1001-00000002", "Up")+`}`,
		// no transferee in the event: the last bridge partner is used
		`{"type":"BridgeBlindTransfer","channel":`+ch("p", "PJSIP/1001-00000002", "Up")+`,"exten":"1003","result":"Success","is_external":true}`,
		`{"type":"BridgeBlindTransfer","channel":`+ch("p", "PJSIP/1001-00000002", "Up")+`,"exten":"1004","result":"Fail"}`,
		`{"type":"BridgeAttendedTransfer","result":"Success","transferer_first_leg":{"id":"p"},"transferer_second_leg":{"id":"p2"},"transfer_target":{"id":"q"}}`,
	)
	wantSignals(t, out, "transfer_blind p peer=t", "transfer_attended p peer=p2")
	if count(out, callstate.TransferBlind) != 1 {
		t.Fatal("a failed transfer was reported")
	}
	if out[len(out)-1].Target != "q" || out[len(out)-2].Target != "1003" {
		t.Fatalf("targets %q %q", out[len(out)-2].Target, out[len(out)-1].Target)
	}
}
