package integration

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ringside/ringside/adapters/natskv"
	arisim "github.com/ringside/ringside/integration/sim/ari"
	zohosim "github.com/ringside/ringside/integration/sim/zoho"
	"github.com/ringside/ringside/pkg/store"
)

// The portal tests drive the web portal of the built binary (`ringside
// serve` on the ARI simulator, the Zoho simulator and the embedded store)
// in headless Chromium, and its refusals also with a plain HTTP client.
// Accounts are made with `ringside accounts add`, extensions come from the
// simulated PBX through the daemon's discovery, Zoho is connected through
// the simulator's consent page, and the live call is a real call of the
// simulated PBX: PBX → pipeline → NATS → live board → page.

// portalPassword is every test account's password.
const portalPassword = "correct-horse-battery"

// portalEndpoints are the PBX's extensions: five of acme, one of globex.
func portalEndpoints() []arisim.Endpoint {
	acme := map[string]string{"TENANT": "acme"}
	eps := []arisim.Endpoint{}
	for _, e := range [][2]string{{"1001", "Ana García"}, {"1002", "Ben Berg"}, {"1003", "Cleo Cruz"}, {"1004", "Dora Díaz"}, {"1005", "Emil Eck"}} {
		eps = append(eps, arisim.Endpoint{Resource: e[0], Context: "acme-internal", CallerIDName: e[1], CallerIDNumber: e[0], Vars: acme})
	}
	return append(eps,
		arisim.Endpoint{Resource: "2001", Context: "globex-internal", CallerIDName: "Gina Gold", CallerIDNumber: "2001",
			Vars: map[string]string{"TENANT": "globex"}},
		arisim.Endpoint{Resource: "trunk", Context: "acme-from-trunk", Vars: acme})
}

// portalWorld is one daemon with its simulators, tenants acme and globex,
// the operator olga and adam, company admin of acme.
type portalWorld struct {
	t    *testing.T
	ari  *arisim.Server
	sim  *zohosim.Server
	p    *process
	base string
	st   store.Store
}

