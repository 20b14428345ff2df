package portal

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/ringside/ringside/pkg/directory"
)

// Cookies of the portal.
const (
	// sessionCookie holds the session token of directory.Login.
	sessionCookie = "ringside_session"
	// loginCookie holds the login form's CSRF token (double submit): there
	// is no session to derive one from yet.
	loginCookie = "ringside_login"
	// langCookie holds the language chosen with the switch.
	langCookie = "ringside_lang"
	// flashCookie carries one message to the page after a redirect.
	flashCookie = "ringside_flash"
)

// csrfField is the hidden form field of the CSRF token.
const csrfField = "csrf"

// session is who is asking, in which language.
type session struct {
	actor directory.Actor
	token string // the session token; never rendered or logged
	lang  string
}

// csrf is the session's CSRF token: an HMAC of a fixed label keyed by the
// session token. It needs no state, survives restarts, works on every node
// and reveals nothing about the token it comes from.
func (s *session) csrf() string {
	if s == nil || s.token == "" {
		return ""
	}
	m := hmac.New(sha256.New, []byte(s.token))
	m.Write([]byte("ringside portal csrf v1"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// sameToken compares two tokens in constant time; empty never matches.
func sameToken(got, want string) bool {
	return want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// cookie returns a cookie with the portal's attributes.
func (p *Portal) cookie(name, value, path string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: name, Value: value, Path: path, MaxAge: maxAge, HttpOnly: true,
		Secure: p.secure, SameSite: http.SameSiteLaxMode}
}

// authenticate returns the session of the request's cookie.
func (p *Portal) authenticate(r *http.Request) (*session, error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return nil, errNoSession
	}
	a, err := p.dir.Authenticate(r.Context(), c.Value, directory.ViaPortal)
	if err != nil {
		return nil, err
	}
	return &session{actor: a, token: c.Value, lang: language(r)}, nil
}

var errNoSession = errors.New("no session cookie")

// view serves a page to a logged-in actor; anyone else goes to the login.
func (p *Portal) view(h func(http.ResponseWriter, *http.Request, *session)) http.Handler {
	return p.secured(func(w http.ResponseWriter, r *http.Request) {
		s, err := p.authenticate(r)
		if err != nil {
			p.refuseSession(w, r, err)
			return
		}
		h(w, r, s)
	})
}

// action serves a form POST of a logged-in actor: the body is bounded,
// and the CSRF token is checked before anything runs (403 otherwise).
func (p *Portal) action(h func(http.ResponseWriter, *http.Request, *session)) http.Handler {
	return p.secured(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		if err := r.ParseForm(); err != nil {
			status := http.StatusBadRequest
			if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
				status = http.StatusRequestEntityTooLarge
			}
			http.Error(w, http.StatusText(status), status)
			return
		}
		c, err := r.Cookie(sessionCookie)
		if err != nil || c.Value == "" {
			p.refuseSession(w, r, errNoSession)
			return
		}
		if !sameToken(r.PostForm.Get(csrfField), (&session{token: c.Value}).csrf()) {
			p.m.csrfRefused.Inc()
			s := &session{lang: language(r)}
			b := p.frame(w, r, s, "page.error")
			p.render(w, http.StatusForbidden, "error", struct {
				*base
				Status  int
				Message string
				Detail  string
			}{b, http.StatusForbidden, "error.csrf", ""})
			return
		}
		s, err := p.authenticate(r)
		if err != nil {
			p.refuseSession(w, r, err)
			return
		}
		h(w, r, s)
	})
}

// refuseSession sends a request without a valid session to the login; a
// session that expired says so there.
func (p *Portal) refuseSession(w http.ResponseWriter, r *http.Request, err error) {
	if !errors.Is(err, errNoSession) && !errors.Is(err, directory.ErrUnauthorized) {
		p.log.Error("checking a session failed", zap.Error(err))
		http.Error(w, "internal server error", http.StatusInternalServerError)
		return
	}
	key := ""
	if !errors.Is(err, errNoSession) {
		key = "flash.session_expired"
	}
	p.toLogin(w, r, key)
}

