// Package storetest is the contract suite every store implementation passes:
// each rule documented in pkg/store is exercised here, against the real
// backend (Redis, embedded NATS), including races and expiry.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ringside/ringside/pkg/store"
)

// Open opens the store under test. The first call returns an empty store,
// isolated from every other test; each later call closes what the previous
// call opened (connection, embedded server) and opens the same data again,
// as a restarted Ringside would. The factory closes the last one in a
// t.Cleanup.
type Open func() store.Store

// Run runs the whole suite. fresh is called once per subtest, which may run
// in parallel.
func Run(t *testing.T, fresh func(t *testing.T) Open) {
	tests := []struct {
		name string
		fn   func(t *testing.T, open Open)
	}{
		{"TenantCRUD", testTenantCRUD},
		{"TenantValidation", testTenantValidation},
		{"TenantCallSettings", testTenantCallSettings},
		{"TenantConcurrentModify", testTenantConcurrentModify},
		{"TenantDeleteCascades", testTenantDeleteCascades},
		{"Extensions", testExtensions},
		{"ExtensionPaging", testExtensionPaging},
		{"ExtensionDeleteWhileLinked", testExtensionDeleteWhileLinked},
		{"Links", testLinks},
		{"LinkTenantIsolation", testLinkTenantIsolation},
		{"LinkRaceSameExtension", testLinkRaceSameExtension},
		{"LinkRaceSameZohoUser", testLinkRaceSameZohoUser},
		{"LinkPaging", testLinkPaging},
		{"LinkChurn", testLinkChurn},
		{"LinkVersusDeleteExtension", testLinkVersusDeleteExtension},
		{"Switches", testSwitches},
		{"SwitchesConcurrent", testSwitchesConcurrent},
		{"Terminals", testTerminals},
		{"Cache", testCache},
		{"Keys", testKeys},
		{"ClaimRace", testClaimRace},
		{"Expiry", testExpiry},
		{"Accounts", testAccounts},
		{"Sessions", testSessions},
		{"Audit", testAudit},
		{"AuditValidation", testAuditValidation},
		{"AuditPaging", testAuditPaging},
		{"AuditOutlivesTenant", testAuditOutlivesTenant},
		{"AuditConcurrent", testAuditConcurrent},
		{"AuditRetention", testAuditRetention},
		{"Webhooks", testWebhooks},
		{"WebhookValidation", testWebhookValidation},
		{"WebhookConcurrentModify", testWebhookConcurrentModify},
		{"WebhookTenantDelete", testWebhookTenantDelete},
		{"Deliveries", testDeliveries},
		{"DeliveryRetention", testDeliveryRetention},
		{"Persistence", testPersistence},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, fresh(t))
		})
	}
}

// Helpers.

func ctxOf(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func must[T any](t *testing.T, what string) func(T, error) T {
	t.Helper()
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return v
	}
}

func ok(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: error %v, want %v", what, err, want)
	}
}

// same compares two values by their stored (JSON) form, which holds every
// field a user sees.
func same(t *testing.T, what string, got, want any) {
	t.Helper()
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if string(g) != string(w) {
		t.Fatalf("%s:\n got %s\nwant %s", what, g, w)
	}
}

// eventually polls cond every 50 ms until it holds or within passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func tenant(id string) store.Tenant {
	return store.Tenant{
		ID:   id,
		Name: "Tenant " + id,
		Settings: store.Settings{
			Mode: store.ModeREST, Region: "DE", DefaultUser: "zu-owner",
			Features: map[string]bool{"missed_call_task": true},
		},
	}
}

func setupTenant(t *testing.T, ctx context.Context, s store.Store, id string, exts ...string) {
	t.Helper()
	must[store.Tenant](t, "create tenant "+id)(s.CreateTenant(ctx, tenant(id)))
	for _, n := range exts {
		must[store.Extension](t, "upsert "+n)(s.UpsertExtension(ctx, store.Extension{Tenant: id, Number: n, Name: "User " + n, Device: "PJSIP/" + n}))
	}
}

func link(tenant, ext, zu string) store.Link {
	return store.Link{
		Tenant: tenant, Extension: ext, ZohoUser: zu,
		Email: zu + "@example.com", Name: "Zoho " + zu, Secret: "secret-" + zu,
		Switches: store.Switches{Notifications: true},
	}
}

// race runs fn n times at once and returns how many succeeded; every other
// call must fail with ErrConflict.
func race(t *testing.T, n int, fn func(i int) error) int {
	t.Helper()
	var wg sync.WaitGroup
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = fn(i)
		})
	}
	close(start)
	wg.Wait()
	wins := 0
	for i, err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, store.ErrConflict):
			t.Errorf("racer %d: %v, want nil or ErrConflict", i, err)
		}
	}
	return wins
}

// Tenants.

func testTenantCRUD(t *testing.T, open Open) {
	s, ctx := open(), ctxOf(t)
	in := tenant("acme")
	in.Zoho = store.ZohoConnection{
		Status: store.Connected, AccountsURL: "https://accounts.zoho.eu", APIDomain: "https://www.zohoapis.eu",
		Location: "eu", RefreshToken: []byte{0, 1, 2, 0xff}, Scopes: []string{"PhoneBridge.call.log", "ZohoCRM.modules.ALL"},
		ConnectedAt: time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC),
	}
	created := must[store.Tenant](t, "create")(s.CreateTenant(ctx, in))
	if created.Version == 0 || created.CreatedAt.IsZero() || !created.UpdatedAt.Equal(created.CreatedAt) {
		t.Fatalf("create did not stamp version and times: %+v", created)
	}
	got := must[store.Tenant](t, "get")(s.Tenant(ctx, "acme"))
	same(t, "get after create", got, created)
	if string(got.Zoho.RefreshToken) != "\x00\x01\x02\xff" || len(got.Zoho.Scopes) != 2 || !got.Settings.Features["missed_call_task"] {
		t.Fatalf("connection or settings not kept: %+v", got)
	}

	_, err := s.CreateTenant(ctx, tenant("acme"))
	wantErr(t, "create duplicate", err, store.ErrConflict)
	_, err = s.Tenant(ctx, "nobody")
	wantErr(t, "get missing", err, store.ErrNotFound)

	// Defaults: the empty status is stored as disconnected.
	globex := must[store.Tenant](t, "create globex")(s.CreateTenant(ctx, store.Tenant{ID: "globex"}))
	if globex.Zoho.Status != store.Disconnected {
		t.Fatalf("status %q, want disconnected", globex.Zoho.Status)
	}

	// Update with the version read: applied, new version, CreatedAt kept.
	upd := got
	upd.Name = "ACME Corp"
	upd.Zoho.Status, upd.Zoho.LastError = store.Revoked, "invalid_code"
	updated := must[store.Tenant](t, "update")(s.UpdateTenant(ctx, upd))
	if updated.Version == got.Version || !updated.CreatedAt.Equal(got.CreatedAt) || updated.UpdatedAt.Before(got.UpdatedAt) {
		t.Fatalf("update: version %d→%d, created %s→%s", got.Version, updated.Version, got.CreatedAt, updated.CreatedAt)
	}
	same(t, "get after update", must[store.Tenant](t, "get")(s.Tenant(ctx, "acme")), updated)

	// A stale update (based on the first read) is refused and changes nothing.
	stale := got
	stale.Name = "Stale"
	_, err = s.UpdateTenant(ctx, stale)
	wantErr(t, "stale update", err, store.ErrConflict)
	same(t, "after stale update", must[store.Tenant](t, "get")(s.Tenant(ctx, "acme")), updated)

	_, err = s.UpdateTenant(ctx, tenant("nobody"))
	wantErr(t, "update missing", err, store.ErrNotFound)

	list := must[[]store.Tenant](t, "list")(s.ListTenants(ctx))
	if len(list) != 2 || list[0].ID != "acme" || list[1].ID != "globex" {
		t.Fatalf("list = %+v, want acme, globex", list)
	}

	ok(t, "delete", s.DeleteTenant(ctx, "globex"))
	_, err = s.Tenant(ctx, "globex")
	wantErr(t, "get deleted", err, store.ErrNotFound)
	wantErr(t, "delete again", s.DeleteTenant(ctx, "globex"), store.ErrNotFound)
	if list := must[[]store.Tenant](t, "list")(s.ListTenants(ctx)); len(list) != 1 {
		t.Fatalf("list after delete = %d tenants, want 1", len(list))
	}
}

func testTenantValidation(t *testing.T, open Open) {
	s, ctx := open(), ctxOf(t)
	bad := map[string]store.Tenant{
		"empty id":         {},
		"dotted id":        {ID: "acme.example"},
		"reserved id":      {ID: "cmd"},
		"wildcard id":      {ID: "a*"},
		"mode":             {ID: "x", Settings: store.Settings{Mode: "soap"}},
		"region":           {ID: "x", Settings: store.Settings{Region: "de"}},
		"default user":     {ID: "x", Settings: store.Settings{DefaultUser: "a b"}},
		"status":           {ID: "x", Zoho: store.ZohoConnection{Status: "maybe"}},
		"connected no tok": {ID: "x", Zoho: store.ZohoConnection{Status: store.Connected, AccountsURL: "a", APIDomain: "b"}},
	}
	for name, in := range bad {
		_, err := s.CreateTenant(ctx, in)
		wantErr(t, "create with bad "+name, err, store.ErrInvalid)
	}
	if list := must[[]store.Tenant](t, "list")(s.ListTenants(ctx)); len(list) != 0 {
		t.Fatalf("invalid tenants were stored: %+v", list)
	}
	created := must[store.Tenant](t, "create")(s.CreateTenant(ctx, tenant("acme")))
	created.Settings.Mode = "soap"
	_, err := s.UpdateTenant(ctx, created)
	wantErr(t, "update with bad mode", err, store.ErrInvalid)
	if got := must[store.Tenant](t, "get")(s.Tenant(ctx, "acme")); got.Settings.Mode != store.ModeREST {
		t.Fatalf("invalid update changed the mode to %q", got.Settings.Mode)
	}
}

