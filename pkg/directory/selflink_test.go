package directory

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ringside/ringside/pkg/store"
)

// linkStore keeps what a self-service link touches in memory: tenants,
// extensions, links, records, claims and the audit log; the rest of
// store.Store is not used by these tests (a call panics).
type linkStore struct {
	store.Store
	mu      sync.Mutex
	tenants map[string]store.Tenant
	exts    map[string]bool // tenant/number
	links   map[string]store.Link
	records map[string]string
	claims  map[string]bool
	audit   []store.AuditEntry
}

func newLinkStore() *linkStore {
	return &linkStore{tenants: map[string]store.Tenant{}, exts: map[string]bool{}, links: map[string]store.Link{},
		records: map[string]string{}, claims: map[string]bool{}}
}

func (m *linkStore) Tenant(_ context.Context, id string) (store.Tenant, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.tenants[id]
	if !ok {
		return t, store.ErrNotFound
	}
	return t, nil
}

func (m *linkStore) Extension(_ context.Context, tenant, number string) (store.Extension, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.exts[tenant+"/"+number] {
		return store.Extension{}, store.ErrNotFound
	}
	return store.Extension{Tenant: tenant, Number: number}, nil
}

func (m *linkStore) Link(_ context.Context, l store.Link) (store.Link, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, o := range m.links {
		if o.Tenant == l.Tenant && (o.Extension == l.Extension || o.ZohoUser == l.ZohoUser) {
			return store.Link{}, store.ErrConflict
		}
	}
	l.LinkedAt = time.Now()
	m.links[l.Tenant+"/"+l.Extension] = l
	return l, nil
}

func (m *linkStore) Unlink(_ context.Context, tenant, ext string) (store.Link, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	l, ok := m.links[tenant+"/"+ext]
	if !ok {
		return l, store.ErrNotFound
	}
	delete(m.links, tenant+"/"+ext)
	return l, nil
}

func (m *linkStore) LinkByExtension(_ context.Context, tenant, ext string) (store.Link, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	l, ok := m.links[tenant+"/"+ext]
	if !ok {
		return l, store.ErrNotFound
	}
	return l, nil
}

func (m *linkStore) PutRecord(_ context.Context, key, value string, ttl time.Duration) error {
	if ttl <= 0 {
		return store.ErrInvalid
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.records[key] = value
	return nil
}

func (m *linkStore) GetRecord(_ context.Context, key string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.records[key]
	if !ok {
		return "", store.ErrNotFound
	}
	return v, nil
}

func (m *linkStore) Claim(_ context.Context, key string, _ time.Duration) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.claims[key] {
		return false, nil
	}
	m.claims[key] = true
	return true, nil
}

func (m *linkStore) Release(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.claims, key)
	return nil
}

func (m *linkStore) AppendAudit(_ context.Context, e store.AuditEntry) (store.AuditEntry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.audit = append(m.audit, e)
	return e, nil
}

func (m *linkStore) entries(action string) []store.AuditEntry {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []store.AuditEntry
	for _, e := range m.audit {
		if e.Action == action {
			out = append(out, e)
		}
	}
	return out
}

// orgZoho is an org of three users; Register fails for a chosen user.
type orgZoho struct {
	mu         sync.Mutex
	registered []string
	refuse     string
}

func (z *orgZoho) Users(context.Context, string) ([]ZohoUser, error) {
	return []ZohoUser{{ID: "pb-1", CRMUserID: "9001", Email: "ana@acme.example", Name: "Ana"},
		{ID: "pb-2", CRMUserID: "9002", Email: "ben@acme.example", Name: "Ben"},
		{ID: "pb-3", CRMUserID: "9003", Email: "cleo@acme.example", Name: "Cleo"}}, nil
}

func (z *orgZoho) Register(_ context.Context, _ string, r Registration) error {
	z.mu.Lock()
	defer z.mu.Unlock()
	if r.ZohoUser == z.refuse {
		return errors.New("INVALID_USER")
	}
	z.registered = append(z.registered, r.ZohoUser)
	return nil
}

