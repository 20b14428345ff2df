package adminapi

import (
	"net/http"
	"time"

	"github.com/ringside/ringside/pkg/directory"
	"github.com/ringside/ringside/pkg/store"
)

// ---- webhooks ----

// webhookView is a webhook subscription without its signing secret
// (openapi.yaml Webhook). Events is [] when every type is delivered;
// retry_at and verified_at are null when unset.
type webhookView struct {
	Tenant     string     `json:"tenant"`
	ID         string     `json:"id"`
	URL        string     `json:"url"`
	Events     []string   `json:"events"`
	State      string     `json:"state"`
	Reason     string     `json:"reason"`
	Failures   int        `json:"failures"`
	RetryAt    *time.Time `json:"retry_at"`
	VerifiedAt *time.Time `json:"verified_at"`
	CreatedAt  time.Time  `json:"created_at"`
	UpdatedAt  time.Time  `json:"updated_at"`
}

// webhookOf drops the secret (and the store's version).
func webhookOf(w store.Webhook) webhookView {
	return webhookView{Tenant: w.Tenant, ID: w.ID, URL: w.URL, Events: append([]string{}, w.Events...),
		State: string(w.State), Reason: w.Reason, Failures: w.Failures, RetryAt: timeOrNil(w.RetryAt),
		VerifiedAt: timeOrNil(w.VerifiedAt), CreatedAt: w.CreatedAt, UpdatedAt: w.UpdatedAt}
}

// webhookCreated is the answer of POST /tenants/{tenant}/webhooks
// (openapi.yaml WebhookCreated): the subscription and its signing secret,
// the one answer that carries it.
type webhookCreated struct {
	webhookView
	Secret string `json:"secret"`
}

// deliveryView is one attempt of the delivery log (openapi.yaml Delivery).
type deliveryView struct {
	Time      time.Time `json:"time"`
	Tenant    string    `json:"tenant"`
	Webhook   string    `json:"webhook"`
	EventID   string    `json:"event_id"`
	EventType string    `json:"event_type"`
	Attempt   int       `json:"attempt"`
	Result    string    `json:"result"`
	// Status is the HTTP status answered, 0 without an answer.
	Status     int    `json:"status"`
	Error      string `json:"error"`
	DurationMS int64  `json:"duration_ms"`
}

func deliveryOf(d store.Delivery) deliveryView {
	return deliveryView{Time: d.Time, Tenant: d.Tenant, Webhook: d.Webhook, EventID: d.EventID, EventType: d.EventType,
		Attempt: d.Attempt, Result: d.Result, Status: d.Status, Error: d.Error, DurationMS: d.Duration.Milliseconds()}
}

// deliveriesPage is the answer of GET .../webhooks/{id}/deliveries.
type deliveriesPage struct {
	Deliveries []deliveryView `json:"deliveries"`
	Total      int            `json:"total"`
	Offset     int            `json:"offset"`
	Limit      int            `json:"limit"`
}

func (h *Handler) listWebhooks(r *http.Request, a directory.Actor) (int, any, error) {
	if _, err := query(r); err != nil {
		return 0, nil, err
	}
	// The service lists an unknown tenant's subscriptions as none; the
	// API answers 404 for it, as for every other path under a tenant.
	t, err := h.dir.Tenant(r.Context(), a, r.PathValue("tenant"))
	if err != nil {
		return 0, nil, err
	}
	ws, err := h.dir.ListWebhooks(r.Context(), a, t.ID)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, WebhooksView(ws), nil
}

// webhookRequest is the body of POST /tenants/{tenant}/webhooks.
type webhookRequest struct {
	URL string `json:"url"`
	// Events are call event types ("ended", "ringing"); absent or empty:
	// every type.
	Events []string `json:"events"`
}

func (h *Handler) addWebhook(r *http.Request, a directory.Actor) (int, any, error) {
	var in webhookRequest
	if err := decodeBody(r, &in, required); err != nil {
		return 0, nil, err
	}
	if in.URL == "" {
		return 0, nil, invalid("url is required: the receiver's https URL")
	}
	w, err := h.dir.AddWebhook(r.Context(), a, r.PathValue("tenant"),
		directory.NewWebhook{URL: in.URL, Events: in.Events})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, webhookCreated{webhookView: webhookOf(w), Secret: w.Secret}, nil
}

func (h *Handler) removeWebhook(r *http.Request, a directory.Actor) (int, any, error) {
	return http.StatusNoContent, nil, h.dir.RemoveWebhook(r.Context(), a, r.PathValue("tenant"), r.PathValue("id"))
}

func (h *Handler) enableWebhook(r *http.Request, a directory.Actor) (int, any, error) {
	if err := decodeBody(r, &struct{}{}, optional); err != nil {
		return 0, nil, err
	}
	w, err := h.dir.EnableWebhook(r.Context(), a, r.PathValue("tenant"), r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, webhookOf(w), nil
}

func (h *Handler) webhookDeliveries(r *http.Request, a directory.Actor) (int, any, error) {
	q, err := query(r, "offset", "limit")
	if err != nil {
		return 0, nil, err
	}
	p, err := page(q)
	if err != nil {
		return 0, nil, err
	}
	ds, total, err := h.dir.Deliveries(r.Context(), a, r.PathValue("tenant"), r.PathValue("id"), p)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, DeliveriesView(ds, total, p), nil
}
