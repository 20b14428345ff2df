package clicktocall

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ringside/ringside/adapters/zoho"
	eslsim "github.com/ringside/ringside/integration/sim/esl"
	"github.com/ringside/ringside/pkg/events"
)

// control posts a call-control request as Zoho would (the registered URI,
// the user's secret).
func (w *world) control(action, callref string, extra ...string) (int, string) {
	w.t.Helper()
	form := url.Values{"zohouser": {zohoUser}, "callrefid": {callref}, "ringside_auth": {w.secret}}
	for i := 0; i+1 < len(extra); i += 2 {
		form.Set(extra[i], extra[i+1])
	}
	resp, err := http.PostForm(w.base+"/zoho/acme/callcontrol/"+action, form)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// inbound starts an answered inbound call to 1001 that stays up and
// returns its call id.
func (w *world) inbound() (callID, trunk, agent string) {
	w.t.Helper()
	if w.ari != nil {
		trunk, agent, _ = w.ari.StartInbound("1001")
	} else {
		w.esl.Do(func(p *eslsim.Player) {
			a := p.Trunk()
			b := p.Dial(a, "1001")
			p.Ring(b)
			p.Wait(3 * time.Second)
			p.Answer(b)
			p.Answer(a)
			p.Bridge(a, b)
		})
	}
	eventually(w.t, "inbound call answered", func() bool {
		for _, e := range w.sink.snapshot() {
			if e.Type == events.Answered && e.Direction == events.Inbound {
				callID = e.CallID
				return true
			}
		}
		return false
	})
	return callID, trunk, agent
}

func TestCallControlHangsUpTheCallZohoNames(t *testing.T) {
	for _, pbx := range pbxes {
		t.Run(pbx, func(t *testing.T) {
			w := newWorld(t, pbx)
			callID, trunk, agent := w.inbound()
			ref := zoho.PhoneBridgeCallID(callID, 0)
			if code, body := w.control("hangup", "rs-unknown"); code != 200 || body != "invalid" {
				t.Errorf("unknown call: %d %q, want 200 invalid", code, body)
			}
			if code, body := w.control("answer", ref); code != 200 || body != "invalid" {
				t.Errorf("answer: %d %q, want 200 invalid (no PBX can pick up a phone)", code, body)
			}
			form := url.Values{"zohouser": {zohoUser}, "callrefid": {ref}, "ringside_auth": {"wrong"}}
			if resp, err := http.PostForm(w.base+"/zoho/acme/callcontrol/hangup", form); err != nil || resp.StatusCode != 401 {
				t.Errorf("wrong secret: %v %v, want 401", resp.StatusCode, err)
			} else {
				resp.Body.Close()
			}
			if code, body := w.control("hangup", ref); code != 200 || body != "success" {
				t.Fatalf("hangup: %d %q, want 200 success", code, body)
			}
			if w.ari != nil {
				// The customer's channel is gone; Asterisk's Dial then hangs
				// up the agent, which the simulator leaves to the test.
				eventually(t, "customer hung up", func() bool { _, ok := w.ari.Channel(trunk); return !ok })
				w.ari.RemoteHangup(agent, 16)
			}
			eventually(t, "call ended", func() bool {
				for _, e := range w.sink.snapshot() {
					if e.Type == events.Ended && e.CallID == callID {
						return true
					}
				}
				return false
			})
			if code, body := w.control("hangup", ref); code != 200 || body != "invalid" {
				t.Errorf("hangup of an ended call: %d %q, want invalid", code, body)
			}
			if w.esl != nil && !strings.Contains(strings.Join(w.esl.Commands(), "\n"), "uuid_kill") {
				t.Error("no uuid_kill sent")
			}
		})
	}
}