func (z *orgZoho) Unregister(context.Context, string, string) error { return nil }

// scriptedIdentifier answers polls with the outcomes queued for it.
type scriptedIdentifier struct {
	mu      sync.Mutex
	started int
	polls   int
	answers []func() (Identity, error)
	expires time.Time
}

func (f *scriptedIdentifier) StartIdentify(_ context.Context, tenant string) (DevicePrompt, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.started++
	return DevicePrompt{UserCode: "ABC-" + strings.Repeat("1", f.started), VerificationURL: "https://accounts.zoho.eu/oauth/v3/device",
		ExpiresAt: f.expires, Interval: 5 * time.Second}, "handle-" + tenant, nil
}

func (f *scriptedIdentifier) PollIdentify(_ context.Context, _, handle string) (Identity, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.polls++
	if len(f.answers) == 0 {
		return Identity{}, handle + "+", ErrPending
	}
	next := f.answers[0]
	f.answers = f.answers[1:]
	id, err := next()
	return id, handle + "+", err
}

func pending() (Identity, error) { return Identity{}, ErrPending }

func approvedBy(crm, email, name string) func() (Identity, error) {
	return func() (Identity, error) { return Identity{CRMUserID: crm, Email: email, Name: name}, nil }
}

func failWith(err error) func() (Identity, error) {
	return func() (Identity, error) { return Identity{}, err }
}

type selfLinkWorld struct {
	st    *linkStore
	zoho  *orgZoho
	id    *scriptedIdentifier
	links *SelfLinks
	now   time.Time
}

func newSelfLinkWorld(t *testing.T, mode store.ZohoMode) *selfLinkWorld {
	t.Helper()
	w := &selfLinkWorld{st: newLinkStore(), zoho: &orgZoho{}, now: time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)}
	w.id = &scriptedIdentifier{expires: w.now.Add(5 * time.Minute)}
	w.st.tenants["acme"] = store.Tenant{ID: "acme", Settings: store.Settings{Mode: mode}, Zoho: store.ZohoConnection{Status: store.Connected}}
	w.st.tenants["globex"] = store.Tenant{ID: "globex"}
	for _, e := range []string{"acme/1001", "acme/1002", "globex/2001"} {
		w.st.exts[e] = true
	}
	s, err := New(Options{Store: w.st, Zoho: w.zoho, NewSecret: func() string { return "s3cret" },
		URLs: func(string) (string, map[string]string) { return "https://pbx.example/c2d", nil },
		Now:  func() time.Time { return w.now }})
	if err != nil {
		t.Fatal(err)
	}
	w.links = s.SelfLinks(w.id)
	return w
}

var selfLinkAdmin = Actor{Username: "adam", Role: store.RoleAdmin, Tenant: "acme", Via: ViaPortal}

