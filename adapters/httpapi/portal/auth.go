package portal

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strings"

	"go.uber.org/zap"

	"github.com/ringside/ringside/pkg/directory"
)

// base is what every page shows around its content: the language, the
// account, the CSRF token of its forms, the flash, the tenant's menu.
type base struct {
	Lang  string
	Langs []langChoice
	// Title is the message key of the page title.
	Title  string
	Actor  *directory.Actor
	CSRF   string
	Flash  *flashView
	Tenant *tenantNav
	// Nav is the tenant menu item to mark.
	Nav string
	// Path is the page's own URL, where the language switch returns.
	Path string

	cat    map[string]string
	assets map[string]asset
}

type flashView struct{ Kind, Text string }

type tenantNav struct{ ID, Name string }

// T translates a message key, with fmt arguments.
func (b *base) T(key string, args ...any) string { return translate(b.cat, key, args...) }

// Asset is the URL of an embedded file, versioned by its content.
func (b *base) Asset(name string) string { return "/assets/" + name + "?v=" + b.assets[name].version }

// base builds the frame of a page for s (an anonymous session on public
// pages) and takes the flash.
func (p *Portal) frame(w http.ResponseWriter, r *http.Request, s *session, title string) *base {
	b := &base{Lang: s.lang, Langs: langChoices, Title: title, CSRF: s.csrf(), Path: r.URL.RequestURI(),
		cat: catalogs[s.lang], assets: p.assets}
	if s.actor.Username != "" {
		a := s.actor
		b.Actor = &a
	}
	if f := p.takeFlash(w, r); f != nil {
		args := make([]any, len(f.Args))
		for i, a := range f.Args {
			args[i] = a
		}
		text := b.T(f.Key, args...)
		if f.Detail != "" {
			text += ": " + f.Detail
		}
		b.Flash = &flashView{Kind: f.Kind, Text: text}
	}
	return b
}

// root sends the browser where it belongs: the login, the tenant list
// (operators) or the company admin's own users.
func (p *Portal) root(w http.ResponseWriter, r *http.Request) {
	s, err := p.authenticate(r)
	if err != nil {
		p.refuseSession(w, r, err)
		return
	}
	http.Redirect(w, r, home(s.actor), http.StatusSeeOther)
}

// home is an actor's first page.
func home(a directory.Actor) string {
	if a.IsOperator() {
		return "/tenants"
	}
	return tenantPath(a.Tenant, "users")
}

type loginData struct {
	*base
	Username   string
	LoginToken string
	Next       string
	// Error is the message key of why the last attempt failed.
	Error string
	// Arg is the error's argument (minutes until a lockout ends).
	Arg int
}

// loginPage shows the login form with a fresh double-submit token.
func (p *Portal) loginPage(w http.ResponseWriter, r *http.Request) {
	if s, err := p.authenticate(r); err == nil {
		http.Redirect(w, r, home(s.actor), http.StatusSeeOther)
		return
	}
	p.renderLogin(w, r, http.StatusOK, "", r.URL.Query().Get("next"), "", 0)
}

func (p *Portal) renderLogin(w http.ResponseWriter, r *http.Request, status int, username, next, errKey string, arg int) {
	tok := newToken()
	http.SetCookie(w, p.cookie(loginCookie, tok, "/login", 3600))
	b := p.frame(w, r, &session{lang: language(r)}, "page.login")
	b.Path = "/login"
	if next = localPath(next); next != "/" {
		b.Path += "?next=" + url.QueryEscape(next)
	}
	p.render(w, status, "login", loginData{base: b, Username: username, LoginToken: tok, Next: next, Error: errKey, Arg: arg})
}

// login checks the form's token, the address's lockout, then the
// password (the service audits failures), and opens a session.
func (p *Portal) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if err := r.ParseForm(); err != nil {
		http.Error(w, http.StatusText(http.StatusRequestEntityTooLarge), http.StatusRequestEntityTooLarge)
		return
	}
	username, next := strings.TrimSpace(r.PostForm.Get("username")), r.PostForm.Get("next")
	c, err := r.Cookie(loginCookie)
	if err != nil || !sameToken(r.PostForm.Get(csrfField), c.Value) {
		p.m.csrfRefused.Inc()
		p.renderLogin(w, r, http.StatusForbidden, username, next, "error.csrf", 0)
		return
	}
	addr := clientAddr(r)
	if locked, wait := p.limiter.locked(addr); locked {
		p.m.logins.WithLabelValues("locked").Inc()
		w.Header().Set("Retry-After", fmt.Sprint(int(math.Ceil(wait.Seconds()))))
		p.renderLogin(w, r, http.StatusTooManyRequests, username, next, "login.locked", int(math.Ceil(wait.Minutes())))
		return
	}
	tok, a, err := p.dir.Login(r.Context(), username, r.PostForm.Get("password"), directory.ViaPortal, p.ttl)
	switch {
	case errors.Is(err, directory.ErrUnauthorized):
		p.m.logins.WithLabelValues("wrong").Inc()
		p.limiter.fail(addr)
		p.renderLogin(w, r, http.StatusOK, username, next, "login.wrong", 0)
		return
	case err != nil:
		p.m.logins.WithLabelValues("error").Inc()
		p.log.Error("login failed", zap.Error(err))
		p.renderLogin(w, r, http.StatusInternalServerError, username, next, "error.failed", 0)
		return
	}
	p.m.logins.WithLabelValues("ok").Inc()
	p.limiter.reset(addr)
	// A browser-session cookie: the server ends the session after
	// admin.session_ttl (and the login then says so); closing the browser
	// ends it sooner.
	http.SetCookie(w, p.cookie(sessionCookie, tok, "/", 0))
	http.SetCookie(w, p.cookie(loginCookie, "", "/login", -1))
	to := localPath(next)
	if to == "/" {
		to = home(a)
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// logout ends the session.
func (p *Portal) logout(w http.ResponseWriter, r *http.Request, s *session) {
	if err := p.dir.Logout(r.Context(), s.actor, s.token); err != nil {
		p.log.Warn("logout failed", zap.String("actor", s.actor.Username), zap.Error(err))
	}
	http.SetCookie(w, p.cookie(sessionCookie, "", "/", -1))
	p.setFlash(w, flash{Kind: "ok", Key: "flash.logged_out"})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// setLang remembers the language chosen and goes back.
func (p *Portal) setLang(w http.ResponseWriter, r *http.Request) {
	lang := r.PathValue("lang")
	if _, ok := catalogs[lang]; !ok {
		http.NotFound(w, r)
		return
	}
	http.SetCookie(w, p.cookie(langCookie, lang, "/", 365*24*3600))
	http.Redirect(w, r, localPath(r.URL.Query().Get("next")), http.StatusSeeOther)
}
