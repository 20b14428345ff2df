// Package backoff computes capped, jittered exponential delays: the one retry
// shape used for reconnects, publishes and CRM writes alike.
package backoff

import (
	"math/rand/v2"
	"time"
)

// Policy is a retry schedule: Initial·2ⁿ, capped at Max, each delay spread by
// ±Jitter (a fraction, 0.2 = ±20%) so that many clients do not retry in step.
type Policy struct {
	Initial time.Duration `yaml:"initial"`
	Max     time.Duration `yaml:"max"`
	Jitter  float64       `yaml:"-"`
}

// Delay returns the wait before retry number attempt (0 for the first retry).
func (p Policy) Delay(attempt int) time.Duration {
	d := p.Initial
	if d <= 0 {
		d = 100 * time.Millisecond
	}
	max := p.Max
	if max < d {
		max = d
	}
	for i := 0; i < attempt && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	j := p.Jitter
	if j == 0 {
		j = 0.2
	}
	if j > 0 && j < 1 {
		spread := float64(d) * j
		d = time.Duration(float64(d) - spread + rand.Float64()*2*spread)
	}
	return d
}
