package portal

import (
	"cmp"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/ringside/ringside/pkg/directory"
	"github.com/ringside/ringside/pkg/store"
)

// Page sizes of the users table.
const (
	usersPerPage    = 20
	maxUsersPerPage = 100
)

// usersData is the users table.
type usersData struct {
	*base
	Rows []userRow
	// Search and Linked ("", "yes", "no") are the filter shown.
	Search, Linked string
	// From–To of Total; Prev and Next are the neighbouring pages' URLs
	// ("" when there is none).
	From, To, Total int
	Prev, Next      string
	// Linkable says the Zoho org's users could be listed: links can be
	// made. Choices are its users not linked yet; ZohoProblem says why
	// they could not be listed.
	Linkable    bool
	Choices     []zohoChoice
	ZohoProblem string
	// Back is this page's URL, where the link and unlink forms return.
	Back string
}

// userRow is one row of the users table.
type userRow struct {
	Number, Name    string
	Email, ZohoName string
	Linked          bool
}

// zohoChoice is a Zoho user one may link to.
type zohoChoice struct{ Value, Label string }

// usersPage shows one page of the users table with its search box.
func (p *Portal) usersPage(w http.ResponseWriter, r *http.Request, s *session) {
	t, b, ok := p.tenantPage(w, r, s, "page.users", "users")
	if !ok {
		return
	}
	q := r.URL.Query()
	limit := formInt(q.Get("limit"), usersPerPage)
	limit = min(max(limit, 1), maxUsersPerPage)
	offset := max(formInt(q.Get("offset"), 0), 0)
	d := usersData{base: b, Search: strings.TrimSpace(q.Get("q")), Linked: q.Get("linked"), Back: r.URL.RequestURI()}
	query := directory.Query{Search: d.Search, Page: store.Page{Offset: offset, Limit: limit}}
	switch d.Linked {
	case "yes", "no":
		v := d.Linked == "yes"
		query.Linked = &v
	default:
		d.Linked = ""
	}
	users, total, err := p.dir.Users(r.Context(), s.actor, t.ID, query)
	if err != nil {
		p.renderError(w, r, s, err)
		return
	}
	for _, u := range users {
		row := userRow{Number: u.Number, Name: u.Name}
		if u.Link != nil {
			row.Linked, row.Email, row.ZohoName = true, u.Link.Email, u.Link.Name
		}
		d.Rows = append(d.Rows, row)
	}
	d.Total = total
	if len(users) > 0 {
		d.From, d.To = offset+1, offset+len(users)
	}
	page := func(off int) string {
		v := url.Values{}
		if d.Search != "" {
			v.Set("q", d.Search)
		}
		if d.Linked != "" {
			v.Set("linked", d.Linked)
		}
		if limit != usersPerPage {
			v.Set("limit", strconv.Itoa(limit))
		}
		if off > 0 {
			v.Set("offset", strconv.Itoa(off))
		}
		return tenantPath(t.ID, "users") + "?" + v.Encode()
	}
	if offset > 0 {
		d.Prev = page(max(offset-limit, 0))
	}
	if offset+len(users) < total {
		d.Next = page(offset + len(users))
	}
	zus, err := p.dir.ZohoUsers(r.Context(), s.actor, t.ID)
	switch {
	case err == nil:
		d.Linkable = true
		for _, u := range zus {
			if u.Extension == "" {
				label := u.Name
				if u.Email != "" {
					label += " <" + u.Email + ">"
				}
				d.Choices = append(d.Choices, zohoChoice{Value: cmp.Or(u.ID, u.CRMUserID, u.Email), Label: label})
			}
		}
	case errors.Is(err, directory.ErrNotConnected):
		d.ZohoProblem = b.T("users.not_connected")
	default:
		d.ZohoProblem = b.T("users.zoho_users_failed") + ": " + err.Error()
	}
	p.render(w, http.StatusOK, "users", d)
}

// formInt reads a non-negative number, def when absent or malformed.
func formInt(s string, def int) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		return def
	}
	return n
}

// back is where an action on the users table returns: the page it came
// from when that is the tenant's users page, else the users page.
func back(r *http.Request, tenant string) string {
	users := tenantPath(tenant, "users")
	b := localPath(r.PostForm.Get("back"))
	if b == users || strings.HasPrefix(b, users+"?") || strings.HasPrefix(b, users+"/") {
		return b
	}
	return users
}

// link links an extension to the Zoho user chosen.
func (p *Portal) link(w http.ResponseWriter, r *http.Request, s *session) {
	tenant, ext := r.PathValue("tenant"), r.PathValue("ext")
	to := back(r, tenant)
	l, err := p.dir.Link(r.Context(), s.actor, tenant, ext, r.PostForm.Get("zoho_user"))
	if err != nil {
		p.fail(w, r, s, to, err)
		return
	}
	p.done(w, r, to, flash{Key: "users.linked_flash", Args: []string{ext, cmp.Or(l.Email, l.Name)}})
}

// unlink removes an extension's link.
func (p *Portal) unlink(w http.ResponseWriter, r *http.Request, s *session) {
	tenant, ext := r.PathValue("tenant"), r.PathValue("ext")
	to := back(r, tenant)
	u, err := p.dir.Unlink(r.Context(), s.actor, tenant, ext)
	if err != nil {
		p.fail(w, r, s, to, err)
		return
	}
	p.done(w, r, to, flash{Key: "users.unlinked_flash", Args: []string{ext, cmp.Or(u.Link.Email, u.Link.Name)}, Detail: u.ZohoWarning})
}
