package health

import (
	"errors"
	"testing"
)

func TestProblemsNameEveryFailingComponent(t *testing.T) {
	r := New()
	if p := r.Problems(); len(p) != 0 {
		t.Fatalf("empty registry not ready: %v", p)
	}
	pbxErr := errors.New("disconnected")
	r.Register("pbx", func() error { return pbxErr })
	r.Register("nats", func() error { return nil })
	r.Register("zoho", func() error { return errors.New("token revoked") })
	got := r.Problems()
	if len(got) != 2 || got[0].String() != "pbx: disconnected" || got[1].String() != "zoho: token revoked" {
		t.Fatalf("problems = %v", got)
	}
	r.Register("pbx", func() error { return nil })
	if got := r.Problems(); len(got) != 1 || got[0].Component != "zoho" {
		t.Fatalf("after pbx recovered: %v", got)
	}
}

func TestDrainIsNeverReady(t *testing.T) {
	r := New()
	r.Drain()
	got := r.Problems()
	if len(got) != 1 || !errors.Is(got[0].Err, ErrDraining) {
		t.Fatalf("problems while draining = %v", got)
	}
}
