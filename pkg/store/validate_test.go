package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestSwitchesApply(t *testing.T) {
	off, notif, both := Switches{}, Switches{Notifications: true}, Switches{Notifications: true, ClickToCall: true}
	tests := []struct {
		from   Switches
		change SwitchChange
		want   Switches
		err    bool
	}{
		{off, SwitchChange{}, off, false},
		{off, SwitchChange{Notifications: On}, notif, false},
		{off, SwitchChange{ClickToCall: On}, off, true},
		{off, SwitchChange{Notifications: On, ClickToCall: On}, both, false},
		{notif, SwitchChange{ClickToCall: On}, both, false},
		{both, SwitchChange{Notifications: Off}, off, false},
		{both, SwitchChange{Notifications: Off, ClickToCall: On}, off, true},
		{both, SwitchChange{ClickToCall: Off}, notif, false},
		{both, SwitchChange{Notifications: Toggle(9)}, both, true},
	}
	for _, tc := range tests {
		got, err := tc.from.Apply(tc.change)
		if tc.err {
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("%+v.Apply(%+v): error %v, want ErrInvalid", tc.from, tc.change, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%+v.Apply(%+v) = %+v, %v; want %+v", tc.from, tc.change, got, err, tc.want)
		}
	}
}

func TestPage(t *testing.T) {
	for _, tc := range []struct {
		in         Page
		total      int
		start, end int
	}{
		{Page{}, 120, 0, DefaultLimit},
		{Page{Offset: 100, Limit: 50}, 120, 100, 120},
		{Page{Offset: 500}, 120, 120, 120},
		{Page{Limit: 5000}, 2000, 0, MaxLimit},
	} {
		p, err := tc.in.Norm()
		if err != nil {
			t.Fatal(err)
		}
		if s, e := p.Bounds(tc.total); s != tc.start || e != tc.end {
			t.Errorf("%+v over %d = [%d,%d), want [%d,%d)", tc.in, tc.total, s, e, tc.start, tc.end)
		}
	}
	if _, err := (Page{Limit: -1}).Norm(); !errors.Is(err, ErrInvalid) {
		t.Errorf("negative limit: %v", err)
	}
}

func TestCheckID(t *testing.T) {
	for _, s := range []string{"1001", "+4930123456", "ana@acme.example", "PJSIP/1001", "ñandú"} {
		if err := CheckID("id", s); err != nil {
			t.Errorf("CheckID(%q): %v", s, err)
		}
	}
	for _, s := range []string{"", "10 01", "a\nb", "\xff", string(make([]byte, 129))} {
		if err := CheckID("id", s); !errors.Is(err, ErrInvalid) {
			t.Errorf("CheckID(%q): %v, want ErrInvalid", s, err)
		}
	}
}

// fakeTenants loses the first n updates to a concurrent writer.
type fakeTenants struct {
	Tenants
	t     Tenant
	loses int
}

func (f *fakeTenants) Tenant(context.Context, string) (Tenant, error) { return f.t, nil }
func (f *fakeTenants) UpdateTenant(_ context.Context, t Tenant) (Tenant, error) {
	if f.loses > 0 {
		f.loses--
		f.t.Version++
		return Tenant{}, fmt.Errorf("stale: %w", ErrConflict)
	}
	t.Version++
	f.t = t
	return t, nil
}

func TestModifyTenantRetriesOnConflict(t *testing.T) {
	f := &fakeTenants{t: Tenant{ID: "acme", Version: 1}, loses: 3}
	calls := 0
	got, err := ModifyTenant(context.Background(), f, "acme", func(t *Tenant) error { calls++; t.Name = "ACME"; return nil })
	if err != nil || got.Name != "ACME" || calls != 4 {
		t.Fatalf("ModifyTenant = %+v, %v after %d calls; want ACME after 4", got, err, calls)
	}
	f.loses = 100
	if _, err := ModifyTenant(context.Background(), f, "acme", func(*Tenant) error { return nil }); !errors.Is(err, ErrConflict) {
		t.Fatalf("endless conflicts: %v, want ErrConflict", err)
	}
	stop := errors.New("no")
	if _, err := ModifyTenant(context.Background(), f, "acme", func(*Tenant) error { return stop }); err != stop {
		t.Fatalf("fn error: %v, want it returned as is", err)
	}
}

func TestAuditEntryValidate(t *testing.T) {
	good := AuditEntry{Actor: "ana@acme", Via: ViaPortal, Tenant: "acme", Action: "user.link", Target: "1001", Detail: "Zoho user 42"}
	if err := good.Validate(); err != nil {
		t.Fatalf("valid entry: %v", err)
	}
	op := AuditEntry{Actor: "cli:root", Via: ViaCLI, Action: "tenant.create", Target: "acme"}
	if err := op.Validate(); err != nil {
		t.Fatalf("operator-level entry: %v", err)
	}
	edge := good
	edge.Action, edge.Detail, edge.Error = strings.Repeat("a", 64), strings.Repeat("x", MaxAuditDetail), strings.Repeat("e", MaxAuditDetail)
	if err := edge.Validate(); err != nil {
		t.Fatalf("entry at the bounds: %v", err)
	}
	for name, change := range map[string]func(*AuditEntry){
		"no actor":         func(e *AuditEntry) { e.Actor = "" },
		"actor with space": func(e *AuditEntry) { e.Actor = "ana garcia" },
		"no via":           func(e *AuditEntry) { e.Via = "" },
		"bad via":          func(e *AuditEntry) { e.Via = "ssh" },
		"dotted tenant":    func(e *AuditEntry) { e.Tenant = "acme.example" },
		"no action":        func(e *AuditEntry) { e.Action = "" },
		"upper-case":       func(e *AuditEntry) { e.Action = "User.link" },
		"dash in action":   func(e *AuditEntry) { e.Action = "user-link" },
		"long action":      func(e *AuditEntry) { e.Action = strings.Repeat("a", 65) },
		"long target":      func(e *AuditEntry) { e.Target = strings.Repeat("t", 257) },
		"long detail":      func(e *AuditEntry) { e.Detail = strings.Repeat("x", MaxAuditDetail+1) },
		"long error":       func(e *AuditEntry) { e.Error = strings.Repeat("e", MaxAuditDetail+1) },
		"detail not UTF-8": func(e *AuditEntry) { e.Detail = "\xff" },
	} {
		e := good
		change(&e)
		if err := e.Validate(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}

func TestAuditEntryViaDaemon(t *testing.T) {
	e := AuditEntry{Actor: "ringside", Via: ViaDaemon, Tenant: "acme", Action: "webhook.disable", Target: "wh_1"}
	if err := e.Validate(); err != nil {
		t.Fatalf("an entry of the daemon acting on its own: %v", err)
	}
}

func goodWebhook() Webhook {
	return Webhook{Tenant: "acme", ID: "wh_0193a1b2c3d4-9f", URL: "https://crm.example/hooks/ringside?x=1",
		Events: []string{"ended", "ringing"}, Secret: "whsec_0123456789abcdef", State: WebhookPending}
}

func TestWebhookValidate(t *testing.T) {
	if err := goodWebhook().Validate(); err != nil {
		t.Fatalf("valid webhook: %v", err)
	}
	edge := goodWebhook()
	edge.ID, edge.Events = strings.Repeat("a", 64), nil
	edge.URL = "http://127.0.0.1:8080/" + strings.Repeat("p", MaxWebhookURL-len("http://127.0.0.1:8080/"))
	edge.Secret, edge.Reason = strings.Repeat("~", 256), strings.Repeat("r", MaxAuditDetail)
	edge.State, edge.Failures = WebhookDisabled, 12
	if err := edge.Validate(); err != nil {
		t.Fatalf("webhook at the bounds: %v", err)
	}
	for name, change := range map[string]func(*Webhook){
		"no tenant":        func(w *Webhook) { w.Tenant = "" },
		"dotted tenant":    func(w *Webhook) { w.Tenant = "a.b" },
		"no id":            func(w *Webhook) { w.ID = "" },
		"dotted id":        func(w *Webhook) { w.ID = "wh.1" },
		"long id":          func(w *Webhook) { w.ID = strings.Repeat("a", 65) },
		"no url":           func(w *Webhook) { w.URL = "" },
		"relative url":     func(w *Webhook) { w.URL = "/hooks" },
		"ftp url":          func(w *Webhook) { w.URL = "ftp://crm.example/x" },
		"no host":          func(w *Webhook) { w.URL = "https:///x" },
		"opaque url":       func(w *Webhook) { w.URL = "https:crm.example" },
		"user in url":      func(w *Webhook) { w.URL = "https://bob:pw@crm.example/x" },
		"fragment":         func(w *Webhook) { w.URL = "https://crm.example/x#frag" },
		"long url":         func(w *Webhook) { w.URL = "https://crm.example/" + strings.Repeat("p", MaxWebhookURL) },
		"unknown event":    func(w *Webhook) { w.Events = []string{"hangup"} },
		"event twice":      func(w *Webhook) { w.Events = []string{"ended", "ended"} },
		"no secret":        func(w *Webhook) { w.Secret = "" },
		"short secret":     func(w *Webhook) { w.Secret = "0123456789abcde" },
		"long secret":      func(w *Webhook) { w.Secret = strings.Repeat("s", 257) },
		"secret space":     func(w *Webhook) { w.Secret = "whsec_0123 456789abcdef" },
		"secret non-ascii": func(w *Webhook) { w.Secret = "whsec_0123456789abcdéf" },
		"no state":         func(w *Webhook) { w.State = "" },
		"bad state":        func(w *Webhook) { w.State = "paused" },
		"long reason":      func(w *Webhook) { w.Reason = strings.Repeat("r", MaxAuditDetail+1) },
		"reason not UTF-8": func(w *Webhook) { w.Reason = "\xff" },
		"negative count":   func(w *Webhook) { w.Failures = -1 },
	} {
		w := goodWebhook()
		change(&w)
		if err := w.Validate(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}

func TestWebhookWants(t *testing.T) {
	all := Webhook{}
	some := Webhook{Events: []string{"ended", "ringing"}}
	for _, tc := range []struct {
		w    Webhook
		typ  string
		want bool
	}{{all, "ended", true}, {all, "terminal_set", true}, {some, "ended", true}, {some, "ringing", true}, {some, "answered", false}} {
		if got := tc.w.Wants(tc.typ); got != tc.want {
			t.Errorf("%v wants %s = %t, want %t", tc.w.Events, tc.typ, got, tc.want)
		}
	}
}

func TestDeliveryValidate(t *testing.T) {
	good := Delivery{Time: time.Now(), Tenant: "acme", Webhook: "wh_1", EventID: "evt_0123", EventType: "call.ended",
		Attempt: 1, Result: DeliveryHTTPError, Status: 503, Error: "503 Service Unavailable", Duration: time.Millisecond}
	if err := good.Validate(); err != nil {
		t.Fatalf("valid delivery: %v", err)
	}
	for name, change := range map[string]func(*Delivery){
		"no time":        func(d *Delivery) { d.Time = time.Time{} },
		"bad tenant":     func(d *Delivery) { d.Tenant = "" },
		"bad webhook":    func(d *Delivery) { d.Webhook = "a b" },
		"no event id":    func(d *Delivery) { d.EventID = "" },
		"bad event type": func(d *Delivery) { d.EventType = "Call.Ended" },
		"attempt 0":      func(d *Delivery) { d.Attempt = 0 },
		"no result":      func(d *Delivery) { d.Result = "" },
		"bad result":     func(d *Delivery) { d.Result = "maybe" },
		"status 42":      func(d *Delivery) { d.Status = 42 },
		"status 600":     func(d *Delivery) { d.Status = 600 },
		"negative time":  func(d *Delivery) { d.Duration = -1 },
		"long error":     func(d *Delivery) { d.Error = strings.Repeat("e", MaxAuditDetail+1) },
	} {
		d := good
		change(&d)
		if err := d.Validate(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}

// webhookMem is a one-subscription store whose UpdateWebhook loses the
// first races.
type webhookMem struct {
	w      Webhook
	losses int
}

func (m *webhookMem) Webhook(_ context.Context, tenant, id string) (Webhook, error) {
	if tenant != m.w.Tenant || id != m.w.ID {
		return Webhook{}, ErrNotFound
	}
	return m.w, nil
}

func (m *webhookMem) UpdateWebhook(_ context.Context, w Webhook) (Webhook, error) {
	if m.losses > 0 {
		m.losses--
		m.w.Version++ // another writer got there first
		return Webhook{}, ErrConflict
	}
	if w.Version != m.w.Version {
		return Webhook{}, ErrConflict
	}
	w.Version++
	m.w = w
	return w, nil
}

func TestModifyWebhook(t *testing.T) {
	ctx := context.Background()
	m := &webhookMem{w: goodWebhook(), losses: 3}
	runs := 0
	got, err := ModifyWebhook(ctx, m, "acme", goodWebhook().ID, func(w *Webhook) error {
		runs++
		w.Failures++
		w.ID = "changed" // kept
		return nil
	})
	if err != nil || got.Failures != 1 || got.ID != goodWebhook().ID || runs != 4 {
		t.Fatalf("ModifyWebhook = %+v, %v after %d runs; want one failure counted after 4 runs", got, err, runs)
	}
	m.losses = 100
	if _, err := ModifyWebhook(ctx, m, "acme", goodWebhook().ID, func(*Webhook) error { return nil }); !errors.Is(err, ErrConflict) {
		t.Fatalf("always losing: %v, want ErrConflict", err)
	}
	if _, err := ModifyWebhook(ctx, m, "acme", "nobody", func(*Webhook) error { return nil }); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing: %v, want ErrNotFound", err)
	}
	stop := errors.New("stop")
	if _, err := ModifyWebhook(ctx, &webhookMem{w: goodWebhook()}, "acme", goodWebhook().ID, func(*Webhook) error { return stop }); err != stop {
		t.Fatalf("fn error: %v, want it as is", err)
	}
}
