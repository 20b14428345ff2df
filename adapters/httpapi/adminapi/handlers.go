package adminapi

import (
	"fmt"
	"net/http"
	"time"

	"github.com/ringside/ringside/pkg/directory"
	"github.com/ringside/ringside/pkg/store"
)

// Each endpoint decodes its input, calls the service once and shapes the
// answer; the service checks rights, validates and audits.

// ---- tenants ----

func (h *Handler) listTenants(r *http.Request, a directory.Actor) (int, any, error) {
	ts, err := h.dir.Tenants(r.Context(), a)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, TenantsView(ts), nil
}

func (h *Handler) getTenant(r *http.Request, a directory.Actor) (int, any, error) {
	t, err := h.dir.Tenant(r.Context(), a, r.PathValue("tenant"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, TenantView(t), nil
}

// newTenant is the body of POST /tenants.
type newTenant struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

func (h *Handler) createTenant(r *http.Request, a directory.Actor) (int, any, error) {
	var in newTenant
	if err := decodeBody(r, &in, required); err != nil {
		return 0, nil, err
	}
	t, err := h.dir.CreateTenant(r.Context(), a, in.ID, in.Name)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, tenantOf(t), nil
}

// tenantPatch is the body of PATCH /tenants/{tenant}; absent (or null)
// fields are kept.
type tenantPatch struct {
	Name                *string         `json:"name"`
	Mode                *string         `json:"mode"`
	Region              *string         `json:"region"`
	DefaultUser         *string         `json:"default_user"`
	Features            map[string]bool `json:"features"`
	InternalPolicy      *string         `json:"internal_policy"`
	TechnicalExtensions *[]string       `json:"technical_extensions"`
	OwnNumbers          *[]string       `json:"own_numbers"`
	LeadModule          *string         `json:"lead_module"`
}

func (h *Handler) patchTenant(r *http.Request, a directory.Actor) (int, any, error) {
	var in tenantPatch
	if err := decodeBody(r, &in, required); err != nil {
		return 0, nil, err
	}
	c := directory.TenantChange{Name: in.Name, Region: in.Region, DefaultUser: in.DefaultUser, Features: in.Features,
		TechnicalExtensions: in.TechnicalExtensions, OwnNumbers: in.OwnNumbers, LeadModule: in.LeadModule}
	if in.Mode != nil {
		m := store.ZohoMode(*in.Mode)
		c.Mode = &m
	}
	if in.InternalPolicy != nil {
		p := store.InternalPolicy(*in.InternalPolicy)
		c.InternalPolicy = &p
	}
	t, err := h.dir.UpdateTenant(r.Context(), a, r.PathValue("tenant"), c)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, tenantOf(t), nil
}

func (h *Handler) deleteTenant(r *http.Request, a directory.Actor) (int, any, error) {
	return http.StatusNoContent, nil, h.dir.DeleteTenant(r.Context(), a, r.PathValue("tenant"))
}

// ---- Zoho ----

// zohoEnable is the body of POST /tenants/{tenant}/zoho/enable.
type zohoEnable struct {
	Mode string `json:"mode"`
}

func (h *Handler) enableZoho(r *http.Request, a directory.Actor) (int, any, error) {
	var in zohoEnable
	if err := decodeBody(r, &in, optional); err != nil {
		return 0, nil, err
	}
	u, err := h.dir.EnableZoho(r.Context(), a, r.PathValue("tenant"), store.ZohoMode(in.Mode))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]string{"authorize_url": u}, nil
}

func (h *Handler) disableZoho(r *http.Request, a directory.Actor) (int, any, error) {
	if err := decodeBody(r, &struct{}{}, optional); err != nil {
		return 0, nil, err
	}
	n, err := h.dir.DisableZoho(r.Context(), a, r.PathValue("tenant"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]int{"unlinked": n}, nil
}

func (h *Handler) zohoUsers(r *http.Request, a directory.Actor) (int, any, error) {
	us, err := h.dir.ZohoUsers(r.Context(), a, r.PathValue("tenant"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"users": mapSlice(us, func(u directory.ZohoUser) zohoUserView {
		return zohoUserView{ID: u.ID, CRMUserID: u.CRMUserID, Email: u.Email, Name: u.Name, Extension: u.Extension}
	})}, nil
}

// ---- users ----

// usersPage is the answer of GET /tenants/{tenant}/users.
type usersPage struct {
	Users  []userView `json:"users"`
	Total  int        `json:"total"`
	Offset int        `json:"offset"`
	Limit  int        `json:"limit"`
}

func (h *Handler) listUsers(r *http.Request, a directory.Actor) (int, any, error) {
	q, err := query(r, "search", "linked", "offset", "limit")
	if err != nil {
		return 0, nil, err
	}
	p, err := page(q)
	if err != nil {
		return 0, nil, err
	}
	linked, err := boolParam(q, "linked")
	if err != nil {
		return 0, nil, err
	}
	us, total, err := h.dir.Users(r.Context(), a, r.PathValue("tenant"), directory.Query{Search: q.Get("search"), Linked: linked, Page: p})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, UsersView(us, total, p), nil
}

func (h *Handler) getUser(r *http.Request, a directory.Actor) (int, any, error) {
	u, err := h.dir.User(r.Context(), a, r.PathValue("tenant"), r.PathValue("ext"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, UserView(u), nil
}

// linkRequest is the body of PUT .../link.
type linkRequest struct {
	// ZohoUser is the Zoho user's PhoneBridge id, CRM user id or email.
	ZohoUser string `json:"zoho_user"`
}

func (h *Handler) link(r *http.Request, a directory.Actor) (int, any, error) {
	var in linkRequest
	if err := decodeBody(r, &in, required); err != nil {
		return 0, nil, err
	}
	if in.ZohoUser == "" {
		return 0, nil, invalid("zoho_user is required: the Zoho user's id or email")
	}
	l, err := h.dir.Link(r.Context(), a, r.PathValue("tenant"), r.PathValue("ext"), in.ZohoUser)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, linkOf(l), nil
}

// unlinked is the answer of DELETE .../link.
type unlinked struct {
	Link linkView `json:"link"`
	// ZohoWarning is why the user may still show click-to-dial at Zoho;
	// "" when unregistering worked (or was not needed).
	ZohoWarning string `json:"zoho_warning"`
}

func (h *Handler) unlink(r *http.Request, a directory.Actor) (int, any, error) {
	u, err := h.dir.Unlink(r.Context(), a, r.PathValue("tenant"), r.PathValue("ext"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, unlinked{Link: linkOf(u.Link), ZohoWarning: u.ZohoWarning}, nil
}

// switchesPatch is the body of PATCH .../switches; an absent switch is
// kept.
type switchesPatch struct {
	Notifications *bool `json:"notifications"`
	ClickToCall   *bool `json:"click_to_call"`
}

func toggle(b *bool) store.Toggle {
	switch {
	case b == nil:
		return store.Keep
	case *b:
		return store.On
	}
	return store.Off
}

func (h *Handler) setSwitches(r *http.Request, a directory.Actor) (int, any, error) {
	var in switchesPatch
	if err := decodeBody(r, &in, required); err != nil {
		return 0, nil, err
	}
	l, err := h.dir.SetSwitches(r.Context(), a, r.PathValue("tenant"), r.PathValue("ext"),
		store.SwitchChange{Notifications: toggle(in.Notifications), ClickToCall: toggle(in.ClickToCall)})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, linkOf(l), nil
}

// terminalRequest is the body of PUT .../terminal.
type terminalRequest struct {
	Kind string `json:"kind"`
	// Value is the device of a desk terminal ("" for the extension's own)
	// or the number of a mobile one.
	Value string `json:"value"`
}

func (h *Handler) setTerminal(r *http.Request, a directory.Actor) (int, any, error) {
	var in terminalRequest
	if err := decodeBody(r, &in, required); err != nil {
		return 0, nil, err
	}
	t, err := h.dir.SetTerminal(r.Context(), a, r.PathValue("tenant"), r.PathValue("ext"), store.TerminalKind(in.Kind), in.Value)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, terminalOf(t), nil
}

func (h *Handler) resetTerminal(r *http.Request, a directory.Actor) (int, any, error) {
	return http.StatusNoContent, nil, h.dir.ResetTerminal(r.Context(), a, r.PathValue("tenant"), r.PathValue("ext"))
}

func (h *Handler) discover(r *http.Request, a directory.Actor) (int, any, error) {
	if err := decodeBody(r, &struct{}{}, optional); err != nil {
		return 0, nil, err
	}
	d, err := h.dir.Discover(r.Context(), a, r.PathValue("tenant"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]int{"updated": d.Updated, "skipped": d.Skipped}, nil
}

// ---- audit ----

// auditPage is the answer of GET /audit.
type auditPage struct {
	Entries []auditView `json:"entries"`
	Total   int         `json:"total"`
	Offset  int         `json:"offset"`
	Limit   int         `json:"limit"`
}

func (h *Handler) audit(r *http.Request, a directory.Actor) (int, any, error) {
	q, err := query(r, "tenant", "offset", "limit")
	if err != nil {
		return 0, nil, err
	}
	p, err := page(q)
	if err != nil {
		return 0, nil, err
	}
	es, total, err := h.dir.Audit(r.Context(), a, q.Get("tenant"), p)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, AuditView(es, total, p), nil
}

// ---- accounts and tokens ----

func (h *Handler) listAccounts(r *http.Request, a directory.Actor) (int, any, error) {
	accs, err := h.dir.Accounts(r.Context(), a)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, AccountsView(accs), nil
}

// newAccount is the body of POST /accounts.
type newAccount struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Role     string `json:"role"`
	Tenant   string `json:"tenant"`
}

func (h *Handler) createAccount(r *http.Request, a directory.Actor) (int, any, error) {
	var in newAccount
	if err := decodeBody(r, &in, required); err != nil {
		return 0, nil, err
	}
	acc, err := h.dir.CreateAccount(r.Context(), a, directory.NewAccount{Username: in.Username, Password: in.Password,
		Role: store.Role(in.Role), Tenant: in.Tenant})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, accountOf(acc), nil
}

func (h *Handler) deleteAccount(r *http.Request, a directory.Actor) (int, any, error) {
	return http.StatusNoContent, nil, h.dir.DeleteAccount(r.Context(), a, r.PathValue("username"))
}

// passwordRequest is the body of PUT /accounts/{username}/password.
type passwordRequest struct {
	Password string `json:"password"`
}

func (h *Handler) setPassword(r *http.Request, a directory.Actor) (int, any, error) {
	var in passwordRequest
	if err := decodeBody(r, &in, required); err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, h.dir.SetPassword(r.Context(), a, r.PathValue("username"), in.Password)
}

// tokenRequest is the body of POST /tokens.
type tokenRequest struct {
	// Username is the account the token acts as: the caller's own when
	// empty, else one the caller manages.
	Username string `json:"username"`
	// TTL is the token's lifetime in Go duration syntax ("720h"); the
	// configured admin.token_ttl when empty.
	TTL string `json:"ttl"`
}

// newToken is the answer of POST /tokens: the token, shown this once.
type newToken struct {
	Token     string    `json:"token"`
	Username  string    `json:"username"`
	ExpiresAt time.Time `json:"expires_at"`
}

func (h *Handler) createToken(r *http.Request, a directory.Actor) (int, any, error) {
	var in tokenRequest
	if err := decodeBody(r, &in, optional); err != nil {
		return 0, nil, err
	}
	if in.Username == "" {
		in.Username = a.Username
	}
	ttl := h.tokenTTL
	if in.TTL != "" {
		d, err := time.ParseDuration(in.TTL)
		if err != nil {
			return 0, nil, invalid(fmt.Sprintf("ttl %q: want a duration such as \"720h\"", in.TTL))
		}
		ttl = d
	}
	start := h.now()
	tok, err := h.dir.CreateToken(r.Context(), a, in.Username, ttl)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, newToken{Token: tok, Username: in.Username, ExpiresAt: start.Add(ttl).UTC().Truncate(time.Second)}, nil
}
