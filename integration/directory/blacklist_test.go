package directory_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/ringside/ringside/pkg/directory"
	"github.com/ringside/ringside/pkg/store"
)

// TestBlacklist: an admin adds numbers and prefixes as typed (separators
// dropped, 00 read as +), sets the reason and removes entries; duplicates,
// malformed entries and reasons, another tenant's blacklist and an unknown
// tenant are refused; the store holds the result, the other tenant is
// untouched, and every attempt is audited.
func TestBlacklist(t *testing.T) {
	eachStore(t, testBlacklist)
}

func testBlacklist(t *testing.T, st store.Store) {
	ctx := context.Background()
	s := newService(t, st, "acme", "globex")
	op := directory.Operator("root")
	admin := directory.Actor{Username: "ana", Role: store.RoleAdmin, Tenant: "acme", Via: directory.ViaAPI}

	b, err := s.ListBlocked(ctx, admin, "acme")
	if err != nil || len(b.Entries) != 0 || b.Entries == nil || b.Reason != store.BlockBusy {
		t.Fatalf("empty blacklist = %+v, %v", b, err)
	}
	if b, err = s.AddBlocked(ctx, admin, "acme", "+49 30 123-456"); err != nil || !slices.Equal(b.Entries, []string{"+4930123456"}) {
		t.Fatalf("add = %+v, %v", b, err)
	}
	if b, err = s.AddBlocked(ctx, op, "acme", "004990*"); err != nil || !slices.Equal(b.Entries, []string{"+4930123456", "+4990*"}) {
		t.Fatalf("add prefix = %+v, %v", b, err)
	}
	if _, err = s.AddBlocked(ctx, admin, "acme", "+4930123456"); !errors.Is(err, store.ErrConflict) {
		t.Errorf("second add: %v, want conflict", err)
	}
	for _, bad := range []string{"", "030123456", "+", "+4", "+49abc", "+49*1", "*", "+1234567890123456", "+49**"} {
		if _, err = s.AddBlocked(ctx, admin, "acme", bad); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("add %q: %v, want invalid", bad, err)
		}
	}
	if _, err = s.AddBlocked(ctx, admin, "globex", "+4930123456"); !errors.Is(err, directory.ErrForbidden) {
		t.Errorf("admin of acme adds to globex: %v, want forbidden", err)
	}
	if _, err = s.ListBlocked(ctx, admin, "globex"); !errors.Is(err, directory.ErrForbidden) {
		t.Errorf("admin of acme lists globex: %v, want forbidden", err)
	}
	if _, err = s.AddBlocked(ctx, op, "nope", "+4930123456"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown tenant: %v, want not found", err)
	}
	if b, err = s.SetBlockedReason(ctx, admin, "acme", " Congestion "); err != nil || b.Reason != store.BlockCongestion {
		t.Fatalf("reason = %+v, %v", b, err)
	}
	for _, bad := range []string{"", "reject", "normal"} {
		if _, err = s.SetBlockedReason(ctx, admin, "acme", bad); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("reason %q: %v, want invalid", bad, err)
		}
	}
	if _, err = s.RemoveBlocked(ctx, admin, "acme", "+4930999"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("remove an absent entry: %v, want not found", err)
	}
	if b, err = s.RemoveBlocked(ctx, admin, "acme", "+49 30 123456"); err != nil || !slices.Equal(b.Entries, []string{"+4990*"}) || b.Reason != store.BlockCongestion {
		t.Fatalf("remove = %+v, %v", b, err)
	}
	got, err := st.Tenant(ctx, "acme")
	if err != nil || !slices.Equal(got.Settings.Blacklist, []string{"+4990*"}) || got.Settings.BlacklistReason != store.BlockCongestion {
		t.Errorf("stored settings %+v, %v", got.Settings, err)
	}
	if g, err := st.Tenant(ctx, "globex"); err != nil || len(g.Settings.Blacklist) != 0 || g.Settings.BlacklistReason != "" {
		t.Errorf("globex changed: %+v, %v", g.Settings, err)
	}

	var lines []string
	for _, e := range auditLog(t, st, "") {
		l := e.Actor + " " + e.Tenant + " " + e.Action + " " + e.Target
		if e.Error != "" {
			l += " refused"
		}
		lines = append(lines, l)
	}
	for _, want := range []string{
		"ana acme blacklist.add +4930123456",
		"cli:root acme blacklist.add +4990*",
		"ana acme blacklist.add +4930123456 refused",
		"ana globex blacklist.add +4930123456 refused",
		"ana acme blacklist.reason acme",
		"ana acme blacklist.remove +4930999 refused",
		"ana acme blacklist.remove +4930123456",
	} {
		if !slices.Contains(lines, want) {
			t.Errorf("audit lacks %q:\n%s", want, strings.Join(lines, "\n"))
		}
	}
}

// TestCheckBlacklist pins the blacklist rules of the store contract
// (store.CheckBlacklist, Tenant.Validate), which both stores enforce: a
// tenant with a malformed entry is refused by each of them, and nothing
// is stored.
func TestCheckBlacklist(t *testing.T) {
	if err := store.CheckBlacklist([]string{"+4930123456", "+4990*"}, ""); err != nil {
		t.Error(err)
	}
	for _, c := range []struct {
		entries []string
		reason  string
	}{
		{[]string{"+4930123456", "+4930123456"}, "busy"},
		{[]string{"+49 30"}, "busy"},
		{nil, "reject"},
		{make([]string, store.MaxBlacklist+1), ""},
	} {
		if err := store.CheckBlacklist(c.entries, c.reason); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("CheckBlacklist(%d entries, %q) = %v, want invalid", len(c.entries), c.reason, err)
		}
	}
	bad := store.Tenant{ID: "acme", Settings: store.Settings{Blacklist: []string{"0301234"}}}
	if err := bad.Validate(); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("a tenant with a bad entry validates: %v", err)
	}
	eachStore(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		if _, err := st.CreateTenant(ctx, bad); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("create a tenant with a bad entry: %v, want invalid", err)
		}
		if _, err := st.Tenant(ctx, "acme"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("the refused tenant was stored: %v", err)
		}
		if _, err := st.CreateTenant(ctx, store.Tenant{ID: "acme"}); err != nil {
			t.Fatal(err)
		}
		_, err := store.ModifyTenant(ctx, st, "acme", func(t *store.Tenant) error {
			t.Settings.Blacklist = []string{"+4930123456", "+4930123456"}
			return nil
		})
		if !errors.Is(err, store.ErrInvalid) {
			t.Errorf("update with a duplicate entry: %v, want invalid", err)
		}
		if got, _ := st.Tenant(ctx, "acme"); len(got.Settings.Blacklist) != 0 {
			t.Errorf("the refused update was stored: %+v", got.Settings)
		}
	})
}
