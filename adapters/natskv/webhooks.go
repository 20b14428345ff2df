package natskv

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ringside/ringside/pkg/store"
)

// Webhook subscriptions live in the directory bucket, webhook.<t>.<id>
// (the subscription's JSON; Version is the KV revision), so deleting a
// tenant sweeps them with its other keys. Their delivery logs are the
// stream P_deliveries, a msgLog: one message per attempt on
// P.delivery.<t>.<id>, at most store.DeliveryKeep per subscription.
// Deleting a subscription (or its tenant) purges its subject.

// openWebhooks creates or updates the delivery log's stream.
func (s *Store) openWebhooks(ctx context.Context, prefix string) error {
	l, err := openLog(ctx, s.js, jetstream.StreamConfig{
		Name:              prefix + "_deliveries",
		Description:       "Ringside webhook delivery log",
		Subjects:          []string{prefix + ".delivery.*.*"},
		MaxMsgsPerSubject: store.DeliveryKeep,
	}, prefix+".delivery.")
	if err != nil {
		return err
	}
	s.deliveries = l
	return nil
}

// deliverySubject is the subject of one subscription's log; with id "*"
// it matches every subscription of the tenant.
func (s *Store) deliverySubject(tenant, id string) string {
	if id == "*" {
		return s.deliveries.prefix + escape(tenant) + ".*"
	}
	return s.deliveries.prefix + escape(tenant) + "." + escape(id)
}

func (s *Store) CreateWebhook(ctx context.Context, w store.Webhook) (store.Webhook, error) {
	if err := w.Validate(); err != nil {
		return store.Webhook{}, fmt.Errorf("natskv: create webhook: %w", err)
	}
	what := w.Tenant + "/" + w.ID
	if _, err := s.tenant(ctx, w.Tenant); err != nil {
		return store.Webhook{}, fmt.Errorf("natskv: create webhook %s: tenant %s: %w", what, w.Tenant, err)
	}
	now := s.now()
	w.Version, w.CreatedAt, w.UpdatedAt = 0, now, now
	k := key("webhook", w.Tenant, w.ID)
	rev, err := s.dir.Create(ctx, k, mustJSON(w))
	if isExists(err) {
		return store.Webhook{}, fmt.Errorf("natskv: create webhook %s: exists: %w", what, store.ErrConflict)
	}
	if err != nil {
		return store.Webhook{}, fmt.Errorf("natskv: create webhook %s: %w", what, err)
	}
	// The tenant may have been deleted meanwhile; do not leave an orphan.
	if _, err := s.tenant(ctx, w.Tenant); errors.Is(err, store.ErrNotFound) {
		_ = s.dir.Delete(ctx, k, jetstream.LastRevision(rev))
		return store.Webhook{}, fmt.Errorf("natskv: create webhook %s: tenant %s: %w", what, w.Tenant, err)
	}
	w.Version = rev
	return w, nil
}

func (s *Store) webhook(ctx context.Context, tenant, id string) (store.Webhook, error) {
	var w store.Webhook
	rev, err := getJSON(ctx, s.dir, key("webhook", tenant, id), &w)
	w.Version = rev
	return w, err
}

func (s *Store) Webhook(ctx context.Context, tenant, id string) (store.Webhook, error) {
	w, err := s.webhook(ctx, tenant, id)
	if err != nil {
		return store.Webhook{}, fmt.Errorf("natskv: webhook %s/%s: %w", tenant, id, err)
	}
	return w, nil
}