// testTenantCallSettings: the internal-call policy, technical extensions,
// own numbers and lead module are stored as given and read back; a bad one
// is refused on create and on update, changing nothing.
func testTenantCallSettings(t *testing.T, open Open) {
	s, ctx := open(), ctxOf(t)
	in := tenant("acme")
	in.Settings.InternalPolicy = store.InternalLight
	in.Settings.TechnicalExtensions = []string{"8*", "fax", "60[0-9]"}
	in.Settings.OwnNumbers = []string{"+4930999000", "+4930999*"}
	in.Settings.LeadModule = "Contacts"
	must[store.Tenant](t, "create")(s.CreateTenant(ctx, in))
	got := must[store.Tenant](t, "get")(s.Tenant(ctx, "acme"))
	if fmt.Sprintf("%s %v %v %s", got.Settings.InternalPolicy, got.Settings.TechnicalExtensions, got.Settings.OwnNumbers, got.Settings.LeadModule) !=
		"light [8* fax 60[0-9]] [+4930999000 +4930999*] Contacts" {
		t.Fatalf("call settings read back as %+v", got.Settings)
	}
	bad := map[string]func(*store.Settings){
		"policy":              func(st *store.Settings) { st.InternalPolicy = "full" },
		"pattern syntax":      func(st *store.Settings) { st.TechnicalExtensions = []string{"8[0-"} },
		"pattern with space":  func(st *store.Settings) { st.TechnicalExtensions = []string{"fax line"} },
		"pattern with slash":  func(st *store.Settings) { st.TechnicalExtensions = []string{"a/b"} },
		"empty pattern":       func(st *store.Settings) { st.TechnicalExtensions = []string{""} },
		"pattern twice":       func(st *store.Settings) { st.TechnicalExtensions = []string{"8*", "8*"} },
		"national own number": func(st *store.Settings) { st.OwnNumbers = []string{"030999000"} },
		"own number twice":    func(st *store.Settings) { st.OwnNumbers = []string{"+4930999000", "+4930999000"} },
		"lead module":         func(st *store.Settings) { st.LeadModule = "Accounts" },
	}
	for name, change := range bad {
		c := tenant("other")
		change(&c.Settings)
		_, err := s.CreateTenant(ctx, c)
		wantErr(t, "create with bad "+name, err, store.ErrInvalid)
		u := got
		change(&u.Settings)
		_, err = s.UpdateTenant(ctx, u)
		wantErr(t, "update with bad "+name, err, store.ErrInvalid)
	}
	if again := must[store.Tenant](t, "get")(s.Tenant(ctx, "acme")); again.Version != got.Version {
		t.Fatalf("a refused update changed the tenant: %+v", again.Settings)
	}
	if _, err := s.Tenant(ctx, "other"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a tenant with bad call settings was stored: %v", err)
	}
}

