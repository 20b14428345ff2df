package clicktocall

import (
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringside/ringside/adapters/zoho"
	arisim "github.com/ringside/ringside/integration/sim/ari"
	eslsim "github.com/ringside/ringside/integration/sim/esl"
	"github.com/ringside/ringside/pkg/config"
	"github.com/ringside/ringside/pkg/events"
	"github.com/ringside/ringside/pkg/store"
)

var pbxes = []string{config.PBXAsterisk, config.PBXFreeSWITCH}

// register plays *037 (desk) or 3037 (mobile) from extension 1001 and
// waits until the store has the terminal.
func (w *world) register(kind store.TerminalKind) store.Terminal {
	w.t.Helper()
	switch {
	case w.ari != nil && kind == store.Desk:
		_ = w.ari.Play("feature_code_desk")
	case w.ari != nil:
		_ = w.ari.Play("feature_code_mobile")
	case kind == store.Desk:
		_ = w.esl.Play("feature_code_desk")
	default:
		w.esl.Do(func(p *eslsim.Player) {
			c := p.Phone("1001", "3037")
			p.FeatureCode(c, "3037", "1001", "user/1001@"+eslsim.Domain, "+491701234567")
		})
	}
	var term store.Terminal
	eventually(w.t, "terminal stored", func() bool {
		t, err := w.kv.Terminal(w.ctx, "acme", "1001")
		term = t
		return err == nil && t.Kind == kind
	})
	return term
}

// talk waits until the click's customer leg answered and, on Asterisk
// (where nobody hangs up on their own), hangs the customer up. FreeSWITCH's
// simulator plays the whole call.
func (w *world) talk(id string) {
	w.t.Helper()
	if w.ari == nil {
		eventually(w.t, "call ended", func() bool { e, _ := w.c2cCalls(); return len(e) > 0 })
		return
	}
	legB := "c2c-" + id + "-b"
	eventually(w.t, "customer answered", func() bool { c, ok := w.ari.Channel(legB); return ok && c.State == "Up" })
	if err := w.ast.Hangup(w.ctx, legB, "normal"); err != nil {
		w.t.Fatal(err)
	}
	if err := w.ari.WaitIdle(w.ctx); err != nil {
		w.t.Fatal(err)
	}
	eventually(w.t, "call ended", func() bool { e, _ := w.c2cCalls(); return len(e) > 0 })
}

func checkOneCall(t *testing.T, w *world, disposition events.Disposition) {
	t.Helper()
	ended, started := w.c2cCalls()
	if len(ended) != 1 || started != 1 {
		t.Fatalf("click-to-call calls: %d started, %d ended; want 1 and 1", started, len(ended))
	}
	e := ended[0]
	if e.Direction != events.Outbound || e.Caller != "1001" || e.External != customer || e.Tenant != "acme" || e.Disposition != disposition {
		t.Errorf("call = %s %s caller %q external %q tenant %q disposition %s", e.Direction, e.Origin, e.Caller, e.External, e.Tenant, e.Disposition)
	}
}

func TestClickRingsTheRegisteredTerminalThenTheCustomer(t *testing.T) {
	for _, pbx := range pbxes {
		for _, kind := range []store.TerminalKind{store.Desk, store.Mobile} {
			t.Run(pbx+"/"+string(kind), func(t *testing.T) {
				w := newWorld(t, pbx)
				term := w.register(kind)
				if kind == store.Mobile && term.Mobile == "" || kind == store.Desk && term.Device == "" {
					t.Fatalf("terminal = %+v", term)
				}
				// A customer cached by an earlier lookup is named on leg A
				// (desk); one never looked up shows the number alone (mobile).
				name := ""
				if kind == store.Desk {
					name = "Eva Meyer"
					if err := w.lookup.Remember(w.ctx, "acme", "", customer, zoho.Match{Module: "Contacts", ID: "1", Name: name}); err != nil {
						t.Fatal(err)
					}
				}
				if code := w.click("+49 (30) 123456"); code != http.StatusOK {
					t.Fatalf("click: %d", code)
				}
				if w.ari != nil {
					legA := "c2c-t1-a"
					eventually(t, "leg A in the application", func() bool { c, ok := w.ari.Channel(legA); return ok && c.Stasis != "" })
					a, _ := w.ari.Channel(legA)
					want := "PJSIP/1001"
					if kind == store.Mobile {
						want = "PJSIP/trunk" // PJSIP/+491701234567@trunk
					}
					wantName := name
					if wantName == "" {
						wantName = customer // the number stands for the name
					}
					if a.Endpoint != want || a.Caller.Number != customer || a.Caller.Name != wantName {
						t.Errorf("leg A = %s showing %q %q, want %s showing %q %s", a.Endpoint, a.Caller.Name, a.Caller.Number, want, wantName, customer)
					}
				}
				w.talk("t1")
				checkOneCall(t, w, events.DispositionAnswered)
				if errs := w.dialErrors(); len(errs) != 0 {
					t.Errorf("clicktodialerror sent for a good call: %v", errs)
				}
				if w.esl != nil {
					cmds := strings.Join(w.esl.Commands(), "\n")
					want := "user/1001@acme &bridge("
					if kind == store.Mobile {
						want = "sofia/gateway/trunk/+491701234567 &bridge("
					}
					if !strings.Contains(cmds, want) || !strings.Contains(cmds, "sofia/gateway/trunk/"+customer+")") {
						t.Errorf("originate does not ring %q then the customer:\n%s", want, cmds)
					}
					if named := strings.Contains(cmds, "origination_caller_id_name='Eva Meyer'") || strings.Contains(cmds, "origination_caller_id_name=Eva Meyer"); named != (name != "") {
						t.Errorf("leg A named %t, want %t:\n%s", named, name != "", cmds)
					}
				}
			})
		}
	}
}

