package directory

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ringside/ringside/pkg/store"
	"github.com/ringside/ringside/pkg/webhooks"
)

// Webhook subscriptions: a tenant's call events delivered, signed, to a URL
// of another CRM (pkg/webhooks delivers them). A subscription starts
// pending: the daemon sends the receiver a verification handshake, and
// delivers only once it is answered. Its signing secret is returned once,
// by AddWebhook; every other method returns subscriptions without it.

// NewWebhook is a subscription to add.
type NewWebhook struct {
	// URL receives the deliveries: https, or with
	// Options.AllowInsecureWebhooks http to a loopback or private address
	// (webhooks.CheckURL).
	URL string
	// Events are the call event types delivered ("ended", "ringing");
	// empty: every type.
	Events []string
}

// describe is the audit detail of n.
func (n NewWebhook) describe() string {
	events := "all events"
	if len(n.Events) > 0 {
		events = strings.Join(n.Events, ",")
	}
	return n.URL + " (" + events + ")"
}

// AddWebhook subscribes a URL to the tenant's call events and returns the
// subscription, pending verification, with its new signing secret: the
// only time the secret is shown.
func (s *Service) AddWebhook(ctx context.Context, a Actor, tenant string, n NewWebhook) (store.Webhook, error) {
	w, err := s.addWebhook(ctx, a, tenant, n)
	s.audit(ctx, a, tenant, "webhook.add", w.ID, n.describe(), err)
	return w, err
}

func (s *Service) addWebhook(ctx context.Context, a Actor, tenant string, n NewWebhook) (store.Webhook, error) {
	if err := s.authorize(a, tenant); err != nil {
		return store.Webhook{}, err
	}
	if err := webhooks.CheckURL(n.URL, s.o.AllowInsecureWebhooks); err != nil {
		return store.Webhook{}, err
	}
	types, err := webhooks.EventTypes(strings.Join(n.Events, ","))
	if err != nil {
		return store.Webhook{}, err
	}
	w, err := s.o.Store.CreateWebhook(ctx, store.Webhook{Tenant: tenant, ID: webhooks.NewID(s.now()), URL: n.URL,
		Events: types, Secret: webhooks.NewSecret(), State: store.WebhookPending})
	if errors.Is(err, store.ErrNotFound) {
		return store.Webhook{}, fmt.Errorf("tenant %s does not exist: %w", tenant, store.ErrNotFound)
	}
	return w, err
}

// ListWebhooks lists a tenant's subscriptions, or for an operator with
// tenant "" every tenant's (a company admin always gets its own), without
// their secrets.
func (s *Service) ListWebhooks(ctx context.Context, a Actor, tenant string) ([]store.Webhook, error) {
	if tenant == "" && !a.IsOperator() {
		tenant = a.Tenant
	}
	if tenant != "" {
		if err := s.authorize(a, tenant); err != nil {
			return nil, err
		}
	}
	ws, err := s.o.Store.ListWebhooks(ctx, tenant)
	for i := range ws {
		ws[i].Secret = ""
	}
	return ws, err
}

// findWebhook finds the subscription id: in tenant, or, with tenant "", in
// the actor's tenant (company admin) or whichever tenant has it
// (operator; ErrConflict if several do).
func (s *Service) findWebhook(ctx context.Context, a Actor, tenant, id string) (store.Webhook, error) {
	if err := store.CheckWebhookID(id); err != nil {
		return store.Webhook{}, err
	}
	if tenant == "" && !a.IsOperator() {
		tenant = a.Tenant
	}
	if tenant != "" {
		if err := s.authorize(a, tenant); err != nil {
			return store.Webhook{}, err
		}
		w, err := s.o.Store.Webhook(ctx, tenant, id)
		if errors.Is(err, store.ErrNotFound) {
			return store.Webhook{}, fmt.Errorf("no webhook %s in tenant %s: %w", id, tenant, store.ErrNotFound)
		}
		return w, err
	}
	all, err := s.o.Store.ListWebhooks(ctx, "")
	if err != nil {
		return store.Webhook{}, err
	}
	var found []store.Webhook
	for _, w := range all {
		if w.ID == id {
			found = append(found, w)
		}
	}
	switch len(found) {
	case 0:
		return store.Webhook{}, fmt.Errorf("no webhook %s: %w", id, store.ErrNotFound)
	case 1:
		return found[0], nil
	}
	tenants := make([]string, len(found))
	for i, w := range found {
		tenants[i] = w.Tenant
	}
	return store.Webhook{}, fmt.Errorf("webhook %s exists in tenants %s: name the tenant: %w", id, strings.Join(tenants, ", "), store.ErrConflict)
}

// RemoveWebhook deletes a subscription and its delivery log (tenant ""
// finds it, see findWebhook). Deliveries in flight may still arrive.
func (s *Service) RemoveWebhook(ctx context.Context, a Actor, tenant, id string) error {
	w, err := s.findWebhook(ctx, a, tenant, id)
	if err == nil {
		tenant = w.Tenant
		err = s.o.Store.DeleteWebhook(ctx, w.Tenant, w.ID)
	}
	s.audit(ctx, a, tenant, "webhook.remove", id, w.URL, err)
	return err
}

// EnableWebhook puts a disabled subscription back to pending, with its
// failures cleared: the daemon verifies the receiver again before
// delivering. A pending one is retried at once; an active one is left as
// it is. It returns the subscription without its secret.
func (s *Service) EnableWebhook(ctx context.Context, a Actor, tenant, id string) (store.Webhook, error) {
	w, err := s.findWebhook(ctx, a, tenant, id)
	before := w.State
	if err == nil {
		tenant = w.Tenant
		w, err = store.ModifyWebhook(ctx, s.o.Store, w.Tenant, w.ID, func(x *store.Webhook) error {
			if x.State == store.WebhookActive {
				return errUnchanged
			}
			x.State, x.Failures, x.RetryAt, x.Reason = store.WebhookPending, 0, time.Time{}, ""
			return nil
		})
		if errors.Is(err, errUnchanged) {
			w, err = s.o.Store.Webhook(ctx, tenant, id)
		}
	}
	detail := ""
	if before != "" {
		detail = string(before) + " → " + string(w.State)
	}
	s.audit(ctx, a, tenant, "webhook.enable", id, detail, err)
	w.Secret = ""
	return w, err
}

// errUnchanged stops a modification that has nothing to change.
var errUnchanged = errors.New("unchanged")

// Deliveries returns one page of a subscription's delivery log, newest
// first, and how many attempts it keeps.
func (s *Service) Deliveries(ctx context.Context, a Actor, tenant, id string, p store.Page) ([]store.Delivery, int, error) {
	w, err := s.findWebhook(ctx, a, tenant, id)
	if err != nil {
		return nil, 0, err
	}
	return s.o.Store.ListDeliveries(ctx, w.Tenant, w.ID, p)
}
