package main

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap/zaptest"

	"github.com/ringside/ringside/adapters/zoho"
	"github.com/ringside/ringside/pkg/config"
	"github.com/ringside/ringside/pkg/events"
	"github.com/ringside/ringside/pkg/screen"
	"github.com/ringside/ringside/pkg/store"
)

// screenFake is a tenant with links and a lookup cache in memory; reads
// can be slowed down.
type screenFake struct {
	store.Tenants
	store.Links
	mu     sync.Mutex
	tenant store.Tenant
	links  []store.Link
	cache  map[string][]byte
	reads  int
	delay  time.Duration
	broken bool
}

func (f *screenFake) Tenant(ctx context.Context, id string) (store.Tenant, error) {
	f.mu.Lock()
	f.reads++
	t, delay, broken := f.tenant, f.delay, f.broken
	f.mu.Unlock()
	select {
	case <-time.After(delay):
	case <-ctx.Done():
		return store.Tenant{}, ctx.Err()
	}
	if broken {
		return store.Tenant{}, errors.New("store down")
	}
	if id != t.ID {
		return store.Tenant{}, store.ErrNotFound
	}
	return t, nil
}

func (f *screenFake) ListLinks(_ context.Context, _ string, p store.Page) ([]store.Link, int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	end := min(p.Offset+p.Limit, len(f.links))
	return f.links[p.Offset:end], len(f.links), nil
}

func (f *screenFake) GetLookup(_ context.Context, _, number string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v, ok := f.cache[number]
	if !ok {
		return nil, store.ErrNotFound
	}
	return v, nil
}

func (f *screenFake) PutLookup(context.Context, string, string, []byte, time.Duration) error {
	return nil
}
func (f *screenFake) DeleteLookup(context.Context, string, string) error { return nil }

func newScreenTest(t *testing.T, f *screenFake) *screenSide {
	t.Helper()
	cfg := config.Default()
	cfg.NodeID, cfg.PBX.DefaultTenant = "pbx-01", "acme"
	s := newScreenSide(cfg, nil, f, nil, zaptest.NewLogger(t), prometheus.NewRegistry())
	t.Cleanup(s.stop)
	return s
}

func match(m zoho.Match) []byte { b, _ := json.Marshal(m); return b }

func TestScreenSideDecides(t *testing.T) {
	f := &screenFake{
		tenant: store.Tenant{ID: "acme", Settings: store.Settings{Region: "DE", Blacklist: []string{"+4990*"},
			Features: map[string]bool{screen.FeatureCallerName: true, screen.FeatureOwnerRouting: true}}},
		links: []store.Link{{Extension: "1001", ZohoUser: "pb-1001", CRMUser: "9001"}, {Extension: "1002", ZohoUser: "9002"}},
		cache: map[string][]byte{
			"+4930123456": match(zoho.Match{Module: "Contacts", ID: "4711", Name: "Eva Meyer", Owner: "9002"}),
			"+4930999999": match(zoho.Match{}),
		},
	}
	s := newScreenTest(t, f)
	ctx := context.Background()
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
	} {
		if got := s.Screen(ctx, tc.c); got != tc.want {
			t.Errorf("%+v: %+v, want %+v", tc.c, got, tc.want)
		}
	}
	if f.reads > 2 { // acme once (kept), globex once
		t.Errorf("%d tenant reads, want the settings kept", f.reads)
	}
	// CRM user 9001 is linked through its CRM user id, 9002 (a REST-mode
	// link) through the Zoho user field.
	f.mu.Lock()
	f.cache["+4930123456"] = match(zoho.Match{Module: "Leads", ID: "5", Name: "Max", Owner: "9001"})
	f.mu.Unlock()
	if v := s.Screen(ctx, screen.Call{Number: "+4930123456"}); v.Owner != "1001" {
		t.Errorf("owner by CRM user id: %+v", v)
	}
}

func TestScreenSideDeadlineAndStaleSettings(t *testing.T) {
	f := &screenFake{tenant: store.Tenant{ID: "acme", Settings: store.Settings{Blacklist: []string{"+4990*"}}}}
	s := newScreenTest(t, f)
	now := time.Now()
	s.now = func() time.Time { return now }
	f.delay = time.Second
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	if v := s.Screen(ctx, screen.Call{Number: "+4990012345"}); v.Outcome != screen.OutcomeLate || time.Since(start) > 500*time.Millisecond {
		t.Errorf("slow store: %+v after %v", v, time.Since(start))
	}
	f.mu.Lock()
	f.delay = 0
	f.mu.Unlock()
	eventually(t, "the slow load to land", func() bool { s.mu.Lock(); defer s.mu.Unlock(); return len(s.tenants) == 1 })
	if v := s.Screen(context.Background(), screen.Call{Number: "+4990012345"}); v.Reject != "busy" {
		t.Errorf("after the load: %+v", v)
	}
	// Past the TTL with the store failing, the settings kept still serve.
	now = now.Add(time.Minute)
	f.mu.Lock()
	f.broken = true
	f.mu.Unlock()
	if v := s.Screen(context.Background(), screen.Call{Number: "+4990012345"}); v.Reject != "busy" {
		t.Errorf("store failing: %+v", v)
	}
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// recordingPublisher keeps what it is asked to publish.
type recordingPublisher struct {
	mu   sync.Mutex
	data map[string][]byte
}

func (r *recordingPublisher) Publish(_ context.Context, _, msgID string, data []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.data[msgID] = data
	return nil
}

func TestMarkingPublisher(t *testing.T) {
	s := newScreenTest(t, &screenFake{})
	rec := &recordingPublisher{data: map[string][]byte{}}
	pub := s.publisher(rec)
	s.Screened(screen.Call{Channel: "1736935300.51"}, screen.Verdict{Outcome: screen.OutcomeBlacklisted, Reject: "busy"})
	s.Screened(screen.Call{Channel: "1736935300.52"}, screen.Verdict{Outcome: screen.OutcomeMiss, Refresh: true})
	publish := func(e events.Call) events.Call {
		b, _ := json.Marshal(e)
		if err := pub.Publish(context.Background(), "s", e.ID, b); err != nil {
			t.Fatal(err)
		}
		var out events.Call
		if err := json.Unmarshal(rec.data[e.ID], &out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	ended := publish(events.Call{V: 1, ID: "pbx-01-1736935300.51:2", CallID: "pbx-01-1736935300.51", Type: events.Ended, Direction: events.Inbound})
	if ended.Screen == nil || !ended.Screen.Blacklisted || ended.Reason != events.ReasonBlacklisted {
		t.Errorf("blacklisted call's ended event %+v", ended)
	}
	other := events.Call{V: 1, ID: "pbx-01-1736935300.52:1", CallID: "pbx-01-1736935300.52", Type: events.Started}
	raw, _ := json.Marshal(other)
	publish(other)
	if string(rec.data[other.ID]) != string(raw) {
		t.Errorf("an unmarked call's event changed: %s", rec.data[other.ID])
	}
}
