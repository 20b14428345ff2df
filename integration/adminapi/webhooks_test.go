package adminapi

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ringside/ringside/adapters/httpapi/adminapi"
	"github.com/ringside/ringside/pkg/directory"
	"github.com/ringside/ringside/pkg/store"
)

// webhookBody is a subscription as the API sends it (openapi.yaml Webhook).
type webhookBody struct {
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

// webhookCreatedBody is the answer of POST .../webhooks (WebhookCreated).
type webhookCreatedBody struct {
	webhookBody
	Secret string `json:"secret"`
}

// deliveriesBody is a page of the delivery log.
type deliveriesBody struct {
	Deliveries []struct {
		Time       time.Time `json:"time"`
		Tenant     string    `json:"tenant"`
		Webhook    string    `json:"webhook"`
		EventID    string    `json:"event_id"`
		EventType  string    `json:"event_type"`
		Attempt    int       `json:"attempt"`
		Result     string    `json:"result"`
		Status     int       `json:"status"`
		Error      string    `json:"error"`
		DurationMS int64     `json:"duration_ms"`
	} `json:"deliveries"`
	Total  int `json:"total"`
	Offset int `json:"offset"`
	Limit  int `json:"limit"`
}

var secretForm = regexp.MustCompile(`^whsec_[0-9a-f]{64}$`)

// addWebhook creates a subscription through the API. Its answer is the one
// that carries a secret, so it is read here rather than through do (which
// refuses any "secret" field): it must hold no other secret seen and the
// new one exactly once, in "secret". The new secret then joins the others,
// so every later answer and every log line is checked for it.
func (w *world) addWebhook(token, tenant string, body any) webhookCreatedBody {
	w.t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		w.t.Fatal(err)
	}
	hr, err := http.NewRequestWithContext(w.ctx, "POST", w.srv.URL+"/api/v1/tenants/"+tenant+"/webhooks", bytes.NewReader(b))
	if err != nil {
		w.t.Fatal(err)
	}
	hr.Header.Set("Authorization", "Bearer "+token)
	hr.Header.Set("Content-Type", "application/json")
	res, err := w.srv.Client().Do(hr)
	if err != nil {
		w.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		w.t.Fatal(err)
	}
	if res.StatusCode != http.StatusCreated {
		w.t.Fatalf("POST /tenants/%s/webhooks: status %d, want 201: %s", tenant, res.StatusCode, raw)
	}
	for _, s := range w.allSecrets() {
		if s != "" && bytes.Contains(raw, []byte(s)) {
			w.t.Errorf("POST /tenants/%s/webhooks: an earlier secret is in the answer: %s", tenant, raw)
		}
	}
	var c webhookCreatedBody
	reply{status: res.StatusCode, body: raw}.into(w.t, &c)
	if !secretForm.MatchString(c.Secret) {
		w.t.Fatalf("secret %q, want whsec_ and 64 hex digits", c.Secret)
	}
	if n := bytes.Count(raw, []byte(c.Secret)); n != 1 || bytes.Count(raw, []byte(`"secret"`)) != 1 {
		w.t.Errorf("the creation answer holds the secret %d times: %s", n, raw)
	}
	w.addSecret(c.Secret)
	return c
}

// setWebhook changes a subscription in the store, as the dispatcher does.
func (w *world) setWebhook(tenant, id string, fn func(*store.Webhook)) {
	w.t.Helper()
	if _, err := store.ModifyWebhook(w.ctx, w.st, tenant, id, func(x *store.Webhook) error { fn(x); return nil }); err != nil {
		w.t.Fatal(err)
	}
}