func newPortalWorld(t *testing.T, adminYAML string) *portalWorld {
	t.Helper()
	w := &portalWorld{t: t}
	dir := t.TempDir()
	w.ari = arisim.New(arisim.Options{Username: "ringside", Password: "ari-secret", Tenant: "acme",
		ChannelVars: []string{"CHANNEL(linkedid)", "TENANT"}, App: "ringside", Endpoints: portalEndpoints()})
	if err := w.ari.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.ari.Close)
	w.sim = zohosim.New(zohosim.Options{})
	if err := w.sim.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.sim.Close)
	w.sim.AddOrg(e2eOrg, "eu", e2eUsers...)

	key := filepath.Join(dir, "token.key")
	if err := os.WriteFile(key, []byte(strings.Repeat("ab", 32)), 0o600); err != nil {
		t.Fatal(err)
	}
	natsAddr := freeAddr(t)
	cfg := filepath.Join(dir, "ringside.yaml")
	yaml := "node_id: pbx-01\ndata_dir: " + dir + "/state\nhttp:\n  listen: 127.0.0.1:0\n" +
		"pbx:\n  kind: asterisk\n  default_tenant: acme\n  tenant: {from: variable, variable: TENANT}\n  asterisk:\n    url: " + w.ari.URL() + "\n" +
		"nats:\n  listen: " + natsAddr + "\n" +
		"zoho:\n  accounts_url: " + w.sim.AccountsURL("us") + "\n  api_url: " + w.sim.APIDomain("us") + "\n" +
		"  client_id: " + w.sim.ClientID() + "\n  token_key_file: " + key + "\n  timeout: 2s\n" +
		"admin:\n  discovery_interval: 1s\n  login_attempts: 3\n  login_window: 10m\n" + adminYAML
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"RINGSIDE_LOG_FORMAT=json", "RINGSIDE_PBX_ASTERISK_PASSWORD=ari-secret",
		"RINGSIDE_ZOHO_CLIENT_SECRET=" + w.sim.ClientSecret(), "RINGSIDE_NATS_TOKEN=nats-secret"}
	w.p = start(t, env, "serve", "-config", cfg)
	re := regexp.MustCompile(`"logger":"http","msg":"listening","addr":"([0-9.:]+)"`)
	eventually(t, 60*time.Second, "the http address in the log", func() bool {
		m := re.FindStringSubmatch(w.p.errOut())
		if m != nil {
			w.base = "http://" + m[1]
		}
		return m != nil
	})
	eventually(t, 30*time.Second, "/readyz 200", func() bool { code, _ := get(t, w.base+"/readyz"); return code == 200 })

	// The store, through the daemon's NATS (as an operator's tools would).
	nc, err := nats.Connect("nats://"+natsAddr, nats.Token("nats-secret"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if w.st, err = natskv.New(context.Background(), js, "ringside"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.st.CreateTenant(context.Background(), store.Tenant{ID: "globex", Name: "Globex"}); err != nil {
		t.Fatal(err)
	}
	for _, a := range [][3]string{{"olga", "operator", ""}, {"adam", "admin", "acme"}} {
		args := []string{"accounts", "add", "-config", cfg, "-username", a[0], "-role", a[1]}
		if a[2] != "" {
			args = append(args, "-tenant", a[2])
		}
		if code, out := runIn(t, env, portalPassword+"\n", args...); code != 0 {
			t.Fatalf("ringside %s: exit %d\n%s", strings.Join(args, " "), code, out)
		}
	}
	// Discovery reads the PBX's extensions into the store.
	eventually(t, 30*time.Second, "the extensions discovered", func() bool {
		a, na, err1 := w.st.ListExtensions(context.Background(), "acme", store.Page{})
		_, ng, err2 := w.st.ListExtensions(context.Background(), "globex", store.Page{})
		return err1 == nil && err2 == nil && na == 5 && ng == 1 && a[0].Name == "Ana García"
	})
	t.Cleanup(func() {
		if w.p.cmd.ProcessState == nil {
			w.p.terminate()
		}
		logs := w.p.errOut() + w.p.out()
		for _, secret := range []string{portalPassword, w.sim.ClientSecret(), "nats-secret", "ari-secret", "rsk_"} {
			if strings.Contains(logs, secret) {
				t.Errorf("a secret reached the log: %q", secret)
			}
		}
	})
	return w
}

// link reads the link of an acme extension from the store.
func (w *portalWorld) link(ext string) (store.Link, error) {
	return w.st.LinkByExtension(context.Background(), "acme", ext)
}

// --- the browser ---

// chromiumPath finds headless Chromium; a missing browser fails the test:
// the portal tests are never skipped.
func chromiumPath(t *testing.T) string {
	t.Helper()
	const install = "install the Debian package `chromium` (apt-get install chromium; CI installs it in .ci/run)"
	if p := os.Getenv("RINGSIDE_CHROMIUM"); p != "" {
		if _, err := exec.LookPath(p); err != nil {
			t.Fatalf("headless Chromium is needed for the portal tests: $RINGSIDE_CHROMIUM=%s: %v; %s", p, err, install)
		}
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "/usr/bin/chromium"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("headless Chromium is needed for the portal tests and was not found (chromium on PATH, /usr/bin/chromium): " + install)
	return ""
}

// newBrowser starts headless Chromium for t, with a fresh profile and no
// background traffic, and stops it when t ends.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	exe := chromiumPath(t)
	profile := t.TempDir() // removed after the browser stopped (cleanups run last first)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe), chromedp.UserDataDir(profile), chromedp.WindowSize(1280, 900),
		chromedp.NoSandbox, // as root, Chromium needs it
		chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	browser, cancelBrowser := chromedp.NewContext(alloc)
	t.Cleanup(cancelBrowser)
	if err := chromedp.Do(browser); err != nil {
		t.Fatalf("starting %s: %v", exe, err)
	}
	return browser
}

// tab is a browser tab in its own browser context (its own cookies).
type tab struct {
	ctx  context.Context
	base string

	mu       sync.Mutex
	problems []string // CSP violations, script errors
}

// newTab opens a tab whose requests ask for lang (Accept-Language).
func newTab(t *testing.T, browser context.Context, base, lang string) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, emulation.SetUserAgentOverride, emulation.SetUserAgentOverrideParams{
		UserAgent: "Mozilla/5.0 (X11; Linux x86_64) ringside-portal-test", AcceptLanguage: lang}); err != nil {
		t.Fatal(err)
	}
	b := &tab{ctx: ctx, base: base}
	// What the browser reports against the pages: a Content-Security-
	// Policy violation (an inline script or style, a foreign asset) or a
	// script error fails the test.
	entries := chromedp.Events(ctx, cdplog.EntryAdded)
	exceptions := chromedp.Events(ctx, runtime.ExceptionThrown)
	if _, err := chromedp.Call(ctx, cdplog.Enable, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
	go func() {
		for ev, err := range entries {
			if err != nil {
				return
			}
			if e := ev.Entry; e.Source == "javascript" || e.Source == "security" || strings.Contains(e.Text, "Content Security Policy") {
				b.problem(fmt.Sprintf("%s %s: %s (%s)", e.Source, e.Level, e.Text, e.URL))
			}
		}
	}()
	go func() {
		for ev, err := range exceptions {
			if err != nil {
				return
			}
			b.problem("script exception: " + ev.ExceptionDetails.Text)
		}
	}()
	t.Cleanup(func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		for _, p := range b.problems {
			t.Errorf("the browser reports: %s", p)
		}
	})
	return b
}

