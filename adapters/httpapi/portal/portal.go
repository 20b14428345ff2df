// Package portal is Ringside's web admin portal: server-rendered pages
// (html/template, one embedded stylesheet and one small embedded script, no
// external assets) over *directory.Service, which owns every rule, check
// and audit entry, and over the live calls board (pkg/livecalls). Like the
// JSON API it never writes to the store itself: a request the service
// refuses changes nothing.
//
// Routes (Mount registers each on the daemon's router, so the server's
// metrics label them by pattern):
//
//	GET  /                                         → the login, the tenant list, or a company admin's users
//	GET  /login, POST /login                       password login (rate limited per client address)
//	POST /logout                                   end the session
//	GET  /lang/{lang}?next=                        choose English or Spanish (a cookie), back to next
//	GET  /assets/{file}                            the stylesheet and the script
//	GET  /tenants                                  tenants (operators; a company admin goes to its own)
//	GET  /tenants/{tenant}                         → its users
//	GET  /tenants/{tenant}/zoho                    the Zoho integration: status, mode, enable, disable, default user
//	POST /tenants/{tenant}/zoho/enable             → 303 to Zoho's consent page
//	POST /tenants/{tenant}/zoho/disable            unlink every user, revoke
//	POST /tenants/{tenant}/zoho/default-user       the default responsible user (a user of the org, or none)
//	GET  /tenants/{tenant}/users                   the users table: ?q=&linked=&offset=&limit=
//	POST /tenants/{tenant}/users/{ext}/link        link to a Zoho user of the org
//	POST /tenants/{tenant}/users/{ext}/unlink      unlink
//	GET  /tenants/{tenant}/users/{ext}             one user: switches, default terminal, self-service link
//	POST /tenants/{tenant}/users/{ext}/selflink    start linking by signing in at Zoho (device code)
//	POST /tenants/{tenant}/users/{ext}/selflink/poll
//	                                               where it stands; links who approved (js=1: {"state": …})
//	POST /tenants/{tenant}/users/{ext}/selflink/cancel
//	POST /tenants/{tenant}/users/{ext}/switches    call notifications, click-to-call
//	POST /tenants/{tenant}/users/{ext}/terminal    set the default terminal
//	POST /tenants/{tenant}/users/{ext}/terminal/reset
//	GET  /tenants/{tenant}/live                    calls ringing and answered now (refreshes every 2 s)
//	GET  /tenants/{tenant}/live/calls              the live table alone (what the page refreshes)
//	GET  /tenants/{tenant}/audit                   the tenant's audit log: ?offset=
//	GET  /tenants/{tenant}/features                features, call settings, blacklist, webhooks
//	POST /tenants/{tenant}/features/switch         a feature on or off (feature=, state=on|off)
//	POST /tenants/{tenant}/features/settings       internal-call policy, technical extensions,
//	                                               own numbers, lead module (those in the form)
//	POST /tenants/{tenant}/features/blacklist/add  a number or prefix (number=)
//	POST /tenants/{tenant}/features/blacklist/remove
//	POST /tenants/{tenant}/features/blacklist/reason
//	POST /tenants/{tenant}/features/webhooks       subscribe (url=, events=…): the page showing
//	                                               the secret, once
//	GET  /tenants/{tenant}/features/webhooks/{id}  the subscription's delivery log: ?offset=
//	POST /tenants/{tenant}/features/webhooks/{id}/enable
//	POST /tenants/{tenant}/features/webhooks/{id}/remove
//
// Security: the session cookie holds a token from directory.Login (only
// its SHA-256 is stored), HttpOnly, SameSite=Lax, Secure when
// http.public_url is https; every POST carries a CSRF token derived from
// the session token (login: a double-submit cookie) compared in constant
// time, or is refused with 403 before anything runs; bodies are bounded;
// every response carries a Content-Security-Policy without inline script,
// X-Frame-Options DENY, Referrer-Policy and nosniff; html/template escapes
// all output; no token, secret or hash is ever rendered or logged, but for
// a new webhook subscription's signing secret, shown once on the page that
// answers its creation.
package portal

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/ringside/ringside/pkg/directory"
	"github.com/ringside/ringside/pkg/livecalls"
	"github.com/ringside/ringside/pkg/store"
)

//go:embed templates/*.html assets/*
var files embed.FS

// maxBody bounds a form body: the largest form (a terminal) is a few
// hundred bytes.
const maxBody = 64 << 10

// Live is the live calls board the live view shows.
type Live interface {
	Calls(tenant string) []livecalls.Call
}

