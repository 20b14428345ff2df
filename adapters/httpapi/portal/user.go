package portal

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ringside/ringside/pkg/store"
)

// userData is one user's page: its link, switches and default terminal,
// or how to link it by signing in at Zoho.
type userData struct {
	*base
	Number, Name, Device string
	Linked               bool
	Email, ZohoName      string
	LinkedAt             time.Time
	// Notifications and ClickToCall are the switches of a linked user.
	Notifications, ClickToCall bool
	// Terminal is the default terminal; nil: the extension itself.
	Terminal *store.Terminal
	// SelfLinkable says an unlinked user may be linked by signing in at
	// Zoho; SelfLinkProblem says why not. SelfLink is the one pending.
	SelfLinkable    bool
	SelfLinkProblem string
	SelfLink        *selfLinkView
}

// userPage shows one user of the tenant.
func (p *Portal) userPage(w http.ResponseWriter, r *http.Request, s *session) {
	t, b, ok := p.tenantPage(w, r, s, "page.user", "users")
	if !ok {
		return
	}
	u, err := p.dir.User(r.Context(), s.actor, t.ID, r.PathValue("ext"))
	if err != nil {
		p.renderError(w, r, s, err)
		return
	}
	d := userData{base: b, Number: u.Number, Name: u.Name, Device: u.Device, Terminal: u.Terminal}
	if l := u.Link; l != nil {
		d.Linked, d.Email, d.ZohoName, d.LinkedAt = true, l.Email, l.Name, l.LinkedAt
		d.Notifications, d.ClickToCall = l.Switches.Notifications, l.Switches.ClickToCall
	} else {
		p.selfLinkState(r, s, t, u.Number, &d)
	}
	p.render(w, http.StatusOK, "user", d)
}

// userPath is the path of a user's page.
func userPath(tenant, ext string) string { return tenantPath(tenant, "users/"+url.PathEscape(ext)) }

// toggle reads an on/off form value.
func toggle(v string) store.Toggle {
	switch v {
	case "on":
		return store.On
	case "off":
		return store.Off
	}
	return store.Keep
}

// setSwitches turns call notifications or click-to-call on or off (the
// service keeps click-to-call off while notifications are).
func (p *Portal) setSwitches(w http.ResponseWriter, r *http.Request, s *session) {
	tenant, ext := r.PathValue("tenant"), r.PathValue("ext")
	to := userPath(tenant, ext)
	c := store.SwitchChange{Notifications: toggle(r.PostForm.Get("notifications")), ClickToCall: toggle(r.PostForm.Get("click_to_call"))}
	if c == (store.SwitchChange{}) {
		p.fail(w, r, s, to, fmt.Errorf("no switch to change: %w", store.ErrInvalid))
		return
	}
	if _, err := p.dir.SetSwitches(r.Context(), s.actor, tenant, ext, c); err != nil {
		p.fail(w, r, s, to, err)
		return
	}
	p.done(w, r, to, flash{Key: "user.switches_flash"})
}

// setTerminal sets the default terminal: a desk device (empty: the
// extension's own) or a mobile number.
func (p *Portal) setTerminal(w http.ResponseWriter, r *http.Request, s *session) {
	tenant, ext := r.PathValue("tenant"), r.PathValue("ext")
	to := userPath(tenant, ext)
	kind := store.TerminalKind(r.PostForm.Get("kind"))
	if kind != store.Desk && kind != store.Mobile {
		p.fail(w, r, s, to, fmt.Errorf("terminal kind %q: want desk or mobile: %w", kind, store.ErrInvalid))
		return
	}
	if _, err := p.dir.SetTerminal(r.Context(), s.actor, tenant, ext, kind, strings.TrimSpace(r.PostForm.Get("value"))); err != nil {
		p.fail(w, r, s, to, err)
		return
	}
	p.done(w, r, to, flash{Key: "user.terminal_flash"})
}

// resetTerminal goes back to the extension's own device.
func (p *Portal) resetTerminal(w http.ResponseWriter, r *http.Request, s *session) {
	tenant, ext := r.PathValue("tenant"), r.PathValue("ext")
	to := userPath(tenant, ext)
	if err := p.dir.ResetTerminal(r.Context(), s.actor, tenant, ext); err != nil {
		p.fail(w, r, s, to, err)
		return
	}
	p.done(w, r, to, flash{Key: "user.terminal_reset_flash"})
}