func (b *tab) problem(p string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.problems = append(b.problems, p)
}

// shootOnFailure saves a full-page PNG of the tab when t fails, to
// $RINGSIDE_TEST_ARTIFACTS or the temp dir's ringside-portal-failures.
func (b *tab) shootOnFailure(t *testing.T) {
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		dir := os.Getenv("RINGSIDE_TEST_ARTIFACTS")
		if dir == "" {
			dir = filepath.Join(os.TempDir(), "ringside-portal-failures")
		}
		ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
		defer cancel()
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err == nil {
			err = os.MkdirAll(dir, 0o755)
		}
		path := filepath.Join(dir, strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())+".png")
		if err == nil {
			err = os.WriteFile(path, png, 0o644)
		}
		loc, _ := chromedp.Run(ctx, chromedp.Location())
		if err != nil {
			t.Logf("no screenshot of %s: %v", loc, err)
			return
		}
		t.Logf("screenshot of %s: %s", loc, path)
	})
}

// actionTimeout bounds one browser step.
const actionTimeout = 30 * time.Second

func (b *tab) step(t *testing.T, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, actionTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// open navigates to a path of the portal and returns the status of the
// page it ends on.
func (b *tab) open(t *testing.T, path string) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, actionTimeout)
	defer cancel()
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(b.base+path))
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	return resp.Status
}

// submit clicks a button that loads a page and returns the response of
// the page it ends on (after redirects).
func (b *tab) submit(t *testing.T, sel string) *network.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, actionTimeout)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("click %s: %v", sel, err)
	}
	return resp
}

func (b *tab) text(t *testing.T, sel string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, actionTimeout)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

// has reports whether an element is on the page now.
func (b *tab) has(t *testing.T, sel string) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, actionTimeout)
	defer cancel()
	ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](fmt.Sprintf("document.querySelector(%q) !== null", sel)))
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

func (b *tab) location(t *testing.T) string {
	t.Helper()
	loc, err := chromedp.Run(b.ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// waitText waits until the element's text contains every want.
func (b *tab) waitText(t *testing.T, d time.Duration, sel string, want ...string) string {
	t.Helper()
	var got string
	deadline := time.Now().Add(d)
	for {
		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		got, _ = chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel), chromedp.NodeReady))
		cancel()
		ok := true
		for _, w := range want {
			ok = ok && strings.Contains(got, w)
		}
		if ok {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s says %q after %v, want %q", sel, got, d, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// expectText checks an element's text contains every want.
func (b *tab) expectText(t *testing.T, sel string, want ...string) {
	t.Helper()
	got := b.text(t, sel)
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("%s says %q, want %q in it", sel, got, w)
		}
	}
}

// login logs in through the form and returns the page it lands on.
func (b *tab) login(t *testing.T, username, password string) *network.Response {
	t.Helper()
	if !strings.Contains(b.location(t), "/login") {
		b.open(t, "/login")
	}
	b.step(t, "fill the login form",
		chromedp.SetValue(chromedp.CSS("#username"), username),
		chromedp.SetValue(chromedp.CSS("#password"), password))
	return b.submit(t, "#login")
}

