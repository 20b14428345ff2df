package portal

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
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
	p.render(w, http.StatusOK, "zoho", zohoData{base: b, Status: connStatus(t), Mode: mode, Location: t.Zoho.Location,
		ConnectedAt: t.Zoho.ConnectedAt, LastError: t.Zoho.LastError, LastErrorAt: t.Zoho.LastErrorAt, Linked: n,
		Modes: []string{string(store.ModeREST), string(store.ModePhoneBridge)}})
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
