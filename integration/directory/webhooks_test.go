package directory_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/ringside/ringside/pkg/directory"
	"github.com/ringside/ringside/pkg/store"
)

// TestWebhookAdmin: a company admin adds a subscription to its tenant
// (pending, with its secret shown once, event types cleaned); lists show no
// secret; bad URLs, unknown event types, another tenant and a missing one
// are refused; a subscription the daemon disabled is enabled again as
// pending with its failures cleared; an id two tenants share must be named
// with its tenant; every attempt is audited, no secret in it.
func TestWebhookAdmin(t *testing.T) {
	eachStore(t, testWebhookAdmin)
}

func testWebhookAdmin(t *testing.T, st store.Store) {
	s := newService(t, st, "acme", "globex")
	ctx := context.Background()
	op := directory.Operator("root")
	ana := directory.Actor{Username: "ana", Role: store.RoleAdmin, Tenant: "acme", Via: directory.ViaAPI}

	w, err := s.AddWebhook(ctx, ana, "acme", directory.NewWebhook{URL: "https://crm.example/hooks", Events: []string{"Ended", "ringing", "ended"}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(w.ID, "wh_") || !strings.HasPrefix(w.Secret, "whsec_") || w.State != store.WebhookPending ||
		strings.Join(w.Events, ",") != "ended,ringing" {
		t.Fatalf("added %+v", w)
	}
	if stored, err := st.Webhook(ctx, "acme", w.ID); err != nil || stored.Secret != w.Secret || stored.State != store.WebhookPending {
		t.Fatalf("stored %+v, %v: want it pending with the secret shown", stored, err)
	}
	list, err := s.ListWebhooks(ctx, ana, "")
	if err != nil || len(list) != 1 || list[0].ID != w.ID || list[0].Secret != "" {
		t.Fatalf("list = %+v, %v; want one, without its secret", list, err)
	}

	for name, tc := range map[string]struct {
		a      directory.Actor
		tenant string
		n      directory.NewWebhook
		want   error
	}{
		"another tenant":     {ana, "globex", directory.NewWebhook{URL: "https://crm.example/"}, directory.ErrForbidden},
		"http":               {op, "acme", directory.NewWebhook{URL: "http://crm.example/"}, store.ErrInvalid},
		"unknown event type": {op, "acme", directory.NewWebhook{URL: "https://crm.example/", Events: []string{"hangup"}}, store.ErrInvalid},
		"missing tenant":     {op, "initech", directory.NewWebhook{URL: "https://crm.example/"}, store.ErrNotFound},
	} {
		if _, err := s.AddWebhook(ctx, tc.a, tc.tenant, tc.n); !errors.Is(err, tc.want) {
			t.Errorf("add with %s: %v, want %v", name, err, tc.want)
		}
	}
	// webhooks.allow_insecure lets http go to loopback and private
	// addresses only, whoever adds the webhook.
	insecure := newServiceWith(t, st, directory.Options{AllowInsecureWebhooks: true})
	if _, err := insecure.AddWebhook(ctx, op, "acme", directory.NewWebhook{URL: "http://8.8.8.8/"}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("http to a public address with allow_insecure: %v, want invalid", err)
	}
	if _, err := insecure.AddWebhook(ctx, op, "globex", directory.NewWebhook{URL: "http://127.0.0.1:8080/hooks"}); err != nil {
		t.Fatalf("http to loopback with allow_insecure: %v", err)
	}
	if all, _ := s.ListWebhooks(ctx, op, ""); len(all) != 2 {
		t.Fatalf("operator lists %d webhooks, want every tenant's 2", len(all))
	}
	if _, err := s.ListWebhooks(ctx, ana, "globex"); !errors.Is(err, directory.ErrForbidden) {
		t.Fatalf("admin lists another tenant's: %v", err)
	}

	// Disabled by the daemon, enabled by an admin: pending again, failures cleared.
	if _, err := store.ModifyWebhook(ctx, st, "acme", w.ID, func(x *store.Webhook) error {
		x.State, x.Failures, x.Reason = store.WebhookDisabled, 30, "disabled after 30 consecutive failed attempts"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	en, err := s.EnableWebhook(ctx, op, "", w.ID) // found without the tenant
	if err != nil || en.State != store.WebhookPending || en.Failures != 0 || en.Reason != "" || en.Secret != "" {
		t.Fatalf("enable = %+v, %v", en, err)
	}
	if stored, _ := st.Webhook(ctx, "acme", w.ID); stored.State != store.WebhookPending || stored.Failures != 0 || stored.Reason != "" {
		t.Fatalf("stored after enable %+v", stored)
	}
	if _, err := s.EnableWebhook(ctx, directory.Actor{Username: "bo", Role: store.RoleAdmin, Tenant: "globex", Via: directory.ViaAPI}, "acme", w.ID); !errors.Is(err, directory.ErrForbidden) {
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
	if _, err := st.Webhook(ctx, "globex", w.ID); err != nil {
		t.Fatalf("globex's subscription with the same id: %v, want it kept", err)
	}

	var actions []string
	for _, e := range auditLog(t, st, "") {
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
