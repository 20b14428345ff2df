package zoho

import (
	"errors"
	"testing"
	"time"

	zohosim "github.com/ringside/ringside/integration/sim/zoho"
	"github.com/ringside/ringside/pkg/screen"
)

// TestLookupCached: Cached reads what Find cached (a record, a number
// matching none) and never asks Zoho; nothing cached and an unreadable
// entry are misses, a failing cache an error. Screening gives the same to
// screening as screen.Record and refreshes through Find; a Lookup without
// a client still reads the cache and refuses to look up.
func TestLookupCached(t *testing.T) {
	e := newEnv(t, envOpt{})
	l := NewLookup(e.c, e.st, LookupOptions{})
	id := e.sim.AddRecord(org, "Contacts", zohosim.Record{"Last_Name": "M", "Full_Name": "Eva M", "Phone": "+4930111111",
		"Owner": map[string]any{"id": "9002"}})
	if m, ok, err := l.Cached(e.ctx, "acme", "+4930111111"); ok || err != nil || m.Found() {
		t.Fatalf("before any lookup: %+v, %v, %v; want a miss", m, ok, err)
	}
	if _, err := l.Find(e.ctx, "acme", "DE", "030 111111"); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Find(e.ctx, "acme", "DE", "+4930999999"); err != nil {
		t.Fatal(err)
	}
	e.sim.ResetRequests()
	want := Match{Module: "Contacts", ID: id, Name: "Eva M", Owner: "9002"}
	if m, ok, err := l.Cached(e.ctx, "acme", "+4930111111"); !ok || err != nil || m != want {
		t.Errorf("cached record: %+v, %v, %v; want %+v", m, ok, err, want)
	}
	if m, ok, err := l.Cached(e.ctx, "acme", "+4930999999"); !ok || err != nil || m.Found() {
		t.Errorf("cached as no record: %+v, %v, %v", m, ok, err)
	}
	if m, ok, err := l.Cached(e.ctx, "globex", "+4930111111"); ok || err != nil || m.Found() {
		t.Errorf("another tenant's: %+v, %v, %v; want a miss", m, ok, err)
	}
	if err := e.st.PutLookup(e.ctx, "acme", "+4930222222", []byte("not json"), time.Hour); err != nil {
		t.Fatal(err)
	}
	if m, ok, err := l.Cached(e.ctx, "acme", "+4930222222"); ok || err != nil || m.Found() {
		t.Errorf("unreadable entry: %+v, %v, %v; want a miss", m, ok, err)
	}
	if n := len(e.sim.Requests("")); n != 0 {
		t.Errorf("Cached sent %d requests to Zoho", n)
	}

	r, ok, err := l.Screening().Cached(e.ctx, "acme", "+4930111111")
	if wantR := (screen.Record{Module: "Contacts", ID: id, Name: "Eva M", Owner: "9002"}); !ok || err != nil || r != wantR {
		t.Errorf("Screening().Cached: %+v, %v, %v; want %+v", r, ok, err, wantR)
	}
	lead := e.sim.AddRecord(org, "Leads", zohosim.Record{"Last_Name": "L", "Full_Name": "Leo", "Mobile": "+4930333333"})
	if err := l.Screening().Refresh(e.ctx, "acme", "DE", "030 333333"); err != nil {
		t.Fatal(err)
	}
	if m, ok, _ := l.Cached(e.ctx, "acme", "+4930333333"); !ok || m.ID != lead {
		t.Errorf("after Refresh: %+v, %v; want lead %s cached", m, ok, lead)
	}

	cacheOnly := NewLookup(nil, e.st, LookupOptions{})
	if m, ok, err := cacheOnly.Cached(e.ctx, "acme", "+4930111111"); !ok || err != nil || m != want {
		t.Errorf("without a client: %+v, %v, %v; want %+v", m, ok, err, want)
	}
	if err := cacheOnly.Screening().Refresh(e.ctx, "acme", "DE", "+4930444444"); err == nil {
		t.Error("a Lookup without a client looked up")
	}

	down := errors.New("store down")
	e.st.mu.Lock()
	e.st.fail = down
	e.st.mu.Unlock()
	if _, ok, err := l.Cached(e.ctx, "acme", "+4930111111"); ok || !errors.Is(err, down) {
		t.Errorf("failing cache: %v, %v; want the error", ok, err)
	}
}
