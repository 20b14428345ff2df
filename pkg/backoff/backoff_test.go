package backoff

import (
	"testing"
	"time"
)

func TestDelayGrowsAndIsCapped(t *testing.T) {
	p := Policy{Initial: 100 * time.Millisecond, Max: 2 * time.Second, Jitter: 0.2}
	for attempt, want := range []time.Duration{100, 200, 400, 800, 1600, 2000, 2000} {
		want *= time.Millisecond
		for range 50 {
			got := p.Delay(attempt)
			lo, hi := time.Duration(float64(want)*0.8), time.Duration(float64(want)*1.2)
			if got < lo || got > hi {
				t.Fatalf("attempt %d: delay %v outside [%v, %v]", attempt, got, lo, hi)
			}
		}
	}
}

func TestDelayJitters(t *testing.T) {
	p := Policy{Initial: time.Second, Max: time.Second}
	seen := map[time.Duration]bool{}
	for range 20 {
		seen[p.Delay(3)] = true
	}
	if len(seen) < 2 {
		t.Fatal("20 delays were all equal: no jitter")
	}
}

func TestZeroPolicyHasSaneDefault(t *testing.T) {
	if d := (Policy{}).Delay(0); d < 80*time.Millisecond || d > 120*time.Millisecond {
		t.Fatalf("zero policy first delay = %v, want about 100ms", d)
	}
}
