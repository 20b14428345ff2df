package arisim

import (
	"context"
	"encoding/json"
	"testing"
	"time"
)

// Live calls are stamped with the clock given, and their steps emit what
// the scripts' steps emit: a ring group answered by one agent, then a
// missed call abandoned while ringing.
func TestLiveCallsFollowTheCallerAndTheClock(t *testing.T) {
	at := time.Date(2026, 11, 21, 9, 30, 0, 0, time.UTC)
	s := New(Options{Tenant: "acme", Clock: func() time.Time { return at }})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c, _, err := dialEvents(t, s, "ringside", "secret")
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	if err := s.WaitSockets(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	trunk, agents := s.RingFrom("+4989555010", "1001", "1002")
	if len(agents) != 2 {
		t.Fatalf("agents = %v", agents)
	}
	bridge := s.AnswerBy(trunk, agents[1], agents)
	if bridge == "" {
		t.Fatal("no bridge")
	}
	s.EndCall(bridge, trunk, agents[1])
	t2, a2 := s.RingFrom("+34915550123", "1003")
	s.Abandon(t2, a2)
	if s.AnswerBy(t2, a2[0], a2) != "" {
		t.Error("answering an abandoned call made a bridge")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	created, destroyed, dialStatus := map[string]string{}, map[string]float64{}, map[string]string{}
	for range s.Emitted() {
		_, data, err := c.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var ev struct {
			Type      string `json:"type"`
			Timestamp string `json:"timestamp"`
			Cause     float64
			Status    string `json:"dialstatus"`
			Channel   struct {
				ID     string                  `json:"id"`
				Caller struct{ Number string } `json:"caller"`
			} `json:"channel"`
			Peer struct {
				ID string `json:"id"`
			} `json:"peer"`
		}
		if err := json.Unmarshal(data, &ev); err != nil {
			t.Fatal(err)
		}
		if ev.Timestamp != at.Format(TimeLayout) {
			t.Fatalf("%s stamped %s, want the clock's %s", ev.Type, ev.Timestamp, at.Format(TimeLayout))
		}
		switch ev.Type {
		case "ChannelCreated":
			created[ev.Channel.ID] = ev.Channel.Caller.Number
		case "ChannelDestroyed":
			destroyed[ev.Channel.ID] = ev.Cause
		case "Dial":
			if ev.Status != "" {
				dialStatus[ev.Peer.ID] = ev.Status
			}
		}
	}
	if created[trunk] != "+4989555010" || created[t2] != "+34915550123" {
		t.Errorf("callers = %v", created)
	}
	for id, want := range map[string]string{agents[0]: "CANCEL", agents[1]: "ANSWER", a2[0]: "CANCEL"} {
		if dialStatus[id] != want {
			t.Errorf("dial status of %s = %q, want %q", id, dialStatus[id], want)
		}
	}
	for id, want := range map[string]float64{trunk: 16, agents[0]: 26, agents[1]: 16, t2: 127, a2[0]: 16} {
		if got, ok := destroyed[id]; !ok || got != want {
			t.Errorf("%s destroyed with cause %v (destroyed: %t), want %v", id, got, ok, want)
		}
	}
}