// testTenantConcurrentModify: ModifyTenant loses no update when writers race.
func testTenantConcurrentModify(t *testing.T, open Open) {
	s, ctx := open(), ctxOf(t)
	must[store.Tenant](t, "create")(s.CreateTenant(ctx, store.Tenant{ID: "acme"}))
	const n = 6
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, err := store.ModifyTenant(ctx, s, "acme", func(t *store.Tenant) error {
				if t.Settings.Features == nil {
					t.Settings.Features = map[string]bool{}
				}
				t.Settings.Features[fmt.Sprintf("f%d", i)] = true
				return nil
			})
			if err != nil {
				t.Errorf("modify %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	got := must[store.Tenant](t, "get")(s.Tenant(ctx, "acme"))
	if len(got.Settings.Features) != n {
		t.Fatalf("features %v: %d of %d concurrent modifications kept", got.Settings.Features, len(got.Settings.Features), n)
	}
	_, err := store.ModifyTenant(ctx, s, "nobody", func(*store.Tenant) error { return nil })
	wantErr(t, "modify missing", err, store.ErrNotFound)
}

func testTenantDeleteCascades(t *testing.T, open Open) {
	s, ctx := open(), ctxOf(t)
	setupTenant(t, ctx, s, "acme", "1001", "1002")
	setupTenant(t, ctx, s, "globex", "1001")
	for _, ten := range []string{"acme", "globex"} {
		must[store.Link](t, "link")(s.Link(ctx, link(ten, "1001", "zu1")))
		must[store.Terminal](t, "terminal")(s.SetTerminal(ctx, store.Terminal{Tenant: ten, Extension: "1001", Kind: store.Mobile, Mobile: "+491701234567"}))
	}
	ok(t, "delete acme", s.DeleteTenant(ctx, "acme"))

	// Re-created, the tenant starts empty: nothing of the old one comes back.
	setupTenant(t, ctx, s, "acme")
	if exts, total := must2[store.Extension](t, "list extensions")(s.ListExtensions(ctx, "acme", store.Page{})); len(exts) != 0 || total != 0 {
		t.Fatalf("extensions survived their tenant: %+v", exts)
	}
	if links, total := must2[store.Link](t, "list links")(s.ListLinks(ctx, "acme", store.Page{})); len(links) != 0 || total != 0 {
		t.Fatalf("links survived their tenant: %+v", links)
	}
	_, err := s.LinkByZohoUser(ctx, "acme", "zu1")
	wantErr(t, "link by Zoho user of a deleted tenant", err, store.ErrNotFound)
	_, err = s.LinkByExtension(ctx, "acme", "1001")
	wantErr(t, "link by extension of a deleted tenant", err, store.ErrNotFound)
	_, err = s.Terminal(ctx, "acme", "1001")
	wantErr(t, "terminal of a deleted tenant", err, store.ErrNotFound)
	// The Zoho user is free again in the re-created tenant.
	must[store.Extension](t, "upsert")(s.UpsertExtension(ctx, store.Extension{Tenant: "acme", Number: "2001"}))
	must[store.Link](t, "relink")(s.Link(ctx, link("acme", "2001", "zu1")))

	// The other tenant is untouched.
	must[store.Link](t, "globex link")(s.LinkByZohoUser(ctx, "globex", "zu1"))
	must[store.Terminal](t, "globex terminal")(s.Terminal(ctx, "globex", "1001"))
}

func must2[T any](t *testing.T, what string) func([]T, int, error) ([]T, int) {
	t.Helper()
	return func(v []T, n int, err error) ([]T, int) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return v, n
	}
}

// Extensions.

func testExtensions(t *testing.T, open Open) {
	s, ctx := open(), ctxOf(t)
	_, err := s.UpsertExtension(ctx, store.Extension{Tenant: "acme", Number: "1001"})
	wantErr(t, "upsert into a missing tenant", err, store.ErrNotFound)
	setupTenant(t, ctx, s, "acme")
	setupTenant(t, ctx, s, "globex")
	_, err = s.UpsertExtension(ctx, store.Extension{Tenant: "acme", Number: "10 01"})
	wantErr(t, "upsert bad number", err, store.ErrInvalid)
	_, err = s.UpsertExtension(ctx, store.Extension{Tenant: "acme"})
	wantErr(t, "upsert empty number", err, store.ErrInvalid)

	e := must[store.Extension](t, "upsert")(s.UpsertExtension(ctx, store.Extension{Tenant: "acme", Number: "1001", Name: "Ana", Device: "PJSIP/1001"}))
	if e.UpdatedAt.IsZero() {
		t.Fatal("UpdatedAt not set")
	}
	same(t, "get", must[store.Extension](t, "get")(s.Extension(ctx, "acme", "1001")), e)
	// Rediscovery replaces name and device.
	e2 := must[store.Extension](t, "upsert again")(s.UpsertExtension(ctx, store.Extension{Tenant: "acme", Number: "1001", Name: "Ana García", Device: "PJSIP/ana"}))
	same(t, "get after second upsert", must[store.Extension](t, "get")(s.Extension(ctx, "acme", "1001")), e2)
	// The same number in another tenant is another extension.
	must[store.Extension](t, "upsert globex")(s.UpsertExtension(ctx, store.Extension{Tenant: "globex", Number: "1001", Name: "Bob"}))
	if got := must[store.Extension](t, "get")(s.Extension(ctx, "acme", "1001")); got.Name != "Ana García" {
		t.Fatalf("acme's 1001 is %q after globex's upsert", got.Name)
	}
	if _, total := must2[store.Extension](t, "list")(s.ListExtensions(ctx, "acme", store.Page{})); total != 1 {
		t.Fatalf("acme has %d extensions, want 1", total)
	}
	_, err = s.Extension(ctx, "acme", "1002")
	wantErr(t, "get missing", err, store.ErrNotFound)

	must[store.Terminal](t, "terminal")(s.SetTerminal(ctx, store.Terminal{Tenant: "acme", Extension: "1001", Kind: store.Desk, Device: "PJSIP/desk"}))
	ok(t, "delete", s.DeleteExtension(ctx, "acme", "1001"))
	_, err = s.Extension(ctx, "acme", "1001")
	wantErr(t, "get deleted", err, store.ErrNotFound)
	_, err = s.Terminal(ctx, "acme", "1001")
	wantErr(t, "terminal of a deleted extension", err, store.ErrNotFound)
	wantErr(t, "delete again", s.DeleteExtension(ctx, "acme", "1001"), store.ErrNotFound)
	must[store.Extension](t, "globex kept")(s.Extension(ctx, "globex", "1001"))
}

func testExtensionPaging(t *testing.T, open Open) {
	s, ctx := open(), ctxOf(t)
	setupTenant(t, ctx, s, "acme")
	var want []string
	for i := range 25 {
		n := fmt.Sprintf("%d", 100+i*7) // inserted out of bytewise order
		want = append(want, n)
		must[store.Extension](t, "upsert")(s.UpsertExtension(ctx, store.Extension{Tenant: "acme", Number: n}))
	}
	sortStrings(want)
	var got []string
	for off := 0; ; off += 10 {
		page, total := must2[store.Extension](t, "page")(s.ListExtensions(ctx, "acme", store.Page{Offset: off, Limit: 10}))
		if total != 25 {
			t.Fatalf("total %d, want 25", total)
		}
		if len(page) == 0 {
			break
		}
		if len(page) > 10 {
			t.Fatalf("page of %d, limit 10", len(page))
		}
		for _, e := range page {
			got = append(got, e.Number)
		}
	}
	same(t, "all pages", got, want)
	if all, _ := must2[store.Extension](t, "default limit")(s.ListExtensions(ctx, "acme", store.Page{})); len(all) != 25 {
		t.Fatalf("default page has %d of 25", len(all))
	}
	if none, total := must2[store.Extension](t, "past the end")(s.ListExtensions(ctx, "acme", store.Page{Offset: 100})); len(none) != 0 || total != 25 {
		t.Fatalf("past the end: %d items, total %d", len(none), total)
	}
	_, _, err := s.ListExtensions(ctx, "acme", store.Page{Offset: -1})
	wantErr(t, "negative offset", err, store.ErrInvalid)
	if none, total := must2[store.Extension](t, "unknown tenant")(s.ListExtensions(ctx, "nobody", store.Page{})); len(none) != 0 || total != 0 {
		t.Fatalf("unknown tenant has %d extensions", total)
	}
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func testExtensionDeleteWhileLinked(t *testing.T, open Open) {
	s, ctx := open(), ctxOf(t)
	setupTenant(t, ctx, s, "acme", "1001")
	must[store.Link](t, "link")(s.Link(ctx, link("acme", "1001", "zu1")))
	wantErr(t, "delete a linked extension", s.DeleteExtension(ctx, "acme", "1001"), store.ErrConflict)
	must[store.Extension](t, "still there")(s.Extension(ctx, "acme", "1001"))
	must[store.Link](t, "link kept")(s.LinkByExtension(ctx, "acme", "1001"))
	must[store.Link](t, "unlink")(s.Unlink(ctx, "acme", "1001"))
	ok(t, "delete after unlink", s.DeleteExtension(ctx, "acme", "1001"))
}

// Links.

func testLinks(t *testing.T, open Open) {
	s, ctx := open(), ctxOf(t)
	setupTenant(t, ctx, s, "acme", "1001", "1002")

	_, err := s.Link(ctx, link("acme", "1999", "zu1"))
	wantErr(t, "link an unknown extension", err, store.ErrNotFound)
	bad := link("acme", "1001", "zu1")
	bad.Switches = store.Switches{ClickToCall: true}
	_, err = s.Link(ctx, bad)
	wantErr(t, "link with click-to-call but no notifications", err, store.ErrInvalid)
	_, err = s.Link(ctx, link("acme", "1001", ""))
	wantErr(t, "link without Zoho user", err, store.ErrInvalid)
	_, err = s.LinkByExtension(ctx, "acme", "1001")
	wantErr(t, "refused links left nothing", err, store.ErrNotFound)

	l := must[store.Link](t, "link")(s.Link(ctx, link("acme", "1001", "zu1")))
	if l.LinkedAt.IsZero() {
		t.Fatal("LinkedAt not set")
	}
	same(t, "by extension", must[store.Link](t, "by extension")(s.LinkByExtension(ctx, "acme", "1001")), l)
	same(t, "by Zoho user", must[store.Link](t, "by Zoho user")(s.LinkByZohoUser(ctx, "acme", "zu1")), l)

	_, err = s.Link(ctx, link("acme", "1001", "zu2"))
	wantErr(t, "link a linked extension", err, store.ErrConflict)
	_, err = s.Link(ctx, link("acme", "1002", "zu1"))
	wantErr(t, "link a linked Zoho user", err, store.ErrConflict)
	_, err = s.Link(ctx, link("acme", "1001", "zu1"))
	wantErr(t, "link the same pair again", err, store.ErrConflict)
	_, err = s.LinkByZohoUser(ctx, "acme", "zu2")
	wantErr(t, "refused Zoho user not linked", err, store.ErrNotFound)
	_, err = s.LinkByExtension(ctx, "acme", "1002")
	wantErr(t, "refused extension not linked", err, store.ErrNotFound)

	// Unlink returns the link, secret included, so the caller can unregister.
	removed := must[store.Link](t, "unlink")(s.Unlink(ctx, "acme", "1001"))
	same(t, "unlink returns the link", removed, l)
	_, err = s.LinkByExtension(ctx, "acme", "1001")
	wantErr(t, "by extension after unlink", err, store.ErrNotFound)
	_, err = s.LinkByZohoUser(ctx, "acme", "zu1")
	wantErr(t, "by Zoho user after unlink", err, store.ErrNotFound)
	_, err = s.Unlink(ctx, "acme", "1001")
	wantErr(t, "unlink again", err, store.ErrNotFound)

	// Both sides are free again: the user moves to another extension.
	must[store.Link](t, "relink user")(s.Link(ctx, link("acme", "1002", "zu1")))
	must[store.Link](t, "relink extension")(s.Link(ctx, link("acme", "1001", "zu2")))
	if got := must[store.Link](t, "by Zoho user")(s.LinkByZohoUser(ctx, "acme", "zu1")); got.Extension != "1002" {
		t.Fatalf("zu1 linked to %s, want 1002", got.Extension)
	}
}

func testLinkTenantIsolation(t *testing.T, open Open) {
	s, ctx := open(), ctxOf(t)
	setupTenant(t, ctx, s, "acme", "1001")
	setupTenant(t, ctx, s, "globex", "1001")
	must[store.Link](t, "acme")(s.Link(ctx, link("acme", "1001", "zu1")))
	must[store.Link](t, "globex: same extension, same Zoho user id")(s.Link(ctx, link("globex", "1001", "zu1")))
	must[store.Link](t, "unlink acme")(s.Unlink(ctx, "acme", "1001"))
	must[store.Link](t, "globex kept by extension")(s.LinkByExtension(ctx, "globex", "1001"))
	must[store.Link](t, "globex kept by Zoho user")(s.LinkByZohoUser(ctx, "globex", "zu1"))
}

const racers = 20

func testLinkRaceSameExtension(t *testing.T, open Open) {
	s, ctx := open(), ctxOf(t)
	setupTenant(t, ctx, s, "acme", "1001")
	wins := race(t, racers, func(i int) error {
		_, err := s.Link(ctx, link("acme", "1001", fmt.Sprintf("zu%d", i)))
		return err
	})
	if wins != 1 {
		t.Fatalf("%d of %d racers linked extension 1001, want exactly 1", wins, racers)
	}
	l := must[store.Link](t, "by extension")(s.LinkByExtension(ctx, "acme", "1001"))
	linked := 0
	for i := range racers {
		got, err := s.LinkByZohoUser(ctx, "acme", fmt.Sprintf("zu%d", i))
		if err == nil {
			linked++
			same(t, "winner by Zoho user", got, l)
		} else if !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("by Zoho user: %v", err)
		}
	}
	if linked != 1 {
		t.Fatalf("%d Zoho users linked after the race, want 1", linked)
	}
	// The losers left no reservation behind: each can link elsewhere.
	must[store.Extension](t, "upsert")(s.UpsertExtension(ctx, store.Extension{Tenant: "acme", Number: "1002"}))
	loser := "zu0"
	if l.ZohoUser == loser {
		loser = "zu1"
	}
	must[store.Link](t, "loser links elsewhere")(s.Link(ctx, link("acme", "1002", loser)))
}

func testLinkRaceSameZohoUser(t *testing.T, open Open) {
	s, ctx := open(), ctxOf(t)
	var exts []string
	for i := range racers {
		exts = append(exts, fmt.Sprintf("1%03d", i))
	}
	setupTenant(t, ctx, s, "acme", exts...)
	wins := race(t, racers, func(i int) error {
		_, err := s.Link(ctx, link("acme", exts[i], "zu1"))
		return err
	})
	if wins != 1 {
		t.Fatalf("%d of %d racers linked Zoho user zu1, want exactly 1", wins, racers)
	}
	l := must[store.Link](t, "by Zoho user")(s.LinkByZohoUser(ctx, "acme", "zu1"))
	links, total := must2[store.Link](t, "list")(s.ListLinks(ctx, "acme", store.Page{}))
	if total != 1 || len(links) != 1 {
		t.Fatalf("%d links after the race, want 1: %+v", total, links)
	}
	same(t, "listed link", links[0], l)
	// The losing extensions left nothing behind: each can link another user.
	for _, e := range exts {
		if e != l.Extension {
			must[store.Link](t, "loser links another user")(s.Link(ctx, link("acme", e, "zu-other")))
			break
		}
	}
}

// testLinkChurn: writers link and unlink three extensions and three Zoho
// users at random; afterwards the links are a one-to-one match, the same
// seen from either side and in the list.
func testLinkChurn(t *testing.T, open Open) {
	s, ctx := open(), ctxOf(t)
	exts, zus := []string{"1001", "1002", "1003"}, []string{"zu1", "zu2", "zu3"}
	setupTenant(t, ctx, s, "acme", exts...)
	var wg sync.WaitGroup
	for g := range racers {
		wg.Go(func() {
			for k := range 8 {
				ext, zu := exts[(g+k)%3], zus[(g*7+k*5)%3]
				var err error
				if (g+k)%3 == 0 {
					_, err = s.Unlink(ctx, "acme", ext)
				} else {
					_, err = s.Link(ctx, link("acme", ext, zu))
				}
				if err != nil && !errors.Is(err, store.ErrConflict) && !errors.Is(err, store.ErrNotFound) {
					t.Errorf("churn: %v", err)
				}
			}
		})
	}
	wg.Wait()
	byExt := map[string]string{}
	for _, ext := range exts {
		l, err := s.LinkByExtension(ctx, "acme", ext)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		ok(t, "by extension", err)
		back := must[store.Link](t, "by Zoho user "+l.ZohoUser)(s.LinkByZohoUser(ctx, "acme", l.ZohoUser))
		if back.Extension != ext {
			t.Fatalf("%s → %s but %s → %s", ext, l.ZohoUser, l.ZohoUser, back.Extension)
		}
		byExt[ext] = l.ZohoUser
	}
	for _, zu := range zus {
		l, err := s.LinkByZohoUser(ctx, "acme", zu)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		ok(t, "by Zoho user", err)
		if byExt[l.Extension] != zu {
			t.Fatalf("%s → %s, but %s → %q", zu, l.Extension, l.Extension, byExt[l.Extension])
		}
	}
	links, total := must2[store.Link](t, "list")(s.ListLinks(ctx, "acme", store.Page{}))
	if total != len(byExt) || len(links) != len(byExt) {
		t.Fatalf("list has %d links, lookups find %d", total, len(byExt))
	}
	for _, l := range links {
		if byExt[l.Extension] != l.ZohoUser {
			t.Fatalf("listed %s → %s, lookup says %q", l.Extension, l.ZohoUser, byExt[l.Extension])
		}
	}
}

// testLinkVersusDeleteExtension: racing a Link with the deletion of its
// extension never leaves a link on a missing extension.
func testLinkVersusDeleteExtension(t *testing.T, open Open) {
	s, ctx := open(), ctxOf(t)
	setupTenant(t, ctx, s, "acme", "1001")
	for round := range 10 {
		var wg sync.WaitGroup
		start := make(chan struct{})
		wg.Go(func() {
			<-start
			_, err := s.Link(ctx, link("acme", "1001", fmt.Sprintf("zu%d", round)))
			if err != nil && !errors.Is(err, store.ErrConflict) && !errors.Is(err, store.ErrNotFound) {
				t.Errorf("link: %v", err)
			}
		})
		wg.Go(func() {
			<-start
			err := s.DeleteExtension(ctx, "acme", "1001")
			if err != nil && !errors.Is(err, store.ErrConflict) && !errors.Is(err, store.ErrNotFound) {
				t.Errorf("delete: %v", err)
			}
		})
		close(start)
		wg.Wait()
		_, linkErr := s.LinkByExtension(ctx, "acme", "1001")
		_, extErr := s.Extension(ctx, "acme", "1001")
		if linkErr == nil && extErr != nil {
			t.Fatalf("round %d: extension 1001 is linked but %v", round, extErr)
		}
		if linkErr == nil {
			must[store.Link](t, "unlink")(s.Unlink(ctx, "acme", "1001"))
		}
		must[store.Extension](t, "upsert")(s.UpsertExtension(ctx, store.Extension{Tenant: "acme", Number: "1001"}))
	}
}

func testLinkPaging(t *testing.T, open Open) {
	s, ctx := open(), ctxOf(t)
	var exts []string
	for i := range 12 {
		exts = append(exts, fmt.Sprintf("%d", 2000-i))
	}
	setupTenant(t, ctx, s, "acme", exts...)
	setupTenant(t, ctx, s, "globex", "1")
	must[store.Link](t, "globex")(s.Link(ctx, link("globex", "1", "g")))
	for i, e := range exts {
		must[store.Link](t, "link")(s.Link(ctx, link("acme", e, fmt.Sprintf("zu%d", i))))
	}
	sortStrings(exts)
	var got []string
	for off := 0; off < 12; off += 5 {
		page, total := must2[store.Link](t, "page")(s.ListLinks(ctx, "acme", store.Page{Offset: off, Limit: 5}))
		if total != 12 {
			t.Fatalf("total %d, want 12", total)
		}
		for _, l := range page {
			got = append(got, l.Extension)
		}
	}
	same(t, "links over pages", got, exts)
	must[store.Link](t, "unlink")(s.Unlink(ctx, "acme", exts[0]))
	if _, total := must2[store.Link](t, "after unlink")(s.ListLinks(ctx, "acme", store.Page{})); total != 11 {
		t.Fatalf("total %d after unlink, want 11", total)
	}
}

func testSwitches(t *testing.T, open Open) {
	s, ctx := open(), ctxOf(t)
	setupTenant(t, ctx, s, "acme", "1001")
	must[store.Link](t, "link")(s.Link(ctx, link("acme", "1001", "zu1")))

	steps := []struct {
		name   string
		change store.SwitchChange
		want   store.Switches
		err    error
	}{
		{"click-to-call on", store.SwitchChange{ClickToCall: store.On}, store.Switches{Notifications: true, ClickToCall: true}, nil},
		{"notifications off turns click-to-call off", store.SwitchChange{Notifications: store.Off}, store.Switches{}, nil},
		{"click-to-call on without notifications", store.SwitchChange{ClickToCall: store.On}, store.Switches{}, store.ErrInvalid},
		{"notifications off and click-to-call on at once", store.SwitchChange{Notifications: store.Off, ClickToCall: store.On}, store.Switches{}, store.ErrInvalid},
		{"both on at once", store.SwitchChange{Notifications: store.On, ClickToCall: store.On}, store.Switches{Notifications: true, ClickToCall: true}, nil},
		{"keep both", store.SwitchChange{}, store.Switches{Notifications: true, ClickToCall: true}, nil},
		{"click-to-call off keeps notifications", store.SwitchChange{ClickToCall: store.Off}, store.Switches{Notifications: true}, nil},
	}
	for _, st := range steps {
		got, err := s.SetSwitches(ctx, "acme", "1001", st.change)
		if st.err != nil {
			wantErr(t, st.name, err, st.err)
		} else {
			ok(t, st.name, err)
			same(t, st.name+": returned", got.Switches, st.want)
		}
		stored := must[store.Link](t, "get")(s.LinkByZohoUser(ctx, "acme", "zu1"))
		same(t, st.name+": stored", stored.Switches, st.want)
		if stored.Secret != "secret-zu1" || stored.Email != "zu1@example.com" {
			t.Fatalf("%s: the rest of the link changed: %+v", st.name, stored)
		}
	}
	_, err := s.SetSwitches(ctx, "acme", "1999", store.SwitchChange{Notifications: store.On})
	wantErr(t, "switches of an unlinked extension", err, store.ErrNotFound)
}

// testSwitchesConcurrent: racing switch changes never break the rule.
func testSwitchesConcurrent(t *testing.T, open Open) {
	s, ctx := open(), ctxOf(t)
	setupTenant(t, ctx, s, "acme", "1001")
	must[store.Link](t, "link")(s.Link(ctx, link("acme", "1001", "zu1")))
	changes := []store.SwitchChange{
		{Notifications: store.Off}, {ClickToCall: store.On}, {Notifications: store.On, ClickToCall: store.On}, {ClickToCall: store.Off},
	}
	var wg sync.WaitGroup
	for i := range racers {
		wg.Go(func() {
			_, err := s.SetSwitches(ctx, "acme", "1001", changes[i%len(changes)])
			if err != nil && !errors.Is(err, store.ErrInvalid) && !errors.Is(err, store.ErrConflict) {
				t.Errorf("set switches: %v", err)
			}
		})
	}
	wg.Wait()
	got := must[store.Link](t, "get")(s.LinkByExtension(ctx, "acme", "1001"))
	if got.Switches.ClickToCall && !got.Switches.Notifications {
		t.Fatalf("click-to-call on without notifications after racing changes")
	}
}

// Terminals.

func testTerminals(t *testing.T, open Open) {
	s, ctx := open(), ctxOf(t)
	setupTenant(t, ctx, s, "acme", "1001")
	_, err := s.SetTerminal(ctx, store.Terminal{Tenant: "acme", Extension: "1999", Kind: store.Desk, Device: "PJSIP/x"})
	wantErr(t, "terminal of an unknown extension", err, store.ErrNotFound)
	for name, bad := range map[string]store.Terminal{
		"desk without device":      {Tenant: "acme", Extension: "1001", Kind: store.Desk},
		"mobile without number":    {Tenant: "acme", Extension: "1001", Kind: store.Mobile},
		"desk with mobile number":  {Tenant: "acme", Extension: "1001", Kind: store.Desk, Device: "d", Mobile: "+49"},
		"unknown kind":             {Tenant: "acme", Extension: "1001", Kind: "fax", Device: "d"},
		"missing extension number": {Tenant: "acme", Kind: store.Desk, Device: "d"},
	} {
		_, err := s.SetTerminal(ctx, bad)
		wantErr(t, name, err, store.ErrInvalid)
	}
	_, err = s.Terminal(ctx, "acme", "1001")
	wantErr(t, "no terminal yet", err, store.ErrNotFound)

	desk := must[store.Terminal](t, "set desk")(s.SetTerminal(ctx, store.Terminal{Tenant: "acme", Extension: "1001", Kind: store.Desk, Device: "PJSIP/1001-desk"}))
	if desk.SetAt.IsZero() {
		t.Fatal("SetAt not set")
	}
	same(t, "get desk", must[store.Terminal](t, "get")(s.Terminal(ctx, "acme", "1001")), desk)
	mobile := must[store.Terminal](t, "set mobile")(s.SetTerminal(ctx, store.Terminal{Tenant: "acme", Extension: "1001", Kind: store.Mobile, Mobile: "+491701234567"}))
	same(t, "mobile replaces desk", must[store.Terminal](t, "get")(s.Terminal(ctx, "acme", "1001")), mobile)

	ok(t, "reset", s.ResetTerminal(ctx, "acme", "1001"))
	_, err = s.Terminal(ctx, "acme", "1001")
	wantErr(t, "after reset", err, store.ErrNotFound)
	ok(t, "reset again", s.ResetTerminal(ctx, "acme", "1001"))
}

// Cache and keys.

func testCache(t *testing.T, open Open) {
	s, ctx := open(), ctxOf(t)
	_, err := s.GetLookup(ctx, "acme", "+4930123456")
	wantErr(t, "miss", err, store.ErrNotFound)
	wantErr(t, "ttl 0", s.PutLookup(ctx, "acme", "+4930123456", []byte("x"), 0), store.ErrInvalid)
	wantErr(t, "bad number", s.PutLookup(ctx, "acme", "", []byte("x"), time.Hour), store.ErrInvalid)

	hit := []byte(`{"module":"Contacts","id":"42"}`)
	ok(t, "put", s.PutLookup(ctx, "acme", "+4930123456", hit, time.Hour))
	ok(t, "put negative in another tenant", s.PutLookup(ctx, "globex", "+4930123456", []byte{0}, time.Hour))
	if got := must[[]byte](t, "get")(s.GetLookup(ctx, "acme", "+4930123456")); string(got) != string(hit) {
		t.Fatalf("get = %q, want %q", got, hit)
	}
	if got := must[[]byte](t, "get globex")(s.GetLookup(ctx, "globex", "+4930123456")); string(got) != "\x00" {
		t.Fatalf("globex = %q, want the negative marker", got)
	}
	ok(t, "replace", s.PutLookup(ctx, "acme", "+4930123456", []byte("new"), time.Hour))
	if got := must[[]byte](t, "get")(s.GetLookup(ctx, "acme", "+4930123456")); string(got) != "new" {
		t.Fatalf("after replace = %q", got)
	}
	ok(t, "delete", s.DeleteLookup(ctx, "acme", "+4930123456"))
	_, err = s.GetLookup(ctx, "acme", "+4930123456")
	wantErr(t, "after delete", err, store.ErrNotFound)
	ok(t, "delete again", s.DeleteLookup(ctx, "acme", "+4930123456"))
	must[[]byte](t, "globex kept")(s.GetLookup(ctx, "globex", "+4930123456"))
}

func testKeys(t *testing.T, open Open) {
	s, ctx := open(), ctxOf(t)
	key := "zoho/acme/log/pbx-01-1736935200.42:9" // dots, slashes, colons
	_, err := s.Claim(ctx, key, 0)
	wantErr(t, "claim ttl 0", err, store.ErrInvalid)
	_, err = s.Claim(ctx, "", time.Hour)
	wantErr(t, "claim empty key", err, store.ErrInvalid)

	if got := must[bool](t, "claim")(s.Claim(ctx, key, time.Hour)); !got {
		t.Fatal("first claim not granted")
	}
	if got := must[bool](t, "claim again")(s.Claim(ctx, key, time.Hour)); got {
		t.Fatal("second claim granted while the first holds")
	}
	if got := must[bool](t, "another key")(s.Claim(ctx, key+"x", time.Hour)); !got {
		t.Fatal("claim of another key refused")
	}
	ok(t, "release", s.Release(ctx, key))
	if got := must[bool](t, "claim after release")(s.Claim(ctx, key, time.Hour)); !got {
		t.Fatal("claim after release not granted")
	}
	ok(t, "release a free key", s.Release(ctx, "never-claimed"))

	_, err = s.GetRecord(ctx, "calls/acme/c1")
	wantErr(t, "missing record", err, store.ErrNotFound)
	wantErr(t, "record ttl 0", s.PutRecord(ctx, "calls/acme/c1", "5000000012345", 0), store.ErrInvalid)
	ok(t, "put record", s.PutRecord(ctx, "calls/acme/c1", "5000000012345", time.Hour))
	if got := must[string](t, "get record")(s.GetRecord(ctx, "calls/acme/c1")); got != "5000000012345" {
		t.Fatalf("record = %q", got)
	}
	ok(t, "replace record", s.PutRecord(ctx, "calls/acme/c1", "5000000099999", time.Hour))
	if got := must[string](t, "get record")(s.GetRecord(ctx, "calls/acme/c1")); got != "5000000099999" {
		t.Fatalf("record after replace = %q", got)
	}
	// Claims and records are separate: the same key in both is fine.
	if got := must[bool](t, "claim a record's key")(s.Claim(ctx, "calls/acme/c1", time.Hour)); !got {
		t.Fatal("a record blocked a claim of the same key")
	}
}

func testClaimRace(t *testing.T, open Open) {
	s, ctx := open(), ctxOf(t)
	wins := race(t, racers, func(int) error {
		got, err := s.Claim(ctx, "zoho/acme/log/c1", time.Hour)
		if err == nil && !got {
			return store.ErrConflict
		}
		return err
	})
	if wins != 1 {
		t.Fatalf("%d of %d racers claimed the key, want exactly 1", wins, racers)
	}
}

// testExpiry: lookups, claims, records and sessions expire after their
// TTL; longer ones are kept.
func testExpiry(t *testing.T, open Open) {
	s, ctx := open(), ctxOf(t)
	setupTenant(t, ctx, s, "acme")
	must[store.Account](t, "account")(s.CreateAccount(ctx, store.Account{Username: "op", PasswordHash: []byte("h"), Role: store.RoleOperator}))

	const short = time.Second
	ok(t, "put lookup", s.PutLookup(ctx, "acme", "+1", []byte("v"), short))
	ok(t, "put long lookup", s.PutLookup(ctx, "acme", "+2", []byte("v"), time.Hour))
	// Replacing a value replaces its TTL: +3 is first short, then long.
	ok(t, "put lookup short", s.PutLookup(ctx, "acme", "+3", []byte("v"), short))
	ok(t, "put lookup long", s.PutLookup(ctx, "acme", "+3", []byte("v2"), time.Hour))
	if got := must[bool](t, "claim")(s.Claim(ctx, "k", short)); !got {
		t.Fatal("claim refused")
	}
	ok(t, "put record", s.PutRecord(ctx, "r", "v", short))
	must[store.Session](t, "session")(s.CreateSession(ctx, store.Session{ID: "s1", Username: "op", ExpiresAt: time.Now().Add(short)}))
	must[store.Session](t, "long session")(s.CreateSession(ctx, store.Session{ID: "s2", Username: "op", ExpiresAt: time.Now().Add(time.Hour)}))

	// Still there right away.
	must[[]byte](t, "lookup before expiry")(s.GetLookup(ctx, "acme", "+1"))
	must[string](t, "record before expiry")(s.GetRecord(ctx, "r"))
	must[store.Session](t, "session before expiry")(s.Session(ctx, "s1"))

	gone := func(err error) bool {
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("while waiting for expiry: %v", err)
		}
		return errors.Is(err, store.ErrNotFound)
	}
	eventually(t, 5*time.Second, "lookup expires", func() bool { _, err := s.GetLookup(ctx, "acme", "+1"); return gone(err) })
	eventually(t, 5*time.Second, "record expires", func() bool { _, err := s.GetRecord(ctx, "r"); return gone(err) })
	eventually(t, 5*time.Second, "session expires", func() bool { _, err := s.Session(ctx, "s1"); return gone(err) })
	eventually(t, 5*time.Second, "claim expires", func() bool {
		got, err := s.Claim(ctx, "k", time.Hour)
		ok(t, "claim", err)
		return got
	})
	must[[]byte](t, "long lookup kept")(s.GetLookup(ctx, "acme", "+2"))
	if got := must[[]byte](t, "replaced lookup kept")(s.GetLookup(ctx, "acme", "+3")); string(got) != "v2" {
		t.Fatalf("replaced lookup = %q", got)
	}
	must[store.Session](t, "long session kept")(s.Session(ctx, "s2"))
	if got := must[bool](t, "claim held again")(s.Claim(ctx, "k", time.Hour)); got {
		t.Fatal("the re-taken claim was granted twice")
	}
}

