package natsbus

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
)

func TestCommandReachesServeUntilStopped(t *testing.T) {
	noLeaks(t)
	b := open(t, testOptions(t, t.TempDir(), prometheus.NewRegistry()))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	stop, err := b.Serve("ringside.v1.cmd.node1.echo", func(_ context.Context, data []byte) []byte {
		return append([]byte("re: "), data...)
	})
	if err != nil {
		t.Fatal(err)
	}
	out, err := b.Command(ctx, "ringside.v1.cmd.node1.echo", []byte("hi"))
	if err != nil || string(out) != "re: hi" {
		t.Fatalf("Command = %q, %v", out, err)
	}
	stop()
	if _, err := b.Command(ctx, "ringside.v1.cmd.node1.echo", []byte("hi")); !errors.Is(err, nats.ErrNoResponders) {
		t.Fatalf("Command after stop = %v, want no responders", err)
	}
}

func TestFollowReplaysSinceThenFollows(t *testing.T) {
	noLeaks(t)
	b := open(t, testOptions(t, t.TempDir(), prometheus.NewRegistry()))
	publish(t, b, "acme", "old", 1, `{"seq":1}`)
	publish(t, b, "acme", "c1", 1, `{"seq":1}`)

	var mu sync.Mutex
	var got []string
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	// Everything stored from the start (both), then what comes next.
	go func() {
		done <- b.Follow(ctx, "ringside.v1.*.call.*", time.Now().Add(-time.Minute), func(m Message) {
			mu.Lock()
			got = append(got, m.MsgID)
			mu.Unlock()
		})
	}()
	publish(t, b, "acme", "c1", 2, `{"seq":2}`)
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("followed %d messages, want 3", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Follow = %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 3 || got[0] != "old:1" || got[1] != "c1:1" || got[2] != "c1:2" {
		t.Errorf("followed %v, want old:1 c1:1 c1:2 in order", got)
	}
}
