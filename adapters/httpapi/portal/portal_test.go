package portal

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/ringside/ringside/pkg/directory"
	"github.com/ringside/ringside/pkg/events"
	"github.com/ringside/ringside/pkg/livecalls"
	"github.com/ringside/ringside/pkg/store"
)

var verbRe = regexp.MustCompile(`%[-+# 0-9.]*[a-zA-Z%]`)

// TestCatalogsComplete: every message exists in every language with the
// same fmt verbs, and every key the templates, the Go code and the enums
// they show use is in the catalogs.
func TestCatalogsComplete(t *testing.T) {
	en := catalogs[defaultLang]
	for lang, cat := range catalogs {
		for k, msg := range en {
			other, ok := cat[k]
			if !ok {
				t.Errorf("%s: key %q missing", lang, k)
				continue
			}
			if a, b := verbRe.FindAllString(msg, -1), verbRe.FindAllString(other, -1); !slices.Equal(a, b) {
				t.Errorf("%s: key %q has verbs %v, English %v", lang, k, b, a)
			}
			if strings.TrimSpace(other) == "" {
				t.Errorf("%s: key %q is empty", lang, k)
			}
		}
		for k := range cat {
			if _, ok := en[k]; !ok {
				t.Errorf("%s: key %q is not in English", lang, k)
			}
		}
	}
	if len(langChoices) != len(catalogs) {
		t.Errorf("the language switch offers %d languages, the catalogs have %d", len(langChoices), len(catalogs))
	}

	used := map[string]bool{}
	keyRe := regexp.MustCompile(`\.T "([a-z0-9_.]+)"`)
	goKeyRe := regexp.MustCompile(`"((?:page|flash|error|login|zoho|users|user|live|audit|status|mode|features|blacklist|webhooks)\.[a-z0-9_.]+)"`)
	for _, glob := range []string{"templates/*.html", "*.go"} {
		names, _ := fs.Glob(files, glob)
		read := func(n string) ([]byte, error) { return fs.ReadFile(files, n) }
		re := keyRe
		if glob == "*.go" {
			names, _ = filepath.Glob(glob)
			read, re = os.ReadFile, goKeyRe
		}
		if len(names) == 0 {
			t.Fatalf("no files match %s", glob)
		}
		for _, n := range names {
			b, err := read(n)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range re.FindAllStringSubmatch(string(b), -1) {
				used[m[1]] = true
			}
		}
	}
	// keys the templates build from values
	for _, s := range []livecalls.State{livecalls.Ringing, livecalls.Answered, livecalls.Ended} {
		used["live.state."+string(s)] = true
	}
	for _, d := range []events.Direction{events.Inbound, events.Outbound, events.Internal} {
		used["live.direction."+string(d)] = true
	}
	for _, d := range []events.Disposition{events.DispositionAnswered, events.DispositionMissed, events.DispositionAbandoned,
		events.DispositionBusy, events.DispositionNoAnswer, events.DispositionCancelled, events.DispositionFailed} {
		used["live.disposition."+string(d)] = true
	}
	for _, s := range []store.ConnStatus{store.Connected, store.Disconnected, store.Revoked} {
		used["status."+string(s)] = true
	}
	for _, m := range []store.ZohoMode{store.ModeREST, store.ModePhoneBridge} {
		used["mode."+string(m)] = true
	}
	for _, f := range features {
		used["feature."+f] = true
		used["feature."+f+"_help"] = true
	}
	for _, pol := range internalPolicies {
		used["policy."+string(pol)] = true
	}
	for _, r := range blockReasons {
		used["reason."+r] = true
	}
	for _, st := range []store.WebhookState{store.WebhookPending, store.WebhookActive, store.WebhookDisabled} {
		used["webhooks.state."+string(st)] = true
	}
	for _, r := range []string{store.DeliveryOK, store.DeliveryHTTPError, store.DeliveryNetworkError, store.DeliveryTimeout} {
		used["delivery."+r] = true
	}
	if len(used) < 50 {
		t.Fatalf("found only %d keys in use: the scan is broken", len(used))
	}
	for k := range used {
		if _, ok := en[k]; !ok && !strings.HasSuffix(k, ".") {
			t.Errorf("key %q is used but not in the catalogs", k)
		}
	}
}