func (s *Store) ListWebhooks(ctx context.Context, tenant string) ([]store.Webhook, error) {
	what, filter := "webhooks", "webhook.*.*"
	if tenant != "" {
		what, filter = "webhooks of "+tenant, "webhook."+escape(tenant)+".*"
	}
	entries, err := values(ctx, s.dir, filter)
	if err != nil {
		return nil, fmt.Errorf("natskv: list %s: %w", what, err)
	}
	out := make([]store.Webhook, 0, len(entries))
	for _, e := range entries {
		var w store.Webhook
		if err := jsonDecode(e, &w); err != nil {
			return nil, fmt.Errorf("natskv: list %s: %w", what, err)
		}
		w.Version = e.Revision()
		out = append(out, w)
	}
	slices.SortFunc(out, func(a, b store.Webhook) int {
		return cmp.Or(cmp.Compare(a.Tenant, b.Tenant), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

func (s *Store) UpdateWebhook(ctx context.Context, w store.Webhook) (store.Webhook, error) {
	if err := w.Validate(); err != nil {
		return store.Webhook{}, fmt.Errorf("natskv: update webhook: %w", err)
	}
	what := w.Tenant + "/" + w.ID
	cur, err := s.webhook(ctx, w.Tenant, w.ID)
	if err != nil {
		return store.Webhook{}, fmt.Errorf("natskv: update webhook %s: %w", what, err)
	}
	if cur.Version != w.Version {
		return store.Webhook{}, fmt.Errorf("natskv: update webhook %s: version %d, stored %d: %w", what, w.Version, cur.Version, store.ErrConflict)
	}
	read := w.Version
	w.Version, w.CreatedAt, w.UpdatedAt = 0, cur.CreatedAt, s.now()
	rev, err := s.dir.Update(ctx, key("webhook", w.Tenant, w.ID), mustJSON(w), read)
	if isMismatch(err) {
		return store.Webhook{}, fmt.Errorf("natskv: update webhook %s: changed meanwhile: %w", what, store.ErrConflict)
	}
	if err != nil {
		return store.Webhook{}, fmt.Errorf("natskv: update webhook %s: %w", what, err)
	}
	w.Version = rev
	return w, nil
}

func (s *Store) DeleteWebhook(ctx context.Context, tenant, id string) error {
	what := tenant + "/" + id
	k := key("webhook", tenant, id)
	for range casAttempts {
		e, err := get(ctx, s.dir, k)
		if err != nil {
			return fmt.Errorf("natskv: delete webhook %s: %w", what, err)
		}
		err = s.dir.Delete(ctx, k, jetstream.LastRevision(e.Revision()))
		if isMismatch(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("natskv: delete webhook %s: %w", what, err)
		}
		if err := s.deliveries.purge(ctx, s.deliverySubject(tenant, id)); err != nil {
			return fmt.Errorf("natskv: delete webhook %s: delivery log: %w", what, err)
		}
		return nil
	}
	return fmt.Errorf("natskv: delete webhook %s: changing too fast: %w", what, store.ErrConflict)
}

func (s *Store) AppendDelivery(ctx context.Context, d store.Delivery) (store.Delivery, error) {
	if err := d.Validate(); err != nil {
		return store.Delivery{}, fmt.Errorf("natskv: append delivery: %w", err)
	}
	d.Time = d.Time.UTC()
	if err := s.deliveries.append(ctx, s.deliverySubject(d.Tenant, d.Webhook), mustJSON(d)); err != nil {
		return store.Delivery{}, fmt.Errorf("natskv: append delivery to %s/%s: %w", d.Tenant, d.Webhook, err)
	}
	return d, nil
}

func (s *Store) ListDeliveries(ctx context.Context, tenant, id string, p store.Page) ([]store.Delivery, int, error) {
	if _, err := p.Norm(); err != nil {
		return nil, 0, fmt.Errorf("natskv: list deliveries of %s/%s: %w", tenant, id, err)
	}
	if store.CheckTenantID(tenant) != nil || store.CheckWebhookID(id) != nil {
		return []store.Delivery{}, 0, nil // no such subscription, no such subject
	}
	out, total, err := listLog[store.Delivery](ctx, s.deliveries, s.deliverySubject(tenant, id), store.DeliveryKeep, p)
	if err != nil {
		return nil, 0, fmt.Errorf("natskv: list deliveries of %s/%s: %w", tenant, id, err)
	}
	return out, total, nil
}
