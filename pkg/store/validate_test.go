package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
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