var _ Live = (*livecalls.Board)(nil)

// Mux is where Mount registers the routes (*httpapi.Server, http.ServeMux).
type Mux interface {
	Handle(pattern string, h http.Handler)
}

// Options configure a Portal.
type Options struct {
	// Directory does all the work. The portal takes the concrete service,
	// as the JSON API does: it calls some twenty-five of its methods.
	Directory *directory.Service
	// Live is the live calls board; nil shows an empty live view.
	Live Live
	// SelfLinks links an extension to whoever signs in at Zoho with the
	// device code its page shows; nil (no Zoho client) does not offer it.
	SelfLinks *directory.SelfLinks
	// PublicURL is http.public_url: cookies are Secure when it is https.
	PublicURL string
	// ZohoAccountsURL is zoho.accounts_url: the consent page the Enable
	// form is redirected to must be allowed by the form-action policy.
	ZohoAccountsURL string
	// SessionTTL is how long a login lasts (admin.session_ttl).
	SessionTTL time.Duration
	// LoginAttempts failed logins from one address within LoginWindow
	// lock the address out until the window has passed
	// (admin.login_attempts, admin.login_window).
	LoginAttempts int
	LoginWindow   time.Duration
	// Logger logs internal errors; nil logs nothing.
	Logger *zap.Logger
	// Registerer gets the portal's metrics; nil leaves them unregistered.
	Registerer prometheus.Registerer
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Portal serves the web portal. Create it with New, then Mount it.
type Portal struct {
	dir       *directory.Service
	live      Live
	selfLinks *directory.SelfLinks
	secure    bool
	ttl       time.Duration
	csp       string
	log       *zap.Logger
	now       func() time.Time
	limiter   *limiter
	pages     map[string]*template.Template
	assets    map[string]asset
	m         *metrics
}

// asset is an embedded static file with the version its URL carries.
type asset struct {
	body    []byte
	ctype   string
	version string
}

// New returns a Portal. It fails on a missing option or if its metrics
// are already registered.
func New(o Options) (*Portal, error) {
	if o.Directory == nil {
		return nil, errors.New("portal: Options.Directory is required")
	}
	if o.SessionTTL <= 0 || o.LoginAttempts < 1 || o.LoginWindow <= 0 {
		return nil, errors.New("portal: SessionTTL, LoginAttempts and LoginWindow must be positive")
	}
	p := &Portal{dir: o.Directory, live: o.Live, selfLinks: o.SelfLinks,
		ttl: o.SessionTTL, log: o.Logger, now: o.Now}
	if p.log == nil {
		p.log = zap.NewNop()
	}
	p.log = p.log.Named("portal")
	if p.now == nil {
		p.now = time.Now
	}
	if u, err := url.Parse(o.PublicURL); err == nil && u.Scheme == "https" {
		p.secure = true
	}
	p.csp = contentSecurityPolicy(o.ZohoAccountsURL)
	p.limiter = newLimiter(o.LoginAttempts, o.LoginWindow, p.now)
	var err error
	if p.pages, err = parsePages(); err != nil {
		return nil, err
	}
	if p.assets, err = loadAssets(); err != nil {
		return nil, err
	}
	if p.m, err = newMetrics(o.Registerer); err != nil {
		return nil, err
	}
	return p, nil
}

// contentSecurityPolicy allows nothing but the portal's own script,
// stylesheet and requests; forms may also go (be redirected) to the Zoho
// accounts server, whose consent page Enable leads to.
func contentSecurityPolicy(accounts string) string {
	forms := "'self'"
	if u, err := url.Parse(accounts); err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" {
		forms += " " + u.Scheme + "://" + u.Host
	}
	return "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
		"form-action " + forms + "; frame-ancestors 'none'; base-uri 'none'"
}