// Accounts and sessions.

func testAccounts(t *testing.T, open Open) {
	s, ctx := open(), ctxOf(t)
	admin := store.Account{Username: "ana@acme", PasswordHash: []byte("$argon2id$..."), Role: store.RoleAdmin, Tenant: "acme"}
	_, err := s.CreateAccount(ctx, admin)
	wantErr(t, "admin of a missing tenant", err, store.ErrNotFound)
	setupTenant(t, ctx, s, "acme")
	setupTenant(t, ctx, s, "globex")
	for name, bad := range map[string]store.Account{
		"operator with tenant": {Username: "x", PasswordHash: []byte("h"), Role: store.RoleOperator, Tenant: "acme"},
		"admin without tenant": {Username: "x", PasswordHash: []byte("h"), Role: store.RoleAdmin},
		"no hash":              {Username: "x", Role: store.RoleOperator},
		"bad role":             {Username: "x", PasswordHash: []byte("h"), Role: "root"},
		"empty username":       {PasswordHash: []byte("h"), Role: store.RoleOperator},
	} {
		_, err := s.CreateAccount(ctx, bad)
		wantErr(t, name, err, store.ErrInvalid)
	}
	a := must[store.Account](t, "create admin")(s.CreateAccount(ctx, admin))
	op := must[store.Account](t, "create operator")(s.CreateAccount(ctx, store.Account{Username: "op", PasswordHash: []byte("h"), Role: store.RoleOperator}))
	must[store.Account](t, "create globex admin")(s.CreateAccount(ctx, store.Account{Username: "bob@globex", PasswordHash: []byte("h"), Role: store.RoleAdmin, Tenant: "globex"}))
	same(t, "get", must[store.Account](t, "get")(s.Account(ctx, "ana@acme")), a)
	_, err = s.CreateAccount(ctx, admin)
	wantErr(t, "duplicate", err, store.ErrConflict)
	_, err = s.Account(ctx, "nobody")
	wantErr(t, "get missing", err, store.ErrNotFound)

	names := func(as []store.Account) []string {
		var out []string
		for _, a := range as {
			out = append(out, a.Username)
		}
		return out
	}
	same(t, "list all", names(must[[]store.Account](t, "list")(s.ListAccounts(ctx, ""))), []string{"ana@acme", "bob@globex", "op"})
	same(t, "list acme", names(must[[]store.Account](t, "list acme")(s.ListAccounts(ctx, "acme"))), []string{"ana@acme"})

	changed := a
	changed.PasswordHash = []byte("new-hash")
	updated := must[store.Account](t, "update")(s.UpdateAccount(ctx, changed))
	if string(must[store.Account](t, "get")(s.Account(ctx, "ana@acme")).PasswordHash) != "new-hash" {
		t.Fatal("password hash not updated")
	}
	_, err = s.UpdateAccount(ctx, changed) // the version read before the update
	wantErr(t, "stale update", err, store.ErrConflict)
	same(t, "after stale update", must[store.Account](t, "get")(s.Account(ctx, "ana@acme")), updated)
	_, err = s.UpdateAccount(ctx, store.Account{Username: "nobody", PasswordHash: []byte("h"), Role: store.RoleOperator})
	wantErr(t, "update missing", err, store.ErrNotFound)

	must[store.Session](t, "session")(s.CreateSession(ctx, store.Session{ID: "h1", Username: "ana@acme", ExpiresAt: time.Now().Add(time.Hour)}))
	must[store.Session](t, "operator session")(s.CreateSession(ctx, store.Session{ID: "h2", Username: "op", ExpiresAt: time.Now().Add(time.Hour)}))
	ok(t, "delete", s.DeleteAccount(ctx, "ana@acme"))
	_, err = s.Account(ctx, "ana@acme")
	wantErr(t, "get deleted", err, store.ErrNotFound)
	_, err = s.Session(ctx, "h1")
	wantErr(t, "session of a deleted account", err, store.ErrNotFound)
	must[store.Session](t, "other account's session kept")(s.Session(ctx, "h2"))
	wantErr(t, "delete again", s.DeleteAccount(ctx, "ana@acme"), store.ErrNotFound)
	_ = op
}

