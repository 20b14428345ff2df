package config

import (
	"strings"
	"testing"
	"time"
)

func TestScreenSection(t *testing.T) {
	requireHostNodeID(t)
	if s := Default().Screen; s.Deadline != 150*time.Millisecond || s.RefreshConcurrency != 4 || s.SettingsTTL != 5*time.Second {
		t.Fatalf("defaults = %+v", s)
	}
	c, err := Parse([]byte("screen:\n  deadline: 80ms\n  refresh_concurrency: 8\n  settings_ttl: 1s\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if s := c.Screen; s.Deadline != 80*time.Millisecond || s.RefreshConcurrency != 8 || s.SettingsTTL != time.Second {
		t.Fatalf("screen = %+v", s)
	}
	c, err = Parse(nil, []string{"RINGSIDE_SCREEN_DEADLINE=200ms"})
	if err != nil || c.Screen.Deadline != 200*time.Millisecond {
		t.Fatalf("from the environment: %+v, %v", c.Screen, err)
	}
	_, err = Parse([]byte("screen:\n  deadline: 5s\n  refresh_concurrency: 0\n  settings_ttl: 0s\n"), nil)
	for _, want := range []string{
		"screen.deadline: must be between 10ms and 2s (it delays ringing), got 5s",
		"screen.refresh_concurrency: must be between 1 and 64, got 0",
		"screen.settings_ttl: must be positive",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("problems %v lack %q", err, want)
		}
	}
}
