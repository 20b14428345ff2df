package adminapi

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/ringside/ringside/pkg/clicktocall"
	"github.com/ringside/ringside/pkg/directory"
	"github.com/ringside/ringside/pkg/store"
)

// The documented shapes, decoded strictly (reply.into): a field added or
// renamed without updating the test fails it.

type tenantJSON struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Settings struct {
		Mode                string          `json:"mode"`
		Region              string          `json:"region"`
		DefaultUser         string          `json:"default_user"`
		Features            map[string]bool `json:"features"`
		InternalPolicy      string          `json:"internal_policy"`
		TechnicalExtensions []string        `json:"technical_extensions"`
		OwnNumbers          []string        `json:"own_numbers"`
		LeadModule          string          `json:"lead_module"`
	} `json:"settings"`
	Zoho struct {
		Status      string     `json:"status"`
		Location    string     `json:"location"`
		AccountsURL string     `json:"accounts_url"`
		APIDomain   string     `json:"api_domain"`
		Scopes      []string   `json:"scopes"`
		ConnectedAt *time.Time `json:"connected_at"`
		LastError   string     `json:"last_error"`
		LastErrorAt *time.Time `json:"last_error_at"`
	} `json:"zoho"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

type linkJSON struct {
	Tenant    string `json:"tenant"`
	Extension string `json:"extension"`
	ZohoUser  string `json:"zoho_user"`
	CRMUser   string `json:"crm_user"`
	Email     string `json:"email"`
	Name      string `json:"name"`
	Switches  struct {
		Notifications bool `json:"notifications"`
		ClickToCall   bool `json:"click_to_call"`
	} `json:"switches"`
	LinkedAt time.Time `json:"linked_at"`
}

type terminalJSON struct {
	Tenant    string    `json:"tenant"`
	Extension string    `json:"extension"`
	Kind      string    `json:"kind"`
	Device    string    `json:"device"`
	Mobile    string    `json:"mobile"`
	SetAt     time.Time `json:"set_at"`
}

type userJSON struct {
	Tenant    string        `json:"tenant"`
	Number    string        `json:"number"`
	Name      string        `json:"name"`
	Device    string        `json:"device"`
	UpdatedAt time.Time     `json:"updated_at"`
	Link      *linkJSON     `json:"link"`
	Terminal  *terminalJSON `json:"terminal"`
}

type usersJSON struct {
	Users  []userJSON `json:"users"`
	Total  int        `json:"total"`
	Offset int        `json:"offset"`
	Limit  int        `json:"limit"`
}

type zohoUsersJSON struct {
	Users []struct {
		ID        string `json:"id"`
		CRMUserID string `json:"crm_user_id"`
		Email     string `json:"email"`
		Name      string `json:"name"`
		Extension string `json:"extension"`
	} `json:"users"`
}

type accountJSON struct {
	Username  string    `json:"username"`
	Role      string    `json:"role"`
	Tenant    string    `json:"tenant"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

type tokenJSON struct {
	Token     string    `json:"token"`
	Username  string    `json:"username"`
	ExpiresAt time.Time `json:"expires_at"`
}

func numbers(us []userJSON) []string {
	var out []string
	for _, u := range us {
		out = append(out, u.Number)
	}
	return out
}

