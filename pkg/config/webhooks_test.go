package config

import (
	"strings"
	"testing"
	"time"
)

func TestWebhooksSection(t *testing.T) {
	requireHostNodeID(t)
	c, err := Parse([]byte("webhooks:\n  timeout: 3s\n  max_failures: 5\n  backoff: {initial: 2s, max: 1m}\n  allow_insecure: true\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if w := c.Webhooks; w.Timeout != 3*time.Second || w.MaxFailures != 5 || w.Backoff.Initial != 2*time.Second || w.Backoff.Max != time.Minute || !w.Insecure() {
		t.Fatalf("webhooks = %+v", w)
	}
	if Default().Webhooks.Insecure() {
		t.Fatal("http allowed by default")
	}
	c, err = Parse(nil, []string{"RINGSIDE_WEBHOOKS_ALLOW_INSECURE=true", "RINGSIDE_WEBHOOKS_MAX_FAILURES=3"})
	if err != nil || !c.Webhooks.Insecure() || c.Webhooks.MaxFailures != 3 {
		t.Fatalf("from the environment: %+v, %v", c.Webhooks, err)
	}
	_, err = Parse([]byte("webhooks:\n  timeout: 0s\n  max_failures: 0\n  backoff: {initial: 2m, max: 1m}\n  allow_insecure: yes\n"), nil)
	for _, want := range []string{
		"webhooks.timeout: must be positive",
		"webhooks.max_failures: must be between 1 and 10000, got 0",
		"webhooks.backoff.initial: must not exceed webhooks.backoff.max",
		`webhooks.allow_insecure: must be false or true, got "yes"`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("problems %v lack %q", err, want)
		}
	}
}
