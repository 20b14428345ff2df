package portal

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ringside/ringside/pkg/directory"
	"github.com/ringside/ringside/pkg/events"
	"github.com/ringside/ringside/pkg/store"
)

// Webhook subscriptions on the Features page: the list (never a secret),
// the add form, enable, remove, and one subscription's delivery log. The
// signing secret is shown once, on the page the add form's POST answers
// with (no redirect: it is in no URL, cookie or log); that page says to
// copy it now.

// deliveriesPerPage is the delivery log's page size.
const deliveriesPerPage = 50

// webhookRow is a subscription as the pages show it: no secret.
type webhookRow struct {
	ID, URL string
	// Events are the event types delivered; empty: every type.
	Events []string
	State  string
	// Reason is why it is disabled, or why its last round failed.
	Reason   string
	Failures int
	RetryAt  time.Time
	Verified time.Time
	Created  time.Time
}

func newWebhookRow(h store.Webhook) webhookRow {
	return webhookRow{ID: h.ID, URL: h.URL, Events: h.Events, State: string(h.State), Reason: h.Reason,
		Failures: h.Failures, RetryAt: h.RetryAt, Verified: h.VerifiedAt, Created: h.CreatedAt}
}

// eventTypes are the call event types a subscription may choose.
func eventTypes() []string {
	out := make([]string, len(events.Types))
	for i, t := range events.Types {
		out[i] = string(t)
	}
	return out
}

// webhookCreatedData is the page after adding a subscription: the only
// one that shows its secret.
type webhookCreatedData struct {
	*base
	Hook   webhookRow
	Secret string
}

// addWebhook subscribes a URL to the tenant's call events and answers with
// the page that shows the new secret once. A refusal goes back to the
// Features page with the service's detail.
func (p *Portal) addWebhook(w http.ResponseWriter, r *http.Request, s *session) {
	tenant := r.PathValue("tenant")
	back := featuresPath(tenant) + "#webhooks"
	n := directory.NewWebhook{URL: strings.TrimSpace(r.PostForm.Get("url")), Events: r.PostForm["events"]}
	// The tenant first: once the subscription exists, nothing may keep its
	// secret from being shown.
	t, err := p.dir.Tenant(r.Context(), s.actor, tenant)
	if err != nil {
		p.fail(w, r, s, back, err)
		return
	}
	h, err := p.dir.AddWebhook(r.Context(), s.actor, tenant, n)
	if err != nil {
		p.fail(w, r, s, back, err)
		return
	}
	b := p.frame(w, r, s, "page.new_hook")
	b.Tenant, b.Nav = &tenantNav{ID: t.ID, Name: t.Name}, "features"
	p.render(w, http.StatusCreated, "webhook_created", webhookCreatedData{base: b, Hook: newWebhookRow(h), Secret: h.Secret})
}

// enableWebhook puts a disabled (or pending) subscription back to pending:
// the daemon verifies the receiver again before delivering.
func (p *Portal) enableWebhook(w http.ResponseWriter, r *http.Request, s *session) {
	tenant, id := r.PathValue("tenant"), r.PathValue("id")
	back := featuresPath(tenant) + "#webhooks"
	h, err := p.dir.EnableWebhook(r.Context(), s.actor, tenant, id)
	if err != nil {
		p.fail(w, r, s, back, err)
		return
	}
	key := "webhooks.enabled_flash"
	if h.State == store.WebhookActive {
		key = "webhooks.active_flash"
	}
	p.done(w, r, back, flash{Key: key, Args: []string{h.URL}})
}

// removeWebhook deletes a subscription and its delivery log.
func (p *Portal) removeWebhook(w http.ResponseWriter, r *http.Request, s *session) {
	tenant, id := r.PathValue("tenant"), r.PathValue("id")
	back := featuresPath(tenant) + "#webhooks"
	if err := p.dir.RemoveWebhook(r.Context(), s.actor, tenant, id); err != nil {
		p.fail(w, r, s, back, err)
		return
	}
	p.done(w, r, back, flash{Key: "webhooks.removed_flash", Args: []string{id}})
}

// webhookData is one page of a subscription's delivery log, newest first.
type webhookData struct {
	*base
	Hook            webhookRow
	Deliveries      []deliveryRow
	From, To, Total int
	Prev, Next      string
}

// deliveryRow is one attempt of the delivery log.
type deliveryRow struct {
	Time               time.Time
	EventType, EventID string
	Attempt            int
	Result             string
	Status             int
	Error              string
	Duration           string
}

// webhookPage shows a subscription and one page of its delivery log.
func (p *Portal) webhookPage(w http.ResponseWriter, r *http.Request, s *session) {
	t, b, ok := p.tenantPage(w, r, s, "page.webhook", "features")
	if !ok {
		return
	}
	id := r.PathValue("id")
	hooks, err := p.dir.ListWebhooks(r.Context(), s.actor, t.ID)
	if err != nil {
		p.renderError(w, r, s, err)
		return
	}
	d := webhookData{base: b}
	found := false
	for _, h := range hooks {
		if h.ID == id {
			d.Hook, found = newWebhookRow(h), true
		}
	}
	if !found {
		p.notFound(w, r, s, "webhook "+id)
		return
	}
	offset := max(formInt(r.URL.Query().Get("offset"), 0), 0)
	ds, total, err := p.dir.Deliveries(r.Context(), s.actor, t.ID, id, store.Page{Offset: offset, Limit: deliveriesPerPage})
	if err != nil {
		p.renderError(w, r, s, err)
		return
	}
	for _, x := range ds {
		d.Deliveries = append(d.Deliveries, deliveryRow{Time: x.Time, EventType: x.EventType, EventID: x.EventID,
			Attempt: x.Attempt, Result: x.Result, Status: x.Status, Error: x.Error, Duration: x.Duration.Round(time.Millisecond).String()})
	}
	d.Total = total
	if len(ds) > 0 {
		d.From, d.To = offset+1, offset+len(ds)
	}
	self := webhookPath(t.ID, id)
	page := func(off int) string {
		if off == 0 {
			return self
		}
		return self + "?" + url.Values{"offset": {strconv.Itoa(off)}}.Encode()
	}
	if offset > 0 {
		d.Prev = page(max(offset-deliveriesPerPage, 0))
	}
	if offset+len(ds) < total {
		d.Next = page(offset + len(ds))
	}
	p.render(w, http.StatusOK, "webhook", d)
}

// webhookPath is the path of a subscription's delivery log.
func webhookPath(tenant, id string) string {
	return tenantPath(tenant, "features/webhooks/"+url.PathEscape(id))
}