func TestNegotiate(t *testing.T) {
	for header, want := range map[string]string{
		"":                                 "en",
		"es":                               "es",
		"es-ES,es;q=0.9,en;q=0.8":          "es",
		"en-US,en;q=0.9,es;q=0.8":          "en",
		"de-DE,de;q=0.9,es;q=0.5":          "es",
		"de, fr":                           "en",
		"en;q=0.2, es;q=0.7":               "es",
		"ES-mx":                            "es",
		"es;q=0, en;q=0.1":                 "en",
		"es;q=abc, en":                     "en",
		"*":                                "en",
		"fr;q=0.9, es-419;q=0.9, en;q=0.9": "es",
	} {
		if got := negotiate(header); got != want {
			t.Errorf("negotiate(%q) = %q, want %q", header, got, want)
		}
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Accept-Language", "es")
	r.AddCookie(&http.Cookie{Name: langCookie, Value: "en"})
	if got := language(r); got != "en" {
		t.Errorf("the switch's cookie lost to Accept-Language: %q", got)
	}
	r = httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Accept-Language", "es")
	r.AddCookie(&http.Cookie{Name: langCookie, Value: "xx"})
	if got := language(r); got != "es" {
		t.Errorf("an unknown cookie language: %q", got)
	}
}

func TestLocalPath(t *testing.T) {
	for in, want := range map[string]string{
		"":                              "/",
		"/tenants/acme/users?q=ana":     "/tenants/acme/users?q=ana",
		"//evil.example/":               "/",
		"/\\evil.example":               "/",
		"https://evil.example/":         "/",
		"javascript:alert(1)":           "/",
		"tenants":                       "/",
		"/login\r\nSet-Cookie: x=y":     "/",
		"/tenants/acme/zoho?connect=ok": "/tenants/acme/zoho?connect=ok",
	} {
		if got := localPath(in); got != want {
			t.Errorf("localPath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLimiter(t *testing.T) {
	now := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	l := newLimiter(3, 10*time.Minute, func() time.Time { return now })
	for i := range 3 {
		if locked, _ := l.locked("10.0.0.1"); locked {
			t.Fatalf("locked after %d failures", i)
		}
		l.fail("10.0.0.1")
		now = now.Add(time.Minute)
	}
	locked, wait := l.locked("10.0.0.1")
	if !locked || wait != 7*time.Minute {
		t.Fatalf("after 3 failures: locked %v for %v, want 7m (the first failure leaves the window then)", locked, wait)
	}
	if locked, _ := l.locked("10.0.0.2"); locked {
		t.Error("another address is locked too")
	}
	now = now.Add(7 * time.Minute)
	if locked, _ := l.locked("10.0.0.1"); locked {
		t.Error("still locked once the first failure left the window")
	}
	l.fail("10.0.0.1") // two in the window again, plus this one
	if locked, _ := l.locked("10.0.0.1"); !locked {
		t.Error("not locked with 3 failures in the window")
	}
	l.reset("10.0.0.1")
	if locked, _ := l.locked("10.0.0.1"); locked {
		t.Error("locked after a successful login")
	}
}

func TestLimiterIsBounded(t *testing.T) {
	now := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	l := newLimiter(2, time.Hour, func() time.Time { return now })
	for i := range maxAddrs + 10 {
		l.fail(strings.Repeat("x", i%7) + time.Duration(i).String())
	}
	if n := len(l.fails); n > maxAddrs {
		t.Errorf("%d addresses remembered, bound %d", n, maxAddrs)
	}
}

func TestCSRFToken(t *testing.T) {
	a := (&session{token: "rsk_aaaa"}).csrf()
	if a == "" || a != (&session{token: "rsk_aaaa"}).csrf() {
		t.Fatal("the token is not stable for one session")
	}
	if a == (&session{token: "rsk_bbbb"}).csrf() {
		t.Error("two sessions share a token")
	}
	if strings.Contains(a, "aaaa") {
		t.Error("the CSRF token shows the session token")
	}
	if (&session{}).csrf() != "" || sameToken("", "") || !sameToken(a, a) || sameToken(a+"x", a) {
		t.Error("sameToken or an empty session")
	}
}

func TestContentSecurityPolicy(t *testing.T) {
	csp := contentSecurityPolicy("https://accounts.zoho.eu/oauth")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "frame-ancestors 'none'",
		"form-action 'self' https://accounts.zoho.eu;"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") {
		t.Error("CSP allows inline code")
	}
	if csp := contentSecurityPolicy(""); !strings.Contains(csp, "form-action 'self';") {
		t.Errorf("CSP without Zoho: %q", csp)
	}
}

func TestZohoReturnURL(t *testing.T) {
	r := httptest.NewRequest("GET", "/zoho/oauth/callback", nil)
	if u := ZohoReturnURL(r, "acme", ConnectOK); u != "" {
		t.Errorf("a browser without a portal session is sent to %q", u)
	}
	r.AddCookie(&http.Cookie{Name: sessionCookie, Value: "rsk_x"})
	for outcome, want := range map[string]string{
		ConnectOK: "/tenants/acme/zoho?connect=ok", ConnectDenied: "/tenants/acme/zoho?connect=denied",
		ConnectFailed: "/tenants/acme/zoho?connect=failed", "<b>": "/tenants/acme/zoho?connect=failed",
	} {
		if u := ZohoReturnURL(r, "acme", outcome); u != want {
			t.Errorf("%s: %q, want %q", outcome, u, want)
		}
	}
}

func TestClock(t *testing.T) {
	for d, want := range map[time.Duration]string{0: "0:00", 65 * time.Second: "1:05", -time.Second: "0:00",
		time.Hour + 2*time.Minute + 3*time.Second: "1:02:03"} {
		if got := clock(d); got != want {
			t.Errorf("clock(%v) = %q, want %q", d, got, want)
		}
	}
}

// TestPagesRender renders every page in every language with sample data:
// no template error, no missing message, and what the service returned is
// escaped.
func TestPagesRender(t *testing.T) {
	p := &Portal{log: zap.NewNop()}
	var err error
	if p.pages, err = parsePages(); err != nil {
		t.Fatal(err)
	}
	if p.assets, err = loadAssets(); err != nil {
		t.Fatal(err)
	}
	evil := "<script>alert(1)</script>"
	now := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	for lang := range catalogs {
		b := func() *base {
			return &base{Lang: lang, Langs: langChoices, Title: "page.users", CSRF: "tok", Path: "/x?y=1",
				Actor: &directory.Actor{Username: evil, Role: store.RoleOperator}, Tenant: &tenantNav{ID: "acme", Name: evil},
				Flash: &flashView{Kind: "error", Text: evil}, cat: catalogs[lang], assets: p.assets}
		}
		pages := map[string]any{
			"login": loginData{base: b(), Username: evil, LoginToken: "t", Next: "/", Error: "login.locked", Arg: 3},
			"tenants": struct {
				*base
				Tenants []tenantRow
			}{b(), []tenantRow{{ID: "acme", Name: evil, Mode: "rest", Status: "connected"}}},
			"zoho": zohoData{base: b(), Status: "revoked", Mode: "phonebridge", Location: "eu", ConnectedAt: now,
				LastError: evil, LastErrorAt: now, Linked: 3, Modes: []string{"rest", "phonebridge"}, DefaultUser: evil,
				DefaultChoices: []defaultChoice{{Value: "9001", Label: evil}, {Value: "9009", Label: "Boss", Selected: true}}},
			"users": usersData{base: b(), Rows: []userRow{{Number: "1001", Name: evil, Email: "ana@acme.example", ZohoName: "Ana", Linked: true},
				{Number: "1002", Name: "Ben"}}, Linkable: true, Choices: []zohoChoice{{Value: "9", Label: evil}},
				From: 1, To: 2, Total: 40, Prev: "/p", Next: "/n", ZohoProblem: evil, Back: "/tenants/acme/users"},
			"user": userData{base: b(), Number: "1001", Name: evil, Device: "PJSIP/1001", Linked: true, Email: "a@b", ZohoName: "Ana",
				Notifications: false, Terminal: &store.Terminal{Kind: store.Mobile, Mobile: "+491701234567", SetAt: now}},
			"live": liveData{base: b(), Refresh: "/tenants/acme/live/calls", Calls: []liveRow{
				{State: livecalls.Ringing, Direction: events.Inbound, Customer: evil, Extensions: "1001, 1002", For: "0:05"},
				{State: livecalls.Ended, Direction: events.Outbound, Disposition: events.DispositionBusy, Customer: "+4930", Extensions: "1001", For: "0:00"}}},
			"audit": auditData{base: b(), Entries: []store.AuditEntry{{Time: now, Actor: evil, Via: "portal", Tenant: "acme",
				Action: "user.link", Target: "1001", Detail: evil, Error: evil}, {Time: now, Actor: "x", Via: "cli", Action: "login"}},
				From: 1, To: 2, Total: 2},
			"features": featuresData{base: b(), Switches: featureSwitches(map[string]bool{"missed_call_task": true, evil: true}),
				Policy: "light", Policies: []string{"skip", "log", "light"}, TechnicalExtensions: evil, OwnNumbers: evil,
				LeadModule: "Contacts", LeadModules: leadModules, Reasons: blockReasons,
				Blacklist: directory.Blacklist{Entries: []string{"+4930123456", evil}, Reason: "hangup"},
				Webhooks: []webhookRow{{ID: "wh_1", URL: evil, State: "disabled", Reason: evil, Failures: 30, RetryAt: now},
					{ID: "wh_2", URL: "https://crm.example/", Events: []string{"ended", evil}, State: "active"}},
				EventTypes: eventTypes()},
			"webhook": webhookData{base: b(), Hook: webhookRow{ID: "wh_1", URL: evil, State: "pending", Reason: evil, Verified: now, Created: now},
				Deliveries: []deliveryRow{{Time: now, EventType: "ringside.verify", EventID: evil, Attempt: 1, Result: "network_error", Error: evil, Duration: "12ms"},
					{Time: now, EventType: "call.ended", EventID: "evt_1", Attempt: 2, Result: "ok", Status: 204, Duration: "3ms"}},
				From: 1, To: 2, Total: 60, Next: "/n"},
			"webhook_created": webhookCreatedData{base: b(), Hook: webhookRow{ID: "wh_1", URL: evil, State: "pending"}, Secret: "whsec_<b>x</b>"},
			"error": struct {
				*base
				Status  int
				Message string
				Detail  string
			}{b(), 404, "error.not_found", evil},
		}
		// An unlinked user: a pending self-service link, and one that may
		// not be started.
		pending := userData{base: b(), Number: "1002", Name: evil, Device: "PJSIP/1002", SelfLinkable: true,
			SelfLink: &selfLinkView{UserCode: evil, VerificationURL: "javascript:alert(1)", ExpiresAt: now, Every: 2000}}
		w := httptest.NewRecorder()
		p.render(w, 200, "user", pending)
		if body := w.Body.String(); !strings.Contains(body, `id="selflink-code">&lt;script&gt;`) || strings.Contains(body, `href="javascript:`) ||
			!strings.Contains(body, `data-poll="2000"`) || strings.Contains(body, `id="switch-notifications"`) {
			t.Errorf("%s: the pending self-service link renders as\n%s", lang, body)
		}
		w = httptest.NewRecorder()
		p.render(w, 200, "user", userData{base: b(), Number: "1002", SelfLinkProblem: evil})
		if body := w.Body.String(); !strings.Contains(body, `id="selflink-problem"`) || strings.Contains(body, "selflink-start") || strings.Contains(body, evil) {
			t.Errorf("%s: a user that cannot link itself renders as\n%s", lang, body)
		}
		// The new webhook's page shows its secret (escaped) and says to
		// copy it now; the Features page has no field that could hold one.
		w = httptest.NewRecorder()
		p.render(w, http.StatusCreated, "webhook_created", pages["webhook_created"])
		if body := w.Body.String(); !strings.Contains(body, `id="webhook-secret">whsec_&lt;b&gt;x&lt;/b&gt;</code>`) ||
			!strings.Contains(body, `id="secret-warning"`) || w.Code != http.StatusCreated {
			t.Errorf("%s: the new webhook's page renders as\n%s", lang, body)
		}
		w = httptest.NewRecorder()
		p.render(w, 200, "features", pages["features"])
		if body := w.Body.String(); !strings.Contains(body, `id="feature-missed_call_task-state">`+catalogs[lang]["common.on"]) ||
			!strings.Contains(body, `id="feature-caller_name-state">`+catalogs[lang]["common.off"]) ||
			!strings.Contains(body, `<option value="light" selected>`) || !strings.Contains(body, `<option value="Contacts" selected>`) ||
			!strings.Contains(body, `<option value="hangup" selected>`) || !strings.Contains(body, `data-number="&#43;4930123456"`) ||
			!strings.Contains(body, `id="webhook-wh_1-enable"`) || strings.Contains(body, `id="webhook-wh_2-enable"`) {
			t.Errorf("%s: the features page renders as\n%s", lang, body)
		}
		for _, name := range pageNames {
			data, ok := pages[name]
			if !ok {
				t.Fatalf("no sample data for page %s", name)
			}
			w := httptest.NewRecorder()
			p.render(w, 200, name, data)
			body := w.Body.String()
			if w.Code != 200 {
				t.Fatalf("%s/%s: %d %s", lang, name, w.Code, body)
			}
			if m := regexp.MustCompile(`\[[a-z_]+\.[a-z0-9_.]+\]`).FindString(body); m != "" {
				t.Errorf("%s/%s: missing message %s", lang, name, m)
			}
			if strings.Contains(body, evil) {
				t.Errorf("%s/%s: unescaped output", lang, name)
			}
			if strings.Contains(body, "<script>") && !strings.Contains(body, `<script src="/assets/portal.js?v=`) {
				t.Errorf("%s/%s: inline script", lang, name)
			}
			if !strings.Contains(body, `<html lang="`+lang+`">`) {
				t.Errorf("%s/%s: no lang attribute", lang, name)
			}
		}
	}
}

func TestFeatureSwitches(t *testing.T) {
	got := featureSwitches(map[string]bool{"missed_call_task": true, "zeta": true, "alpha": true, "off_one": false})
	var names []string
	for _, f := range got {
		names = append(names, f.Name)
		if f.On != (f.Name == "missed_call_task" || f.Name == "zeta" || f.Name == "alpha") || f.Known != slices.Contains(features, f.Name) {
			t.Errorf("%+v", f)
		}
	}
	want := append(slices.Clone(features), "alpha", "zeta")
	if !slices.Equal(names, want) {
		t.Errorf("switches %v, want %v (the known ones in order, then the others that are on)", names, want)
	}
}

func TestSplitList(t *testing.T) {
	for in, want := range map[string][]string{
		"":                         nil,
		"8*, fax,60[0-9]":          {"8*", "fax", "60[0-9]"},
		"+49 30 999000\n+4930999*": {"+49 30 999000", "+4930999*"},
		" , ,":                     nil,
	} {
		if got := splitList(in); !slices.Equal(got, want) {
			t.Errorf("splitList(%q) = %q, want %q", in, got, want)
		}
	}
}