// TestPortalInChromium drives an operator through the portal: log in,
// enable Zoho through the (simulated) consent page, search and page the
// users, link one in the confirmation dialog, turn its switches, set its
// default terminal, watch a real call in the live view, read the audit
// log, disable Zoho for all users and log out.
func TestPortalInChromium(t *testing.T) {
	browser := newBrowser(t)
	w := newPortalWorld(t, "")
	b := newTab(t, browser, w.base, "en-US,en;q=0.9")
	b.shootOnFailure(t)

	t.Run("login", func(t *testing.T) {
		b.shootOnFailure(t)
		b.open(t, "/")
		if loc := b.location(t); !strings.HasSuffix(loc, "/login") {
			t.Fatalf("/ without a session went to %s, want the login", loc)
		}
		resp := b.login(t, "olga", portalPassword)
		if resp.Status != 200 || !strings.HasSuffix(resp.URL, "/tenants") {
			t.Fatalf("after login: %d %s", resp.Status, resp.URL)
		}
		b.expectText(t, "h1", "Tenants")
		b.expectText(t, "#tenant-acme", "acme", "not connected")
		b.expectText(t, "#tenant-globex", "Globex")
		b.expectText(t, "header .who", "olga", "operator")
	})

	t.Run("enable Zoho through the consent page", func(t *testing.T) {
		b.shootOnFailure(t)
		b.open(t, "/tenants/acme/zoho")
		b.expectText(t, "#zoho-status", "not connected")
		b.step(t, "choose phonebridge", chromedp.Click(chromedp.CSS("#mode-phonebridge")))
		resp := b.submit(t, "#enable")
		consent, err := url.Parse(resp.URL)
		if err != nil || !strings.HasPrefix(resp.URL, w.sim.AccountsURL("us")+"/oauth/v2/auth?") {
			t.Fatalf("Enable led to %s, want the Zoho consent page", resp.URL)
		}
		if q := consent.Query(); q.Get("redirect_uri") != w.base+"/zoho/oauth/callback" || q.Get("access_type") != "offline" || q.Get("state") == "" {
			t.Errorf("consent URL %s", consent)
		}
		resp = b.submit(t, "#accept-"+e2eOrg)
		if resp.Status != 200 || !strings.HasSuffix(resp.URL, "/tenants/acme/zoho?connect=ok") {
			t.Fatalf("after consent: %d %s, want the tenant's Zoho page", resp.Status, resp.URL)
		}
		b.expectText(t, "#flash", "Zoho is connected")
		b.expectText(t, "#zoho-status", "connected")
		b.expectText(t, "#zoho-mode", "phonebridge")
		tn, err := w.st.Tenant(context.Background(), "acme")
		if err != nil || tn.Zoho.Status != store.Connected || tn.Zoho.Location != "eu" || tn.Settings.Mode != store.ModePhoneBridge {
			t.Errorf("stored tenant: %+v %v", tn.Zoho, err)
		}
	})

	t.Run("users table: search and paging", func(t *testing.T) {
		b.shootOnFailure(t)
		b.open(t, "/tenants/acme/users")
		b.expectText(t, "#range", "1–5 of 5")
		b.expectText(t, "#user-1001", "Ana García", "1001", "OFF")
		b.step(t, "search", chromedp.SetValue(chromedp.CSS("#search"), "berg"))
		b.submit(t, "#search-submit")
		b.expectText(t, "#range", "1–1 of 1")
		if !b.has(t, "#user-1002") || b.has(t, "#user-1001") {
			t.Error("searching berg does not show exactly Ben Berg")
		}
		b.open(t, "/tenants/acme/users?limit=2")
		b.expectText(t, "#range", "1–2 of 5")
		if b.has(t, "#prev") {
			t.Error("the first page links a previous one")
		}
		b.submit(t, "#next")
		b.expectText(t, "#range", "3–4 of 5")
		b.expectText(t, "#users tbody", "1003", "1004")
		b.submit(t, "#next")
		b.expectText(t, "#range", "5–5 of 5")
		if b.has(t, "#next") {
			t.Error("the last page links a next one")
		}
		b.submit(t, "#prev")
		b.expectText(t, "#range", "3–4 of 5")
	})

	t.Run("link a user in the confirmation dialog", func(t *testing.T) {
		b.shootOnFailure(t)
		b.open(t, "/tenants/acme/users")
		// Cancel changes nothing.
		b.step(t, "open and cancel the link dialog",
			chromedp.Click(chromedp.CSS("#link-open-1001")),
			chromedp.WaitVisible(chromedp.CSS("#link-1001")),
			chromedp.Click(chromedp.CSS("#link-1001 button[data-close]")),
			chromedp.WaitNotVisible(chromedp.CSS("#link-1001")))
		if _, err := w.link("1001"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("linked after Cancel: %v", err)
		}
		b.step(t, "open the link dialog and pick Ana",
			chromedp.Click(chromedp.CSS("#link-open-1001")),
			chromedp.WaitVisible(chromedp.CSS("#link-choice-1001")),
			chromedp.SetValue(chromedp.CSS("#link-choice-1001"), "pb-1001"))
		b.expectText(t, "#link-1001", "Link extension 1001", "Ana <ana@acme.example>")
		resp := b.submit(t, "#link-confirm-1001")
		if !strings.HasSuffix(resp.URL, "/tenants/acme/users") {
			t.Errorf("after linking: %s", resp.URL)
		}
		b.expectText(t, "#flash", "Extension 1001 is linked to ana@acme.example")
		b.expectText(t, "#user-1001", "ana@acme.example", "Ana", "ON")
		l, err := w.link("1001")
		if err != nil || l.ZohoUser != "pb-1001" || !l.Switches.Notifications || !l.Switches.ClickToCall {
			t.Fatalf("stored link %+v %v", l, err)
		}
		w.sim.Org(e2eOrg, func(o *zohosim.Org) {
			if o.ClickToDial["pb-1001"] == nil {
				t.Error("Ana's click-to-dial URL is not registered at Zoho")
			}
		})
		// Ana is taken: the next row's dialog no longer offers her.
		b.step(t, "open 1002's dialog", chromedp.Click(chromedp.CSS("#link-open-1002")), chromedp.WaitVisible(chromedp.CSS("#link-1002")))
		if opts := b.text(t, "#link-choice-1002"); strings.Contains(opts, "ana@") || !strings.Contains(opts, "ben@acme.example") {
			t.Errorf("1002 may link to %q", opts)
		}
		b.step(t, "close it", chromedp.Click(chromedp.CSS("#link-1002 button[data-close]")))
	})

	t.Run("switches and default terminal", func(t *testing.T) {
		b.shootOnFailure(t)
		b.open(t, "/tenants/acme/users")
		b.submit(t, "#user-1001 a")
		b.expectText(t, "h1", "Extension 1001")
		b.expectText(t, "#user-link", "Ana <ana@acme.example>")
		b.expectText(t, "#notifications-state", "ON")
		b.expectText(t, "#click-to-call-state", "ON")

		b.submit(t, "#notifications-toggle")
		b.expectText(t, "#flash", "Switches saved")
		b.expectText(t, "#notifications-state", "OFF")
		b.expectText(t, "#click-to-call-state", "OFF") // click-to-call needs notifications
		b.expectText(t, "#switch-click-to-call", "Needs call notifications.")
		if ok, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](`document.querySelector("#click-to-call-toggle").disabled`)); err != nil || !ok {
			t.Errorf("click-to-call can be turned on without notifications (%v)", err)
		}
		if l, _ := w.link("1001"); l.Switches.Notifications || l.Switches.ClickToCall {
			t.Errorf("stored switches %+v", l.Switches)
		}

		b.submit(t, "#notifications-toggle")
		b.expectText(t, "#notifications-state", "ON")
		b.expectText(t, "#click-to-call-state", "OFF")
		b.submit(t, "#click-to-call-toggle")
		b.expectText(t, "#click-to-call-state", "ON")
		if l, _ := w.link("1001"); !l.Switches.Notifications || !l.Switches.ClickToCall {
			t.Errorf("stored switches %+v", l.Switches)
		}

		b.expectText(t, "#terminal", "The extension itself (PJSIP/1001)")
		// The service's refusal comes back as a flash with its detail.
		b.step(t, "a mobile terminal without a number", chromedp.SetValue(chromedp.CSS("#terminal-kind"), "mobile"))
		b.submit(t, "#terminal-set")
		b.expectText(t, "#flash", "Invalid input: ", "mobile number")
		if cls, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.querySelector("#flash").className`)); cls != "flash error" {
			t.Errorf("the refusal is shown as %q", cls)
		}
		b.expectText(t, "#terminal", "The extension itself (PJSIP/1001)")
		b.step(t, "a mobile terminal",
			chromedp.SetValue(chromedp.CSS("#terminal-kind"), "mobile"),
			chromedp.SetValue(chromedp.CSS("#terminal-value"), "+491701234567"))
		b.submit(t, "#terminal-set")
		b.expectText(t, "#flash", "Default terminal set")
		b.expectText(t, "#terminal", "Mobile +491701234567")
		b.submit(t, "#terminal-reset")
		b.expectText(t, "#terminal", "The extension itself (PJSIP/1001)")
	})

	t.Run("a real call in the live view", func(t *testing.T) {
		b.shootOnFailure(t)
		b.open(t, "/tenants/acme/live")
		b.expectText(t, "#live", "No calls right now.")
		// A marker that a reload would lose: the view updates in place.
		if _, err := chromedp.Run(b.ctx, chromedp.Evaluate[int]("window.__ringside_marker = 42")); err != nil {
			t.Fatal(err)
		}
		trunk, agent, bridge := w.ari.StartInbound("1001")
		b.waitText(t, 20*time.Second, "#live", "answered", "+4930123456", "1001", "inbound")
		w.ari.EndCall(bridge, trunk, agent)
		b.waitText(t, 20*time.Second, "#live", "ended", "(answered)", "+4930123456")
		if v, err := chromedp.Run(b.ctx, chromedp.Evaluate[int]("window.__ringside_marker || 0")); err != nil || v != 42 {
			t.Errorf("the live view reloaded the page instead of refreshing the table (%v)", err)
		}
		// globex sees none of acme's calls.
		b.open(t, "/tenants/globex/live")
		b.expectText(t, "#live", "No calls right now.")
	})

	t.Run("audit log", func(t *testing.T) {
		b.shootOnFailure(t)
		b.open(t, "/tenants/acme/audit")
		b.expectText(t, "#audit", "user.link", "zoho.enable", "user.switches", "terminal.set", "olga", "portal")
		if !b.has(t, "#range") {
			t.Error("no paging on the audit log")
		}
	})

	t.Run("disable Zoho for all users", func(t *testing.T) {
		b.shootOnFailure(t)
		b.open(t, "/tenants/acme/zoho")
		b.expectText(t, "#zoho-linked", "1")
		b.step(t, "open the disable dialog", chromedp.Click(chromedp.CSS("#disable")), chromedp.WaitVisible(chromedp.CSS("#disable-dialog")))
		b.expectText(t, "#disable-warning", "All 1 linked users are unlinked")
		b.submit(t, "#disable-confirm")
		b.expectText(t, "#flash", "The Zoho integration is disabled; 1 users unlinked")
		b.expectText(t, "#zoho-status", "not connected")
		if _, err := w.link("1001"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("1001 still linked: %v", err)
		}
		w.sim.Org(e2eOrg, func(o *zohosim.Org) {
			if o.ClickToDial["pb-1001"] != nil {
				t.Error("Ana is still registered at Zoho")
			}
		})
		b.open(t, "/tenants/acme/users")
		b.expectText(t, "#user-1001", "OFF")
		b.expectText(t, "#zoho-problem", "Enable the Zoho integration to link users.")
	})

	t.Run("logout", func(t *testing.T) {
		b.shootOnFailure(t)
		resp := b.submit(t, "#logout")
		if !strings.HasSuffix(resp.URL, "/login") {
			t.Errorf("logout led to %s", resp.URL)
		}
		b.expectText(t, "#flash", "You are logged out")
		b.open(t, "/tenants/acme/users")
		if loc := b.location(t); !strings.Contains(loc, "/login?next=") {
			t.Errorf("after logout /tenants/acme/users shows %s, want the login", loc)
		}
	})
}

// TestPortalRefusalsInChromium: a wrong password says so; a company admin
// sees only its tenant (403 for another, 404 for an unknown user); the
// users page in Spanish and the language switch; CSRF and the security
// headers with a plain HTTP client; and the lockout after
// admin.login_attempts failures from one address (last: it locks this
// address out).
func TestPortalRefusalsInChromium(t *testing.T) {
	browser := newBrowser(t)
	w := newPortalWorld(t, "")

	t.Run("wrong password", func(t *testing.T) {
		b := newTab(t, browser, w.base, "en")
		b.shootOnFailure(t)
		resp := b.login(t, "adam", "not-the-password")
		if resp.Status != 200 || !strings.HasSuffix(resp.URL, "/login") {
			t.Errorf("wrong password: %d %s", resp.Status, resp.URL)
		}
		b.expectText(t, "#login-error", "Wrong username or password.")
		if v, _ := chromedp.Run(b.ctx, chromedp.Value(chromedp.CSS("#password"))); v != "" {
			t.Error("the page echoes the password")
		}
		// The right one works (and resets the address's count).
		if resp := b.login(t, "adam", portalPassword); !strings.HasSuffix(resp.URL, "/tenants/acme/users") {
			t.Errorf("a company admin lands on %s, want its users", resp.URL)
		}
	})

	t.Run("a company admin stays in its tenant", func(t *testing.T) {
		b := newTab(t, browser, w.base, "en")
		b.shootOnFailure(t)
		b.login(t, "adam", portalPassword)
		b.open(t, "/tenants")
		if loc := b.location(t); !strings.HasSuffix(loc, "/tenants/acme/users") {
			t.Errorf("/tenants shows a company admin %s", loc)
		}
		if b.has(t, `header a[href="/tenants"]`) {
			t.Error("a company admin is offered the tenant list")
		}
		for _, path := range []string{"/tenants/globex/users", "/tenants/globex/zoho", "/tenants/globex/live",
			"/tenants/globex/audit", "/tenants/globex/users/2001", "/tenants/nosuch/users"} {
			if status := b.open(t, path); status != http.StatusForbidden {
				t.Errorf("adam opens %s: %d, want 403", path, status)
			}
			b.expectText(t, "#error", "You may not do this")
		}
		if status := b.open(t, "/tenants/acme/users/9999"); status != http.StatusNotFound {
			t.Errorf("an unknown user: %d, want 404", status)
		}
		b.expectText(t, "h1", "Error 404")
		b.expectText(t, "#error", "Not found", "9999")
		// An operator gets 404 for a tenant that does not exist.
		o := newTab(t, browser, w.base, "en")
		o.login(t, "olga", portalPassword)
		if status := o.open(t, "/tenants/nosuch/users"); status != http.StatusNotFound {
			t.Errorf("operator, unknown tenant: %d, want 404", status)
		}
	})

	t.Run("the users page in Spanish", func(t *testing.T) {
		b := newTab(t, browser, w.base, "es-ES,es;q=0.9,en;q=0.5")
		b.shootOnFailure(t)
		b.open(t, "/login")
		b.expectText(t, "h1", "Iniciar sesión en Ringside")
		b.login(t, "adam", portalPassword)
		b.expectText(t, "h1", "Usuarios de acme")
		b.expectText(t, "#users thead", "Usuario", "Teléfono / extensión", "Cuenta de Zoho", "Nombre en Zoho", "Vinculado", "Acción")
		b.expectText(t, "#user-1004", "Dora Díaz", "NO")
		b.expectText(t, "#range", "1–5 de 5")
		b.expectText(t, "#zoho-problem", "Active la integración con Zoho")
		// A refusal of the service, in Spanish with the service's detail.
		b.open(t, "/tenants/acme/users/1004")
		b.step(t, "un móvil sin número", chromedp.SetValue(chromedp.CSS("#terminal-kind"), "mobile"))
		b.submit(t, "#terminal-set")
		b.expectText(t, "#flash", "Datos no válidos: ", "mobile number")
		b.open(t, "/tenants/acme/users")
		b.expectText(t, "nav.tenant", "Usuarios", "Integración con Zoho", "Llamadas en curso", "Registro de auditoría")
		if lang, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string]("document.documentElement.lang")); lang != "es" {
			t.Errorf("html lang %q", lang)
		}
		// The switch wins over Accept-Language, and sticks.
		b.submit(t, `nav.langs a[lang="en"]`)
		if loc := b.location(t); !strings.HasSuffix(loc, "/tenants/acme/users") {
			t.Errorf("the language switch went to %s", loc)
		}
		b.expectText(t, "h1", "Users of acme")
		b.open(t, "/tenants/acme/zoho")
		b.expectText(t, "h1", "Zoho integration of acme")
		b.submit(t, `nav.langs a[lang="es"]`)
		b.expectText(t, "h1", "Integración con Zoho de acme")
	})

	t.Run("CSRF, cookies and headers with a plain HTTP client", func(t *testing.T) {
		ctx := context.Background()
		if _, err := w.st.Link(ctx, store.Link{Tenant: "acme", Extension: "1002", ZohoUser: "pb-1002", Email: "ben@acme.example",
			Name: "Ben", Secret: "s3cret-link", Switches: store.Switches{Notifications: true, ClickToCall: true}}); err != nil {
			t.Fatal(err)
		}
		c := newPortalClient(t, w.base)
		login := c.login(t, "olga", portalPassword)
		for _, want := range []string{"HttpOnly", "SameSite=Lax", "Path=/"} {
			if !strings.Contains(login, want) {
				t.Errorf("session cookie %q lacks %s", login, want)
			}
		}
		if strings.Contains(login, "Secure") || strings.Contains(login, "Max-Age") || strings.Contains(login, "Expires") {
			t.Errorf("session cookie %q: want a browser-session cookie, not Secure on a plain-http public URL", login)
		}
		page, hdr := c.get(t, "/tenants/acme/users/1002", http.StatusOK)
		for h, want := range map[string]string{"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff",
			"Referrer-Policy": "same-origin", "Cache-Control": "no-store"} {
			if got := hdr.Get(h); got != want {
				t.Errorf("%s: %q, want %q", h, got, want)
			}
		}
		csp := hdr.Get("Content-Security-Policy")
		if !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "unsafe") {
			t.Errorf("CSP %q", csp)
		}
		for _, secret := range []string{"s3cret-link", "rsk_", "$2a$"} {
			if strings.Contains(page, secret) {
				t.Errorf("the user page shows %q", secret)
			}
		}
		token := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(page)
		if token == nil {
			t.Fatal("no CSRF token in the user page")
		}

		before, _ := w.link("1002")
		for name, form := range map[string]url.Values{
			"no token":    {"notifications": {"off"}},
			"wrong token": {"notifications": {"off"}, "csrf": {token[1] + "x"}},
			"empty token": {"notifications": {"off"}, "csrf": {""}},
		} {
			status, body := c.post(t, "/tenants/acme/users/1002/switches", form)
			if status != http.StatusForbidden || !strings.Contains(body, "security token") {
				t.Errorf("switches with %s: %d", name, status)
			}
		}
		for _, path := range []string{"/tenants/acme/users/1002/unlink", "/tenants/acme/zoho/disable", "/tenants/acme/users/1002/terminal/reset", "/logout"} {
			if status, _ := c.post(t, path, url.Values{"back": {"/"}}); status != http.StatusForbidden {
				t.Errorf("POST %s without a token: %d, want 403", path, status)
			}
		}
		if after, err := w.link("1002"); err != nil || after.Switches != before.Switches {
			t.Errorf("a refused POST changed the link: %+v %v", after, err)
		}
		c.get(t, "/tenants/acme/users", http.StatusOK) // the session survived the refused logout
		// The same form with the token goes through: the refusals were the token's.
		if status, _ := c.post(t, "/tenants/acme/users/1002/switches", url.Values{"notifications": {"off"}, "csrf": {token[1]}}); status != http.StatusSeeOther {
			t.Errorf("with the token: %d, want 303", status)
		}
		if after, _ := w.link("1002"); after.Switches.Notifications {
			t.Error("the switch did not change with the token")
		}
		// A login without the login form's token is refused too.
		anon := newPortalClient(t, w.base)
		if status, _ := anon.post(t, "/login", url.Values{"username": {"olga"}, "password": {portalPassword}}); status != http.StatusForbidden {
			t.Errorf("login without a token: %d, want 403", status)
		}
		// Bodies are bounded.
		big := url.Values{"csrf": {token[1]}, "value": {strings.Repeat("x", 100<<10)}, "kind": {"mobile"}}
		if status, _ := c.post(t, "/tenants/acme/users/1002/terminal", big); status != http.StatusRequestEntityTooLarge {
			t.Errorf("a 100 KB form: %d, want 413", status)
		}
		if _, err := w.st.Terminal(ctx, "acme", "1002"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("the oversized form set a terminal: %v", err)
		}
		// Only local redirects.
		if _, hdr := anon.get(t, "/lang/es?next=//evil.example/x", http.StatusSeeOther); hdr.Get("Location") != "/" {
			t.Errorf("the language switch redirects to %q", hdr.Get("Location"))
		}
	})

	t.Run("lockout after login_attempts failures", func(t *testing.T) {
		b := newTab(t, browser, w.base, "en")
		b.shootOnFailure(t)
		for i := range 3 { // admin.login_attempts
			b.login(t, "adam", fmt.Sprintf("wrong-%d", i))
			b.expectText(t, "#login-error", "Wrong username or password.")
		}
		resp := b.login(t, "adam", "wrong-again")
		if resp.Status != http.StatusTooManyRequests {
			t.Errorf("attempt 4: %d, want 429", resp.Status)
		}
		b.expectText(t, "#login-error", "Too many failed logins from your address. Try again in 10 minute(s).")
		// Locked means locked: the right password is not even checked.
		if resp := b.login(t, "adam", portalPassword); resp.Status != http.StatusTooManyRequests {
			t.Errorf("the right password while locked: %d, want 429", resp.Status)
		}
		entries, _, err := w.st.ListAudit(context.Background(), "acme", store.Page{Limit: 200})
		if err != nil {
			t.Fatal(err)
		}
		failed := 0
		for _, e := range entries {
			if e.Action == "login.failed" && e.Target == "adam" && e.Via == store.ViaPortal {
				failed++
			}
		}
		if failed != 4 { // the wrong password above, and three here
			t.Errorf("%d failed logins of adam audited, want 4", failed)
		}
	})
}

// TestPortalSessionExpires: after admin.session_ttl the session is gone and
// the portal says so at the login.
func TestPortalSessionExpires(t *testing.T) {
	w := newPortalWorld(t, "  session_ttl: 3s\n")
	c := newPortalClient(t, w.base)
	c.login(t, "adam", portalPassword)
	c.get(t, "/tenants/acme/users", http.StatusOK)
	time.Sleep(3500 * time.Millisecond)
	_, hdr := c.get(t, "/tenants/acme/users?q=ana", http.StatusSeeOther)
	if loc := hdr.Get("Location"); loc != "/login?next=%2Ftenants%2Facme%2Fusers%3Fq%3Dana" {
		t.Errorf("an expired session goes to %q", loc)
	}
	page, _ := c.get(t, "/login", http.StatusOK)
	if !strings.Contains(page, "Your session has expired") {
		t.Error("the login does not say the session expired")
	}
}

// portalClient is a plain HTTP client with a cookie jar that does not
// follow redirects.
type portalClient struct {
	base string
	c    *http.Client
}

func newPortalClient(t *testing.T, base string) *portalClient {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &portalClient{base: base, c: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (c *portalClient) get(t *testing.T, path string, want int) (string, http.Header) {
	t.Helper()
	resp, err := c.c.Get(c.base + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("GET %s: %d, want %d\n%s", path, resp.StatusCode, want, b)
	}
	return string(b), resp.Header
}

func (c *portalClient) post(t *testing.T, path string, form url.Values) (int, string) {
	t.Helper()
	resp, err := c.c.PostForm(c.base+path, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// login logs in through the form and returns the session's Set-Cookie.
func (c *portalClient) login(t *testing.T, username, password string) string {
	t.Helper()
	page, _ := c.get(t, "/login", http.StatusOK)
	token := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(page)
	if token == nil {
		t.Fatal("no token in the login form")
	}
	resp, err := c.c.PostForm(c.base+"/login", url.Values{"csrf": {token[1]}, "username": {username}, "password": {password}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	for _, sc := range resp.Header.Values("Set-Cookie") {
		if strings.HasPrefix(sc, "ringside_session=") {
			return sc
		}
	}
	t.Fatal("login set no session cookie")
	return ""
}