// TestAdminFlow is what an operator and then a company admin do, start to
// finish, through the API only.
func TestAdminFlow(t *testing.T) {
	w := newWorld(t, worldOpts{pbx: discoverer{
		{Tenant: "acme", Number: "1004", Name: "Dana Ruiz", Device: "PJSIP/1004"},
		{Tenant: "initech", Number: "7001", Name: "Not ours"},
	}})
	root := w.rootToken
	users := "/api/v1/tenants/acme/users"

	// The operator creates the company, its admin, and the admin's token.
	var ten tenantJSON
	w.must(http.StatusCreated, req{method: "POST", path: "/api/v1/tenants", token: root,
		body: map[string]string{"id": "acme", "name": "Acme GmbH"}}).into(t, &ten)
	if ten.ID != "acme" || ten.Name != "Acme GmbH" || ten.Zoho.Status != "disconnected" || ten.Settings.Mode != "" {
		t.Fatalf("created tenant %+v", ten)
	}
	const anaPassword = "ana's long password"
	w.addSecret(anaPassword)
	var acc accountJSON
	w.must(http.StatusCreated, req{method: "POST", path: "/api/v1/accounts", token: root,
		body: map[string]string{"username": "ana", "password": anaPassword, "role": "admin", "tenant": "acme"}}).into(t, &acc)
	if acc.Username != "ana" || acc.Role != "admin" || acc.Tenant != "acme" {
		t.Fatalf("created account %+v", acc)
	}
	var tok tokenJSON
	before := time.Now()
	w.must(http.StatusCreated, req{method: "POST", path: "/api/v1/tokens", token: root,
		body: map[string]string{"username": "ana", "ttl": "2h"}}).into(t, &tok)
	w.addSecret(tok.Token)
	if tok.Username != "ana" || !strings.HasPrefix(tok.Token, "rsk_") ||
		tok.ExpiresAt.Before(before.Add(2*time.Hour-time.Second)) || tok.ExpiresAt.After(time.Now().Add(2*time.Hour)) {
		t.Fatalf("token %+v", tok)
	}
	ana := tok.Token
	if _, err := w.st.Session(w.ctx, directory.TokenID(ana)); err != nil {
		t.Fatalf("the token's hash is not a session: %v", err)
	}
	for k, v := range w.snapshot() {
		if strings.Contains(k+v, ana) {
			t.Fatalf("the token itself is stored: %s", k)
		}
	}

	// The admin connects Zoho in PhoneBridge mode: the consent URL, the
	// browser at the simulator, its redirect to the callback.
	w.connectByConsent(ana, "acme", "phonebridge")
	w.must(http.StatusOK, req{method: "GET", path: "/api/v1/tenants/acme", token: ana}).into(t, &ten)
	if ten.Zoho.Status != "connected" || ten.Zoho.Location != "eu" || ten.Settings.Mode != "phonebridge" || ten.Zoho.ConnectedAt == nil {
		t.Fatalf("after consent: %+v", ten)
	}
	var list struct {
		Tenants []tenantJSON `json:"tenants"`
	}
	w.must(http.StatusOK, req{method: "GET", path: "/api/v1/tenants", token: ana}).into(t, &list)
	if len(list.Tenants) != 1 || list.Tenants[0].ID != "acme" {
		t.Fatalf("the admin's tenants: %+v", list)
	}

	// The PBX's extensions: most as discovery stored them, one found now.
	w.seed("acme",
		store.Extension{Number: "1001", Name: "Ana García", Device: "PJSIP/1001"},
		store.Extension{Number: "1002", Name: "Ben Okafor", Device: "PJSIP/1002"},
		store.Extension{Number: "1003", Name: "Cleo Park", Device: "PJSIP/1003"},
		store.Extension{Number: "99", Name: "Lobby"}, store.Extension{Number: "100", Name: "Reception"},
		store.Extension{Number: "1010", Name: "Fax"})
	for _, n := range []string{"2000", "2001", "2002", "2003", "2004", "2005"} {
		w.seed("acme", store.Extension{Number: n, Name: "Warehouse " + n})
	}
	var disc struct {
		Updated int `json:"updated"`
		Skipped int `json:"skipped"`
	}
	w.must(http.StatusOK, req{method: "POST", path: "/api/v1/tenants/acme/extensions/discover", token: ana}).into(t, &disc)
	if disc.Updated != 1 || disc.Skipped != 0 {
		t.Fatalf("discovery: %+v", disc)
	}

	// The users table: numeric order, paging, search, the linked filter.
	var page usersJSON
	w.must(http.StatusOK, req{method: "GET", path: users + "?limit=5", token: ana}).into(t, &page)
	if got := numbers(page.Users); page.Total != 13 || page.Offset != 0 || page.Limit != 5 ||
		!slices.Equal(got, []string{"99", "100", "1001", "1002", "1003"}) {
		t.Fatalf("first page: total %d, %v", page.Total, got)
	}
	w.must(http.StatusOK, req{method: "GET", path: users + "?offset=10&limit=5", token: ana}).into(t, &page)
	if got := numbers(page.Users); page.Total != 13 || page.Offset != 10 || !slices.Equal(got, []string{"2003", "2004", "2005"}) {
		t.Fatalf("last page: total %d, %v", page.Total, got)
	}
	w.must(http.StatusOK, req{method: "GET", path: users, token: ana}).into(t, &page)
	if page.Limit != store.DefaultLimit || len(page.Users) != 13 {
		t.Fatalf("default page: limit %d, %d users", page.Limit, len(page.Users))
	}
	for q, want := range map[string][]string{
		"?search=GARC":                {"1001"},
		"?search=okafor&linked=false": {"1002"},
		"?search=warehouse&limit=2":   {"2000", "2001"},
		"?search=dana":                {"1004"},
		"?linked=true":                nil,
		"?search=nobody":              nil,
	} {
		w.must(http.StatusOK, req{method: "GET", path: users + q, token: ana}).into(t, &page)
		if got := numbers(page.Users); !slices.Equal(got, want) {
			t.Errorf("users%s = %v, want %v", q, got, want)
		}
	}

	// The Zoho org's users.
	var zus zohoUsersJSON
	w.must(http.StatusOK, req{method: "GET", path: "/api/v1/tenants/acme/zoho/users", token: ana}).into(t, &zus)
	if len(zus.Users) != len(orgUsers) || zus.Users[0].ID != "pb-1001" || zus.Users[0].CRMUserID != "9001" || zus.Users[0].Extension != "" {
		t.Fatalf("zoho users: %+v", zus)
	}

	// Link 1001 to Ana: registered at Zoho with the link's secret.
	var l linkJSON
	w.must(http.StatusCreated, req{method: "PUT", path: users + "/1001/link", token: ana,
		body: map[string]string{"zoho_user": "ANA@acme.example"}}).into(t, &l)
	if l.Tenant != "acme" || l.Extension != "1001" || l.ZohoUser != "pb-1001" || l.CRMUser != "9001" ||
		l.Email != "ana@acme.example" || !l.Switches.Notifications || !l.Switches.ClickToCall {
		t.Fatalf("link %+v", l)
	}
	stored, err := w.st.LinkByExtension(w.ctx, "acme", "1001")
	if err != nil || stored.Secret == "" {
		t.Fatalf("stored link %+v, %v", stored, err)
	}
	regs := w.registrations()
	click, control := regs["clicktodial/pb-1001"], regs["callcontrol/pb-1001"]
	if click == nil || control == nil {
		t.Fatalf("Zoho has no registration of pb-1001: %v", regs)
	}
	var ap struct{ Name, Value string }
	if err := json.Unmarshal([]byte(click.Get("authorizationparam")), &ap); err != nil || ap.Value != stored.Secret {
		t.Errorf("registered authorizationparam %q, want the link's secret", click.Get("authorizationparam"))
	}
	if got, want := click.Get("clicktodialuri"), clicktocall.ClickToDialURL(w.srv.URL, "acme"); got != want {
		t.Errorf("clicktodialuri %q, want %q", got, want)
	}
	if got, want := control.Get("answeruri"), clicktocall.CallControlURLs(w.srv.URL, "acme")["answeruri"]; got != want {
		t.Errorf("answeruri %q, want %q", got, want)
	}
	w.must(http.StatusOK, req{method: "GET", path: users + "?linked=true", token: ana}).into(t, &page)
	if len(page.Users) != 1 || page.Users[0].Link == nil || page.Users[0].Link.Email != "ana@acme.example" {
		t.Fatalf("linked users: %+v", page)
	}
	w.must(http.StatusOK, req{method: "GET", path: users + "?search=ana@ACME", token: ana}).into(t, &page)
	if got := numbers(page.Users); !slices.Equal(got, []string{"1001"}) {
		t.Errorf("search by the linked email: %v", got)
	}
	w.must(http.StatusOK, req{method: "GET", path: "/api/v1/tenants/acme/zoho/users", token: ana}).into(t, &zus)
	if zus.Users[0].Extension != "1001" {
		t.Errorf("Ana's extension at Zoho users: %+v", zus.Users[0])
	}

	// Switches: click-to-call needs notifications.
	sw := users + "/1001/switches"
	w.unchanged(func() {
		w.refused(http.StatusBadRequest, "invalid", req{method: "PATCH", path: sw, token: ana,
			body: map[string]bool{"notifications": false, "click_to_call": true}})
	})
	w.must(http.StatusOK, req{method: "PATCH", path: sw, token: ana, body: map[string]bool{"notifications": false}}).into(t, &l)
	if l.Switches.Notifications || l.Switches.ClickToCall {
		t.Fatalf("notifications off: %+v", l.Switches)
	}
	w.unchanged(func() {
		w.refused(http.StatusBadRequest, "invalid", req{method: "PATCH", path: sw, token: ana, body: map[string]bool{"click_to_call": true}})
	})
	w.must(http.StatusOK, req{method: "PATCH", path: sw, token: ana, body: `{"notifications": true, "click_to_call": null}`}).into(t, &l)
	if !l.Switches.Notifications || l.Switches.ClickToCall {
		t.Fatalf("notifications on: %+v", l.Switches)
	}
	w.must(http.StatusOK, req{method: "PATCH", path: sw, token: ana, body: map[string]bool{"click_to_call": true}}).into(t, &l)
	if !l.Switches.Notifications || !l.Switches.ClickToCall {
		t.Fatalf("click-to-call on: %+v", l.Switches)
	}

	// Default terminal: a mobile, the desk, back to the extension.
	term := users + "/1001/terminal"
	var tm terminalJSON
	w.must(http.StatusOK, req{method: "PUT", path: term, token: ana, body: map[string]string{"kind": "mobile", "value": "+4917012345678"}}).into(t, &tm)
	if tm.Kind != "mobile" || tm.Mobile != "+4917012345678" || tm.Device != "" {
		t.Fatalf("mobile terminal %+v", tm)
	}
	var u userJSON
	w.must(http.StatusOK, req{method: "GET", path: users + "/1001", token: ana}).into(t, &u)
	if u.Terminal == nil || u.Terminal.Kind != "mobile" || u.Link == nil || u.Name != "Ana García" {
		t.Fatalf("user 1001: %+v", u)
	}
	w.must(http.StatusOK, req{method: "PUT", path: term, token: ana, body: map[string]string{"kind": "desk"}}).into(t, &tm)
	if tm.Kind != "desk" || tm.Device != "PJSIP/1001" {
		t.Fatalf("desk terminal %+v", tm)
	}
	w.must(http.StatusNoContent, req{method: "DELETE", path: term, token: ana})
	w.must(http.StatusOK, req{method: "GET", path: users + "/1001", token: ana}).into(t, &u)
	if u.Terminal != nil {
		t.Fatalf("terminal after reset: %+v", u.Terminal)
	}

	// Settings.
	w.must(http.StatusOK, req{method: "PATCH", path: "/api/v1/tenants/acme", token: ana,
		body: `{"region": "de", "default_user": "boss@acme.example", "features": {"missed_call_task": true}}`}).into(t, &ten)
	if ten.Settings.Region != "DE" || ten.Settings.DefaultUser != "9009" || !ten.Settings.Features["missed_call_task"] ||
		ten.Settings.Mode != "phonebridge" || ten.Name != "Acme GmbH" {
		t.Fatalf("settings: %+v", ten.Settings)
	}

	// Unlink: the registration is gone from Zoho.
	var un struct {
		Link        linkJSON `json:"link"`
		ZohoWarning string   `json:"zoho_warning"`
	}
	w.must(http.StatusOK, req{method: "DELETE", path: users + "/1001/link", token: ana}).into(t, &un)
	if un.Link.Extension != "1001" || un.Link.ZohoUser != "pb-1001" || un.ZohoWarning != "" {
		t.Fatalf("unlinked %+v", un)
	}
	regs = w.registrations()
	if _, ok := regs["clicktodial/pb-1001"]; ok {
		t.Error("pb-1001 is still registered for click-to-dial")
	}
	if _, ok := regs["callcontrol/pb-1001"]; ok {
		t.Error("pb-1001 is still registered for call control")
	}
	w.must(http.StatusOK, req{method: "GET", path: users + "/1001", token: ana}).into(t, &u)
	if u.Link != nil {
		t.Fatalf("link after unlink: %+v", u.Link)
	}

	// The audit log shows what the admin did, refusals included.
	wantInOrder(t, w.auditActions(ana, "acme"), []string{
		"ana api zoho.enable acme",
		"ana api extensions.discover acme",
		"ana api user.link 1001",
		"ana api user.switches 1001 [refused]",
		"ana api user.switches 1001",
		"ana api user.switches 1001 [refused]",
		"ana api user.switches 1001",
		"ana api user.switches 1001",
		"ana api terminal.set 1001",
		"ana api terminal.set 1001",
		"ana api terminal.reset 1001",
		"ana api tenant.update acme",
		"ana api user.unlink 1001",
	})
	wantInOrder(t, w.auditActions(root, ""), []string{
		"cli:test cli account.create root",
		"cli:test cli token.create root",
		"root api tenant.create acme",
		"root api account.create ana",
		"root api token.create ana",
		"ana api zoho.enable acme",
	})
	if got := w.auditActions(ana, ""); slices.Contains(got, "root api tenant.create acme") {
		t.Errorf("the admin sees operator-level entries: %v", got)
	}

	// Turning Zoho off unlinks everyone and unregisters them.
	w.must(http.StatusCreated, req{method: "PUT", path: users + "/1002/link", token: ana, body: map[string]string{"zoho_user": "9002"}})
	if _, ok := w.registrations()["clicktodial/pb-1002"]; !ok {
		t.Fatal("pb-1002 not registered")
	}
	var off struct {
		Unlinked int `json:"unlinked"`
	}
	w.must(http.StatusOK, req{method: "POST", path: "/api/v1/tenants/acme/zoho/disable", token: ana}).into(t, &off)
	if off.Unlinked != 1 || len(w.registrations()) != 0 {
		t.Fatalf("disable: %+v, registrations %v", off, w.registrations())
	}
	w.must(http.StatusOK, req{method: "GET", path: "/api/v1/tenants/acme", token: ana}).into(t, &ten)
	if ten.Zoho.Status != "disconnected" {
		t.Fatalf("after disable: %+v", ten.Zoho)
	}

	// Accounts: a password change ends the account's tokens; the operator
	// deletes the tenant.
	var accs struct {
		Accounts []accountJSON `json:"accounts"`
	}
	w.must(http.StatusOK, req{method: "GET", path: "/api/v1/accounts", token: ana}).into(t, &accs)
	if len(accs.Accounts) != 1 || accs.Accounts[0].Username != "ana" {
		t.Fatalf("the admin's accounts: %+v", accs)
	}
	w.must(http.StatusOK, req{method: "GET", path: "/api/v1/accounts", token: root}).into(t, &accs)
	if len(accs.Accounts) != 2 {
		t.Fatalf("the operator's accounts: %+v", accs)
	}
	w.addSecret("ana's new password")
	w.must(http.StatusNoContent, req{method: "PUT", path: "/api/v1/accounts/ana/password", token: ana,
		body: map[string]string{"password": "ana's new password"}})
	rep := w.refused(http.StatusUnauthorized, "unauthorized", req{method: "GET", path: "/api/v1/tenants", token: ana})
	if !strings.HasPrefix(rep.header.Get("WWW-Authenticate"), "Bearer") {
		t.Errorf("401 without a Bearer challenge: %q", rep.header.Get("WWW-Authenticate"))
	}
	w.must(http.StatusNoContent, req{method: "DELETE", path: "/api/v1/tenants/acme", token: root})
	w.refused(http.StatusNotFound, "not_found", req{method: "GET", path: "/api/v1/tenants/acme", token: root})
	w.must(http.StatusNoContent, req{method: "DELETE", path: "/api/v1/accounts/ana", token: root})

	checkMetrics(t, w)
}

// wantInOrder fails unless want is a subsequence of got.
func wantInOrder(t *testing.T, got, want []string) {
	t.Helper()
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	if i < len(want) {
		t.Errorf("audit log misses %q (in order); it has:\n  %s", want[i], strings.Join(got, "\n  "))
	}
}

// checkMetrics: every request is counted under a registered route (or
// "other"), never a raw path.
func checkMetrics(t *testing.T, w *world) {
	t.Helper()
	mfs, err := w.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	routes := append(w.api.Routes(), "other")
	var counted float64
	for _, mf := range mfs {
		if mf.GetName() != "ringside_api_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, lp := range m.GetLabel() {
				labels[lp.GetName()] = lp.GetValue()
			}
			if !slices.Contains(routes, labels["route"]) || len(labels) != 2 || labels["code"] == "" {
				t.Errorf("series %v: route not a registered pattern", labels)
			}
			counted += m.GetCounter().GetValue()
		}
		if mf.GetType() != dto.MetricType_COUNTER {
			t.Errorf("ringside_api_requests_total is a %v", mf.GetType())
		}
	}
	if counted < 40 {
		t.Errorf("only %v requests counted", counted)
	}
}