func testSessions(t *testing.T, open Open) {
	s, ctx := open(), ctxOf(t)
	in := store.Session{ID: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", Username: "op", ExpiresAt: time.Now().Add(time.Hour)}
	_, err := s.CreateSession(ctx, in)
	wantErr(t, "session of a missing account", err, store.ErrNotFound)
	must[store.Account](t, "op")(s.CreateAccount(ctx, store.Account{Username: "op", PasswordHash: []byte("h"), Role: store.RoleOperator}))
	must[store.Account](t, "op2")(s.CreateAccount(ctx, store.Account{Username: "op2", PasswordHash: []byte("h"), Role: store.RoleOperator}))

	past := in
	past.ExpiresAt = time.Now().Add(-time.Second)
	_, err = s.CreateSession(ctx, past)
	wantErr(t, "already expired", err, store.ErrInvalid)

	created := must[store.Session](t, "create")(s.CreateSession(ctx, in))
	if created.CreatedAt.IsZero() || !created.ExpiresAt.Equal(in.ExpiresAt) {
		t.Fatalf("created %+v", created)
	}
	same(t, "get", must[store.Session](t, "get")(s.Session(ctx, in.ID)), created)
	_, err = s.CreateSession(ctx, in)
	wantErr(t, "duplicate id", err, store.ErrConflict)
	_, err = s.Session(ctx, "unknown")
	wantErr(t, "unknown", err, store.ErrNotFound)

	ok(t, "logout", s.DeleteSession(ctx, in.ID))
	_, err = s.Session(ctx, in.ID)
	wantErr(t, "after logout", err, store.ErrNotFound)
	ok(t, "logout again", s.DeleteSession(ctx, in.ID))

	for i := range 3 {
		must[store.Session](t, "create")(s.CreateSession(ctx, store.Session{ID: fmt.Sprintf("op-%d", i), Username: "op", ExpiresAt: time.Now().Add(time.Hour)}))
	}
	must[store.Session](t, "create op2")(s.CreateSession(ctx, store.Session{ID: "op2-0", Username: "op2", ExpiresAt: time.Now().Add(time.Hour)}))
	if n := must[int](t, "delete all")(s.DeleteSessions(ctx, "op")); n != 3 {
		t.Fatalf("deleted %d sessions, want 3", n)
	}
	for i := range 3 {
		_, err := s.Session(ctx, fmt.Sprintf("op-%d", i))
		wantErr(t, "session after delete all", err, store.ErrNotFound)
	}
	must[store.Session](t, "other account kept")(s.Session(ctx, "op2-0"))
	if n := must[int](t, "delete all again")(s.DeleteSessions(ctx, "op")); n != 0 {
		t.Fatalf("deleted %d sessions the second time, want 0", n)
	}
}

// Audit.

func audit(tenant, action, target string) store.AuditEntry {
	return store.AuditEntry{Actor: "ana@acme", Via: store.ViaPortal, Tenant: tenant, Action: action, Target: target, Detail: "detail of " + target}
}

// targets lists the entries' targets, in order.
func targets(es []store.AuditEntry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Target
	}
	return out
}

// listAllAudit reads every page of a view, newest first, checking the
// total on each.
func listAllAudit(t *testing.T, ctx context.Context, s store.Store, tenant string, limit, wantTotal int) []store.AuditEntry {
	t.Helper()
	var out []store.AuditEntry
	for off := 0; ; off += limit {
		page, total := must2[store.AuditEntry](t, "list audit of "+tenant)(s.ListAudit(ctx, tenant, store.Page{Offset: off, Limit: limit}))
		if total != wantTotal {
			t.Fatalf("audit of %q: total %d at offset %d, want %d", tenant, total, off, wantTotal)
		}
		if len(page) > limit {
			t.Fatalf("audit of %q: page of %d, limit %d", tenant, len(page), limit)
		}
		if len(page) == 0 {
			return out
		}
		out = append(out, page...)
	}
}

