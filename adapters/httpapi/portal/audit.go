package portal

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/ringside/ringside/pkg/store"
)

// auditPerPage is the audit log's page size.
const auditPerPage = 50

// auditData is one page of the tenant's audit log, newest first.
type auditData struct {
	*base
	Entries         []store.AuditEntry
	From, To, Total int
	Prev, Next      string
}

// auditPage shows the tenant's audit log.
func (p *Portal) auditPage(w http.ResponseWriter, r *http.Request, s *session) {
	t, b, ok := p.tenantPage(w, r, s, "page.audit", "audit")
	if !ok {
		return
	}
	offset := max(formInt(r.URL.Query().Get("offset"), 0), 0)
	entries, total, err := p.dir.Audit(r.Context(), s.actor, t.ID, store.Page{Offset: offset, Limit: auditPerPage})
	if err != nil {
		p.renderError(w, r, s, err)
		return
	}
	d := auditData{base: b, Entries: entries, Total: total}
	if len(entries) > 0 {
		d.From, d.To = offset+1, offset+len(entries)
	}
	page := func(off int) string {
		if off == 0 {
			return tenantPath(t.ID, "audit")
		}
		return tenantPath(t.ID, "audit") + "?" + url.Values{"offset": {strconv.Itoa(off)}}.Encode()
	}
	if offset > 0 {
		d.Prev = page(max(offset-auditPerPage, 0))
	}
	if offset+len(entries) < total {
		d.Next = page(offset + len(entries))
	}
	p.render(w, http.StatusOK, "audit", d)
}