// Mount registers every route on m.
func (p *Portal) Mount(m Mux) {
	public := func(h http.HandlerFunc) http.Handler { return p.secured(h) }
	for _, r := range []struct {
		pattern string
		h       http.Handler
	}{
		{"GET /{$}", public(p.root)},
		{"GET /login", public(p.loginPage)},
		{"POST /login", public(p.login)},
		{"GET /lang/{lang}", public(p.setLang)},
		{"GET /assets/{file}", http.HandlerFunc(p.serveAsset)},
		{"POST /logout", p.action(p.logout)},
		{"GET /tenants", p.view(p.tenants)},
		{"GET /tenants/{tenant}", p.view(p.tenantRoot)},
		{"GET /tenants/{tenant}/zoho", p.view(p.zohoPage)},
		{"POST /tenants/{tenant}/zoho/enable", p.action(p.enableZoho)},
		{"POST /tenants/{tenant}/zoho/disable", p.action(p.disableZoho)},
		{"POST /tenants/{tenant}/zoho/default-user", p.action(p.setDefaultUser)},
		{"GET /tenants/{tenant}/users", p.view(p.usersPage)},
		{"POST /tenants/{tenant}/users/{ext}/link", p.action(p.link)},
		{"POST /tenants/{tenant}/users/{ext}/unlink", p.action(p.unlink)},
		{"GET /tenants/{tenant}/users/{ext}", p.view(p.userPage)},
		{"POST /tenants/{tenant}/users/{ext}/switches", p.action(p.setSwitches)},
		{"POST /tenants/{tenant}/users/{ext}/terminal", p.action(p.setTerminal)},
		{"POST /tenants/{tenant}/users/{ext}/terminal/reset", p.action(p.resetTerminal)},
		{"POST /tenants/{tenant}/users/{ext}/selflink", p.action(p.startSelfLink)},
		{"POST /tenants/{tenant}/users/{ext}/selflink/poll", p.action(p.pollSelfLink)},
		{"POST /tenants/{tenant}/users/{ext}/selflink/cancel", p.action(p.cancelSelfLink)},
		{"GET /tenants/{tenant}/live", p.view(p.livePage)},
		{"GET /tenants/{tenant}/live/calls", p.view(p.liveCalls)},
		{"GET /tenants/{tenant}/audit", p.view(p.auditPage)},
		{"GET /tenants/{tenant}/features", p.view(p.featuresPage)},
		{"POST /tenants/{tenant}/features/switch", p.action(p.setFeature)},
		{"POST /tenants/{tenant}/features/settings", p.action(p.setCallSettings)},
		{"POST /tenants/{tenant}/features/blacklist/add", p.action(p.addBlocked)},
		{"POST /tenants/{tenant}/features/blacklist/remove", p.action(p.removeBlocked)},
		{"POST /tenants/{tenant}/features/blacklist/reason", p.action(p.setBlockedReason)},
		{"POST /tenants/{tenant}/features/webhooks", p.action(p.addWebhook)},
		{"GET /tenants/{tenant}/features/webhooks/{id}", p.view(p.webhookPage)},
		{"POST /tenants/{tenant}/features/webhooks/{id}/enable", p.action(p.enableWebhook)},
		{"POST /tenants/{tenant}/features/webhooks/{id}/remove", p.action(p.removeWebhook)},
	} {
		m.Handle(r.pattern, r.h)
	}
}

// secured sets the security headers every page carries.
func (p *Portal) secured(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", p.csp)
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "same-origin")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Cross-Origin-Opener-Policy", "same-origin")
		hd.Set("Cache-Control", "no-store")
		h(w, r)
	})
}

// pageNames are the templates in templates/, each rendered inside
// layout.html.
var pageNames = []string{"login", "tenants", "zoho", "users", "user", "live", "audit", "features", "webhook", "webhook_created", "error"}

func parsePages() (map[string]*template.Template, error) {
	funcs := template.FuncMap{
		"when": func(t time.Time) string {
			if t.IsZero() {
				return ""
			}
			return t.UTC().Format("2006-01-02 15:04:05 UTC")
		},
		"pathEscape": url.PathEscape,
		"join":       strings.Join,
	}
	pages := map[string]*template.Template{}
	for _, name := range pageNames {
		t, err := template.New(name).Funcs(funcs).ParseFS(files, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("portal: template %s: %w", name, err)
		}
		pages[name] = t
	}
	return pages, nil
}

func loadAssets() (map[string]asset, error) {
	out := map[string]asset{}
	err := fs.WalkDir(files, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := files.ReadFile(p)
		if err != nil {
			return err
		}
		ctype := "text/css; charset=utf-8"
		if strings.HasSuffix(p, ".js") {
			ctype = "text/javascript; charset=utf-8"
		}
		sum := sha256.Sum256(b)
		out[path.Base(p)] = asset{body: b, ctype: ctype, version: hex.EncodeToString(sum[:6])}
		return nil
	})
	return out, err
}

// serveAsset serves an embedded file. Its URL carries the content's hash,
// so it may be cached for a long time.
func (p *Portal) serveAsset(w http.ResponseWriter, r *http.Request) {
	a, ok := p.assets[r.PathValue("file")]
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", a.ctype)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "public, max-age=86400")
	_, _ = w.Write(a.body)
}

