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
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ringside/ringside/adapters/natskv"
	"github.com/ringside/ringside/adapters/zoho"
	arisim "github.com/ringside/ringside/integration/sim/ari"
	zohosim "github.com/ringside/ringside/integration/sim/zoho"
	"github.com/ringside/ringside/pkg/clicktocall"
	"github.com/ringside/ringside/pkg/events"
	"github.com/ringside/ringside/pkg/store"
)

// TestClickToCallAndRecordingsEndToEnd runs `ringside serve` between the
// ARI simulator and the Zoho simulator (REST mode) with Ana (pb-1001,
// extension 1001) linked with click-to-call on and registered at Zoho like
// the admin API will (issue 7):
//
//   - *037 from Ana's desk phone sets her default terminal
//     (`ringside terminals show` sees it through nats.listen);
//   - Zoho calls the registered click-to-dial URL → leg A rings the desk
//     device showing the customer → answered → leg B to the customer →
//     bridged → one Outbound click_to_call log owned by Ana;
//   - a wrong secret is 401 and dials nothing;
//   - a busy customer is one clicktodialerror at Zoho;
//   - a recorded inbound call's log links <public_url>/recordings/<token>,
//     which serves the file (with Range), and a tampered token is 403.
func TestClickToCallAndRecordingsEndToEnd(t *testing.T) {
	recDir := t.TempDir()
	w := newZohoE2E(t, e2eOpts{mode: store.ModeREST, recordings: recDir})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	secret := w.linkForClickToCall(ctx, "1001")

	// *037 from Ana's desk phone.
	if err := w.ari.Play("feature_code_desk"); err != nil {
		t.Fatal(err)
	}
	var shown string
	eventually(t, 30*time.Second, "the default terminal in `ringside terminals show`", func() bool {
		shown = w.ringside(0, "terminals", "show", "-tenant", "acme", "-extension", "1001")
		return strings.Contains(shown, "desk PJSIP/1001")
	})
	if list := w.ringside(0, "terminals", "list", "-tenant", "acme"); !strings.Contains(list, "1001") || !strings.Contains(list, "desk PJSIP/1001") {
		t.Errorf("terminals list:\n%s", list)
	}

	t.Run("click rings the default terminal then the customer", func(t *testing.T) {
		code, err := w.sim.ClickToDial(ctx, e2eOrg, "pb-1001", "+49 30 123456")
		if err != nil || code != http.StatusOK {
			t.Fatalf("click: %d %v", code, err)
		}
		var legA, legB ariChannel
		eventually(t, 30*time.Second, "both legs up", func() bool {
			legA, legB = ariChannel{}, ariChannel{}
			for _, c := range w.ariChannels() {
				switch {
				case strings.HasPrefix(c.ID, "c2c-") && strings.HasSuffix(c.ID, "-a"):
					legA = c
				case strings.HasPrefix(c.ID, "c2c-") && strings.HasSuffix(c.ID, "-b"):
					legB = c
				}
			}
			return legA.State == "Up" && legB.State == "Up"
		})
		if !strings.HasPrefix(legA.Name, "PJSIP/1001-") || legA.Caller.Number != arisim.Customer {
			t.Errorf("leg A = %s showing %q, want Ana's desk phone showing %s", legA.Name, legA.Caller.Number, arisim.Customer)
		}
		if !strings.HasPrefix(legB.Name, "PJSIP/trunk-") {
			t.Errorf("leg B = %s, want the trunk", legB.Name)
		}
		if !strings.Contains(w.p.errOut(), `"terminal":"desk"`) {
			t.Error("the click did not ring the desk terminal *037 registered")
		}
		w.ari.RemoteHangup(legB.ID, 16) // the customer hangs up
		if err := w.ari.WaitIdle(ctx); err != nil {
			t.Fatal(err)
		}
		var call events.Call
		eventually(t, 30*time.Second, "the click-to-call to end", func() bool {
			cs := w.clickToCalls()
			if len(cs) == 1 {
				call = cs[0]
			}
			return len(cs) == 1
		})
		if call.Direction != events.Outbound || call.Caller != "1001" || call.External != arisim.Customer ||
			call.Disposition != events.DispositionAnswered {
			t.Errorf("call = %s caller %q external %q disposition %s", call.Direction, call.Caller, call.External, call.Disposition)
		}
		var rec zohosim.Record
		eventually(t, 30*time.Second, "the click-to-call's log", func() bool {
			recs, _ := w.restRecords()
			r, ok := recs[call.CallID]
			rec = r
			return ok
		})
		time.Sleep(500 * time.Millisecond) // a duplicate would come now
		if _, n := w.restRecords(); n != 1 {
			t.Errorf("%d Calls records, want 1", n)
		}
		if rec["Call_Type"] != "Outbound" || lookupID(rec["Owner"]) != "9001" {
			t.Errorf("log: type %v owner %v, want Outbound owned by Ana (9001)", rec["Call_Type"], rec["Owner"])
		}
		if errs := w.dialErrors(); len(errs) != 0 {
			t.Errorf("clicktodialerror for a good call: %v", errs)
		}
	})

	t.Run("wrong secret", func(t *testing.T) {
		before := w.metric("ringside_clicktocall_requests_total", `result="accepted"`)
		resp, err := http.PostForm(clicktocall.ClickToDialURL(w.base, "acme"),
			url.Values{"zohouser": {"pb-1001"}, "tonumber": {"+4930777888"}, "ringside_auth": {"not-" + secret}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong secret: %d, want 401", resp.StatusCode)
		}
		time.Sleep(300 * time.Millisecond)
		if n := w.ari.Channels(); n != 0 {
			t.Errorf("%d channels after a refused click", n)
		}
		if n := w.metric("ringside_clicktocall_requests_total", `result="unauthorized"`); n != 1 {
			t.Errorf("unauthorized clicks = %v, want 1", n)
		}
		if n := w.metric("ringside_clicktocall_requests_total", `result="accepted"`); n != before {
			t.Errorf("accepted clicks went from %v to %v", before, n)
		}
	})

	t.Run("customer busy", func(t *testing.T) {
		const busy = "+4930555666"
		w.ari.SetBehavior("PJSIP/"+busy+"@trunk", arisim.Behavior{Outcome: "busy"})
		code, err := w.sim.ClickToDial(ctx, e2eOrg, "pb-1001", busy)
		if err != nil || code != http.StatusOK {
			t.Fatalf("click: %d %v", code, err)
		}
		eventually(t, 30*time.Second, "a clicktodialerror", func() bool { return len(w.dialErrors()) > 0 })
		time.Sleep(500 * time.Millisecond) // a second report would come now
		errs := w.dialErrors()
		if len(errs) != 1 {
			t.Fatalf("%d clicktodialerror reports, want 1: %v", len(errs), errs)
		}
		if e := errs[0]; e.Get("code") != "busy" || e.Get("zohouser") != "pb-1001" || !strings.Contains(e.Get("message"), busy+" is busy") {
			t.Errorf("clicktodialerror = %v", e)
		}
		if err := w.ari.WaitIdle(ctx); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("recording link", func(t *testing.T) {
		before := w.endedEvents()
		w.play("inbound_recorded")
		var call events.Call
		eventually(t, 30*time.Second, "the recording of the call", func() bool {
			for id, e := range w.endedEvents() {
				if _, old := before[id]; !old && e.Recording != "" {
					call = e
					return true
				}
			}
			return false
		})
		if !strings.HasPrefix(call.Recording, recDir+"/acme/") {
			t.Fatalf("recording %q is not under recordings.dirs %s", call.Recording, recDir)
		}
		audio := []byte("RIFF\x24\x00\x00\x00WAVEfmt recorded call audio")
		if err := os.MkdirAll(filepath.Dir(call.Recording), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(call.Recording, audio, 0o600); err != nil {
			t.Fatal(err)
		}
		var desc string
		eventually(t, 30*time.Second, "the recorded call's log", func() bool {
			recs, _ := w.restRecords()
			desc, _ = recs[call.CallID]["Description"].(string)
			return desc != ""
		})
		link := regexp.MustCompile(regexp.QuoteMeta(w.base) + `/recordings/[A-Za-z0-9_.-]+`).FindString(desc)
		if link == "" {
			t.Fatalf("the log has no %s/recordings/ link: %q", w.base, desc)
		}
		if strings.Contains(link, "monitor") || strings.Contains(link, recDir) {
			t.Errorf("the link shows the path: %s", link)
		}
		code, body, hdr := fetch(t, link, "")
		if code != http.StatusOK || body != string(audio) || hdr.Get("Content-Type") != "audio/wav" {
			t.Errorf("GET link = %d %q (%s), want the file", code, body, hdr.Get("Content-Type"))
		}
		code, body, hdr = fetch(t, link, "bytes=4-9")
		if code != http.StatusPartialContent || body != string(audio[4:10]) ||
			hdr.Get("Content-Range") != "bytes 4-9/"+strconv.Itoa(len(audio)) {
			t.Errorf("Range = %d %q %q", code, body, hdr.Get("Content-Range"))
		}
		// Flip one character of the signature.
		i := strings.LastIndexByte(link, '.') + 3
		flip := map[byte]byte{'A': 'B'}[link[i]]
		if flip == 0 {
			flip = 'A'
		}
		if code, body, _ := fetch(t, link[:i]+string(flip)+link[i+1:], ""); code != http.StatusForbidden || strings.Contains(body, recDir) {
			t.Errorf("tampered token = %d %q, want 403", code, body)
		}
	})

	// Reset from the CLI: click-to-call rings the extension itself again.
	if out := w.ringside(0, "terminals", "reset", "-tenant", "acme", "-extension", "1001"); !strings.Contains(out, "reset") {
		t.Errorf("terminals reset: %s", out)
	}
	if out := w.ringside(0, "terminals", "show", "-tenant", "acme", "-extension", "1001"); !strings.Contains(out, "no default terminal set") {
		t.Errorf("terminals show after reset: %s", out)
	}
	w.ringside(2, "terminals", "show", "-tenant", "acme") // -extension missing
	w.ringside(1, "terminals", "show", "-tenant", "acme", "-extension", "4711")

	w.stop()
	if strings.Contains(w.p.errOut(), secret) {
		t.Error("the click-to-call secret reached the log")
	}
}

// linkForClickToCall links ext's Zoho user again with a fresh secret and
// click-to-call on, and registers the user's click-to-dial and
// call-control URLs at Zoho, as the admin API will (issue 7). It returns
// the secret.
func (w *zohoE2E) linkForClickToCall(ctx context.Context, ext string) string {
	w.t.Helper()
	js, err := jetstream.New(w.nc)
	if err != nil {
		w.t.Fatal(err)
	}
	st, err := natskv.New(ctx, js, "ringside")
	if err != nil {
		w.t.Fatal(err)
	}
	old, err := st.Unlink(ctx, "acme", ext)
	if err != nil {
		w.t.Fatal(err)
	}
	l := old
	l.Secret = zoho.NewSecret()
	l.Switches = store.Switches{Notifications: true, ClickToCall: true}
	if l, err = st.Link(ctx, l); err != nil {
		w.t.Fatal(err)
	}
	ci, err := zoho.LoadKeyFile(filepath.Join(w.dir, "token.key"))
	if err != nil {
		w.t.Fatal(err)
	}
	c, err := zoho.New(zoho.Options{ClientID: w.sim.ClientID(), ClientSecret: w.sim.ClientSecret(),
		AccountsURL: w.sim.AccountsURL("us"), APIURL: w.sim.APIDomain("us"), Tenants: st, Records: st, Claims: st,
		Cipher: ci, Timeout: 2 * time.Second})
	if err != nil {
		w.t.Fatal(err)
	}
	if err := c.RegisterUser(ctx, "acme", zoho.Registration{ZohoUser: l.ZohoUser,
		ClickToDial: clicktocall.ClickToDialURL(w.base, "acme"), CallControl: clicktocall.CallControlURLs(w.base, "acme"),
		Secret: l.Secret, ParamName: "ringside_auth"}); err != nil {
		w.t.Fatal(err)
	}
	return l.Secret
}

// ringside runs a command of the built binary on the world's configuration
// and returns its output; the exit code must be want.
func (w *zohoE2E) ringside(want int, args ...string) string {
	w.t.Helper()
	args = append(args[:2:2], append([]string{"-config", w.cfg}, args[2:]...)...)
	p := start(w.t, w.env, args...)
	code := p.waitExit(60 * time.Second)
	out := p.out() + p.errOut()
	if code != want {
		w.t.Fatalf("ringside %s: exit %d, want %d\n%s", strings.Join(args, " "), code, want, out)
	}
	return out
}

// clickToCalls are the ended click-to-calls.
func (w *zohoE2E) clickToCalls() []events.Call {
	var out []events.Call
	for _, e := range w.endedEvents() {
		if e.Origin == events.OriginClickToCall {
			out = append(out, e)
		}
	}
	return out
}

func (w *zohoE2E) dialErrors() []url.Values {
	var out []url.Values
	w.sim.Org(e2eOrg, func(o *zohosim.Org) { out = append(out, o.DialErrors...) })
	return out
}

func (w *zohoE2E) metric(name string, labels ...string) float64 {
	_, scrape := get(w.t, w.base+"/metrics")
	return metricSum(scrape, name, labels...)
}

type ariChannel struct {
	ID, Name, State string
	Caller          arisim.CallerID
}

// ariChannels lists the simulated Asterisk's channels over ARI.
func (w *zohoE2E) ariChannels() []ariChannel {
	w.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, w.ari.URL()+"/channels", nil)
	req.SetBasicAuth("ringside", "ari-secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	var cs []ariChannel
	if err := json.NewDecoder(resp.Body).Decode(&cs); err != nil {
		w.t.Fatal(err)
	}
	return cs
}

// fetch GETs url with an optional Range header.
func fetch(t *testing.T, u, rng string) (int, string, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	if rng != "" {
		req.Header.Set("Range", rng)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}
