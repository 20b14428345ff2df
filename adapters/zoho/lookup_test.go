package zoho

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	zohosim "github.com/ringside/ringside/integration/sim/zoho"
)

// dialTarget is Ringside's click-to-dial endpoint as Zoho sees it.
type dialTarget struct {
	url string
	mu  sync.Mutex
	got []url.Values
}

func newDialTarget(t *testing.T) *dialTarget {
	d := &dialTarget{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		d.mu.Lock()
		d.got = append(d.got, r.Form)
		d.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	d.url = srv.URL
	return d
}

func (d *dialTarget) last() url.Values {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.got) == 0 {
		return nil
	}
	return d.got[len(d.got)-1]
}

func TestNormalize(t *testing.T) {
	for _, tc := range []struct{ in, region, want string }{
		{"+49 30 123456", "", "+4930123456"},
		{"030 123456", "DE", "+4930123456"},
		{"0049 30 123456", "US", "+4930123456"},
		{"(415) 555-0199", "US", "+14155550199"},
		{"14155550199", "", "+14155550199"},
	} {
		if got, ok := Normalize(tc.in, tc.region); !ok || got != tc.want {
			t.Errorf("Normalize(%q, %q) = %q, %v; want %q", tc.in, tc.region, got, ok, tc.want)
		}
	}
	if _, ok := Normalize("1001", "DE"); ok {
		t.Error("an extension normalised")
	}
}

func TestLookupCacheAndCredits(t *testing.T) {
	for _, method := range []string{"search", "coql"} {
		t.Run(method, func(t *testing.T) {
			for _, empty200 := range []bool{false, true} {
				e := newEnv(t, envOpt{sim: zohosim.Options{COQLEmpty200: empty200}})
				l := NewLookup(e.c, e.st, LookupOptions{Method: method})
				contact := e.sim.AddRecord(org, "Contacts", zohosim.Record{"Last_Name": "M", "Full_Name": "Eva M", "Phone": "030 111111",
					"Owner": map[string]any{"id": "9002"}})
				lead := e.sim.AddRecord(org, "Leads", zohosim.Record{"Last_Name": "L", "Full_Name": "Leo", "Mobile": "4930222222"})
				m, err := l.Find(e.ctx, "acme", "DE", "+4930111111")
				if err != nil || m.Module != "Contacts" || m.ID != contact || m.Owner != "9002" || m.Name != "Eva M" {
					t.Fatalf("contact: %+v, %v", m, err)
				}
				if m, _ := l.Find(e.ctx, "acme", "DE", "030 222222"); m.ID != lead || m.Module != "Leads" {
					t.Fatalf("lead: %+v", m)
				}
				if m, _ := l.Find(e.ctx, "acme", "DE", "+4930999999"); m.Found() {
					t.Fatalf("unknown number matched %+v", m)
				}
				before := e.sim.Credits(org)
				// Cached: hits and misses cost nothing.
				for _, n := range []string{"+4930111111", "0049 30 111111", "+4930222222", "+4930999999"} {
					if _, err := l.Find(e.ctx, "acme", "DE", n); err != nil {
						t.Fatal(err)
					}
				}
				if after := e.sim.Credits(org); after != before {
					t.Fatalf("cached lookups spent %d credits", after-before)
				}
				// Coalesced: 20 concurrent lookups of a new number, one search
				// per module.
				e.sim.ResetRequests()
				var wg sync.WaitGroup
				for range 20 {
					wg.Go(func() { _, _ = l.Find(e.ctx, "acme", "DE", "+4930888888") })
				}
				wg.Wait()
				if n := len(e.sim.Requests("")); n != 3 {
					t.Fatalf("%d requests for 20 concurrent lookups of an unknown number, want 3 (one per module)", n)
				}
				// Created moments ago: remembered, not searched.
				_ = l.Remember(e.ctx, "acme", "DE", "+4930777777", Match{Module: "Leads", ID: "new"})
				if m, _ := l.Find(e.ctx, "acme", "DE", "+4930777777"); m.ID != "new" {
					t.Fatalf("remembered lead: %+v", m)
				}
				_ = l.Forget(e.ctx, "acme", "DE", "+4930777777")
			}
		})
	}
}

// TestLookupBatchesNumbers: lookups of different numbers in flight together
// share requests within the criteria budget (COQL: two numbers per request
// in Contacts and Leads, four in Accounts; search: one, two in Accounts),
// and each number gets its own record.
func TestLookupBatchesNumbers(t *testing.T) {
	for _, tc := range []struct {
		method  string
		maxReqs int
	}{{"coql", 5 + 3 + 1}, {"search", 10 + 6 + 2}} {
		t.Run(tc.method, func(t *testing.T) {
			e := newEnv(t, envOpt{})
			l := NewLookup(e.c, e.st, LookupOptions{Method: tc.method, BatchWait: 500 * time.Millisecond})
			want := map[string]string{}
			for i := range 10 {
				n := fmt.Sprintf("+49304000%02d", i)
				switch {
				case i < 4:
					want[n] = "Contacts:" + e.sim.AddRecord(org, "Contacts", zohosim.Record{"Last_Name": "C", "Mobile": "0304000" + fmt.Sprintf("%02d", i)})
				case i < 8:
					want[n] = "Leads:" + e.sim.AddRecord(org, "Leads", zohosim.Record{"Last_Name": "L", "Phone": n})
				default:
					want[n] = ":"
				}
			}
			e.sim.ResetRequests()
			var mu sync.Mutex
			got := map[string]string{}
			var wg sync.WaitGroup
			for n := range want {
				wg.Go(func() {
					m, err := l.Find(e.ctx, "acme", "DE", n)
					if err != nil {
						t.Error(err)
					}
					mu.Lock()
					got[n] = m.Module + ":" + m.ID
					mu.Unlock()
				})
			}
			wg.Wait()
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("got %v\nwant %v", got, want)
			}
			if n := len(e.sim.Requests("")); n > tc.maxReqs {
				t.Errorf("%d requests for 10 numbers, want at most %d", n, tc.maxReqs)
			}
		})
	}
}
