package arisim

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// rest sends one ARI request as the application would.
func rest(t *testing.T, s *Server, method, path string, q url.Values) (int, string) {
	t.Helper()
	u := s.URL() + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, _ := http.NewRequest(method, u, nil)
	req.SetBasicAuth("ringside", "secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// appSocket connects the application "ringside" and returns a reader of
// its events.
func appSocket(t *testing.T, s *Server) func(typ string) map[string]any {
	t.Helper()
	ws := "ws" + s.URL()[len("http"):] + "/events?app=ringside&subscribeAll=true"
	c, _, err := websocket.Dial(context.Background(), ws, &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {Base64Auth("ringside", "secret")}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseNow() })
	if err := s.WaitSockets(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	return func(typ string) map[string]any {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for {
			_, data, err := c.Read(ctx)
			if err != nil {
				t.Fatalf("waiting for %s: %v", typ, err)
			}
			var ev map[string]any
			if err := json.Unmarshal(data, &ev); err != nil {
				t.Fatal(err)
			}
			if ev["type"] == typ {
				return ev
			}
		}
	}
}

func channelOf(ev map[string]any) map[string]any { c, _ := ev["channel"].(map[string]any); return c }

// TestScreenedCallWithoutTheApplicationRingsAtOnce: Stasis() fails with no
// application registered (STASISSTATUS=FAILED) and the dialplan carries on.
func TestScreenedCallWithoutTheApplicationRingsAtOnce(t *testing.T) {
	s := New(Options{Tenant: "acme"})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	trunk := s.StartScreened(ScreenedCall{})
	sc, ok := s.Screening(trunk)
	if !ok || sc.Status != "FAILED" || !sc.Ended || !sc.Entered.IsZero() || sc.AnsweredBy != "1001" {
		t.Fatalf("screening %+v", sc)
	}
	if len(sc.Rang) != 2 || sc.Rang[0].Extension != "1001" || sc.Rang[1].Connected != (CallerID{Number: Customer}) {
		t.Errorf("rang %+v", sc.Rang)
	}
	if s.Channels() != 0 {
		t.Errorf("%d channels left", s.Channels())
	}
}

// TestScreenedCallWaitsForTheApplication: the channel waits in the
// application until it is continued; the caller name and RINGSIDE_OWNER set
// meanwhile reach the rest of the dialplan and the phones.
func TestScreenedCallWaitsForTheApplication(t *testing.T) {
	s := New(Options{Tenant: "acme"})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	next := appSocket(t, s)
	trunk := s.StartScreened(ScreenedCall{})
	start := next("StasisStart")
	if args, _ := start["args"].([]any); len(args) != 1 || args[0] != "screen" || channelOf(start)["id"] != trunk {
		t.Fatalf("StasisStart %v", start)
	}
	if dp, _ := channelOf(start)["dialplan"].(map[string]any); dp["app_name"] != "Stasis" || dp["app_data"] != "ringside,screen" || channelOf(start)["state"] != "Ring" {
		t.Fatalf("channel in Stasis: %v", channelOf(start))
	}
	if got := s.InStasis("screen"); !slices.Equal(got, []string{trunk}) {
		t.Fatalf("in Stasis %v", got)
	}
	if sc, _ := s.Screening(trunk); sc.Status != "" || len(sc.Rang) != 0 || sc.Entered.IsZero() {
		t.Fatalf("before continue: %+v", sc)
	}

	for _, v := range [][2]string{{"CALLERID(name)", "Eva Meyer"}, {"RINGSIDE_OWNER", "1002"}} {
		if code, body := rest(t, s, "POST", "/channels/"+trunk+"/variable", url.Values{"variable": {v[0]}, "value": {v[1]}}); code != 204 {
			t.Fatalf("set %s: %d %s", v[0], code, body)
		}
	}
	if ev := next("ChannelCallerId"); channelOf(ev)["caller"].(map[string]any)["name"] != "Eva Meyer" {
		t.Errorf("ChannelCallerId %v", ev)
	}
	if ev := next("ChannelVarset"); ev["variable"] != "RINGSIDE_OWNER" || ev["value"] != "1002" {
		t.Errorf("ChannelVarset %v", ev)
	}
	if code, body := rest(t, s, "POST", "/channels/"+trunk+"/continue", nil); code != 204 {
		t.Fatalf("continue: %d %s", code, body)
	}
	if ev := next("StasisEnd"); channelOf(ev)["id"] != trunk {
		t.Errorf("StasisEnd %v", ev)
	}
	if ev := next("ChannelVarset"); ev["variable"] != "STASISSTATUS" || ev["value"] != "SUCCESS" {
		t.Errorf("after StasisEnd: %v", ev)
	}
	dial := next("Dial")
	if p, _ := dial["peer"].(map[string]any); dial["dialstring"] != "1002" || p["connected"].(map[string]any)["name"] != "Eva Meyer" {
		t.Errorf("the owner's phone: %v", dial)
	}
	sc, err := s.WaitScreened(ctxT(t), trunk)
	if err != nil {
		t.Fatal(err)
	}
	want := Screening{Trunk: trunk, Status: "SUCCESS", CallerName: "Eva Meyer", Owner: "1002", AnsweredBy: "1002", Ended: true,
		Rang: []Rung{{Extension: "1002", Connected: CallerID{Name: "Eva Meyer", Number: Customer}}}}
	sc.Entered, sc.Left, sc.Resumed = time.Time{}, time.Time{}, time.Time{}
	if !equalScreening(sc, want) {
		t.Errorf("screening %+v\nwant %+v", sc, want)
	}
	if code, _ := rest(t, s, "POST", "/channels/"+trunk+"/continue", nil); code != 404 {
		t.Errorf("continue a gone channel: %d, want 404", code)
	}
}

func equalScreening(a, b Screening) bool {
	return a.Trunk == b.Trunk && a.Status == b.Status && a.CallerName == b.CallerName && a.Owner == b.Owner &&
		a.AnsweredBy == b.AnsweredBy && a.Ended == b.Ended && a.HangupCause == b.HangupCause && slices.Equal(a.Rang, b.Rang)
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestScreenedOwnerRingsOutThenTheGroup: an owner who does not answer rings
// for OwnerRing, then the group rings.
func TestScreenedOwnerRingsOutThenTheGroup(t *testing.T) {
	s := New(Options{})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	next := appSocket(t, s)
	s.SetBehavior("PJSIP/1003", Behavior{Outcome: "noanswer"})
	trunk := s.StartScreened(ScreenedCall{OwnerRing: 10 * time.Second})
	next("StasisStart")
	rest(t, s, "POST", "/channels/"+trunk+"/variable", url.Values{"variable": {"RINGSIDE_OWNER"}, "value": {"1003"}})
	rest(t, s, "POST", "/channels/"+trunk+"/continue", nil)
	sc, err := s.WaitScreened(ctxT(t), trunk)
	if err != nil {
		t.Fatal(err)
	}
	var rang []string
	for _, r := range sc.Rang {
		rang = append(rang, r.Extension)
	}
	if !slices.Equal(rang, []string{"1003", "1001", "1002"}) || sc.AnsweredBy != "1001" {
		t.Errorf("rang %v, answered by %s", rang, sc.AnsweredBy)
	}
}

// TestScreenedCallRejected: the application hangs the waiting channel up
// with reason busy: cause 17, nothing rings.
func TestScreenedCallRejected(t *testing.T) {
	s := New(Options{})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	next := appSocket(t, s)
	trunk := s.StartScreened(ScreenedCall{From: "+4990012345"})
	next("StasisStart")
	if code, body := rest(t, s, "DELETE", "/channels/"+trunk, url.Values{"reason": {"busy"}}); code != 204 {
		t.Fatalf("hangup: %d %s", code, body)
	}
	next("StasisEnd")
	if ev := next("ChannelDestroyed"); ev["cause"] != float64(17) || ev["cause_txt"] != "User busy" {
		t.Errorf("ChannelDestroyed %v", ev)
	}
	sc, _ := s.Screening(trunk)
	if sc.HangupCause != 17 || sc.Status != "" || len(sc.Rang) != 0 || !sc.Ended {
		t.Errorf("screening %+v", sc)
	}
}

// TestChannelCommandsNeedStasis: setting a variable needs the channel in
// the application (409), continuing one that is not answered yet is 412.
func TestChannelCommandsNeedStasis(t *testing.T) {
	s := New(Options{})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	trunk, _ := s.RingFrom(Customer, "1001")
	if code, body := rest(t, s, "POST", "/channels/"+trunk+"/variable", url.Values{"variable": {"CALLERID(name)"}, "value": {"X"}}); code != 409 {
		t.Errorf("set on a channel outside Stasis: %d %s, want 409", code, body)
	}
	if code, _ := rest(t, s, "POST", "/channels/nope/variable", url.Values{"variable": {"X"}, "value": {"1"}}); code != 404 {
		t.Errorf("set on no channel: %d, want 404", code)
	}
	if code, _ := rest(t, s, "POST", "/channels/"+trunk+"/variable", url.Values{"value": {"1"}}); code != 400 {
		t.Errorf("set without a name: %d, want 400", code)
	}
	if code, body := rest(t, s, "POST", "/channels/create", url.Values{"endpoint": {"PJSIP/1002"}, "app": {"ringside"}, "channelId": {"leg-b"}}); code != 200 {
		t.Fatalf("create: %d %s", code, body)
	}
	if code, body := rest(t, s, "POST", "/channels/leg-b/continue", nil); code != 412 {
		t.Errorf("continue a Down channel: %d %s, want 412", code, body)
	}
}
