package webhooks

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/ringside/ringside/pkg/events"
)

func TestEventIDStable(t *testing.T) {
	const msgID = "pbx-01-1736935200.42:9"
	id := EventID(msgID)
	// Pinned: receivers de-duplicate on it across Ringside versions too.
	if want := "evt_a5a16db52b1c44beea877c96731a6d89"; id != want {
		t.Fatalf("EventID(%q) = %s, want %s", msgID, id, want)
	}
	if again := EventID(msgID); again != id {
		t.Fatalf("EventID is not stable: %s then %s", id, again)
	}
	seen := map[string]string{}
	for _, m := range []string{msgID, "pbx-01-1736935200.42:10", "pbx-02-1736935200.42:9", ""} {
		if other, dup := seen[EventID(m)]; dup {
			t.Fatalf("EventID(%q) = EventID(%q)", m, other)
		}
		seen[EventID(m)] = m
	}
}

func TestNewEnvelope(t *testing.T) {
	at := time.Date(2026, 3, 14, 10, 30, 0, 0, time.FixedZone("CET", 3600))
	e := events.Call{V: 1, ID: "c1:3", Type: events.Ended, CallID: "c1", Seq: 3, Tenant: "acme", At: at,
		Direction: events.Inbound, External: "+4930123456", Disposition: events.DispositionAnswered, TalkSeconds: 42}
	raw, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	// The same event redelivered, and without a message id: the same id.
	a := NewEnvelope("c1:3", e, raw)
	b := NewEnvelope("", e, raw)
	if a.ID != b.ID || a.ID != EventID("c1:3") {
		t.Fatalf("envelope ids %s and %s, want both %s", a.ID, b.ID, EventID("c1:3"))
	}
	body, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"` + EventID("c1:3") + `","type":"call.ended","tenant":"acme","created_at":"2026-03-14T09:30:00Z","data":` + string(raw) + `}`
	if string(body) != want {
		t.Fatalf("envelope JSON\n got %s\nwant %s", body, want)
	}
	var back struct {
		Data events.Call `json:"data"`
	}
	if err := json.Unmarshal(body, &back); err != nil || back.Data.TalkSeconds != 42 || back.Data.Tenant != "acme" {
		t.Fatalf("data does not read back as the event: %+v %v", back.Data, err)
	}
}
