package portal

import (
	"net/http"

	"github.com/ringside/ringside/pkg/store"
)

// tenantPage loads the tenant named in the path for s and the frame of
// its page; a tenant s may not administer gets the 403 page, an unknown one
// the 404 page (a company admin gets 403 for both: it learns nothing of
// other tenants).
func (p *Portal) tenantPage(w http.ResponseWriter, r *http.Request, s *session, title, nav string) (store.Tenant, *base, bool) {
	t, err := p.dir.Tenant(r.Context(), s.actor, r.PathValue("tenant"))
	if err != nil {
		p.renderError(w, r, s, err)
		return t, nil, false
	}
	b := p.frame(w, r, s, title)
	b.Tenant, b.Nav = &tenantNav{ID: t.ID, Name: t.Name}, nav
	return t, b, true
}

// tenants lists the tenants of an operator; a company admin has one and
// goes straight to it.
func (p *Portal) tenants(w http.ResponseWriter, r *http.Request, s *session) {
	if !s.actor.IsOperator() {
		http.Redirect(w, r, home(s.actor), http.StatusSeeOther)
		return
	}
	ts, err := p.dir.Tenants(r.Context(), s.actor)
	if err != nil {
		p.renderError(w, r, s, err)
		return
	}
	rows := make([]tenantRow, len(ts))
	for i, t := range ts {
		rows[i] = tenantRow{ID: t.ID, Name: t.Name, Mode: string(t.Settings.Mode), Status: connStatus(t)}
	}
	p.render(w, http.StatusOK, "tenants", struct {
		*base
		Tenants []tenantRow
	}{p.frame(w, r, s, "page.tenants"), rows})
}

// tenantRow is a tenant as the list shows it (never its token).
type tenantRow struct{ ID, Name, Mode, Status string }

// connStatus is a tenant's Zoho connection status (empty is disconnected).
func connStatus(t store.Tenant) string {
	if t.Zoho.Status == "" {
		return string(store.Disconnected)
	}
	return string(t.Zoho.Status)
}

// tenantRoot leads to the tenant's users.
func (p *Portal) tenantRoot(w http.ResponseWriter, r *http.Request, s *session) {
	t, err := p.dir.Tenant(r.Context(), s.actor, r.PathValue("tenant"))
	if err != nil {
		p.renderError(w, r, s, err)
		return
	}
	http.Redirect(w, r, tenantPath(t.ID, "users"), http.StatusSeeOther)
}
