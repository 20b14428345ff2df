package portal

import (
	"cmp"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ringside/ringside/pkg/directory"
	"github.com/ringside/ringside/pkg/store"
)

// zohoData is the Zoho integration page (the connection as the CLI's
// `zoho status` shows it; never its token).
type zohoData struct {
	*base
	Status      string
	Mode        string
	Location    string
	ConnectedAt time.Time
	LastError   string
	LastErrorAt time.Time
	// Linked is how many users Disable would unlink.
	Linked int
	Modes  []string
	// DefaultUser is the default responsible user as shown ("" none);
	// DefaultChoices are the org's users who may be it (they have a CRM
	// user id), or DefaultProblem says why they cannot be listed.
	DefaultUser    string
	DefaultChoices []defaultChoice
	DefaultProblem string
}

// defaultChoice is a Zoho user the default responsible user may be.
type defaultChoice struct {
	Value, Label string
	Selected     bool
}

// zohoPage shows the tenant's Zoho connection, the Enable form (mode) and
// Disable with its confirmation.
func (p *Portal) zohoPage(w http.ResponseWriter, r *http.Request, s *session) {
	t, b, ok := p.tenantPage(w, r, s, "page.zoho", "zoho")
	if !ok {
		return
	}
	linked := true
	_, n, err := p.dir.Users(r.Context(), s.actor, t.ID, directory.Query{Linked: &linked, Page: store.Page{Limit: 1}})
	if err != nil {
		p.renderError(w, r, s, err)
		return
	}
	if b.Flash == nil {
		switch r.URL.Query().Get("connect") { // set by ZohoReturnURL
		case ConnectOK:
			b.Flash = &flashView{Kind: "ok", Text: b.T("zoho.connected_flash")}
		case ConnectDenied:
			b.Flash = &flashView{Kind: "error", Text: b.T("zoho.denied_flash")}
		case ConnectFailed:
			b.Flash = &flashView{Kind: "error", Text: b.T("zoho.failed_flash")}
		}
	}
	mode := string(t.Settings.Mode)
	if mode == "" {
		mode = string(store.ModeREST)
	}
	d := zohoData{base: b, Status: connStatus(t), Mode: mode, Location: t.Zoho.Location,
		ConnectedAt: t.Zoho.ConnectedAt, LastError: t.Zoho.LastError, LastErrorAt: t.Zoho.LastErrorAt, Linked: n,
		Modes: []string{string(store.ModeREST), string(store.ModePhoneBridge)}, DefaultUser: t.Settings.DefaultUser}
	p.defaultUsers(r, s, t, &d)
	p.render(w, http.StatusOK, "zoho", d)
}

// defaultUsers lists the org's users the default responsible user may be,
// and names the current one.
func (p *Portal) defaultUsers(r *http.Request, s *session, t store.Tenant, d *zohoData) {
	zus, err := p.dir.ZohoUsers(r.Context(), s.actor, t.ID)
	switch {
	case errors.Is(err, directory.ErrNotConnected):
		d.DefaultProblem = d.T("users.not_connected")
		return
	case err != nil:
		d.DefaultProblem = d.T("users.zoho_users_failed") + ": " + err.Error()
		return
	}
	for _, u := range zus {
		if u.CRMUserID == "" {
			continue // cannot own records (REST mode) or tasks
		}
		label := u.Name
		if u.Email != "" {
			label += " <" + u.Email + ">"
		}
		current := u.CRMUserID == t.Settings.DefaultUser
		if current {
			d.DefaultUser = label
		}
		d.DefaultChoices = append(d.DefaultChoices, defaultChoice{Value: u.CRMUserID, Label: label, Selected: current})
	}
}

// setDefaultUser sets the default responsible user (empty: none).
func (p *Portal) setDefaultUser(w http.ResponseWriter, r *http.Request, s *session) {
	tenant := r.PathValue("tenant")
	back := tenantPath(tenant, "zoho")
	who := strings.TrimSpace(r.PostForm.Get("default_user"))
	if _, err := p.dir.UpdateTenant(r.Context(), s.actor, tenant, directory.TenantChange{DefaultUser: &who}); err != nil {
		p.fail(w, r, s, back, err)
		return
	}
	if who == "" {
		p.done(w, r, back, flash{Key: "zoho.default_user_cleared_flash"})
		return
	}
	name := who
	if zus, err := p.dir.ZohoUsers(r.Context(), s.actor, tenant); err == nil {
		for _, u := range zus {
			if u.CRMUserID == who {
				name = cmp.Or(u.Email, u.Name, who)
			}
		}
	}
	p.done(w, r, back, flash{Key: "zoho.default_user_flash", Args: []string{name}})
}

// enableZoho sets the mode and sends the browser to Zoho's consent page;
// the OAuth callback completes the connection and comes back (see
// ZohoReturnURL).
func (p *Portal) enableZoho(w http.ResponseWriter, r *http.Request, s *session) {
	tenant := r.PathValue("tenant")
	back := tenantPath(tenant, "zoho")
	consent, err := p.dir.EnableZoho(r.Context(), s.actor, tenant, store.ZohoMode(r.PostForm.Get("mode")))
	if err == nil {
		if u, perr := url.Parse(consent); perr != nil || (u.Scheme != "https" && u.Scheme != "http") {
			err = fmt.Errorf("the Zoho consent URL is not a web address")
		}
	}
	if err != nil {
		p.fail(w, r, s, back, err)
		return
	}
	http.Redirect(w, r, consent, http.StatusSeeOther)
}

// disableZoho unlinks every user of the tenant and revokes the connection.
func (p *Portal) disableZoho(w http.ResponseWriter, r *http.Request, s *session) {
	tenant := r.PathValue("tenant")
	back := tenantPath(tenant, "zoho")
	n, err := p.dir.DisableZoho(r.Context(), s.actor, tenant)
	if err != nil {
		p.fail(w, r, s, back, err)
		return
	}
	p.done(w, r, back, flash{Key: "zoho.disabled_flash", Args: []string{strconv.Itoa(n)}})
}
