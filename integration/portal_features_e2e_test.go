package integration

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ringside/ringside/pkg/store"
)

// The Features page of the portal on the built binary (the world of
// portal_e2e_test.go): feature switches, call settings, the blacklist and
// webhook subscriptions, each checked in the store the daemon uses and in
// `ringside tenants show`; the service's refusals as flashes that change
// nothing; a company admin of another tenant refused; the page in Spanish.

// featuresWebhooksYAML makes a failing receiver disabled within seconds:
// three failed handshake rounds, 200 ms to 1 s apart (the sweep runs every
// 2 s).
const featuresWebhooksYAML = "webhooks:\n  timeout: 1s\n  max_failures: 3\n  backoff: {initial: 200ms, max: 1s}\n"

// cli runs a ringside command against the world's daemon (its
// configuration and environment) and returns its output.
func (w *portalWorld) cli(args ...string) string {
	w.t.Helper()
	cfg := ""
	for i, a := range w.p.cmd.Args {
		if a == "-config" && i+1 < len(w.p.cmd.Args) {
			cfg = w.p.cmd.Args[i+1]
		}
	}
	var env []string
	for _, e := range w.p.cmd.Env {
		if !strings.HasPrefix(e, "PATH=") && !strings.HasPrefix(e, "HOME=") {
			env = append(env, e)
		}
	}
	args = append(args[:2:2], append([]string{"-config", cfg}, args[2:]...)...)
	code, out := runIn(w.t, env, portalPassword+"\n", args...)
	if code != 0 {
		w.t.Fatalf("ringside %s: exit %d\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

// tenant reads a tenant from the store.
func (w *portalWorld) tenant(id string) store.Tenant {
	w.t.Helper()
	t, err := w.st.Tenant(context.Background(), id)
	if err != nil {
		w.t.Fatal(err)
	}
	return t
}

// showLine is the value of one line of `ringside tenants show`.
func showLine(out, key string) string {
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(key) + `\s{2,}(.*)$`).FindStringSubmatch(out)
	if m == nil {
		return ""
	}
	return strings.TrimSpace(m[1])
}

// TestPortalFeaturesInChromium drives a company admin through the Features
// page: a feature switched on, the call settings, the blacklist, a webhook
// (its secret once, its delivery log, disabled by failures, enabled again,
// removed), and the refusals; then another tenant's admin, an operator and
// the page in Spanish.
func TestPortalFeaturesInChromium(t *testing.T) {
	browser := newBrowser(t)
	w := newPortalWorld(t, featuresWebhooksYAML)
	w.cli("accounts", "add", "-username", "gil", "-role", "admin", "-tenant", "globex")
	b := newTab(t, browser, w.base, "en-US,en;q=0.9")
	b.shootOnFailure(t)
	b.login(t, "adam", portalPassword)
	ctx := context.Background()

	t.Run("missed-call tasks switched on", func(t *testing.T) {
		b.shootOnFailure(t)
		b.open(t, "/tenants/acme/users")
		b.expectText(t, "nav.tenant", "Users", "Zoho integration", "Features", "Live calls", "Audit log")
		resp := b.submit(t, `nav.tenant a[href="/tenants/acme/features"]`)
		if resp.Status != http.StatusOK {
			t.Fatalf("the Features page: %d", resp.Status)
		}
		b.expectText(t, "h1", "Features of acme")
		b.expectText(t, "#feature-missed_call_task", "Missed-call tasks", "missed_call_task", "OFF", "call-back Task")
		b.expectText(t, "#feature-caller_name", "Caller name", "OFF")
		b.submit(t, "#feature-missed_call_task-toggle")
		b.expectText(t, "#flash", "missed_call_task is on")
		b.expectText(t, "#feature-missed_call_task-state", "ON")
		b.expectText(t, "#feature-caller_name-state", "OFF")
		if f := w.tenant("acme").Settings.Features; !f["missed_call_task"] || len(f) != 1 {
			t.Errorf("stored features %v, want missed_call_task alone", f)
		}
		if on := showLine(w.cli("tenants", "show", "-tenant", "acme"), "features on"); on != "missed_call_task" {
			t.Errorf("tenants show: features on %q", on)
		}
		// And off again, and on: the switch follows the store.
		b.submit(t, "#feature-owner_routing-toggle")
		b.expectText(t, "#feature-owner_routing-state", "ON")
		b.submit(t, "#feature-owner_routing-toggle")
		b.expectText(t, "#flash", "owner_routing is off")
		b.expectText(t, "#feature-owner_routing-state", "OFF")
		if f := w.tenant("acme").Settings.Features; f["owner_routing"] || !f["missed_call_task"] {
			t.Errorf("stored features %v", f)
		}
	})

	t.Run("call settings", func(t *testing.T) {
		b.shootOnFailure(t)
		b.open(t, "/tenants/acme/features")
		if v, _ := chromedp.Run(b.ctx, chromedp.Value(chromedp.CSS("#internal-policy"))); v != "skip" {
			t.Errorf("internal policy shown as %q, want skip (the default)", v)
		}
		b.step(t, "choose light", chromedp.SetValue(chromedp.CSS("#internal-policy"), "light"))
		b.submit(t, "#internal-policy-set")
		b.expectText(t, "#flash", "Settings saved")
		if v, _ := chromedp.Run(b.ctx, chromedp.Value(chromedp.CSS("#internal-policy"))); v != "light" {
			t.Errorf("internal policy shown as %q after saving light", v)
		}
		b.step(t, "technical extensions", chromedp.SetValue(chromedp.CSS("#technical-extensions"), "8*, fax"))
		b.submit(t, "#technical-extensions-set")
		b.step(t, "own numbers", chromedp.SetValue(chromedp.CSS("#own-numbers"), "0049 30 999000, +4930999*"))
		b.submit(t, "#own-numbers-set")
		b.expectText(t, "#flash", "Settings saved")
		if v, _ := chromedp.Run(b.ctx, chromedp.Value(chromedp.CSS("#own-numbers"))); v != "+4930999000, +4930999*" {
			t.Errorf("own numbers shown as %q", v)
		}
		b.step(t, "lead module", chromedp.SetValue(chromedp.CSS("#lead-module"), "Contacts"))
		b.submit(t, "#lead-module-set")
		st := w.tenant("acme").Settings
		if st.InternalPolicy != store.InternalLight || !slices.Equal(st.TechnicalExtensions, []string{"8*", "fax"}) ||
			!slices.Equal(st.OwnNumbers, []string{"+4930999000", "+4930999*"}) || st.LeadModule != "Contacts" {
			t.Errorf("stored settings %+v", st)
		}
		show := w.cli("tenants", "show", "-tenant", "acme")
		for key, want := range map[string]string{"internal calls": "light", "technical extensions": "8*,fax",
			"own numbers": "+4930999000,+4930999*", "lead module": "Contacts"} {
			if got := showLine(show, key); got != want {
				t.Errorf("tenants show: %s %q, want %q", key, got, want)
			}
		}
	})

	t.Run("refusals change nothing", func(t *testing.T) {
		b.shootOnFailure(t)
		before := w.tenant("acme")
		b.open(t, "/tenants/acme/features")
		for _, c := range []struct{ field, value, button, detail string }{
			{"#technical-extensions", "8*, [0-9", "#technical-extensions-set", "technical extension pattern"},
			{"#own-numbers", "+4930999000, 12345", "#own-numbers-set", "own number"},
			{"#blacklist-number", "call me", "#blacklist-add", "blacklist entry"},
			{"#blacklist-number", "+4*", "#blacklist-add", "blacklist entry"},
			{"#webhook-url", "http://127.0.0.1:9/hooks", "#webhook-add", "use https"},
		} {
			b.step(t, "type "+c.value, chromedp.SetValue(chromedp.CSS(c.field), c.value))
			b.submit(t, c.button)
			b.expectText(t, "#flash", "Invalid input: ", c.detail)
			if cls, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.querySelector("#flash").className`)); cls != "flash error" {
				t.Errorf("%s: the refusal is shown as %q", c.value, cls)
			}
		}
		after := w.tenant("acme")
		if after.Version != before.Version {
			t.Errorf("refused changes changed the tenant: %+v, was %+v", after.Settings, before.Settings)
		}
		if hooks, err := w.st.ListWebhooks(ctx, "acme"); err != nil || len(hooks) != 0 {
			t.Errorf("a refused webhook was stored: %v %v", hooks, err)
		}
		if v, _ := chromedp.Run(b.ctx, chromedp.Value(chromedp.CSS("#technical-extensions"))); v != "8*, fax" {
			t.Errorf("technical extensions shown as %q after a refusal", v)
		}
		// The refusals are audited as failed attempts.
		entries, _, err := w.st.ListAudit(ctx, "acme", store.Page{Limit: 50})
		if err != nil {
			t.Fatal(err)
		}
		failed := 0
		for _, e := range entries {
			if e.Error != "" && e.Actor == "adam" && e.Via == store.ViaPortal {
				failed++
			}
		}
		if failed < 5 {
			t.Errorf("%d refused changes audited, want 5", failed)
		}
	})

	t.Run("blacklist", func(t *testing.T) {
		b.shootOnFailure(t)
		b.open(t, "/tenants/acme/features")
		b.expectText(t, "#blacklist-empty", "No one is blacklisted.")
		b.step(t, "a prefix", chromedp.SetValue(chromedp.CSS("#blacklist-number"), "+4990*"))
		b.submit(t, "#blacklist-add")
		b.expectText(t, "#flash", "+4990* is on the blacklist")
		b.step(t, "a number with blanks", chromedp.SetValue(chromedp.CSS("#blacklist-number"), "0049 30 123456"))
		b.submit(t, "#blacklist-add")
		b.expectText(t, "#flash", "+4930123456 is on the blacklist")
		b.expectText(t, "#blacklist-entries", "+4990*", "+4930123456")
		b.step(t, "congestion", chromedp.SetValue(chromedp.CSS("#blacklist-reason"), "congestion"))
		b.submit(t, "#blacklist-reason-set")
		b.expectText(t, "#flash", "Saved how blacklisted calls are rejected")
		st := w.tenant("acme").Settings
		if !slices.Equal(st.Blacklist, []string{"+4990*", "+4930123456"}) || st.BlacklistReason != store.BlockCongestion {
			t.Errorf("stored blacklist %v, reason %q", st.Blacklist, st.BlacklistReason)
		}

		row := `#blacklist-entries tr[data-number="+4990*"]`
		b.step(t, "open and cancel the remove dialog",
			chromedp.Click(chromedp.CSS(row+" button[data-open]")),
			chromedp.WaitVisible(chromedp.CSS(row+" dialog")),
			chromedp.Click(chromedp.CSS(row+" dialog button[data-close]")),
			chromedp.WaitNotVisible(chromedp.CSS(row+" dialog")))
		if bl := w.tenant("acme").Settings.Blacklist; len(bl) != 2 {
			t.Fatalf("blacklist after Cancel: %v", bl)
		}
		b.step(t, "open the remove dialog", chromedp.Click(chromedp.CSS(row+" button[data-open]")), chromedp.WaitVisible(chromedp.CSS(row+" dialog")))
		b.expectText(t, row+" dialog", "Remove +4990* from the blacklist? Its calls ring again.")
		b.submit(t, row+` dialog button[type="submit"]`)
		b.expectText(t, "#flash", "+4990* is no longer on the blacklist")
		if b.has(t, row) {
			t.Error("the removed entry is still listed")
		}
		if bl := w.tenant("acme").Settings.Blacklist; !slices.Equal(bl, []string{"+4930123456"}) {
			t.Errorf("stored blacklist %v after removing +4990*", bl)
		}
		if out := w.cli("blacklist", "list", "-tenant", "acme"); strings.Contains(out, "+4990*") || !strings.Contains(out, "+4930123456") {
			t.Errorf("blacklist list:\n%s", out)
		}
	})

	var hookID, secret string
	t.Run("a webhook: its secret once, its delivery log", func(t *testing.T) {
		b.shootOnFailure(t)
		down := "https://" + freeAddr(t) + "/hooks" // nothing listens: every handshake fails
		b.open(t, "/tenants/acme/features")
		b.expectText(t, "#webhooks-empty", "No webhooks yet.")
		b.step(t, "fill the webhook form",
			chromedp.SetValue(chromedp.CSS("#webhook-url"), down),
			chromedp.Click(chromedp.CSS("#event-ended")),
			chromedp.Click(chromedp.CSS("#event-ringing")))
		resp := b.submit(t, "#webhook-add")
		if resp.Status != http.StatusCreated || !strings.HasSuffix(resp.URL, "/tenants/acme/features/webhooks") {
			t.Fatalf("adding a webhook: %d %s", resp.Status, resp.URL)
		}
		b.expectText(t, "h1", "Webhook added")
		b.expectText(t, "#secret-warning", "Copy this secret now: it is shown only this once")
		secret = b.text(t, "#webhook-secret")
		hookID = b.text(t, "#webhook-id")
		hooks, err := w.st.ListWebhooks(ctx, "acme")
		if err != nil || len(hooks) != 1 {
			t.Fatalf("stored webhooks %v %v", hooks, err)
		}
		h := hooks[0]
		if !regexp.MustCompile(`^whsec_[0-9a-f]{64}$`).MatchString(secret) || h.Secret != secret || h.ID != hookID ||
			h.URL != down || !slices.Equal(h.Events, []string{"ringing", "ended"}) {
			t.Fatalf("shown %s %s, stored %+v", hookID, secret, h)
		}

		// The list shows it, never its secret.
		b.open(t, "/tenants/acme/features")
		b.expectText(t, "#webhook-"+hookID, down, "ringing", "ended")
		b.expectText(t, "#webhook-"+hookID+"-state", "pending verification")
		if html, _ := chromedp.Run(b.ctx, chromedp.OuterHTML(chromedp.CSS("html"))); strings.Contains(html, secret) || strings.Contains(html, "whsec_") {
			t.Error("the Features page shows the webhook's secret")
		}

		// Every failed handshake is in the delivery log.
		eventually(t, 30*time.Second, "a failed handshake in the delivery log", func() bool {
			_, n, err := w.st.ListDeliveries(ctx, "acme", hookID, store.Page{})
			return err == nil && n >= 2
		})
		b.submit(t, "#webhook-"+hookID+"-log")
		b.expectText(t, "h1", "Delivery log")
		b.expectText(t, "#webhook-url", down)
		b.expectText(t, "#deliveries", "ringside.verify", "network error")
		b.expectText(t, "#range", "1–")
		if b.has(t, "#prev") {
			t.Error("the first page of the log links a previous one")
		}
		if html, _ := chromedp.Run(b.ctx, chromedp.OuterHTML(chromedp.CSS("html"))); strings.Contains(html, secret) {
			t.Error("the delivery log shows the webhook's secret")
		}
		b.open(t, "/tenants/acme/features/webhooks/"+hookID+"?offset=1")
		b.expectText(t, "#range", "2–")
		if !b.has(t, "#prev") {
			t.Error("the second page of the log links no previous one")
		}
		if status := b.open(t, "/tenants/acme/features/webhooks/wh_nosuch"); status != http.StatusNotFound {
			t.Errorf("an unknown webhook's log: %d, want 404", status)
		}
	})

	t.Run("a webhook disabled by failures, enabled again, removed", func(t *testing.T) {
		b.shootOnFailure(t)
		if hookID == "" {
			t.Skip("no webhook (the subtest before failed)")
		}
		eventually(t, 60*time.Second, "the failing webhook disabled", func() bool {
			h, err := w.st.Webhook(ctx, "acme", hookID)
			return err == nil && h.State == store.WebhookDisabled
		})
		b.open(t, "/tenants/acme/features")
		b.expectText(t, "#webhook-"+hookID+"-state", "disabled")
		if reason := b.text(t, "#webhook-"+hookID+" .reason"); reason == "" {
			t.Error("a disabled webhook shows no reason")
		}
		b.expectText(t, "#webhook-"+hookID+" .failures", "3")
		b.submit(t, "#webhook-"+hookID+"-enable")
		b.expectText(t, "#flash", "is pending: Ringside verifies its receiver now")
		if h, _ := w.st.Webhook(ctx, "acme", hookID); h.State == store.WebhookDisabled {
			t.Errorf("still disabled after Enable: %+v", h)
		}

		b.step(t, "open and cancel the remove dialog",
			chromedp.Click(chromedp.CSS("#webhook-"+hookID+"-remove-open")),
			chromedp.WaitVisible(chromedp.CSS("#webhook-"+hookID+"-remove")),
			chromedp.Click(chromedp.CSS("#webhook-"+hookID+"-remove button[data-close]")),
			chromedp.WaitNotVisible(chromedp.CSS("#webhook-"+hookID+"-remove")))
		if _, err := w.st.Webhook(ctx, "acme", hookID); err != nil {
			t.Fatalf("gone after Cancel: %v", err)
		}
		b.step(t, "open the remove dialog", chromedp.Click(chromedp.CSS("#webhook-"+hookID+"-remove-open")),
			chromedp.WaitVisible(chromedp.CSS("#webhook-"+hookID+"-remove")))
		b.submit(t, "#webhook-"+hookID+"-remove-confirm")
		b.expectText(t, "#flash", "The webhook "+hookID+" is removed")
		b.expectText(t, "#webhooks-empty", "No webhooks yet.")
		if hooks, _ := w.st.ListWebhooks(ctx, "acme"); len(hooks) != 0 {
			t.Errorf("stored webhooks after removing: %v", hooks)
		}
		entries, _, _ := w.st.ListAudit(ctx, "acme", store.Page{Limit: 100})
		var actions []string
		for _, e := range entries {
			if e.Actor == "adam" && e.Error == "" {
				actions = append(actions, e.Action)
			}
		}
		for _, want := range []string{"tenant.update", "blacklist.add", "blacklist.remove", "blacklist.reason", "webhook.add", "webhook.enable", "webhook.remove"} {
			if !slices.Contains(actions, want) {
				t.Errorf("no %s by adam in the audit log (%v)", want, actions)
			}
		}
		if logs := w.p.errOut() + w.p.out(); secret != "" && strings.Contains(logs, secret) {
			t.Error("the webhook's secret reached the daemon's log")
		}
	})

	t.Run("a company admin of another tenant is refused", func(t *testing.T) {
		g := newTab(t, browser, w.base, "en")
		g.shootOnFailure(t)
		g.login(t, "gil", portalPassword)
		if status := g.open(t, "/tenants/globex/features"); status != http.StatusOK {
			t.Errorf("gil opens his own Features page: %d", status)
		}
		g.expectText(t, "h1", "Features of Globex")
		for _, path := range []string{"/tenants/acme/features", "/tenants/acme/features/webhooks/" + hookID} {
			if status := g.open(t, path); status != http.StatusForbidden {
				t.Errorf("gil opens %s: %d, want 403", path, status)
			}
			g.expectText(t, "#error", "You may not do this")
		}
		// Posting acme's forms with his own valid CSRF token.
		c := newPortalClient(t, w.base)
		c.login(t, "gil", portalPassword)
		page, _ := c.get(t, "/tenants/globex/features", http.StatusOK)
		token := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(page)
		if token == nil {
			t.Fatal("no CSRF token on the Features page")
		}
		before := w.tenant("acme")
		for path, form := range map[string]url.Values{
			"/tenants/acme/features/switch":           {"feature": {"caller_name"}, "state": {"on"}},
			"/tenants/acme/features/settings":         {"internal_policy": {"log"}},
			"/tenants/acme/features/blacklist/add":    {"number": {"+4930111111"}},
			"/tenants/acme/features/blacklist/remove": {"number": {"+4930123456"}},
			"/tenants/acme/features/blacklist/reason": {"reason": {"hangup"}},
			"/tenants/acme/features/webhooks":         {"url": {"https://crm.example/x"}},
		} {
			form.Set("csrf", token[1])
			if status, body := c.post(t, path, form); status != http.StatusForbidden || !strings.Contains(body, "You may not do this") {
				t.Errorf("gil posts %s: %d, want 403", path, status)
			}
		}
		if after := w.tenant("acme"); after.Version != before.Version {
			t.Errorf("gil changed acme: %+v", after.Settings)
		}
		if hooks, _ := w.st.ListWebhooks(ctx, "acme"); len(hooks) != 0 {
			t.Errorf("gil added a webhook to acme: %v", hooks)
		}
	})

	t.Run("CSRF on the Features forms", func(t *testing.T) {
		c := newPortalClient(t, w.base)
		c.login(t, "adam", portalPassword)
		before := w.tenant("acme")
		for _, path := range []string{"/tenants/acme/features/switch", "/tenants/acme/features/settings", "/tenants/acme/features/blacklist/add",
			"/tenants/acme/features/blacklist/remove", "/tenants/acme/features/blacklist/reason", "/tenants/acme/features/webhooks",
			"/tenants/acme/features/webhooks/wh_x/enable", "/tenants/acme/features/webhooks/wh_x/remove"} {
			form := url.Values{"feature": {"caller_name"}, "state": {"on"}, "internal_policy": {"log"}, "number": {"+4930123456"},
				"reason": {"hangup"}, "url": {"https://crm.example/x"}, "csrf": {"forged"}}
			if status, body := c.post(t, path, form); status != http.StatusForbidden || !strings.Contains(body, "security token") {
				t.Errorf("POST %s with a forged token: %d, want 403", path, status)
			}
		}
		if after := w.tenant("acme"); after.Version != before.Version {
			t.Errorf("a forged form changed acme: %+v", after.Settings)
		}
	})

	t.Run("an operator reaches every tenant's Features", func(t *testing.T) {
		o := newTab(t, browser, w.base, "en")
		o.shootOnFailure(t)
		o.login(t, "olga", portalPassword)
		o.submit(t, `#tenant-globex a[href="/tenants/globex/features"]`)
		o.expectText(t, "h1", "Features of Globex")
		o.submit(t, "#feature-caller_name-toggle")
		o.expectText(t, "#feature-caller_name-state", "ON")
		if f := w.tenant("globex").Settings.Features; !f["caller_name"] {
			t.Errorf("globex features %v", f)
		}
	})

	t.Run("the Features page in Spanish", func(t *testing.T) {
		e := newTab(t, browser, w.base, "es-ES,es;q=0.9,en;q=0.5")
		e.shootOnFailure(t)
		e.login(t, "adam", portalPassword)
		e.open(t, "/tenants/acme/features")
		e.expectText(t, "h1", "Funciones de acme")
		e.expectText(t, "nav.tenant", "Usuarios", "Integración con Zoho", "Funciones", "Llamadas en curso", "Registro de auditoría")
		e.expectText(t, "#feature-missed_call_task", "Tareas de llamadas perdidas", "SÍ", "Desactivar")
		e.expectText(t, "#calls", "Llamadas internas", "Extensiones técnicas", "Números propios")
		e.expectText(t, "#internal-policy", "ligero")
		e.expectText(t, "#blacklist", "Lista negra", "+4930123456", "Quitar")
		e.expectText(t, "#webhooks", "Aún no hay webhooks.", "Añadir webhook")
		e.step(t, "un número no válido", chromedp.SetValue(chromedp.CSS("#blacklist-number"), "llámame"))
		e.submit(t, "#blacklist-add")
		e.expectText(t, "#flash", "Datos no válidos: ", "blacklist entry")
		if lang, _ := chromedp.Run(e.ctx, chromedp.Evaluate[string]("document.documentElement.lang")); lang != "es" {
			t.Errorf("html lang %q", lang)
		}
	})
}