// render executes a page with status.
func (p *Portal) render(w http.ResponseWriter, status int, page string, data any) {
	var b strings.Builder
	if err := p.pages[page].ExecuteTemplate(&b, "layout", data); err != nil {
		p.log.Error("rendering a page failed", zap.String("page", page), zap.Error(err))
		http.Error(w, "internal server error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(b.String()))
}

// renderError shows the error page: 403, 404 or 500 with the service's
// detail. A session that ended meanwhile goes back to the login.
func (p *Portal) renderError(w http.ResponseWriter, r *http.Request, s *session, err error) {
	status, key := http.StatusInternalServerError, "error.failed"
	switch {
	case errors.Is(err, directory.ErrUnauthorized):
		p.toLogin(w, r, "flash.session_expired")
		return
	case errors.Is(err, directory.ErrForbidden):
		status, key = http.StatusForbidden, "error.forbidden"
	case errors.Is(err, store.ErrNotFound):
		status, key = http.StatusNotFound, "error.not_found"
	default:
		p.log.Error("portal request failed", zap.String("actor", s.actor.Username), zap.Error(err))
	}
	b := p.frame(w, r, s, "page.error")
	p.render(w, status, "error", struct {
		*base
		Status  int
		Message string
		Detail  string
	}{b, status, key, err.Error()})
}

// notFound renders the 404 page for something that is not there.
func (p *Portal) notFound(w http.ResponseWriter, r *http.Request, s *session, what string) {
	p.renderError(w, r, s, fmt.Errorf("%s: %w", what, store.ErrNotFound))
}

// errorKey is the message key that introduces a service error.
func errorKey(err error) string {
	switch {
	case errors.Is(err, directory.ErrForbidden):
		return "error.forbidden"
	case errors.Is(err, directory.ErrUnauthorized):
		return "error.unauthorized"
	case errors.Is(err, directory.ErrNotConnected):
		return "error.not_connected"
	case errors.Is(err, directory.ErrNoPBX):
		return "error.no_pbx"
	case errors.Is(err, store.ErrNotFound):
		return "error.not_found"
	case errors.Is(err, store.ErrConflict):
		return "error.conflict"
	case errors.Is(err, store.ErrInvalid):
		return "error.invalid"
	}
	return "error.failed"
}

// fail reports a failed action as a flash on the page the user goes back
// to; an action refused for the tenant as a whole is a 403 page.
func (p *Portal) fail(w http.ResponseWriter, r *http.Request, s *session, back string, err error) {
	if errors.Is(err, directory.ErrForbidden) || errors.Is(err, directory.ErrUnauthorized) {
		p.renderError(w, r, s, err)
		return
	}
	if errorKey(err) == "error.failed" && !errors.Is(err, context.Canceled) {
		p.log.Warn("portal action failed", zap.String("actor", s.actor.Username), zap.Error(err))
	}
	p.setFlash(w, flash{Kind: "error", Key: errorKey(err), Detail: err.Error()})
	http.Redirect(w, r, back, http.StatusSeeOther)
}

// done reports a successful action as a flash and goes back.
func (p *Portal) done(w http.ResponseWriter, r *http.Request, back string, f flash) {
	f.Kind = "ok"
	p.setFlash(w, f)
	http.Redirect(w, r, back, http.StatusSeeOther)
}

// tenantPath is the path of a tenant's page ("" for its root).
func tenantPath(tenant, page string) string {
	u := "/tenants/" + url.PathEscape(tenant)
	if page != "" {
		u += "/" + page
	}
	return u
}

// Outcomes of a Zoho connection, for ZohoReturnURL.
const (
	ConnectOK     = "ok"
	ConnectDenied = "denied"
	ConnectFailed = "failed"
)

// ZohoReturnURL is where the Zoho OAuth callback sends a browser back
// after a connection attempt: the tenant's Zoho page, showing the outcome
// (ConnectOK, ConnectDenied or ConnectFailed), when the browser is logged
// in to the portal; "" (keep the callback's own page) otherwise, as for a
// connection started with `ringside zoho connect`.
func ZohoReturnURL(r *http.Request, tenant, outcome string) string {
	if c, err := r.Cookie(sessionCookie); err != nil || c.Value == "" {
		return ""
	}
	switch outcome {
	case ConnectOK, ConnectDenied:
	default:
		outcome = ConnectFailed
	}
	return tenantPath(tenant, "zoho") + "?connect=" + outcome
}
