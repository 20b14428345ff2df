package clicktocall

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ringside/ringside/pkg/callstate"
	"github.com/ringside/ringside/pkg/events"
	"github.com/ringside/ringside/pkg/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestNormalizeNumber(t *testing.T) {
	for in, want := range map[string]string{
		"+49 (30) 123-456": "+4930123456", "0049 30 123456": "+4930123456", "030/123456": "030123456",
		" +1.415.555.0100 ": "+14155550100", "1001": "1001",
	} {
		if got, ok := NormalizeNumber(in); !ok || got != want {
			t.Errorf("NormalizeNumber(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	for _, bad := range []string{"", "+", "abc", "12+34", "1", "1001;drop", "PJSIP/1001", strings.Repeat("1", 21), "+49 30,1"} {
		if got, ok := NormalizeNumber(bad); ok {
			t.Errorf("NormalizeNumber(%q) = %q, accepted", bad, got)
		}
	}
}

func TestExplain(t *testing.T) {
	cases := []struct {
		f      Failure
		code   string
		report bool
	}{
		{Failure{Leg: LegA, Cause: callstate.CauseBusy}, CodeBusy, true},
		{Failure{Leg: LegA, Cause: callstate.CauseNoAnswer}, CodeNoAnswer, true},
		{Failure{Leg: LegA, Cause: callstate.CauseUnreachable}, CodeNotAvailable, true},
		{Failure{Leg: LegA, Cause: callstate.CauseRejected}, CodeRejected, true},
		{Failure{Leg: LegA, Cause: callstate.CauseCancelled}, "", false},
		{Failure{Leg: LegB, Cause: callstate.CauseBusy}, CodeBusy, true},
		{Failure{Leg: LegB, Cause: callstate.CauseNoAnswer}, CodeNoAnswer, true},
		{Failure{Leg: LegB, Cause: callstate.CauseUnreachable}, CodeInvalid, true},
		{Failure{Leg: LegB, Cause: callstate.CauseCongestion}, CodeNotAvailable, true},
	}
	for _, c := range cases {
		code, msg, report := Explain(&c.f, "+4930123456")
		if code != c.code || report != c.report || report && !strings.Contains(msg, "+4930123456") {
			t.Errorf("Explain(%v) = %q %q %v", c.f.Error(), code, msg, report)
		}
	}
}

func TestEndpointsRequest(t *testing.T) {
	e := Endpoints{CallerID: "+4930999{extension}"}.Or(DefaultEndpoints("asterisk"))
	c := events.Originate{V: 1, ID: "x1", Tenant: "acme", Extension: "1001", Customer: "+4930123456", TerminalKind: events.TerminalExtension}
	r, err := e.Request(c, time.Second, 2*time.Second)
	if err != nil || r.Terminal != "PJSIP/1001" || r.CustomerEndpoint != "PJSIP/+4930123456@trunk" || r.CallerID != "+49309991001" || r.Mobile {
		t.Fatalf("extension: %+v %v", r, err)
	}
	c.TerminalKind, c.Device = events.TerminalDesk, "PJSIP/1001-desk"
	if r, _ = e.Request(c, 0, 0); r.Terminal != "PJSIP/1001-desk" {
		t.Errorf("desk: %s", r.Terminal)
	}
	c.TerminalKind, c.Mobile = events.TerminalMobile, "+491701234567"
	if r, _ = e.Request(c, 0, 0); r.Terminal != "PJSIP/+491701234567@trunk" || !r.Mobile {
		t.Errorf("mobile: %s", r.Terminal)
	}
	fs := DefaultEndpoints("freeswitch")
	c.TerminalKind, c.Device = events.TerminalExtension, ""
	if r, _ = fs.Request(c, 0, 0); r.Terminal != "user/1001" || r.CustomerEndpoint != "sofia/gateway/trunk/+4930123456" {
		t.Errorf("freeswitch: %+v", r)
	}
	for _, bad := range []events.Originate{{ID: "x", Tenant: "acme", Extension: "1001", Customer: "nope"},
		{ID: "x", Tenant: "acme", Extension: "1001", Customer: "+4930123456", TerminalKind: events.TerminalDesk, Device: "PJSIP/1 001"}} {
		if _, err := e.Request(bad, 0, 0); err == nil {
			t.Errorf("accepted %+v", bad)
		}
	}
}

func TestTerminalOf(t *testing.T) {
	ev := events.Call{Type: events.TerminalSet, Tenant: "acme", Terminal: &events.Terminal{Extension: "1001", Code: "3037", Device: "PJSIP/1001", Mobile: "0049 170 1234567"}}
	term, err := TerminalOf(ev)
	if err != nil || term.Kind != store.Mobile || term.Mobile != "+491701234567" || term.Extension != "1001" {
		t.Fatalf("mobile: %+v %v", term, err)
	}
	ev.Terminal = &events.Terminal{Extension: "1001", Code: "*037", Device: "PJSIP/1001"}
	if term, err = TerminalOf(ev); err != nil || term.Kind != store.Desk || term.Device != "PJSIP/1001" {
		t.Fatalf("desk: %+v %v", term, err)
	}
	ev.Terminal = &events.Terminal{Extension: "1001", Code: "*037"}
	if _, err = TerminalOf(ev); err == nil {
		t.Error("desk without device accepted")
	}
}

func TestPlan(t *testing.T) {
	for _, c := range []struct {
		action, digits string
		d              events.Direction
		ok             bool
		dir            string
	}{
		{events.ActionHangup, "", events.Outbound, true, ""},
		{events.ActionHold, "", events.Inbound, true, ""},
		{events.ActionHold, "", events.Outbound, false, ""},
		{events.ActionMute, "", events.Inbound, true, "out"},
		{events.ActionMute, "", events.Outbound, true, "in"},
		{events.ActionKeypress, "12#", events.Inbound, true, ""},
		{events.ActionKeypress, "1;x", events.Inbound, false, ""},
		{events.ActionAnswer, "", events.Inbound, false, ""},
		{"reboot", "", events.Inbound, false, ""},
	} {
		op, ok := Plan(c.action, c.digits, c.d)
		if ok != c.ok || ok && op.Direction != c.dir {
			t.Errorf("Plan(%s, %q, %s) = %+v, %v", c.action, c.digits, c.d, op, ok)
		}
	}
}

type fakeOriginator struct{ got chan Request }

func (f fakeOriginator) ClickToCall(ctx context.Context, r Request) error {
	f.got <- r
	return nil
}

func TestNodeAcceptsACommandOnce(t *testing.T) {
	f := fakeOriginator{got: make(chan Request, 2)}
	n, err := NewNode(NodeOptions{Originator: f, Endpoints: DefaultEndpoints("asterisk")})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	cmd := `{"v":1,"id":"c1","tenant":"acme","extension":"1001","terminal_kind":"extension","customer":"+4930123456"}`
	for range 2 {
		if r := n.Accept([]byte(cmd)); !r.OK {
			t.Fatalf("Accept = %+v", r)
		}
	}
	if r := <-f.got; r.Terminal != "PJSIP/1001" {
		t.Errorf("request = %+v", r)
	}
	n.Close()
	if len(f.got) != 0 {
		t.Error("a redelivered command placed a second call")
	}
	if r := n.Accept([]byte(`{"v":2}`)); r.OK || r.Code != "invalid" {
		t.Errorf("bad command: %+v", r)
	}
}

// fakeUsers, fakeClaims and fakeCommander stand in for the store and NATS.
type fakeUsers struct{ link store.Link }

func (f fakeUsers) LinkByZohoUser(_ context.Context, tenant, zohoUser string) (store.Link, error) {
	if f.link.Tenant == tenant && f.link.ZohoUser == zohoUser {
		return f.link, nil
	}
	return store.Link{}, store.ErrNotFound
}
func (fakeUsers) Terminal(context.Context, string, string) (store.Terminal, error) {
	return store.Terminal{}, store.ErrNotFound
}
func (fakeUsers) Extension(context.Context, string, string) (store.Extension, error) {
	return store.Extension{}, store.ErrNotFound
}

type fakeClaims struct{}

func (fakeClaims) Claim(context.Context, string, time.Duration) (bool, error) { return true, nil }
func (fakeClaims) Release(context.Context, string) error                      { return nil }

type fakeCommander struct{ sent *int }

func (f fakeCommander) Command(context.Context, string, []byte) ([]byte, error) {
	*f.sent++
	return []byte(`{"ok":true}`), nil
}

func TestServiceRefusesClicksOnceClosed(t *testing.T) {
	var sent int
	svc, err := NewService(ServiceOptions{
		Users: fakeUsers{store.Link{Tenant: "acme", Extension: "1001", ZohoUser: "pb-1", Secret: "s3cret",
			Switches: store.Switches{Notifications: true, ClickToCall: true}}},
		Claims: fakeClaims{}, Commander: fakeCommander{&sent}, NodeOf: func(string) string { return "pbx-01" },
	})
	if err != nil {
		t.Fatal(err)
	}
	click := func() int {
		r := httptest.NewRequest(http.MethodGet, "/zoho/acme/clicktodial?zohouser=pb-1&tonumber=%2B4930123456&ringside_auth=s3cret", nil)
		r.SetPathValue("tenant", "acme")
		w := httptest.NewRecorder()
		svc.ServeHTTP(w, r)
		return w.Code
	}
	if code := click(); code != http.StatusOK || sent != 1 {
		t.Fatalf("click = %d with %d commands, want 200 and 1", code, sent)
	}
	svc.Close()
	if code := click(); code != http.StatusServiceUnavailable || sent != 1 {
		t.Fatalf("click after Close = %d with %d commands, want 503 and still 1", code, sent)
	}
}