func testAudit(t *testing.T, open Open) {
	s, ctx := open(), ctxOf(t)
	if none, total := must2[store.AuditEntry](t, "empty log")(s.ListAudit(ctx, "", store.Page{})); len(none) != 0 || total != 0 {
		t.Fatalf("empty log lists %d of %d", len(none), total)
	}
	before := time.Now()
	in := []store.AuditEntry{
		{Actor: "cli:root", Via: store.ViaCLI, Action: "tenant.create", Target: "acme"},
		audit("acme", "user.link", "1001"),
		{Actor: "mallory", Via: store.ViaAPI, Tenant: "acme", Action: "login.failed", Target: "mallory", Error: "wrong password"},
		audit("globex", "user.link", "2001"),
		audit("acme", "user.unlink", "1002"),
	}
	var stored []store.AuditEntry
	for _, e := range in {
		got := must[store.AuditEntry](t, "append "+e.Action)(s.AppendAudit(ctx, e))
		if got.Time.Before(before.Add(-time.Second)) || got.Time.After(time.Now().Add(time.Second)) || got.Time.Location() != time.UTC {
			t.Fatalf("append set Time %v (%v), want now in UTC", got.Time, got.Time.Location())
		}
		want := e
		want.Time = got.Time
		same(t, "appended entry", got, want)
		stored = append(stored, got)
	}
	newest := func(idx ...int) []store.AuditEntry {
		var out []store.AuditEntry
		for _, i := range idx {
			out = append(out, stored[i])
		}
		return out
	}
	all, total := must2[store.AuditEntry](t, "list all")(s.ListAudit(ctx, "", store.Page{}))
	if total != 5 {
		t.Fatalf("all-tenants total %d, want 5", total)
	}
	same(t, "all tenants, newest first", all, newest(4, 3, 2, 1, 0))
	for _, e := range all {
		if e.Time.Location() != time.UTC {
			t.Fatalf("listed Time %v not in UTC", e.Time)
		}
	}
	acme, total := must2[store.AuditEntry](t, "list acme")(s.ListAudit(ctx, "acme", store.Page{}))
	if total != 3 {
		t.Fatalf("acme total %d, want 3", total)
	}
	same(t, "acme, newest first", acme, newest(4, 2, 1))
	globex, total := must2[store.AuditEntry](t, "list globex")(s.ListAudit(ctx, "globex", store.Page{}))
	if total != 1 {
		t.Fatalf("globex total %d, want 1", total)
	}
	same(t, "globex", globex, newest(3))
	if none, total := must2[store.AuditEntry](t, "unknown tenant")(s.ListAudit(ctx, "initech", store.Page{})); len(none) != 0 || total != 0 {
		t.Fatalf("unknown tenant lists %d of %d", len(none), total)
	}
	_, _, err := s.ListAudit(ctx, "acme", store.Page{Offset: -1})
	wantErr(t, "negative offset", err, store.ErrInvalid)
	_, _, err = s.ListAudit(ctx, "", store.Page{Limit: -1})
	wantErr(t, "negative limit", err, store.ErrInvalid)
}

func testAuditValidation(t *testing.T, open Open) {
	s, ctx := open(), ctxOf(t)
	for name, change := range map[string]func(*store.AuditEntry){
		"missing actor":    func(e *store.AuditEntry) { e.Actor = "" },
		"actor with space": func(e *store.AuditEntry) { e.Actor = "ana garcia" },
		"missing via":      func(e *store.AuditEntry) { e.Via = "" },
		"bad via":          func(e *store.AuditEntry) { e.Via = "telnet" },
		"bad tenant":       func(e *store.AuditEntry) { e.Tenant = "acme.example" },
		"missing action":   func(e *store.AuditEntry) { e.Action = "" },
		"bad action":       func(e *store.AuditEntry) { e.Action = "User-Link" },
		"long action":      func(e *store.AuditEntry) { e.Action = strings.Repeat("a", 65) },
		"oversized detail": func(e *store.AuditEntry) { e.Detail = strings.Repeat("x", store.MaxAuditDetail+1) },
		"oversized error":  func(e *store.AuditEntry) { e.Error = strings.Repeat("x", store.MaxAuditDetail+1) },
	} {
		e := audit("acme", "user.link", "1001")
		change(&e)
		_, err := s.AppendAudit(ctx, e)
		wantErr(t, "append with "+name, err, store.ErrInvalid)
	}
	for _, tenant := range []string{"", "acme"} {
		if got, total := must2[store.AuditEntry](t, "list")(s.ListAudit(ctx, tenant, store.Page{})); len(got) != 0 || total != 0 {
			t.Fatalf("invalid entries were stored (view %q): %+v", tenant, got)
		}
	}
	// At the bounds, it is stored.
	e := audit("acme", strings.Repeat("a", 64), "1001")
	e.Detail, e.Error = strings.Repeat("x", store.MaxAuditDetail), strings.Repeat("y", store.MaxAuditDetail)
	got := must[store.AuditEntry](t, "append at the bounds")(s.AppendAudit(ctx, e))
	list, _ := must2[store.AuditEntry](t, "list")(s.ListAudit(ctx, "acme", store.Page{}))
	same(t, "entry at the bounds", list, []store.AuditEntry{got})
}

func testAuditPaging(t *testing.T, open Open) {
	s, ctx := open(), ctxOf(t)
	var wantAll, wantAcme []string
	for i := range 40 {
		tenant := []string{"acme", "globex", "", "acme"}[i%4] // acme's entries scattered among the others
		target := fmt.Sprintf("t%02d", i)
		must[store.AuditEntry](t, "append")(s.AppendAudit(ctx, audit(tenant, "ext.update", target)))
		wantAll = append([]string{target}, wantAll...)
		if tenant == "acme" {
			wantAcme = append([]string{target}, wantAcme...)
		}
	}
	same(t, "all tenants in pages of 7", targets(listAllAudit(t, ctx, s, "", 7, 40)), wantAll)
	same(t, "acme in pages of 3", targets(listAllAudit(t, ctx, s, "acme", 3, 20)), wantAcme)
	same(t, "acme in pages of 1", targets(listAllAudit(t, ctx, s, "acme", 1, 20)), wantAcme)
	page, total := must2[store.AuditEntry](t, "acme middle page")(s.ListAudit(ctx, "acme", store.Page{Offset: 5, Limit: 4}))
	if total != 20 {
		t.Fatalf("total %d, want 20", total)
	}
	same(t, "acme [5,9)", targets(page), wantAcme[5:9])
	page, _ = must2[store.AuditEntry](t, "acme last page")(s.ListAudit(ctx, "acme", store.Page{Offset: 18, Limit: 10}))
	same(t, "acme last page", targets(page), wantAcme[18:])
	if none, total := must2[store.AuditEntry](t, "past the end")(s.ListAudit(ctx, "acme", store.Page{Offset: 20})); len(none) != 0 || total != 20 {
		t.Fatalf("past the end: %d entries, total %d", len(none), total)
	}
	if def, _ := must2[store.AuditEntry](t, "default limit")(s.ListAudit(ctx, "", store.Page{})); len(def) != 40 {
		t.Fatalf("default page has %d of 40", len(def))
	}
}

// testAuditOutlivesTenant: deleting a tenant keeps its audit entries.
func testAuditOutlivesTenant(t *testing.T, open Open) {
	s, ctx := open(), ctxOf(t)
	setupTenant(t, ctx, s, "acme", "1001")
	must[store.AuditEntry](t, "append")(s.AppendAudit(ctx, audit("acme", "user.link", "1001")))
	ok(t, "delete tenant", s.DeleteTenant(ctx, "acme"))
	must[store.AuditEntry](t, "append")(s.AppendAudit(ctx, audit("acme", "tenant.delete", "acme")))
	got, total := must2[store.AuditEntry](t, "list acme")(s.ListAudit(ctx, "acme", store.Page{}))
	if total != 2 {
		t.Fatalf("acme's audit after deleting it: %d entries, want 2", total)
	}
	same(t, "acme's audit after deleting it", targets(got), []string{"acme", "1001"})
	setupTenant(t, ctx, s, "acme")
	if _, total := must2[store.AuditEntry](t, "list acme")(s.ListAudit(ctx, "acme", store.Page{})); total != 2 {
		t.Fatalf("re-created acme lists %d entries, want the 2 of before", total)
	}
}

