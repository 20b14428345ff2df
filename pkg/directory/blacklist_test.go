package directory

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/ringside/ringside/pkg/store"
)

// tenantStore keeps tenants and the audit log in memory, validating writes
// as the backends do; the rest of store.Store is not used (a call panics).
type tenantStore struct {
	store.Store
	mu      sync.Mutex
	tenants map[string]store.Tenant
	audit   []store.AuditEntry
}

func newTenantStore(ids ...string) *tenantStore {
	ts := &tenantStore{tenants: map[string]store.Tenant{}}
	for _, id := range ids {
		ts.tenants[id] = store.Tenant{ID: id, Name: id, Version: 1}
	}
	return ts
}

func (ts *tenantStore) Tenant(_ context.Context, id string) (store.Tenant, error) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	t, ok := ts.tenants[id]
	if !ok {
		return store.Tenant{}, store.ErrNotFound
	}
	t.Settings.Blacklist = slices.Clone(t.Settings.Blacklist)
	return t, nil
}

func (ts *tenantStore) UpdateTenant(_ context.Context, t store.Tenant) (store.Tenant, error) {
	if err := t.Validate(); err != nil {
		return store.Tenant{}, err
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	old, ok := ts.tenants[t.ID]
	switch {
	case !ok:
		return store.Tenant{}, store.ErrNotFound
	case old.Version != t.Version:
		return store.Tenant{}, store.ErrConflict
	}
	t.Version++
	ts.tenants[t.ID] = t
	return t, nil
}

func (ts *tenantStore) AppendAudit(_ context.Context, e store.AuditEntry) (store.AuditEntry, error) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.audit = append(ts.audit, e)
	return e, nil
}

func (ts *tenantStore) actions() []string {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	var out []string
	for _, e := range ts.audit {
		s := e.Actor + " " + e.Tenant + " " + e.Action + " " + e.Target
		if e.Error != "" {
			s += " refused"
		}
		out = append(out, s)
	}
	return out
}

func newBlacklistService(t *testing.T, st store.Store) *Service {
	t.Helper()
	s, err := New(Options{Store: st, URLs: func(string) (string, map[string]string) { return "", nil },
		NewSecret: func() string { return "x" }})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestBlacklist(t *testing.T) {
	ctx := context.Background()
	st := newTenantStore("acme", "globex")
	s := newBlacklistService(t, st)
	op := Operator("root")
	admin := Actor{Username: "ana", Role: store.RoleAdmin, Tenant: "acme", Via: ViaAPI}

	b, err := s.ListBlocked(ctx, admin, "acme")
	if err != nil || len(b.Entries) != 0 || b.Entries == nil || b.Reason != store.BlockBusy {
		t.Fatalf("empty blacklist = %+v, %v", b, err)
	}
	if b, err = s.AddBlocked(ctx, admin, "acme", "+49 30 123-456"); err != nil || !slices.Equal(b.Entries, []string{"+4930123456"}) {
		t.Fatalf("add = %+v, %v", b, err)
	}
	if b, err = s.AddBlocked(ctx, op, "acme", "004990*"); err != nil || !slices.Equal(b.Entries, []string{"+4930123456", "+4990*"}) {
		t.Fatalf("add prefix = %+v, %v", b, err)
	}
	if _, err = s.AddBlocked(ctx, admin, "acme", "+4930123456"); !errors.Is(err, store.ErrConflict) {
		t.Errorf("second add: %v, want conflict", err)
	}
	for _, bad := range []string{"", "030123456", "+", "+4", "+49abc", "+49*1", "*", "+1234567890123456", "+49**"} {
		if _, err = s.AddBlocked(ctx, admin, "acme", bad); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("add %q: %v, want invalid", bad, err)
		}
	}
	if _, err = s.AddBlocked(ctx, admin, "globex", "+4930123456"); !errors.Is(err, ErrForbidden) {
		t.Errorf("admin of acme adds to globex: %v, want forbidden", err)
	}
	if _, err = s.ListBlocked(ctx, admin, "globex"); !errors.Is(err, ErrForbidden) {
		t.Errorf("admin of acme lists globex: %v, want forbidden", err)
	}
	if _, err = s.AddBlocked(ctx, op, "nope", "+4930123456"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown tenant: %v, want not found", err)
	}
	if b, err = s.SetBlockedReason(ctx, admin, "acme", " Congestion "); err != nil || b.Reason != store.BlockCongestion {
		t.Fatalf("reason = %+v, %v", b, err)
	}
	for _, bad := range []string{"", "reject", "normal"} {
		if _, err = s.SetBlockedReason(ctx, admin, "acme", bad); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("reason %q: %v, want invalid", bad, err)
		}
	}
	if _, err = s.RemoveBlocked(ctx, admin, "acme", "+4930999"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("remove an absent entry: %v, want not found", err)
	}
	if b, err = s.RemoveBlocked(ctx, admin, "acme", "+49 30 123456"); err != nil || !slices.Equal(b.Entries, []string{"+4990*"}) || b.Reason != store.BlockCongestion {
		t.Fatalf("remove = %+v, %v", b, err)
	}
	got, _ := st.Tenant(ctx, "acme")
	if !slices.Equal(got.Settings.Blacklist, []string{"+4990*"}) || got.Settings.BlacklistReason != store.BlockCongestion {
		t.Errorf("stored settings %+v", got.Settings)
	}
	if g, _ := st.Tenant(ctx, "globex"); len(g.Settings.Blacklist) != 0 {
		t.Errorf("globex changed: %+v", g.Settings)
	}

	audit := strings.Join(st.actions(), "\n")
	for _, want := range []string{
		"ana acme blacklist.add +4930123456",
		"cli:root acme blacklist.add +4990*",
		"ana acme blacklist.add +4930123456 refused",
		"ana globex blacklist.add +4930123456 refused",
		"ana acme blacklist.reason acme",
		"ana acme blacklist.remove +4930999 refused",
		"ana acme blacklist.remove +4930123456",
	} {
		if !strings.Contains(audit, want+"\n") && !strings.HasSuffix(audit, want) {
			t.Errorf("audit lacks %q:\n%s", want, audit)
		}
	}
}

func TestCheckBlacklist(t *testing.T) {
	if err := store.CheckBlacklist([]string{"+4930123456", "+4990*"}, ""); err != nil {
		t.Error(err)
	}
	for _, c := range []struct {
		entries []string
		reason  string
	}{
		{[]string{"+4930123456", "+4930123456"}, "busy"},
		{[]string{"+49 30"}, "busy"},
		{nil, "reject"},
		{make([]string, store.MaxBlacklist+1), ""},
	} {
		if err := store.CheckBlacklist(c.entries, c.reason); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("CheckBlacklist(%d entries, %q) = %v, want invalid", len(c.entries), c.reason, err)
		}
	}
	bad := store.Tenant{ID: "acme", Settings: store.Settings{Blacklist: []string{"0301234"}}}
	if err := bad.Validate(); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("a tenant with a bad entry validates: %v", err)
	}
}