func TestSelfLinkApprovedLinksWhoApproved(t *testing.T) {
	ctx := context.Background()
	w := newSelfLinkWorld(t, store.ModePhoneBridge)
	w.id.answers = []func() (Identity, error){pending, approvedBy("9002", "Ben@acme.example", "Ben")}
	sl, err := w.links.StartSelfLink(ctx, selfLinkAdmin, "acme", "1001")
	if err != nil {
		t.Fatal(err)
	}
	if sl.State != SelfLinkPending || sl.Prompt.UserCode != "ABC-1" || sl.StartedBy != "adam" {
		t.Fatalf("started %+v", sl)
	}
	if sl, err = w.links.PollSelfLink(ctx, selfLinkAdmin, "acme", "1001"); err != nil || sl.State != SelfLinkPending {
		t.Fatalf("first poll: %+v %v", sl, err)
	}
	if sl, err = w.links.PollSelfLink(ctx, selfLinkAdmin, "acme", "1001"); err != nil || sl.State != SelfLinkLinked || sl.Email != "ben@acme.example" {
		t.Fatalf("after approval: %+v %v", sl, err)
	}
	l, err := w.st.LinkByExtension(ctx, "acme", "1001")
	if err != nil || l.ZohoUser != "pb-2" || l.CRMUser != "9002" || !l.Switches.Notifications || !l.Switches.ClickToCall {
		t.Fatalf("link %+v %v", l, err)
	}
	if len(w.zoho.registered) != 1 || w.zoho.registered[0] != "pb-2" {
		t.Errorf("registered at Zoho: %v", w.zoho.registered)
	}
	links := w.st.entries("user.link")
	if len(links) != 1 || links[0].Actor != "adam" || links[0].Error != "" ||
		!strings.Contains(links[0].Detail, "self-service link by device code ABC-1") || !strings.Contains(links[0].Detail, "Ben <Ben@acme.example>") {
		t.Errorf("audit of the link: %+v", links)
	}
	if len(w.st.entries("user.selflink.start")) != 1 {
		t.Error("the start is not audited")
	}
	// An ended flow answers as it ended, without asking Zoho again.
	polls := w.id.polls
	if sl, err = w.links.PollSelfLink(ctx, selfLinkAdmin, "acme", "1001"); err != nil || sl.State != SelfLinkLinked || w.id.polls != polls {
		t.Errorf("polled after the end: %+v %v (%d polls)", sl, err, w.id.polls-polls)
	}
	// The extension is linked now: no new self-service link.
	if _, err := w.links.StartSelfLink(ctx, selfLinkAdmin, "acme", "1001"); !errors.Is(err, store.ErrConflict) {
		t.Errorf("starting on a linked extension: %v", err)
	}
}

func TestSelfLinkOutcomesThatLinkNothing(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name   string
		answer func() (Identity, error)
		refuse string
		state  SelfLinkState
		says   string
	}{
		{"denied", failWith(ErrDeviceDenied), "", SelfLinkDenied, "denied"},
		{"expired", failWith(ErrDeviceExpired), "", SelfLinkExpired, "expired"},
		{"a user of another org", approvedBy("9002", "eve@evil.example", "Eve"), "", SelfLinkFailed, "not a user of the Zoho org"},
		{"same id, other email", approvedBy("9001", "mallory@acme.example", "Mallory"), "", SelfLinkFailed, "not a user of the Zoho org"},
		{"Zoho refuses the registration", approvedBy("9003", "cleo@acme.example", "Cleo"), "pb-3", SelfLinkFailed, "INVALID_USER"},
		{"who approved cannot be read", failWith(fmt.Errorf("%w: OAUTH_SCOPE_MISMATCH", ErrZoho)), "", SelfLinkFailed, "OAUTH_SCOPE_MISMATCH"},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := newSelfLinkWorld(t, store.ModePhoneBridge)
			w.zoho.refuse = c.refuse
			w.id.answers = []func() (Identity, error){c.answer}
			if _, err := w.links.StartSelfLink(ctx, selfLinkAdmin, "acme", "1001"); err != nil {
				t.Fatal(err)
			}
			sl, err := w.links.PollSelfLink(ctx, selfLinkAdmin, "acme", "1001")
			if err != nil || sl.State != c.state {
				t.Fatalf("%+v %v, want %s", sl, err, c.state)
			}
			if _, err := w.st.LinkByExtension(ctx, "acme", "1001"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("linked: %v", err)
			}
			var said string
			for _, e := range w.st.audit {
				if e.Target == "1001" && e.Error != "" {
					said += e.Action + ": " + e.Error + "\n"
				}
			}
			if !strings.Contains(said, c.says) {
				t.Errorf("the audit log says %q, want %q", said, c.says)
			}
			if c.state == SelfLinkFailed && !strings.Contains(sl.Error, c.says) {
				t.Errorf("the outcome says %q", sl.Error)
			}
			// A new start gives a new code.
			if sl, err := w.links.StartSelfLink(ctx, selfLinkAdmin, "acme", "1001"); err != nil || sl.State != SelfLinkPending || sl.Prompt.UserCode != "ABC-11" {
				t.Errorf("started again: %+v %v", sl, err)
			}
		})
	}
}