// TestWebhooks runs the webhook endpoints against Redis: create (the secret
// once), list, enable, the delivery log, delete, what a company admin may
// not do on another tenant, bad input refused with nothing stored, and the
// audit entries; no secret in any other answer or in the log (do and
// checkLogs).
func TestWebhooks(t *testing.T) {
	w := newWorld(t, worldOpts{})
	ctx, cli := w.ctx, directory.Operator("test")
	for _, id := range []string{"acme", "globex"} {
		if _, err := w.dir.CreateTenant(ctx, cli, id, ""); err != nil {
			t.Fatal(err)
		}
	}
	for _, a := range []directory.NewAccount{
		{Username: "ana", Password: password, Role: store.RoleAdmin, Tenant: "acme"},
		{Username: "gus", Password: password, Role: store.RoleAdmin, Tenant: "globex"},
	} {
		if _, err := w.dir.CreateAccount(ctx, cli, a); err != nil {
			t.Fatal(err)
		}
	}
	root, ana, gus := w.rootToken, w.token(cli, "ana", time.Hour), w.token(cli, "gus", time.Hour)
	const hooks = "/api/v1/tenants/acme/webhooks"
	hook := func(id string) string { return hooks + "/" + id }

	// Create: the company admin, for two event types; the operator, for
	// every type. Pending, no failures, the secret returned once and the
	// one stored.
	start := time.Now().Add(-time.Second)
	first := w.addWebhook(ana, "acme", map[string]any{"url": "https://crm.example/ringside", "events": []string{"ended", "Ringing"}})
	second := w.addWebhook(root, "acme", map[string]any{"url": "https://other.example/hook?k=v"})
	for _, c := range []webhookCreatedBody{first, second} {
		if c.Tenant != "acme" || !strings.HasPrefix(c.ID, "wh_") || c.State != "pending" || c.Failures != 0 || c.Reason != "" ||
			c.RetryAt != nil || c.VerifiedAt != nil || c.CreatedAt.Before(start) || !c.UpdatedAt.Equal(c.CreatedAt) {
			t.Errorf("created %+v, want acme, wh_…, pending, no failures, created now", c.webhookBody)
		}
		stored, err := w.st.Webhook(ctx, "acme", c.ID)
		if err != nil || stored.Secret != c.Secret || stored.URL != c.URL {
			t.Errorf("stored %s: %v; its secret is not the one returned, or the url differs", c.ID, err)
		}
	}
	if first.URL != "https://crm.example/ringside" || !slices.Equal(first.Events, []string{"ended", "ringing"}) {
		t.Errorf("first: %s %v, want its url and [ended ringing]", first.URL, first.Events)
	}
	if second.Events == nil || len(second.Events) != 0 || first.Secret == second.Secret || first.ID == second.ID {
		t.Errorf("second: events %v (want [], every type), or it shares the first's id or secret", second.Events)
	}

	// List: both, in id order, without their secrets (do fails on a
	// "secret" field or a secret's value), for the operator and acme's
	// admin alike.
	want := []string{first.ID, second.ID}
	slices.Sort(want)
	for _, tok := range []string{root, ana} {
		var list struct {
			Webhooks []webhookBody `json:"webhooks"`
		}
		w.must(http.StatusOK, req{method: "GET", path: hooks, token: tok}).into(t, &list)
		var got []string
		for _, h := range list.Webhooks {
			got = append(got, h.ID)
			if h.Tenant != "acme" || h.State != "pending" {
				t.Errorf("listed %+v, want acme's, pending", h)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("listed %v, want %v", got, want)
		}
	}
	var empty struct {
		Webhooks []webhookBody `json:"webhooks"`
	}
	if w.must(http.StatusOK, req{method: "GET", path: "/api/v1/tenants/globex/webhooks", token: gus}).into(t, &empty); empty.Webhooks == nil || len(empty.Webhooks) != 0 {
		t.Errorf("globex's subscriptions: %v, want []", empty.Webhooks)
	}

	// The delivery log, filled as the dispatcher fills it: newest first,
	// paged, the total kept.
	t0 := time.Date(2026, 3, 14, 9, 30, 0, 0, time.UTC)
	for i, d := range []store.Delivery{
		{EventID: "vrf_1", EventType: "ringside.verify", Attempt: 1, Result: store.DeliveryNetworkError, Error: "dial tcp: connection refused", Duration: 3 * time.Millisecond},
		{EventID: "vrf_2", EventType: "ringside.verify", Attempt: 1, Result: store.DeliveryOK, Status: 200, Duration: 12 * time.Millisecond},
		{EventID: "evt_1", EventType: "call.ended", Attempt: 2, Result: store.DeliveryHTTPError, Status: 503, Error: "503 Service Unavailable", Duration: 1500 * time.Millisecond},
	} {
		d.Time, d.Tenant, d.Webhook = t0.Add(time.Duration(i)*time.Minute), "acme", first.ID
		if _, err := w.st.AppendDelivery(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	var log deliveriesBody
	w.must(http.StatusOK, req{method: "GET", path: hook(first.ID) + "/deliveries?limit=2", token: ana}).into(t, &log)
	if log.Total != 3 || log.Offset != 0 || log.Limit != 2 || len(log.Deliveries) != 2 {
		t.Fatalf("first page: %d of %d at %d (limit %d), want 2 of 3 at 0 (limit 2)", len(log.Deliveries), log.Total, log.Offset, log.Limit)
	}
	if d := log.Deliveries[0]; d.EventID != "evt_1" || d.EventType != "call.ended" || d.Attempt != 2 || d.Result != "http_error" ||
		d.Status != 503 || d.Error != "503 Service Unavailable" || d.DurationMS != 1500 || !d.Time.Equal(t0.Add(2*time.Minute)) ||
		d.Tenant != "acme" || d.Webhook != first.ID {
		t.Errorf("newest attempt %+v", d)
	}
	if log.Deliveries[1].EventID != "vrf_2" {
		t.Errorf("second attempt %s, want vrf_2", log.Deliveries[1].EventID)
	}
	w.must(http.StatusOK, req{method: "GET", path: hook(first.ID) + "/deliveries?offset=2&limit=2", token: root}).into(t, &log)
	if log.Total != 3 || log.Offset != 2 || len(log.Deliveries) != 1 || log.Deliveries[0].EventID != "vrf_1" ||
		log.Deliveries[0].Status != 0 || log.Deliveries[0].Result != "network_error" {
		t.Errorf("last page: %+v, want vrf_1 alone (no status), of 3", log)
	}
	w.must(http.StatusOK, req{method: "GET", path: hook(second.ID) + "/deliveries", token: ana}).into(t, &log)
	if log.Total != 0 || log.Limit != store.DefaultLimit || log.Deliveries == nil || len(log.Deliveries) != 0 {
		t.Errorf("an empty log: %+v, want [] of 0, limit %d", log, store.DefaultLimit)
	}

	// Enable: a disabled subscription goes back to pending with its
	// failures cleared; an active one stays as it is.
	w.setWebhook("acme", first.ID, func(x *store.Webhook) {
		x.State, x.Failures, x.Reason, x.RetryAt = store.WebhookDisabled, 30, "503 Service Unavailable", time.Now().Add(time.Hour)
	})
	var en webhookBody
	w.must(http.StatusOK, req{method: "POST", path: hook(first.ID) + "/enable", token: ana}).into(t, &en)
	if en.ID != first.ID || en.State != "pending" || en.Failures != 0 || en.Reason != "" || en.RetryAt != nil || en.URL != first.URL {
		t.Errorf("enabled %+v, want pending with failures, reason and retry cleared", en)
	}
	verified := time.Now().UTC().Truncate(time.Second)
	w.setWebhook("acme", second.ID, func(x *store.Webhook) { x.State, x.VerifiedAt = store.WebhookActive, verified })
	w.must(http.StatusOK, req{method: "POST", path: hook(second.ID) + "/enable", token: root, body: `{}`}).into(t, &en)
	if en.State != "active" || en.VerifiedAt == nil || !en.VerifiedAt.Equal(verified) {
		t.Errorf("enable of an active one: %+v, want it active as it was", en)
	}

	// A company admin on another tenant's subscriptions: 403, nothing
	// changed.
	w.unchanged(func() {
		w.refused(http.StatusForbidden, "forbidden", req{method: "GET", path: hooks, token: gus})
		w.refused(http.StatusForbidden, "forbidden", req{method: "POST", path: hooks, token: gus,
			body: map[string]any{"url": "https://mole.example/steal"}})
		w.refused(http.StatusForbidden, "forbidden", req{method: "DELETE", path: hook(first.ID), token: gus})
		w.refused(http.StatusForbidden, "forbidden", req{method: "POST", path: hook(first.ID) + "/enable", token: gus})
		w.refused(http.StatusForbidden, "forbidden", req{method: "GET", path: hook(first.ID) + "/deliveries", token: gus})
		w.refused(http.StatusForbidden, "forbidden", req{method: "GET", path: "/api/v1/tenants/acme/webhooks", token: gus})
	})

	// Bad input: 400 invalid (or 404 for an unknown tenant or
	// subscription), nothing stored.
	w.unchanged(func() {
		for _, body := range []any{
			map[string]any{"url": "http://crm.example/hook"}, // http without webhooks.allow_insecure
			map[string]any{"url": "http://127.0.0.1:8080/hook"},
			map[string]any{"url": "ftp://crm.example/hook"},
			map[string]any{"url": "crm.example/hook"},
			map[string]any{"url": "https://user:pw@crm.example/hook"},
			map[string]any{"url": "https://crm.example/hook#frag"},
			map[string]any{"url": "https://crm.example/" + strings.Repeat("a", 2100)},
			map[string]any{"url": "https://crm.example/hook", "events": []string{"ended", "hung_up"}},
			map[string]any{"url": ""},
			map[string]any{"events": []string{"ended"}},
			`{"url": "https://crm.example/hook", "signing_key": "mine"}`,
			`{"url": "https://crm.example/hook"} {}`,
		} {
			w.refused(http.StatusBadRequest, "invalid", req{method: "POST", path: hooks, token: ana, body: body})
		}
		w.refused(http.StatusUnsupportedMediaType, "invalid", req{method: "POST", path: hooks, token: ana,
			body: `{"url": "https://crm.example/hook"}`, ctype: "text/plain"})
		w.refused(http.StatusNotFound, "not_found", req{method: "POST", path: "/api/v1/tenants/nope/webhooks", token: root,
			body: map[string]any{"url": "https://crm.example/hook"}})
		w.refused(http.StatusNotFound, "not_found", req{method: "GET", path: "/api/v1/tenants/nope/webhooks", token: root})
		for _, r := range []req{
			{method: "DELETE", path: hook("wh_0000000000000000")},
			{method: "POST", path: hook("wh_0000000000000000") + "/enable"},
			{method: "GET", path: hook("wh_0000000000000000") + "/deliveries"},
			{method: "GET", path: "/api/v1/tenants/globex/webhooks/" + first.ID + "/deliveries"}, // acme's id, globex's path
		} {
			r.token = root
			w.refused(http.StatusNotFound, "not_found", r)
		}
		w.refused(http.StatusBadRequest, "invalid", req{method: "DELETE", path: hook("wh.1"), token: ana})
		w.refused(http.StatusBadRequest, "invalid", req{method: "GET", path: hook(first.ID) + "/deliveries?limit=-1", token: ana})
		w.refused(http.StatusBadRequest, "invalid", req{method: "GET", path: hook(first.ID) + "/deliveries?result=ok", token: ana})
		w.refused(http.StatusBadRequest, "invalid", req{method: "POST", path: hook(first.ID) + "/enable", token: ana, body: `{"now": true}`})
		w.refused(http.StatusMethodNotAllowed, "invalid", req{method: "PATCH", path: hook(first.ID), token: ana})
		w.refused(http.StatusUnauthorized, "unauthorized", req{method: "GET", path: hooks})
	})

	// Delete: gone with its delivery log, the other kept.
	w.must(http.StatusNoContent, req{method: "DELETE", path: hook(first.ID), token: ana})
	w.refused(http.StatusNotFound, "not_found", req{method: "DELETE", path: hook(first.ID), token: ana})
	w.refused(http.StatusNotFound, "not_found", req{method: "GET", path: hook(first.ID) + "/deliveries", token: ana})
	if _, total, err := w.st.ListDeliveries(ctx, "acme", first.ID, store.Page{}); err != nil || total != 0 {
		t.Errorf("the removed subscription's log: %d attempts (%v), want none", total, err)
	}
	var left struct {
		Webhooks []webhookBody `json:"webhooks"`
	}
	w.must(http.StatusOK, req{method: "GET", path: hooks, token: ana}).into(t, &left)
	if len(left.Webhooks) != 1 || left.Webhooks[0].ID != second.ID {
		t.Errorf("after the removal: %+v, want %s alone", left.Webhooks, second.ID)
	}

	// The audit log has every change and every refused change (reads are
	// not audited), by whom and through the API.
	got := w.auditActions(root, "acme")
	for _, line := range []string{
		"ana api webhook.add " + first.ID,
		"root api webhook.add " + second.ID,
		"ana api webhook.enable " + first.ID,
		"root api webhook.enable " + second.ID,
		"gus api webhook.add  [refused]",
		"gus api webhook.remove " + first.ID + " [refused]",
		"gus api webhook.enable " + first.ID + " [refused]",
		"ana api webhook.add  [refused]",
		"root api webhook.remove wh_0000000000000000 [refused]",
		"ana api webhook.remove " + first.ID,
		"ana api webhook.remove " + first.ID + " [refused]",
	} {
		if !slices.Contains(got, line) {
			t.Errorf("audit: no %q in\n  %s", line, strings.Join(got, "\n  "))
		}
	}
	// The audit entries' details: the URL and events added, the states
	// an enable went through; no secret (do checks the answer).
	var audit struct {
		Entries []struct {
			Action string `json:"action"`
			Target string `json:"target"`
			Detail string `json:"detail"`
			Error  string `json:"error"`
		} `json:"entries"`
	}
	rep := w.must(http.StatusOK, req{method: "GET", path: "/api/v1/audit?tenant=acme&limit=1000", token: root})
	if err := json.Unmarshal(rep.body, &audit); err != nil {
		t.Fatal(err)
	}
	details := map[string]string{}
	for _, e := range audit.Entries {
		if e.Error == "" {
			details[e.Action+" "+e.Target] = e.Detail
		}
	}
	for k, v := range map[string]string{
		"webhook.add " + first.ID:     "https://crm.example/ringside (ended,Ringing)", // as sent; the subscription has them normalised
		"webhook.add " + second.ID:    "https://other.example/hook?k=v (all events)",
		"webhook.enable " + first.ID:  "disabled → pending",
		"webhook.enable " + second.ID: "active → active",
	} {
		if details[k] != v {
			t.Errorf("audit %s: detail %q, want %q", k, details[k], v)
		}
	}
}

// TestWebhooksInsecure: with webhooks.allow_insecure (the service's
// AllowInsecureWebhooks) http:// is accepted to a loopback or private
// address only.
func TestWebhooksInsecure(t *testing.T) {
	w := newWorld(t, worldOpts{insecureWebhooks: true})
	if _, err := w.dir.CreateTenant(w.ctx, directory.Operator("test"), "acme", ""); err != nil {
		t.Fatal(err)
	}
	h, err := adminapi.New(adminapi.Options{Directory: w.dir})
	if err != nil {
		t.Fatal(err)
	}
	for url, status := range map[string]int{
		"http://127.0.0.1:8080/hook":   http.StatusCreated,
		"http://10.1.2.3/hook":         http.StatusCreated,
		"http://localhost:9000/hook":   http.StatusCreated,
		"http://crm.example/hook":      http.StatusBadRequest,
		"http://203.0.113.7:80/hook":   http.StatusBadRequest,
		"https://crm.example/ringside": http.StatusCreated,
	} {
		body, _ := json.Marshal(map[string]string{"url": url})
		r := httptest.NewRequest("POST", "/api/v1/tenants/acme/webhooks", bytes.NewReader(body))
		r.Header.Set("Authorization", "Bearer "+w.rootToken)
		r.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code != status {
			t.Errorf("%s: status %d, want %d: %s", url, rec.Code, status, rec.Body)
		}
		var c webhookCreatedBody
		if rec.Code == http.StatusCreated {
			reply{body: rec.Body.Bytes()}.into(t, &c)
			w.addSecret(c.Secret)
		}
	}
	ws, err := w.dir.ListWebhooks(w.ctx, directory.Operator("test"), "acme")
	if err != nil || len(ws) != 4 {
		t.Errorf("stored %d subscriptions (%v), want the 4 accepted", len(ws), err)
	}
}