// failing sets up one failure on a PBX simulator.
type failing struct {
	name     string
	asterisk func(s *arisim.Server)
	outcome  string // FreeSWITCH originate outcome
	code     string // clicktodialerror code
	mentions string
}

var failures = []failing{
	{name: "terminal busy", asterisk: func(s *arisim.Server) { s.SetBehavior("PJSIP/1001", arisim.Behavior{Outcome: "busy"}) },
		outcome: eslsim.OutcomeBusy, code: "busy", mentions: "Your phone is busy"},
	{name: "terminal no answer", asterisk: func(s *arisim.Server) { s.SetBehavior("PJSIP/1001", arisim.Behavior{Outcome: "noanswer"}) },
		outcome: eslsim.OutcomeNoAnswer, code: "noanswer", mentions: "Your phone was not answered"},
	{name: "customer busy", asterisk: func(s *arisim.Server) {
		s.SetBehavior("PJSIP/"+customer+"@trunk", arisim.Behavior{Outcome: "busy"})
	}, outcome: eslsim.OutcomeCustomerBusy, code: "busy", mentions: customer + " is busy"},
	{name: "customer no answer", asterisk: func(s *arisim.Server) {
		s.SetBehavior("PJSIP/"+customer+"@trunk", arisim.Behavior{Outcome: "noanswer"})
	}, outcome: eslsim.OutcomeCustomerNoAnswer, code: "noanswer", mentions: customer + " did not answer"},
}

func TestFailuresReachZohoAsClickToDialErrors(t *testing.T) {
	for _, pbx := range pbxes {
		for _, f := range failures {
			t.Run(pbx+"/"+f.name, func(t *testing.T) {
				w := newWorld(t, pbx)
				w.register(store.Desk)
				if w.ari != nil {
					f.asterisk(w.ari)
				} else {
					w.esl.SetOriginateOutcome(f.outcome)
				}
				if code := w.click(customer); code != http.StatusOK {
					t.Fatalf("click: %d", code)
				}
				var errs []url.Values
				eventually(t, "clicktodialerror", func() bool { errs = w.dialErrors(); return len(errs) > 0 })
				e := errs[0]
				if e.Get("code") != f.code || e.Get("zohouser") != zohoUser || e.Get("from") != "1001" || e.Get("to") != customer ||
					!strings.Contains(e.Get("message"), f.mentions) {
					t.Errorf("clicktodialerror = %v, want code %s mentioning %q", e, f.code, f.mentions)
				}
				eventually(t, "call ended", func() bool { e, _ := w.c2cCalls(); return len(e) == 1 })
				if w.ari != nil {
					if err := w.ari.WaitIdle(w.ctx); err != nil { // both legs and the bridge torn down
						t.Fatal(err)
					}
				}
				time.Sleep(20 * time.Millisecond)
				if errs := w.dialErrors(); len(errs) != 1 {
					t.Errorf("%d clicktodialerrors, want 1", len(errs))
				}
			})
		}
	}
}

func TestRefusedClicksOriginateNothing(t *testing.T) {
	for _, pbx := range pbxes {
		t.Run(pbx, func(t *testing.T) {
			w := newWorld(t, pbx)
			var originates atomic.Int32
			w.onOriginate = func() { originates.Add(1) }
			form := func(user, secret string) url.Values {
				return url.Values{"zohouser": {user}, "tonumber": {customer}, "ringside_auth": {secret}}
			}
			if code := w.post(form("pb-9999", w.secret)); code != http.StatusUnauthorized {
				t.Errorf("unknown user: %d, want 401", code)
			}
			if code := w.post(form(zohoUser, w.secret+"x")); code != http.StatusUnauthorized {
				t.Errorf("wrong secret: %d, want 401", code)
			}
			if code := w.post(url.Values{"zohouser": {zohoUser}, "tonumber": {customer}}); code != http.StatusUnauthorized {
				t.Errorf("no secret: %d, want 401", code)
			}
			if _, err := w.kv.SetSwitches(w.ctx, "acme", "1001", store.SwitchChange{ClickToCall: store.Off}); err != nil {
				t.Fatal(err)
			}
			if code := w.click(customer); code != http.StatusForbidden {
				t.Errorf("click-to-call off: %d, want 403", code)
			}
			var errs []url.Values
			eventually(t, "clicktodialerror blocked", func() bool { errs = w.dialErrors(); return len(errs) > 0 })
			if errs[0].Get("code") != "blocked" || !strings.Contains(errs[0].Get("message"), "switched off") {
				t.Errorf("clicktodialerror = %v", errs[0])
			}
			if n := originates.Load(); n != 0 {
				t.Errorf("%d originate commands for refused clicks", n)
			}
			if _, started := w.c2cCalls(); started != 0 {
				t.Errorf("%d calls started", started)
			}
		})
	}
}

func TestDoubleClickPlacesOneCall(t *testing.T) {
	for _, pbx := range pbxes {
		t.Run(pbx, func(t *testing.T) {
			w := newWorld(t, pbx)
			var originates atomic.Int32
			w.onOriginate = func() { originates.Add(1) }
			for range 2 {
				if code := w.click(customer); code != http.StatusOK {
					t.Fatalf("click: %d", code)
				}
			}
			// Another number is another call... of another click.
			w.talk("t1")
			checkOneCall(t, w, events.DispositionAnswered)
			if n := originates.Load(); n != 1 {
				t.Errorf("%d originate commands, want 1", n)
			}
		})
	}
}
