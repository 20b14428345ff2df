package screen_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ringside/ringside/adapters/zoho"
	"github.com/ringside/ringside/integration/teststore"
	"github.com/ringside/ringside/pkg/config"
	"github.com/ringside/ringside/pkg/screen"
	"github.com/ringside/ringside/pkg/store"
)

// TestScreenerDecides: with acme's settings, links and cached callers in
// the store, each waiting call gets its verdict (owner routing through the
// CRM user id or a REST-mode link's Zoho user, the blacklist, a caller with
// no record, a cache miss, an anonymous caller, an unknown tenant); the
// tenant's settings are kept screen.settings_ttl (a change in the store
// shows only after), the lookup cache is read for each call.
func TestScreenerDecides(t *testing.T) {
	teststore.Each(t, testScreenerDecides)
}

func testScreenerDecides(t *testing.T, st store.Store) {
	ctx := context.Background()
	if _, err := st.CreateTenant(ctx, store.Tenant{ID: "acme", Name: "acme", Settings: store.Settings{Region: "DE", Blacklist: []string{"+4990*"},
		Features: map[string]bool{screen.FeatureCallerName: true, screen.FeatureOwnerRouting: true}}}); err != nil {
		t.Fatal(err)
	}
	for _, l := range []store.Link{{Tenant: "acme", Extension: "1001", ZohoUser: "pb-1001", CRMUser: "9001"}, {Tenant: "acme", Extension: "1002", ZohoUser: "9002"}} {
		if _, err := st.UpsertExtension(ctx, store.Extension{Tenant: "acme", Number: l.Extension}); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Link(ctx, l); err != nil {
			t.Fatal(err)
		}
	}
	remember(t, st, "acme", "+4930123456", zoho.Match{Module: "Contacts", ID: "4711", Name: "Eva Meyer", Owner: "9002"})
	remember(t, st, "acme", "+4930999999", zoho.Match{})
	clock := &testClock{now: time.Now()}
	s := newScreener(t, st, clock.Now)
	for _, tc := range []struct {
		c    screen.Call
		want screen.Verdict
	}{
		{screen.Call{Channel: "1.1", Number: "030 123456"}, // national, read in DE; the default tenant
			screen.Verdict{Outcome: screen.OutcomeOwner, Name: "Eva Meyer", Owner: "1002", Record: "Contacts/4711"}},
		{screen.Call{Channel: "1.2", Tenant: "acme", Number: "+4990012345"},
			screen.Verdict{Outcome: screen.OutcomeBlacklisted, Reject: "busy", Blocked: "+4990*"}},
		{screen.Call{Channel: "1.3", Number: "+4930999999"}, screen.Verdict{Outcome: screen.OutcomeNoRecord}},
		{screen.Call{Channel: "1.4", Number: "+4930555555"}, screen.Verdict{Outcome: screen.OutcomeMiss, Refresh: true}},
		{screen.Call{Channel: "1.5", Number: "anonymous"}, screen.Verdict{Outcome: screen.OutcomeOff}},
		{screen.Call{Channel: "1.6", Tenant: "globex", Number: "+4930123456"}, screen.Verdict{Outcome: screen.OutcomeLate}},
		// A name the call machine cannot use as a tenant is the default
		// tenant's call, as its events will be.
		{screen.Call{Channel: "1.7", Tenant: "bad*name", Number: "+4990012345"},
			screen.Verdict{Outcome: screen.OutcomeBlacklisted, Reject: "busy", Blocked: "+4990*"}},
	} {
		if got := s.Screen(ctx, tc.c); got != tc.want {
			t.Errorf("%+v: %+v, want %+v", tc.c, got, tc.want)
		}
	}
	// CRM user 9001 is linked through its CRM user id, 9002 (a REST-mode
	// link) through the Zoho user field; the cache is read for each call.
	remember(t, st, "acme", "+4930123456", zoho.Match{Module: "Leads", ID: "5", Name: "Max", Owner: "9001"})
	if v := s.Screen(ctx, screen.Call{Number: "+4930123456"}); v.Owner != "1001" {
		t.Errorf("owner by CRM user id: %+v", v)
	}
	// The settings are kept: the blacklist emptied in the store still
	// rejects until screen.settings_ttl has passed.
	if _, err := store.ModifyTenant(ctx, st, "acme", func(t *store.Tenant) error { t.Settings.Blacklist = nil; return nil }); err != nil {
		t.Fatal(err)
	}
	if v := s.Screen(ctx, screen.Call{Number: "+4990012345"}); v.Outcome != screen.OutcomeBlacklisted {
		t.Errorf("within the settings TTL: %+v, want the settings kept", v)
	}
	clock.Add(config.Default().Screen.SettingsTTL)
	if v := s.Screen(ctx, screen.Call{Number: "+4990012345"}); v.Outcome == screen.OutcomeBlacklisted {
		t.Errorf("past the settings TTL: %+v, want the settings read again", v)
	}
}

// TestScreenerDeadlineAndStaleSettings: with Redis paused, a call waits no
// longer than its deadline and rings as it is; the read goes on and serves
// the next calls once Redis answers, even calls that cannot wait at all.
// Past the settings TTL with the store down (its client closed), the
// settings kept still serve.
func TestScreenerDeadlineAndStaleSettings(t *testing.T) {
	st, c := redisStore(t)
	ctx := context.Background()
	if _, err := st.CreateTenant(ctx, store.Tenant{ID: "acme", Name: "acme", Settings: store.Settings{Blacklist: []string{"+4990*"}}}); err != nil {
		t.Fatal(err)
	}
	clock := &testClock{now: time.Now()}
	s := newScreener(t, st, clock.Now)

	// Every client of the shared Redis waits 300 ms: kept short.
	const pause = 300 * time.Millisecond
	paused := time.Now()
	if err := c.Do(ctx, "CLIENT", "PAUSE", pause.Milliseconds(), "ALL").Err(); err != nil {
		t.Fatalf("CLIENT PAUSE: %v", err)
	}
	dctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	if v := s.Screen(dctx, screen.Call{Number: "+4990012345"}); v.Outcome != screen.OutcomeLate || time.Since(start) > 500*time.Millisecond {
		t.Errorf("slow store: %+v after %v", v, time.Since(start))
	}
	// A call whose deadline has passed is screened from what is kept
	// alone: it is rejected once the read that outlived the first call's
	// deadline has landed (one read of a tenant at a time: such calls
	// start none of their own while it is under way).
	expired, cancelExpired := context.WithCancel(ctx)
	cancelExpired()
	eventually(t, "the slow read to land", func() bool { return s.Screen(expired, screen.Call{Number: "+4990012345"}).Reject == "busy" })
	if d := time.Since(paused); d < pause-50*time.Millisecond {
		t.Errorf("the read landed %v after the pause began, within the %v pause: was Redis paused?", d, pause)
	}
	if v := s.Screen(ctx, screen.Call{Number: "+4990012345"}); v.Reject != "busy" {
		t.Errorf("after the read: %+v", v)
	}
	// Past the TTL with the store down, the settings kept still serve.
	clock.Add(time.Minute)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Tenant(ctx, "acme"); err == nil || errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the store with its client closed: %v, want it failing", err)
	}
	if v := s.Screen(ctx, screen.Call{Number: "+4990012345"}); v.Reject != "busy" {
		t.Errorf("store failing: %+v", v)
	}
}
