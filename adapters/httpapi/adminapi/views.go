package adminapi

import (
	"time"

	"github.com/ringside/ringside/pkg/directory"
	"github.com/ringside/ringside/pkg/store"
)

// The API's own JSON shapes (openapi.yaml, components/schemas). They are
// copies of the store's types without what must never leave the server: a
// tenant's refresh token, a link's click-to-dial secret, a password hash.
// Fields are only ever added.

// tenantView is a Tenant.
type tenantView struct {
	ID        string       `json:"id"`
	Name      string       `json:"name"`
	Settings  settingsView `json:"settings"`
	Zoho      zohoView     `json:"zoho"`
	CreatedAt time.Time    `json:"created_at"`
	UpdatedAt time.Time    `json:"updated_at"`
}

// settingsView is a tenant's Settings; features is {} when none is on,
// internal_policy "skip" when none is set, the lists [] when empty.
type settingsView struct {
	Mode                string          `json:"mode"`
	Region              string          `json:"region"`
	DefaultUser         string          `json:"default_user"`
	Features            map[string]bool `json:"features"`
	InternalPolicy      string          `json:"internal_policy"`
	TechnicalExtensions []string        `json:"technical_extensions"`
	OwnNumbers          []string        `json:"own_numbers"`
	LeadModule          string          `json:"lead_module"`
}

// zohoView is a tenant's Zoho connection, without the refresh token.
type zohoView struct {
	Status      string     `json:"status"`
	Location    string     `json:"location"`
	AccountsURL string     `json:"accounts_url"`
	APIDomain   string     `json:"api_domain"`
	Scopes      []string   `json:"scopes"`
	ConnectedAt *time.Time `json:"connected_at"`
	LastError   string     `json:"last_error"`
	LastErrorAt *time.Time `json:"last_error_at"`
}

func tenantOf(t store.Tenant) tenantView {
	v := tenantView{ID: t.ID, Name: t.Name, CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt,
		Settings: settingsView{Mode: string(t.Settings.Mode), Region: t.Settings.Region, DefaultUser: t.Settings.DefaultUser,
			Features: map[string]bool{}},
		Zoho: zohoView{Status: string(t.Zoho.Status), Location: t.Zoho.Location, AccountsURL: t.Zoho.AccountsURL,
			APIDomain: t.Zoho.APIDomain, Scopes: t.Zoho.Scopes, ConnectedAt: timeOrNil(t.Zoho.ConnectedAt),
			LastError: t.Zoho.LastError, LastErrorAt: timeOrNil(t.Zoho.LastErrorAt)}}
	for f, on := range t.Settings.Features {
		v.Settings.Features[f] = on
	}
	v.Settings.InternalPolicy = string(t.Settings.InternalPolicy)
	if v.Settings.InternalPolicy == "" {
		v.Settings.InternalPolicy = string(store.InternalSkip)
	}
	v.Settings.TechnicalExtensions = append([]string{}, t.Settings.TechnicalExtensions...)
	v.Settings.OwnNumbers = append([]string{}, t.Settings.OwnNumbers...)
	v.Settings.LeadModule = t.Settings.LeadModule
	if v.Zoho.Status == "" {
		v.Zoho.Status = string(store.Disconnected)
	}
	if v.Zoho.Scopes == nil {
		v.Zoho.Scopes = []string{}
	}
	return v
}

func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// linkView is a Link without its secret.
type linkView struct {
	Tenant    string       `json:"tenant"`
	Extension string       `json:"extension"`
	ZohoUser  string       `json:"zoho_user"`
	CRMUser   string       `json:"crm_user"`
	Email     string       `json:"email"`
	Name      string       `json:"name"`
	Switches  switchesView `json:"switches"`
	LinkedAt  time.Time    `json:"linked_at"`
}

type switchesView struct {
	Notifications bool `json:"notifications"`
	ClickToCall   bool `json:"click_to_call"`
}

func linkOf(l store.Link) linkView {
	return linkView{Tenant: l.Tenant, Extension: l.Extension, ZohoUser: l.ZohoUser, CRMUser: l.CRMUser,
		Email: l.Email, Name: l.Name, LinkedAt: l.LinkedAt,
		Switches: switchesView{Notifications: l.Switches.Notifications, ClickToCall: l.Switches.ClickToCall}}
}

// terminalView is a default terminal.
type terminalView struct {
	Tenant    string    `json:"tenant"`
	Extension string    `json:"extension"`
	Kind      string    `json:"kind"`
	Device    string    `json:"device"`
	Mobile    string    `json:"mobile"`
	SetAt     time.Time `json:"set_at"`
}

func terminalOf(t store.Terminal) terminalView {
	return terminalView{Tenant: t.Tenant, Extension: t.Extension, Kind: string(t.Kind), Device: t.Device,
		Mobile: t.Mobile, SetAt: t.SetAt}
}

// userView is a row of the users table; link and terminal are null when
// absent.
type userView struct {
	Tenant    string        `json:"tenant"`
	Number    string        `json:"number"`
	Name      string        `json:"name"`
	Device    string        `json:"device"`
	UpdatedAt time.Time     `json:"updated_at"`
	Link      *linkView     `json:"link"`
	Terminal  *terminalView `json:"terminal"`
}

func userOf(u directory.User) userView {
	v := userView{Tenant: u.Tenant, Number: u.Number, Name: u.Name, Device: u.Device, UpdatedAt: u.UpdatedAt}
	if u.Link != nil {
		l := linkOf(*u.Link)
		v.Link = &l
	}
	if u.Terminal != nil {
		t := terminalOf(*u.Terminal)
		v.Terminal = &t
	}
	return v
}

// zohoUserView is a user of the tenant's Zoho org.
type zohoUserView struct {
	ID        string `json:"id"`
	CRMUserID string `json:"crm_user_id"`
	Email     string `json:"email"`
	Name      string `json:"name"`
	Extension string `json:"extension"`
}

// accountView is an Account without its password hash.
type accountView struct {
	Username  string    `json:"username"`
	Role      string    `json:"role"`
	Tenant    string    `json:"tenant"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func accountOf(a store.Account) accountView {
	return accountView{Username: a.Username, Role: string(a.Role), Tenant: a.Tenant, CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt}
}

// auditView is an audit log entry.
type auditView struct {
	Time   time.Time `json:"time"`
	Actor  string    `json:"actor"`
	Via    string    `json:"via"`
	Tenant string    `json:"tenant"`
	Action string    `json:"action"`
	Target string    `json:"target"`
	Detail string    `json:"detail"`
	Error  string    `json:"error"`
}

func auditOf(e store.AuditEntry) auditView {
	return auditView{Time: e.Time, Actor: e.Actor, Via: e.Via, Tenant: e.Tenant, Action: e.Action, Target: e.Target,
		Detail: e.Detail, Error: e.Error}
}

// mapSlice converts a list for sending; never null.
func mapSlice[T, V any](in []T, f func(T) V) []V {
	out := make([]V, 0, len(in))
	for _, x := range in {
		out = append(out, f(x))
	}
	return out
}
