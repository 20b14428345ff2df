package adminapi

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ringside/ringside/pkg/directory"
	"github.com/ringside/ringside/pkg/store"
)

// TestWebhookViews: a subscription's secret is only in the creation
// answer; the delivery log's page is shaped like the other pages.
func TestWebhookViews(t *testing.T) {
	now := time.Date(2026, 3, 14, 9, 30, 0, 0, time.UTC)
	w := store.Webhook{Tenant: "acme", ID: "wh_1", URL: "https://crm.example/h", Secret: "whsec_TOPSECRET",
		State: store.WebhookPending, Version: 7, CreatedAt: now, UpdatedAt: now}
	for name, v := range map[string]any{
		"list":   WebhooksView([]store.Webhook{w}),
		"one":    webhookOf(w),
		"log":    DeliveriesView([]store.Delivery{{Time: now, Tenant: "acme", Webhook: "wh_1"}}, 1, store.Page{}),
		"nil ok": WebhooksView(nil),
	} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte("TOPSECRET")) || bytes.Contains(b, []byte(`"secret"`)) || bytes.Contains(b, []byte("version")) {
			t.Errorf("%s view holds the secret or the version: %s", name, b)
		}
	}
	b, _ := json.Marshal(WebhooksView(nil))
	if string(b) != `{"webhooks":[]}` {
		t.Errorf("no subscriptions: %s, want {\"webhooks\":[]}", b)
	}
	b, _ = json.Marshal(webhookOf(w))
	want := `{"tenant":"acme","id":"wh_1","url":"https://crm.example/h","events":[],"state":"pending","reason":"",` +
		`"failures":0,"retry_at":null,"verified_at":null,"created_at":"2026-03-14T09:30:00Z","updated_at":"2026-03-14T09:30:00Z"}`
	if string(b) != want {
		t.Errorf("webhook\n got %s\nwant %s", b, want)
	}
	b, _ = json.Marshal(webhookCreated{webhookView: webhookOf(w), Secret: w.Secret})
	if !strings.HasPrefix(string(b), want[:len(want)-1]+",") || !strings.HasSuffix(string(b), `,"secret":"whsec_TOPSECRET"}`) {
		t.Errorf("created: %s, want the webhook's fields and the secret", b)
	}
	d := store.Delivery{Time: now, Tenant: "acme", Webhook: "wh_1", EventID: "evt_1", EventType: "call.ended", Attempt: 2,
		Result: store.DeliveryHTTPError, Status: 503, Error: "503 Service Unavailable", Duration: 1500 * time.Microsecond}
	b, _ = json.Marshal(DeliveriesView([]store.Delivery{d}, 9, store.Page{Offset: 3}))
	want = `{"deliveries":[{"time":"2026-03-14T09:30:00Z","tenant":"acme","webhook":"wh_1","event_id":"evt_1",` +
		`"event_type":"call.ended","attempt":2,"result":"http_error","status":503,"error":"503 Service Unavailable",` +
		`"duration_ms":1}],"total":9,"offset":3,"limit":50}`
	if string(b) != want {
		t.Errorf("deliveries\n got %s\nwant %s", b, want)
	}
}

// TestWebhookRequestsRefusedBeforeTheService: input the API refuses
// itself never reaches the service or the store (panicStore panics).
func TestWebhookRequestsRefusedBeforeTheService(t *testing.T) {
	h := newTestHandler(t, nil)
	op := directory.Operator("test")
	for _, tc := range []struct {
		name     string
		do       endpoint
		method   string
		target   string
		body     string
		id       string
		wantCode int
	}{
		{"no body", h.addWebhook, "POST", "/", "", "", 400},
		{"no url", h.addWebhook, "POST", "/", `{"events":["ended"]}`, "", 400},
		{"unknown field", h.addWebhook, "POST", "/", `{"url":"https://x.example","secret":"mine"}`, "", 400},
		{"events not a list", h.addWebhook, "POST", "/", `{"url":"https://x.example","events":"ended"}`, "", 400},
		{"enable with an unknown field", h.enableWebhook, "POST", "/", `{"force":true}`, "wh_1", 400},
		{"unknown list query", h.listWebhooks, "GET", "/?state=active", "", "", 400},
		{"limit too large", h.webhookDeliveries, "GET", "/?limit=1001", "", "wh_1", 400},
		{"unknown log query", h.webhookDeliveries, "GET", "/?result=ok", "", "wh_1", 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, tc.target, strings.NewReader(tc.body))
			r.Header.Set("Content-Type", "application/json")
			r.SetPathValue("tenant", "acme")
			r.SetPathValue("id", tc.id)
			_, _, err := tc.do(r, op)
			if got := classify(err).status; err == nil || got != tc.wantCode {
				t.Fatalf("err %v (status %d), want a %d", err, got, tc.wantCode)
			}
		})
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("PUT", "/api/v1/tenants/acme/webhooks/wh_1", nil))
	if rec.Code != 405 || rec.Header().Get("Allow") != "DELETE" {
		t.Errorf("PUT on a subscription: %d, Allow %q; want 405, Allow DELETE", rec.Code, rec.Header().Get("Allow"))
	}
}
