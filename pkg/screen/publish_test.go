package screen

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ringside/ringside/pkg/events"
)

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

func (r *recordingPublisher) get(msgID string) []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.data[msgID]
}

// TestPublisher: the events of a call the Screener marked (Screened) carry
// its decision, the ended event of a rejected call reason "blacklisted";
// the events of a call with nothing to mark pass byte for byte. Marking
// reads no store: the Screener here has none.
func TestPublisher(t *testing.T) {
	s := New(Options{CallIDPrefix: "pbx-01-", Registerer: prometheus.NewRegistry(), Now: func() time.Time { return time.Unix(1736935300, 0) }})
	t.Cleanup(s.Close)
	rec := &recordingPublisher{data: map[string][]byte{}}
	pub := s.Publisher(rec)
	s.Screened(Call{Channel: "1736935300.51"}, Verdict{Outcome: OutcomeBlacklisted, Reject: "busy"})
	s.Screened(Call{Channel: "1736935300.52"}, Verdict{Outcome: OutcomeMiss, Refresh: true})
	s.Screened(Call{Channel: "1736935300.53"}, Verdict{Outcome: OutcomeOwner, Name: "Eva Meyer", Owner: "1002", Record: "Contacts/4711"})
	publish := func(e events.Call) events.Call {
		t.Helper()
		b, _ := json.Marshal(e)
		if err := pub.Publish(context.Background(), "s", e.ID, b); err != nil {
			t.Fatal(err)
		}
		var out events.Call
		if err := json.Unmarshal(rec.get(e.ID), &out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	ended := publish(events.Call{V: 1, ID: "pbx-01-1736935300.51:2", CallID: "pbx-01-1736935300.51", Type: events.Ended, Direction: events.Inbound})
	if ended.Screen == nil || !ended.Screen.Blacklisted || ended.Reason != events.ReasonBlacklisted {
		t.Errorf("blacklisted call's ended event %+v", ended)
	}
	started := publish(events.Call{V: 1, ID: "pbx-01-1736935300.53:1", CallID: "pbx-01-1736935300.53", Type: events.Started, Direction: events.Inbound})
	if want := (events.Screen{CallerName: "Eva Meyer", OwnerExtension: "1002", Record: "Contacts/4711"}); started.Screen == nil || *started.Screen != want || started.Reason != "" {
		t.Errorf("owner-routed call's started event %+v", started)
	}
	other := events.Call{V: 1, ID: "pbx-01-1736935300.52:1", CallID: "pbx-01-1736935300.52", Type: events.Started}
	raw, _ := json.Marshal(other)
	publish(other)
	if got := rec.get(other.ID); string(got) != string(raw) {
		t.Errorf("an unmarked call's event changed: %s", got)
	}
}
