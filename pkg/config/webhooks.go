package config

import (
	"time"

	"github.com/ringside/ringside/pkg/backoff"
)

// Webhooks configures the delivery of call events to the tenants' webhook
// subscriptions (pkg/webhooks). Receivers check a delivery's signed
// timestamp against a replay window of 5 minutes (webhooks.ReplayWindow);
// that is the receivers' check, not a key. A subscription remembers the
// events it got as long as the stream keeps them (nats.max_age).
type Webhooks struct {
	// Timeout bounds one attempt: a delivery or a handshake.
	Timeout time.Duration `yaml:"timeout"`
	// MaxFailures consecutive failed rounds of attempts disable a
	// subscription until an admin enables it again.
	MaxFailures int `yaml:"max_failures"`
	// Backoff spaces the rounds of a failing subscription, and the retries
	// of an event from the stream.
	Backoff backoff.Policy `yaml:"backoff"`
	// AllowInsecure is "true" to also accept http:// URLs to loopback and
	// private addresses, else "false". (The configuration has no boolean
	// keys; see Insecure.)
	AllowInsecure string `yaml:"allow_insecure"`
}

// Insecure reports whether allow_insecure is "true".
func (w Webhooks) Insecure() bool { return w.AllowInsecure == "true" }

// defaultWebhooks are the webhooks defaults.
func defaultWebhooks() Webhooks {
	return Webhooks{
		Timeout:       10 * time.Second,
		MaxFailures:   30,
		Backoff:       backoff.Policy{Initial: time.Second, Max: 10 * time.Minute},
		AllowInsecure: "false",
	}
}

func (p *checker) webhooks(w Webhooks) {
	p.positive("webhooks.timeout", w.Timeout)
	if w.Timeout > 5*time.Minute {
		p.addf("webhooks.timeout: must be at most 5m, got %s", w.Timeout)
	}
	p.between("webhooks.max_failures", w.MaxFailures, 1, 10000)
	p.policy("webhooks.backoff", w.Backoff)
	p.oneOf("webhooks.allow_insecure", w.AllowInsecure, "false", "true")
}
