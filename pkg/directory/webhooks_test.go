package directory

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/ringside/ringside/pkg/store"
)

// hookStore keeps webhooks and the audit log in memory; the rest of
// store.Store is not used by these tests (a call panics).
type hookStore struct {
	store.Store
	mu      sync.Mutex
	tenants map[string]bool
	hooks   map[string]store.Webhook // tenant/id
	audit   []store.AuditEntry
}

func newHookStore(tenants ...string) *hookStore {
	h := &hookStore{tenants: map[string]bool{}, hooks: map[string]store.Webhook{}}
	for _, t := range tenants {
		h.tenants[t] = true
	}
	return h
}

func (h *hookStore) CreateWebhook(_ context.Context, w store.Webhook) (store.Webhook, error) {
	if err := w.Validate(); err != nil {
		return store.Webhook{}, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.tenants[w.Tenant] {
		return store.Webhook{}, store.ErrNotFound
	}
	if _, ok := h.hooks[w.Tenant+"/"+w.ID]; ok {
		return store.Webhook{}, store.ErrConflict
	}
	w.Version = 1
	h.hooks[w.Tenant+"/"+w.ID] = w
	return w, nil
}

func (h *hookStore) Webhook(_ context.Context, tenant, id string) (store.Webhook, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	w, ok := h.hooks[tenant+"/"+id]
	if !ok {
		return store.Webhook{}, store.ErrNotFound
	}
	return w, nil
}

func (h *hookStore) ListWebhooks(_ context.Context, tenant string) ([]store.Webhook, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []store.Webhook
	for _, w := range h.hooks {
		if tenant == "" || w.Tenant == tenant {
			out = append(out, w)
		}
	}
	return out, nil
}

func (h *hookStore) UpdateWebhook(_ context.Context, w store.Webhook) (store.Webhook, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	cur, ok := h.hooks[w.Tenant+"/"+w.ID]
	if !ok {
		return store.Webhook{}, store.ErrNotFound
	}
	if cur.Version != w.Version {
		return store.Webhook{}, store.ErrConflict
	}
	w.Version++
	h.hooks[w.Tenant+"/"+w.ID] = w
	return w, nil
}

func (h *hookStore) DeleteWebhook(_ context.Context, tenant, id string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.hooks[tenant+"/"+id]; !ok {
		return store.ErrNotFound
	}
	delete(h.hooks, tenant+"/"+id)
	return nil
}

func (h *hookStore) ListDeliveries(context.Context, string, string, store.Page) ([]store.Delivery, int, error) {
	return []store.Delivery{}, 0, nil
}

func (h *hookStore) AppendAudit(_ context.Context, e store.AuditEntry) (store.AuditEntry, error) {
	if err := e.Validate(); err != nil {
		return e, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.audit = append(h.audit, e)
	return e, nil
}

func newHookService(t *testing.T, st *hookStore) *Service {
	t.Helper()
	s, err := New(Options{Store: st, URLs: func(string) (string, map[string]string) { return "", nil }, NewSecret: func() string { return "s" }})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestWebhookAdmin(t *testing.T) {
	st := newHookStore("acme", "globex")
	s := newHookService(t, st)
	ctx := context.Background()
	op := Operator("root")
	ana := Actor{Username: "ana", Role: store.RoleAdmin, Tenant: "acme", Via: ViaAPI}

	w, err := s.AddWebhook(ctx, ana, "acme", NewWebhook{URL: "https://crm.example/hooks", Events: []string{"Ended", "ringing", "ended"}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(w.ID, "wh_") || !strings.HasPrefix(w.Secret, "whsec_") || w.State != store.WebhookPending ||
		strings.Join(w.Events, ",") != "ended,ringing" {
		t.Fatalf("added %+v", w)
	}
	list, err := s.ListWebhooks(ctx, ana, "")
	if err != nil || len(list) != 1 || list[0].ID != w.ID || list[0].Secret != "" {
		t.Fatalf("list = %+v, %v; want one, without its secret", list, err)
	}

	for name, tc := range map[string]struct {
		a      Actor
		tenant string
		n      NewWebhook
		want   error
	}{
		"another tenant":     {ana, "globex", NewWebhook{URL: "https://crm.example/"}, ErrForbidden},
		"http":               {op, "acme", NewWebhook{URL: "http://crm.example/"}, store.ErrInvalid},
		"http to a public":   {op, "acme", NewWebhook{URL: "http://8.8.8.8/", AllowInsecure: true}, store.ErrInvalid},
		"unknown event type": {op, "acme", NewWebhook{URL: "https://crm.example/", Events: []string{"hangup"}}, store.ErrInvalid},
		"missing tenant":     {op, "initech", NewWebhook{URL: "https://crm.example/"}, store.ErrNotFound},
	} {
		if _, err := s.AddWebhook(ctx, tc.a, tc.tenant, tc.n); !errors.Is(err, tc.want) {
			t.Errorf("add with %s: %v, want %v", name, err, tc.want)
		}
	}
	if _, err := s.AddWebhook(ctx, op, "globex", NewWebhook{URL: "http://127.0.0.1:8080/hooks", AllowInsecure: true}); err != nil {
		t.Fatalf("http to loopback with allow_insecure: %v", err)
	}
	if all, _ := s.ListWebhooks(ctx, op, ""); len(all) != 2 {
		t.Fatalf("operator lists %d webhooks, want every tenant's 2", len(all))
	}
	if _, err := s.ListWebhooks(ctx, ana, "globex"); !errors.Is(err, ErrForbidden) {
		t.Fatalf("admin lists another tenant's: %v", err)
	}

	// Disabled by the daemon, enabled by an admin: pending again, failures cleared.
	stored, _ := st.Webhook(ctx, "acme", w.ID)
	stored.State, stored.Failures, stored.Reason = store.WebhookDisabled, 30, "disabled after 30 consecutive failed attempts"
	if _, err := st.UpdateWebhook(ctx, stored); err != nil {
		t.Fatal(err)
	}
	en, err := s.EnableWebhook(ctx, op, "", w.ID) // found without the tenant
	if err != nil || en.State != store.WebhookPending || en.Failures != 0 || en.Reason != "" || en.Secret != "" {
		t.Fatalf("enable = %+v, %v", en, err)
	}
	if _, err := s.EnableWebhook(ctx, Actor{Username: "bo", Role: store.RoleAdmin, Tenant: "globex", Via: ViaAPI}, "acme", w.ID); !errors.Is(err, ErrForbidden) {
		t.Fatalf("enable by another tenant's admin: %v", err)
	}
	if _, _, err := s.Deliveries(ctx, ana, "", w.ID, store.Page{}); err != nil {
		t.Fatalf("deliveries: %v", err)
	}
	if _, _, err := s.Deliveries(ctx, ana, "", "wh_nobody", store.Page{}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deliveries of a missing webhook: %v", err)
	}

	// The same id in two tenants: the operator must say which.
	if _, err := st.CreateWebhook(ctx, store.Webhook{Tenant: "globex", ID: w.ID, URL: "https://x.example/", Secret: "whsec_0123456789abcdef", State: store.WebhookActive}); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveWebhook(ctx, op, "", w.ID); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("remove an ambiguous id: %v, want ErrConflict", err)
	}
	if err := s.RemoveWebhook(ctx, op, "acme", w.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveWebhook(ctx, op, "acme", w.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("remove again: %v", err)
	}

	var actions []string
	for _, e := range st.audit {
		if strings.Contains(e.Detail+e.Error, w.Secret) {
			t.Fatal("a secret reached the audit log")
		}
		r := "ok"
		if e.Error != "" {
			r = "refused"
		}
		actions = append(actions, e.Action+" "+e.Tenant+" "+r)
	}
	want := []string{"webhook.add acme ok", "webhook.add globex refused", "webhook.add acme refused", "webhook.add acme refused",
		"webhook.add acme refused", "webhook.add initech refused", "webhook.add globex ok", "webhook.enable acme ok",
		"webhook.enable acme refused", "webhook.remove  refused", "webhook.remove acme ok", "webhook.remove acme refused"}
	// The refused adds ran in map order: compare as sets of counts.
	count := func(list []string) map[string]int {
		m := map[string]int{}
		for _, a := range list {
			m[a]++
		}
		return m
	}
	got, exp := count(actions), count(want)
	for k, v := range exp {
		if got[k] != v {
			t.Fatalf("audit %q, want %q", actions, want)
		}
	}
}
