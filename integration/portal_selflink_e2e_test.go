package integration

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	zohosim "github.com/ringside/ringside/integration/sim/zoho"
	"github.com/ringside/ringside/pkg/store"
)

// TestPortalSelfLinkInChromium: on the page of an unlinked extension an
// operator starts "Link by signing in at Zoho"; the person at the
// extension opens the Zoho verification page the portal shows (in a
// browser of their own), enters the code and approves as Ben; the page,
// polling, shows the extension linked to Ben, registered at Zoho
// (PhoneBridge mode) and audited as a self-service link. A denied code, an
// expired one and a cancelled one link nothing and say so. On the Zoho
// page the operator also sets and clears the default responsible user.
func TestPortalSelfLinkInChromium(t *testing.T) {
	browser := newBrowser(t)
	w := newPortalWorld(t, "")
	b := newTab(t, browser, w.base, "en")
	b.shootOnFailure(t)
	b.login(t, "olga", portalPassword)

	t.Run("not offered before Zoho is connected", func(t *testing.T) {
		b.shootOnFailure(t)
		b.open(t, "/tenants/acme/users/1002")
		b.expectText(t, "#selflink-problem", "Enable the Zoho integration to link users.")
		if b.has(t, "#selflink-start") {
			t.Error("self-service linking is offered without a Zoho connection")
		}
	})

	b.open(t, "/tenants/acme/zoho")
	b.step(t, "choose phonebridge", chromedp.Click(chromedp.CSS("#mode-phonebridge")))
	b.submit(t, "#enable")
	if resp := b.submit(t, "#accept-"+e2eOrg); !strings.HasSuffix(resp.URL, "/tenants/acme/zoho?connect=ok") {
		t.Fatalf("connecting Zoho ended on %s", resp.URL)
	}

	t.Run("default responsible user", func(t *testing.T) {
		b.shootOnFailure(t)
		b.open(t, "/tenants/acme/zoho")
		b.expectText(t, "#default-user-now", "None")
		if opts := b.text(t, "#default-user-choice"); !strings.Contains(opts, "Boss <boss@acme.example>") || !strings.Contains(opts, "Ben <ben@acme.example>") {
			t.Errorf("the choices are %q", opts)
		}
		b.step(t, "choose Boss", chromedp.SetValue(chromedp.CSS("#default-user-choice"), "9009"))
		b.submit(t, "#default-user-set")
		b.expectText(t, "#flash", "The default responsible user is boss@acme.example")
		b.expectText(t, "#default-user-now", "Boss <boss@acme.example>")
		if v, _ := chromedp.Run(b.ctx, chromedp.Value(chromedp.CSS("#default-user-choice"))); v != "9009" {
			t.Errorf("the select shows %q, want the current one", v)
		}
		if tn, err := w.st.Tenant(context.Background(), "acme"); err != nil || tn.Settings.DefaultUser != "9009" {
			t.Errorf("stored default user %q %v", tn.Settings.DefaultUser, err)
		}
		b.step(t, "choose none", chromedp.SetValue(chromedp.CSS("#default-user-choice"), ""))
		b.submit(t, "#default-user-set")
		b.expectText(t, "#flash", "There is no default responsible user any more")
		b.expectText(t, "#default-user-now", "None")
		if tn, _ := w.st.Tenant(context.Background(), "acme"); tn.Settings.DefaultUser != "" {
			t.Errorf("stored default user %q after clearing", tn.Settings.DefaultUser)
		}
		b.open(t, "/tenants/acme/audit")
		b.expectText(t, "#audit", "tenant.update", "default_user=9009")
	})

	// start starts a self-service link of ext and returns the code and the
	// verification page the portal shows.
	start := func(t *testing.T, ext string) (string, string) {
		t.Helper()
		b.open(t, "/tenants/acme/users/"+ext)
		b.expectText(t, "#user-link", "Not linked")
		b.submit(t, "#selflink-start")
		code := strings.TrimSpace(b.text(t, "#selflink-code"))
		verify, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.querySelector("#selflink-url").href`))
		if err != nil || code == "" {
			t.Fatalf("no code (%q) or verification page (%v) shown", code, err)
		}
		if !strings.HasPrefix(verify, w.sim.AccountsURL("eu")+"/oauth/v3/device") {
			t.Errorf("verification page %s, want the tenant's data centre's", verify)
		}
		b.expectText(t, "#selflink", "valid until", "waits for the approval")
		return code, verify
	}
	// atZoho plays the person at the extension: their own browser opens
	// the verification page, enters the code and presses a button.
	atZoho := func(t *testing.T, verify, code, button, want string) {
		t.Helper()
		u := newTab(t, browser, w.base, "en")
		u.shootOnFailure(t)
		ctx, cancel := context.WithTimeout(u.ctx, actionTimeout)
		defer cancel()
		if _, err := chromedp.Run(ctx, chromedp.NavigateResponse(verify)); err != nil {
			t.Fatalf("open %s: %v", verify, err)
		}
		u.step(t, "enter the code", chromedp.SetValue(chromedp.CSS("#user-code"), code))
		u.submit(t, button)
		u.expectText(t, "#result", want)
	}

	t.Run("approved as Ben", func(t *testing.T) {
		b.shootOnFailure(t)
		code, verify := start(t, "1002")
		req := w.sim.Requests("POST /oauth/v3/device/code")
		if len(req) == 0 || req[len(req)-1].Form.Get("scope") != "ZohoCRM.users.READ" {
			t.Errorf("device code requests %+v: want the users scope alone", req)
		}
		atZoho(t, verify, code, "#approve-"+e2eOrg+"-9002", "Approved as ben@acme.example")
		// The page polls, then reloads with the link.
		b.waitText(t, 45*time.Second, "#user-link", "Ben <ben@acme.example>")
		b.expectText(t, "#flash", "Extension 1002 is linked to ben@acme.example, who signed in at Zoho")
		b.expectText(t, "#notifications-state", "ON")
		if b.has(t, "#selflink") {
			t.Error("a linked user still offers self-service linking")
		}
		l, err := w.link("1002")
		if err != nil || l.ZohoUser != "pb-1002" || l.CRMUser != "9002" || !l.Switches.ClickToCall {
			t.Fatalf("stored link %+v %v", l, err)
		}
		w.sim.Org(e2eOrg, func(o *zohosim.Org) {
			if o.ClickToDial["pb-1002"] == nil {
				t.Error("Ben's click-to-dial URL is not registered at Zoho")
			}
		})
		asked := false
		for _, r := range w.sim.Requests("GET /crm/v8/users") {
			asked = asked || r.Query.Get("type") == "CurrentUser"
		}
		if !asked {
			t.Error("Ringside did not ask Zoho who approved (users?type=CurrentUser)")
		}
		entries, _, err := w.st.ListAudit(context.Background(), "acme", store.Page{Limit: 50})
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, e := range entries {
			found = found || (e.Action == "user.link" && e.Target == "1002" && e.Actor == "olga" && e.Via == store.ViaPortal &&
				e.Error == "" && strings.Contains(e.Detail, "self-service link by device code "+code))
		}
		if !found {
			t.Errorf("no audit entry of the self-service link in %+v", entries)
		}
		b.open(t, "/tenants/acme/audit")
		b.expectText(t, "#audit", "user.selflink.start", "self-service link by device code")
	})

	t.Run("denied at Zoho", func(t *testing.T) {
		b.shootOnFailure(t)
		code, verify := start(t, "1003")
		atZoho(t, verify, code, "#deny", "Access denied.")
		b.waitText(t, 45*time.Second, "#flash", "The sign-in at Zoho was denied. Nothing changed")
		b.expectText(t, "#user-link", "Not linked")
		if !b.has(t, "#selflink-start") {
			t.Error("no new start offered after a denial")
		}
		if _, err := w.link("1003"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("1003 linked after a denial: %v", err)
		}
	})

	t.Run("the code expires", func(t *testing.T) {
		b.shootOnFailure(t)
		code, _ := start(t, "1003")
		w.sim.ExpireDevice(code)
		b.waitText(t, 45*time.Second, "#flash", "The code expired before it was approved at Zoho")
		if _, err := w.link("1003"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("1003 linked after the code expired: %v", err)
		}
	})

	t.Run("cancelled", func(t *testing.T) {
		b.shootOnFailure(t)
		code, verify := start(t, "1004")
		b.submit(t, "#selflink-cancel")
		b.expectText(t, "#flash", "Linking by signing in at Zoho was cancelled")
		// Approving the cancelled code afterwards links nothing.
		atZoho(t, verify, code, "#approve-"+e2eOrg+"-9003", "Approved as cleo@acme.example")
		b.open(t, "/tenants/acme/users/1004")
		b.expectText(t, "#user-link", "Not linked")
		if b.has(t, "#selflink-code") {
			t.Error("the cancelled code is still shown")
		}
		if _, err := w.link("1004"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("1004 linked after cancelling: %v", err)
		}
	})
}
