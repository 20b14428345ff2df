// Package discovery tests extension discovery end to end: each real PBX
// adapter lists the extensions of its simulator (integration/sim/ari,
// integration/sim/esl) — numbers, tenants by the adapter's rule, names,
// devices — for one tenant and for two on one PBX, and says clearly when it
// cannot.
package discovery

import (
	"context"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ringside/ringside/pkg/callstate"
	"github.com/ringside/ringside/pkg/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// nullSink takes the adapters' call signals: discovery does not need them.
type nullSink struct{}

func (nullSink) Submit(ctx context.Context, _ callstate.Signal) error { return ctx.Err() }
func (nullSink) LiveLegs() []string                                   { return nil }

// run runs f (an adapter's Run) until the test ends.
func run(t *testing.T, f func(ctx context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

// await polls cond until it holds, or fails the test after 10s.
func await(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func expect(t *testing.T, what string, got, want []store.Extension) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %d extensions %+v, want %+v", what, len(got), got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("%s: [%d] = %+v, want %+v", what, i, got[i], want[i])
		}
	}
}

func listCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}