// testAuditConcurrent: parallel appends are all kept, and each writer's
// entries in the order it appended them.
func testAuditConcurrent(t *testing.T, open Open) {
	s, ctx := open(), ctxOf(t)
	const writers, each = 12, 10
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			tenant := []string{"acme", "globex", ""}[w%3]
			for i := range each {
				if _, err := s.AppendAudit(ctx, audit(tenant, "user.link", fmt.Sprintf("w%02d-%02d", w, i))); err != nil {
					t.Errorf("writer %d append %d: %v", w, i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	check := func(tenant string, want int) {
		t.Helper()
		got := targets(listAllAudit(t, ctx, s, tenant, 25, want))
		if len(got) != want {
			t.Fatalf("view %q lists %d entries, want %d", tenant, len(got), want)
		}
		last := map[string]int{} // writer → its last index seen, newest first
		seen := map[string]bool{}
		for _, tg := range got {
			if seen[tg] {
				t.Fatalf("view %q lists %s twice", tenant, tg)
			}
			seen[tg] = true
			w, i := tg[:3], 0
			_, _ = fmt.Sscanf(tg[4:], "%d", &i)
			if prev, ok := last[w]; ok && i != prev-1 {
				t.Fatalf("view %q: writer %s's entry %d after %d, want its entries newest first", tenant, w, i, prev)
			}
			last[w] = i
		}
	}
	check("", writers*each)
	check("acme", writers/3*each)
	check("globex", writers/3*each)
}

// testAuditRetention: each view keeps its newest AuditKeep entries. A busy
// tenant overflowing pushes the others out of the all-tenants view, not
// out of their own.
func testAuditRetention(t *testing.T, open Open) {
	s, ctx := open(), ctxOf(t)
	for i := range 3 {
		must[store.AuditEntry](t, "append globex")(s.AppendAudit(ctx, audit("globex", "user.link", fmt.Sprintf("globex-%d", i))))
	}
	must[store.AuditEntry](t, "append operator-level")(s.AppendAudit(ctx, store.AuditEntry{Actor: "cli:root", Via: store.ViaCLI, Action: "tenant.create", Target: "acme"}))
	// acme fills its log (in parallel: the order among these is not checked),
	// then appends a few more, one after the other.
	const workers = 16
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < store.AuditKeep; i += workers {
				if _, err := s.AppendAudit(ctx, audit("acme", "ext.update", fmt.Sprintf("fill-%05d", i))); err != nil {
					t.Errorf("fill %d: %v", i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	const extra = 5
	var last []string
	for i := range extra {
		must[store.AuditEntry](t, "append last")(s.AppendAudit(ctx, audit("acme", "user.link", fmt.Sprintf("last-%d", i))))
		last = append([]string{fmt.Sprintf("last-%d", i)}, last...)
	}

	acme := targets(listAllAudit(t, ctx, s, "acme", store.MaxLimit, store.AuditKeep))
	if len(acme) != store.AuditKeep {
		t.Fatalf("acme lists %d entries, want %d", len(acme), store.AuditKeep)
	}
	same(t, "acme's newest", acme[:extra], last)
	fills := map[string]bool{}
	for _, tg := range acme[extra:] {
		if !strings.HasPrefix(tg, "fill-") || fills[tg] {
			t.Fatalf("acme lists %s among its fill entries", tg)
		}
		fills[tg] = true
	}
	// The all-tenants view holds the newest AuditKeep: acme's alone.
	same(t, "all tenants = acme's", targets(listAllAudit(t, ctx, s, "", store.MaxLimit, store.AuditKeep)), acme)
	// globex keeps its own.
	same(t, "globex", targets(listAllAudit(t, ctx, s, "globex", 10, 3)), []string{"globex-2", "globex-1", "globex-0"})
	// The oldest kept page and past it.
	page, total := must2[store.AuditEntry](t, "oldest page")(s.ListAudit(ctx, "acme", store.Page{Offset: store.AuditKeep - 2, Limit: 10}))
	if total != store.AuditKeep || len(page) != 2 {
		t.Fatalf("page at %d: %d entries of %d, want 2 of %d", store.AuditKeep-2, len(page), total, store.AuditKeep)
	}
	same(t, "oldest page", targets(page), acme[store.AuditKeep-2:])
	if none, _ := must2[store.AuditEntry](t, "past the end")(s.ListAudit(ctx, "", store.Page{Offset: store.AuditKeep})); len(none) != 0 {
		t.Fatalf("all-tenants view lists %d entries past AuditKeep", len(none))
	}
}

// Webhooks.

func webhook(tenant, id string, events ...string) store.Webhook {
	return store.Webhook{Tenant: tenant, ID: id, URL: "https://crm.example/hooks/" + tenant + "?sub=" + id,
		Events: events, Secret: "whsec_" + id + "-0123456789abcdef", State: store.WebhookPending}
}

func hookIDs(ws []store.Webhook) []string {
	out := make([]string, len(ws))
	for i, w := range ws {
		out[i] = w.Tenant + "/" + w.ID
	}
	return out
}

func testWebhooks(t *testing.T, open Open) {
	s, ctx := open(), ctxOf(t)
	_, err := s.CreateWebhook(ctx, webhook("acme", "wh_1"))
	wantErr(t, "create for a missing tenant", err, store.ErrNotFound)
	setupTenant(t, ctx, s, "acme")
	setupTenant(t, ctx, s, "acme-b") // sorts between "acme" and "acme.": ids must not leak across
	setupTenant(t, ctx, s, "globex")

	in := webhook("acme", "wh_2", "ended", "ringing")
	created := must[store.Webhook](t, "create")(s.CreateWebhook(ctx, in))
	if created.Version == 0 || created.CreatedAt.IsZero() || !created.UpdatedAt.Equal(created.CreatedAt) || created.CreatedAt.Location() != time.UTC {
		t.Fatalf("create did not stamp version and UTC times: %+v", created)
	}
	want := in
	want.Version, want.CreatedAt, want.UpdatedAt = created.Version, created.CreatedAt, created.UpdatedAt
	same(t, "created", created, want)
	same(t, "get after create", must[store.Webhook](t, "get")(s.Webhook(ctx, "acme", "wh_2")), created)
	_, err = s.CreateWebhook(ctx, webhook("acme", "wh_2"))
	wantErr(t, "create duplicate", err, store.ErrConflict)
	_, err = s.Webhook(ctx, "acme", "nobody")
	wantErr(t, "get missing", err, store.ErrNotFound)
	_, err = s.Webhook(ctx, "globex", "wh_2")
	wantErr(t, "get from another tenant", err, store.ErrNotFound)

	for _, w := range []store.Webhook{webhook("acme", "wh_1"), webhook("acme-b", "wh_1"), webhook("globex", "a"), webhook("acme", "wh_3")} {
		must[store.Webhook](t, "create "+w.ID)(s.CreateWebhook(ctx, w))
	}
	same(t, "acme's", hookIDs(must[[]store.Webhook](t, "list acme")(s.ListWebhooks(ctx, "acme"))), []string{"acme/wh_1", "acme/wh_2", "acme/wh_3"})
	same(t, "acme-b's", hookIDs(must[[]store.Webhook](t, "list acme-b")(s.ListWebhooks(ctx, "acme-b"))), []string{"acme-b/wh_1"})
	same(t, "everyone's", hookIDs(must[[]store.Webhook](t, "list all")(s.ListWebhooks(ctx, ""))),
		[]string{"acme/wh_1", "acme/wh_2", "acme/wh_3", "acme-b/wh_1", "globex/a"})
	if none := must[[]store.Webhook](t, "list initech")(s.ListWebhooks(ctx, "initech")); len(none) != 0 {
		t.Fatalf("unknown tenant lists %d webhooks", len(none))
	}
	listed := must[[]store.Webhook](t, "list acme")(s.ListWebhooks(ctx, "acme"))
	same(t, "listed as stored", listed[1], created)

	// Update with the version read: applied, new version, CreatedAt kept.
	upd := created
	upd.State, upd.Failures, upd.Reason = store.WebhookDisabled, 7, "7 consecutive failures: 503 Service Unavailable"
	upd.RetryAt = time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)
	updated := must[store.Webhook](t, "update")(s.UpdateWebhook(ctx, upd))
	if updated.Version == created.Version || !updated.CreatedAt.Equal(created.CreatedAt) || updated.UpdatedAt.Before(created.UpdatedAt) {
		t.Fatalf("update: version %d→%d, created %s→%s", created.Version, updated.Version, created.CreatedAt, updated.CreatedAt)
	}
	same(t, "get after update", must[store.Webhook](t, "get")(s.Webhook(ctx, "acme", "wh_2")), updated)
	stale := created
	stale.URL = "https://stale.example/"
	_, err = s.UpdateWebhook(ctx, stale)
	wantErr(t, "stale update", err, store.ErrConflict)
	same(t, "after stale update", must[store.Webhook](t, "get")(s.Webhook(ctx, "acme", "wh_2")), updated)
	_, err = s.UpdateWebhook(ctx, webhook("acme", "nobody"))
	wantErr(t, "update missing", err, store.ErrNotFound)

	ok(t, "delete", s.DeleteWebhook(ctx, "acme", "wh_2"))
	_, err = s.Webhook(ctx, "acme", "wh_2")
	wantErr(t, "get deleted", err, store.ErrNotFound)
	wantErr(t, "delete again", s.DeleteWebhook(ctx, "acme", "wh_2"), store.ErrNotFound)
	same(t, "acme's after delete", hookIDs(must[[]store.Webhook](t, "list acme")(s.ListWebhooks(ctx, "acme"))), []string{"acme/wh_1", "acme/wh_3"})
	// The id is free again.
	again := must[store.Webhook](t, "create again")(s.CreateWebhook(ctx, webhook("acme", "wh_2")))
	if again.State != store.WebhookPending || again.Failures != 0 {
		t.Fatalf("re-created subscription kept old state: %+v", again)
	}
}

func testWebhookValidation(t *testing.T, open Open) {
	s, ctx := open(), ctxOf(t)
	setupTenant(t, ctx, s, "acme")
	for name, change := range map[string]func(*store.Webhook){
		"bad id":        func(w *store.Webhook) { w.ID = "wh.1" },
		"bad tenant":    func(w *store.Webhook) { w.Tenant = "a b" },
		"relative url":  func(w *store.Webhook) { w.URL = "/hooks" },
		"user in url":   func(w *store.Webhook) { w.URL = "https://u:p@crm.example/" },
		"unknown event": func(w *store.Webhook) { w.Events = []string{"hangup"} },
		"short secret":  func(w *store.Webhook) { w.Secret = "short" },
		"bad state":     func(w *store.Webhook) { w.State = "paused" },
	} {
		w := webhook("acme", "wh_1")
		change(&w)
		_, err := s.CreateWebhook(ctx, w)
		wantErr(t, "create with "+name, err, store.ErrInvalid)
	}
	if got := must[[]store.Webhook](t, "list")(s.ListWebhooks(ctx, "")); len(got) != 0 {
		t.Fatalf("invalid webhooks were stored: %+v", got)
	}
	created := must[store.Webhook](t, "create")(s.CreateWebhook(ctx, webhook("acme", "wh_1")))
	bad := created
	bad.State = "paused"
	_, err := s.UpdateWebhook(ctx, bad)
	wantErr(t, "update with a bad state", err, store.ErrInvalid)
	same(t, "after the invalid update", must[store.Webhook](t, "get")(s.Webhook(ctx, "acme", "wh_1")), created)
}

// testWebhookConcurrentModify: ModifyWebhook loses no update when writers
// race (the delivery workers counting failures).
func testWebhookConcurrentModify(t *testing.T, open Open) {
	s, ctx := open(), ctxOf(t)
	setupTenant(t, ctx, s, "acme")
	must[store.Webhook](t, "create")(s.CreateWebhook(ctx, webhook("acme", "wh_1")))
	const n = 6
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if _, err := store.ModifyWebhook(ctx, s, "acme", "wh_1", func(w *store.Webhook) error {
				w.Failures++
				return nil
			}); err != nil {
				t.Errorf("modify %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	if got := must[store.Webhook](t, "get")(s.Webhook(ctx, "acme", "wh_1")); got.Failures != n {
		t.Fatalf("failures %d: %d concurrent increments", got.Failures, n)
	}
	_, err := store.ModifyWebhook(ctx, s, "acme", "nobody", func(*store.Webhook) error { return nil })
	wantErr(t, "modify missing", err, store.ErrNotFound)
}

func delivery(tenant, hook, event string, attempt int) store.Delivery {
	return store.Delivery{Time: time.Now(), Tenant: tenant, Webhook: hook, EventID: event, EventType: "call.ended",
		Attempt: attempt, Result: store.DeliveryOK, Status: 204, Duration: 3 * time.Millisecond}
}

// eventIDs lists the deliveries' event ids, in order.
func eventIDs(ds []store.Delivery) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.EventID
	}
	return out
}

// listAllDeliveries reads every page of a log, newest first, checking the
// total on each.
func listAllDeliveries(t *testing.T, ctx context.Context, s store.Store, tenant, id string, limit, wantTotal int) []store.Delivery {
	t.Helper()
	var out []store.Delivery
	for off := 0; ; off += limit {
		page, total := must2[store.Delivery](t, "list deliveries")(s.ListDeliveries(ctx, tenant, id, store.Page{Offset: off, Limit: limit}))
		if total != wantTotal {
			t.Fatalf("deliveries of %s/%s: total %d at offset %d, want %d", tenant, id, total, off, wantTotal)
		}
		if len(page) == 0 {
			return out
		}
		out = append(out, page...)
	}
}

// testWebhookTenantDelete: deleting a tenant deletes its subscriptions and
// their logs, and nothing of another tenant.
func testWebhookTenantDelete(t *testing.T, open Open) {
	s, ctx := open(), ctxOf(t)
	for _, ten := range []string{"acme", "globex"} {
		setupTenant(t, ctx, s, ten)
		for _, id := range []string{"wh_1", "wh_2"} {
			must[store.Webhook](t, "create")(s.CreateWebhook(ctx, webhook(ten, id)))
			must[store.Delivery](t, "append")(s.AppendDelivery(ctx, delivery(ten, id, "evt_1", 1)))
		}
	}
	ok(t, "delete acme", s.DeleteTenant(ctx, "acme"))
	setupTenant(t, ctx, s, "acme")
	if got := must[[]store.Webhook](t, "list acme")(s.ListWebhooks(ctx, "acme")); len(got) != 0 {
		t.Fatalf("webhooks survived their tenant: %v", hookIDs(got))
	}
	if got, total := must2[store.Delivery](t, "list")(s.ListDeliveries(ctx, "acme", "wh_1", store.Page{})); len(got) != 0 || total != 0 {
		t.Fatalf("a delivery log survived its tenant: %d entries", total)
	}
	// A subscription created again with the id starts with an empty log.
	must[store.Webhook](t, "create again")(s.CreateWebhook(ctx, webhook("acme", "wh_2")))
	if _, total := must2[store.Delivery](t, "list")(s.ListDeliveries(ctx, "acme", "wh_2", store.Page{})); total != 0 {
		t.Fatalf("the re-created subscription has %d old deliveries", total)
	}
	same(t, "globex untouched", hookIDs(must[[]store.Webhook](t, "list")(s.ListWebhooks(ctx, "globex"))), []string{"globex/wh_1", "globex/wh_2"})
	if _, total := must2[store.Delivery](t, "list")(s.ListDeliveries(ctx, "globex", "wh_2", store.Page{})); total != 1 {
		t.Fatalf("globex's log has %d deliveries, want 1", total)
	}
}

func testDeliveries(t *testing.T, open Open) {
	s, ctx := open(), ctxOf(t)
	setupTenant(t, ctx, s, "acme")
	must[store.Webhook](t, "create")(s.CreateWebhook(ctx, webhook("acme", "wh_1")))
	must[store.Webhook](t, "create")(s.CreateWebhook(ctx, webhook("acme", "wh_2")))
	if none, total := must2[store.Delivery](t, "empty log")(s.ListDeliveries(ctx, "acme", "wh_1", store.Page{})); len(none) != 0 || total != 0 {
		t.Fatalf("empty log lists %d of %d", len(none), total)
	}
	local := time.Date(2026, 3, 14, 10, 30, 0, 123456789, time.FixedZone("CET", 3600))
	first := delivery("acme", "wh_1", "evt_a", 1)
	first.Time, first.Result, first.Status, first.Error = local, store.DeliveryHTTPError, 503, "503 Service Unavailable"
	got := must[store.Delivery](t, "append")(s.AppendDelivery(ctx, first))
	if got.Time.Location() != time.UTC || !got.Time.Equal(local) {
		t.Fatalf("appended time %v, want %v in UTC", got.Time, local)
	}
	var want []store.Delivery
	want = append(want, got)
	for i := range 24 {
		d := must[store.Delivery](t, "append")(s.AppendDelivery(ctx, delivery("acme", "wh_1", fmt.Sprintf("evt_%02d", i), 1+i%3)))
		want = append([]store.Delivery{d}, want...)
		must[store.Delivery](t, "append other")(s.AppendDelivery(ctx, delivery("acme", "wh_2", fmt.Sprintf("other_%02d", i), 1)))
	}
	all := listAllDeliveries(t, ctx, s, "acme", "wh_1", 7, 25)
	same(t, "wh_1's log, newest first", all, want)
	if last := all[len(all)-1]; last.Time.Location() != time.UTC || last.Status != 503 || last.Error == "" {
		t.Fatalf("oldest entry %+v, want the failure in UTC", last)
	}
	if others := eventIDs(listAllDeliveries(t, ctx, s, "acme", "wh_2", 50, 24)); others[0] != "other_23" || others[23] != "other_00" {
		t.Fatalf("wh_2's log: %v", others)
	}
	page, total := must2[store.Delivery](t, "middle page")(s.ListDeliveries(ctx, "acme", "wh_1", store.Page{Offset: 5, Limit: 4}))
	if total != 25 {
		t.Fatalf("total %d, want 25", total)
	}
	same(t, "[5,9)", eventIDs(page), eventIDs(want[5:9]))
	if none, total := must2[store.Delivery](t, "past the end")(s.ListDeliveries(ctx, "acme", "wh_1", store.Page{Offset: 25})); len(none) != 0 || total != 25 {
		t.Fatalf("past the end: %d entries, total %d", len(none), total)
	}
	for _, unknown := range [][2]string{{"acme", "nobody"}, {"initech", "wh_1"}, {"acme", "a b"}} {
		if none, total := must2[store.Delivery](t, "unknown")(s.ListDeliveries(ctx, unknown[0], unknown[1], store.Page{})); len(none) != 0 || total != 0 {
			t.Fatalf("unknown subscription %v lists %d of %d", unknown, len(none), total)
		}
	}
	_, _, err := s.ListDeliveries(ctx, "acme", "wh_1", store.Page{Offset: -1})
	wantErr(t, "negative offset", err, store.ErrInvalid)

	for name, change := range map[string]func(*store.Delivery){
		"no time":    func(d *store.Delivery) { d.Time = time.Time{} },
		"bad result": func(d *store.Delivery) { d.Result = "maybe" },
		"attempt 0":  func(d *store.Delivery) { d.Attempt = 0 },
		"bad hook":   func(d *store.Delivery) { d.Webhook = "wh.1" },
		"long error": func(d *store.Delivery) { d.Error = strings.Repeat("e", store.MaxAuditDetail+1) },
	} {
		d := delivery("acme", "wh_1", "evt_bad", 1)
		change(&d)
		_, err := s.AppendDelivery(ctx, d)
		wantErr(t, "append with "+name, err, store.ErrInvalid)
	}
	if _, total := must2[store.Delivery](t, "list")(s.ListDeliveries(ctx, "acme", "wh_1", store.Page{})); total != 25 {
		t.Fatalf("invalid deliveries were stored: total %d", total)
	}

	// Deleting the subscription deletes its log; the other's stays.
	ok(t, "delete wh_1", s.DeleteWebhook(ctx, "acme", "wh_1"))
	if _, total := must2[store.Delivery](t, "list")(s.ListDeliveries(ctx, "acme", "wh_1", store.Page{})); total != 0 {
		t.Fatalf("the deleted subscription's log has %d entries", total)
	}
	if _, total := must2[store.Delivery](t, "list")(s.ListDeliveries(ctx, "acme", "wh_2", store.Page{})); total != 24 {
		t.Fatalf("the other subscription's log has %d entries, want 24", total)
	}
}

// testDeliveryRetention: a log keeps its newest DeliveryKeep attempts.
func testDeliveryRetention(t *testing.T, open Open) {
	s, ctx := open(), ctxOf(t)
	setupTenant(t, ctx, s, "acme")
	must[store.Webhook](t, "create")(s.CreateWebhook(ctx, webhook("acme", "wh_1")))
	const extra = 5
	const workers = 8
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < store.DeliveryKeep+extra; i += workers {
				if _, err := s.AppendDelivery(ctx, delivery("acme", "wh_1", fmt.Sprintf("fill_%05d", i), 1)); err != nil {
					t.Errorf("append %d: %v", i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	var last []string
	for i := range extra {
		must[store.Delivery](t, "append last")(s.AppendDelivery(ctx, delivery("acme", "wh_1", fmt.Sprintf("last_%d", i), 1)))
		last = append([]string{fmt.Sprintf("last_%d", i)}, last...)
	}
	got := eventIDs(listAllDeliveries(t, ctx, s, "acme", "wh_1", store.MaxLimit, store.DeliveryKeep))
	if len(got) != store.DeliveryKeep {
		t.Fatalf("log lists %d attempts, want %d", len(got), store.DeliveryKeep)
	}
	same(t, "newest", got[:extra], last)
	seen := map[string]bool{}
	for _, id := range got[extra:] {
		if !strings.HasPrefix(id, "fill_") || seen[id] {
			t.Fatalf("log lists %s among the fill entries", id)
		}
		seen[id] = true
	}
}

// testPersistence: everything but what expired survives a restart.
func testPersistence(t *testing.T, open Open) {
	s, ctx := open(), ctxOf(t)
	ten := tenant("acme")
	ten.Zoho = store.ZohoConnection{Status: store.Connected, AccountsURL: "https://accounts.zoho.in", APIDomain: "https://www.zohoapis.in", Location: "in", RefreshToken: []byte("sealed")}
	tn := must[store.Tenant](t, "tenant")(s.CreateTenant(ctx, ten))
	ext := must[store.Extension](t, "extension")(s.UpsertExtension(ctx, store.Extension{Tenant: "acme", Number: "1001", Name: "Ana", Device: "PJSIP/1001"}))
	must[store.Extension](t, "extension 2")(s.UpsertExtension(ctx, store.Extension{Tenant: "acme", Number: "1002"}))
	must[store.Link](t, "link")(s.Link(ctx, link("acme", "1001", "zu1")))
	l := must[store.Link](t, "switches")(s.SetSwitches(ctx, "acme", "1001", store.SwitchChange{ClickToCall: store.On}))
	term := must[store.Terminal](t, "terminal")(s.SetTerminal(ctx, store.Terminal{Tenant: "acme", Extension: "1001", Kind: store.Mobile, Mobile: "+491701234567"}))
	acct := must[store.Account](t, "account")(s.CreateAccount(ctx, store.Account{Username: "ana", PasswordHash: []byte("h"), Role: store.RoleAdmin, Tenant: "acme"}))
	ses := must[store.Session](t, "session")(s.CreateSession(ctx, store.Session{ID: "h1", Username: "ana", ExpiresAt: time.Now().Add(time.Hour)}))
	ok(t, "lookup", s.PutLookup(ctx, "acme", "+4930123456", []byte("hit"), time.Hour))
	ok(t, "record", s.PutRecord(ctx, "calls/c1", "42", time.Hour))
	if got := must[bool](t, "claim")(s.Claim(ctx, "claims/c1", time.Hour)); !got {
		t.Fatal("claim refused")
	}
	ae := must[store.AuditEntry](t, "audit")(s.AppendAudit(ctx, audit("acme", "user.link", "1001")))
	wh := must[store.Webhook](t, "webhook")(s.CreateWebhook(ctx, webhook("acme", "wh_1", "ended")))
	dl := must[store.Delivery](t, "delivery")(s.AppendDelivery(ctx, delivery("acme", "wh_1", "evt_1", 1)))

	s = open()
	same(t, "tenant", must[store.Tenant](t, "tenant")(s.Tenant(ctx, "acme")), tn)
	same(t, "extension", must[store.Extension](t, "extension")(s.Extension(ctx, "acme", "1001")), ext)
	if _, total := must2[store.Extension](t, "list extensions")(s.ListExtensions(ctx, "acme", store.Page{})); total != 2 {
		t.Fatalf("%d extensions after restart, want 2", total)
	}
	same(t, "link by extension", must[store.Link](t, "link")(s.LinkByExtension(ctx, "acme", "1001")), l)
	same(t, "link by Zoho user", must[store.Link](t, "link")(s.LinkByZohoUser(ctx, "acme", "zu1")), l)
	same(t, "terminal", must[store.Terminal](t, "terminal")(s.Terminal(ctx, "acme", "1001")), term)
	same(t, "account", must[store.Account](t, "account")(s.Account(ctx, "ana")), acct)
	same(t, "session", must[store.Session](t, "session")(s.Session(ctx, "h1")), ses)
	if got := must[[]byte](t, "lookup")(s.GetLookup(ctx, "acme", "+4930123456")); string(got) != "hit" {
		t.Fatalf("lookup = %q", got)
	}
	if got := must[string](t, "record")(s.GetRecord(ctx, "calls/c1")); got != "42" {
		t.Fatalf("record = %q", got)
	}
	if got := must[bool](t, "claim")(s.Claim(ctx, "claims/c1", time.Hour)); got {
		t.Fatal("a claim was lost in the restart")
	}
	for _, view := range []string{"", "acme"} {
		got, _ := must2[store.AuditEntry](t, "audit")(s.ListAudit(ctx, view, store.Page{}))
		same(t, "audit after restart", got, []store.AuditEntry{ae})
	}
	same(t, "webhook", must[store.Webhook](t, "webhook")(s.Webhook(ctx, "acme", "wh_1")), wh)
	got, _ := must2[store.Delivery](t, "deliveries")(s.ListDeliveries(ctx, "acme", "wh_1", store.Page{}))
	same(t, "deliveries after restart", got, []store.Delivery{dl})
	// Uniqueness still holds after the restart.
	_, err := s.Link(ctx, link("acme", "1002", "zu1"))
	wantErr(t, "link a linked Zoho user after restart", err, store.ErrConflict)
	// And the store keeps working.
	must[store.Link](t, "unlink after restart")(s.Unlink(ctx, "acme", "1001"))
}
