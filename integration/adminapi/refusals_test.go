package adminapi

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ringside/ringside/pkg/directory"
	"github.com/ringside/ringside/pkg/store"
)

// TestRefusals sends what must be refused, each with the status and code
// documented, and checks that the store (tenants, extensions, links,
// terminals, accounts, sessions) and Zoho's registrations are as they were.
// Only the audit log grows: it records refused attempts.
func TestRefusals(t *testing.T) {
	w := newWorld(t, worldOpts{}) // no PBX
	ctx, cli := w.ctx, directory.Operator("test")

	// acme: PhoneBridge, connected, 1001 linked to Ana. globex: never
	// connected. An admin of each; tokens made as the CLI would.
	for _, id := range []string{"acme", "globex"} {
		if _, err := w.dir.CreateTenant(ctx, cli, id, ""); err != nil {
			t.Fatal(err)
		}
	}
	pb := store.ModePhoneBridge
	if _, err := w.dir.UpdateTenant(ctx, cli, "acme", directory.TenantChange{Mode: &pb}); err != nil {
		t.Fatal(err)
	}
	w.connectByImport("acme")
	w.seed("acme", store.Extension{Number: "1001", Device: "PJSIP/1001"}, store.Extension{Number: "1002", Device: "PJSIP/1002"},
		store.Extension{Number: "1003"})
	w.seed("globex", store.Extension{Number: "2001"})
	if _, err := w.dir.Link(ctx, cli, "acme", "1001", "ana@acme.example"); err != nil {
		t.Fatal(err)
	}
	for _, a := range []directory.NewAccount{
		{Username: "ana", Password: password, Role: store.RoleAdmin, Tenant: "acme"},
		{Username: "gus", Password: password, Role: store.RoleAdmin, Tenant: "globex"},
		{Username: "temp", Password: password, Role: store.RoleAdmin, Tenant: "acme"},
	} {
		if _, err := w.dir.CreateAccount(ctx, cli, a); err != nil {
			t.Fatal(err)
		}
	}
	root, ana, gus := w.rootToken, w.token(cli, "ana", time.Hour), w.token(cli, "gus", time.Hour)
	expired := w.token(cli, "ana", 300*time.Millisecond)
	gone := w.token(cli, "temp", time.Hour)
	if err := w.dir.DeleteAccount(ctx, cli, "temp"); err != nil {
		t.Fatal(err)
	}
	var b [32]byte
	_, _ = rand.Read(b[:])
	unknown := "rsk_" + base64.RawURLEncoding.EncodeToString(b[:])
	w.must(http.StatusOK, req{method: "GET", path: "/api/v1/tenants/acme/zoho/users", token: ana}) // Zoho reachable
	time.Sleep(400 * time.Millisecond)                                                             // expired expires

	link := func(ext string) string { return "/api/v1/tenants/acme/users/" + ext + "/link" }
	zu := func(who string) map[string]string { return map[string]string{"zoho_user": who} }
	big := `{"zoho_user": "` + strings.Repeat("x", 70<<10) + `"}`
	const (
		notFound, conflict, invalid, forbidden = "not_found", "conflict", "invalid", "forbidden"
		unauthorized, notConnected, noPBX      = "unauthorized", "not_connected", "no_pbx"
	)
	for _, tc := range []struct {
		name   string
		status int
		code   string
		r      req
	}{
		// links
		{"duplicate link: extension linked", 409, conflict, req{method: "PUT", path: link("1001"), token: ana, body: zu("ben@acme.example")}},
		{"duplicate link: same pair again", 409, conflict, req{method: "PUT", path: link("1001"), token: ana, body: zu("ana@acme.example")}},
		{"duplicate link: Zoho user linked", 409, conflict, req{method: "PUT", path: link("1002"), token: ana, body: zu("pb-1001")}},
		{"unknown extension: link", 404, notFound, req{method: "PUT", path: link("1999"), token: ana, body: zu("ben@acme.example")}},
		{"unknown extension: read", 404, notFound, req{method: "GET", path: "/api/v1/tenants/acme/users/1999", token: ana}},
		{"unknown extension: terminal", 404, notFound, req{method: "PUT", path: "/api/v1/tenants/acme/users/1999/terminal", token: ana,
			body: map[string]string{"kind": "mobile", "value": "+4917012345678"}}},
		{"unknown Zoho user", 404, notFound, req{method: "PUT", path: link("1002"), token: ana, body: zu("nobody@acme.example")}},
		{"no Zoho user given", 400, invalid, req{method: "PUT", path: link("1002"), token: ana, body: `{}`}},
		{"unknown tenant", 404, notFound, req{method: "GET", path: "/api/v1/tenants/nope", token: root}},
		{"unlink what is not linked", 404, notFound, req{method: "DELETE", path: link("1002"), token: ana}},
		{"switches of an unlinked extension", 404, notFound, req{method: "PATCH", path: "/api/v1/tenants/acme/users/1002/switches",
			token: ana, body: map[string]bool{"notifications": true}}},
		{"link before Zoho is connected", 409, notConnected, req{method: "PUT", path: "/api/v1/tenants/globex/users/2001/link",
			token: gus, body: zu("ana@acme.example")}},
		{"Zoho users before Zoho is connected", 409, notConnected, req{method: "GET", path: "/api/v1/tenants/globex/zoho/users", token: root}},
		{"default user before Zoho is connected", 409, notConnected, req{method: "PATCH", path: "/api/v1/tenants/globex", token: gus,
			body: map[string]string{"default_user": "ana@acme.example"}}},

		// tokens
		{"unknown token", 401, unauthorized, req{method: "GET", path: "/api/v1/tenants", token: unknown}},
		{"unknown token on a write", 401, unauthorized, req{method: "PUT", path: link("1002"), token: unknown, body: zu("ben@acme.example")}},
		{"not a Ringside token", 401, unauthorized, req{method: "GET", path: "/api/v1/tenants", token: "hunter2"}},
		{"no token", 401, unauthorized, req{method: "GET", path: "/api/v1/audit"}},
		{"expired token", 401, unauthorized, req{method: "GET", path: "/api/v1/tenants", token: expired}},
		{"expired token on a write", 401, unauthorized, req{method: "DELETE", path: link("1001"), token: expired}},
		{"token of a deleted account", 401, unauthorized, req{method: "GET", path: "/api/v1/tenants", token: gone}},
		{"a token's hash as the token", 401, unauthorized, req{method: "GET", path: "/api/v1/tenants", token: directory.TokenID(ana)}},

		// a company admin on another tenant, or doing an operator's job
		{"other tenant: read", 403, forbidden, req{method: "GET", path: "/api/v1/tenants/acme", token: gus}},
		{"other tenant: users", 403, forbidden, req{method: "GET", path: "/api/v1/tenants/acme/users", token: gus}},
		{"other tenant: user", 403, forbidden, req{method: "GET", path: "/api/v1/tenants/acme/users/1001", token: gus}},
		{"other tenant: link", 403, forbidden, req{method: "PUT", path: link("1002"), token: gus, body: zu("ben@acme.example")}},
		{"other tenant: unlink", 403, forbidden, req{method: "DELETE", path: link("1001"), token: gus}},
		{"other tenant: switches", 403, forbidden, req{method: "PATCH", path: "/api/v1/tenants/acme/users/1001/switches", token: gus,
			body: map[string]bool{"notifications": false}}},
		{"other tenant: terminal", 403, forbidden, req{method: "PUT", path: "/api/v1/tenants/acme/users/1001/terminal", token: gus,
			body: map[string]string{"kind": "desk"}}},
		{"other tenant: reset terminal", 403, forbidden, req{method: "DELETE", path: "/api/v1/tenants/acme/users/1001/terminal", token: gus}},
		{"other tenant: settings", 403, forbidden, req{method: "PATCH", path: "/api/v1/tenants/acme", token: gus, body: map[string]string{"name": "Mine"}}},
		{"other tenant: enable Zoho", 403, forbidden, req{method: "POST", path: "/api/v1/tenants/acme/zoho/enable", token: gus}},
		{"other tenant: disable Zoho", 403, forbidden, req{method: "POST", path: "/api/v1/tenants/acme/zoho/disable", token: gus}},
		{"other tenant: Zoho users", 403, forbidden, req{method: "GET", path: "/api/v1/tenants/acme/zoho/users", token: gus}},
		{"other tenant: discover", 403, forbidden, req{method: "POST", path: "/api/v1/tenants/acme/extensions/discover", token: gus}},
		{"other tenant: audit", 403, forbidden, req{method: "GET", path: "/api/v1/audit?tenant=acme", token: gus}},
		{"other tenant: its admin", 403, forbidden, req{method: "DELETE", path: "/api/v1/accounts/ana", token: gus}},
		{"other tenant: its admin's password", 403, forbidden, req{method: "PUT", path: "/api/v1/accounts/ana/password", token: gus,
			body: map[string]string{"password": "a long new password"}}},
		{"other tenant: a token for its admin", 403, forbidden, req{method: "POST", path: "/api/v1/tokens", token: gus,
			body: map[string]string{"username": "ana"}}},
		{"other tenant: an admin for it", 403, forbidden, req{method: "POST", path: "/api/v1/accounts", token: gus,
			body: map[string]string{"username": "mole", "password": "a long password", "role": "admin", "tenant": "acme"}}},
		{"admin: create a tenant", 403, forbidden, req{method: "POST", path: "/api/v1/tenants", token: gus, body: map[string]string{"id": "initech"}}},
		{"admin: delete its own tenant", 403, forbidden, req{method: "DELETE", path: "/api/v1/tenants/globex", token: gus}},
		{"admin: make an operator", 403, forbidden, req{method: "POST", path: "/api/v1/accounts", token: gus,
			body: map[string]string{"username": "evil", "password": "a long password", "role": "operator"}}},
		{"admin: a token for the operator", 403, forbidden, req{method: "POST", path: "/api/v1/tokens", token: gus,
			body: map[string]string{"username": operator}}},
		{"admin: the operator's password", 403, forbidden, req{method: "PUT", path: "/api/v1/accounts/root/password", token: gus,
			body: map[string]string{"password": "a long new password"}}},

		// hostile or broken input
		{"malformed JSON", 400, invalid, req{method: "PUT", path: link("1002"), token: ana, body: `{"zoho_user": "ben@acme.example"`}},
		{"unknown field", 400, invalid, req{method: "PUT", path: link("1002"), token: ana, body: `{"zoho_user": "ben@acme.example", "secret": "x"}`}},
		{"field of the wrong type", 400, invalid, req{method: "PUT", path: link("1002"), token: ana, body: `{"zoho_user": 9002}`}},
		{"trailing garbage", 400, invalid, req{method: "PUT", path: link("1002"), token: ana, body: `{"zoho_user": "ben@acme.example"} x`}},
		{"two objects", 400, invalid, req{method: "PUT", path: link("1002"), token: ana, body: `{"zoho_user": "ben@acme.example"}{}`}},
		{"not an object", 400, invalid, req{method: "PUT", path: link("1002"), token: ana, body: `["ben@acme.example"]`}},
		{"null", 400, invalid, req{method: "PATCH", path: "/api/v1/tenants/acme", token: ana, body: `null`}},
		{"empty body", 400, invalid, req{method: "PUT", path: link("1002"), token: ana, body: ""}},
		{"oversized body", 413, invalid, req{method: "PUT", path: link("1002"), token: ana, body: big}},
		{"oversized patch", 413, invalid, req{method: "PATCH", path: "/api/v1/tenants/acme", token: ana, body: big}},
		{"oversized optional body", 413, invalid, req{method: "POST", path: "/api/v1/tenants/acme/zoho/disable", token: ana, body: big}},
		{"unknown field in an optional body", 400, invalid, req{method: "POST", path: "/api/v1/tenants/acme/zoho/disable", token: ana,
			body: `{"force": true}`}},
		{"text/plain", 415, invalid, req{method: "PUT", path: link("1002"), token: ana, body: `{"zoho_user": "ben@acme.example"}`, ctype: "text/plain"}},
		{"no content type", 415, invalid, req{method: "PUT", path: link("1002"), token: ana, body: `{"zoho_user": "ben@acme.example"}`, ctype: "-"}},
		{"form post", 415, invalid, req{method: "PUT", path: link("1002"), token: ana, body: "zoho_user=ben", ctype: "application/x-www-form-urlencoded"}},
		{"latin-1 JSON", 415, invalid, req{method: "PUT", path: link("1002"), token: ana, body: `{"zoho_user": "ben@acme.example"}`,
			ctype: "application/json; charset=iso-8859-1"}},
		{"negative offset", 400, invalid, req{method: "GET", path: "/api/v1/tenants/acme/users?offset=-1", token: ana}},
		{"limit not a number", 400, invalid, req{method: "GET", path: "/api/v1/tenants/acme/users?limit=ten", token: ana}},
		{"limit too large", 400, invalid, req{method: "GET", path: "/api/v1/tenants/acme/users?limit=5000", token: ana}},
		{"offset twice", 400, invalid, req{method: "GET", path: "/api/v1/tenants/acme/users?offset=1&offset=2", token: ana}},
		{"linked not a bool", 400, invalid, req{method: "GET", path: "/api/v1/tenants/acme/users?linked=yes", token: ana}},
		{"unknown query parameter", 400, invalid, req{method: "GET", path: "/api/v1/tenants/acme/users?page=2", token: ana}},
		{"audit paging", 400, invalid, req{method: "GET", path: "/api/v1/audit?limit=-5", token: root}},

		// rules the service keeps
		{"click-to-call without notifications", 400, invalid, req{method: "PATCH", path: "/api/v1/tenants/acme/users/1001/switches", token: ana,
			body: map[string]bool{"notifications": false, "click_to_call": true}}},
		{"terminal of no kind", 400, invalid, req{method: "PUT", path: "/api/v1/tenants/acme/users/1001/terminal", token: ana,
			body: map[string]string{"kind": "fax", "value": "1"}}},
		{"mobile terminal without a number", 400, invalid, req{method: "PUT", path: "/api/v1/tenants/acme/users/1001/terminal", token: ana,
			body: map[string]string{"kind": "mobile"}}},
		{"unknown mode", 400, invalid, req{method: "PATCH", path: "/api/v1/tenants/acme", token: ana, body: map[string]string{"mode": "soap"}}},
		{"unknown mode to enable", 400, invalid, req{method: "POST", path: "/api/v1/tenants/acme/zoho/enable", token: ana, body: map[string]string{"mode": "soap"}}},
		{"unknown default user", 404, notFound, req{method: "PATCH", path: "/api/v1/tenants/acme", token: ana,
			body: map[string]string{"default_user": "nobody@acme.example"}}},
		{"tenant id with a dot", 400, invalid, req{method: "POST", path: "/api/v1/tenants", token: root, body: map[string]string{"id": "a.b"}}},
		{"duplicate tenant", 409, conflict, req{method: "POST", path: "/api/v1/tenants", token: root, body: map[string]string{"id": "acme"}}},
		{"short password", 400, invalid, req{method: "POST", path: "/api/v1/accounts", token: root,
			body: map[string]string{"username": "newbie", "password": "short", "role": "admin", "tenant": "acme"}}},
		{"duplicate account", 409, conflict, req{method: "POST", path: "/api/v1/accounts", token: root,
			body: map[string]string{"username": "ana", "password": "a long password", "role": "admin", "tenant": "acme"}}},
		{"admin of no tenant", 404, notFound, req{method: "POST", path: "/api/v1/accounts", token: root,
			body: map[string]string{"username": "newbie", "password": "a long password", "role": "admin", "tenant": "nope"}}},
		{"short new password", 400, invalid, req{method: "PUT", path: "/api/v1/accounts/ana/password", token: ana, body: map[string]string{"password": "short"}}},
		{"ttl not a duration", 400, invalid, req{method: "POST", path: "/api/v1/tokens", token: ana, body: map[string]string{"ttl": "forever"}}},
		{"negative ttl", 400, invalid, req{method: "POST", path: "/api/v1/tokens", token: ana, body: map[string]string{"ttl": "-1h"}}},
		{"token for no account", 404, notFound, req{method: "POST", path: "/api/v1/tokens", token: root, body: map[string]string{"username": "nobody"}}},
		{"delete no account", 404, notFound, req{method: "DELETE", path: "/api/v1/accounts/nobody", token: root}},
		{"no PBX to discover from", 503, noPBX, req{method: "POST", path: "/api/v1/tenants/acme/extensions/discover", token: ana}},

		// the router
		{"unknown endpoint", 404, notFound, req{method: "GET", path: "/api/v1/nope", token: root}},
		{"wrong method", 405, invalid, req{method: "DELETE", path: "/api/v1/tenants", token: root}},
	} {
		t.Run(tc.name, func(st *testing.T) {
			parent := w.t
			w.t = st
			defer func() { w.t = parent }()
			w.unchanged(func() {
				rep := w.refused(tc.status, tc.code, tc.r)
				switch tc.status {
				case http.StatusUnauthorized:
					if !strings.HasPrefix(rep.header.Get("WWW-Authenticate"), "Bearer") {
						st.Errorf("WWW-Authenticate %q", rep.header.Get("WWW-Authenticate"))
					}
				case http.StatusMethodNotAllowed:
					if rep.header.Get("Allow") == "" {
						st.Error("405 without Allow")
					}
				}
				if ct := rep.header.Get("Content-Type"); ct != "application/json" {
					st.Errorf("Content-Type %q", ct)
				}
			})
		})
	}

	// The refusals that reached the service are in the audit log.
	wantInOrder(t, w.auditActions(root, "acme"), []string{
		"ana api user.link 1001 [refused]",
		"gus api user.link 1002 [refused]",
		"gus api tenant.update acme [refused]",
	})
	checkMetrics(t, w)
}