func TestSelfLinkPassingTroubleKeepsPollingUntilTheCodeExpires(t *testing.T) {
	ctx := context.Background()
	w := newSelfLinkWorld(t, store.ModeREST)
	boom := errors.New("connection reset")
	w.id.answers = []func() (Identity, error){failWith(boom), failWith(boom)}
	if _, err := w.links.StartSelfLink(ctx, selfLinkAdmin, "acme", "1002"); err != nil {
		t.Fatal(err)
	}
	if sl, err := w.links.PollSelfLink(ctx, selfLinkAdmin, "acme", "1002"); err != nil || sl.State != SelfLinkPending {
		t.Fatalf("after a passing failure: %+v %v", sl, err)
	}
	w.now = w.now.Add(6 * time.Minute)
	sl, err := w.links.PollSelfLink(ctx, selfLinkAdmin, "acme", "1002")
	if err != nil || sl.State != SelfLinkExpired {
		t.Fatalf("failing past the expiry: %+v %v", sl, err)
	}
	if e := w.st.entries("user.selflink"); len(e) != 1 || !strings.Contains(e[0].Error, "connection reset") {
		t.Errorf("audit: %+v", e)
	}
}

func TestSelfLinkRefusals(t *testing.T) {
	ctx := context.Background()
	w := newSelfLinkWorld(t, store.ModeREST)
	globexAdmin := Actor{Username: "gil", Role: store.RoleAdmin, Tenant: "globex", Via: ViaPortal}
	op := Actor{Username: "olga", Role: store.RoleOperator, Via: ViaPortal}
	for _, c := range []struct {
		name       string
		a          Actor
		tenant, ex string
		want       error
	}{
		{"another tenant's admin", globexAdmin, "acme", "1001", ErrForbidden},
		{"a tenant not connected", op, "globex", "2001", ErrNotConnected},
		{"an unknown extension", op, "acme", "9999", store.ErrNotFound},
	} {
		if _, err := w.links.StartSelfLink(ctx, c.a, c.tenant, c.ex); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	if w.id.started != 0 {
		t.Errorf("%d device codes requested for refused starts", w.id.started)
	}
	if n := len(w.st.entries("user.selflink.start")); n != 3 {
		t.Errorf("%d refused starts audited, want 3", n)
	}
	if _, err := w.links.PollSelfLink(ctx, selfLinkAdmin, "acme", "1001"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("polling what was never started: %v", err)
	}
	if _, err := w.links.StartSelfLink(ctx, selfLinkAdmin, "acme", "1001"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.links.PollSelfLink(ctx, globexAdmin, "acme", "1001"); !errors.Is(err, ErrForbidden) {
		t.Errorf("another tenant's admin polls: %v", err)
	}
	if err := w.links.CancelSelfLink(ctx, selfLinkAdmin, "acme", "1001"); err != nil {
		t.Fatal(err)
	}
	if sl, err := w.links.SelfLinkOf(ctx, selfLinkAdmin, "acme", "1001"); err != nil || sl.State != SelfLinkCancelled {
		t.Errorf("after cancel: %+v %v", sl, err)
	}
	if err := w.links.CancelSelfLink(ctx, selfLinkAdmin, "acme", "1001"); !errors.Is(err, store.ErrConflict) {
		t.Errorf("cancelling twice: %v", err)
	}
	if w.id.polls != 0 {
		t.Errorf("%d polls", w.id.polls)
	}
}

func TestSelfLinkOnePollAtATime(t *testing.T) {
	ctx := context.Background()
	w := newSelfLinkWorld(t, store.ModeREST)
	if _, err := w.links.StartSelfLink(ctx, selfLinkAdmin, "acme", "1001"); err != nil {
		t.Fatal(err)
	}
	w.st.claims["directory/selflink-poll/acme/1001"] = true // another node is asking Zoho
	if sl, err := w.links.PollSelfLink(ctx, selfLinkAdmin, "acme", "1001"); err != nil || sl.State != SelfLinkPending || w.id.polls != 0 {
		t.Errorf("%+v %v, %d polls", sl, err, w.id.polls)
	}
}