// toLogin clears the session cookie and redirects to the login, which
// leads back to this page (GET) afterwards.
func (p *Portal) toLogin(w http.ResponseWriter, r *http.Request, flashKey string) {
	if _, err := r.Cookie(sessionCookie); err == nil {
		http.SetCookie(w, p.cookie(sessionCookie, "", "/", -1))
	}
	if flashKey != "" {
		p.setFlash(w, flash{Kind: "error", Key: flashKey})
	}
	to := "/login"
	if r.Method == http.MethodGet && r.URL.Path != "/" {
		to += "?next=" + url.QueryEscape(r.URL.RequestURI())
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// localPath returns next if it is a path on this site, else "/": the
// login and the language switch never redirect elsewhere.
func localPath(next string) string {
	if next == "" || next[0] != '/' || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" {
		return "/"
	}
	return next
}

// flash is a message for the next page.
type flash struct {
	Kind   string   `json:"k"` // ok | error
	Key    string   `json:"m"` // message key
	Args   []string `json:"a,omitempty"`
	Detail string   `json:"d,omitempty"` // the service's detail, as it said it
}

// maxFlashDetail keeps the flash cookie well below browsers' 4 KB limit.
const maxFlashDetail = 1000

func (p *Portal) setFlash(w http.ResponseWriter, f flash) {
	if len(f.Detail) > maxFlashDetail {
		f.Detail = f.Detail[:maxFlashDetail] + "…"
	}
	b, _ := json.Marshal(f)
	http.SetCookie(w, p.cookie(flashCookie, base64.RawURLEncoding.EncodeToString(b), "/", 60))
}

// takeFlash reads and clears the flash. A message key the catalog does
// not know is dropped: a forged cookie cannot make the page say anything.
func (p *Portal) takeFlash(w http.ResponseWriter, r *http.Request) *flash {
	c, err := r.Cookie(flashCookie)
	if err != nil {
		return nil
	}
	http.SetCookie(w, p.cookie(flashCookie, "", "/", -1))
	b, err := base64.RawURLEncoding.DecodeString(c.Value)
	var f flash
	if err != nil || json.Unmarshal(b, &f) != nil || !knownKey(f.Key) || (f.Kind != "ok" && f.Kind != "error") {
		return nil
	}
	return &f
}

// newToken returns a random token for the login form.
func newToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (Go ≥ 1.24)
	return base64.RawURLEncoding.EncodeToString(b)
}

// clientAddr is the address logins are rate limited by: the peer's IP.
// Behind a reverse proxy every client shares the proxy's address; the
// portal does not trust X-Forwarded-For, which any client can send.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// limiter counts failed logins per client address in a sliding window.
type limiter struct {
	max    int
	window time.Duration
	now    func() time.Time

	mu    sync.Mutex
	fails map[string][]time.Time // address → failures within the window, oldest first
}

// maxAddrs bounds the addresses the limiter remembers.
const maxAddrs = 100_000

func newLimiter(max int, window time.Duration, now func() time.Time) *limiter {
	return &limiter{max: max, window: window, now: now, fails: map[string][]time.Time{}}
}

// recent drops failures older than the window. Caller holds l.mu.
func (l *limiter) recent(addr string, now time.Time) []time.Time {
	f := l.fails[addr]
	i := 0
	for i < len(f) && now.Sub(f[i]) >= l.window {
		i++
	}
	f = f[i:]
	if len(f) == 0 {
		delete(l.fails, addr)
		return nil
	}
	l.fails[addr] = f
	return f
}

// locked reports whether addr may not try now, and for how long.
func (l *limiter) locked(addr string) (bool, time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.recent(addr, now)
	if len(f) < l.max {
		return false, 0
	}
	return true, f[len(f)-l.max].Add(l.window).Sub(now)
}

// fail records a failed login from addr.
func (l *limiter) fail(addr string) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.recent(addr, now)
	if f == nil && len(l.fails) >= maxAddrs {
		l.evict(now)
	}
	f = append(f, now)
	if len(f) > l.max {
		f = f[len(f)-l.max:]
	}
	l.fails[addr] = f
}

// evict makes room for one address: expired ones go, else the one whose
// last failure is oldest. Caller holds l.mu.
func (l *limiter) evict(now time.Time) {
	var oldest string
	var at time.Time
	for a := range l.fails {
		f := l.recent(a, now)
		if f == nil {
			continue
		}
		if last := f[len(f)-1]; oldest == "" || last.Before(at) {
			oldest, at = a, last
		}
	}
	if len(l.fails) >= maxAddrs {
		delete(l.fails, oldest)
	}
}

// reset forgets addr's failures (it logged in).
func (l *limiter) reset(addr string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.fails, addr)
}
